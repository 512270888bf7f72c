"""The rig's mixing desk: alignment delays, ducking, trims and pans, one compiled call per block.

After the gates, each mic's signal (gated, or the open close mic as captured) goes through:

1. Alignment: a gate with lookahead delays its mic by ``L`` samples; every other mic is delayed by
   ``L_max - L`` so that all arrive together. Each gated mic's gain trace is delayed alike, so the
   gains too are in the time of the output.
2. Ducking: while a farther gated mic is open, a nearer gated mic is lowered. At output sample
   ``t`` mic ``near`` is multiplied by ``1 - (1 - duck_gain) * openness(far, t)`` for each of its
   ducks, ``openness = clip((gain_far[t] - floor_far) / (1 - floor_far), 0, 1)`` taken from the far
   gate's own aligned gain (before any ducking of it, so the order of the ducks does not matter):
   the duck moves with the far mic as the mix hears it, lookahead or not.
3. The mix: ``out[c] = sum_m weights[c, m] * aligned[m] * duck[m]``, the weights being the mic's
   trim (with its polarity) times its pan law gain.

:func:`mix_kernel` runs all three for one block in place, allocating nothing: it is the last step
of the rig's real-time path (``Rig.process_into``). numba compiles it on first use (cached on
disk), not on import. :func:`mix_block_numpy` is the same block in numpy, to the bit, for long
offline blocks (a render then loads no numba).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DUCK_FAR", "DUCK_FLOOR", "DUCK_GAIN", "DUCK_NEAR", "mix_block_numpy", "mix_kernel"]

# Columns of the ``ducks`` table, one row per (near, far) pair.
DUCK_NEAR, DUCK_FAR, DUCK_GAIN, DUCK_FLOOR = range(4)


def _mix_block_py(mics, gated, is_gated, gains, ducks, ducked, scratch, delays, memory, gain_memory,
                  weights, out):
    """Align, duck and mix one block into ``out``; in place, nothing allocated.

    Args:
        mics: ``(M, n)`` float32, the captured mic signals (the ungated mics are taken from here).
        gated: ``(M, n)`` float32, the gates' outputs (rows of gated mics only).
        is_gated: ``(M,)`` bool.
        gains: ``(M, n)`` float32, each gated mic's gate gain per sample; on return, in the
            output's time (delayed like its mic) and times its duck: the gain the mix applied.
        ducks: ``(D, 4)`` float64 rows ``(near, far, duck_gain, far_floor)``.
        ducked: ``(M,)`` bool, the mics that some row of ``ducks`` lowers.
        scratch: ``(M, n)`` float32.
        delays: ``(M,)`` int64 alignment delays in samples; ``memory`` and ``gain_memory``
            ``(M, max(delays))`` float32 hold each mic's last ``delays[m]`` samples and gains
            (oldest first).
        weights: ``(C, M)`` float32 trim times pan gain.
        out: ``(C, n)`` float32, overwritten.
    """
    M, n = mics.shape
    C = out.shape[0]
    # 1. Each gated mic's gains to the output's time, through its delay line (scratch = a copy).
    for m in range(M):
        delay = delays[m]
        if delay == 0 or not is_gated[m]:
            continue
        for i in range(n):
            scratch[m, i] = gains[m, i]
        _delay_row(scratch[m], gains[m], gain_memory[m], delay, n)
    # 2. Duck factors from the far gates' aligned gains, before any gain row is ducked.
    for m in range(M):
        if ducked[m]:
            for i in range(n):
                scratch[m, i] = 1.0
    for d in range(ducks.shape[0]):
        near = np.int64(ducks[d, DUCK_NEAR])
        far = np.int64(ducks[d, DUCK_FAR])
        depth = 1.0 - ducks[d, DUCK_GAIN]
        floor = ducks[d, DUCK_FLOOR]
        span = max(1e-12, 1.0 - floor)
        for i in range(n):
            openness = min(1.0, max(0.0, (gains[far, i] - floor) / span))
            scratch[near, i] *= np.float32(1.0 - depth * openness)
    for m in range(M):
        if ducked[m]:
            for i in range(n):
                gains[m, i] *= scratch[m, i]
    # 3. Each mic aligned, ducked and summed into each output channel.
    for c in range(C):
        for i in range(n):
            out[c, i] = 0.0
    for m in range(M):
        source = gated[m] if is_gated[m] else mics[m]
        delay = delays[m]
        head = min(delay, n)
        for c in range(C):
            w = weights[c, m]
            if w == 0.0:
                continue
            if ducked[m]:
                for i in range(head):
                    out[c, i] += w * (memory[m, i] * scratch[m, i])
                for i in range(head, n):
                    out[c, i] += w * (source[i - delay] * scratch[m, i])
            else:
                for i in range(head):
                    out[c, i] += w * memory[m, i]
                for i in range(head, n):
                    out[c, i] += w * source[i - delay]
        if delay > 0:
            _keep_last(memory[m], source, delay, n)


def _delay_row_py(source, row, memory, delay, n):
    """``row[t] = memory[t]`` for ``t < delay``, else ``source[t - delay]``; then the memory keeps
    the last ``delay`` samples of ``source`` (``row`` and ``source`` must not be the same)."""
    head = min(delay, n)
    for i in range(head):
        row[i] = memory[i]
    for i in range(head, n):
        row[i] = source[i - delay]
    _keep_last(memory, source, delay, n)


def _keep_last_py(memory, source, delay, n):
    """The delay line's memory after a block: the last ``delay`` samples of ``[memory, source]``."""
    if n >= delay:
        for j in range(delay):
            memory[j] = source[n - delay + j]
    else:  # a left shift copies forward, then the block goes at the end
        for j in range(delay - n):
            memory[j] = memory[j + n]
        for j in range(n):
            memory[delay - n + j] = source[j]


