"""Hardware at the windows: LED strips, serial key boxes and spoken ticket calls.

* :mod:`devices.serialframes` — FF 68 RS-485 framing shared by the serial devices.
* :mod:`devices.seriallink` — a serial port that reopens itself and reports health.
* :mod:`devices.led` — LED strip drivers (``open_led(LedSettings)``).
* :mod:`devices.buttonbox` — rating key box (``ButtonBox``).
* :mod:`devices.voice` — ticket call texts, speech engines and the announcer.
"""
