"""``python -m kiosk --config device-configs/kiosk-1.yaml``: run the self-service kiosk."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import deviceui.bootstrap  # noqa: F401  (environment and font before kivy)
from hallbus.config import ConfigFileError, KioskConfig, load_device_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="kiosk device config (YAML)")
    parser.add_argument("--hub-id", help="device id of the hall's hub (default hub-<hall_id>)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path("var/kiosk-cache"),
        help="where the catalog seen so far is kept for offline browsing",
    )
    parser.add_argument("--fullscreen", action="store_true", help="fill the screen (production)")
    args = parser.parse_args(argv)

    try:
        config = load_device_config(args.config)
    except ConfigFileError as error:
        print(error, file=sys.stderr)
        return 2
    if not isinstance(config, KioskConfig):
        print(f"{args.config}: type is {config.type!r}, not 'kiosk'", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(name)s %(message)s")

    from kivy.config import Config

    Config.set("graphics", "width", "1920")
    Config.set("graphics", "height", "1080")
    if args.fullscreen:
        Config.set("graphics", "fullscreen", "auto")

    from kiosk.runtime import KioskRuntime

    try:
        runtime = KioskRuntime(config, cache_dir=args.cache_dir, hub_id=args.hub_id)
    except ConfigFileError as error:  # e.g. the broker password file is missing
        print(error, file=sys.stderr)
        return 2
    runtime.start()
    try:
        runtime.build_app().run()
    finally:
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
