"""What the commands share: messages, the rig options, output checks, the summary table."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputError, RoomgateWarning

if TYPE_CHECKING:
    from ..io.report import Report
    from ..rig import Rig

DEFAULT_PRESET = "heroes-1977"

#: Set by ``--quiet``: no progress bars, no progress lines (notes, warnings and errors still show).
_quiet = [False]


def set_quiet(quiet: bool) -> None:
    _quiet[0] = bool(quiet)


def is_quiet() -> bool:
    return _quiet[0]


def say(message: str) -> None:
    """One line on stderr (notes, progress, errors); the results go to stdout. While a progress
    bar is drawn the line goes above it, never into it."""
    tqdm_module = sys.modules.get("tqdm")
    if tqdm_module is not None and getattr(tqdm_module.tqdm, "_instances", None):
        tqdm_module.tqdm.write(message, file=sys.stderr)
        sys.stderr.flush()
        return
    print(message, file=sys.stderr, flush=True)


def progress(message: str) -> None:
    """A progress line (silenced by ``--quiet``)."""
    if not is_quiet():
        say(f"roomgate: {message}")


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar or progress lines (notes and errors still show)")


def announce_compilation(modules: Sequence[str]) -> None:
    """Say, before numba compiles the kernels a first run needs, that it will (once, and how long)."""
    from ..dsp.compile import compile_notice

    notice = compile_notice(tuple(modules))
    if notice:
        progress(notice)


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


def add_output_options(parser: argparse.ArgumentParser, batch: bool = True) -> None:
    several = "; with several inputs, a folder for one per file" if batch else ""
    parser.add_argument("--report", metavar="JSON", help=f"write the gate timeline report (JSON{several})")
    parser.add_argument("--plot", metavar="PNG|SVG|PDF",
                        help=f"draw the room, the key level and the gates (by the suffix: .png, .svg or .pdf{several}; "
                             "needs matplotlib)")
    parser.add_argument("--subtype", metavar="SUBTYPE",
                        help="output sample format, e.g. PCM_16, PCM_24, FLOAT (default: the input's, or PCM_24 "
                             "for a compressed input to an uncompressed format)")
    parser.add_argument("--stems", metavar="DIR",
                        help="also write each mic after its gate and trim, one file per mic named after it, whose "
                             "sum is the output, and DIR/gates.csv with the gate gains over time")
    add_quiet_option(parser)


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


class InputIndex:
    """The files a command reads, indexed once, so that checking an output against them costs the
    same with one input as with ten thousand (a batch checks every output against every input).

    A file is found by its identity (device and inode, through symbolic links: a hard link to an
    input is that input), by its absolute path and by its resolved path (for names that do not
    exist yet)."""

    def __init__(self, items: Iterable[Path | InputFile]):
        self.first: Path | None = None
        self._by_identity: dict[tuple[int, int], InputFile] = {}
        self._by_path: dict[Path, InputFile] = {}
        for item in items:
            file = item if isinstance(item, InputFile) else InputFile(Path(item), "input")
            self.first = self.first or file.path
            identity = _identity(file.path)
            if identity is not None:
                self._by_identity.setdefault(identity, file)
            for key in _path_keys(file.path):
                self._by_path.setdefault(key, file)

    def find(self, path: Path) -> InputFile | None:
        """The input ``path`` names, or None."""
        identity = _identity(path)
        if identity is not None and identity in self._by_identity:
            return self._by_identity[identity]
        return next((self._by_path[key] for key in _path_keys(path) if key in self._by_path), None)


Inputs = Sequence[Path | InputFile] | InputIndex


def _indexed(inputs: Inputs) -> InputIndex:
    return inputs if isinstance(inputs, InputIndex) else InputIndex(inputs)


def check_not_an_input(output_path: Path, inputs: Inputs, option: str = "") -> None:
    """Refuse an output that is (by name, symbolic or hard link) a file the command reads."""
    file = _indexed(inputs).find(output_path)
    if file is not None:
        shown = f"{option} {output_path}" if option else str(output_path)
        what = "an input" if file.role == "input" else f"an input ({file.role})"
        raise OutputError(f"{shown}: is {what}; roomgate never overwrites its input")


def is_same_path(a: Path, b: Path) -> bool:
    """``a`` and ``b`` are one file: the same name, a symbolic link or a hard link to it."""
    return InputIndex([b]).find(a) is not None


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` leads to, following links; None if there is none."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return status.st_dev, status.st_ino


def _path_keys(path: Path) -> tuple[Path, Path]:
    return path.absolute(), _resolved(path)


def _path_of(item: Path | InputFile) -> Path:
    return item.path if isinstance(item, InputFile) else Path(item)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare as written
        return path.absolute()


def check_output_file(output_path: Path, inputs: Inputs, subtype: str | None = None, channels: int = 1) -> None:
    """Refuse, before any work, an output that would overwrite an input or cannot be written."""
    from ..io.audio import choose_subtype

    first = _indexed(inputs).first
    check_not_an_input(output_path, inputs)
    folder = output_path.parent
    if not folder.is_dir():
        raise OutputError(f"{output_path}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{output_path}: the folder {str(folder)!r} is not writable")
    if output_path.is_dir():
        raise OutputError(f"{output_path}: is a folder; with one input, -o names the output file (or end it "
                          f"with '/' to write {output_path / (first.name if first else 'OUT.wav')})")
    choose_subtype(output_path, requested=subtype, channels=channels)  # a format and subtype really writable


def output_in_folder(text: str, input_path: Path) -> Path:
    """``-o``: a file; or for a name ending in ``/``, a folder (made if missing) and the input's
    name in it. (A folder named without the ``/`` is refused by :func:`check_output_file`, which
    says to add it: a typo should not scatter renders.)"""
    if text.endswith(("/", os.sep)):
        folder = Path(text)
        _make_folder(folder, "-o")
        return folder / input_path.name
    return Path(text)


def make_output_folder(text: str, count: int) -> Path:
    """``-o`` with several inputs: a folder, made if missing."""
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{text}: with {count} inputs, -o names a folder for their outputs, and this is a file")
    _make_folder(folder, "-o")
    return folder


def _make_folder(folder: Path, option: str) -> None:
    """Make ``folder`` (and missing parents), remembered so that a failing command removes the
    ones it made if they are still empty (see :func:`command_scope`)."""
    missing = _missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{option} {folder}: is a file; expected a folder") from None
    except OSError as error:
        raise OutputError(f"{option} {folder}: cannot make the folder ({error.strerror})") from None
    if _made_folders:
        _made_folders[-1].extend(missing)


def make_folder(folder: Path, option: str) -> None:
    """``option``'s folder, made if missing (removed again, if left empty, when the command fails)."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{option} {folder}: is a file; expected a folder")
    _make_folder(folder, option)


