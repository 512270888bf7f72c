"""The rig: microphones in a room, a gate on each room mic, all mixed, as Visconti did.

Data flows one way::

    dry (1, N) --capture--> mic signals (M, N) --gates--> gated (M, N) --trims, pans--> out (C, N)
    recorded mics (M, N) --------^

:meth:`Rig.process` is the streaming engine: with ``reset=False`` every piece of state (the
convolution tails, the gates' detectors and hold counters, the alignment delays) carries over, so
a take processed in blocks of any sizes gives the one-call result to float32 rounding. It keeps
the input's length; :meth:`Rig.render` is the offline job built on it: it calibrates relative
thresholds on the whole take, appends the room's tail, normalises and records the timeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..io.audio import as_channels_first, check_sample_rate
from ..dsp.levels import FrameLevels, KeyStatistics, key_statistics, resolve_threshold
from ..dsp.convolve import BlockConvolver
from ..config.preset import MicConfig, RigConfig, load_config, mic_position_m
from ..errors import AudioInputError, ConfigError
from ..io.report import TimelineRecorder, build_report

Progress = Callable[[str], None]
MAX_INPUT_PEAK = 1e4


@dataclass(frozen=True)
class Calibration:
    """The absolute values chosen for one take."""

    thresholds_db: dict[str, float]  # gated mic name -> threshold, dBFS of its key detector
    gains_db: dict[str, float] = field(default_factory=dict)  # mics with gain_db = "match" -> trim
    key_statistics: dict[str, KeyStatistics] = field(repr=False, default_factory=dict)


@dataclass
class Render:
    """What :meth:`Rig.render` made: the audio, and what the gates did."""

    audio: np.ndarray  # (C, N + tail) float32
    sample_rate: int
    input_samples: int
    normalization_db: float  # gain applied to reach the output peak (0 when not normalising)
    peak_db_before: float  # the mix's peak before normalisation, dBFS
    report: dict[str, Any]


class Rig:
    """Tony Visconti's multi-mic gated vocal system, configured by a preset.

    Args:
        config: a validated :class:`~roomgate.config.preset.RigConfig` (see :func:`load_preset`).

    The mics are in the preset's order; a multitrack input gives one track per mic in that order.
    """

    def __init__(self, config: RigConfig):
        self.config = config
        self.calibration: Calibration | None = None
        self._irs: dict[int, np.ndarray] = {}  # physical IRs by sample rate
        self._capture_irs: dict[int, np.ndarray] = {}
        self._state_rate: int | None = None
        self._stream: _StreamState | None = None

    # -- description ---------------------------------------------------------------------------

    @property
    def mic_names(self) -> list[str]:
        return [m.name for m in self.config.mics]

    @property
    def gated_mics(self) -> list[MicConfig]:
        return [m for m in self.config.mics if m.gate is not None]

    def mic_positions_m(self) -> np.ndarray:
        """Shape: ``(M, 3)`` metres."""
        room, singer = self.config.room, self.config.singer
        return np.array([mic_position_m(singer, room.size_m, m.distance_m, m.position_m) for m in self.config.mics])

    def mic_distances_m(self) -> np.ndarray:
        """Shape: ``(M,)`` metres from the singer."""
        return np.linalg.norm(self.mic_positions_m() - np.asarray(self.config.singer.position_m), axis=1)

    @property
    def output_channels(self) -> int:
        return self.config.output.channels

    # -- the room ------------------------------------------------------------------------------

    def impulse_responses(self, sample_rate: int, progress: Progress | None = None) -> np.ndarray:
        """The raw physical IRs, one row per mic: time zero = the singer sings; no trims.

        Shape: ``(M, L)`` float32. Simulated (or read from ``ir`` files) once per sample rate.
        """
        sample_rate = check_sample_rate(sample_rate)
        if sample_rate not in self._irs:
            from ..acoustics.room import Microphone, Singer, impulse_responses
            from ..config.preset import singer_facing

            from ..io.audio import read_audio

            room = self.config.room
            positions = self.mic_positions_m()
            if self.config.room_ir is not None:  # a measured room: one channel per mic
                from ..acoustics import load_measured_irs

                irs = load_measured_irs(self._resolve_ir_path(self.config.room_ir), sample_rate, len(self.config.mics))
                self._irs[sample_rate] = np.ascontiguousarray(irs, dtype=np.float32)
                return self._irs[sample_rate]
            for mic in self.config.mics:  # measured IR files are checked before any room is simulated
                if mic.ir is not None:
                    read_audio(self._resolve_ir_path(mic.ir))
            mics = [
                Microphone(
                    name=m.name,
                    position_m=tuple(float(v) for v in p),
                    pattern=m.pattern,
                    aim_m=m.aim_m,
                    ir_path=self._resolve_ir_path(m.ir),
                )
                for m, p in zip(self.config.mics, positions)
            ]
            sung = self.config.singer
            singer = Singer(sung.position_m, singer_facing(sung, room.size_m), sung.directivity)
            irs = impulse_responses(room, singer, mics, sample_rate, progress=progress)
            self._irs[sample_rate] = np.ascontiguousarray(irs, dtype=np.float32)
        return self._irs[sample_rate]

    def capture_irs(self, sample_rate: int, progress: Progress | None = None) -> np.ndarray:
        """The IRs the rig captures with: the physical IRs scaled so that the nearest mic hears the
        dry vocal at its own level (a dry recording *is* what a close mic heard), and the other mics
        by the inverse-distance law relative to it. Keys and thresholds then read in the input's dBFS.

        Shape: ``(M, L)`` float32.
        """
        if sample_rate not in self._capture_irs:
            reference_m = float(self.mic_distances_m().min())
            physical = self.impulse_responses(sample_rate, progress)
            self._capture_irs[sample_rate] = (physical * np.float32(reference_m)).astype(np.float32)
        return self._capture_irs[sample_rate]

    def _resolve_ir_path(self, ir: str | None) -> str | None:
        if ir is None:
            return None
        path = Path(ir).expanduser()
        if not path.is_absolute() and self.config.source not in ("<memory>", ""):
            path = Path(self.config.source).parent / path  # relative to the preset file
        return str(path)

    def tail_samples(self, sample_rate: int) -> int:
        """How many samples of room tail :meth:`render` keeps after the input ends."""
        tail_s = self.config.output.tail_s
        if tail_s is not None:
            return int(round(tail_s * sample_rate))
        return self.impulse_responses(sample_rate).shape[1] - 1

    # -- calibration ---------------------------------------------------------------------------

    def calibrate(self, audio: np.ndarray, sample_rate: int, progress: Progress | None = None) -> Calibration:
        """Fix the relative thresholds (``"p60"``, ``"-6 dB re peak"``) on this performance.

        Shape:
            audio: ``(1, N)`` a dry vocal, or ``(M, N)`` recorded mics in the rig's order.

        Returns the :class:`Calibration` (also kept on the rig and used by :meth:`process`).
        Absolute thresholds pass through unchanged.
        """
        audio = self._check_input(audio)
        return self.calibrate_blocks(lambda: [audio], sample_rate, progress)

    def calibrate_blocks(
        self, blocks: Callable[[], Iterable[np.ndarray]], sample_rate: int, progress: Progress | None = None
    ) -> Calibration:
        """:meth:`calibrate` over a take given block by block (streaming passes over a long file:
        one for the thresholds, one more for ``gain_db = "match"`` trims); ``blocks()`` yields the
        take's consecutive blocks each time it is called. Only frame levels and a bounded amount of
        open material are kept, so memory stays small."""
        from ..dsp.gate import Gate

        sample_rate = check_sample_rate(sample_rate)
        relative = [(i, m) for i, m in enumerate(self.config.mics) if m.gate and isinstance(m.gate.threshold, str)]
        thresholds = {m.name: float(m.gate.threshold) for m in self.gated_mics if m.gate and not isinstance(m.gate.threshold, str)}
        # Which mic signals the keys need (by mic index); "dry" needs none.
        needed = sorted({self._key_index(m, i) for i, m in relative} - {None})  # type: ignore[arg-type]
        # The gate's own detector (filters, peak/rms, time constant) measures its key.
        probes = {m.name: Gate(**{**m.gate.settings, "threshold_db": 0.0, "lookahead_ms": 0.0}) for _, m in relative}  # type: ignore[union-attr]
        levels = {m.name: FrameLevels(sample_rate) for _, m in relative}
        capture = None
        first = True
        for block in blocks() if relative else ():
            block = self._check_input(block)
            if block.shape[0] == 1:
                if capture is None:
                    capture = BlockConvolver(self.capture_irs(sample_rate, progress)[needed]) if needed else None
                captured = capture.process(block) if capture is not None else block[:0]
            else:
                captured = block[needed]
            for index, mic in relative:
                key_index = self._key_index(mic, index)
                key = block[:1] if key_index is None else captured[needed.index(key_index)][np.newaxis]
                _, trace = probes[mic.name].process_with_trace(key, sample_rate, key=key, reset=first)
                levels[mic.name].add(trace.key_db)
            first = False
        statistics: dict[str, KeyStatistics] = {}
        for _, mic in relative:
            statistics[mic.name] = key_statistics(levels[mic.name].frames_db())
            thresholds[mic.name] = resolve_threshold(
                mic.gate.threshold, statistics[mic.name], f"mics.{mic.name}.gate.threshold"  # type: ignore[union-attr]
            )
        self.calibration = Calibration(thresholds, {}, statistics)
        if any(m.match_offset_lu is not None for m in self.config.mics):
            self.calibration.gains_db.update(self._match_gains(blocks, sample_rate))
        self._stream = None  # the gates are rebuilt with the new thresholds
        return self.calibration

    def _match_gains(self, blocks: Callable[[], Iterable[np.ndarray]], sample_rate: int) -> dict[str, float]:
        """Trims for ``gain_db = "match"`` mics: each mic's loudness matched to the nearest mic's
        over the passages where its own gate is open (a pass with the calibrated gates)."""
        from ..dsp.levels import OpenLoudness
        from ..dsp.gate import Gate

        close = int(np.argmin(self.mic_distances_m()))
        matched = [(i, m) for i, m in enumerate(self.config.mics) if m.match_offset_lu is not None and i != close]
        gates = {
            i: Gate(**{**m.gate.settings, "threshold_db": self.threshold_db(m.name), "lookahead_ms": 0.0})
            for i, m in matched if m.gate is not None
        }
        collectors = {i: OpenLoudness(sample_rate) for i, _ in matched}
        capture = None
        for number, block in enumerate(blocks()):
            block = self._check_input(block)
            if block.shape[0] == 1:
                if capture is None:
                    capture = BlockConvolver(self.capture_irs(sample_rate))
                mics = capture.process(block)
            else:
                mics = block
            for index, mic in matched:
                if index in gates:
                    key = self._key_signal(mic, index, block, mics)
                    _, trace = gates[index].process_with_trace(key, sample_rate, key=key, reset=number == 0)
                    is_open = np.asarray(trace.is_open, dtype=bool)
                else:  # an ungated mic is always open
                    is_open = np.ones(mics.shape[1], dtype=bool)
                collectors[index].add(mics[index], mics[close], is_open)
        gains = {m.name: collectors[i].trim_db(m.match_offset_lu, f"mics.{m.name}.gain_db")[0] for i, m in matched}  # type: ignore[arg-type]
        gains.update({m.name: float(m.match_offset_lu) for i, m in enumerate(self.config.mics)  # type: ignore[arg-type]
                      if i == close and m.match_offset_lu is not None})
        return gains

    def gain_db(self, mic_name: str) -> float:
        """A mic's trim (gate aside): its ``gain_db``, or the calibrated one for ``"match"``."""
        mic = self.config.mic(mic_name)
        if mic.match_offset_lu is None:
            return mic.gain_db
        if self.calibration is None or mic_name not in self.calibration.gains_db:
            raise ConfigError(f"mics.{mic_name}.gain_db: 'match' needs Rig.calibrate(audio, sample_rate) first")
        return self.calibration.gains_db[mic_name]

    def threshold_db(self, mic_name: str) -> float | None:
        """The absolute threshold a mic's gate uses now (``None`` when ungated or not calibrated)."""
        mic = self.config.mic(mic_name)
        if mic.gate is None:
            return None
        if not isinstance(mic.gate.threshold, str):
            return float(mic.gate.threshold)
        return None if self.calibration is None else self.calibration.thresholds_db.get(mic_name)

    @property
    def needs_calibration(self) -> bool:
        relative = any(isinstance(m.gate.threshold, str) for m in self.gated_mics if m.gate)
        matched = any(m.match_offset_lu is not None for m in self.config.mics)
        return self.calibration is None and (relative or matched)

    # -- processing ----------------------------------------------------------------------------

    def process(self, audio: np.ndarray, sample_rate: int, reset: bool = True) -> np.ndarray:
        """Run the rig on a block: capture (or take the recorded mics), gate, mix.

        Shape:
            audio: ``(1, N)`` a dry vocal, or ``(M, N)`` recorded mics in the rig's order;
            returns ``(C, N)`` float32, ``C`` = the output's channels. The length is kept: feed
            silence (or use :meth:`render`) to hear the room's tail.

        With ``reset=True`` the state starts fresh, and relative thresholds not yet calibrated are
        calibrated on this block (the offline case). With ``reset=False`` the state carries over
        from the previous call; relative thresholds must be calibrated first.
        """
        output, _ = self._process(audio, sample_rate, reset, record=None)
        return output

    def reset(self) -> None:
        """Forget all streaming state (tails, detectors, delays)."""
        self._stream = None

    def start_stream(self, sample_rate: int, max_block_size: int = 8192, *, dry_input: bool = True) -> int:
        """Start a fresh stream for :meth:`process_into`: buffers for blocks of up to
        ``max_block_size`` samples (longer ones go through in pieces), the room simulated and its
        partitioned convolver built (for a ``dry_input``; recorded mics need neither) and every
        compiled kernel loaded, so that no block of a live stream pays for them.

        Relative thresholds (``"p65"``) must be calibrated first (:meth:`calibrate`, or set
        :attr:`calibration`). Returns the rig's latency in samples (the gates' lookahead).
        """
        sample_rate = check_sample_rate(sample_rate)
        if self.needs_calibration:
            raise self._uncalibrated_error()
        self._stream = _StreamState(self, sample_rate, max_block_size)
        self._state_rate = sample_rate
        self._stream.prepare_live(dry_input)
        return self._stream.latency_samples

    def process_into(self, audio: np.ndarray, sample_rate: int, out: np.ndarray) -> np.ndarray:
        """The real-time path: run the next block of the stream into ``out``.

        Continues the stream exactly as ``process(audio, sample_rate, reset=False)`` would (the
        two share their state and may alternate) and gives the same samples. After
        :meth:`start_stream`, with float32 C-contiguous ``audio`` of at most ``max_block_size``
        samples, it allocates no arrays: the capture runs the zero-latency partitioned convolver
        into preallocated buffers, each gate writes into them, and one compiled call aligns,
        ducks and mixes. Without :meth:`start_stream` the first call starts the stream.

        Shape:
            audio: ``(1, n)`` a dry vocal, or ``(M, n)`` recorded mics in the rig's order;
            out: ``(C, n)`` float32, writable, any strides (``outdata.T`` of a sound card's
            ``(n, C)`` buffer will do); returns ``out``.
        """
        stream = self._stream
        if stream is None or self._state_rate != sample_rate:
            if stream is not None:
                raise AudioInputError(
                    f"sample_rate: the rig is streaming at {self._state_rate} Hz, got {sample_rate} Hz; "
                    "call reset() or start_stream() to start again"
                )
            self.start_stream(sample_rate)
            stream = self._stream
            assert stream is not None
        if not (type(audio) is np.ndarray and audio.ndim == 2 and audio.dtype == np.float32
                and audio.flags.c_contiguous and audio.shape[0] in (1, len(stream.gates))):
            audio = self._check_input(audio)
        if not (type(out) is np.ndarray and out.dtype == np.float32 and out.flags.writeable
                and out.shape == (stream.weights.shape[0], audio.shape[1])):
            raise AudioInputError(
                f"out: expected a writable float32 array shaped ({stream.weights.shape[0]}, {audio.shape[1]}) "
                f"for {audio.shape[1]} samples of this rig's {self.config.output.channels}-channel output, "
                f"got {getattr(out, 'dtype', type(out).__name__)} {np.shape(out)}"
            )
        stream.process_into(audio, out)
        return out

    @property
    def latency_samples(self) -> int:
        """The running stream's latency in samples (the longest gate lookahead); 0 before one."""
        return 0 if self._stream is None else self._stream.latency_samples

    def _uncalibrated_error(self) -> ConfigError:
        names = [f"mics.{m.name}.gate.threshold" for m in self.gated_mics if m.gate and isinstance(m.gate.threshold, str)]
        names += [f"mics.{m.name}.gain_db" for m in self.config.mics if m.match_offset_lu is not None]
        return ConfigError(
            f"{', '.join(names)}: fitted to the performance, so streaming needs "
            "Rig.calibrate(audio, sample_rate) (or a saved calibration) first"
        )

    def _process(
        self, audio: np.ndarray, sample_rate: int, reset: bool, record: TimelineRecorder | None
    ) -> tuple[np.ndarray, list[Any]]:
        sample_rate = check_sample_rate(sample_rate)
        audio = self._check_input(audio)
        if reset:
            self._stream = None
        elif self._stream is not None and self._state_rate != sample_rate:
            raise AudioInputError(
                f"sample_rate: the rig is streaming at {self._state_rate} Hz, got {sample_rate} Hz; "
                "pass reset=True to start again"
            )
        if self._stream is None:
            if reset and self.needs_calibration:
                self.calibrate(audio, sample_rate)
            elif self.needs_calibration:
                names = [f"mics.{m.name}.gate.threshold" for m in self.gated_mics if m.gate and isinstance(m.gate.threshold, str)]
                names += [f"mics.{m.name}.gain_db" for m in self.config.mics if m.match_offset_lu is not None]
                raise ConfigError(
                    f"{', '.join(names)}: fitted to the performance, so streaming with reset=False needs "
                    "Rig.calibrate(audio, sample_rate) first"
                )
            self._stream = _StreamState(self, sample_rate)
            self._state_rate = sample_rate
        assert self._stream is not None
        return self._stream.process(audio, record)

    def render(self, audio: np.ndarray, sample_rate: int, progress: Progress | None = None) -> Render:
        """The offline job: calibrate on the take, process it with the room's tail, normalise.

        Shape:
            audio: ``(1, N)`` dry or ``(M, N)`` recorded; ``Render.audio`` is ``(C, N + tail)``.
        """
        audio = self._check_input(audio)
        pieces: list[np.ndarray] = []
        summary = self.render_blocks(lambda: [audio], sample_rate, pieces.append, progress=progress)
        mixed = np.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
        if summary.normalization_db:
            mixed = (mixed * np.float32(10 ** (summary.normalization_db / 20))).astype(np.float32)
        summary.audio = mixed
        return summary

    def render_blocks(
        self,
        blocks: Callable[[], Iterable[np.ndarray]],
        sample_rate: int,
        sink: Callable[[np.ndarray], None],
        *,
        progress: Progress | None = None,
        tail_block_samples: int = 1 << 20,
    ) -> Render:
        """:meth:`render` for a take too long for memory, in two streaming passes.

        ``blocks()`` is called once per pass and yields the take's consecutive ``(1, n)`` or
        ``(M, n)`` blocks; ``sink`` receives the mix's ``(C, n)`` blocks in order, *before*
        normalisation: the returned :class:`Render` (whose ``audio`` is empty) gives
        ``normalization_db`` for the caller to apply. Memory does not grow with the take.
        """
        sample_rate = check_sample_rate(sample_rate)
        self.calibration = None
        if self.needs_calibration:
            self.calibrate_blocks(blocks, sample_rate, progress)
        recorder = TimelineRecorder(sample_rate, self.mic_names, [m.gate is not None for m in self.config.mics])
        peak = 0.0
        input_samples = 0
        channels = 0

        def emit(mixed: np.ndarray) -> None:
            nonlocal peak
            if mixed.size:
                peak = max(peak, float(np.max(np.abs(mixed))))
            sink(mixed)

        for block in blocks():
            block = self._check_input(block)
            if input_samples and block.shape[0] != channels:
                raise AudioInputError(f"audio: block of shape {block.shape} after blocks of {channels} channels")
            channels = block.shape[0]
            if input_samples == 0 and channels == 1:
                self.capture_irs(sample_rate, progress)  # simulate the room (with progress) up front
            emit(self._process(block, sample_rate, reset=input_samples == 0, record=recorder)[0])
            input_samples += block.shape[1]
        if input_samples == 0:
            raise AudioInputError("audio: expected at least one sample, got none")
        tail = self.tail_samples(sample_rate) if channels == 1 else 0
        while tail > 0:  # the room rings on after the last note
            n = min(tail, tail_block_samples)
            emit(self._process(np.zeros((channels, n), np.float32), sample_rate, reset=False, record=recorder)[0])
            tail -= n
        self._stream = None
        peak_db_before = 20 * math.log10(peak) if peak > 0 else -math.inf
        out = self.config.output
        normalization_db = out.peak_db - peak_db_before if out.normalize == "peak" and peak > 0 else 0.0
        report = build_report(
            recorder,
            self._report_mics(),
            preset=self.config.name,
            extra={
                "input": {"samples": input_samples, "channels": channels,
                          "mode": "dry" if channels == 1 else "multitrack"},
                "output": {"channels": out.channels, "normalization_db": round(normalization_db, 3),
                           "peak_db_before_normalization": round(peak_db_before, 3)},
                "room": {"size_m": list(self.config.room.size_m), "rt60_s": self.config.room.rt60_s},
                "singer": {"position_m": list(self.config.singer.position_m)},
            },
        )
        empty = np.zeros((out.channels, 0), np.float32)
        return Render(empty, sample_rate, input_samples, normalization_db, peak_db_before, report)

    def _report_mics(self) -> list[dict[str, Any]]:
        entries = []
        for mic, position, distance in zip(self.config.mics, self.mic_positions_m(), self.mic_distances_m()):
            entry: dict[str, Any] = {
                "name": mic.name,
                "distance_m": round(float(distance), 4),
                "position_m": [round(float(v), 4) for v in position],
                "pattern": mic.pattern,
                "gain_db": _round(self.gain_db(mic.name)),
                "threshold_db": None if mic.gate is None else _round(self.threshold_db(mic.name)),
            }
            if mic.gate is not None:
                entry["threshold"] = mic.gate.threshold
                entry["key"] = mic.gate.key
            entries.append(entry)
        return entries

    # -- helpers ---------------------------------------------------------------------------------

    def _check_input(self, audio: np.ndarray) -> np.ndarray:
        audio = as_channels_first(audio)
        count = len(self.config.mics)
        if audio.shape[0] not in (1, count):
            raise AudioInputError(
                f"audio: expected (1, samples) for a dry vocal or ({count}, samples) for the "
                f"{count} recorded mics ({', '.join(self.mic_names)}), got shape {audio.shape}"
            )
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > MAX_INPUT_PEAK:  # +80 dBFS: not audio, and trims on top would overflow float32
            raise AudioInputError(f"audio: peak {peak:.3g}; expected samples within +-{MAX_INPUT_PEAK:g} (full scale is 1)")
        return audio

    def _key_index(self, mic: MicConfig, index: int) -> int | None:
        """The mic index whose signal keys this mic's gate (``None``: the dry input)."""
        assert mic.gate is not None
        key = mic.gate.key
        if key == "self":
            return index
        return None if key == "dry" else self.mic_names.index(key)

    def _key_signal(self, mic: MicConfig, index: int, audio: np.ndarray, mics: np.ndarray) -> np.ndarray:
        assert mic.gate is not None
        key = mic.gate.key
        if key == "self":
            return mics[index : index + 1]
        if key == "dry":
            return audio[:1]
        return mics[self.mic_names.index(key)][np.newaxis]


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


