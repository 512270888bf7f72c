"""How the gates breathe with the room: the five measures of issue 13, on plain arrays.

The test take (:func:`build_take`): a dry vocal placed three times, at -20, -10 and 0 dB, after
0.5 s of silence, with 1 s of silence between and 3 s after. It goes through a rig twice: gated
as usual, and ungated (every mic open, the same trims). The measures compare the two:

1. **rings out** (:func:`ring_out_db`): after the last note of the loudest section, find the first
   moment ``t30`` when the ungated output's level has fallen 30 dB below its level over the last
   300 ms of the note; the measure is the gated level minus the ungated level at ``t30`` (dB).
   Levels are 50 ms RMS windows, centred. The room rings out when it is >= -3 dB.
2. **no sagging** (:func:`count_dips`): inside the loudest section (its first note to its last),
   how often a gate, once open (gain above -1 dB), falls more than 3 dB and opens again above
   -1 dB. At most 2 per gate.
3. **still staged** (:func:`open_fraction`): inside the softest section, the fraction of samples
   whose gain is above 0.5. At most 0.10 for the mid gate, 0.05 for the far one.
4. **still a gate** (:func:`gain_db_after`): each gate's gain 2.5 s after the last note, dB. At
   most -20 dB.
5. **still clean** (:func:`click_margin_db`): the high frequencies a gain ramp adds. For mic
   signals ``x_m`` (trims applied) with gains ``g_m`` and ``HP`` a > 5 kHz high-pass, the added
   part is ``d = sum_m HP(x_m g_m) - g_m HP(x_m)``: zero for a constant gain, the splatter of the
   vowel's strong low harmonics into the highs for a fast one (a click). In 20 ms windows (hop
   10 ms) where some gain moves, the measure is the largest ``10 log10(E(d) / E(HP(sum_m x_m)))``,
   the added energy against the vocal's own (ungated) high-frequency energy in that window (windows
   where that is below -100 dBFS are skipped: nothing there to hear or to compare). At most -12 dB.

Everything here is rate-independent (times in seconds, levels in dB); the rig and file side is in
:mod:`roomgate.breathing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CLICK_HIGHPASS_HZ", "TakeLayout", "build_take", "click_margin_db", "count_dips",
    "gain_db_after", "open_fraction", "ring_out_db", "short_time_level_db", "sung_span",
]

#: The band whose added energy counts as a click (Hz).
CLICK_HIGHPASS_HZ = 5000.0
#: Window and hop of the click measure (s).
CLICK_WINDOW_S, CLICK_HOP_S = 0.020, 0.010
#: A window whose ungated high-frequency energy per sample is below this (dBFS) is not judged.
CLICK_FLOOR_DB = -100.0
#: Level window of the ring-out measure (s), and the span of the note it takes as reference (s).
LEVEL_WINDOW_S, NOTE_TAIL_S = 0.050, 0.300
#: Decay the ring-out measure waits for (dB).
RING_OUT_DB = 30.0
_TINY = 1e-30


@dataclass(frozen=True)
class TakeLayout:
    """Where the vocal sits in a take built by :func:`build_take`.

    Attributes:
        sample_rate: Hz.
        sections: ``(start, stop, level_db)`` of each copy of the vocal, in samples.
        length: samples of the take.
    """

    sample_rate: int
    sections: tuple[tuple[int, int, float], ...]
    length: int

    def loudest(self) -> tuple[int, int, float]:
        return max(self.sections, key=lambda s: s[2])

    def softest(self) -> tuple[int, int, float]:
        return min(self.sections, key=lambda s: s[2])


def build_take(vocal: np.ndarray, sample_rate: int, levels_db: tuple[float, ...] = (-20.0, -10.0, 0.0),
               lead_s: float = 0.5, gap_s: float = 1.0, tail_s: float = 3.0
               ) -> tuple[np.ndarray, TakeLayout]:
    """The issue's take: ``lead_s`` of silence, then the vocal at each level with ``gap_s`` of
    silence between, then ``tail_s`` of silence.

    Shape:
        vocal ``(N,)`` or ``(1, N)``; returns ``(1, T)`` float32 and the :class:`TakeLayout`.
    """
    v = np.asarray(vocal, dtype=np.float32).reshape(-1)
    parts: list[np.ndarray] = [np.zeros(int(round(lead_s * sample_rate)), np.float32)]
    sections = []
    at = len(parts[0])
    gap = np.zeros(int(round(gap_s * sample_rate)), np.float32)
    for i, level_db in enumerate(levels_db):
        if i:
            parts.append(gap)
            at += len(gap)
        parts.append(v * np.float32(10 ** (level_db / 20)))
        sections.append((at, at + len(v), float(level_db)))
        at += len(v)
    parts.append(np.zeros(int(round(tail_s * sample_rate)), np.float32))
    take = np.concatenate(parts)[np.newaxis]
    return take, TakeLayout(int(sample_rate), tuple(sections), take.shape[1])


def short_time_level_db(signal: np.ndarray, sample_rate: int, window_s: float = LEVEL_WINDOW_S
                        ) -> np.ndarray:
    """RMS level in dB of a centred ``window_s`` window at every sample (-300 dB for silence).

    Shape: signal ``(N,)`` (or ``(C, N)``, channels summed in power); returns ``(N,)`` float64.
    """
    x = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    power = np.sum(x * x, axis=0)
    w = max(1, int(round(window_s * sample_rate)))
    csum = np.concatenate([[0.0], np.cumsum(power)])
    n = power.shape[0]
    lo = np.clip(np.arange(n) - w // 2, 0, max(n - w, 0))  # near either end the window slides in whole
    hi = np.minimum(lo + w, n)
    mean = (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)
    return 10 * np.log10(np.maximum(mean, 1e-30))


def sung_span(dry: np.ndarray, sample_rate: int, start: int, stop: int,
              below_peak_db: float = 40.0) -> tuple[int, int]:
    """Where the singing in ``[start, stop)`` of the dry take starts and ends (the end of its last
    note): the first and one past the last sample whose 20 ms level is within ``below_peak_db``
    of that span's loudest 20 ms level."""
    level = short_time_level_db(np.asarray(dry).reshape(-1)[start:stop], sample_rate, 0.020)
    loud = np.nonzero(level >= level.max() - below_peak_db)[0]
    return start + int(loud[0]), start + int(loud[-1]) + 1


