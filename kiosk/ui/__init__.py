"""Kivy views of the kiosk: one .kv file per screen under kv/, bound to the view-model's state."""