#: Blocks longer than this go through the stream's buffers in pieces of this many samples.
MAX_BLOCK_SIZE = 8192


class _StreamState:
    """Everything :meth:`Rig.process` carries from one block to the next, and the buffers of the
    real-time path.

    One engine serves both paths. :meth:`process` (offline and streaming; it allocates its output)
    captures a whole block at once (a long one by FFT), then runs the gates and the mix piece by
    piece in preallocated buffers of ``max_block_size`` samples. :meth:`process_into` (the live
    path) captures with the zero-latency partitioned convolver straight into those buffers, and
    allocates no arrays. The gates and the mix are the same calls in both, and the two paths may
    even alternate within one stream (the capture hands its pending tail over).

    Per block (``n`` samples), after the capture: one compiled call per gated mic (the core of
    ``Gate.process_into``) writing its output and its gain trace into the buffers, then one
    compiled :mod:`~roomgate.dsp.mixer` call for the alignment delays, the ducking, the trims and the
    pans.
    """

    def __init__(self, rig: Rig, sample_rate: int, max_block_size: int = MAX_BLOCK_SIZE):
        from ..dsp.gate import Gate
        from ..dsp.mixer import mix_kernel

        if not 1 <= max_block_size <= 1 << 20:
            raise ConfigError(f"max_block_size: expected 1 to {1 << 20} samples, got {max_block_size!r}")
        self.rig = rig
        self.sample_rate = sample_rate
        self.max_block_size = int(max_block_size)
        config = rig.config
        count = len(config.mics)
        self.gates: list[Any] = []
        for mic in config.mics:
            if mic.gate is None:
                self.gates.append(None)
                continue
            threshold = rig.threshold_db(mic.name)
            assert threshold is not None, "calibrated before streaming"
            self.gates.append(Gate(**{**mic.gate.settings, "threshold_db": threshold}))
        # (mic index, gate, key mic index or None for the dry input), in the preset's order.
        self.gated = [
            (i, g, rig._key_index(m, i)) for i, (m, g) in enumerate(zip(config.mics, self.gates)) if g is not None
        ]
        self.needs_dry = any(key is None for _, _, key in self.gated)
        self.is_gated = np.array([g is not None for g in self.gates], dtype=np.bool_)
        # Gates with lookahead delay their mic; the others wait for the longest so all stay aligned.
        latencies = [0 if g is None else g.latency_samples_at(sample_rate) for g in self.gates]
        self.latency_samples = max(latencies, default=0)
        self.delays = np.array([self.latency_samples - lat for lat in latencies], dtype=np.int64)
        longest = int(self.delays.max(initial=0))
        self.delay_memory = np.zeros((count, longest), dtype=np.float32)
        # The gains' delay lines start as the audio's do: gates shut (at their floor).
        self.gain_memory = np.array(
            [np.full(longest, 0.0 if g is None else _gate_floor(g), np.float32) for g in self.gates]
        ).reshape(count, longest)
        # The report's open flags and key levels are delayed alike (by _record, offline only).
        self.open_memory = np.zeros((count, longest), dtype=np.bool_)
        self.level_memory = np.full((count, longest), -200.0, dtype=np.float32)  # gate.KEY_DB_FLOOR
        trims = np.array(
            [10 ** (rig.gain_db(m.name) / 20) * (-1.0 if m.invert_polarity else 1.0) for m in config.mics]
        )
        pans = _pan_matrix([m.pan for m in config.mics], config.output.channels)
        self.weights = np.ascontiguousarray(pans * trims[np.newaxis, :], dtype=np.float32)  # (C, M)
        # Ducking: while a farther gated mic is open, each nearer gated mic is lowered by its duck_db.
        distances = rig.mic_distances_m()
        ducks: list[tuple[float, float, float, float]] = []  # (near, far, duck gain, far's floor)
        for far, far_gate, _ in self.gated:
            duck_db = config.mics[far].gate.duck_db  # type: ignore[union-attr]
            if duck_db < 0:
                for near, _, _ in self.gated:
                    if distances[near] < distances[far]:
                        ducks.append((near, far, 10 ** (duck_db / 20), _gate_floor(far_gate)))
        self.ducks = np.array(ducks, dtype=np.float64).reshape(-1, 4)
        self.ducked = np.zeros(count, dtype=np.bool_)
        self.ducked[[int(d[0]) for d in ducks]] = True
        # The buffers, flat so that the first M * n samples of each are a C-contiguous (M, n).
        size = count * self.max_block_size
        self._mics = np.zeros(size, np.float32)
        self._gated = np.zeros(size, np.float32)
        self._gains = np.zeros(size, np.float32)
        self._opened = np.zeros(size, np.bool_)
        self._levels = np.zeros(size, np.float32)  # the gates' key levels, dBFS
        self._duck_rows = np.zeros(size, np.float32)
        self._out = np.zeros(config.output.channels * self.max_block_size, np.float32)
        self._views_n = -1
        self._views: tuple[Any, ...] = ()
        # The capture: offline blocks by a BlockConvolver, live ones by a Convolver; what one of
        # them still owed when the stream switched to the other waits in _pending.
        self.capture_convolver: BlockConvolver | None = None
        self.live_convolver: Any = None
        self._capture_mode: str | None = None  # "block" or "live", once a dry block came in
        self._pending = np.zeros((count, 0), np.float32)
        self._pending_at = 0
        self._mix = mix_kernel()
        self._rate_hz = float(sample_rate)

    # -- the two paths ---------------------------------------------------------------------------

    def process(self, audio: np.ndarray, record: TimelineRecorder | None) -> tuple[np.ndarray, list[Any]]:
        """One block of any length through the capture, the gates and the mix.

        Shape: audio ``(1, N)`` or ``(M, N)`` float32; returns ``((C, N) float32, [])``.
        """
        mics = self.capture(audio)
        total = mics.shape[1]
        out = np.empty((self.weights.shape[0], total), dtype=np.float32)
        for start in range(0, total, self.max_block_size):
            n = min(self.max_block_size, total - start)
            views = self._block_views(n)
            np.copyto(views[0], mics[:, start : start + n])
            dry = np.ascontiguousarray(audio[:1, start : start + n]) if self.needs_dry else None
            out[:, start : start + n] = self._gate_and_mix(dry, views)
            if record is not None:
                self._record(record, views)
        return out, []

    def process_into(self, audio: np.ndarray, out: np.ndarray) -> None:
        """The live path: the next block into ``out``, allocating no arrays.

        Shape: audio ``(1, n)`` or ``(M, n)`` float32 C-contiguous; out ``(C, n)`` float32, any
        layout (``outdata.T`` of a sound card's buffer will do).
        """
        n = audio.shape[1]
        if n > self.max_block_size:  # in pieces: views of the caller's arrays, no copies
            step = self.max_block_size
            for start in range(0, n, step):
                self.process_into(audio[:, start : start + step], out[:, start : start + step])
            return
        views = self._block_views(n)
        if audio.shape[0] == 1:
            self._capture_live(audio, views[0])
            dry = audio
        else:  # the recorded mics are the captured signals
            np.copyto(views[0], audio)
            dry = audio[:1] if self.needs_dry else None
        np.copyto(out, self._gate_and_mix(dry, views))

    def prepare_live(self, dry_input: bool = True) -> None:
        """Build the live convolver (for a dry input) and load every compiled kernel now, so that
        the first block of a live stream costs what the others do (and allocates nothing)."""
        from ..dsp.gate import Gate

        if dry_input and self.live_convolver is None and self._capture_mode is None:
            self._switch_capture("live")
        empty = np.zeros((1, 0), np.float32)
        for _, gate, _ in self.gated:  # an empty block sets up each gate's state arrays
            gate._process_block(empty, empty, empty, None, self._rate_hz)
        # Load the compiled gate and mix code with a scratch gate and a block of silence.
        silence = np.zeros((1, min(32, self.max_block_size)), np.float32)
        n = silence.shape[1]
        scratch = (np.empty(n, np.float32), np.empty(n, np.bool_), np.empty(n, np.float32))
        Gate().process_into(silence, self._rate_hz, np.empty_like(silence), key=silence, trace=scratch)
        views = self._block_views(n)
        self._mix(views[0][:, :0], views[1][:, :0], self.is_gated, views[2][:, :0], self.ducks, self.ducked,
                  views[5][:, :0], self.delays, self.delay_memory, self.gain_memory, self.weights, views[6][:, :0])
        self._block_views(self.max_block_size)

    # -- the steps -------------------------------------------------------------------------------

    def _block_views(self, n: int) -> tuple[Any, ...]:
        """The buffers as ``(M, n)`` and ``(C, n)`` arrays, and the gates' calls on them; kept
        for the last ``n`` (a live stream's block size does not change)."""
        if n != self._views_n:
            count = len(self.gates)
            mics, gated, gains, opened, levels, duck_rows = (
                b[: count * n].reshape(count, n)
                for b in (self._mics, self._gated, self._gains, self._opened, self._levels, self._duck_rows)
            )
            out = self._out[: self.weights.shape[0] * n].reshape(-1, n)
            calls = [
                (gate, mics[i : i + 1], gated[i : i + 1], None if key is None else mics[key : key + 1],
                 (gains[i], opened[i], levels[i]))
                for i, gate, key in self.gated
            ]
            self._views = (mics, gated, gains, opened, levels, duck_rows, out, calls)
            self._views_n = n
        return self._views

    def _gate_and_mix(self, dry: np.ndarray | None, views: tuple[Any, ...]) -> np.ndarray:
        """The gates and the mix on the captured block in ``views[0]``; returns the ``(C, n)`` mix
        (a view of the output buffer)."""
        mics, gated, gains, _, _, duck_rows, out, calls = views
        rate_hz = self._rate_hz
        for gate, x, y, key, trace in calls:
            # Gate.process_into without its checks: these buffers are made to pass them.
            if gate._process_block(x, dry if key is None else key, y, trace, rate_hz) >= 0:
                raise AudioInputError("audio: expected finite samples, got a NaN or an infinity in this block")
        self._mix(mics, gated, self.is_gated, gains, self.ducks, self.ducked, duck_rows, self.delays,
                  self.delay_memory, self.gain_memory, self.weights, out)
        return out

    def _record(self, record: TimelineRecorder, views: tuple[Any, ...]) -> None:
        """The timeline of this block, in the output's time: the mixer has aligned the gains
        already; the open flags and key levels go through the same delays here."""
        mics, _, gains, opened, levels = views[:5]
        n = mics.shape[1]
        aligned_open: list[np.ndarray | None] = []
        aligned_levels: list[np.ndarray | None] = []
        for i, gate in enumerate(self.gates):
            if gate is None:
                aligned_open.append(None), aligned_levels.append(None)
                continue
            delay = int(self.delays[i])
            if delay == 0:
                aligned_open.append(opened[i]), aligned_levels.append(levels[i])
                continue
            for row, memory, kept in ((opened[i], self.open_memory, aligned_open),
                                      (levels[i], self.level_memory, aligned_levels)):
                joined = np.concatenate([memory[i], row])
                kept.append(joined[:n])
                memory[i] = joined[n:]
        if self.gated:
            key_db = aligned_levels[self.gated[0][0]]
        else:  # no gates: the key level is the first mic's peak level
            key_db = 20 * np.log10(np.maximum(np.abs(mics[0]), 1e-6)).astype(np.float32)
        record.add(key_db, [gains[i] if g is not None else None for i, g in enumerate(self.gates)], aligned_open)

    # -- the capture -----------------------------------------------------------------------------

    def capture(self, audio: np.ndarray) -> np.ndarray:
        """Dry ``(1, n)`` -> the mics' signals ``(M, n)``; recorded mics pass through."""
        if audio.shape[0] != 1:  # recorded mics: already captured
            return audio
        if self._capture_mode != "block":
            self._switch_capture("block")
        assert self.capture_convolver is not None
        mics = self.capture_convolver.process(audio)
        self._add_pending(mics)
        return mics

    def _capture_live(self, audio: np.ndarray, mics: np.ndarray) -> None:
        if self._capture_mode != "live":
            self._switch_capture("live")
        self.live_convolver.process_into(audio, mics)
        if self._pending_at < self._pending.shape[1]:
            self._add_pending(mics)

    def _switch_capture(self, mode: str) -> None:
        """Capture with the other convolver from now on: what the current one still owes (its
        whole future output, by feeding it silence) joins the pending output."""
        irs = self.rig.capture_irs(self.sample_rate)
        if self._capture_mode == "block" and self.capture_convolver is not None:
            self._merge_pending(self.capture_convolver.process(np.zeros((1, irs.shape[1] - 1), np.float32)))
            self.capture_convolver.reset()
        elif self._capture_mode == "live" and self.live_convolver is not None:
            self._merge_pending(self.live_convolver.tail())
            self.live_convolver.reset()
        if mode == "block" and self.capture_convolver is None:
            self.capture_convolver = BlockConvolver(irs)  # long blocks by FFT, short ones partitioned
        if mode == "live" and self.live_convolver is None:
            from ..dsp.convolve import Convolver

            self.live_convolver = Convolver(irs, max_block_size=self.max_block_size, n_inputs=1)
        self._capture_mode = mode

    def _merge_pending(self, future: np.ndarray) -> None:
        left = self._pending[:, self._pending_at :]
        merged = np.zeros((future.shape[0], max(left.shape[1], future.shape[1])), np.float32)
        merged[:, : left.shape[1]] += left
        merged[:, : future.shape[1]] += future
        self._pending, self._pending_at = merged, 0

    def _add_pending(self, mics: np.ndarray) -> None:
        """Add the next of the pending output onto the captured ``(M, n)`` block (in place)."""
        used = min(mics.shape[1], self._pending.shape[1] - self._pending_at)
        if used > 0:
            head = mics[:, :used]
            np.add(head, self._pending[:, self._pending_at : self._pending_at + used], out=head)
            self._pending_at += used


def _gate_floor(gate: Any) -> float:
    range_db = gate.settings.range_db
    return 0.0 if math.isinf(range_db) else 10 ** (range_db / 20)


def _pan_matrix(pans: Sequence[float], channels: int) -> np.ndarray:
    """Shape ``(C, M)``: mono sums; stereo uses a constant-power (-3 dB centre) pan law."""
    if channels == 1:
        return np.ones((1, len(pans)), dtype=np.float32)
    angles = (np.asarray(pans, dtype=np.float64) + 1) * math.pi / 4
    return np.stack([np.cos(angles), np.sin(angles)]).astype(np.float32)


def load_preset(name_or_path: str | Path, overrides: Sequence[str] = ()) -> Rig:
    """A :class:`Rig` from a built-in preset name (``"heroes-1977"``) or a TOML file,
    with ``KEY=VALUE`` overrides (``"mics.far.distance_m=40ft"``)."""
    return Rig(load_config(name_or_path, overrides))
