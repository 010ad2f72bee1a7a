"""Shared bootstrap for the hall's Kivy device apps (kiosk, displays, evaluator).

Import `deviceui.bootstrap` before anything from kivy: it fixes the environment
(no Kivy argument parsing, quiet logs, a Simplified Chinese font) so every app
and every test starts the same way.
"""
