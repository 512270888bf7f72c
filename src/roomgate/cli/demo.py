"""``roomgate demo``: the built-in sung crescendo through heroes-1977."""

from __future__ import annotations

import argparse
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ..dsp.compile import DEMO_KERNELS
from .common import DEFAULT_PRESET, add_quiet_option, make_folder, announce_compilation, format_table, output_level_note, progress, say, set_quiet


def add_parser(commands: Any) -> None:
    demo = commands.add_parser("demo", help="render the built-in sung crescendo through heroes-1977",
                               description="Render a built-in synthetic sung crescendo through the heroes-1977 "
                                           "preset; write the dry and rendered WAVs, the report and the plot.")
    demo.add_argument("-o", "--output", default="roomgate-demo", metavar="DIR",
                      help="folder to write into (default: roomgate-demo)")
    demo.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a key of the heroes-1977 preset (repeatable)")
    add_quiet_option(demo)
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..io.audio import write_audio
    from ..io.outputs import StagedOutputs
    from ..rig import load_preset
    from ..rig.job import Outputs, write_side_files
    from ..synth.voice import sung_crescendo

    set_quiet(args.quiet)
    folder = Path(args.output)
    make_folder(folder, "-o")
    sample_rate = 48_000
    announce_compilation(DEMO_KERNELS)
    progress("singing the demo phrase (a synthetic voice, soft to a shout)")
    dry = sung_crescendo(sample_rate)
    rig = load_preset(DEFAULT_PRESET, args.overrides)
    started = time.perf_counter()
    render = rig.render(dry, sample_rate, progress=progress)
    elapsed_s = time.perf_counter() - started
    paths = [folder / name for name in ("dry.wav", "heroes.wav", "report.json", "plot.png")]
    if find_spec("matplotlib") is None:
        say("roomgate: note: no plot: it needs matplotlib (pip install 'roomgate[plot]')")
        paths.pop()
    with StagedOutputs() as staged:  # the files appear together, or none does
        write_audio(paths[0], dry, sample_rate, "PCM_24", staged=staged)
        write_audio(paths[1], render.audio, sample_rate, "PCM_24", staged=staged)
        write_side_files(render, Outputs(paths[1], "PCM_24", paths[2], paths[3] if len(paths) > 3 else None), staged)
    report = render.report
    print(f"roomgate demo: {report.duration_s:.1f} s of a synthetic sung crescendo through {rig.config.name}\n")
    print(format_table(_rows(report), ("mic", "distance", "opens above", "closes below", "open", "open during (s)")))
    assert report.output is not None
    peak_db = report.output.peak_db_before_normalization
    note = output_level_note(report) or ("not normalised" + ("" if peak_db is None else f"; peak {peak_db:+.1f} dBFS"))
    print(f"\nrendered in {elapsed_s:.1f} s; {note}")
    for path in paths:
        print(f"wrote {path}")
    return 0


def _rows(report: Any) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for mic in report.mics:
        spans = ", ".join(f"{a:.1f}-{b:.1f}" for a, b in mic.intervals[:6])
        if len(mic.intervals) > 6:
            spans += f", ... ({len(mic.intervals)} in all)"
        rows.append((mic.name, f"{mic.distance_m:.2f} m",
                     "always" if not mic.is_gated else f"{mic.threshold_db:.1f} dBFS ({mic.threshold})",
                     "-" if mic.close_threshold_db is None else f"{mic.close_threshold_db:.1f} dBFS",
                     f"{100 * mic.open_fraction:.0f}%", "whole take" if not mic.is_gated else (spans or "never")))
    return rows
