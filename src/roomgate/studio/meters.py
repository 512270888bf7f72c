"""The studio's output meters: a render's peak and loudness over time, and its integrated loudness.

One streaming pass (:class:`LevelMeter`, fed ``(C, n)`` blocks in order, any sizes) keeps per hop:

- the sample peak of every 10 ms (:data:`PEAK_HOP_S`), dBFS;
- the K-weighted mean square of every 100 ms (:data:`LOUDNESS_HOP_S`), from which come
  the **short-term loudness** (the last 3 s, EBU Tech 3341) at the end of each hop, and the
  **integrated loudness** (ITU-R BS.1770-4: 400 ms blocks overlapping by 75 %, that is four
  consecutive hops, gated at -70 LUFS and then 10 LU below the loudness of what passed).

The K-weighting is pyloudnorm's (its ``IIRfilter`` stages with BS.1770-4's pre-filter and RLB
filter), so the integrated loudness is pyloudnorm's ``Meter.integrated_loudness`` of the same
signal (tested), computed in one vectorised pass that also gives the series, block by block so that
a take of any length can be metered from disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LOUDNESS_HOP_S", "PEAK_HOP_S", "SHORT_TERM_S", "FLOOR_DB", "LevelMeter", "Levels", "match_gains_db", "meter_signal"]

PEAK_HOP_S = 0.01
LOUDNESS_HOP_S = 0.1  # BS.1770-4's gating blocks (400 ms) step by 100 ms: four hops make a block
SHORT_TERM_S = 3.0  # EBU Tech 3341's short-term window
BLOCK_HOPS = 4
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
FLOOR_DB = -120.0  # silence is written as this (JSON has no -inf)
# BS.1770-4 channel weights: L, R, C are 1, the surrounds 1.41 (the studio's outputs are 1 or 2).
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)


@dataclass(frozen=True)
class Levels:
    """A signal's meters. Series are floored at :data:`FLOOR_DB` (silence)."""

    integrated_lufs: float  # -inf when every block is below the absolute gate
    peak_db: np.ndarray  # (ceil(N / 10 ms),) the sample peak of each 10 ms, dBFS
    short_term_lufs: np.ndarray  # (ceil(N / 100 ms),) the last 3 s at each 100 ms hop's end
    sample_rate: int
    samples: int

    def to_json(self) -> dict[str, Any]:
        return {
            "integrated_lufs": round(self.integrated_lufs, 3) if math.isfinite(self.integrated_lufs) else None,
            "peak_hop_s": PEAK_HOP_S,
            "peak_db": np.round(self.peak_db, 2).tolist(),
            "loudness_hop_s": LOUDNESS_HOP_S,
            "short_term_lufs": np.round(self.short_term_lufs, 2).tolist(),
            "duration_s": round(self.samples / self.sample_rate, 6),
        }


def k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """BS.1770-4's two K-weighting stages at ``sample_rate`` as ``(b, a)`` biquads: the
    pre-filter (a high shelf, +4 dB above about 1.5 kHz) and the RLB high-pass (about 38 Hz), made
    by pyloudnorm's ``IIRfilter`` with the parameters pyloudnorm's ``Meter`` uses."""
    from pyloudnorm import IIRfilter

    shelf = IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, sample_rate, "high_shelf")
    high_pass = IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")
    return [(np.asarray(f.b, np.float64), np.asarray(f.a, np.float64)) for f in (shelf, high_pass)]


