"""The rig as the page draws it: the room, the singer's line, each mic and its gate, in metres,
dB and dBFS, as JSON."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from ..acoustics.room import Room
from ..config import MicConfig
from ..errors import RoomgateError
from ..rig import Rig
from ..rig.gates import build_gate, close_threshold_db

__all__ = ["describe_rig"]


def describe_rig(rig: Rig, overrides: Sequence[str], preset_name: str) -> dict[str, Any]:
    """The rig as the page draws it: metres, dB, dBFS."""
    config = rig.config
    room, singer = config.room, config.singer
    return {
        "preset": preset_name,
        "name": config.name,
        "description": config.description,
        "room": {
            "size_m": list(room.size_m),
            "rt60_s": room.rt60_s,
            "materials": room.materials,
            "critical_distance_m": _rounded(_critical_distance_m(room)),
        },
        "singer": {"position_m": list(singer.position_m), "toward_m": list(singer.toward_m)},
        "line": {"direction": [round(float(v), 6) for v in singer.line_direction]},
        "mics": [_describe_mic(rig, mic) for mic in config.mics],
        "output": dataclasses.asdict(config.output),
        "overrides": list(overrides),
    }


def _describe_mic(rig: Rig, mic: MicConfig) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": mic.name,
        "distance_m": round(mic.distance_m, 4),
        "position_m": [round(float(v), 4) for v in mic.position_m],
        "placed": "distance" if mic.on_line else "position",
        "pattern": mic.pattern,
        "gain_db": mic.gain_db,
        "pan": mic.pan,
        "measured_ir": mic.ir is not None,
        "gate": None,
    }
    gate = rig.gate_config(mic.name)
    if mic.gate is not None and gate is not None:
        threshold_db = rig.threshold_db(mic.name)
        settings = build_gate(gate, 0.0 if threshold_db is None else threshold_db).settings
        entry["gate"] = {
            "key": mic.gate.key,
            "threshold": mic.gate.threshold.text,  # as set: dBFS, or "p65" resolved on the take
            "threshold_db": _rounded(threshold_db),
            "close_threshold_db": None if threshold_db is None else _rounded(close_threshold_db(mic.gate, threshold_db)),
            "hysteresis_db": settings.hysteresis_db,
            "attack_ms": settings.attack_ms,
            "hold_ms": settings.hold_ms,
            "release_ms": settings.release_ms,
            "range_db": None if math.isinf(settings.range_db) else settings.range_db,
            "duck_db": mic.gate.duck_db,
        }
    return entry


def _critical_distance_m(room: Room) -> float | None:
    from ..acoustics.room import critical_distance_m

    try:
        value = critical_distance_m(room)
    except (RoomgateError, ValueError, KeyError):
        return None
    return value if math.isfinite(value) else None



def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)

