"""The rig's gates: a mic's :class:`~roomgate.config.GateConfig` made into a :class:`~roomgate.dsp.gate.Gate`.

The one place where a preset's gate settings meet the DSP: the threshold the calibration chose is
put in, and the gate's closing threshold is worked out for the report.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import GateConfig
    from ..dsp.gate import Gate


def build_gate(gate: GateConfig, threshold_db: float, *, lookahead: bool = True) -> Gate:
    """The Gate of a room mic, opening at ``threshold_db`` (dBFS of its key detector).

    ``lookahead=False`` drops the lookahead: for the calibration's probes, which read the key's
    level and need no delayed audio.
    """
    from ..dsp.gate import Gate

    settings: dict[str, Any] = {**gate.settings, "threshold_db": threshold_db}
    if not lookahead:
        settings["lookahead_ms"] = 0.0
    return Gate(**settings)


def gate_floor(gate: Gate) -> float:
    """The closed gate's gain (linear): its range floor, 0 for ``range_db = -inf``."""
    range_db = gate.settings.range_db
    return 0.0 if math.isinf(range_db) else 10 ** (range_db / 20)


def close_threshold_db(gate: GateConfig, threshold_db: float) -> float:
    """Where an open gate starts to close, dBFS: its opening point less the hysteresis.

    The opening point is the threshold, or for a soft-kneed expander the top of the knee.
    """
    settings = build_gate(gate, threshold_db, lookahead=False).settings
    expander = not math.isinf(settings.ratio)
    opens_db = threshold_db + (0.5 * settings.knee_db if expander else 0.0)
    return opens_db - settings.hysteresis_db
