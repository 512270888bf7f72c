"""The rig's gates: a mic's :class:`~roomgate.config.GateConfig` made into a :class:`~roomgate.dsp.gate.Gate`.

The one place where a preset's gate settings meet the DSP: times set to ``"room"`` are derived
from the room's decay, the threshold the calibration chose is put in, and the gate's closing
threshold is read back for the report.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import GateConfig
    from ..dsp.gate import Gate


def with_room_times(gate: GateConfig, decay_s: float) -> GateConfig:
    """``gate`` with its ``"room"`` hold and release made numbers for a room decaying in ``decay_s``
    (RT60, s): hold while the hall decays 24 dB, then fall at the hall's own rate
    (:func:`roomgate.dsp.gate.room_hold_release_ms`)."""
    if not gate.room_timed:
        return gate
    from ..dsp.gate import room_hold_release_ms

    hold_ms, release_ms = room_hold_release_ms(decay_s, float(gate.settings.get("range_db", -math.inf)))
    times = {"hold_ms": round(hold_ms, 3), "release_ms": round(release_ms, 3)}
    return replace(gate, settings={**gate.settings, **{name: times[name] for name in gate.room_timed}}, room_timed=())


def build_gate(gate: GateConfig, threshold_db: float, *, lookahead: bool = True) -> Gate:
    """The Gate of a room mic, opening at ``threshold_db`` (dBFS of its key detector).

    ``gate`` must have its ``"room"`` times resolved (:func:`with_room_times`).
    ``lookahead=False`` drops the lookahead: for the calibration's probes, which read the key's
    level and need no delayed audio.
    """
    from ..dsp.gate import Gate

    assert not gate.room_timed, "resolve the 'room' times first"
    settings: dict[str, Any] = {**gate.settings, "threshold_db": threshold_db}
    if not lookahead:
        settings["lookahead_ms"] = 0.0
    return Gate(**settings)


def gate_floor(gate: Gate) -> float:
    """The closed gate's gain (linear): its range floor, 0 for ``range_db = -inf``."""
    range_db = gate.settings.range_db
    return 0.0 if math.isinf(range_db) else 10 ** (range_db / 20)


def close_threshold_db(gate: GateConfig, threshold_db: float) -> float:
    """Where an open gate starts to close, dBFS of its key detector: its opening point (the
    threshold, or a soft-kneed expander's top of the knee) less the hysteresis."""
    from ..dsp.gate import GateSettings

    settings = {k: v for k, v in gate.settings.items()}
    return GateSettings.from_dict({**settings, "threshold_db": threshold_db}).close_threshold_db