def _missing_folders(folder: Path) -> list[Path]:
    """The folders ``folder.mkdir(parents=True)`` would make, outermost first."""
    missing: list[Path] = []
    for candidate in [folder, *folder.parents]:
        if os.path.lexists(candidate):
            break
        missing.append(candidate)
    return missing[::-1]


#: One list per running command: the folders it made (a stack, as a test may nest commands).
_made_folders: list[list[Path]] = []


def _remove_empty_folders(folders: Sequence[Path]) -> None:
    for folder in reversed(folders):  # innermost first
        try:
            folder.rmdir()  # only an empty folder goes; one the command wrote into stays
        except OSError:
            pass


class _GuardedStdout:
    """``sys.stdout`` for a command: a failing write (a full disk, a closed pipe) becomes an
    :class:`OutputError` naming stdout, one line and exit 2, instead of a traceback."""

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self.stream.write(text))
        except OSError as error:
            raise self._failed(error) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as error:
            raise self._failed(error) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _failed(self, error: OSError) -> OutputError:
        if id(self.stream) == id(sys.__stdout__):  # Python's last flush at exit must not print a traceback either
            with contextlib.suppress(OSError, ValueError):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, self.stream.fileno())
                os.close(null)
        reason = "the pipe closed" if isinstance(error, BrokenPipeError) else error.strerror or str(error)
        return OutputError(f"stdout: cannot write the command's results ({reason})")


