"""``python -m displays --config device-configs/<window-display|hall-display|announcer>.yaml``."""

from displays.launch import main

raise SystemExit(main())
