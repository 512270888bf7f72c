"""What the mics heard of one take, kept between the studio's renders.

Re-gating and re-mixing a 30 s take costs tens of milliseconds; convolving it with every mic's
impulse response costs most of a second. So the studio keeps, per take, the captured signal of
each mic (``convolve(dry, capture IR row)``) keyed by the content of that mic's capture IR row:
a gate, trim or solo change reuses them all and only runs the gates and the mix
(:meth:`~roomgate.rig.Rig.render_captured`); a moved mic convolves that mic alone; a mic moved
back to where it was is found in the cache. Rows are keyed by content, not by geometry, so
whatever changes an IR (a mic, the room, the singer, a nearer close mic rescaling all of them)
is seen without the studio knowing why.

:func:`calibration_key` says when a calibration (the take's fitted relative thresholds and matched
trims) can be reused: it depends on the take, the keying mics' captures and the detectors, not on
the gates' timing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..config import RigConfig

__all__ = ["CaptureCache", "calibration_key", "row_digest"]

#: Captured rows of earlier mic positions kept per take, besides the current ones, within this many bytes.
SPARE_ROWS_BYTES = 192 * 2**20
# Gate settings that change when the gate opens and how it moves, never what its detector reads
# (the calibration's probes run at a fixed threshold and read only the detector's level, which
# the RMS detector computes from the key alone).
_TIMING_ONLY = frozenset({"attack_ms", "hold_ms", "release_ms", "range_db", "hysteresis_db"})


def row_digest(row: np.ndarray) -> str:
    """A digest of an IR row's content, trailing zeros aside (a row padded to a longer matrix is
    the same row)."""
    row = np.ascontiguousarray(row, dtype=np.float32)
    nonzero = row[::-1] != 0
    end = row.size - int(np.argmax(nonzero)) if nonzero.any() else 0
    return hashlib.blake2b(row[:end].tobytes(), digest_size=16).hexdigest() + f":{end}"


class CaptureCache:
    """One dry take's captured mic signals.

    Shape: ``dry`` is ``(1, N)`` float32; :meth:`captured` gives ``(M, N + tail)`` float32.

    Thread-safe: a row another thread is convolving (a prefetch while the mic is dragged) is
    waited for, not convolved twice.
    """

    def __init__(self, dry: np.ndarray, spare_bytes: int = SPARE_ROWS_BYTES):
        self.dry = dry
        self.spare_bytes = spare_bytes
        self._lock = threading.Lock()
        # Captures not in the current matrix (earlier positions, prefetched ones): digest -> (N + L - 1,)
        self._spare: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}  # rows being convolved now
        self._current: tuple[tuple[str, ...], int, np.ndarray] | None = None  # digests, tail, matrix
        self._last_irs: list[tuple[np.ndarray, str]] = []  # the IR rows last seen, with their digests

    def captured(self, irs: np.ndarray, tail_samples: int) -> tuple[np.ndarray, list[int], tuple[str, ...]]:
        """The mics' signals for ``irs`` (the rig's ``(M, L)`` capture IRs), ``tail_samples`` of
        the room's tail after the take included; the indices of the mics convolved anew; and
        the rows' digests (:func:`row_digest`).

        The array returned is never written to afterwards (a new one is made when a row
        changes), so a render still using it in another thread is safe.
        """
        digests = self._digests(irs)
        length = self.dry.shape[1] + tail_samples
        with self._lock:
            current = self._current
            if current is not None and current[0] == digests and current[1] == tail_samples:
                return current[2], [], digests
            found = dict(zip(current[0], current[2])) if current is not None else {}
            rows = {d: found[d] for d in digests if d in found and self._usable(d, found[d], length)}
        wanted = [i for i, d in enumerate(digests) if d not in rows and d not in digests[:i]]
        obtained, new = self._obtain(irs, digests, wanted)
        rows.update(obtained)
        matrix = np.zeros((len(digests), length), np.float32)
        for index, digest in enumerate(digests):
            row = rows[digest]
            matrix[index, : min(length, row.size)] = row[:length]
        with self._lock:
            if current is not None:  # keep the rows being replaced, for a mic moved back
                for index, digest in enumerate(current[0]):
                    if digest not in digests and digest not in self._spare:
                        self._keep_spare(digest, current[2][index].copy())
            for digest in digests:  # (now in the matrix)
                self._spare.pop(digest, None)
            self._current = (digests, tail_samples, matrix)
        return matrix, new, digests

    def prefetch(self, irs: np.ndarray) -> None:
        """Convolve the take with the rows of ``irs`` not seen yet (for a mic being dragged), so
        that the render after it is let go runs the gates and the mix only."""
        digests = self._digests(irs, remember=False)
        with self._lock:
            have = set(self._spare) | (set(self._current[0]) if self._current else set())
        self._obtain(irs, digests, [i for i, d in enumerate(digests) if d not in have and d not in digests[:i]])

    def _obtain(self, irs: np.ndarray, digests: tuple[str, ...], indices: list[int]) -> tuple[dict[str, np.ndarray], list[int]]:
        """The captures of rows ``indices``: kept, convolved here (all in one call), or waited for
        while another thread convolves them. Returns them by digest, and the indices convolved here."""
        got: dict[str, np.ndarray] = {}
        convolved: list[int] = []
        todo = list(indices)
        while todo:
            mine: list[int] = []
            waits: list[threading.Event] = []
            with self._lock:
                for index in todo:
                    digest = digests[index]
                    if digest in self._spare:
                        got[digest] = self._spare[digest]
                    elif digest in self._pending:
                        waits.append(self._pending[digest])
                    else:
                        self._pending[digest] = threading.Event()
                        mine.append(index)
            if mine:
                try:
                    rows = self._convolve(irs[mine])
                    with self._lock:
                        for index, row in zip(mine, rows):
                            got[digests[index]] = row
                            self._keep_spare(digests[index], row)
                    convolved += mine
                finally:
                    with self._lock:
                        for index in mine:
                            self._pending.pop(digests[index]).set()
            for event in waits:
                event.wait()
            todo = [i for i in todo if digests[i] not in got]
        return got, convolved

    def _digests(self, irs: np.ndarray, remember: bool = True) -> tuple[str, ...]:
        """The rows' digests; a row equal to one seen last time keeps its digest (comparing is
        cheaper than hashing)."""
        last = self._last_irs
        pairs = []
        for index, row in enumerate(irs):
            seen = last[index] if index < len(last) else None
            same = seen is not None and seen[0].shape == row.shape and np.array_equal(seen[0], row)
            pairs.append((row, seen[1] if same and seen is not None else row_digest(row)))
        if remember:
            self._last_irs = pairs
        return tuple(digest for _, digest in pairs)

    def _usable(self, digest: str, row: np.ndarray, length: int) -> bool:
        """Whether a kept capture covers ``length`` samples: it does when it is whole (the take's
        length plus the IR's, less one) or at least that long."""
        ir_length = int(digest.rsplit(":", 1)[1])
        return row.size >= min(length, self.dry.shape[1] + ir_length - 1)

    def _convolve(self, rows: np.ndarray) -> np.ndarray:
        """``(K, L)`` IR rows -> ``(K, N + L - 1)`` captures, one FFT of the take shared by all."""
        from ..dsp.convolve import convolve_offline

        return convolve_offline(self.dry, rows)

    def _keep_spare(self, digest: str, row: np.ndarray) -> None:
        self._spare[digest] = row
        self._spare.move_to_end(digest)
        total = sum(r.nbytes for r in self._spare.values())
        while len(self._spare) > 1 and total > self.spare_bytes:
            _, dropped = self._spare.popitem(last=False)
            total -= dropped.nbytes


def calibration_key(config: RigConfig, digests: Sequence[str]) -> str:
    """What a calibration of ``config`` on a capture with IR rows ``digests`` depends on: two rigs
    with the same key calibrate alike on the same take, so the calibration can be reused.

    Relative thresholds depend on their key mic's capture, the threshold's form and the detector;
    not on the gate's attack, hold, release, range or hysteresis (for the RMS detector; a peak
    detector's gate counts whole). Matched trims depend on everything, so any makes the key whole.
    """
    parts: list[object] = []
    matched = any(m.match_offset_lu is not None for m in config.mics)
    for index, mic in enumerate(config.mics):
        gate = mic.gate
        if matched:
            parts.append([mic.name, digests[index], mic.gain_db, mic.match_offset_lu,
                          None if gate is None else [gate.key, gate.threshold.text, sorted(gate.settings.items())]])
            continue
        if gate is None or not gate.threshold.is_relative:
            continue
        key_index = config.key_index(index)
        settings = gate.settings
        if settings.get("detector", "peak") == "rms":  # (the Gate's default detector is the peak)
            settings = {k: v for k, v in settings.items() if k not in _TIMING_ONLY}
        parts.append([mic.name, gate.key, None if key_index is None else digests[key_index],
                      gate.threshold.text, sorted(settings.items())])
    return json.dumps(parts, default=str)
