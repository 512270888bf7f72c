"""The file render job: a take on disk through the rig to an output file, its report and plot.

Every face renders files through here: ``roomgate render`` and ``mix`` (one file or a batch on
worker processes), the studio (any take the CLI renders, however long), a Dask cluster. The job
streams the take from disk in blocks, in :meth:`~roomgate.rig.Rig.render_blocks`' two passes,
into a scratch float file beside the output; then it writes the normalised copy in place
atomically, and the report and plot. Memory does not grow with the take. A dry take short
enough to hold (:data:`IN_MEMORY_BYTES`, about two minutes) is read once, rendered whole
(:meth:`~roomgate.rig.Rig.render`) and written once instead: no scratch file, no second read.

Things worth saying that are not errors (a downmix, a padded track) come back as ``notes`` for
the face to show once the job has succeeded, so that an error stays the only line a user sees.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioInputError, OutputError
from ..io.audio import TrackReader, audio_info, block_writer, downmix_to_mono, read_blocks
from ..units import check_sample_rate
from .rig import Progress, Render, Rig

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


@dataclass
class JobResult:
    render: Render  # its audio is empty: the audio is in the output file
    elapsed_s: float
    notes: list[str] = field(default_factory=list)


def render_file(rig: Rig, input_path: Path, outputs: Outputs, *, progress: Progress | None = None,
                frames_done: FramesDone | None = None) -> JobResult:
    """One dry take from disk through the rig (a multichannel file is downmixed, with a note)."""
    info = audio_info(input_path)
    check_sample_rate(info.sample_rate, f"{input_path}: sample rate")
    notes = []
    if info.channels > 1:
        notes.append(f"{input_path}: {info.channels} channels downmixed to mono (the rig takes one dry voice)")

    def blocks() -> Iterator[np.ndarray]:
        for block in read_blocks(input_path):
            if frames_done is not None:
                frames_done(block.shape[1])
            yield downmix_to_mono(block)

    outputs = Outputs(outputs.audio_path, outputs.subtype or info.subtype, outputs.report_path, outputs.plot_path)
    if info.frames * (info.channels + len(rig.mic_names) + rig.output_channels) * 4 <= IN_MEMORY_BYTES:
        result = render_in_memory(rig, input_path, outputs, {"path": str(input_path)}, progress=progress,
                                  frames_done=frames_done)
    else:
        result = render_stream(rig, blocks, info.sample_rate, outputs, {"path": str(input_path)}, progress=progress)
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
    render = rig.render(downmix_to_mono(audio), sample_rate, progress=progress)
    del audio
    with block_writer(outputs.audio_path, sample_rate, rig.output_channels, outputs.subtype) as write_output:
        write_output(render.audio)
    render.audio = np.zeros((render.audio.shape[0], 0), np.float32)  # as render_stream's: the audio is in the file
    render.report = render.report.with_input(**input_fields)
    write_side_files(render, outputs)
    return JobResult(render, time.perf_counter() - started)


def mix_files(rig: Rig, input_paths: Sequence[Path], outputs: Outputs, *, progress: Progress | None = None,
              frames_done: FramesDone | None = None,
              before_render: Callable[[TrackReader, int], dict[str, Any]] | None = None) -> JobResult:
    """Recorded mics from disk (one file per mic in the rig's order, or one multichannel file),
    gated and mixed. Tracks at other rates are resampled and shorter ones padded, with notes.
    ``before_render(reader, rate)`` may add fields to the report's input (the delay estimates)."""
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
        for block in reader.blocks():
            if frames_done is not None:
                frames_done(block.shape[1])
            yield block

    outputs = Outputs(outputs.audio_path, outputs.subtype or infos[0].subtype, outputs.report_path, outputs.plot_path)
    result = render_stream(rig, blocks, rate, outputs, fields, progress=progress)
    result.notes[:0] = notes
    return result


def render_stream(rig: Rig, blocks: Callable[[], Iterator[np.ndarray]], sample_rate: int, outputs: Outputs,
                  input_fields: dict[str, Any], *, progress: Progress | None = None) -> JobResult:
    """The two streaming passes of :meth:`Rig.render_blocks` into a scratch file beside the
    output, then the normalised copy into place (atomically), the report and the plot.

    ``blocks()`` yields the take's consecutive blocks each time it is called;
    ``input_fields`` go into the report's input part (the file rendered, say).
    """
    started = time.perf_counter()
    scratch = _scratch_file(outputs.audio_path)
    try:
        with block_writer(scratch, sample_rate, rig.output_channels, "FLOAT") as write_scratch:
            render = rig.render_blocks(blocks, sample_rate, write_scratch, progress=progress)
        gain = 10 ** (render.normalization_db / 20)
        with block_writer(outputs.audio_path, sample_rate, rig.output_channels, outputs.subtype) as write_output:
            for block in read_blocks(scratch):
                write_output(block * gain if gain != 1 else block)
    finally:
        scratch.unlink(missing_ok=True)
    render.report = render.report.with_input(**input_fields)
    write_side_files(render, outputs)
    return JobResult(render, time.perf_counter() - started)


def write_side_files(render: Render, outputs: Outputs) -> None:
    """The report (JSON) and the plot of a render, where ``outputs`` asks for them."""
    from ..io.report import write_report

    if outputs.report_path is not None:
        write_report(outputs.report_path, render.report)
    if outputs.plot_path is not None:
        from ..io.plot import plot_report

        plot_report(render.report, outputs.plot_path)


def _scratch_file(output_path: Path) -> Path:
    """A hidden scratch file beside the output (the same filesystem, so its space is checked)."""
    try:
        handle, name = tempfile.mkstemp(prefix=f".{output_path.name}.", suffix=".scratch.w64", dir=output_path.parent)
    except OSError as error:
        raise OutputError(f"{output_path}: cannot write in {str(output_path.parent)!r} ({error.strerror})") from None
    os.close(handle)
    return Path(name)
