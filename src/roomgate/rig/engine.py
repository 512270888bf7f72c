"""The rig's streaming engine: capture, gates and mix, block by block, with all state carried.

:class:`StreamEngine` serves both of the rig's paths. :meth:`StreamEngine.process` (offline and
streaming; it allocates its output) captures a whole block at once (a long one by FFT), then runs
the gates and the mix piece by piece in preallocated buffers of ``max_block_size`` samples.
:meth:`StreamEngine.process_into` (the live path) captures with the zero-latency partitioned
convolver straight into those buffers and allocates no arrays. The gates and the mix are the same
calls in both, and the two paths may even alternate within one stream (the capture hands its
pending tail over).

Per block (``n`` samples), after the capture: one compiled call per gated mic (the core of
``Gate.process_into``) writing its output and its gain trace into the buffers, then one compiled
:mod:`~roomgate.dsp.mixer` call for the alignment delays, the ducking, the trims and the pans.

An offline block of at least :data:`VECTOR_MIN_SAMPLES` takes the same steps in numpy instead
(:mod:`~roomgate.dsp.gate_vector`, :func:`~roomgate.dsp.mixer.mix_block_numpy`), on the same
state, when numpy covers every gate (no key filter, no expander): the same samples to the bit
given the same gate decisions, and a render that never imports numba nor loads its kernels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import RigConfig
from ..dsp.convolve import BlockConvolver
from ..dsp.gate import KEY_DB_FLOOR
from ..errors import AudioInputError, ConfigError
from ..io.timeline import TimelineRecorder
from .gates import gate_floor

if TYPE_CHECKING:
    from ..dsp.gate import Gate

#: Blocks longer than this go through the stream's buffers in pieces of this many samples.
MAX_BLOCK_SIZE = 8192
#: Offline blocks at least this long take the numpy gates and mixer (when they cover every gate);
#: shorter ones, where numpy's per-call cost would dominate, the compiled kernels.
VECTOR_MIN_SAMPLES = 1 << 15
#: The numpy path gates and mixes in pieces of this many samples (its buffers stay small).
VECTOR_PIECE = 1 << 17


class StreamEngine:
    """Everything :meth:`Rig.process` carries from one block to the next (convolution tails,
    gate and detector state, alignment delays), and the buffers of the real-time path; see the
    module docstring for how the two paths share it."""

    def __init__(self, config: RigConfig, gates: Sequence[Gate | None], trims_db: Sequence[float],
                 capture_irs: Callable[[], np.ndarray], sample_rate: int, max_block_size: int = MAX_BLOCK_SIZE):
        """Args:
            config: the rig's description (keys, pans, polarity, ducks, output channels).
            gates: per mic, its built gate (thresholds resolved) or None for an ungated mic.
            trims_db: per mic, its trim (matched trims resolved).
            capture_irs: gives the ``(M, L)`` capture IRs, asked for when the first dry block arrives.
        """
        from ..dsp import gate_vector

        if not 1 <= max_block_size <= 1 << 20:
            raise ConfigError(f"max_block_size: expected 1 to {1 << 20} samples, got {max_block_size!r}")
        self.sample_rate = sample_rate
        self.max_block_size = int(max_block_size)
        self.gates = list(gates)
        # (mic index, gate, key mic index or None for the dry input), in the preset's order.
        self.gated = [(i, g, config.key_index(i)) for i, g in enumerate(self.gates) if g is not None]
        self.needs_dry = any(key is None for _, _, key in self.gated)
        self.is_gated = np.array([g is not None for g in self.gates], dtype=np.bool_)
        self._align_lookahead(len(config.mics))
        self._plan_mix(config, trims_db)
        self._allocate_buffers(len(config.mics), config.output.channels)
        # The capture: offline blocks by a BlockConvolver, live ones by a Convolver; what one of
        # them still owed when the stream switched to the other waits in _pending.
        self._capture_irs = capture_irs
        self.capture_convolver: BlockConvolver | None = None
        self.live_convolver: Any = None
        self._capture_mode: str | None = None  # "block" or "live", once a dry block came in
        self._pending = np.zeros((len(config.mics), 0), np.float32)
        self._pending_at = 0
        self._mix_compiled: Any = None  # numba's mixer, loaded by the first block that needs it
        self._rate_hz = float(sample_rate)
        # Long offline blocks take the numpy gates and mixer when they cover every gate.
        self.vector = all(gate_vector.supports(g) for g in self.gates if g is not None)

    @property
    def _mix(self) -> Any:
        """The compiled mixer (:func:`~roomgate.dsp.mixer.mix_kernel`), loaded on first use."""
        if self._mix_compiled is None:
            from ..dsp.mixer import mix_kernel

            self._mix_compiled = mix_kernel()
        return self._mix_compiled

    def _align_lookahead(self, count: int) -> None:
        """Gates with lookahead delay their mic; the others wait for the longest so all stay aligned."""
        latencies = [0 if g is None else g.latency_samples_at(self.sample_rate) for g in self.gates]
        self.latency_samples = max(latencies, default=0)
        self.delays = np.array([self.latency_samples - lat for lat in latencies], dtype=np.int64)
        longest = int(self.delays.max(initial=0))
        self.delay_memory = np.zeros((count, longest), dtype=np.float32)
        # The gains' delay lines start as the audio's do: gates shut (at their floor).
        self.gain_memory = np.array(
            [np.full(longest, 0.0 if g is None else gate_floor(g), np.float32) for g in self.gates]
        ).reshape(count, longest)
        # The report's open flags and key levels are delayed alike (by _record, offline only).
        self.open_memory = np.zeros((count, longest), dtype=np.bool_)
        self.level_memory = np.full((count, longest), KEY_DB_FLOOR, dtype=np.float32)

    def _plan_mix(self, config: RigConfig, trims_db: Sequence[float]) -> None:
        """The mixer's weights (trim, polarity, pan) and its ducks."""
        trims = np.array([10 ** (trim / 20) * (-1.0 if m.invert_polarity else 1.0)
                          for m, trim in zip(config.mics, trims_db)])
        pans = pan_matrix([m.pan for m in config.mics], config.output.channels)
        self.weights = np.ascontiguousarray(pans * trims[np.newaxis, :], dtype=np.float32)  # (C, M)
        # Ducking: while a farther gated mic is open, each nearer gated mic is lowered by its duck_db.
        ducks: list[tuple[float, float, float, float]] = []  # (near, far, duck gain, far's floor)
        for far, far_gate, _ in self.gated:
            duck_db = config.mics[far].gate.duck_db  # type: ignore[union-attr]
            if duck_db < 0:
                for near, _, _ in self.gated:
                    if config.mics[near].distance_m < config.mics[far].distance_m:
                        ducks.append((near, far, 10 ** (duck_db / 20), gate_floor(far_gate)))
        self.ducks = np.array(ducks, dtype=np.float64).reshape(-1, 4)
        self.ducked = np.zeros(len(config.mics), dtype=np.bool_)
        self.ducked[[int(d[0]) for d in ducks]] = True

    def _allocate_buffers(self, count: int, channels: int) -> None:
        """The buffers, flat so that the first M * n samples of each are a C-contiguous (M, n)."""
        size = count * self.max_block_size
        self._mics = np.zeros(size, np.float32)
        self._gated = np.zeros(size, np.float32)
        self._gains = np.zeros(size, np.float32)
        self._opened = np.zeros(size, np.bool_)
        self._levels = np.zeros(size, np.float32)  # the gates' key levels, dBFS
        self._duck_rows = np.zeros(size, np.float32)
        self._out = np.zeros(channels * self.max_block_size, np.float32)
        self._views_n = -1
        self._views: tuple[Any, ...] = ()

    # -- the two paths ---------------------------------------------------------------------------

    def process(self, audio: np.ndarray, record: TimelineRecorder | None,
                stems: list[np.ndarray] | None = None) -> np.ndarray:
        """One block of any length through the capture, the gates and the mix.

        Shape: audio ``(1, N)`` or ``(M, N)`` float32; returns ``(C, N)`` float32. With a
        ``stems`` list, each mic's part of the mix is appended to it as ``(M, C, n)`` pieces
        (see :meth:`_stems`), whose sum over the mics is the mix.
        """
        mics = self.capture(audio)
        total = mics.shape[1]
        if self.vector and total >= VECTOR_MIN_SAMPLES:
            return self._process_vector(audio, mics, record, stems)
        out = np.empty((self.weights.shape[0], total), dtype=np.float32)
        for start in range(0, total, self.max_block_size):
            n = min(self.max_block_size, total - start)
            views = self._block_views(n)
            np.copyto(views[0], mics[:, start : start + n])
            dry = np.ascontiguousarray(audio[:1, start : start + n]) if self.needs_dry else None
            out[:, start : start + n] = self._gate_and_mix(dry, views, stems)
            if record is not None:
                self._record(record, views)
        return out

    def _process_vector(self, audio: np.ndarray, mics: np.ndarray, record: TimelineRecorder | None,
                        stems: list[np.ndarray] | None = None) -> np.ndarray:
        """:meth:`process` after the capture with the numpy gates and mixer, in pieces of
        :data:`VECTOR_PIECE` samples, on the same state (and the stems, as :meth:`process`).

        Shape: audio ``(1, N)`` or ``(M, N)`` (the dry key, for gates keyed by it); mics
        ``(M, N)`` float32, finite; returns ``(C, N)`` float32.
        """
        from ..dsp import gate_vector
        from ..dsp.mixer import mix_block_numpy

        count, total = mics.shape
        out = np.empty((self.weights.shape[0], total), dtype=np.float32)
        piece = min(VECTOR_PIECE, max(total, 1))
        gated, gains, levels, duck_rows = (np.empty((count, piece), np.float32) for _ in range(4))
        opened = np.zeros((count, piece), np.bool_)
        for start in range(0, total, piece):
            n = min(piece, total - start)
            block = mics[:, start : start + n]
            dry = audio[:1, start : start + n] if self.needs_dry else None
            views = [b[:, :n] for b in (gated, gains, opened, levels, duck_rows)]
            memo: dict[Any, Any] = {}  # gates keyed alike (mid and far by the close mic) share a detector
            for i, gate, key in self.gated:
                key_signal = dry if key is None else block[key : key + 1]
                assert key_signal is not None  # needs_dry: the dry key is at hand
                # the open flags and key levels only for the timeline
                trace = (views[1][i], views[2][i], views[3][i]) if record is not None else (views[1][i], None, None)
                # checked: the input was at the door (Rig._check_input), and a capture of finite audio is finite
                if gate_vector.process_block(gate, block[i : i + 1], key_signal, views[0][i : i + 1], trace,
                                             self._rate_hz, checked=True, memo=memo) >= 0:
                    raise AudioInputError("audio: expected finite samples, got a NaN or an infinity in this block")
            if stems is not None:
                stems.append(self._stems(mix_block_numpy, block, views[0], views[1], views[4]))
            mix_block_numpy(block, views[0], self.is_gated, views[1], self.ducks, self.ducked, views[4], self.delays,
                            self.delay_memory, self.gain_memory, self.weights, out[:, start : start + n])
            if record is not None:
                self._record(record, (block, views[0], views[1], views[2], views[3]))
        return out

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
        dry: np.ndarray | None = audio
        if audio.shape[0] == 1:
            self._capture_live(audio, views[0])
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

    def _gate_and_mix(self, dry: np.ndarray | None, views: tuple[Any, ...],
                      stems: list[np.ndarray] | None = None) -> np.ndarray:
        """The gates and the mix on the captured block in ``views[0]``; returns the ``(C, n)`` mix
        (a view of the output buffer). With a ``stems`` list, the mics' parts are appended to it."""
        mics, gated, gains, _, _, duck_rows, out, calls = views
        rate_hz = self._rate_hz
        for gate, x, y, key, trace in calls:
            # Gate.process_into without its checks: these buffers are made to pass them.
            if gate._process_block(x, dry if key is None else key, y, trace, rate_hz) >= 0:
                raise AudioInputError("audio: expected finite samples, got a NaN or an infinity in this block")
        if stems is not None:
            stems.append(self._stems(self._mix, mics, gated, gains, duck_rows))
        self._mix(mics, gated, self.is_gated, gains, self.ducks, self.ducked, duck_rows, self.delays,
                  self.delay_memory, self.gain_memory, self.weights, out)
        return out

    def _stems(self, mix: Any, mics: np.ndarray, gated: np.ndarray, gains: np.ndarray,
               duck_rows: np.ndarray) -> np.ndarray:
        """Each mic's part of the block's mix, ``weights[c, m] * aligned[m] * duck[m]``: ``mix`` (the
        compiled mixer or its numpy twin) run once per mic with only that mic's weights, from the same state (the delay lines
        and gains it updates are put back after each run, so the real mix that follows starts
        from them too). Offline only: it allocates.

        Shape: returns ``(M, C, n)`` float32; its sum over ``M`` is the mix kernel's ``(C, n)``
        (the same products, added in the same order).
        """
        saved = (self.delay_memory.copy(), self.gain_memory.copy(), gains.copy())
        count, channels = self.weights.shape[1], self.weights.shape[0]
        stems = np.empty((count, channels, mics.shape[1]), np.float32)
        weights = np.zeros_like(self.weights)
        for m in range(count):
            weights[:] = 0.0
            weights[:, m] = self.weights[:, m]
            mix(mics, gated, self.is_gated, gains, self.ducks, self.ducked, duck_rows, self.delays,
                self.delay_memory, self.gain_memory, weights, stems[m])
            for kept, state in zip(saved, (self.delay_memory, self.gain_memory, gains)):
                np.copyto(state, kept)
        return stems

    def _record(self, record: TimelineRecorder, views: tuple[Any, ...]) -> None:
        """The timeline of this block, in the output's time: the mixer has aligned the gains
        already; the open flags and key levels go through the same delays here."""
        mics, _, gains, opened, levels = views[:5]
        n = mics.shape[1]
        aligned_open: list[np.ndarray | None] = []
        aligned_levels: list[np.ndarray | None] = []
        for i, gate in enumerate(self.gates):
            if gate is None:
                aligned_open.append(None)
                aligned_levels.append(None)
                continue
            delay = int(self.delays[i])
            if delay == 0:
                aligned_open.append(opened[i])
                aligned_levels.append(levels[i])
                continue
            for row, memory, kept in ((opened[i], self.open_memory, aligned_open),
                                      (levels[i], self.level_memory, aligned_levels)):
                joined = np.concatenate([memory[i], row])
                kept.append(joined[:n])
                memory[i] = joined[n:]
        first_gated = aligned_levels[self.gated[0][0]] if self.gated else None
        if first_gated is not None:
            key_db = first_gated
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
        irs = self._capture_irs()
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



def pan_matrix(pans: Sequence[float], channels: int) -> np.ndarray:
    """Shape ``(C, M)``: mono sums; stereo uses a constant-power (-3 dB centre) pan law."""
    if channels == 1:
        return np.ones((1, len(pans)), dtype=np.float32)
    angles = (np.asarray(pans, dtype=np.float64) + 1) * math.pi / 4
    return np.stack([np.cos(angles), np.sin(angles)]).astype(np.float32)
