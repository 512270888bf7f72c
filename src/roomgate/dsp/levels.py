"""Levels of a take: the key's sung frames, and loudness (ITU-R BS.1770 via pyloudnorm).

The gates' relative thresholds (:mod:`roomgate.config.thresholds`) are fitted on
:class:`KeyStatistics`: the gate's own detector level (so a threshold means the same thing to the
gate that uses it), taken as the highest value in each 10 ms frame. A frame is *sung* when it is
above both :data:`ABSOLUTE_FLOOR_DB` and :data:`SUNG_RANGE_DB` below the loud end of the take (its
95th percentile); both are relative to the take except the absolute floor, so a take 12 dB quieter
gets thresholds 12 dB lower and its gates open at the same moments. Nothing here reads files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

FRAME_S = 0.01
# Below this a frame is digital silence or hiss, never singing.
ABSOLUTE_FLOOR_DB = -80.0
# Frames more than this below the loud end of the take are silence, breaths or room noise.
SUNG_RANGE_DB = 45.0


@dataclass(frozen=True)
class KeyStatistics:
    """The sung level distribution of one key signal."""

    sung_levels_db: np.ndarray  # (F,) frame levels of the sung frames, dBFS
    sung_fraction: float  # share of the take's frames that are sung

    def percentile_db(self, percent: float) -> float:
        return percentile(self.sung_levels_db, percent)


class FrameLevels:
    """The highest level within each ``frame_s`` frame of a level signal fed block by block
    (frames count from the first sample, so any block sizes give the same frames)."""

    def __init__(self, sample_rate: int, frame_s: float = FRAME_S):
        self.frame_samples = max(1, int(round(frame_s * sample_rate)))
        self._frames: list[np.ndarray] = []
        self._carry = np.empty(0)

    def add(self, level_db: np.ndarray) -> None:
        """Shape: level_db ``(n,)``, dBFS per sample (any float dtype)."""
        level_db = np.asarray(level_db)
        if self._carry.size:  # complete the frame begun in the previous block
            take = min(self.frame_samples - self._carry.size, level_db.size)
            self._carry = np.concatenate([self._carry, level_db[:take].astype(np.float64)])
            level_db = level_db[take:]
            if self._carry.size == self.frame_samples:
                self._frames.append(np.array([self._carry.max()]))
                self._carry = np.empty(0)
        whole = level_db.size // self.frame_samples * self.frame_samples
        if whole:  # a maximum is exact in any precision: taken before the conversion to float64
            self._frames.append(level_db[:whole].reshape(-1, self.frame_samples).max(axis=1).astype(np.float64))
        if whole < level_db.size:
            self._carry = np.concatenate([self._carry, level_db[whole:].astype(np.float64)])

    def frames_db(self) -> np.ndarray:
        """Shape: ``(ceil(N / frame),)``, the last frame possibly partial."""
        tail = [np.array([self._carry.max()])] if self._carry.size else []
        return np.concatenate(self._frames + tail) if (self._frames or tail) else np.empty(0)


def percentile(values: np.ndarray, percent: float) -> float:
    """``np.percentile(values, percent)`` (its default, linear method), the same number to the bit,
    without the ``numpy.ma`` import numpy's version makes on its first call (~10-20 ms)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64), axis=None)
    if ordered.size == 0:
        raise ValueError("percentile of no values")
    index = percent / 100.0 * (ordered.size - 1)
    below = min(int(math.floor(index)), ordered.size - 1)
    above = min(below + 1, ordered.size - 1)
    a, b = float(ordered[below]), float(ordered[above])
    weight = index - below
    # numpy's lerp: from the nearer end, so that a weight of 1 gives b exactly
    return b - (b - a) * (1.0 - weight) if weight >= 0.5 else a + (b - a) * weight


def key_statistics(frames_db: np.ndarray) -> KeyStatistics:
    """Find the sung frames among a key's frame levels (see :class:`FrameLevels`) and keep them."""
    frames = np.asarray(frames_db, dtype=np.float64)
    audible = frames[frames > ABSOLUTE_FLOOR_DB]
    if audible.size == 0:
        return KeyStatistics(np.empty(0), 0.0)
    loud_end_db = percentile(audible, 95)
    sung = audible[audible > loud_end_db - SUNG_RANGE_DB]
    return KeyStatistics(sung, sung.size / frames.size)


# Loudness matching (ITU-R BS.1770-4 via pyloudnorm) listens to at most this much open material:
# minutes of singing pin a mic's loudness down to a fraction of a LU, and memory stays bounded.
MATCH_MAX_S = 600.0


class OpenLoudness:
    """Collects a mic's and the close mic's samples where the mic's gate is open, block by block,
    and gives the trim that matches their loudness (BS.1770 integrated loudness, pyloudnorm)."""

    def __init__(self, sample_rate: int, max_s: float = MATCH_MAX_S):
        self.sample_rate = sample_rate
        self.max_samples = int(max_s * sample_rate)
        self._mic: list[np.ndarray] = []
        self._close: list[np.ndarray] = []
        self._all_mic: list[np.ndarray] = []
        self._all_close: list[np.ndarray] = []
        self.collected = 0
        self.collected_all = 0

    def add(self, mic: np.ndarray, close: np.ndarray, is_open: np.ndarray) -> None:
        """Shape: mic, close, is_open ``(n,)``."""
        if self.collected < self.max_samples and is_open.any():
            self._mic.append(mic[is_open])
            self._close.append(close[is_open])
            self.collected += int(is_open.sum())
        if self.collected_all < self.max_samples:  # the fallback when the gate never opens for long
            self._all_mic.append(mic)
            self._all_close.append(close)
            self.collected_all += mic.size

    def trim_db(self, offset_lu: float, where: str) -> tuple[float, bool]:
        """The gain that puts the mic ``offset_lu`` from the close mic, and whether it was measured
        on open passages (False: the gate was open under 0.4 s, so the whole take was used)."""
        import warnings

        from ..errors import RoomgateWarning

        on_open = self.collected >= 0.4 * self.sample_rate
        mic = np.concatenate(self._mic if on_open else self._all_mic)
        close = np.concatenate(self._close if on_open else self._all_close)
        if not on_open:
            warnings.warn(f"{where}: the gate was open under 0.4 s; matched over the whole take", RoomgateWarning)
        mic_lufs, close_lufs = loudness_lufs(mic, self.sample_rate), loudness_lufs(close, self.sample_rate)
        if not (np.isfinite(mic_lufs) and np.isfinite(close_lufs)):
            raise ConfigError(f"{where}: 'match' needs sound at both mics; one of them is silent")
        return float(np.clip(close_lufs - mic_lufs + offset_lu, -96.0, 48.0)), on_open


def loudness_lufs(samples: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness of a mono signal (pyloudnorm), ``-inf`` when too short/silent.

    Shape: samples ``(n,)``.
    """
    import warnings

    import pyloudnorm

    samples = np.asarray(samples, dtype=np.float64)
    if samples.size < int(0.4 * sample_rate):
        samples = np.pad(samples, (0, int(0.4 * sample_rate) - samples.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns on clipping, which we do not care about here
        return float(pyloudnorm.Meter(sample_rate).integrated_loudness(samples))
