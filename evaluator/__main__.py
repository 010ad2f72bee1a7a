"""Start the evaluator: `python -m evaluator --config device-configs/evaluator-1.yaml`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_size(value: str) -> tuple[int, int]:
    width, _, height = value.lower().partition("x")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluator", description="好差评 evaluation device at a service window."
    )
    parser.add_argument("--config", type=Path, required=True, help="device config YAML")
    parser.add_argument(
        "--pending-db",
        type=Path,
        default=None,
        help="where unacknowledged ratings are kept (default var/evaluator/<device_id>.db)",
    )
    parser.add_argument("--hub-id", default=None, help="hub device id (default hub-<hall_id>)")
    parser.add_argument("--size", type=parse_size, default=(1280, 800), help="WIDTHxHEIGHT")
    parser.add_argument("--photo-base-url", default="", help="base URL for relative photo URLs")
    args = parser.parse_args(argv)

    from hallbus.config import (
        ConfigFileError,
        EvaluatorConfig,
        connection_settings,
        format_problems,
        load_device_config,
    )

    try:
        config = load_device_config(args.config)
        if not isinstance(config, EvaluatorConfig):
            print(f"{args.config}: type is {config.type}, not evaluator", file=sys.stderr)
            return 2
        connection = connection_settings(config)
    except ConfigFileError as error:
        print(format_problems(error.problems), file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from evaluator.app import EvaluatorApp
    from evaluator.runtime import EvaluatorRuntime, RuntimeOptions

    runtime = EvaluatorRuntime(
        config,
        connection,
        RuntimeOptions(
            pending_path=args.pending_db or Path("var/evaluator") / f"{config.device_id}.db",
            hub_id=args.hub_id or f"hub-{config.hall_id}",
        ),
    )
    EvaluatorApp(runtime, size=args.size, photo_base_url=args.photo_base_url).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
