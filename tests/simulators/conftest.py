"""The simulator tests run in the same real hall as the hub tests."""

from tests.hub.conftest import broker_kind, hall, mosquitto_hall

__all__ = ["broker_kind", "hall", "mosquitto_hall"]
