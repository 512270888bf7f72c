"""Measured impulse responses: files read once, resampled to the rate asked.

A measured room comes as one file per mic (``Microphone(ir_path=...)``, its first channel) or one
multichannel file with a channel per mic (:func:`load_measured_irs`). Time zero is kept as
recorded. Each file is read once per (path, modification time, size, rate) and kept in a small
in-memory LRU, so re-rendering with a measured hall does not re-read or re-resample it.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import AudioInputError, RoomgateWarning
from ..units import check_sample_rate
from .room import Microphone

__all__ = ["MEASURED_CACHE_FILES", "load_measured_irs", "read_ir_file", "read_mic_ir"]

#: How many (file, rate) readings the in-memory LRU keeps.
MEASURED_CACHE_FILES = 32

_LOCK = threading.Lock()
_READ: OrderedDict[tuple[str, int, int, int], np.ndarray] = OrderedDict()


def read_ir_file(path: str | os.PathLike[str], sample_rate: int) -> np.ndarray:
    """A measured IR file at ``sample_rate``: shape ``(C, L)`` float32, read-only.

    Raises :class:`AudioInputError` naming the file when it is missing, not audio, or silent.
    """
    from ..io.audio import read_audio, resample

    try:
        stat = Path(path).stat()
        key: tuple[str, int, int, int] | None = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, sample_rate)
    except OSError:
        key = None  # read_audio says what is wrong with the path
    if key is not None:
        with _LOCK:
            if key in _READ:
                _READ.move_to_end(key)
                return _READ[key]
    audio, file_rate = read_audio(path)
    if file_rate != sample_rate:
        audio = resample(audio, file_rate, sample_rate)
    if not np.any(audio):
        raise AudioInputError(f"{path}: the impulse response is silent; expected a measured room response")
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    audio.setflags(write=False)
    if key is not None:
        with _LOCK:
            _READ[key] = audio
            while len(_READ) > MEASURED_CACHE_FILES:
                _READ.popitem(last=False)
    return audio


def read_mic_ir(mic: Microphone, sample_rate: int) -> np.ndarray:
    """A measured mic's IR: the first channel of its ``ir_path`` (with a warning if it has more), ``(L,)``."""
    audio = read_ir_file(mic.ir_path, sample_rate)  # type: ignore[arg-type]
    if audio.shape[0] > 1:
        warnings.warn(
            f"mics.{mic.name}.ir_path: {mic.ir_path} has {audio.shape[0]} channels; using the first",
            RoomgateWarning,
            stacklevel=3,
        )
    return audio[0]


def load_measured_irs(path: str | os.PathLike[str], sample_rate: int, n_mics: int) -> np.ndarray:
    """One multichannel IR file, a channel per mic in the rig's order, at ``sample_rate``.

    Shape: returns ``(n_mics, L)`` float32, time zero as recorded.
    Raises :class:`AudioInputError` naming the file when it is unreadable or its channel count is not ``n_mics``.
    """
    sample_rate = check_sample_rate(sample_rate)
    audio = read_ir_file(path, sample_rate)
    if audio.shape[0] != n_mics:
        raise AudioInputError(f"{path}: has {audio.shape[0]} channels; expected {n_mics}, one per mic")
    return np.array(audio)
