"""Presets: TOML to validated, frozen dataclasses, every value typed once at the door; ``--set``.

- :mod:`.presets`: the built-in presets and preset files (:func:`load_config`);
- :mod:`.overrides`: ``--set KEY=VALUE`` on a raw table, mics by name;
- :mod:`.parse`: a raw table to a :class:`RigConfig` (errors name the key);
- :mod:`.rig_config`: the dataclasses everything downstream reads;
- :mod:`.thresholds`: a gate's threshold as a tagged type (absolute, percentile, re peak).
"""

from __future__ import annotations

from .overrides import apply_overrides, parse_override
from .parse import WALL_MARGIN_M, parse_config
from .presets import (
    builtin_presets,
    export_preset,
    load_config,
    preset_path,
    preset_toml,
    read_preset_table,
    user_preset_dir,
    user_presets,
)
from .rig_config import DRY_KEY, SELF_KEY, GateConfig, MicConfig, OutputConfig, RigConfig, SingerConfig
from .thresholds import AbsoluteThreshold, PercentileThreshold, RePeakThreshold, Threshold, parse_threshold

__all__ = [
    "DRY_KEY", "SELF_KEY", "WALL_MARGIN_M",
    "AbsoluteThreshold", "GateConfig", "MicConfig", "OutputConfig", "PercentileThreshold", "RePeakThreshold",
    "RigConfig", "SingerConfig", "Threshold",
    "apply_overrides", "builtin_presets", "load_config", "parse_config", "parse_override", "parse_threshold",
    "preset_path", "read_preset_table", "export_preset", "preset_toml", "user_preset_dir", "user_presets",
]