def ring_out_db(gated: np.ndarray, ungated: np.ndarray, sample_rate: int, note_end: int
                ) -> tuple[float, float]:
    """Measure 1: ``(gated - ungated level at t30 in dB, t30 in s after the note end)``.

    ``t30``: the first moment after ``note_end`` when the ungated output's 50 ms level is
    ``RING_OUT_DB`` below its RMS level over the last 300 ms of the note. NaN if it never is.

    Shape: gated, ungated ``(N,)`` or ``(C, N)``, aligned, at ``sample_rate``.
    """
    u = np.atleast_2d(np.asarray(ungated, dtype=np.float64))
    g = np.atleast_2d(np.asarray(gated, dtype=np.float64))
    tail = int(round(NOTE_TAIL_S * sample_rate))
    if not tail <= note_end < u.shape[1]:
        raise ValueError(f"note_end: expected a sample from {tail} (the note's last {NOTE_TAIL_S:g} s) "
                         f"to {u.shape[1] - 1}, got {note_end}")
    reference_db = 10 * math.log10(np.mean(np.sum(u[:, note_end - tail:note_end] ** 2, axis=0))
                                   + _TINY)
    level_u = short_time_level_db(u, sample_rate)
    after = np.nonzero(level_u[note_end:] <= reference_db - RING_OUT_DB)[0]
    if not len(after):
        return math.nan, math.nan
    t30 = note_end + int(after[0])
    level_g = short_time_level_db(g, sample_rate)
    return float(level_g[t30] - level_u[t30]), (t30 - note_end) / sample_rate


