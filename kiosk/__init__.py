"""Self-service kiosk (自助终端): tickets, service guide, case lookup and ratings over MQTT.

Layers (see docs/kiosk.md):
- ``kiosk.gateway``: the one adapter to the hall protocol (hallbus);
- ``kiosk.viewmodels``: screen logic in plain Python (no Kivy), tested without a window;
- ``kiosk.ui``: Kivy screens, one .kv file per screen, bound to the view-model's state;
- ``kiosk.printing``: the ESC/POS driver; ``kiosk.peripherals``: ID card reader and scanner.
"""
