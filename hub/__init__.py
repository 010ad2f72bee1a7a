"""The hall hub: the one bridge between a hall's MQTT devices and the backend API.

It relays device requests to the backend with the device's identity, turns
the backend's event log into display state, call events and rate-now
commands, keeps the device registry, and keeps the hall working while the
backend is away (reserved ticket numbers, a durable outbox). See docs/hub.md.

Run it with `python -m hub --config device-configs/hub-bh.yaml`.
"""

from hub.service import HubService

__all__ = ["HubService"]
