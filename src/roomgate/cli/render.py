"""``roomgate render``: dry vocals through the modelled rig, one file, a pipe, or a batch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import RoomgateError
from .batch import add_scheduler_option, render_many
from .common import (
    PLOT_SUFFIXES,
    add_output_options,
    add_rig_options,
    check_output_file,
    check_side_file,
    check_stems_folder,
    files_read,
    load_rig,
    make_output_folder,
    output_in_folder,
    pass_progress,
    print_stems,
    print_summary,
    progress,
    render_passes,
    say,
    set_quiet,
)
from .pipes import piped_input, piped_output


def add_parser(commands: Any) -> None:
    render = commands.add_parser("render", help="a dry vocal through the modelled rig",
                                 description="Render dry vocals through the rig: the room captured by each mic, "
                                             "the room mics gated by the singer's level, all mixed. A multichannel "
                                             "input is downmixed to mono first (with a notice). '-' reads the "
                                             "input from stdin, or writes the output (WAV) to stdout.")
    render.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="audio file(s): WAV, FLAC, OGG, AIFF, MP3, ...; '-' for stdin")
    render.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file (one input), or folder (several inputs, or a name ending in '/'; "
                             "made if missing); '-' for a WAV on stdout")
    add_rig_options(render)
    add_output_options(render)
    render.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="with several inputs: render N files at once in worker processes (default: 1)")
    add_scheduler_option(render)
    render.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    set_quiet(args.quiet)
    rig = load_rig(args)
    if args.jobs < 1:
        raise RoomgateError(f"--jobs: expected 1 or more worker processes, got {args.jobs}")
    if len(args.inputs) > 1 or args.scheduler is not None:
        return _render_many(args, rig)
    with piped_input(args.inputs[0]) as input_path, piped_output(args.output) as (output, shown):
        if args.inputs[0] != "-" and args.output != "-":
            output = output_in_folder(args.output, input_path)
            shown = str(output)
        return _render_one(args, rig, input_path, output, shown, "stdin" if args.inputs[0] == "-" else None)


def _render_many(args: argparse.Namespace, rig: Any) -> int:
    """Several inputs into a folder (made if missing), or any on a Dask cluster: the batch layer."""
    for option, value in (("INPUT", "-" in args.inputs), ("-o", args.output == "-"), ("--stems", args.stems)):
        if value:
            raise RoomgateError(f"{option}: with several inputs or --scheduler, expected files and an output "
                                "folder; render a pipe or stems one input at a time")
    inputs = [Path(p) for p in args.inputs]
    if len(inputs) > 1 and "://" not in args.output:
        make_output_folder(args.output, len(inputs))
    return render_many(args, files_read(inputs, rig))


def _render_one(args: argparse.Namespace, rig: Any, input_path: Path, output: Path, shown: Path | str,
                input_label: str | None) -> int:
    from ..io.audio import audio_info
    from ..rig.job import Outputs, render_file

    read = files_read([input_path], rig)  # the take, measured IRs, the preset: no output may be one
    check_output_file(output, read, args.subtype, rig.output_channels)
    outputs = Outputs(output, args.subtype, check_side_file(args.report, ".json", "--report", read),
                      check_side_file(args.plot, PLOT_SUFFIXES, "--plot", read),
                      check_stems_folder(args.stems, rig, output, read))
    info = audio_info(input_path)
    with pass_progress(info.frames, info.sample_rate, render_passes(rig)) as frames_done:
        result = render_file(rig, input_path, outputs, progress=progress, frames_done=frames_done,
                             input_label=input_label)
    for note in result.notes:
        say(f"roomgate: note: {note}")
    print_summary(result.render.report, shown, result.elapsed_s)
    if outputs.stems_dir is not None:
        print_stems(outputs.stems_dir, rig)
    return 0
