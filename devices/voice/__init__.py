"""Spoken ticket calls: :mod:`.text` (what to say), :mod:`.engines` (how to make it
audio), :mod:`.clips` (the recorded-clip set), :mod:`.announcer` (one call at a time, in
order), :mod:`.wavtools` (WAV helpers)."""
