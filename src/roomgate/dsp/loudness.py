"""Integrated loudness (ITU-R BS.1770-4) and true peak of a take given block by block.

pyloudnorm measures a whole signal held in memory; a render streams, so :class:`LoudnessMeter`
keeps only what the measure needs: the K-weighting filters' state (pyloudnorm's own filters, run
with their state carried from block to block) and the sum of squares of each 100 ms step, from
which the 400 ms gating blocks (75 % overlap) are summed at the end. It follows pyloudnorm's
``Meter.integrated_loudness`` step by step (block bounds, the -70 LUFS absolute gate, the -10 LU
relative gate, BS.1770-4 eq. 1-7) and is tested equal to it.

The true peak is the highest absolute sample after 4x oversampling (BS.1770-4 Annex 2), here with
soxr's streaming resampler as the interpolator.

Shape:
    :meth:`LoudnessMeter.add` takes ``(C, n)`` float blocks, C = 1 or 2 (weights 1.0 each).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["ABSOLUTE_GATE_LUFS", "LoudnessMeter"]

#: BS.1770-4: gating blocks of 400 ms every 100 ms; blocks under -70 LUFS are left out.
BLOCK_S = 0.4
OVERLAP = 0.75
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
TRUE_PEAK_OVERSAMPLING = 4


class LoudnessMeter:
    """Feed consecutive ``(C, n)`` blocks to :meth:`add`; then read :meth:`integrated_lufs` (at any
    point: it covers what was added so far) and :meth:`true_peak_db` (after the last block)."""

    def __init__(self, sample_rate: int, channels: int, *, true_peak: bool = True):
        import pyloudnorm
        import scipy.signal

        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        meter = pyloudnorm.Meter(self.sample_rate)  # its K-weighting: a high shelf, then a high pass
        self._stages = [(np.asarray(f.b, np.float64), np.asarray(f.a, np.float64), float(f.passband_gain))
                        for f in meter._filters.values()]
        self._states = [np.zeros((self.channels, max(len(b), len(a)) - 1)) for b, a, _ in self._stages]
        self._lfilter = scipy.signal.lfilter
        self._step = BLOCK_S * (1.0 - OVERLAP)
        self._step_sums: list[np.ndarray] = []  # (C,) sum of squares of each finished step
        self._open_sum = np.zeros(self.channels)  # of the step still being filled
        self.samples = 0
        self._peak = 0.0
        self._resampler: Any = None
        self._finished = False
        if true_peak:
            import soxr

            self._resampler = soxr.ResampleStream(self.sample_rate, TRUE_PEAK_OVERSAMPLING * self.sample_rate,
                                                  self.channels, dtype="float64", quality="HQ")

    def _bound(self, step_index: int) -> int:
        """The first sample of 100 ms step ``step_index``, as pyloudnorm places its blocks."""
        return int(BLOCK_S * (step_index * (1.0 - OVERLAP)) * self.sample_rate)

    def add(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float64).reshape(self.channels, -1)
        if block.shape[1] == 0:
            return
        if self._finished:
            raise RuntimeError("LoudnessMeter: add() after true_peak_db(); make a new meter for a new take")
        self._peak = max(self._peak, float(np.max(np.abs(block))))
        if self._resampler is not None:
            upsampled = self._resampler.resample_chunk(np.ascontiguousarray(block.T))
            if upsampled.size:
                self._peak = max(self._peak, float(np.max(np.abs(upsampled))))
        weighted = block
        for index, (b, a, gain) in enumerate(self._stages):
            weighted, self._states[index] = self._lfilter(b, a, weighted, axis=1, zi=self._states[index])
            weighted = gain * weighted
        squares = weighted * weighted
        start = self.samples
        position = 0
        while position < squares.shape[1]:
            step_end = self._bound(len(self._step_sums) + 1)
            take = min(squares.shape[1] - position, step_end - (start + position))
            self._open_sum += squares[:, position : position + take].sum(axis=1)
            position += take
            if start + position == step_end:
                self._step_sums.append(self._open_sum)
                self._open_sum = np.zeros(self.channels)
        self.samples += block.shape[1]

    def integrated_lufs(self) -> float:
        """The gated integrated loudness so far, LUFS (-inf when silent or shorter than a block)."""
        block_samples = BLOCK_S * self.sample_rate
        duration_s = self.samples / self.sample_rate
        count = int(np.round((duration_s - BLOCK_S) / self._step)) + 1
        if count < 1:
            return -math.inf
        steps = np.array([*self._step_sums, self._open_sum] + [np.zeros(self.channels)] * 4)
        steps_per_block = int(round(1 / (1.0 - OVERLAP)))
        cumulative = np.concatenate([np.zeros((1, self.channels)), np.cumsum(steps, axis=0)])
        z = (cumulative[steps_per_block : count + steps_per_block] - cumulative[:count]) / block_samples  # (J, C)
        power = z.sum(axis=1)
        with np.errstate(divide="ignore"):
            loudness = -0.691 + 10 * np.log10(power)
        above = loudness >= ABSOLUTE_GATE_LUFS
        if not above.any():
            return -math.inf
        relative_gate = -0.691 + 10 * math.log10(float(z[above].mean(axis=0).sum())) + RELATIVE_GATE_LU
        gated = (loudness > relative_gate) & (loudness > ABSOLUTE_GATE_LUFS)
        if not gated.any():
            return -math.inf
        return -0.691 + 10 * math.log10(float(z[gated].mean(axis=0).sum()))

    def true_peak_db(self) -> float:
        """The take's highest absolute sample after 4x oversampling, dBTP (never under the sample
        peak; the sample peak alone when the meter was made with ``true_peak=False``). Call it after
        the last block: it flushes the oversampler."""
        if self._resampler is not None and not self._finished:
            tail = self._resampler.resample_chunk(np.zeros((0, self.channels)), last=True)
            if tail.size:
                self._peak = max(self._peak, float(np.max(np.abs(tail))))
        self._finished = True
        return 20 * math.log10(self._peak) if self._peak > 0 else -math.inf
