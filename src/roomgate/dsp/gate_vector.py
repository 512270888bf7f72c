"""The keyed gate on whole blocks with numpy: the compiled kernel's algorithm (:mod:`.gate`),
decided at the control rate with array operations instead of a per-sample loop.

Offline renders use it so that a render never imports numba (about 0.2 s), loads its cached
kernels (about 0.4 s) or, on a first run, compiles them (15 s or more). :func:`process_block`
takes the arguments of ``Gate._process_block`` and reads and writes the very state of the
:class:`~roomgate.dsp.gate.Gate` (its ``_GateState``), so a stream may switch between this and the
compiled kernel at any block (tests/test_gate_vector.py). It covers the gate (``ratio=inf``) with
either detector, either release curve and any lookahead, without a key filter; :func:`supports`
says when, and the caller falls back to the kernel otherwise.

Per block of ``n`` samples (``H`` samples per control frame; the first frame may have begun in
the previous block, the last may end in the next):

1. Detector input per frame part: the sum of squares (rms) or the peak of ``|key|`` (channels
   linked by max), a part carried across blocks joined as the kernel joins it.
2. Detector level at each frame end: a one-pole average of the mean square (rms), or a peak with
   an exponential release, in closed form over the frames (:func:`_one_pole`,
   :func:`_decaying_peak`).
3. The state machine: the gate is open after frame ``j`` when its last opening frame (level at or
   above the open threshold) comes after its last closing frame, a closing frame being the one
   where a run of frames below the close threshold has lasted ``hold``. With the peak detector a
   closed gate also opens on the sample reaching the threshold.
4. The gain, per stretch of constant target (a gate has a few per phrase): the kernel's ramp,
   which steps its start gain once per frame part, ``g + k * rate`` (linear) or ``g * r ** k``
   (exponential release, ``r ** k`` from the plan's table), so the chain of part start gains is
   a cumulative sum or product taken in the kernel's order.

What is exact: the sums of squares, the frame peaks, the gains and the samples given the same
decisions (the same float64 operations in the same order as the kernel); the detector's level is
its closed form, within about 1e-13 of the kernel's recursion, so a decision could differ only
where a level sits that close to a threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .gate import (
    _BELOW,
    _ENV,
    _F_CLOSE,
    _F_DB_SCALE,
    _F_DECAY,
    _F_DOWN,
    _F_FLOOR,
    _F_HOLD,
    _F_OPEN,
    _F_RELEASE_END,
    _F_RELEASE_POW,
    _F_UP,
    _FPEAK,
    _G,
    _I_EXPONENTIAL,
    _I_FRAME,
    _I_LATENCY,
    _I_RMS,
    _KEYDB,
    _OPEN,
    _POS,
    _TARGET,
    KEY_DB_FLOOR,
    Gate,
    _GateState,
    _Plan,
)

__all__ = ["PIECE_SAMPLES", "process_block", "supports"]

#: Blocks are gated in pieces of at most this many samples, bounding the float64 temporaries.
PIECE_SAMPLES = 1 << 18

#: A trace whose entries may be None: not wanted (the mixer needs the gains only, a probe the levels).
Trace = tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]


def supports(gate: Gate) -> bool:
    """True when :func:`process_block` covers this gate: a gate (``ratio=inf``), no key filter."""
    s = gate.settings
    return math.isinf(s.ratio) and s.key_highpass_hz is None and s.key_lowpass_hz is None


def process_block(gate: Gate, x: np.ndarray, k: np.ndarray, y: np.ndarray | None, trace: Trace | None,
                  fs: float, *, checked: bool = False, memo: dict[Any, Any] | None = None) -> int:
    """``Gate._process_block`` with numpy: the same arguments, state and return value.

    Args:
        y: the output, or None for a probe: the detector, the state machine and the trace's open
            flags and key levels only, no gain (the gate's gain state is then left behind: use
            such a gate as a probe only).
        trace: None, or (gains, open flags, key levels), any of them None when not wanted.
        checked: the caller knows ``x`` and ``k`` are finite (the rig's captured signals).
        memo: a dict shared by the calls on one block, so that gates hearing the same key array
            through the same detector from the same state compute the detector once.

    Shape:
        x, y ``(C, n)``, k ``(K, n)`` float32 C-contiguous; trace arrays at least ``n`` long.

    Returns -1, or 0 / 1 for a non-finite audio / key sample (the state then unchanged).
    """
    plan = gate._plan(fs)
    st = gate._state
    if st is None:
        st = gate._state = _GateState(plan, x.shape[0], k.shape[0])
    gate._last_sample_rate = fs
    n = x.shape[1]
    if n == 0:
        return -1
    if not checked:
        if not np.isfinite(x).all():
            return 0
        if not np.isfinite(k).all():
            return 1
    for start in range(0, n, PIECE_SAMPLES):
        stop = min(n, start + PIECE_SAMPLES)
        part = None if trace is None else tuple(None if a is None else a[start:stop] for a in trace)
        _piece(plan, st, x[:, start:stop], k[:, start:stop], None if y is None else y[:, start:stop],
               part, memo, first_piece=start == 0)  # type: ignore[arg-type]
    return -1


# --------------------------------------------------------------------------------------------------
# 1-2. The detector


@dataclass
class _Detection:
    """What the detector made of one piece of key, from one detector state."""

    ends: np.ndarray  # (frames,) block-local samples where a frame completes
    bounds: np.ndarray  # (parts,) part starts: 0, then the frame ends inside the piece
    counts: np.ndarray  # (parts,) samples per part
    tail_open: bool  # the last part ends in the next piece (its frame is unfinished)
    env: np.ndarray  # (frames,) detector level (mean square or peak) after each frame end
    level_db: np.ndarray | None  # (frames,) the same in dB, or None when not asked for
    part_peak: np.ndarray | None  # (parts,) float32 peak of |key| per part (peak detector)
    key_abs: np.ndarray | None  # (n,) float32 |key|, channels linked (peak detector)
    env_out: float  # the detector state after the piece
    sumsq_out: np.ndarray
    fpeak_out: int
    pos_out: int


def _float32_bits(value: float) -> int:
    return int(np.array(value, np.float32).view(np.uint32))


def _bits_float(bits: int) -> float:
    return float(np.array(bits, np.uint32).view(np.float32))


def _detect(plan: _Plan, st: _GateState, k: np.ndarray, want_db: bool) -> _Detection:
    ip, fp = plan.int_params, plan.float_params
    H, is_rms = int(ip[_I_FRAME]), bool(ip[_I_RMS])
    decay, db_scale = float(fp[_F_DECAY]), float(fp[_F_DB_SCALE])
    env_in = float(st.fstate[_ENV])
    pos, carried_bits = int(st.istate[_POS]), int(st.istate[_FPEAK])
    K, n = k.shape
    # Parts: [0, ends[0]), [ends[0], ends[1]), ..., and a last part [ends[-1], n) completing no frame.
    ends = np.arange(H - pos, n + 1, H)
    frames = ends.size
    bounds = np.concatenate(([0], ends[ends < n]))
    counts = np.diff(np.append(bounds, n))
    tail_open = frames == 0 or int(ends[-1]) < n
    carried_peak = _bits_float(carried_bits)
    key_abs = part_peak = None
    if is_rms:
        sums = _part_sums(k, counts, frames, H, st.sumsq[:K])
        level_in = sums.max(axis=0)[:frames] / H
        env = _one_pole(level_in, decay, env_in)
        sumsq_out = sums[:, -1].copy() if tail_open else np.zeros(K)
        tail = k[:, int(bounds[-1]) :] if tail_open else k[:, :0]
        tail_peak = float(np.abs(tail).max()) if tail.size else 0.0
    else:
        key_abs = np.abs(k).max(axis=0) if K > 1 else np.abs(k[0])
        part_peak = np.maximum.reduceat(key_abs, bounds)
        level_in = part_peak[:frames].astype(np.float64)
        if frames:
            level_in[0] = max(level_in[0], carried_peak)  # the frame begun in the previous block
        env = _decaying_peak(level_in, decay, env_in)
        sumsq_out = np.zeros(K)
        tail_peak = float(part_peak[-1]) if tail_open else 0.0
    if frames == 0:  # the one part continues the carried frame
        tail_peak = max(tail_peak, carried_peak)
    level_db = _to_db(env, db_scale) if want_db else None
    return _Detection(ends, bounds, counts, tail_open, env, level_db, part_peak, key_abs,
                      float(env[-1]) if frames else env_in, sumsq_out, _float32_bits(tail_peak), (pos + n) % H)


def _to_db(env: np.ndarray, db_scale: float) -> np.ndarray:
    """The kernel's ``db_scale * log10(env)``, :data:`KEY_DB_FLOOR` for a silent detector."""
    with np.errstate(divide="ignore"):
        return np.where(env > 0.0, db_scale * np.log10(np.maximum(env, 1e-300)), KEY_DB_FLOOR)


def _part_sums(k: np.ndarray, counts: np.ndarray, frames: int, H: int, carried: np.ndarray) -> np.ndarray:
    """Sum of squares (float64) of each part of each key channel, ``(K, parts)``, added in the
    kernel's order: one sample after another from the frame's start (the first part from the sums
    ``carried`` over from the previous block), all frames at once, a column at a time.
    Parts: the first (``counts[0]`` samples), ``frames - 1`` whole frames, maybe a partial last."""
    K, n = k.shape
    parts = counts.size
    out = np.empty((K, parts))
    # float32 squares added in float64: what the compiled kernel does (numba's float() keeps float32)
    squares = np.square(k)
    first = int(counts[0])
    out[:, 0] = carried
    for j in range(first):
        out[:, 0] += squares[:, j]
    whole = max(frames - 1, 0)
    if whole:  # the frames side by side, their samples added one row after another
        columns = np.ascontiguousarray(squares[:, first : first + whole * H].reshape(K, whole, H).transpose(0, 2, 1))
        sums = out[:, 1 : 1 + whole]
        sums[...] = columns[:, 0]
        for j in range(1, H):
            sums += columns[:, j]
    if 1 + whole < parts:  # a partial last part
        out[:, -1] = 0.0
        for j in range(first + whole * H, n):
            out[:, -1] += squares[:, j]
    return out


def _one_pole(level: np.ndarray, decay: float, start: float) -> np.ndarray:
    """``out[j] = level[j] + decay * (out[j - 1] - level[j])`` from ``out[-1] = start``, in closed
    form, ``out[j] = decay^j (decay * start + (1 - decay) sum_{i <= j} level[i] / decay^i)``, over
    stretches short enough that ``decay ** -stretch`` stays below e^20."""
    if level.size == 0 or decay <= 0.0:
        return level.copy()
    stretch = max(1, int(20.0 / -math.log(decay)))
    out = np.empty_like(level)
    previous = start
    all_powers = _powers(decay, min(stretch, level.size))
    for a in range(0, level.size, stretch):
        part = level[a : a + stretch]
        powers = all_powers[: part.size]
        sums = np.cumsum(part / powers) * (1.0 - decay) + decay * previous
        out[a : a + part.size] = sums * powers
        previous = float(out[a + part.size - 1])
    return out


_POWERS: dict[tuple[float, int], np.ndarray] = {}


def _powers(decay: float, count: int) -> np.ndarray:
    """``decay ** arange(count)``, kept (a gate asks for the same ones every piece)."""
    key = (decay, count)
    found = _POWERS.get(key)
    if found is None:
        if len(_POWERS) > 64:
            _POWERS.clear()
        found = _POWERS[key] = decay ** np.arange(count, dtype=np.float64)
        found.flags.writeable = False
    return found


def _decaying_peak(level: np.ndarray, decay: float, start: float) -> np.ndarray:
    """``out[j] = max(level[j], decay * out[j - 1])`` from ``out[-1] = start``, in the log domain:
    ``out[j] = decay^j * max(decay * start, max_{i <= j} level[i] / decay^i)``."""
    if level.size == 0 or decay <= 0.0:
        return level.copy()
    rate = -math.log(decay)
    index = np.arange(level.size, dtype=np.float64)
    with np.errstate(divide="ignore"):
        lifted = np.log(level) + rate * index
    carried = math.log(start) - rate if start > 0.0 else -math.inf
    best = np.maximum(np.maximum.accumulate(lifted), carried)
    out = np.exp(best - rate * index)
    return np.where(lifted >= best, level, out)  # a frame's own peak exactly, not exp(log(peak))


# --------------------------------------------------------------------------------------------------
# 3. The state machine


def _state_machine(env: np.ndarray, open_thr: float, close_thr: float, hold: float, H: int,
                   open_in: bool, below_in: int) -> tuple[np.ndarray, int]:
    """Open or not after each frame end, and the hold counter after the last (-1: not counting).

    The kernel, per frame: open (and stop counting) at or above the open threshold; while open,
    count the samples since the level was first seen below the close threshold (0 at that frame,
    +H per further frame below) and close once the count reaches ``hold``. A closed gate cannot
    open during a run below the close threshold, so the count only matters for a run that began
    open, and a run's closing frame is its first whose count reaches ``hold``.
    """
    frames = env.size
    if frames == 0:
        return np.zeros(0, bool), below_in
    index = np.arange(frames)
    opening = env >= open_thr
    below = env < close_thr
    run_start = np.maximum.accumulate(np.where(below, -1, index))  # last frame not below
    run = index - run_start  # frames in the current run below the close threshold (0: not below)
    count = (run - 1) * H
    if open_in and below_in >= 0:  # a run the previous block began, still counted
        first = run_start == -1
        count[first] = below_in + run[first] * H
    closing = below & (count >= hold) & ((run == 1) | (count - H < hold))
    last_open = np.maximum.accumulate(np.where(opening, index, -2))
    last_close = np.maximum.accumulate(np.where(closing, index, -2))
    if open_in:
        last_open = np.maximum(last_open, -1)
    else:
        last_close = np.maximum(last_close, -1)
    open_after = last_open > last_close
    below_out = int(count[-1]) if open_after[-1] and below[-1] else -1
    return open_after, below_out


# --------------------------------------------------------------------------------------------------
# The piece


def _piece(plan: _Plan, st: _GateState, x: np.ndarray, k: np.ndarray, y: np.ndarray | None,
           trace: Trace | None, memo: dict[Any, _Detection] | None, first_piece: bool) -> None:
    ip, fp = plan.int_params, plan.float_params
    H, L, is_rms = int(ip[_I_FRAME]), int(ip[_I_LATENCY]), bool(ip[_I_RMS])
    floor = float(fp[_F_FLOOR])
    g, target, key_db = float(st.fstate[_G]), float(st.fstate[_TARGET]), float(st.fstate[_KEYDB])
    open_in, below_in = int(st.istate[_OPEN]) != 0, int(st.istate[_BELOW])
    n = x.shape[1]

    # 1-2. The detector (shared with the other gates of this block hearing the same key alike).
    want_db = trace is not None and trace[2] is not None
    if memo is None:
        found = _detect(plan, st, k, want_db)
    else:
        signature = (k.__array_interface__["data"][0], k.shape, k.strides, H, is_rms, float(fp[_F_DECAY]),
                     float(fp[_F_DB_SCALE]), want_db, float(st.fstate[_ENV]), st.sumsq.tobytes(),
                     int(st.istate[_FPEAK]), int(st.istate[_POS]))
        found = memo.get(signature)  # type: ignore[assignment]
        if found is None:
            found = memo[signature] = _detect(plan, st, k, want_db)
    ends, bounds, counts = found.ends, found.bounds, found.counts
    frames, parts = ends.size, bounds.size

    # 3. The state machine at the frame ends, and the target each one sets.
    open_after, below_out = _state_machine(found.env, float(fp[_F_OPEN]), float(fp[_F_CLOSE]), float(fp[_F_HOLD]),
                                           H, open_in, below_in)
    target_after = np.where(open_after, 1.0, floor)
    part_open = np.concatenate(([open_in], open_after))[:parts]  # the state during each part
    # The peak detector opens a closed gate on the sample that reaches the threshold: (part, sample).
    cuts: list[tuple[int, int]] = []
    if not is_rms:
        assert found.part_peak is not None and found.key_abs is not None
        threshold = _smallest_float32_at_least(float(fp[_F_OPEN]))
        for part in np.flatnonzero(~part_open & (found.part_peak >= threshold)).tolist():
            a = int(bounds[part])
            cuts.append((part, a + int(np.argmax(found.key_abs[a : a + int(counts[part])] >= threshold))))

    # 4. The gain, per stretch of constant target.
    if y is not None:
        source = x
        if L:  # y[n] = x[n - L]: the delay line's samples first
            joined = np.concatenate([st.delay, x], axis=1)
            source = joined[:, :n]
            st.delay[...] = joined[:, n:]
        gains = None if trace is None else trace[0]
        # The kernel takes each part (or opening) that starts within the lookahead's first L
        # samples of its block from the delay line, with float64 products even when steady.
        from_delay = 0
        if L and first_piece:
            from_delay = min([n, *[int(e) for e in bounds[1:] if e >= L][:1], *[c for _, c in cuts if c >= L]])
        # Where the target changes: the frame ends that change it, and the openings on a sample.
        inner = ends < n
        changed = inner & (target_after != np.concatenate(([target], target_after[:-1])))
        events = [(int(e), 0, float(t)) for e, t in zip(ends[changed].tolist(), target_after[changed].tolist())]
        events += [(cut, 1, 1.0) for _, cut in cuts]  # after a frame end at the same sample
        events.sort()
        start = 0
        for stop, _, new_target in events:
            if new_target == target:  # a frame end confirming what an opening sample already set
                continue
            g = _stretch(plan, y, source, gains, bounds, start, stop, g, target, from_delay)
            start, target = stop, new_target
        g = _stretch(plan, y, source, gains, bounds, start, n, g, target, from_delay)
    elif cuts:
        target = 1.0

    if trace is not None:
        opened, levels = trace[1], trace[2]
        if opened is not None:
            opened[:n] = np.repeat(part_open, counts)
        if levels is not None:
            assert found.level_db is not None
            levels[:n] = np.repeat(np.concatenate(([key_db], found.level_db))[:parts].astype(np.float32), counts)
        for part, cut in cuts:
            part_end = int(bounds[part] + counts[part])
            if opened is not None:
                opened[cut:part_end] = True
            if levels is not None:
                levels[cut:part_end] = np.float32(_cut_db(found, cut))
        if frames:  # the kernel keeps the last level it traced
            key_db = float(found.level_db[-1]) if found.level_db is not None else \
                float(_to_db(found.env[-1:], float(fp[_F_DB_SCALE]))[0])

    # The state the next block continues from.
    if frames and not found.tail_open:  # the block ended on a frame end: its target holds from here
        target = float(target_after[-1])
    open_out = bool(open_after[-1]) if frames else open_in
    if not frames:
        below_out = below_in
    if cuts and cuts[-1][0] == parts - 1 and found.tail_open:  # the unfinished frame opened the gate
        open_out, below_out = True, -1
        if trace is not None:
            key_db = _cut_db(found, cuts[-1][1])
    st.sumsq[:] = np.concatenate([found.sumsq_out, found.sumsq_out])
    st.fstate[_G], st.fstate[_TARGET], st.fstate[_ENV], st.fstate[_KEYDB] = g, target, found.env_out, key_db
    st.istate[_POS], st.istate[_OPEN], st.istate[_BELOW] = found.pos_out, int(open_out), below_out
    st.istate[_FPEAK] = found.fpeak_out


def _cut_db(found: _Detection, cut: int) -> float:
    """The level the kernel traces on an opening sample: that sample's ``|key|`` in dBFS."""
    assert found.key_abs is not None
    return 20.0 * math.log10(float(found.key_abs[cut]))


def _smallest_float32_at_least(value: float) -> np.float32:
    v32 = np.float32(min(value, float(np.finfo(np.float32).max)))
    if float(v32) < value:
        v32 = np.nextafter(v32, np.float32(np.inf))
    return v32


# --------------------------------------------------------------------------------------------------
# 4. The gain


def _stretch(plan: _Plan, y: np.ndarray, source: np.ndarray, gains: np.ndarray | None, bounds: np.ndarray,
             a: int, b: int, g: float, target: float, from_delay: int) -> float:
    """``y[:, a:b]`` (and ``gains[a:b]``) for a stretch of constant ``target`` entered at gain
    ``g``; returns the gain at its end.

    The kernel ramps a frame part (``bounds``: part starts; a stretch starts on one or on an
    opening sample) at a time from the part's start gain: ``min(g + k * rate, target)`` (attack,
    linear release) or ``g * r ** k``, closing to the target at or below the release's end
    (exponential release), for ``k = 1..count``; the next part starts from its last gain. Once the
    gain has reached the target, it holds (a float32 product in the kernel).
    """
    if b <= a:
        return g
    if g == target:
        _hold(y, source, gains, a, b, target, from_delay)
        return g
    fp = plan.float_params
    rising = target > g
    exponential = not rising and bool(plan.int_params[_I_EXPONENTIAL])
    end_gain = max(target, float(fp[_F_RELEASE_END]))
    table = fp[_F_RELEASE_POW:]
    rate = float(fp[_F_UP]) if rising else -float(fp[_F_DOWN])
    # The ramp arrives within about ``need`` samples: only the parts that far are looked at (a
    # stretch may last minutes), up to a part boundary; all of them if it has not arrived there.
    r = float(table[1])
    if not exponential:
        need = abs(target - g) / abs(rate)
    elif 0.0 < r < 1.0 and end_gain > 0.0:
        need = math.log(end_gain / g) / math.log(r)
    else:
        need = math.inf
    reach = a + need + 2 * int(plan.int_params[_I_FRAME])
    stop = b if reach >= b else min(b, int(bounds[min(int(np.searchsorted(bounds, reach)), bounds.size - 1)]))
    stop = b if stop <= a else stop
    while True:
        starts = np.concatenate(([a], bounds[np.searchsorted(bounds, a, "right") : np.searchsorted(bounds, stop)]))
        counts = np.diff(np.append(starts, stop))
        # The part start gains as long as none reached the target: the kernel's chain, in its order.
        if exponential:
            chain = np.cumprod(np.concatenate(([g], table[counts])))
            moving = chain[1:] > end_gain
        else:
            chain = np.cumsum(np.concatenate(([g], counts * rate)))
            moving = chain[1:] < target if rising else chain[1:] > target
        if stop == b or not moving.all():
            break
        stop = b
    last = int(np.argmin(moving)) if not moving.all() else counts.size - 1  # the part that arrives
    ramp = slice(a, int(starts[last] + counts[last]))
    length = ramp.stop - a
    start_gains = np.repeat(chain[: last + 1], counts[: last + 1])
    k = np.arange(1, length + 1) - np.repeat(starts[: last + 1] - a, counts[: last + 1])  # 1..count per part
    if exponential:
        stepped = start_gains * table[k]
        line = np.where(stepped > end_gain, stepped, target)
    else:
        stepped = start_gains + k.astype(np.float64) * rate
        line = np.minimum(stepped, target) if rising else np.maximum(stepped, target)
    np.multiply(source[:, ramp], line, out=y[:, ramp], casting="unsafe")
    if gains is not None:
        gains[ramp] = line
    if moving.all():
        return float(chain[-1])
    _hold(y, source, gains, ramp.stop, b, target, from_delay)
    return target


def _hold(y: np.ndarray, source: np.ndarray, gains: np.ndarray | None, a: int, b: int, g: float,
          from_delay: int) -> None:
    """A steady gain over ``[a, b)``: the kernel's float32 product, except before ``from_delay``
    (the parts it takes from the lookahead's delay line), where it multiplies in float64."""
    if b <= a:
        return
    head = min(b, max(a, from_delay))
    if head > a:
        np.multiply(source[:, a:head], np.float64(g), out=y[:, a:head], casting="unsafe")  # float64: not a weak scalar
    if b > head:
        np.multiply(source[:, head:b], np.float32(g), out=y[:, head:b])
    if gains is not None:
        gains[a:b] = g
