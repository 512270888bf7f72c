"""The gate timeline: what each mic did, when, as a JSON report (see DESIGN.md for its keys).

:class:`TimelineRecorder` follows a render block by block (any block sizes give the same
timeline), keeping only a few numbers per ``hop_s`` and the sample-exact open intervals, so
memory does not grow with the take's per-sample length. Nothing here does DSP.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def build_report(
    recorder: TimelineRecorder,
    mics: Sequence[dict[str, Any]],
    *,
    preset: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report as a JSON-ready dict.

    ``mics`` gives, per mic in rig order: ``name``, ``distance_m``, ``gain_db`` (the trim, gate
    aside), ``threshold_db`` (``None`` when ungated) and any other fields to pass through.
    """
    recorder.finish()
    mic_entries = []
    for info in mics:
        name = info["name"]
        entry = dict(info)
        entry["open_fraction"] = round(recorder.open_fraction(name), 6)
        entry["intervals"] = recorder.intervals_s(name)
        mic_entries.append(entry)
    report: dict[str, Any] = {
        "roomgate_version": _version(),
        "preset": preset,
        "sample_rate": recorder.sample_rate,
        "duration_s": round(recorder.samples_seen / recorder.sample_rate, 6),
        "mics": mic_entries,
        "timeline": {
            "hop_s": recorder.hop_s,
            "key_db": _rounded(recorder.key_db_frames, 2),
            "gain": {t.name: _rounded(t.gain_frames, 5) for t in recorder.mics},
        },
    }
    if extra:
        report.update(_finite(extra))
    report["mics"] = _finite(report["mics"])
    return report


def write_report(path: str | os.PathLike[str], report: dict[str, Any]) -> Path:
    """Write the report as JSON, atomically."""
    from ..io.audio import atomic_output

    path = Path(path)
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return path


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """Rows for the CLI's table: mic, distance, trim, threshold, open %, first opening."""
    rows = []
    for mic in report["mics"]:
        threshold = mic.get("threshold_db")
        intervals = mic["intervals"]
        first = "always" if threshold is None else (f"{intervals[0][0]:.2f} s" if intervals else "never")
        rows.append((
            mic["name"],
            f"{mic['distance_m']:.2f} m" if mic.get("distance_m") is not None else "-",
            f"{mic['gain_db']:+.1f} dB",
            "open" if threshold is None else f"{threshold:.1f} dBFS",
            f"{100 * mic['open_fraction']:.0f}%",
            first,
        ))
    return rows


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _rounded(chunks: list[np.ndarray], decimals: int) -> list[float]:
    if not chunks:
        return []
    return np.round(np.concatenate(chunks).astype(np.float64), decimals).tolist()


def _finite(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _version() -> str:
    from .. import __version__

    return __version__
