"""Per-device broker passwords for a demo or a fresh install, kept in one secrets directory.

Each device's password lives in `<secrets_dir>/<device_id>` (mode 0600), which is
what the device configs point at with `broker.password_file`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def ensure_device_passwords(device_ids: Iterable[str], secrets_dir: Path) -> dict[str, str]:
    """Read each device's password, creating a random one where none exists yet."""
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    passwords: dict[str, str] = {}
    for device_id in device_ids:
        path = secrets_dir / device_id
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(24) + "\n")
        passwords[device_id] = path.read_text(encoding="utf-8").strip()
    return passwords
