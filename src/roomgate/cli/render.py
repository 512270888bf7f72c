"""``roomgate render``: dry vocals through the modelled rig, one file or a batch."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import OutputError, RoomgateError
from ..interrupts import TERMINATION_SIGNALS, exit_code, raise_interrupted
from .common import (
    InputFile,
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
    show_warning,
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
    render.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..rig.job import Outputs, render_file

    inputs = [Path(p) for p in args.inputs]
    output = Path(args.output)
    rig = load_rig(args)
    if args.jobs < 1:
        raise RoomgateError(f"--jobs: expected 1 or more worker processes, got {args.jobs}")
    if len(inputs) > 1:
        return _render_batch(args, inputs, output, files_read(inputs, rig))
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


def _render_batch(args: argparse.Namespace, inputs: list[Path], output: Path, read: list[InputFile]) -> int:
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
         [(str(f.path), f.role) for f in read])
        for path in inputs
    ]
    failures: list[str] = []
    started = time.perf_counter()
    with tqdm(total=len(tasks), unit="file", file=sys.stderr, desc="roomgate", leave=False) as bar:
        pool = None
        if args.jobs == 1:
            results: Any = map(_batch_render, tasks)
        else:
            pool = ProcessPoolExecutor(max_workers=args.jobs, initializer=_start_worker)
            results = pool.map(_batch_render, tasks)
        try:
            for input_name, line, ok in results:
                bar.write(line if ok else f"roomgate: error: {line}", file=sys.stderr if not ok else sys.stdout)
                if not ok:
                    failures.append(input_name)
                bar.update(1)
        except KeyboardInterrupt:
            if pool is not None:
                _stop_workers(pool)
            raise
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    print(f"rendered {len(inputs) - len(failures)} of {len(inputs)} files in {time.perf_counter() - started:.1f} s "
          f"with {args.jobs} job(s)")
    if failures:
        say(f"roomgate render: error: {len(failures)} of {len(inputs)} files failed: {', '.join(failures)}")
        return 2
    return 0


# -- a batch's worker processes: Ctrl-C stops the batch at once ---------------------------------------

_worker = {"in_worker": False, "rendering": False}


def _start_worker() -> None:
    """A worker's first step. Ctrl-C (which a terminal sends to every process) is for the parent,
    which then stops each worker with SIGTERM: a worker rendering a file unwinds (its unfinished
    outputs are removed) and ends; an idle one ends at once. No worker takes another file."""
    _worker["in_worker"] = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in TERMINATION_SIGNALS:
        signal.signal(signum, _worker_signalled)


def _worker_signalled(signum: int, frame: FrameType | None) -> None:
    if not _worker["rendering"]:
        os._exit(128 + signum)
    raise_interrupted(signum, frame)


def _stop_workers(pool: Any) -> None:
    """Drop the files not started and interrupt the workers' renders; wait until they have cleaned up."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # the executor's own worker list
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=60)
        if process.is_alive():  # pragma: no cover - a worker stuck in C code for a minute
            process.kill()


def _batch_render(task: tuple[Any, ...]) -> tuple[str, str, bool]:
    """One file of a batch (in a worker process): returns (input, one summary line, succeeded)."""
    _worker["rendering"] = True
    try:
        return _render_one(task)
    except KeyboardInterrupt as interrupt:
        if _worker["in_worker"]:  # the file's partial outputs are gone: end here, take no other file
            os._exit(exit_code(interrupt))
        raise
    finally:
        _worker["rendering"] = False


def _render_one(task: tuple[Any, ...]) -> tuple[str, str, bool]:
    from ..rig import load_preset
    from ..rig.job import Outputs, render_file

    preset, overrides, input_name, output_name, subtype, report_name, plot_name, all_inputs = task
    warnings.showwarning = show_warning
    try:
        target = Path(output_name)
        read = [InputFile(Path(name), role) for name, role in all_inputs]
        check_output_file(target, read, subtype)
        outputs = Outputs(target, subtype, check_side_file(report_name, ".json", "--report", read),
                          check_side_file(plot_name, ".png", "--plot", read))
        result = render_file(load_preset(preset, overrides), Path(input_name), outputs, progress=progress)
    except RoomgateError as error:
        return input_name, str(error), False
    for note in result.notes:
        say(f"roomgate: note: {note}")
    report = result.render.report
    opened = ", ".join(f"{m.name} {100 * m.open_fraction:.0f}%" for m in report.gated_mics)
    return (input_name, f"{input_name} -> {output_name}: {report.duration_s:.1f} s, open: {opened} "
                        f"({result.elapsed_s:.1f} s)", True)
