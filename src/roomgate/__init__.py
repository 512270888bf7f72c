"""roomgate: Tony Visconti's gated multi-microphone vocal rig from "Heroes" (1977) as software.

The public API is loaded on first use, so ``import roomgate`` (and ``roomgate --help``) stays
instant: numpy, scipy, pyroomacoustics and numba are imported by the paths that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AudioInputError,
    ConfigError,
    MissingDependencyError,
    OutputError,
    RoomgateError,
    RoomgateWarning,
)

__version__ = "0.1.0"

# Public name -> the module that defines it.
_LAZY = {
    "Rig": "rig",
    "Render": "rig",
    "Calibration": "rig",
    "load_preset": "rig",
    "Gate": "gate",
    "GateSettings": "gate",
    "GateTrace": "gate",
    "gate": "gate",
    "Convolver": "convolve",
    "convolve_offline": "convolve",
    "read_audio": "audio",
    "write_audio": "audio",
    "resample": "audio",
    "sung_crescendo": "voice",
    "builtin_presets": "config",
    "load_config": "config",
    "RigConfig": "config",
    "Room": "room",
    "Microphone": "room",
    "impulse_responses": "room",
    "schroeder_t30_s": "room",
    "BlockConvolver": "convolve",
    "estimate_delay": "align",
    "LiveEngine": "live",
}

__all__ = [
    "AudioInputError",
    "ConfigError",
    "MissingDependencyError",
    "OutputError",
    "RoomgateError",
    "RoomgateWarning",
    "__version__",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'roomgate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .audio import read_audio, resample, write_audio
    from .config import RigConfig, builtin_presets, load_config
    from .align import estimate_delay
    from .convolve import BlockConvolver, Convolver, convolve_offline
    from .live import LiveEngine
    from .room import Microphone, Room, impulse_responses, schroeder_t30_s
    from .gate import Gate, GateSettings, GateTrace, gate
    from .rig import Calibration, Render, Rig, load_preset
    from .voice import sung_crescendo
