"""The rig's description: frozen dataclasses holding values already typed and resolved.

:func:`roomgate.config.parse.parse_config` builds these from a preset table; everything
downstream reads them and never parses again: a mic's position is resolved from its distance,
a threshold is a :mod:`~roomgate.config.thresholds` type, a measured IR file is an absolute path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..acoustics.room import Room
from .thresholds import AbsoluteThreshold, Threshold

Vector3 = tuple[float, float, float]

#: A gate keyed by the dry input (the source itself) or by the mic's own signal, not another mic.
DRY_KEY = "dry"
SELF_KEY = "self"


@dataclass(frozen=True)
class SingerConfig:
    """Where the singer stands (m), the line the mics stand on (from her toward ``toward_m``), how
    her voice radiates (``"voice"``: highs beamed forward, or ``"omni"``) and where she faces (a
    direction; resolved at parse time: horizontally along the mics' line unless the preset says)."""

    position_m: Vector3
    toward_m: Vector3
    directivity: str = "voice"
    facing: Vector3 = (1.0, 0.0, 0.0)

    @property
    def line_direction(self) -> Vector3:
        """Unit vector from the singer along the mics' line."""
        delta = [t - s for t, s in zip(self.toward_m, self.position_m)]
        length = math.sqrt(sum(d * d for d in delta))
        return (delta[0] / length, delta[1] / length, delta[2] / length)

    def point_on_line_m(self, distance_m: float) -> Vector3:
        """The point ``distance_m`` metres from the singer along the mics' line."""
        delta = [t - s for t, s in zip(self.toward_m, self.position_m)]
        length = math.sqrt(sum(d * d for d in delta))
        s, d = self.position_m, delta
        return (s[0] + distance_m * d[0] / length, s[1] + distance_m * d[1] / length, s[2] + distance_m * d[2] / length)


@dataclass(frozen=True)
class GateConfig:
    """A room mic's gate: what keys it, where it opens, and the :class:`~roomgate.dsp.gate.Gate`'s
    other settings (validated by the Gate, passed to it as keywords)."""

    key: str = "close"  # a mic's name, DRY_KEY or SELF_KEY
    threshold: Threshold = AbsoluteThreshold(-40.0)
    duck_db: float = 0.0  # ducks the nearer gated mics by this much while this gate is open
    settings: dict[str, Any] = field(default_factory=dict)
    room_timed: tuple[str, ...] = ()  # settings set to "room" ("hold_ms", "release_ms"): the rig fills them


@dataclass(frozen=True)
class MicConfig:
    """One microphone, placed: ``position_m`` is always resolved; ``on_line`` says whether the
    preset placed it by ``distance_m`` along the singer's line (the studio drags it along it)."""

    name: str
    position_m: Vector3
    distance_m: float  # from the singer, m
    on_line: bool = True
    pattern: str = "omni"
    aim_m: Vector3 | None = None
    gain_db: float = 0.0  # the trim; with match_offset_lu set, resolved by calibration instead
    match_offset_lu: float | None = None  # gain_db = "match -6": loudness-matched to the close mic
    pan: float = 0.0  # -1 hard left .. +1 hard right (stereo output only)
    invert_polarity: bool = False
    ir: str | None = None  # a measured impulse response file (absolute path) instead of the room
    gate: GateConfig | None = None


@dataclass(frozen=True)
class OutputConfig:
    channels: int = 1
    normalize: str = "peak"  # "peak": scale the render to peak_db; "none": keep the trims as they are
    peak_db: float = -1.0
    tail_s: float | None = None  # room tail kept after the input ends; None = the IRs' length


@dataclass(frozen=True)
class RigConfig:
    """A validated preset. Mics are in the preset's order, which is also a multitrack's order."""

    name: str
    description: str
    room: Room
    singer: SingerConfig
    mics: tuple[MicConfig, ...]
    output: OutputConfig
    source: str = "<memory>"
    # A measured multichannel IR file (absolute path), one channel per mic, instead of the room.
    room_ir: str | None = None

    @property
    def mic_names(self) -> list[str]:
        return [m.name for m in self.mics]

    def mic(self, name: str) -> MicConfig:
        for mic in self.mics:
            if mic.name == name:
                return mic
        raise KeyError(name)

    def key_index(self, mic_index: int) -> int | None:
        """The index of the mic whose signal keys mic ``mic_index``'s gate; None: the dry input."""
        gate = self.mics[mic_index].gate
        assert gate is not None, "an ungated mic has no key"
        if gate.key == SELF_KEY:
            return mic_index
        return None if gate.key == DRY_KEY else self.mic_names.index(gate.key)

    @property
    def nearest_mic_index(self) -> int:
        """The mic nearest the singer: the one that hears a dry take at its own level."""
        return min(range(len(self.mics)), key=lambda i: self.mics[i].distance_m)

    @property
    def relative_settings(self) -> list[str]:
        """The preset keys fitted to the performance (relative thresholds, matched trims)."""
        keys = [f"mics.{m.name}.gate.threshold" for m in self.mics if m.gate and m.gate.threshold.is_relative]
        return keys + [f"mics.{m.name}.gain_db" for m in self.mics if m.match_offset_lu is not None]
