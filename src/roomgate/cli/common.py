"""What the commands share: messages, the rig options, output checks, the summary table."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputError, RoomgateWarning

if TYPE_CHECKING:
    from ..io.report import Report
    from ..rig import Rig

DEFAULT_PRESET = "heroes-1977"


def say(message: str) -> None:
    """One line on stderr (notes, progress, errors); the results go to stdout."""
    print(message, file=sys.stderr, flush=True)


def progress(message: str) -> None:
    say(f"roomgate: {message}")


def show_warning(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
                 line: Any = None) -> None:
    """``warnings.showwarning`` for the CLI: a warning is one line, never a source excerpt."""
    if issubclass(category, RoomgateWarning):
        say(f"roomgate: note: {message}")
    else:
        say(f"roomgate: warning: {message}")


def add_rig_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME|FILE",
                        help=f"a built-in preset (see 'roomgate presets') or a TOML file (default: {DEFAULT_PRESET})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a preset key, mics by name: --set mics.far.distance_m=40ft "
                             "--set room.rt60_s=2.0 (repeatable)")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", metavar="JSON", help="write the gate timeline report (JSON; with several "
                                                          "inputs, a folder for one report per file)")
    parser.add_argument("--plot", metavar="PNG", help="draw the room, the key level and the gates (PNG; with "
                                                      "several inputs, a folder)")
    parser.add_argument("--subtype", metavar="SUBTYPE",
                        help="output sample format, e.g. PCM_16, PCM_24, FLOAT (default: the input's)")


def load_rig(args: argparse.Namespace) -> Rig:
    from ..rig import load_preset

    return load_preset(args.preset, args.overrides)


@dataclass(frozen=True)
class InputFile:
    """A file a command reads, and what it is to the command (for the message that refuses it)."""

    path: Path
    role: str  # "input", "mics.far.ir", "room.ir", "the preset", "the calibration"


def files_read(audio_inputs: Sequence[Path] = (), rig: Rig | None = None,
               calibration: str | os.PathLike[str] | None = None) -> list[InputFile]:
    """Every file a command reads: the audio ``audio_inputs``, the measured IRs (``mics.NAME.ir``,
    ``room.ir``) and the preset file of ``rig``, and a calibration file. No output may be one of
    them (see :func:`check_output_file`)."""
    files = [InputFile(Path(p), "input") for p in audio_inputs]
    if rig is not None:
        config = rig.config
        files += [InputFile(Path(m.ir), f"mics.{m.name}.ir") for m in config.mics if m.ir is not None]
        if config.room_ir is not None:
            files.append(InputFile(Path(config.room_ir), "room.ir"))
        if config.source not in ("", "<memory>"):
            files.append(InputFile(Path(config.source), "the preset"))
    if calibration is not None:
        files.append(InputFile(Path(calibration), "the calibration"))
    return files


def check_not_an_input(output_path: Path, inputs: Sequence[Path | InputFile], option: str = "") -> None:
    """Refuse an output that is (by name, symbolic or hard link) a file the command reads."""
    from ..io.audio import same_file

    for item in inputs:
        file = item if isinstance(item, InputFile) else InputFile(Path(item), "input")
        if same_file(output_path, file.path) or output_path.absolute() == file.path.absolute() \
                or _resolved(output_path) == _resolved(file.path):
            what = "an input" if file.role == "input" else f"an input ({file.role})"
            shown = f"{option} {output_path}" if option else str(output_path)
            raise OutputError(f"{shown}: is {what}; roomgate never overwrites its input")


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare as written
        return path.absolute()


def check_output_file(output_path: Path, inputs: Sequence[Path | InputFile], subtype: str | None = None) -> None:
    """Refuse, before any work, an output that would overwrite an input or cannot be written."""
    from ..io.audio import choose_subtype

    check_not_an_input(output_path, inputs)
    folder = output_path.parent
    if not folder.is_dir():
        raise OutputError(f"{output_path}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{output_path}: the folder {str(folder)!r} is not writable")
    if output_path.is_dir():
        raise OutputError(f"{output_path}: is a folder; with one input, -o names the output file")
    choose_subtype(output_path, subtype)  # a format we can write, and a subtype that exists


def check_side_file(path: str | None, suffix: str, option: str,
                    inputs: Sequence[Path | InputFile] = ()) -> Path | None:
    """A report or plot path, checked before any work (None when not asked for)."""
    if path is None:
        return None
    result = Path(path)
    check_not_an_input(result, inputs, option)
    if not result.parent.is_dir():
        raise OutputError(f"{option} {path}: the folder {str(result.parent)!r} does not exist")
    if not os.access(result.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: the folder {str(result.parent)!r} is not writable")
    if result.is_dir():
        raise OutputError(f"{option} {path}: is a folder; expected a {suffix} file name")
    if result.suffix.lower() != suffix:
        raise OutputError(f"{option} {path}: expected a {suffix} file name")
    return result


def summary_rows(report: Report) -> list[tuple[str, ...]]:
    """Rows for the table after a render: mic, distance, trim, threshold, open %, first opening."""
    rows: list[tuple[str, ...]] = []
    for mic in report.mics:
        first = "always" if not mic.is_gated else (f"{mic.intervals[0][0]:.2f} s" if mic.intervals else "never")
        rows.append((
            mic.name,
            f"{mic.distance_m:.2f} m" if mic.distance_m is not None else "-",
            f"{mic.gain_db:+.1f} dB" if mic.gain_db is not None else "-",
            "open" if mic.threshold_db is None else f"{mic.threshold_db:.1f} dBFS",
            f"{100 * mic.open_fraction:.0f}%",
            first,
        ))
    return rows


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def print_summary(report: Report, output_path: Path, elapsed_s: float) -> None:
    """The table of what each mic did, and one line about the file written."""
    print(format_table(summary_rows(report), ("mic", "distance", "trim", "threshold", "open", "first open")))
    assert report.output is not None
    normalization = report.output.normalization_db
    peak_before = report.output.peak_db_before_normalization
    note = ""
    if normalization:
        note = f", normalised {normalization:+.1f} dB to {(peak_before or 0.0) + normalization:.1f} dBFS peak"
    elif peak_before is not None and peak_before > 0:
        note = f", peak {peak_before:+.1f} dBFS: ABOVE FULL SCALE (set output.normalize=\"peak\")"
    print(f"wrote {output_path} ({report.duration_s:.1f} s of audio in {elapsed_s:.1f} s{note})")


def pass_progress(total_frames: int, every_s: float = 2.0) -> Any:
    """A ``frames_done`` callback that says how far along a long pass is (at most every ``every_s``)."""
    import time

    state = {"started": time.perf_counter(), "last": time.perf_counter(), "done": 0}

    def frames_done(frames: int) -> None:
        if state["done"] >= total_frames:  # a new pass starts
            state.update(started=time.perf_counter(), last=time.perf_counter(), done=0)
        state["done"] += frames
        now = time.perf_counter()
        if now - state["last"] >= every_s and state["done"] < total_frames:
            progress(f"{100 * state['done'] / total_frames:.0f}% of the pass ({now - state['started']:.0f} s)")
            state["last"] = now

    return frames_done
