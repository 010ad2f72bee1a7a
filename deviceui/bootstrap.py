"""Environment and fonts for Kivy, set before kivy is imported.

- KIVY_NO_ARGS: device apps take their own arguments (the config file path).
- Font: Kivy cannot pick a face inside a .ttc and Noto CJK's first face is
  Japanese; WenQuanYi Micro Hei (Debian fonts-wqy-microhei) has Simplified
  Chinese as its first face, so it is registered as the default "Roboto"
  replacement for every Label.
- SDL_VIDEODRIVER=offscreen (EGL + Mesa) renders real pixels without X; used for
  screenshots and headless tests when no DISPLAY is set.
"""

from __future__ import annotations

import os
from pathlib import Path

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
if not os.environ.get("DISPLAY") and "SDL_VIDEODRIVER" not in os.environ:
    os.environ["SDL_VIDEODRIVER"] = "offscreen"


def chinese_font() -> Path:
    for candidate in FONT_CANDIDATES:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        "没有找到中文字体：请安装 fonts-wqy-microhei / no Chinese font: apt-get install "
        "fonts-wqy-microhei"
    )


def register_fonts() -> str:
    """Make the Chinese font the default for every widget; returns its name."""
    from kivy.core.text import LabelBase

    font = str(chinese_font())
    LabelBase.register(name="Roboto", fn_regular=font, fn_bold=font)
    LabelBase.register(name="HallSans", fn_regular=font, fn_bold=font)
    return "HallSans"
