"""The hall panel's data: each mic's impulse response as the page draws it, and its room measures.

Per mic, from its physical IR row (time zero: the singer sings): the envelope (the peak of
``|h|`` every 2 ms, dB re the IR's peak), the Schroeder decay curve from the direct sound (dB), and
the figures ``roomgate analyze`` gives for that IR: T30, EDT, C80 and DRR, broadband and per octave
band (:func:`roomgate.acoustics.measures.analyze`, the same function the command runs). An entry
depends only on the row's content, so :class:`HallCache` keeps them by
:func:`~roomgate.studio.capture.row_digest`: a moved mic is measured again, the others are not.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..acoustics.measures import direct_sound_index
from .capture import row_digest

__all__ = ["HallCache", "describe_ir"]

ENVELOPE_HOP_S = 0.002
DECAY_HOP_S = 0.005
SPAN_FLOOR_DB = -80.0  # the plot ends where the decay reaches this (or the IR does)
MAX_SPAN_S = 4.0
MEASURES = ("t30_s", "edt_s", "c80_db", "drr_db")
KEPT_ENTRIES = 32


def describe_ir(row: np.ndarray, sample_rate: int) -> dict[str, Any]:
    """The panel's entry for one IR row. Shape: row ``(L,)``."""
    h = np.asarray(row, dtype=np.float64)
    peak = float(np.max(np.abs(h))) if h.size else 0.0
    if not peak > 0:
        raise ValueError("the impulse response is silent")
    direct = direct_sound_index(h, sample_rate)
    energy = h[direct:] ** 2
    edc = np.cumsum(energy[::-1])[::-1]
    with np.errstate(divide="ignore"):
        decay_db = 10 * np.log10(edc / edc[0])
    below = np.flatnonzero(decay_db <= SPAN_FLOOR_DB)
    span = min(h.size, direct + (int(below[0]) if below.size else energy.size), int(MAX_SPAN_S * sample_rate))
    hop = max(1, int(round(ENVELOPE_HOP_S * sample_rate)))
    frames = -(-span // hop)
    padded = np.zeros(frames * hop)
    padded[:span] = np.abs(h[:span])
    with np.errstate(divide="ignore"):
        envelope = np.maximum(20 * np.log10(padded.reshape(frames, hop).max(axis=1) / peak), -120.0)
    step = max(1, int(round(DECAY_HOP_S * sample_rate)))
    decay = np.maximum(decay_db[: span - direct : step], -120.0)
    return {
        "span_s": round(span / sample_rate, 6),
        "direct_s": round(direct / sample_rate, 6),
        "envelope_hop_s": hop / sample_rate,
        "envelope_db": np.round(envelope, 1).tolist(),
        "decay_hop_s": step / sample_rate,
        "decay_db": np.round(decay, 2).tolist(),
        "measures": measure_ir(h, sample_rate),
    }


def measure_ir(h: np.ndarray, sample_rate: int) -> dict[str, dict[str, float | None]]:
    """T30, EDT, C80 and DRR of one IR, broadband (``"broadband"``) and per octave band
    (``"125"`` ... ``"8000"``), as ``roomgate analyze`` gives them; None where not measurable."""
    from ..acoustics.measures import analyze

    channel = analyze(h[np.newaxis, :], sample_rate).channels[0]
    return {name: {band: _finite(value) for band, value in getattr(channel, name).items()} for name in MEASURES}


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


class HallCache:
    """Entries by IR content and sample rate; the least recently used go first."""

    def __init__(self, max_entries: int = KEPT_ENTRIES):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()

    def describe(self, names: list[str], distances_m: list[float], irs: np.ndarray, sample_rate: int,
                 have: set[str]) -> dict[str, Any]:
        """The panel's data for a rig's mics; mics whose IR the page already has (digests in
        ``have``) are sent as ``{"name", "digest", "same": true}``. Shape: irs ``(M, L)``."""
        mics = []
        for name, distance_m, row in zip(names, distances_m, irs):
            digest = row_digest(row)
            if digest in have:
                mics.append({"name": name, "digest": digest, "same": True, "distance_m": round(distance_m, 4)})
                continue
            key = (digest, sample_rate)
            with self._lock:
                entry = self._entries.get(key)
            if entry is None:
                entry = describe_ir(row, sample_rate)
                with self._lock:
                    self._entries[key] = entry
                    while len(self._entries) > self.max_entries:
                        self._entries.popitem(last=False)
            mics.append({"name": name, "digest": digest, "distance_m": round(distance_m, 4), **entry})
        return {"sample_rate": sample_rate, "mics": mics}
