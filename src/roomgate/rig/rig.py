"""The rig: microphones in a room, a gate on each room mic, all mixed, as Visconti did.

Data flows one way::

    dry (1, N) --capture--> mic signals (M, N) --gates--> gated (M, N) --trims, pans--> out (C, N)
    recorded mics (M, N) --------^

:meth:`Rig.process` is the streaming engine (:mod:`~roomgate.rig.engine`): with ``reset=False``
every piece of state (the convolution tails, the gates' detectors and hold counters, the
alignment delays) carries over, so a take processed in blocks of any sizes gives the one-call
result to float32 rounding. It keeps the input's length; :meth:`Rig.render` is the offline job
built on it: it calibrates relative thresholds on the whole take (:mod:`~roomgate.rig.calibration`),
appends the room's tail, normalises and reports what each gate did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import AbsoluteThreshold, GateConfig, MicConfig, RigConfig, load_config
from ..errors import AudioInputError, ConfigError
from ..io.audio import as_channels_first
from ..io.timeline import TimelineRecorder
from ..units import check_sample_rate
from .calibration import Calibration, calibrate, load_calibration, save_calibration
from .render import Render
from .engine import StreamEngine
from .gates import build_gate, with_room_times

if TYPE_CHECKING:
    from .render import _StemList

__all__ = ["MAX_INPUT_PEAK", "Progress", "Render", "Rig", "load_preset"]

Progress = Callable[[str], None]
Blocks = Callable[[], Iterable[np.ndarray]]
#: Inputs louder than this (+80 dBFS) are not audio, and trims on top would overflow float32.
MAX_INPUT_PEAK = 1e4


class Rig:
    """Tony Visconti's multi-mic gated vocal system, configured by a preset.

    Args:
        config: a validated :class:`~roomgate.config.RigConfig` (see :func:`load_preset`).

    The mics are in the preset's order; a multitrack input gives one track per mic in that order.
    """

    def __init__(self, config: RigConfig):
        self.config = config
        self.calibration: Calibration | None = None
        self._irs: dict[int, np.ndarray] = {}  # physical IRs by sample rate
        self._capture_irs: dict[int, np.ndarray] = {}
        self._timed_config: RigConfig | None = None  # config with the "room" gate times resolved
        self._stream: StreamEngine | None = None

    # -- description ---------------------------------------------------------------------------

    @property
    def mic_names(self) -> list[str]:
        return self.config.mic_names

    @property
    def gated_mics(self) -> list[MicConfig]:
        return [m for m in self.config.mics if m.gate is not None]

    def mic_positions_m(self) -> np.ndarray:
        """Shape: ``(M, 3)`` metres."""
        return np.array([m.position_m for m in self.config.mics], dtype=np.float64)

    def mic_distances_m(self) -> np.ndarray:
        """Shape: ``(M,)`` metres from the singer (from the positions, as the room model sees them)."""
        return np.linalg.norm(self.mic_positions_m() - np.asarray(self.config.singer.position_m), axis=1)

    @property
    def output_channels(self) -> int:
        return self.config.output.channels

    # -- the room ------------------------------------------------------------------------------

    def impulse_responses(self, sample_rate: int, progress: Progress | None = None) -> np.ndarray:
        """The raw physical IRs, one row per mic: time zero = the singer sings; no trims.

        Shape: ``(M, L)`` float32. Simulated (or read from ``ir`` files) once per sample rate;
        the acoustics layer caches each mic's simulation, so a rig that differs from another by one
        mic simulates only that mic.
        """
        sample_rate = check_sample_rate(sample_rate)
        if sample_rate not in self._irs:
            self._irs[sample_rate] = self._assemble_irs(sample_rate, progress)
        return self._irs[sample_rate]

    def _assemble_irs(self, sample_rate: int, progress: Progress | None) -> np.ndarray:
        """Measured IR files where the preset names them, the modelled room for the other mics."""
        from ..acoustics.room import Microphone, Singer, impulse_responses, load_measured_irs

        config = self.config
        if config.room_ir is not None:  # a measured room: one channel per mic
            irs = load_measured_irs(config.room_ir, sample_rate, len(config.mics))
        else:
            from ..io.audio import read_audio

            for mic in config.mics:  # measured IR files are checked before any room is simulated
                if mic.ir is not None:
                    _check_mic_ir(mic.name, *read_audio(mic.ir), mic.ir)
            mics = [Microphone(name=m.name, position_m=m.position_m, pattern=m.pattern, aim_m=m.aim_m,
                               ir_path=m.ir) for m in config.mics]
            sung = config.singer
            singer = Singer(sung.position_m, sung.facing, sung.directivity)
            irs = impulse_responses(config.room, singer, mics, sample_rate, progress=progress)
        return np.ascontiguousarray(irs, dtype=np.float32)

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

    def room_decay_s(self, mic_name: str) -> float:
        """The decay (RT60, s) a mic's ``"room"`` gate times follow: its measured IR's T30 when it
        has one, else the modelled room's reverberation time (both the mean of the 500 Hz and 1 kHz
        octave bands, where a hall's RT60 is quoted)."""
        from ..acoustics.room import rt60_bands_s, schroeder_t30_s

        index = self.mic_names.index(mic_name)
        if self.config.room_ir is None and self.config.mics[index].ir is None:
            bands = rt60_bands_s(self.config.room)
            return (bands[500.0] + bands[1000.0]) / 2
        rate = 48_000
        ir = self.impulse_responses(rate)[index]
        try:
            return (schroeder_t30_s(ir, rate, 500.0) + schroeder_t30_s(ir, rate, 1000.0)) / 2
        except ValueError as error:
            raise ConfigError(f"mics.{mic_name}.gate: 'room' times need the measured IR's decay, but {error}") from None

    def gate_config(self, mic_name: str) -> GateConfig | None:
        """A mic's gate as it runs: its ``"room"`` hold and release made numbers (None: ungated)."""
        return self._timed().mic(mic_name).gate

    def _timed(self) -> RigConfig:
        """The config with every gate's ``"room"`` times resolved (once per rig)."""
        if self._timed_config is None:
            mics = tuple(replace(m, gate=with_room_times(m.gate, self.room_decay_s(m.name)))
                         if m.gate is not None and m.gate.room_timed else m for m in self.config.mics)
            self._timed_config = replace(self.config, mics=mics)
        return self._timed_config

    def tail_samples(self, sample_rate: int) -> int:
        """How many samples of room tail :meth:`render` keeps after the input ends."""
        tail_s = self.config.output.tail_s
        if tail_s is not None:
            return int(round(tail_s * sample_rate))
        return self.impulse_responses(sample_rate).shape[1] - 1

    # -- calibration ---------------------------------------------------------------------------

    def calibrate(self, audio: np.ndarray, sample_rate: int, progress: Progress | None = None) -> Calibration:
        """Fix the relative thresholds (``"p60"``, ``"-6 dB re peak"``) and matched trims on this
        performance.

        Shape:
            audio: ``(1, N)`` a dry vocal, or ``(M, N)`` recorded mics in the rig's order.

        Returns the :class:`Calibration` (also kept on the rig and used by :meth:`process`).
        Absolute thresholds pass through unchanged.
        """
        audio = self._check_input(audio)
        return self.calibrate_blocks(lambda: [audio], sample_rate, progress)

    def calibrate_blocks(self, blocks: Blocks, sample_rate: int, progress: Progress | None = None, *,
                         captured: np.ndarray | None = None) -> Calibration:
        """:meth:`calibrate` over a take given block by block: ``blocks()`` yields the take's
        consecutive blocks each time it is called (one pass, two with matched trims).
        ``captured``: a dry take's mic signals ``(M, >= N)``, already captured with
        :meth:`capture_irs` (then the calibration convolves nothing)."""
        sample_rate = check_sample_rate(sample_rate)
        self.calibration = calibrate(self._timed(), self._checked(blocks), sample_rate,
                                     lambda: self.capture_irs(sample_rate, progress), captured=captured)
        self._stream = None  # the gates are rebuilt with the new thresholds
        return self.calibration

    def save_calibration(self, path: str | Path, *, sample_rate: int | None = None,
                         recorded_s: float | None = None) -> Path:
        """Write the calibration to a JSON file (see :mod:`~roomgate.rig.calibration`)."""
        if self.calibration is None:
            raise ConfigError("calibration: the rig is not calibrated; nothing to save")
        return save_calibration(path, self.config, self.calibration, sample_rate=sample_rate, recorded_s=recorded_s)

    def load_calibration(self, path: str | Path) -> Calibration:
        """Use a calibration saved for this preset (ConfigError naming the file if it does not fit)."""
        self.calibration = load_calibration(path, self.config)
        self._stream = None
        return self.calibration

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
        gate = self.config.mic(mic_name).gate
        if gate is None:
            return None
        if isinstance(gate.threshold, AbsoluteThreshold):
            return gate.threshold.level_db
        return None if self.calibration is None else self.calibration.thresholds_db.get(mic_name)

    @property
    def needs_calibration(self) -> bool:
        return self.calibration is None and bool(self.config.relative_settings)

    def _uncalibrated_error(self) -> ConfigError:
        return ConfigError(
            f"{', '.join(self.config.relative_settings)}: fitted to the performance, so streaming needs "
            "Rig.calibrate(audio, sample_rate) (or a saved calibration) first"
        )

    # -- streaming -----------------------------------------------------------------------------

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
        return self._process(audio, sample_rate, reset, record=None)

    def reset(self) -> None:
        """Forget all streaming state (tails, detectors, delays)."""
        self._stream = None

    def start_stream(self, sample_rate: int, max_block_size: int = 8192, *, dry_input: bool = True) -> int:
        """Start a fresh stream for :meth:`process_into`: buffers for blocks of up to
        ``max_block_size`` samples (longer ones go through in pieces), the room simulated and its
        partitioned convolver built (for a ``dry_input``; recorded mics need neither) and every
        compiled kernel loaded, so that no block of a live stream pays for them.

        Relative thresholds (``"p65"``) must be calibrated first (:meth:`calibrate`, or
        :meth:`load_calibration`). Returns the rig's latency in samples (the gates' lookahead).
        """
        sample_rate = check_sample_rate(sample_rate)
        if self.needs_calibration:
            raise self._uncalibrated_error()
        self._stream = self._new_engine(sample_rate, max_block_size)
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
        if stream is None:
            self.start_stream(sample_rate)
            stream = self._stream
            assert stream is not None
        elif stream.sample_rate != sample_rate:
            raise AudioInputError(
                f"sample_rate: the rig is streaming at {stream.sample_rate} Hz, got {sample_rate} Hz; "
                "call reset() or start_stream() to start again"
            )
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

    def _new_engine(self, sample_rate: int, max_block_size: int | None = None) -> StreamEngine:
        """A fresh engine with the gates built at the calibrated thresholds."""
        gates = []
        for mic in self._timed().mics:
            threshold_db = self.threshold_db(mic.name)
            gates.append(None if mic.gate is None or threshold_db is None else build_gate(mic.gate, threshold_db))
        trims_db = [self.gain_db(m.name) for m in self.config.mics]
        extra = {} if max_block_size is None else {"max_block_size": max_block_size}
        return StreamEngine(self.config, gates, trims_db, lambda: self.capture_irs(sample_rate), sample_rate,
                            **extra)

    def _process(self, audio: np.ndarray, sample_rate: int, reset: bool, record: TimelineRecorder | None,
                 stems: _StemList | None = None) -> np.ndarray:
        sample_rate = check_sample_rate(sample_rate)
        audio = self._check_input(audio)
        if reset:
            self._stream = None
        elif self._stream is not None and self._stream.sample_rate != sample_rate:
            raise AudioInputError(
                f"sample_rate: the rig is streaming at {self._stream.sample_rate} Hz, got {sample_rate} Hz; "
                "pass reset=True to start again"
            )
        if self._stream is None:
            if self.needs_calibration and not reset:
                raise self._uncalibrated_error()
            if self.needs_calibration:
                self.calibrate(audio, sample_rate)
            self._stream = self._new_engine(sample_rate)
        if stems is not None:
            return stems.collect(self._stream.process(audio, record, stems=stems.pieces))
        return self._stream.process(audio, record)

    # -- the offline job (rig/render.py) ---------------------------------------------------------

    def render(self, audio: np.ndarray, sample_rate: int, progress: Progress | None = None) -> Render:
        """The offline job: calibrate on the take, process it with the room's tail, normalise.

        Shape:
            audio: ``(1, N)`` dry or ``(M, N)`` recorded; ``Render.audio`` is ``(C, N + tail)``.
        """
        from . import render

        return render.render(self, audio, sample_rate, progress)

    def render_blocks(self, blocks: Blocks, sample_rate: int, sink: Callable[[np.ndarray], None], *,
                      progress: Progress | None = None, tail_block_samples: int = 1 << 20,
                      stems: Callable[[np.ndarray], None] | None = None) -> Render:
        """:meth:`render` for a take too long for memory, in two streaming passes.

        ``blocks()`` is called once per pass and yields the take's consecutive ``(1, n)`` or
        ``(M, n)`` blocks; ``sink`` receives the mix's ``(C, n)`` blocks in order, *before*
        normalisation: the returned :class:`Render` (whose ``audio`` is empty) gives
        ``normalization_db`` for the caller to apply. Memory does not grow with the take.

        ``stems``, when given, receives alongside each mix block each mic's part of it: ``(M, C, n)``
        blocks, mic ``m``'s signal after its gate, duck, trim and pan, whose sum over ``m`` is the
        mix block (to float32 rounding). A mix engineer rebuilds the rig from them in a DAW.
        """
        from . import render

        return render.render_blocks(self, blocks, sample_rate, sink, progress=progress,
                                    tail_block_samples=tail_block_samples, stems=stems)

    def render_captured(self, captured: np.ndarray, sample_rate: int, input_samples: int, *,
                        calibration: Calibration | None = None, muted: Sequence[str] = (),
                        normalize: bool = True, block_samples: int = 1 << 15) -> Render:
        """:meth:`render` of a dry take whose capture a face keeps (the studio): the gates and the
        mix only, so a gate or trim change convolves nothing. See
        :func:`roomgate.rig.render.render_captured` for the arguments.

        Shape: captured ``(M, input_samples + tail)`` float32; ``Render.audio`` ``(C, N + tail)``.
        """
        from . import render

        return render.render_captured(self, captured, sample_rate, input_samples, calibration=calibration,
                                      muted=muted, normalize=normalize, block_samples=block_samples)

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
        if peak > MAX_INPUT_PEAK:
            raise AudioInputError(f"audio: peak {peak:.3g}; expected samples within +-{MAX_INPUT_PEAK:g} (full scale is 1)")
        return audio

    def _checked(self, blocks: Blocks) -> Blocks:
        """``blocks`` with each block checked as an input of this rig."""
        def checked() -> Iterator[np.ndarray]:
            for block in blocks():
                yield self._check_input(block)
        return checked


def _check_mic_ir(name: str, audio: np.ndarray, sample_rate: int, path: str) -> None:
    """A mic's measured IR is one channel: a multichannel file is refused rather than read as its
    first channel (that would silently drop the rest)."""
    if audio.shape[0] != 1:
        raise ConfigError(f"mics.{name}.ir: {path} holds {audio.shape[0]} channels; expected a mono impulse "
                          "response (or give one file with a channel per mic as room.ir)")


def load_preset(name_or_path: str | Path, overrides: Sequence[str] = ()) -> Rig:
    """A :class:`Rig` from a built-in preset name (``"heroes-1977"``) or a TOML file,
    with ``KEY=VALUE`` overrides (``"mics.far.distance_m=40ft"``)."""
    return Rig(load_config(name_or_path, overrides))
