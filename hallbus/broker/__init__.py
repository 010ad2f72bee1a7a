"""Brokers for the hall: generated Mosquitto configuration and the embedded fallback."""
