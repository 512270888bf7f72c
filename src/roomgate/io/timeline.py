"""The gate timeline of a render, recorded block by block.

:class:`TimelineRecorder` follows a render block by block (any block sizes give the same
timeline), keeping only a few numbers per ``hop_s`` and the sample-exact open intervals, so
memory does not grow with the take's per-sample length. :mod:`roomgate.io.report` turns it into
the report. Nothing here does DSP.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

HOP_S = 0.01
# Levels below this are written as this (JSON has no -inf).
FLOOR_DB = -120.0


@dataclass
class _MicTimeline:
    name: str
    gated: bool
    gain_frames: list[np.ndarray] = field(default_factory=list)  # float32 chunks, one per block
    intervals: list[list[int]] = field(default_factory=list)  # [start, end) in samples
    open_since: int | None = None
    open_samples: int = 0


class TimelineRecorder:
    """Collects per-sample gate gains, open flags and the key level into ``hop_s`` frames.

    Feed :meth:`add` with consecutive blocks; each frame holds the gain at the frame's last sample
    and the key's highest level within the frame, so a frame boundary falling inside a block or
    between blocks gives the same result.
    """

    def __init__(self, sample_rate: int, mic_names: Sequence[str], gated: Sequence[bool], hop_s: float = HOP_S):
        self.sample_rate = int(sample_rate)
        self.hop_samples = max(1, int(round(hop_s * sample_rate)))
        self.mics = [_MicTimeline(name, g) for name, g in zip(mic_names, gated)]
        self.key_db_frames: list[np.ndarray] = []  # float32 chunks, one per block
        self.samples_seen = 0
        self._key_running_max_db = -math.inf

    @property
    def hop_s(self) -> float:
        return self.hop_samples / self.sample_rate

    def add(self, key_db: np.ndarray, gains: Sequence[np.ndarray | None], is_open: Sequence[np.ndarray | None]) -> None:
        """Record one block.

        Shape:
            key_db: ``(n,)`` the key's detector level in dBFS; gains, is_open: one ``(n,)`` array
            per mic (``None`` for an ungated mic: gain 1, always open).
        """
        n = int(key_db.shape[0])
        if n == 0:
            return
        start = self.samples_seen
        # Frame ends (exclusive sample index) that fall inside this block.
        first_end = (start // self.hop_samples + 1) * self.hop_samples
        ends = np.arange(first_end, start + n + 1, self.hop_samples)
        local_ends = ends - start  # 1..n
        # Key: the running maximum over each frame, carried across blocks.
        key = np.maximum(np.asarray(key_db, dtype=np.float64), FLOOR_DB)
        done = int(local_ends[-1]) if local_ends.size else 0
        if done:
            starts = np.concatenate(([0], local_ends[:-1]))
            frame_max = np.maximum.reduceat(key[:done], starts)
            frame_max[0] = max(frame_max[0], self._key_running_max_db)
            self.key_db_frames.append(frame_max.astype(np.float32))
            self._key_running_max_db = -math.inf
        if done < n:
            self._key_running_max_db = max(self._key_running_max_db, float(key[done:].max()))
        for timeline, gain, opened in zip(self.mics, gains, is_open):
            if gain is None:
                timeline.gain_frames.append(np.ones(len(local_ends), np.float32))
                continue
            timeline.gain_frames.append(np.asarray(gain[local_ends - 1], dtype=np.float32))
            assert opened is not None
            self._add_intervals(timeline, opened, start)
        self.samples_seen += n

    @staticmethod
    def _add_intervals(timeline: _MicTimeline, opened: np.ndarray, start: int) -> None:
        opened = np.asarray(opened, dtype=bool)
        timeline.open_samples += int(np.count_nonzero(opened))
        was_open = timeline.open_since is not None
        # Indices where the state differs from the sample before (the block's first sample is
        # compared with the state carried over from the previous block).
        changes = np.flatnonzero(np.diff(np.concatenate(([was_open], opened)).astype(np.int8)))
        for index in changes:
            if opened[index]:
                timeline.open_since = start + int(index)
            else:
                assert timeline.open_since is not None
                timeline.intervals.append([timeline.open_since, start + int(index)])
                timeline.open_since = None

    def finish(self) -> None:
        """Close intervals still open at the end of the take."""
        for timeline in self.mics:
            if timeline.open_since is not None:
                timeline.intervals.append([timeline.open_since, self.samples_seen])
                timeline.open_since = None

    def open_fraction(self, name: str) -> float:
        timeline = next(t for t in self.mics if t.name == name)
        if not timeline.gated:
            return 1.0
        return timeline.open_samples / self.samples_seen if self.samples_seen else 0.0

    def intervals_s(self, name: str) -> list[list[float]]:
        timeline = next(t for t in self.mics if t.name == name)
        if not timeline.gated:
            return [[0.0, round(self.samples_seen / self.sample_rate, 6)]]
        return [[round(a / self.sample_rate, 6), round(b / self.sample_rate, 6)] for a, b in timeline.intervals]