@contextlib.contextmanager
def command_scope() -> Iterator[None]:
    """Run a command: a failing write to stdout is an :class:`OutputError`, and when the command
    fails or is interrupted, the folders it made and left empty are removed (those that existed
    before are never touched)."""
    made: list[Path] = []
    _made_folders.append(made)
    original = sys.stdout
    guard = _GuardedStdout(original)
    sys.stdout = guard
    try:
        yield
        sys.stdout.flush()
    except BaseException:
        _remove_empty_folders(made)
        raise
    finally:
        if sys.stdout is guard:
            sys.stdout = original
        _made_folders.pop()


def check_stems_folder(text: str | None, rig: Rig, output_path: Path,
                       inputs: Sequence[Path | InputFile]) -> Path | None:
    """``--stems DIR``: made if missing; none of its files (one per mic, and gates.csv) may be a
    file the command reads or its output. None when not asked for."""
    if text is None:
        return None
    from ..rig.job import GATES_CSV, Outputs, stem_paths

    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--stems {text}: is a file; expected a folder for one file per mic")
    taken = [_path_of(item) for item in [*inputs, output_path]]
    for other in taken:
        if is_same_path(folder, other):
            raise OutputError(f"--stems {text}: is {other}, a file this command reads or writes; "
                              "expected a folder of its own for one file per mic")
    _make_folder(folder, "--stems")
    for path in [*stem_paths(rig, Outputs(output_path, stems_dir=folder)), folder / GATES_CSV]:
        for other in taken:
            if is_same_path(path, other):
                raise OutputError(f"--stems {text}: {path.name} would overwrite {other}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"--stems {text}: the folder is not writable")
    return folder


def print_stems(folder: Path, rig: Rig) -> None:
    names = ", ".join(rig.mic_names)
    print(f"wrote the stems of {names} and gates.csv to {folder}")


def check_side_file(path: str | None, suffix: str | tuple[str, ...], option: str, inputs: Inputs = ()) -> Path | None:
    """A report or plot path (``suffix``: the one or the ones accepted), checked before any work
    (None when not asked for)."""
    if path is None:
        return None
    suffixes = (suffix,) if isinstance(suffix, str) else suffix
    suffix = " or ".join(suffixes)
    result = Path(path)
    check_not_an_input(result, inputs, option)
    if not result.parent.is_dir():
        raise OutputError(f"{option} {path}: the folder {str(result.parent)!r} does not exist")
    if not os.access(result.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: the folder {str(result.parent)!r} is not writable")
    if result.is_dir():
        raise OutputError(f"{option} {path}: is a folder; expected a {suffix} file name")
    if result.suffix.lower() not in suffixes:
        raise OutputError(f"{option} {path}: expected a {suffix} file name")
    if option == "--plot":
        check_plotting()
    return result


PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def check_plotting() -> None:
    """A plot needs matplotlib (the ``plot`` extra): say so in one line, before any work."""
    from importlib.util import find_spec

    from ..errors import MissingDependencyError

    if find_spec("matplotlib") is None:
        raise MissingDependencyError("--plot needs matplotlib: pip install 'roomgate[plot]' "
                                     "(from a checkout: pip install -e '.[plot]')")


def summary_rows(report: Report) -> list[tuple[str, ...]]:
    """Rows for the table after a render: mic, distance, trim, where its gate opens and closes,
    open %, first opening."""
    rows: list[tuple[str, ...]] = []
    for mic in report.mics:
        first = "always" if not mic.is_gated else (f"{mic.intervals[0][0]:.2f} s" if mic.intervals else "never")
        rows.append((
            mic.name,
            f"{mic.distance_m:.2f} m" if mic.distance_m is not None else "-",
            f"{mic.gain_db:+.1f} dB" if mic.gain_db is not None else "-",
            "always" if mic.threshold_db is None else f"{mic.threshold_db:.1f} dBFS",
            "-" if mic.close_threshold_db is None else f"{mic.close_threshold_db:.1f} dBFS",
            f"{100 * mic.open_fraction:.0f}%",
            first,
        ))
    return rows


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def output_level_note(report: Report) -> str:
    """What normalisation did to the output, as a phrase ("normalised +4.9 dB to -1.0 dBFS peak"),
    or the warning that an unnormalised output is above full scale; "" when there is nothing to say."""
    assert report.output is not None
    normalization = report.output.normalization_db
    peak_before = report.output.peak_db_before_normalization
    loudness_before = report.output.loudness_lufs_before_normalization
    note = ""
    if report.output.normalize == "lufs" and loudness_before is not None:
        true_peak = (report.output.true_peak_db_before_normalization or 0.0) + normalization
        reached = loudness_before + normalization
        note = f"normalised {normalization:+.1f} dB to {reached:.1f} LUFS (true peak {true_peak:.1f} dBTP)"
        target = report.output.loudness_target_lufs
        if target is not None and reached < target - 0.05:
            note += (f", held {target - reached:.1f} LU under the {target:.1f} LUFS target by the true-peak ceiling "
                     "(output.peak_db)")
    elif normalization:
        note = f"normalised {normalization:+.1f} dB to {(peak_before or 0.0) + normalization:.1f} dBFS peak"
    elif peak_before is not None and peak_before > 0:
        note = f"peak {peak_before:+.1f} dBFS: ABOVE FULL SCALE (set output.normalize=\"peak\")"
    return note


def print_summary(report: Report, output_path: Path | str, elapsed_s: float) -> None:
    """The table of what each mic did, and one line about the file written."""
    print(format_table(summary_rows(report), ("mic", "distance", "trim", "opens above", "closes below", "open", "first open")))
    note = output_level_note(report)
    note = f", {note}" if note else ""
    print(f"wrote {output_path} ({report.duration_s:.1f} s of audio in {elapsed_s:.1f} s{note})")


def progress_bar(total: float, description: str, unit: str, bar_format: str | None = None) -> Any:
    """A tqdm bar on stderr: drawn only on a terminal, never with ``--quiet``."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, file=sys.stderr, leave=False, bar_format=bar_format,
                disable=True if is_quiet() else None, dynamic_ncols=True)


def render_passes(rig: Rig) -> list[str]:
    """The passes a file render makes over its take, in order (each reads the whole take)."""
    config = rig.config
    passes = []
    if any(m.gate is not None and m.gate.threshold.is_relative for m in config.mics):
        passes.append("fitting the thresholds")
    if any(m.match_offset_lu is not None for m in config.mics):
        passes.append("matching the trims")
    return [*passes, "rendering"]


@contextlib.contextmanager
def pass_progress(total_frames: int, sample_rate: int, passes: Sequence[str]) -> Iterator[Callable[[int], None]]:
    """A ``frames_done`` callback drawing one tqdm bar per pass over the take, in seconds of audio
    (``passes`` names them in order; a pass past the list is called by its number)."""
    total_s = total_frames / sample_rate
    state = {"pass": 0, "done": 0}

    def title(number: int) -> str:
        name = passes[number] if number < len(passes) else f"pass {number + 1}"
        return f"roomgate: {name}" + (f" ({number + 1}/{len(passes)})" if len(passes) > 1 else "")

    seconds_format = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of audio [{elapsed}<{remaining}]"
    with progress_bar(total_s, title(0), "s", seconds_format) as bar:
        def frames_done(frames: int) -> None:
            if state["done"] >= total_frames:  # the next pass starts
                state["pass"] += 1
                state["done"] = 0
                bar.set_description_str(title(state["pass"]), refresh=False)
                bar.reset(total=total_s)
            state["done"] += frames
            bar.update(frames / sample_rate)

        yield frames_done
