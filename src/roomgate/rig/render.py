"""The rig's offline renders: a whole take in, its mix, normalised, and the report out.

Three paths give one result (to float32 rounding), each for its case:

- :func:`render_blocks`: a take given block by block, in two streaming passes (the calibration,
  then the render with the room's tail); memory does not grow with the take (files, however long);
- :func:`render`: a take held in memory; when numpy covers every gate, in one pass
  (:func:`_render_whole`: each mic captured once, the calibration read from those signals),
  else through :func:`render_blocks`;
- :func:`render_captured`: a take whose capture a face keeps (the studio), gates and mix only.

Every path ends in :func:`_summary`: the normalisation (the one rule of
:mod:`~roomgate.rig.normalize`: by peak, or by loudness under a true-peak ceiling) and the report.
:class:`~roomgate.rig.Rig`'s ``render``, ``render_blocks`` and ``render_captured`` call these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..config import GateConfig, MicConfig, OutputConfig
from ..dsp.loudness import LoudnessMeter
from ..errors import AudioInputError, ConfigError
from ..io.report import InputReport, MicReport, OutputReport, Report, RoomReport, SingerReport, build_report
from ..io.timeline import TimelineRecorder
from ..units import check_sample_rate
from .calibration import Calibration
from .gates import build_gate, close_threshold_db
from .normalize import normalization_gain_db

if TYPE_CHECKING:
    from .rig import Progress, Rig

__all__ = ["Render", "render", "render_blocks", "render_captured"]

Blocks = Callable[[], Iterable[np.ndarray]]


@dataclass
class Render:
    """What a render made: the audio, and what the gates did."""

    audio: np.ndarray  # (C, N + tail) float32 (empty when a job wrote it to a file instead)
    sample_rate: int
    input_samples: int
    normalization_db: float  # gain applied to reach the output's peak or loudness (0 when not normalising)
    peak_db_before: float  # the mix's peak before normalisation, dBFS
    report: Report


def render(rig: Rig, audio: np.ndarray, sample_rate: int, progress: Progress | None = None) -> Render:
    """The offline job: calibrate on the take, process it with the room's tail, normalise.

    Shape:
        audio: ``(1, N)`` dry or ``(M, N)`` recorded; ``Render.audio`` is ``(C, N + tail)``.
    """
    audio = rig._check_input(audio)
    whole = _render_whole(rig, audio, check_sample_rate(sample_rate), progress)
    if whole is not None:
        return whole
    pieces: list[np.ndarray] = []
    summary = render_blocks(rig, lambda: [audio], sample_rate, pieces.append, progress=progress)
    mixed = np.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
    if summary.normalization_db:
        mixed = (mixed * np.float32(10 ** (summary.normalization_db / 20))).astype(np.float32)
    summary.audio = mixed
    return summary

def _render_whole(rig: Rig, audio: np.ndarray, sample_rate: int, progress: Progress | None) -> Render | None:
    """:meth:`render` of a take held whole, in one pass: each mic captured once (one FFT pass
    for every mic, the room's tail included), the calibration read from those very signals,
    the numpy gates and mixer over the lot, normalised in place. The streaming passes'
    render (to float32 rounding); None when a gate needs the compiled kernel.

    Shape: audio ``(1, N)`` or ``(M, N)``, checked; ``Render.audio`` ``(C, N + tail)``.
    """
    from ..dsp import gate_vector
    from ..dsp.convolve import convolve_offline

    config = rig._timed()
    if not all(gate_vector.supports(build_gate(m.gate, 0.0)) for m in config.mics if m.gate is not None):
        return None
    n, channels = audio.shape[1], audio.shape[0]
    if n == 0:
        raise AudioInputError("audio: expected at least one sample, got none")
    rig.calibration = None
    dry = channels == 1
    captured, total = audio, n
    if dry:
        total = n + rig.tail_samples(sample_rate)
        # One FFT thread: a second saves ~0.05 s a minute on an idle machine but costs ~20 MB
        # (numpy's FFT scratch and a malloc arena per thread), and nothing on a busy one.
        captured = convolve_offline(audio, rig.capture_irs(sample_rate, progress), workers=1)  # (M, N + L - 1)
        if captured.shape[1] != total:  # output.tail_s longer or shorter than the room's ring
            fitted = np.zeros((captured.shape[0], total), np.float32)
            fitted[:, : min(total, captured.shape[1])] = captured[:, :total]
            captured = fitted
    if rig.needs_calibration:
        rig.calibrate_blocks(lambda: [audio], sample_rate, progress, captured=captured if dry else None)
    engine = rig._new_engine(sample_rate)
    if not engine.vector:
        return None
    source = audio
    if dry and engine.needs_dry and total > n:  # a gate keyed by the dry voice hears silence in the tail
        source = np.zeros((1, total), np.float32)
        source[:, :n] = audio
    recorder = TimelineRecorder(sample_rate, rig.mic_names, [m.gate is not None for m in rig.config.mics])
    mixed = engine._process_vector(source, captured, recorder)
    del captured
    peak = max(float(mixed.max()), -float(mixed.min())) if mixed.size else 0.0  # no |mix| copy
    render = _summary(rig, recorder, peak, sample_rate, n, channels, _loudness_of(rig, mixed, sample_rate))
    if render.normalization_db:
        mixed *= np.float32(10 ** (render.normalization_db / 20))
    render.audio = mixed
    return render

def render_blocks(rig: Rig, blocks: Blocks, sample_rate: int, sink: Callable[[np.ndarray], None], *,
                  progress: Progress | None = None, tail_block_samples: int = 1 << 20,
                  stems: Callable[[np.ndarray], None] | None = None) -> Render:
    """:meth:`Rig.render_blocks <roomgate.rig.Rig.render_blocks>`: the two streaming passes (the
    calibration, then the render with the room's tail); ``sink`` gets the mix before normalisation."""
    sample_rate = check_sample_rate(sample_rate)
    rig.calibration = None
    if rig.needs_calibration:
        rig.calibrate_blocks(blocks, sample_rate, progress)
    recorder = TimelineRecorder(sample_rate, rig.mic_names, [m.gate is not None for m in rig.config.mics])
    out = rig.config.output
    peak = _PeakMeter(sink, LoudnessMeter(sample_rate, out.channels) if out.normalize == "lufs" else None)
    input_samples, channels = _render_take(rig, blocks, sample_rate, recorder, peak, progress, stems)
    tail = rig.tail_samples(sample_rate) if channels == 1 else 0
    while tail > 0:  # the room rings on after the last note
        n = min(tail, tail_block_samples)
        silence = np.zeros((channels, n), np.float32)
        peak(rig._process(silence, sample_rate, reset=False, record=recorder, stems=_stem_list(stems)))
        tail -= n
    rig._stream = None
    return _summary(rig, recorder, peak.peak, sample_rate, input_samples, channels, peak.loudness)

def _summary(rig: Rig, recorder: TimelineRecorder, peak: float, sample_rate: int, input_samples: int,
             channels: int, loudness_meter: LoudnessMeter | None = None) -> Render:
    """The :class:`Render` of a finished render, its audio left empty: the normalisation
    that brings ``peak`` (the mix's highest absolute sample) to the output's peak, or its
    loudness (``loudness_meter``) to the output's loudness, and the report."""
    out = rig.config.output
    peak_db_before = 20 * math.log10(peak) if peak > 0 else -math.inf
    normalization_db = normalization_gain_db(peak_db_before, out.peak_db) if out.normalize == "peak" else 0.0
    loudness: dict[str, float | None] = {}
    if loudness_meter is not None:
        normalization_db, loudness = _loudness_normalization(out, loudness_meter)
    report = _report(rig, recorder, InputReport(input_samples, channels, "dry" if channels == 1 else "multitrack"),
                          OutputReport(out.channels, round(normalization_db, 3), round(peak_db_before, 3),
                                       normalize=out.normalize, **loudness))
    empty = np.zeros((out.channels, 0), np.float32)
    return Render(empty, sample_rate, input_samples, normalization_db, peak_db_before, report)

def _render_take(rig: Rig, blocks: Blocks, sample_rate: int, recorder: TimelineRecorder,
                 sink: Callable[[np.ndarray], None], progress: Progress | None,
                 stems: Callable[[np.ndarray], None] | None = None) -> tuple[int, int]:
    """The take's blocks through the stream; returns (input samples, input channels)."""
    input_samples = channels = 0
    for block in rig._checked(blocks)():
        if input_samples and block.shape[0] != channels:
            raise AudioInputError(f"audio: block of shape {block.shape} after blocks of {channels} channels")
        channels = block.shape[0]
        if input_samples == 0 and channels == 1:
            rig.capture_irs(sample_rate, progress)  # simulate the room (with progress) up front
        sink(rig._process(block, sample_rate, reset=input_samples == 0, record=recorder,
                           stems=_stem_list(stems)))
        input_samples += block.shape[1]
    if input_samples == 0:
        raise AudioInputError("audio: expected at least one sample, got none")
    return input_samples, channels

def render_captured(rig: Rig, captured: np.ndarray, sample_rate: int, input_samples: int, *,
                    calibration: Calibration | None = None, muted: Sequence[str] = (),
                    normalize: bool = True, block_samples: int = 1 << 15) -> Render:
    """:meth:`render` of a dry take whose capture is already known: the gates and the mix only.

    For a face that renders one take again and again with other gate settings (the studio):
    it keeps ``captured``, what the mics heard of the dry take followed by
    :meth:`tail_samples` of silence (``convolve(dry, capture_irs(sample_rate))`` cut to that
    length), and calls this instead of :meth:`render`, which would convolve again. The
    samples and the report are :meth:`render`'s (to float32 rounding of the convolution).

    Args:
        captured: ``(M, input_samples + tail)`` float32, in the rig's mic order.
        input_samples: the dry take's length ``N``. Relative thresholds and matched trims are
            fitted on ``captured[:, :N]``, as :meth:`render` fits them on the take...
        calibration: ...unless given here (the :attr:`calibration` an earlier call fitted on
            the same capture, for gates with the same keys and detectors).
        muted: mics left out of the mix; their gates still run (they key and duck others).
        normalize: False leaves ``Render.audio`` as the mixer made it (``normalization_db``
            still says the gain :meth:`render` applies), for a face that applies it itrig.
        block_samples: the gates and the mix run in pieces of this many samples.

    Raises:
        ConfigError: a gate keyed by the dry input (``key = "dry"``), which the capture does
            not hold (use :meth:`render`), or an unknown mic in ``muted``.
    """
    sample_rate = check_sample_rate(sample_rate)
    names, count = rig.mic_names, len(rig.config.mics)
    if not (isinstance(captured, np.ndarray) and captured.dtype == np.float32 and captured.ndim == 2
            and captured.shape[0] == count and 0 < input_samples <= captured.shape[1]):
        raise AudioInputError(f"captured: expected float32 ({count}, >= {input_samples}) for the {count} mics, "
                              f"got {getattr(captured, 'dtype', type(captured).__name__)} {np.shape(captured)}")
    dry_keyed = [m.name for i, m in enumerate(rig.config.mics) if m.gate and rig.config.key_index(i) is None]
    if dry_keyed:
        raise ConfigError(f"mics.{dry_keyed[0]}.gate.key: keyed by the dry input, which a capture does not hold; "
                          "use Rig.render")
    if unknown := [name for name in muted if name not in names]:
        raise ConfigError(f"muted: no mic named {unknown[0]!r} (the mics: {', '.join(names)})")
    rig.calibration = calibration
    if rig.needs_calibration:
        rig.calibrate(captured[:, :input_samples], sample_rate)
    engine = rig._new_engine(sample_rate, block_samples)
    engine.weights[:, [names.index(name) for name in muted]] = 0.0
    recorder = TimelineRecorder(sample_rate, names, [m.gate is not None for m in rig.config.mics])
    mixed = engine.process(np.ascontiguousarray(captured), recorder)
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    render = _summary(rig, recorder, peak, sample_rate, input_samples, 1, _loudness_of(rig, mixed, sample_rate))
    if render.normalization_db and normalize:
        mixed *= np.float32(10 ** (render.normalization_db / 20))
    render.audio = mixed
    return render

def _loudness_of(rig: Rig, mixed: np.ndarray, sample_rate: int) -> LoudnessMeter | None:
    """The mix's loudness, metered when the output is normalised by loudness (else None)."""
    if rig.config.output.normalize != "lufs":
        return None
    meter = LoudnessMeter(sample_rate, rig.config.output.channels)
    meter.add(mixed)
    return meter

def _report(rig: Rig, recorder: TimelineRecorder, input: InputReport, output: OutputReport) -> Report:
    config = rig.config
    rt60 = config.room.rt60_s
    return build_report(
        recorder, [_mic_report(rig, m) for m in rig._timed().mics], preset=config.name, input=input, output=output,
        room=RoomReport(list(config.room.size_m), rt60 if isinstance(rt60, (int, float, dict)) else None),
        singer=SingerReport(list(config.singer.position_m)),
    )

def _mic_report(rig: Rig, mic: MicConfig) -> MicReport:
    threshold_db = rig.threshold_db(mic.name)
    gated = mic.gate is not None
    times = _gate_times_ms(mic.gate) if mic.gate is not None else (None, None)
    return MicReport(
        name=mic.name,
        distance_m=round(mic.distance_m, 4),
        position_m=[round(float(v), 4) for v in mic.position_m],
        pattern=mic.pattern,
        gain_db=_round(rig.gain_db(mic.name)),
        threshold_db=_round(threshold_db) if gated else None,
        close_threshold_db=(_round(close_threshold_db(mic.gate, threshold_db))  # type: ignore[arg-type]
                            if gated and threshold_db is not None else None),
        threshold=mic.gate.threshold.text if mic.gate else None,
        key=mic.gate.key if mic.gate else None,
        hold_ms=times[0],
        release_ms=times[1],
    )


def _gate_times_ms(gate: GateConfig) -> tuple[float, float]:
    """The hold and release a gate runs with (its own, else the Gate's defaults), ms."""
    settings = build_gate(gate, 0.0, lookahead=False).settings
    return round(float(settings.hold_ms), 1), round(float(settings.release_ms), 1)



class _PeakMeter:
    """Passes blocks on to ``sink``, keeping the highest absolute sample seen (and measuring the
    loudness, when given a meter)."""

    def __init__(self, sink: Callable[[np.ndarray], None], loudness: LoudnessMeter | None = None):
        self.sink = sink
        self.peak = 0.0
        self.loudness = loudness

    def __call__(self, block: np.ndarray) -> None:
        if block.size:
            self.peak = max(self.peak, float(np.max(np.abs(block))))
        if self.loudness is not None:
            self.loudness.add(block)
        self.sink(block)


def _loudness_normalization(out: OutputConfig, meter: LoudnessMeter) -> tuple[float, dict[str, float | None]]:
    """The gain (dB) that brings the render to ``out.loudness_lufs``, lowered if that would put its
    true peak over ``out.peak_db``; and the report's loudness fields."""
    loudness_lufs = meter.integrated_lufs()
    true_peak_db = meter.true_peak_db()
    if not math.isfinite(loudness_lufs):  # silence (or under the BS.1770 gate): left as it is
        gain_db = 0.0
    else:  # the true-peak ceiling through the one rule that never makes an absurd gain
        gain_db = min(out.loudness_lufs - loudness_lufs,
                      normalization_gain_db(true_peak_db, out.peak_db, measure="true peak"))
    return gain_db, {"loudness_lufs_before_normalization": _round(loudness_lufs if math.isfinite(loudness_lufs) else None),
                     "true_peak_db_before_normalization": _round(true_peak_db if math.isfinite(true_peak_db) else None),
                     "loudness_target_lufs": out.loudness_lufs}


class _StemList:
    """Collects the engine's ``(M, C, n)`` stem pieces of one block and hands them on in one."""

    def __init__(self, sink: Callable[[np.ndarray], None]):
        self.sink = sink
        self.pieces: list[np.ndarray] = []

    def collect(self, mixed: np.ndarray) -> np.ndarray:
        if self.pieces:
            self.sink(np.concatenate(self.pieces, axis=2) if len(self.pieces) > 1 else self.pieces[0])
        self.pieces = []
        return mixed


def _stem_list(sink: Callable[[np.ndarray], None] | None) -> _StemList | None:
    return None if sink is None else _StemList(sink)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


