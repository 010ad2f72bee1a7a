"""Displays and voice for the waiting area (issue 5).

* Window display (``python -m displays --config device-configs/window-display-1.yaml``):
  one screen above each service window — window number, department, the clerk on duty,
  the ticket being served in very large type, and the paused / resting / not-open
  states. With ``led`` configured it mirrors its state to the window's LED bar.
* Hall display (``python -m displays --config device-configs/hall-display-1.yaml``):
  latest calls, waiting counts and estimated waits, scrolling notices, a slice of the
  service guide, date and time; landscape or portrait; with an ``announcer`` section it
  also speaks every call.
* Announcer (``python -m displays.announcer --config device-configs/announcer-1.yaml``):
  speaks every call of its floor, headless.

Layering (tests run everything but the last layer without a window):

1. pure logic — :mod:`displays.seqgate` (drop stale retained copies),
   :mod:`displays.link` (is the hub reachable?), :mod:`displays.window_view` and
   :mod:`displays.hall_view` (state in → texts and colours out),
   :mod:`displays.led_mirror` (state in → LED command out), :mod:`displays.voice`
   (call events in → announcer queue);
2. controllers — :mod:`displays.controllers`: subscribe on a ``MessageBus``, decode,
   filter, and publish the next view into a thread-safe ``deviceui.screens.UiModel``;
3. Kivy apps — :mod:`displays.window_app`, :mod:`displays.hall_app` and the ``.kv``
   files under ``displays/kv``: they only copy view fields into widget properties on
   the Kivy clock. Network threads never touch widgets.
"""
