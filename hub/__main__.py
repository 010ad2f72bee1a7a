"""`python -m hub --config device-configs/hub-bh.yaml [--health-port N] [--clock-start …]`.

The clock options run the hub on a rehearsal's hall time (hallbus.clock): a
fault test or a simulated day starts the backend and every hub on one time
line, which may run faster than the wall clock. Without them the hub uses the
system clock, as in every real hall.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType

from hallbus.clock import ScaledClock
from hallbus.config import ConfigFileError, HubConfig, format_problems, load_device_config
from hub.service import HubService

log = logging.getLogger("hub")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub", description="Run the hall hub.")
    parser.add_argument("--config", type=Path, required=True, help="the hub's device config")
    parser.add_argument(
        "--health-port", type=int, default=None, help="serve /health on 127.0.0.1:PORT"
    )
    parser.add_argument(
        "--clock-start",
        type=datetime.fromisoformat,
        default=None,
        help="rehearsal only: hall time (ISO, with zone) at --clock-epoch",
    )
    parser.add_argument(
        "--clock-epoch", type=float, default=None, help="wall time (Unix seconds) of --clock-start"
    )
    parser.add_argument(
        "--clock-rate", type=float, default=1.0, help="hall seconds per wall second"
    )
    args = parser.parse_args(argv)
    clock: ScaledClock | None = None
    if args.clock_start is not None:
        if args.clock_epoch is None:
            parser.error("--clock-start needs --clock-epoch")
        try:
            clock = ScaledClock(args.clock_start, args.clock_epoch, args.clock_rate)
        except ValueError as exc:
            parser.error(str(exc))
    try:
        config = load_device_config(args.config)
        if not isinstance(config, HubConfig):
            print(f"{args.config}: type is {config.type}, not hub", file=sys.stderr)
            return 2
        logging.basicConfig(
            level=config.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        service = (
            HubService(config, health_port=args.health_port)
            if clock is None
            else HubService(config, health_port=args.health_port, clock=clock)
        )
    except ConfigFileError as exc:
        print(format_problems(exc.problems), file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    service.start()
    if service.health is not None:
        log.info("health endpoint on http://127.0.0.1:%s/health", service.health.port)
    stop.wait()
    service.stop()
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
