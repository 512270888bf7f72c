"""``roomgate mix``: real recorded mics gated and mixed the same way."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import (
    add_output_options,
    add_rig_options,
    check_output_file,
    check_side_file,
    files_read,
    load_rig,
    pass_progress,
    print_summary,
    progress,
    say,
)


def add_parser(commands: Any) -> None:
    mix = commands.add_parser("mix", help="gate and mix real recorded mics the same way",
                              description="Gate and mix real recordings of the close mic and the room mics, in "
                                          "the rig's mic order (or one multichannel file).")
    mix.add_argument("inputs", nargs="+", metavar="CLOSE ROOM...", help="one file per mic in the rig's order, or one multichannel file")
    mix.add_argument("-o", "--output", required=True, metavar="OUT", help="output file")
    mix.add_argument("--align", action="store_true",
                     help="estimate each room mic's delay behind the close mic and the distance it implies")
    add_rig_options(mix)
    add_output_options(mix)
    mix.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..rig.job import Outputs, mix_files

    rig = load_rig(args)
    paths = [Path(p) for p in args.inputs]
    output = Path(args.output)
    read = files_read(paths, rig)
    check_output_file(output, read, args.subtype)
    outputs = Outputs(output, args.subtype, check_side_file(args.report, ".json", "--report", read),
                      check_side_file(args.plot, ".png", "--plot", read))

    def estimate(reader: Any, rate: int) -> dict[str, Any]:
        return {"alignment": _estimate_delays(rig, next(reader.blocks()), rate)} if args.align else {}

    frames = max(_frames_of(p) for p in paths)
    result = mix_files(rig, paths, outputs, progress=progress, frames_done=pass_progress(frames),
                       before_render=estimate)
    for note in result.notes:
        say(f"roomgate: note: {note}")
    print_summary(result.render.report, output, result.elapsed_s)
    return 0


def _frames_of(path: Path) -> int:
    from ..io.audio import audio_info

    return audio_info(path).frames


def _estimate_delays(rig: Any, first_block: Any, sample_rate: int) -> dict[str, Any]:
    """Each mic's delay behind the nearest mic (GCC-PHAT on the first block), printed and reported."""
    from ..dsp.align import estimate_delay

    config = rig.config
    close = config.nearest_mic_index
    speed = config.room.speed_of_sound_m_s
    result: dict[str, Any] = {}
    for index, mic in enumerate(config.mics):
        if index == close:
            continue
        delay = estimate_delay(first_block[close], first_block[index], sample_rate)
        implied_m = delay.implied_distance_m(config.mics[close].distance_m, speed)
        result[mic.name] = {"delay_ms": round(1000 * delay.delay_s, 3), "implied_distance_m": round(implied_m, 3),
                            "preset_distance_m": round(mic.distance_m, 3), "confidence": round(delay.confidence, 1)}
        print(f"{mic.name}: {1000 * delay.delay_s:.2f} ms behind {config.mics[close].name}, about {implied_m:.2f} m "
              f"from the singer (the preset says {mic.distance_m:.2f} m)")
    return result
