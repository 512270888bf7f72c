"""The file render job: a take on disk through the rig to an output file, its report and plot.

Every face renders files through here: ``roomgate render`` and ``mix`` (one file or a batch on
worker processes), the studio (any take the CLI renders, however long), a Dask cluster. The job
streams the take from disk in blocks, in :meth:`~roomgate.rig.Rig.render_blocks`' two passes,
into a nameless scratch file beside the output; then it writes the normalised copy, the report
and the plot, and places them together. Memory does not grow with the take.

Things worth saying that are not errors (a downmix, a padded track) come back as ``notes`` for
the face to show once the job has succeeded, so that an error stays the only line a user sees.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioInputError
from ..io.audio import BLOCK_FRAMES, TrackReader, audio_info, block_writer, downmix_to_mono, read_blocks
from ..io.outputs import Scratch, StagedOutputs
from ..units import check_sample_rate
from .rig import MAX_INPUT_PEAK, Progress, Render, Rig

__all__ = ["JobResult", "Outputs", "mix_files", "render_file", "render_stream"]

#: Called with the number of input frames each block holds, as a pass reads them.
FramesDone = Callable[[int], None]


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
            _check_peaks(block, [input_path] * block.shape[0])
            yield downmix_to_mono(block)

    outputs = Outputs(outputs.audio_path, outputs.subtype or info.subtype, outputs.report_path, outputs.plot_path)
    result = render_stream(rig, blocks, info.sample_rate, outputs, {"path": str(input_path)}, progress=progress)
    result.notes[:0] = notes
    return result


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
        row_files = [info.path for info in infos for _ in range(info.channels)]
        for block in reader.blocks():
            if frames_done is not None:
                frames_done(block.shape[1])
            _check_peaks(block, row_files)
            yield block

    outputs = Outputs(outputs.audio_path, outputs.subtype or infos[0].subtype, outputs.report_path, outputs.plot_path)
    result = render_stream(rig, blocks, rate, outputs, fields, progress=progress)
    result.notes[:0] = notes
    return result


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
        with Scratch(folder, rig.output_channels, outputs.audio_path) as scratch:
            render = rig.render_blocks(blocks, sample_rate, scratch.write, progress=progress)
            gain = np.float32(10 ** (render.normalization_db / 20))
            with block_writer(outputs.audio_path, sample_rate, rig.output_channels, outputs.subtype,
                              staged=staged) as write_output:
                for block in scratch.blocks(BLOCK_FRAMES):
                    write_output(block * gain if gain != 1 else block)
        render.report = render.report.with_input(**input_fields)
        write_side_files(render, outputs, staged)
    return JobResult(render, time.perf_counter() - started)


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