class LevelMeter:
    """Meters a ``(C, N)`` signal fed block by block (see the module docstring).

    Shape: :meth:`add` takes ``(C, n)`` blocks (float, any n); :meth:`result` gives :class:`Levels`.
    """

    def __init__(self, sample_rate: int, channels: int):
        from scipy.signal import lfilter_zi

        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.weights = np.array([CHANNEL_WEIGHTS[min(c, len(CHANNEL_WEIGHTS) - 1)] for c in range(channels)])
        self.filters = k_weighting(self.sample_rate)
        self.states = [np.zeros((channels, len(lfilter_zi(b, a)))) for b, a in self.filters]
        self.peak_hop = max(1, int(round(PEAK_HOP_S * sample_rate)))
        self.loudness_hop = max(1, int(round(LOUDNESS_HOP_S * sample_rate)))
        self._peaks: list[np.ndarray] = []
        self._energies: list[np.ndarray] = []  # channel-weighted sums of squares per hop
        self._peak_carry = np.zeros(0)
        self._energy_carry = np.zeros(0)
        self.samples = 0

    def add(self, block: np.ndarray) -> None:
        from scipy.signal import lfilter

        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"block: expected ({self.channels}, n), got shape {x.shape}")
        if x.shape[1] == 0:
            return
        self.samples += x.shape[1]
        peaks = np.max(np.abs(x), axis=0)
        self._peak_carry, whole = _whole_hops(self._peak_carry, peaks, self.peak_hop)
        if whole.size:
            self._peaks.append(whole.max(axis=1))
        weighted = x
        for index, (b, a) in enumerate(self.filters):
            weighted, self.states[index] = lfilter(b, a, weighted, axis=1, zi=self.states[index])
        squares = self.weights @ (weighted * weighted)
        self._energy_carry, whole = _whole_hops(self._energy_carry, squares, self.loudness_hop)
        if whole.size:
            self._energies.append(whole.sum(axis=1))

    def result(self) -> Levels:
        peaks = self._peaks + ([np.array([self._peak_carry.max()])] if self._peak_carry.size else [])
        peak = np.concatenate(peaks) if peaks else np.zeros(0)
        full = np.concatenate(self._energies) if self._energies else np.zeros(0)
        partial = np.array([self._energy_carry.sum()]) if self._energy_carry.size else np.zeros(0)
        hop_energy = np.concatenate([full, partial])  # the last hop may be partial (zero-padded)
        return Levels(
            integrated_lufs=self._integrated(hop_energy),
            peak_db=_db(peak, 20.0),
            short_term_lufs=self._short_term(hop_energy),
            sample_rate=self.sample_rate,
            samples=self.samples,
        )

    def _integrated(self, hop_energy: np.ndarray) -> float:
        """BS.1770-4's gated integrated loudness from the per-hop energies."""
        duration_s = self.samples / self.sample_rate
        # As many 400 ms blocks as pyloudnorm counts (the last one may reach past the end).
        count = int(np.round((duration_s - BLOCK_HOPS * LOUDNESS_HOP_S) / LOUDNESS_HOP_S)) + 1
        if count < 1:
            return -math.inf
        padded = np.concatenate([hop_energy, np.zeros(max(0, count + BLOCK_HOPS - 1 - hop_energy.size))])
        cumulative = np.concatenate([[0.0], np.cumsum(padded)])
        blocks = (cumulative[BLOCK_HOPS : BLOCK_HOPS + count] - cumulative[:count]) / (BLOCK_HOPS * self.loudness_hop)
        with np.errstate(divide="ignore"):
            loudness = -0.691 + 10.0 * np.log10(blocks)
        above_absolute = blocks[loudness >= ABSOLUTE_GATE_LUFS]
        if above_absolute.size == 0:
            return -math.inf
        relative_gate = -0.691 + 10.0 * math.log10(float(above_absolute.mean())) + RELATIVE_GATE_LU
        kept = blocks[(loudness > relative_gate) & (loudness > ABSOLUTE_GATE_LUFS)]
        if kept.size == 0:
            return -math.inf
        return -0.691 + 10.0 * math.log10(float(kept.mean()))

    def _short_term(self, hop_energy: np.ndarray) -> np.ndarray:
        """The mean square of the last 3 s (fewer at the start) at the end of each hop."""
        window = int(round(SHORT_TERM_S / LOUDNESS_HOP_S))
        cumulative = np.concatenate([[0.0], np.cumsum(hop_energy)])
        ends = np.arange(1, hop_energy.size + 1)
        starts = np.maximum(0, ends - window)
        mean_square = (cumulative[ends] - cumulative[starts]) / ((ends - starts) * self.loudness_hop)
        return _db(mean_square, 10.0, offset=-0.691)


def meter_signal(signal: np.ndarray, sample_rate: int, block_samples: int = 1 << 18) -> Levels:
    """:class:`LevelMeter` over a whole ``(C, N)`` signal."""
    meter = LevelMeter(sample_rate, signal.shape[0])
    for start in range(0, signal.shape[1], block_samples):
        meter.add(signal[:, start : start + block_samples])
    return meter.result()


def match_gains_db(reference_lufs: float, others_lufs: dict[str, float], limit_db: float = 40.0) -> dict[str, float]:
    """The gain that brings each signal to the reference's integrated loudness (0 where either
    is silent), within +-``limit_db``."""
    gains = {}
    for name, lufs in others_lufs.items():
        finite = math.isfinite(reference_lufs) and math.isfinite(lufs)
        gains[name] = round(float(np.clip(reference_lufs - lufs, -limit_db, limit_db)), 3) if finite else 0.0
    return gains


def _whole_hops(carry: np.ndarray, values: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """``carry`` then ``values``, cut into whole hops ``(H, hop)``; returns (the rest, the hops)."""
    joined = np.concatenate([carry, values]) if carry.size else values
    whole = joined.size // hop * hop
    return joined[whole:].copy(), joined[:whole].reshape(-1, hop)


def _db(values: np.ndarray, scale: float, offset: float = 0.0) -> np.ndarray:
    with np.errstate(divide="ignore"):
        levels = offset + scale * np.log10(np.asarray(values, dtype=np.float64))
    return np.maximum(levels, FLOOR_DB)
