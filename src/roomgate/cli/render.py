"""``roomgate render``: dry vocals through the modelled rig, one file or a batch."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from ..errors import OutputError, RoomgateError
from .common import (
    PLOT_SUFFIXES,
    add_output_options,
    add_rig_options,
    announce_compilation,
    check_output_file,
    check_side_file,
    check_stems_folder,
    load_rig,
    make_output_folder,
    output_in_folder,
    pass_progress,
    print_stems,
    print_summary,
    progress,
    render_passes,
    is_quiet,
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
    render.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    set_quiet(args.quiet)
    rig = load_rig(args)
    if args.jobs < 1:
        raise RoomgateError(f"--jobs: expected 1 or more worker processes, got {args.jobs}")
    if len(args.inputs) > 1:
        for option, value in (("INPUT", "-" in args.inputs), ("-o", args.output == "-"), ("--stems", args.stems)):
            if value:
                raise RoomgateError(f"{option}: with several inputs, expected files and an output folder; "
                                    "render a pipe or stems one input at a time")
        inputs = [Path(p) for p in args.inputs]
        output = make_output_folder(args.output, len(inputs))
        announce_compilation()
        return _render_batch(args, inputs, output)
    with piped_input(args.inputs[0]) as input_path, piped_output(args.output) as (output, shown):
        if args.inputs[0] != "-" and args.output != "-":
            output = output_in_folder(args.output, input_path)
            shown = str(output)
        return _render_one(args, rig, input_path, output, shown, "stdin" if args.inputs[0] == "-" else None)


def _render_one(args: argparse.Namespace, rig: Any, input_path: Path, output: Path, shown: Path | str,
                input_label: str | None) -> int:
    from ..io.audio import audio_info
    from ..rig.job import Outputs, render_file

    check_output_file(output, [input_path], args.subtype, rig.output_channels)
    outputs = Outputs(output, args.subtype, check_side_file(args.report, ".json", "--report"),
                      check_side_file(args.plot, PLOT_SUFFIXES, "--plot"),
                      check_stems_folder(args.stems, rig, output, [input_path]))
    info = audio_info(input_path)
    announce_compilation()
    with pass_progress(info.frames, info.sample_rate, render_passes(rig)) as frames_done:
        result = render_file(rig, input_path, outputs, progress=progress, frames_done=frames_done,
                             input_label=input_label)
    for note in result.notes:
        say(f"roomgate: note: {note}")
    print_summary(result.render.report, shown, result.elapsed_s)
    if outputs.stems_dir is not None:
        print_stems(outputs.stems_dir, rig)
    return 0


def _render_batch(args: argparse.Namespace, inputs: list[Path], output: Path) -> int:
    """Several inputs into a folder, on ``--jobs`` worker processes, with a progress bar; a file
    that fails is reported at the end without stopping the others."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    if not output.is_dir():
        raise OutputError(f"{output}: with {len(inputs)} inputs, -o must be an existing folder")
    side_folders = {}
    for option, value in (("--report", args.report), ("--plot", args.plot)):
        if value is not None and not Path(value).is_dir():
            raise OutputError(f"{option} {value}: with several inputs, expected an existing folder")
        side_folders[option] = None if value is None else Path(value)
    names = [p.name for p in inputs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise OutputError(f"{output}: several inputs are named {', '.join(clashes)}; their outputs would overwrite each other")
    tasks = [
        (args.preset, tuple(args.overrides), str(path), str(output / path.name), args.subtype,
         None if side_folders["--report"] is None else str(side_folders["--report"] / f"{path.stem}.json"),
         None if side_folders["--plot"] is None else str(side_folders["--plot"] / f"{path.stem}.png"),
         [str(p) for p in inputs])
        for path in inputs
    ]
    failures: list[str] = []
    started = time.perf_counter()
    with tqdm(total=len(tasks), unit="file", file=sys.stderr, desc="roomgate", leave=False,
              disable=True if is_quiet() else None) as bar:
        if args.jobs == 1:
            results: Any = map(_batch_render, tasks)
        else:
            pool = ProcessPoolExecutor(max_workers=args.jobs)
            results = pool.map(_batch_render, tasks)
        try:
            for input_name, line, ok, notes in results:
                for note in notes:  # above the bar, never inside its line
                    bar.write(f"roomgate: note: {note}", file=sys.stderr)
                bar.write(line if ok else f"roomgate: error: {line}", file=sys.stderr if not ok else sys.stdout)
                if not ok:
                    failures.append(input_name)
                bar.update(1)
        finally:
            if args.jobs > 1:
                pool.shutdown(cancel_futures=True)
    print(f"rendered {len(inputs) - len(failures)} of {len(inputs)} files in {time.perf_counter() - started:.1f} s "
          f"with {args.jobs} job(s)")
    if failures:
        say(f"roomgate render: error: {len(failures)} of {len(inputs)} files failed: {', '.join(failures)}")
        return 2
    return 0


def _batch_render(task: tuple[Any, ...]) -> tuple[str, str, bool, list[str]]:
    """One file of a batch (in a worker process): returns (input, one summary line, succeeded,
    notes); the notes and warnings are returned, not printed, for the parent to print above its bar."""
    import multiprocessing

    preset, overrides, input_name, output_name, subtype, report_name, plot_name, all_inputs = task
    in_worker = multiprocessing.parent_process() is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        input_name, line, ok, notes = _batch_render_one(task, None if in_worker else progress)
    return input_name, line, ok, [str(w.message) for w in caught] + notes


def _batch_render_one(task: tuple[Any, ...], progress: Any) -> tuple[str, str, bool, list[str]]:
    from ..rig import load_preset
    from ..rig.job import Outputs, render_file

    preset, overrides, input_name, output_name, subtype, report_name, plot_name, all_inputs = task
    try:
        target = Path(output_name)
        check_output_file(target, [Path(p) for p in all_inputs], subtype)
        outputs = Outputs(target, subtype, None if report_name is None else Path(report_name),
                          None if plot_name is None else Path(plot_name))
        result = render_file(load_preset(preset, overrides), Path(input_name), outputs, progress=progress)
    except RoomgateError as error:
        return input_name, str(error), False, []
    report = result.render.report
    opened = ", ".join(f"{m.name} {100 * m.open_fraction:.0f}%" for m in report.gated_mics)
    return (input_name, f"{input_name} -> {output_name}: {report.duration_s:.1f} s, open: {opened} "
                        f"({result.elapsed_s:.1f} s)", True, result.notes)
