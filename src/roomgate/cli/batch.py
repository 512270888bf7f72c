"""``roomgate batch``: a manifest of files, each with its own rig, resumable; and the batch side
of ``roomgate render`` (several inputs, ``--jobs N`` or ``--scheduler ADDRESS``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, OutputError
from .common import (
    InputFile,
    InputIndex,
    add_quiet_option,
    add_rig_options,
    check_not_an_input,
    check_output_file,
    check_side_file,
    is_quiet,
    say,
    set_quiet,
)

SCHEDULER_HELP = ("run on a Dask cluster: a scheduler's address (tcp://HOST:8786), its scheduler file (.json), "
                  "or local:N for N worker processes on this machine (needs roomgate[dask])")


def add_parser(commands: Any) -> None:
    batch = commands.add_parser(
        "batch", help="a manifest of files, each with its own rig, on worker processes or a Dask cluster",
        description="Render every file a manifest lists. MANIFEST is a CSV file with a header (or JSON Lines) with "
                    "the columns input (required; relative to the manifest's folder), output (default "
                    "DIR/<input stem>.<ext>), preset, set (KEY=VALUE overrides separated by ';') and report. "
                    "A journal in DIR records each finished file: a rerun skips what is done and unchanged. "
                    "A summary of the run goes to DIR/batch-summary.csv.")
    batch.add_argument("manifest", metavar="MANIFEST", help="CSV (with a header) or JSON Lines, one file per row")
    batch.add_argument("-o", "--output", required=True, metavar="DIR",
                       help="the batch's folder (created if need be): outputs without an output column, the "
                            "journal and the summary; a path or a URL")
    add_rig_options(batch)
    batch.add_argument("--subtype", metavar="SUBTYPE",
                       help="output sample format, e.g. PCM_16, PCM_24, FLOAT (default: the input's)")
    batch.add_argument("--ext", metavar="EXT", help="the default output's file type, e.g. wav (default: the input's)")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                       help="render N files at once in worker processes on this machine (default: 1)")
    add_scheduler_option(where)
    batch.add_argument("--force", action="store_true", help="render every file again, done or not")
    add_quiet_option(batch)
    batch.add_argument("--journal", metavar="FILE",
                       help="the journal file (default: DIR/.roomgate-journal.jsonl; required when DIR is a URL: "
                            "the journal is a local file the client appends to)")
    batch.set_defaults(run=run)


def add_scheduler_option(parser: Any) -> None:
    parser.add_argument("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)


def run(args: argparse.Namespace) -> int:
    from ..batch import Journal, ManifestError, make_executor, read_manifest, run_batch, write_summary
    from ..batch import locations
    from ..batch.journal import JOURNAL_NAME
    from ..batch.runner import SUMMARY_NAME

    set_quiet(args.quiet)
    executor = make_executor(args.jobs, args.scheduler)
    folder = args.output
    journal_path = _journal_path(folder, args.journal, JOURNAL_NAME)
    if args.ext is not None:
        args.ext = args.ext.lstrip(".")
    try:
        rows = read_manifest(Path(args.manifest), folder, preset=args.preset, overrides=args.overrides,
                             subtype=args.subtype, extension=args.ext)
    except ManifestError as error:
        for problem in error.problems:
            say(f"roomgate batch: error: {args.manifest} {problem}")
        return 2
    summary = locations.join(folder, SUMMARY_NAME)
    problems = _check_batch_files(Path(args.manifest), rows, summary, journal_path)
    if problems:
        for problem in problems:
            say(f"roomgate batch: error: {problem}")
        return 2
    tasks = [_task(row.input, row.output, row.settings, args.subtype, row.report) for row in rows]
    with Journal(journal_path) as journal:
        outcome = run_batch(tasks, executor, journal=journal, force=args.force,
                            on_result=_reporter(len(tasks)))
    write_summary(summary, outcome.results)
    done, skipped = outcome.count("done"), outcome.count("skipped")
    print(f"rendered {done}, skipped {skipped} (done before), failed {len(outcome.failed)}, of {len(tasks)} files "
          f"in {outcome.elapsed_s:.1f} s on {executor.description}; summary: {summary}")
    return _report_failures("batch", outcome.failed, len(tasks))


def _check_batch_files(manifest: Path, rows: Sequence[Any], summary: str, journal: Path) -> list[str]:
    """Every file a batch reads (the manifest, the inputs, the presets and measured IRs its rows
    name) against every file it writes (outputs, reports, the summary, the journal): one line per
    problem, each naming the file (and the manifest's line)."""
    from ..batch import locations

    read = [InputFile(manifest, "the manifest")]
    settings_seen: dict[str, Any] = {}
    for row in rows:
        local = locations.local_path(row.input)
        if local is not None:
            read.append(InputFile(local, "input"))
        settings_seen.setdefault(row.settings.digest, row.settings)
    for settings in settings_seen.values():
        read += [InputFile(Path(path), role) for path, role in settings.files_read()]
    index = InputIndex(read)
    problems = []
    written: list[tuple[Path, str]] = []
    for row in rows:
        for kind, target in (("output", row.output), ("report", row.report)):
            local = None if target is None else locations.local_path(target)
            if local is None:
                continue
            written.append((local, f"{kind} of line {row.line}"))
            problem = _is_read(index, local)
            if problem:
                problems.append(f"{manifest} line {row.line}: {kind} {target!r}: {problem}")
    local_summary = locations.local_path(summary)
    if local_summary is not None:
        written.append((local_summary, "batch summary"))
        problem = _is_read(index, local_summary)
        if problem:
            problems.append(f"{summary}: the batch summary {problem}")
    problem = _is_read(index, journal) or _is_written(journal, written)
    if problem:
        problems.append(f"--journal {journal}: {problem}")
    return problems


def _is_read(index: InputIndex, path: Path) -> str:
    """Why ``path`` may not be written ("is an input (the manifest); ..."), or ""."""
    file = index.find(path)
    if file is None:
        return ""
    what = "an input" if file.role == "input" else f"an input ({file.role})"
    return f"is {what}; roomgate never overwrites its input"


def _is_written(path: Path, written: Sequence[tuple[Path, str]]) -> str:
    found = InputIndex([InputFile(p, role) for p, role in written]).find(path)
    return "" if found is None else f"is also the {found.role}; the journal must be a file of its own"


def render_many(args: argparse.Namespace, read: Sequence[Path | InputFile] = ()) -> int:
    """``roomgate render`` with several inputs (into a folder) or with ``--scheduler``; ``read`` are
    the files the rig reads besides the inputs (measured IRs, the preset): no output may be one."""
    from ..batch import make_executor, resolve_settings, run_batch

    if args.scheduler is not None and args.jobs != 1:
        raise ConfigError("--jobs and --scheduler: choose one (--jobs N runs on this machine's processes)")
    executor = make_executor(args.jobs, args.scheduler)
    settings = resolve_settings(args.preset, args.overrides)
    inputs: list[str] = list(args.inputs)
    tasks = [_task(i, o, settings, args.subtype, r, p) for i, o, r, p in _render_targets(args, inputs, read)]
    outcome = run_batch(tasks, executor, on_result=_reporter(len(tasks)))
    print(f"rendered {outcome.count('done')} of {len(inputs)} files in {outcome.elapsed_s:.1f} s "
          f"{'on' if args.scheduler else 'with'} {executor.description}")
    return _report_failures("render", outcome.failed, len(inputs))


def _render_targets(args: argparse.Namespace, inputs: list[str],
                    read: Sequence[Path | InputFile] = ()) -> list[tuple[str, str, str | None, str | None]]:
    """(input, output, report, plot) per input: one input to the file ``-o`` names; several into
    the folder it names (and their reports and plots into the ``--report`` / ``--plot`` folders)."""
    from ..batch import locations

    output = args.output
    index = InputIndex([*_local_paths(inputs), *read])  # built once: every output is checked against it
    if len(inputs) == 1:
        local = locations.local_path(output)
        if local is not None:
            check_output_file(local, index, args.subtype)
        for option, value, suffix in (("--report", args.report, ".json"), ("--plot", args.plot, ".png")):
            if value is not None and locations.local_path(value) is not None:
                check_side_file(str(locations.local_path(value)), suffix, option, index)
        return [(inputs[0], output, args.report, args.plot)]
    if locations.local_path(output) is not None and not _is_local_folder(output):
        raise OutputError(f"{output}: with {len(inputs)} inputs, -o must be an existing folder")
    side_folders: dict[str, str | None] = {}
    for option, value in (("--report", args.report), ("--plot", args.plot)):
        if value is not None and locations.local_path(value) is not None and not _is_local_folder(value):
            raise OutputError(f"{option} {value}: with several inputs, expected an existing folder")
        side_folders[option] = value
    names = [locations.name_of(i) for i in inputs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise OutputError(f"{output}: several inputs are named {', '.join(clashes)}; their outputs would "
                          "overwrite each other")
    stems = [locations.stem_of(i) for i in inputs]
    for option, folder in side_folders.items():
        stem_clashes = sorted({s for s in stems if stems.count(s) > 1})
        if folder is not None and stem_clashes:
            kind = "reports" if option == "--report" else "plots"
            raise OutputError(f"{option} {folder}: several inputs share the name {', '.join(stem_clashes)} (before "
                              f"the extension); their {kind} would overwrite each other")
    targets = []
    for source, name in zip(inputs, names):
        target = locations.join(output, name)
        local = locations.local_path(target)
        if local is not None:
            check_output_file(local, index, args.subtype)
        stem = locations.stem_of(source)
        report, plot = side_folders["--report"], side_folders["--plot"]
        report_target = None if report is None else locations.join(report, f"{stem}.json")
        plot_target = None if plot is None else locations.join(plot, f"{stem}.png")
        for option, side in (("--report", report_target), ("--plot", plot_target)):
            side_local = None if side is None else locations.local_path(side)
            if side_local is not None:
                check_not_an_input(side_local, index, option)
        targets.append((source, target, report_target, plot_target))
    return targets


def _is_local_folder(location: str) -> bool:
    from ..batch import locations

    path = locations.local_path(location)
    return path is not None and path.is_dir()


def _local_paths(inputs: Sequence[str]) -> list[Path]:
    from ..batch import locations

    return [p for p in (locations.local_path(i) for i in inputs) if p is not None]


def _task(source: str, output: str, settings: Any, subtype: str | None, report: str | None,
          plot: str | None = None) -> Any:
    from .. import __version__
    from ..batch import RenderTask

    return RenderTask(source, output, settings, subtype, report, plot, roomgate_version=__version__)


def _journal_path(folder: str, journal: str | None, default_name: str) -> Path:
    from ..batch import locations

    if journal is not None:
        return Path(journal).expanduser()
    path = locations.local_path(folder)
    if path is None:
        raise ConfigError(f"-o {folder}: a URL; the journal is a local file the client appends to: give it "
                          "with --journal FILE")
    return path / default_name


def _reporter(total: int) -> Callable[[Any], None]:
    """``on_result`` for :func:`run_batch`: a progress bar on stderr (silent when stderr is not a
    terminal) counting failures, a line on stdout per file rendered, and the notes."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="file", desc="roomgate", file=sys.stderr, leave=False,
               disable=True if is_quiet() else None)
    failed = 0

    def on_result(result: Any) -> None:
        nonlocal failed
        for note in result.notes:
            bar.write(f"roomgate: {note}", file=sys.stderr)
        if result.status == "done":
            opened = ", ".join(f"{name} {100 * result.open_fraction[name]:.0f}%" for name in result.gated_mics)
            bar.write(f"{result.input} -> {result.output}: {result.duration_s:.1f} s, open: {opened} "
                      f"({result.seconds:.1f} s)", file=sys.stdout)
        if result.status == "failed":
            failed += 1
            bar.set_postfix(failed=failed, refresh=False)
        bar.update(1)
        if bar.n >= total:
            bar.close()

    return on_result


def _report_failures(command: str, failed: Sequence[Any], total: int) -> int:
    """Each failed file's one-line reason, then the count; the exit code."""
    if not failed:
        return 0
    for result in failed:
        say(f"roomgate: error: {result.error}")
    say(f"roomgate {command}: error: {len(failed)} of {total} files failed: {', '.join(r.input for r in failed)}")
    return 2