# The kernel reaches its helpers by these names, bound to compiled versions before it is compiled.
_delay_row, _keep_last = _delay_row_py, _keep_last_py


_compiled: Any = None


def mix_kernel() -> Any:
    """The compiled :func:`_mix_block_py`, compiled (or loaded from numba's cache) once."""
    global _compiled, _delay_row, _keep_last
    if _compiled is None:
        import numba  # lazily: `import roomgate` stays light

        _keep_last = numba.njit(cache=True, nogil=True)(_keep_last_py)
        _delay_row = numba.njit(cache=True, nogil=True)(_delay_row_py)
        _compiled = numba.njit(cache=True, nogil=True)(_mix_block_py)
    return _compiled


def mix_block_numpy(mics: np.ndarray, gated: np.ndarray, is_gated: np.ndarray, gains: np.ndarray,
                    ducks: np.ndarray, ducked: np.ndarray, scratch: np.ndarray, delays: np.ndarray,
                    memory: np.ndarray, gain_memory: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """:func:`_mix_block_py` with numpy, for long offline blocks: the same arguments, state and
    samples (the same float32 operations in the same order), and no numba to load."""
    M, n = mics.shape
    for m in range(M):  # 1. the gated mics' gains to the output's time
        delay = int(delays[m])
        if delay and is_gated[m]:
            joined = np.concatenate([gain_memory[m, :delay], gains[m]])
            gains[m] = joined[:n]
            gain_memory[m, :delay] = joined[n:]
    rows = np.flatnonzero(ducked)  # 2. duck factors from the far gates' aligned gains
    scratch[rows] = 1.0
    for near, far, duck_gain, floor in ducks:  # np.float64 values: the kernel's float64 arithmetic
        openness = np.clip((gains[int(far)] - floor) / max(1e-12, 1.0 - floor), 0.0, 1.0)
        scratch[int(near)] *= (1.0 - (1.0 - duck_gain) * openness).astype(np.float32)
    gains[rows] *= scratch[rows]
    out[...] = 0.0  # 3. aligned, ducked and summed, mic after mic
    for m in range(M):
        source = gated[m] if is_gated[m] else mics[m]
        delay = int(delays[m])
        if delay:
            joined = np.concatenate([memory[m, :delay], source])
            source = joined[:n]
            memory[m, :delay] = joined[n:]
        if ducked[m]:
            source = source * scratch[m]
        for c in range(out.shape[0]):
            if weights[c, m] != 0.0:
                out[c] += weights[c, m] * source