def count_dips(gain: np.ndarray, start: int = 0, stop: int | None = None, fall_db: float = 3.0,
               reopen_db: float = 1.0) -> int:
    """Measure 2: how often the gain, once above ``-reopen_db`` dB, falls below ``-fall_db`` dB
    and comes back above ``-reopen_db`` dB, within ``[start, stop)``.

    Shape: gain ``(N,)`` linear.
    """
    g = np.asarray(gain, dtype=np.float64)[start:stop]
    up, down = 10 ** (-reopen_db / 20), 10 ** (-fall_db / 20)
    dips, armed, dipping = 0, False, False
    # Only the samples where the gain crosses a level matter: walk those.
    events = np.nonzero((g >= up) | (g < down))[0]
    for i in events:
        if g[i] >= up:
            if dipping:
                dips += 1
            armed, dipping = True, False
        elif armed:
            dipping = True
    return dips


def open_fraction(gain: np.ndarray, start: int = 0, stop: int | None = None,
                  above: float = 0.5) -> float:
    """Measure 3: the fraction of samples in ``[start, stop)`` whose gain is above ``above``."""
    g = np.asarray(gain)[start:stop]
    return float(np.mean(g > above)) if g.size else 0.0


def gain_db_after(gain: np.ndarray, sample_rate: int, note_end: int, after_s: float = 2.5) -> float:
    """Measure 4: the gain in dB ``after_s`` seconds after ``note_end`` (-inf when shut)."""
    gain = np.asarray(gain)
    at = note_end + int(round(after_s * sample_rate))
    if not 0 <= at < gain.shape[-1]:
        raise ValueError(f"after_s: {after_s:g} s after sample {note_end} is outside the {gain.shape[-1]} samples given")
    value = float(gain[..., at])
    return 20 * math.log10(value) if value > 0 else -math.inf


def _highpass(x: np.ndarray, sample_rate: int) -> np.ndarray:
    from scipy import signal  # lazily

    sos = signal.butter(8, CLICK_HIGHPASS_HZ, "highpass", fs=sample_rate, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


def click_margin_db(mics: np.ndarray, gains: np.ndarray, sample_rate: int,
                    moving_above: float = 1e-6) -> float:
    """Measure 5: the largest added-to-own high-frequency energy ratio (dB) over the windows
    where a gain moves (see the module docstring); -inf when no gain moves.

    Args:
        mics: the mics' ungated signals, trims applied, ``(M, N)``.
        gains: each mic's gain per sample, ``(M, N)`` (ones for an ungated mic).
        moving_above: a window counts when some gain's range in it exceeds this.
    """
    x = np.asarray(mics, dtype=np.float64)
    g = np.asarray(gains, dtype=np.float64)
    if sample_rate <= 2 * CLICK_HIGHPASS_HZ:
        raise ValueError(f"sample_rate: expected above {2 * CLICK_HIGHPASS_HZ:g} Hz for a "
                         f"{CLICK_HIGHPASS_HZ:g} Hz high-pass, got {sample_rate}")
    w = int(round(CLICK_WINDOW_S * sample_rate))
    if x.shape[1] < w:
        raise ValueError(f"mics: expected at least {CLICK_WINDOW_S * 1000:g} ms ({w} samples), got {x.shape[1]}")
    added = np.sum(_highpass(x * g, sample_rate) - g * _highpass(x, sample_rate), axis=0)
    own = _highpass(np.sum(x, axis=0), sample_rate)
    hop = int(round(CLICK_HOP_S * sample_rate))
    starts = np.arange(0, max(1, x.shape[1] - w + 1), hop)
    c_added = np.concatenate([[0.0], np.cumsum(added * added)])
    c_own = np.concatenate([[0.0], np.cumsum(own * own)])
    e_added = c_added[starts + w] - c_added[starts]
    e_own = c_own[starts + w] - c_own[starts]
    frames = np.lib.stride_tricks.sliding_window_view(g, w, axis=1)[:, starts]
    moving = np.any(frames.max(axis=2) - frames.min(axis=2) > moving_above, axis=0)
    judged = moving & (e_own / w > 10 ** (CLICK_FLOOR_DB / 10))
    if not judged.any():
        return -math.inf
    return float(np.max(10 * np.log10((e_added[judged] + _TINY) / e_own[judged])))
