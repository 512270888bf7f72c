"""The meters of what the page plays (A: dry, B: the rig, C: every gate open) and the gains that
level-match them, measured when the page asks for them: after it has the render's audio, so that
measuring never delays hearing a change.

:class:`LevelsWorker` keeps each render's measuring job until asked (a later render's job drops
an earlier one not yet asked for: the page only wants the latest), runs it once, and keeps the
results of the last few. :func:`file_levels` meters a file block by block, so a take of any length
is metered without holding it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .meters import LevelMeter, Levels, meter_signal

__all__ = ["LevelsWorker", "file_levels", "signal_levels"]

#: Results kept for renders the page may still ask about.
KEPT_RESULTS = 8

Job = Callable[[], dict[str, Any]]


def signal_levels(signal: np.ndarray, sample_rate: int) -> Levels:
    """Shape: signal ``(C, N)``."""
    return meter_signal(signal, sample_rate)


def file_levels(path: Path) -> Levels:
    """The meters of an audio file, read block by block."""
    from ..io.audio import audio_info, read_blocks

    info = audio_info(path)
    meter = LevelMeter(info.sample_rate, info.channels)
    for block in read_blocks(path):
        meter.add(block)
    return meter.result()


class LevelsWorker:
    """Each render's levels, measured once, when first asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the two dicts
        self._measuring = threading.Lock()  # one measurement at a time
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._results: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def submit(self, render_id: str, job: Job) -> None:
        """Keep ``job`` to measure ``render_id`` when asked; jobs not asked for yet are dropped."""
        with self._lock:
            self._jobs.clear()
            self._jobs[render_id] = job

    def get(self, render_id: str) -> dict[str, Any] | None:
        """The levels of ``render_id``, measured now if need be; None when unknown or dropped."""
        with self._measuring:
            with self._lock:
                if render_id in self._results:
                    return self._results[render_id]
                job = self._jobs.pop(render_id, None)
            if job is None:
                return None
            try:
                result = job()
            except Exception as error:  # noqa: BLE001 - reported to the page as a 500 with the reason
                result = {"error": f"levels: {error}"}
            with self._lock:
                self._results[render_id] = result
                while len(self._results) > KEPT_RESULTS:
                    self._results.popitem(last=False)
            return result
