"""``roomgate live``: the rig in real time, from an audio interface to headphones or a PA."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import RoomgateError
from ..dsp.compile import LIVE_KERNELS
from .common import add_rig_options, announce_compilation, check_not_an_input, files_read, load_rig


def add_parser(commands: Any) -> None:
    live_parser = commands.add_parser(
        "live", help="the rig in real time, from a microphone to headphones",
        description="Run the rig in real time from an audio interface (PortAudio through sounddevice: "
                    "pip install -e '.[live]' from a checkout; on Debian/Ubuntu also apt-get install libportaudio2). "
                    "Percentile thresholds need --calibrate SECONDS (sing your loudest line) or a saved "
                    "--calibration file. Ctrl-C stops.")
    add_rig_options(live_parser)
    live_parser.add_argument("--input-device", metavar="X", help="device number or name (see --list-devices)")
    live_parser.add_argument("--output-device", metavar="Y", help="device number or name")
    live_parser.add_argument("--input-channel", type=int, default=1, metavar="N", help="the close mic's input (from 1)")
    live_parser.add_argument("--output-channels", type=int, choices=(1, 2), default=2, metavar="C",
                             help="1 or 2 (default 2: a mono rig is sent to both)")
    live_parser.add_argument("--blocksize", type=int, default=128, metavar="N", help="frames per block (default 128)")
    live_parser.add_argument("--calibrate", type=float, metavar="SECONDS",
                             help="listen this long to the singer's loudest line first, to fit the thresholds")
    live_parser.add_argument("--calibration", metavar="FILE",
                             help="a calibration JSON: saved after --calibrate, reused without it")
    live_parser.add_argument("--list-devices", action="store_true", help="list the audio devices and exit")
    live_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import live

    if args.list_devices:
        print(live.list_devices())
        return 0
    if args.blocksize < 1:
        raise RoomgateError(f"--blocksize: expected a number of frames >= 1, got {args.blocksize}")
    if args.input_channel < 1:
        raise RoomgateError(f"--input-channel: expected a channel number from 1, got {args.input_channel}")
    rig = load_rig(args)
    if args.calibrate is not None and args.calibration is not None:  # the calibration is then written
        check_not_an_input(Path(args.calibration), files_read(rig=rig), "--calibration")
    announce_compilation(LIVE_KERNELS)
    stats = live.run(
        rig,
        input_device=_device(args.input_device),
        output_device=_device(args.output_device),
        input_channel=args.input_channel - 1,
        blocksize=args.blocksize,
        output_channels=args.output_channels,
        calibrate_s=args.calibrate,
        calibration_path=args.calibration,
        on_message=lambda message: print(f"roomgate live: {message}", flush=True),
    )
    print(f"roomgate live: {stats.duration_s:.1f} s, {stats.blocks} blocks of {stats.blocksize}, "
          f"{stats.xruns} xrun(s); callback mean {100 * stats.mean_callback_fraction:.1f}%, "
          f"max {100 * stats.max_callback_fraction:.0f}% of a block")
    return 0


def _device(value: str | None) -> int | str | None:
    """A device given as digits is a device number; anything else a name."""
    return int(value) if value is not None and value.isdigit() else value
