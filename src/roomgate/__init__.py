"""roomgate: Tony Visconti's gated multi-microphone vocal rig from "Heroes" (1977) as software.

The public API is loaded on first use, so ``import roomgate`` (and ``roomgate --help``) stays
instant: numpy, scipy, pyroomacoustics and numba are imported by the paths that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AudioFileNotFoundError,
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
    "Rig": "rig.rig",
    "Render": "rig.rig",
    "Calibration": "rig.rig",
    "load_preset": "rig.rig",
    "Gate": "dsp.gate",
    "GateSettings": "dsp.gate",
    "GateTrace": "dsp.gate",
    "gate": "dsp.gate",
    "Convolver": "dsp.convolve",
    "convolve_offline": "dsp.convolve",
    "read_audio": "io.audio",
    "write_audio": "io.audio",
    "resample": "io.audio",
    "sung_crescendo": "synth.voice",
    "builtin_presets": "config",
    "load_config": "config",
    "RigConfig": "config",
    "Room": "acoustics.room",
    "Microphone": "acoustics.room",
    "impulse_responses": "acoustics.room",
    "schroeder_t30_s": "acoustics.room",
    "BlockConvolver": "dsp.convolve",
    "estimate_delay": "dsp.align",
    "LiveEngine": "live",
}

__all__ = [
    "AudioFileNotFoundError",
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
    from .io.audio import read_audio, resample, write_audio
    from .config import RigConfig, builtin_presets, load_config
    from .dsp.align import estimate_delay
    from .dsp.convolve import BlockConvolver, Convolver, convolve_offline
    from .live import LiveEngine
    from .acoustics.room import Microphone, Room, impulse_responses, schroeder_t30_s
    from .dsp.gate import Gate, GateSettings, GateTrace, gate
    from .rig.rig import Calibration, Render, Rig, load_preset
    from .synth.voice import sung_crescendo
