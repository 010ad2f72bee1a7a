"""Colours and sizes shared by both displays (high contrast, readable across a hall).

Colours are RGBA tuples so view-models can hand them to Kivy without importing it.
Sizes are for a 1920×1080 panel; the .kv files scale them with the window height.
"""

from __future__ import annotations

from typing import Final

Rgba = tuple[float, float, float, float]

BACKGROUND: Final[Rgba] = (0.02, 0.09, 0.20, 1)  # deep navy: white and yellow read far
PANEL: Final[Rgba] = (0.05, 0.16, 0.32, 1)
TEXT: Final[Rgba] = (1, 1, 1, 1)
TEXT_DIM: Final[Rgba] = (0.78, 0.84, 0.92, 1)
TICKET: Final[Rgba] = (1.0, 0.86, 0.10, 1)  # the number people look for: bright yellow
SERVING: Final[Rgba] = (0.15, 0.75, 0.35, 1)
PAUSED: Final[Rgba] = (0.95, 0.55, 0.05, 1)
RESTING: Final[Rgba] = (0.25, 0.60, 0.95, 1)
CLOSED: Final[Rgba] = (0.55, 0.58, 0.62, 1)
OFFLINE: Final[Rgba] = (0.85, 0.10, 0.10, 1)
STALE: Final[Rgba] = (0.50, 0.53, 0.58, 1)  # the ticket greys out while we are offline
HIGHLIGHT: Final[Rgba] = (0.75, 0.12, 0.12, 1)  # the newest call's row on the hall display

FLASH_SECONDS: Final = 6.0

# The smallest type on the hall display's waiting table and ticker, in px on a 1080 px
# high panel (scaled with the panel): on a 55-inch 1080p panel (0.63 mm pixels) a 40 px
# Chinese character is ≈ 25 mm high — the signage rule of 1 inch of letter height per
# 10 feet of viewing distance, i.e. readable from 3 m. docs/displays.md.
MIN_TEXT_PX: Final = 40
WAITING_ROW_PX: Final = 58  # one category: 44 px name and count, 40 px estimate
WAITING_HEADER_PX: Final = 100  # column names, Chinese over English
WAITING_ROW_SPACING_PX: Final = 4
