"""roomgate: Tony Visconti's gated multi-microphone vocal rig from "Heroes" (1977) as software."""

from __future__ import annotations

from .errors import (
    AudioInputError,
    ConfigError,
    MissingDependencyError,
    OutputError,
    RoomgateError,
    RoomgateWarning,
)

__version__ = "0.1.0"

__all__ = [
    "AudioInputError",
    "ConfigError",
    "MissingDependencyError",
    "OutputError",
    "RoomgateError",
    "RoomgateWarning",
    "__version__",
]
