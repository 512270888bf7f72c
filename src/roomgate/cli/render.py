"""``roomgate render``: dry vocals through the modelled rig, one file or a batch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import RoomgateError
from .batch import add_scheduler_option, render_many
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
    render = commands.add_parser("render", help="a dry vocal through the modelled rig",
                                 description="Render dry vocals through the rig: the room captured by each mic, "
                                             "the room mics gated by the singer's level, all mixed. A multichannel "
                                             "input is downmixed to mono first (with a notice).")
    render.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file(s): WAV, FLAC, OGG, AIFF, ...")
    render.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file (one input) or existing folder (several inputs)")
    add_rig_options(render)
    add_output_options(render)
    render.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="with several inputs: render N files at once in worker processes (default: 1)")
    add_scheduler_option(render)
    render.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..rig.job import Outputs, render_file

    inputs = [Path(p) for p in args.inputs]
    output = Path(args.output)
    rig = load_rig(args)
    if args.jobs < 1:
        raise RoomgateError(f"--jobs: expected 1 or more worker processes, got {args.jobs}")
    if len(inputs) > 1 or args.scheduler is not None:
        return render_many(args, files_read(inputs, rig))
    read = files_read(inputs, rig)
    check_output_file(output, read, args.subtype)
    outputs = Outputs(output, args.subtype, check_side_file(args.report, ".json", "--report", read),
                      check_side_file(args.plot, ".png", "--plot", read))
    frames = _frames_of(inputs[0])
    result = render_file(rig, inputs[0], outputs, progress=progress, frames_done=pass_progress(frames))
    for note in result.notes:
        say(f"roomgate: note: {note}")
    print_summary(result.render.report, output, result.elapsed_s)
    return 0


def _frames_of(path: Path) -> int:
    from ..io.audio import audio_info

    return audio_info(path).frames
