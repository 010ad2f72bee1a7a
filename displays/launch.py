"""Build and run a display or announcer from its device config file.

``python -m displays --config device-configs/window-display-1.yaml`` (window display),
``python -m displays --config device-configs/hall-display-1.yaml`` (hall display, with
its voice when the config has an ``announcer`` section) and
``python -m displays.announcer --config device-configs/announcer-1.yaml``.

The builders (``build_*``) take any MessageBus, so tests and the screenshot script
construct exactly what the app runs, against a private broker or RecordingBus.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devices.led import open_led
from devices.voice.announcer import Announcer
from deviceui.screens import UiModel
from displays.controllers import (
    Clock,
    HallDisplayController,
    WindowDisplayController,
    local_now,
)
from displays.guide import DEFAULT_GUIDE, load_guide
from displays.led_mirror import UnsupportedLedConfig, led_settings_from_config
from displays.voice import CallVoice, build_engine
from hallbus.bus import MessageBus
from hallbus.client import DeviceClient
from hallbus.config import (
    AnnouncerConfig,
    ConfigFileError,
    DeviceConfig,
    HallDisplayConfig,
    VoiceEngineName,
    WindowDisplayConfig,
    connection_settings,
    load_device_config,
)

if TYPE_CHECKING:
    from displays.app_base import DisplayApp

logger = logging.getLogger(__name__)

LANDSCAPE = (1920, 1080)
PORTRAIT = (1080, 1920)


@dataclass(frozen=True)
class Options:
    fullscreen: bool = False
    photo_dir: Path | None = None
    guide: Path = DEFAULT_GUIDE
    wav_dir: Path | None = None  # keep every announcement as a WAV here
    play: bool = True  # False: render WAVs only (no sound card needed)
    clip_dir: Path | None = None


def parse_args(argv: Sequence[str] | None, prog: str) -> tuple[Path, Options]:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="device config YAML")
    parser.add_argument("--fullscreen", action="store_true", help="fill the panel")
    parser.add_argument(
        "--photo-dir", type=Path, default=Path("var/photos"), help="clerk photos by file name"
    )
    parser.add_argument("--guide", type=Path, default=DEFAULT_GUIDE, help="service guide YAML")
    parser.add_argument("--wav-dir", type=Path, help="keep every announcement as a WAV here")
    parser.add_argument("--no-play", action="store_true", help="render WAVs, do not play them")
    parser.add_argument("--clip-dir", type=Path, help="recorded clips for engine: clips")
    args = parser.parse_args(argv)
    return args.config, Options(
        fullscreen=args.fullscreen,
        photo_dir=args.photo_dir,
        guide=args.guide,
        wav_dir=args.wav_dir,
        play=not args.no_play,
        clip_dir=args.clip_dir,
    )


def load_config_or_exit(path: Path) -> DeviceConfig:
    try:
        return load_device_config(path)
    except ConfigFileError as error:
        print(str(error), file=sys.stderr)
        raise SystemExit(2) from None


def open_client(config: DeviceConfig) -> DeviceClient:
    try:
        settings = connection_settings(config)
    except ConfigFileError as error:
        print(str(error), file=sys.stderr)
        raise SystemExit(2) from None
    return DeviceClient(config.device_ref(), settings)


# --------------------------------------------------------------------------- builders


def build_voice(
    engine: VoiceEngineName,
    *,
    repeat: int,
    english: bool,
    floor: int | None,
    options: Options,
) -> CallVoice | None:
    speech = build_engine(engine, clip_dir=options.clip_dir)
    if speech is None:
        return None
    announcer = Announcer(
        speech, repeat=repeat, english=english, output_dir=options.wav_dir, play=options.play
    )
    return CallVoice(announcer, floor=floor)


def build_window_controller(
    config: WindowDisplayConfig,
    bus: MessageBus,
    ui: UiModel,
    options: Options,
    *,
    now: Clock = local_now,
) -> WindowDisplayController:
    controller = WindowDisplayController(
        bus, config.device_ref(), config.window, ui, photo_dir=options.photo_dir, now=now
    )
    if config.led is not None:
        try:
            settings = led_settings_from_config(config.led)
        except UnsupportedLedConfig as error:
            print(f"{config.source_file}: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        controller.attach_led(open_led(settings, on_health=controller.led_health))
    controller.subscribe()
    return controller


def build_hall_controller(
    config: HallDisplayConfig,
    bus: MessageBus,
    ui: UiModel,
    options: Options,
    *,
    now: Clock = local_now,
) -> HallDisplayController:
    voice = None
    if config.announcer is not None:
        voice = build_voice(
            config.announcer.engine,
            repeat=config.announcer.repeat,
            english=config.announcer.english,
            floor=config.floor,
            options=options,
        )
    controller = HallDisplayController(
        bus,
        config.device_ref(),
        ui,
        pages=list(config.pages),
        guide=load_guide(options.guide),
        floor=config.floor,
        page_seconds=config.page_seconds,
        voice=voice,
        now=now,
    )
    controller.subscribe()
    return controller


# ------------------------------------------------------------------------------ mains


def run_display(config: WindowDisplayConfig | HallDisplayConfig, options: Options) -> int:
    from displays.kivy_env import configure_window

    size = PORTRAIT if getattr(config, "orientation", "landscape") == "portrait" else LANDSCAPE
    configure_window(*size, fullscreen=options.fullscreen)

    client = open_client(config)
    ui = UiModel()
    controller: WindowDisplayController | HallDisplayController
    app: DisplayApp
    if isinstance(config, WindowDisplayConfig):
        from displays.window_app import WindowDisplayApp

        controller = build_window_controller(config, client, ui, options)
        app = WindowDisplayApp(controller, ui, connection=client)
    else:
        from displays.hall_app import HallDisplayApp

        controller = build_hall_controller(config, client, ui, options)
        app = HallDisplayApp(controller, ui, connection=client, portrait=size == PORTRAIT)
    client.start()
    try:
        app.run()
    finally:
        controller.stop()
        client.stop()
    return 0


def run_announcer(config: AnnouncerConfig, options: Options) -> int:
    from displays.announcer import AnnouncerService

    client = open_client(config)
    voice = build_voice(
        config.engine,
        repeat=config.repeat,
        english=config.english,
        floor=config.floor,
        options=options,
    )
    service = AnnouncerService(client, config.hall_id, voice)
    service.subscribe()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    client.start()
    logger.info("announcer %s listening (engine %s)", config.device_id, config.engine)
    stop.wait()
    service.stop()
    client.stop()
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "python -m displays") -> int:
    path, options = parse_args(argv, prog)
    config = load_config_or_exit(path)
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if isinstance(config, WindowDisplayConfig | HallDisplayConfig):
        return run_display(config, options)
    if isinstance(config, AnnouncerConfig):
        return run_announcer(config, options)
    print(f"{path}: type {config.type} is not a display or announcer", file=sys.stderr)
    return 2
