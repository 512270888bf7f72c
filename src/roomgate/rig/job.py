"""The file render job: a take on disk through the rig to an output file, its report and plot.

Every face renders files through here: ``roomgate render`` and ``mix`` (one file or a batch on
worker processes), the studio (any take the CLI renders, however long), a Dask cluster. The job
streams the take from disk in blocks, in :meth:`~roomgate.rig.Rig.render_blocks`' two passes,
into a nameless scratch file beside the output; then it writes the normalised copy, the report
and the plot, and places them together. Memory does not grow with the take. A dry take short
enough to hold (:data:`IN_MEMORY_BYTES`, about two minutes) is read once, rendered whole
(:meth:`~roomgate.rig.Rig.render`) and written once instead: no scratch file, no second read.

Things worth saying that are not errors (a downmix, a padded track) come back as ``notes`` for
the face to show once the job has succeeded, so that an error stays the only line a user sees.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioInputError
from ..io.audio import (
    BLOCK_FRAMES,
    TrackReader,
    atomic_output,
    audio_info,
    block_writer,
    choose_subtype,
    downmix_to_mono,
    read_blocks,
)
from ..io.outputs import Scratch, StagedOutputs
from ..units import check_sample_rate
from .rig import MAX_INPUT_PEAK, Progress, Render, Rig

__all__ = ["IN_MEMORY_BYTES", "JobResult", "Outputs", "mix_files", "render_file", "render_in_memory", "render_stream"]

#: Called with the number of input frames each block holds, as a pass reads them.
FramesDone = Callable[[int], None]
#: A dry take whose samples (the input, the mics' signals and the mix, float32) fit in this many
#: bytes is rendered in memory (about 2.3 min of mono 48 kHz through three mics to mono); a
#: longer one streams in two passes, so its memory stays flat.
IN_MEMORY_BYTES = 128 * 2**20


@dataclass(frozen=True)
class Outputs:
    """Where a job writes: the audio (in ``subtype``, None: the input's) and optional side files."""

    audio_path: Path
    subtype: str | None = None
    report_path: Path | None = None
    plot_path: Path | None = None
    # A folder for the stems: one file per mic (named after it, the output's format, rate and
    # subtype; their sum is the output) and gates.csv, the gate gains over time.
    stems_dir: Path | None = None


@dataclass
class JobResult:
    render: Render  # its audio is empty: the audio is in the output file
    elapsed_s: float
    notes: list[str] = field(default_factory=list)


def render_file(rig: Rig, input_path: Path, outputs: Outputs, *, progress: Progress | None = None,
                frames_done: FramesDone | None = None, input_label: str | None = None) -> JobResult:
    """One dry take from disk through the rig (a multichannel file is downmixed, with a note).
    ``input_label`` names the take in the report and the notes (``stdin`` for a spooled pipe)."""
    info = audio_info(input_path)
    check_sample_rate(info.sample_rate, f"{input_path}: sample rate")
    notes = []
    if info.channels > 1:
        notes.append(f"{input_label or input_path}: {info.channels} channels downmixed to mono (the rig takes one dry voice)")

    def blocks() -> Iterator[np.ndarray]:
        for block in read_blocks(input_path):
            if frames_done is not None:
                frames_done(block.shape[1])
            _check_peaks(block, [input_path] * block.shape[0])
            yield downmix_to_mono(block)

    outputs = _with_subtype(outputs, info.subtype, rig.output_channels)
    fields = {"path": input_label or str(input_path)}
    fits = info.frames * (info.channels + len(rig.mic_names) + rig.output_channels) * 4 <= IN_MEMORY_BYTES
    if fits and outputs.stems_dir is None:
        result = render_in_memory(rig, input_path, outputs, fields, progress=progress, frames_done=frames_done)
    else:
        result = render_stream(rig, blocks, info.sample_rate, outputs, fields, progress=progress)
    result.notes[:0] = notes
    return result


def render_in_memory(rig: Rig, input_path: Path, outputs: Outputs, input_fields: dict[str, Any], *,
                     progress: Progress | None = None, frames_done: FramesDone | None = None) -> JobResult:
    """A dry take that fits in memory (a multichannel one downmixed): read once, rendered whole
    (:meth:`Rig.render`: each mic captured once, the calibration read from those signals),
    written once in place atomically, then the report and the plot. The streamed job's file, to
    float32 rounding, in about half the time."""
    from ..io.audio import read_audio

    started = time.perf_counter()
    audio, sample_rate = read_audio(input_path)
    if frames_done is not None:
        frames_done(audio.shape[1])
    _check_peaks(audio, [input_path] * audio.shape[0])
    render = rig.render(downmix_to_mono(audio), sample_rate, progress=progress)
    del audio
    with StagedOutputs() as staged:  # the audio, report and plot appear together, or none does
        with block_writer(outputs.audio_path, sample_rate, rig.output_channels, outputs.subtype,
                          staged=staged) as write_output:
            write_output(render.audio)
        render.audio = np.zeros((render.audio.shape[0], 0), np.float32)  # as render_stream's: it is in the file
        render.report = render.report.with_input(**input_fields)
        write_side_files(render, outputs, staged)
    return JobResult(render, time.perf_counter() - started)


def mix_files(rig: Rig, input_paths: Sequence[Path], outputs: Outputs, *, progress: Progress | None = None,
              frames_done: FramesDone | None = None,
              before_render: Callable[[TrackReader, int], dict[str, Any]] | None = None,
              track_shifts: Sequence[int] | None = None) -> JobResult:
    """Recorded mics from disk (one file per mic in the rig's order, or one multichannel file),
    gated and mixed. Tracks at other rates are resampled and shorter ones padded, with notes.
    ``before_render(reader, rate)`` may add fields to the report's input (the delay estimates);
    ``track_shifts`` moves each track later by so many samples (earlier when negative) first."""
    infos = [audio_info(p) for p in input_paths]
    names = rig.mic_names
    channels = sum(i.channels for i in infos)
    if channels != len(names):
        source = (f"{input_paths[0]} holds {channels} channel(s)" if len(input_paths) == 1
                  else f"got {len(input_paths)} files ({channels} channels)")
        raise AudioInputError(f"mix: the rig has {len(names)} mics ({', '.join(names)}): expected {len(names)} "
                              f"files or one {len(names)}-channel file; {source}")
    for info in infos:
        check_sample_rate(info.sample_rate, f"{info.path}: sample rate")
    rate = infos[0].sample_rate
    reader = TrackReader(list(input_paths), rate)
    notes = []
    for info, length in zip(infos, reader.lengths):
        if info.sample_rate != rate:
            notes.append(f"{info.path}: resampled from {info.sample_rate} Hz to {rate} Hz")
        if length < reader.length:
            notes.append(f"{info.path}: {(reader.length - length) / rate:.3f} s shorter than the longest track; "
                         "padded with silence")
    fields: dict[str, Any] = {"paths": [str(p) for p in input_paths]}
    if before_render is not None:
        fields.update(before_render(reader, rate))

    def blocks() -> Iterator[np.ndarray]:
        row_files = [info.path for info in infos for _ in range(info.channels)]
        for block in _shifted(reader, track_shifts):
            if frames_done is not None:
                frames_done(block.shape[1])
            _check_peaks(block, row_files)
            yield block

    outputs = _with_subtype(outputs, infos[0].subtype, rig.output_channels)
    result = render_stream(rig, blocks, rate, outputs, fields, progress=progress)
    result.notes[:0] = notes
    return result


def _shifted(reader: TrackReader, track_shifts: Sequence[int] | None) -> Iterator[np.ndarray]:
    if track_shifts is None or not any(track_shifts):
        return reader.blocks()
    from ..dsp.align import shift_tracks

    return shift_tracks(reader.blocks(), track_shifts, reader.length)


def render_stream(rig: Rig, blocks: Callable[[], Iterator[np.ndarray]], sample_rate: int, outputs: Outputs,
                  input_fields: dict[str, Any], *, progress: Progress | None = None) -> JobResult:
    """The two streaming passes of :meth:`Rig.render_blocks` into a scratch file beside the
    output, then the normalised copy, the report and the plot, placed together at the end.

    ``blocks()`` yields the take's consecutive blocks each time it is called;
    ``input_fields`` go into the report's input part (the file rendered, say).
    The scratch file has no name (see :class:`~roomgate.io.outputs.Scratch`), and the outputs
    appear only once all are written (:class:`~roomgate.io.outputs.StagedOutputs`): when anything
    fails or is interrupted, no output is placed and no temporary file stays behind.
    """
    started = time.perf_counter()
    folder = outputs.audio_path.parent if str(outputs.audio_path.parent) else Path(".")
    with StagedOutputs() as staged:
        with Scratch(folder, rig.output_channels, outputs.audio_path) as scratch, \
                _stem_scratch(rig, outputs, sample_rate) as stems:
            render = rig.render_blocks(blocks, sample_rate, scratch.write, progress=progress,
                                       stems=None if stems is None else stems.write)
            gain = np.float32(10 ** (render.normalization_db / 20))
            with block_writer(outputs.audio_path, sample_rate, rig.output_channels, outputs.subtype,
                              staged=staged) as write_output:
                for block in scratch.blocks(BLOCK_FRAMES):
                    write_output(block * gain if gain != 1 else block)
            if stems is not None:
                stems.place(gain, staged)
        render.report = render.report.with_input(**input_fields)
        if stems is not None:
            write_gates_csv(stems.folder / GATES_CSV, render.report, staged)
        write_side_files(render, outputs, staged)
    return JobResult(render, time.perf_counter() - started)


def _with_subtype(outputs: Outputs, input_subtype: str, channels: int) -> Outputs:
    """``outputs`` with its subtype settled before any work: the one asked for, else the input's
    where the output's format can really write it, else PCM_24 (see :func:`choose_subtype`)."""
    subtype = choose_subtype(outputs.audio_path, input_subtype, requested=outputs.subtype, channels=channels)
    return replace(outputs, subtype=subtype)


def write_side_files(render: Render, outputs: Outputs, staged: StagedOutputs | None = None) -> None:
    """The report (JSON) and the plot of a render, where ``outputs`` asks for them (with ``staged``:
    placed with the command's other outputs)."""
    from ..io.report import write_report

    if outputs.report_path is not None:
        write_report(outputs.report_path, render.report, staged=staged)
    if outputs.plot_path is not None:
        from ..io.plot import plot_report

        plot_report(render.report, outputs.plot_path, staged=staged)


def _check_peaks(block: np.ndarray, row_files: Sequence[Path]) -> None:
    """Refuse, naming the file, a block louder than any audio (row ``i`` comes from ``row_files[i]``)."""
    peaks = np.max(np.abs(block), axis=1) if block.size else np.zeros(0)
    for row, peak in enumerate(peaks):
        if peak > MAX_INPUT_PEAK:
            raise AudioInputError(f"{row_files[row]}: peak {float(peak):.3g}; expected samples within "
                                  f"+-{MAX_INPUT_PEAK:g} (full scale is 1)")


#: The gate gains over time, written beside the stems.
GATES_CSV = "gates.csv"


def stem_paths(rig: Rig, outputs: Outputs) -> list[Path]:
    """Where each mic's stem goes: ``stems_dir/<mic name><the output's suffix>``, in the rig's order."""
    assert outputs.stems_dir is not None
    suffix = outputs.audio_path.suffix or ".wav"
    return [outputs.stems_dir / f"{name}{suffix}" for name in rig.mic_names]


class _StemScratch:
    """The stems of a render: first all in one nameless scratch file (mic after mic, each with the
    output's channels), then, once the normalisation gain is known, one file per mic."""

    def __init__(self, rig: Rig, outputs: Outputs, sample_rate: int):
        assert outputs.stems_dir is not None
        self.folder = outputs.stems_dir
        self.paths = stem_paths(rig, outputs)
        self.channels = rig.output_channels
        self.sample_rate = sample_rate
        self.subtype = outputs.subtype
        self.scratch = Scratch(self.folder, len(self.paths) * self.channels, self.folder / GATES_CSV)

    def write(self, block: np.ndarray) -> None:
        """Shape: ``(M, C, n)``, each mic's contribution to the mix."""
        self.scratch.write(block.reshape(-1, block.shape[-1]))

    def place(self, gain: float | np.floating, staged: StagedOutputs) -> None:
        """Each mic's stem, times the output's normalisation ``gain``, into its file (placed with
        the command's other outputs)."""
        with contextlib.ExitStack() as files:
            writers = [files.enter_context(block_writer(path, self.sample_rate, self.channels, self.subtype,
                                                        staged=staged)) for path in self.paths]
            for block in self.scratch.blocks(BLOCK_FRAMES):
                for index, write in enumerate(writers):
                    rows = block[index * self.channels : (index + 1) * self.channels]
                    write(rows * np.float32(gain) if gain != 1 else rows)


@contextlib.contextmanager
def _stem_scratch(rig: Rig, outputs: Outputs, sample_rate: int) -> Iterator[_StemScratch | None]:
    """The stems' scratch while a render runs (None when no stems were asked for)."""
    if outputs.stems_dir is None:
        yield None
        return
    stems = _StemScratch(rig, outputs, sample_rate)
    try:
        yield stems
    finally:
        stems.scratch.close()


def write_gates_csv(path: Path, report: Any, staged: StagedOutputs | None = None) -> Path:
    """The report's gate timeline as CSV: ``time_s`` (the time of the sample each row is taken
    at: the last of each ``hop_s`` frame), then each mic's gate gain (linear; 1 for an open mic)."""
    timeline = report.timeline
    names = list(timeline.gain)
    frames = len(timeline.key_db)
    hop_samples = round(timeline.hop_s * report.sample_rate)
    lines = [",".join(["time_s", *names])]
    for index in range(frames):
        time_s = ((index + 1) * hop_samples - 1) / report.sample_rate
        lines.append(",".join([f"{time_s:.6f}", *(f"{timeline.gain[name][index]:.6g}" for name in names)]))
    with atomic_output(path, staged) as temporary:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
