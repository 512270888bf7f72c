"""Acoustics: the room, the singer and the mics as geometry and materials, turned into impulse
responses; measured IRs; the IR cache; room measures. Knows nothing of gates or mixing.

Where each concept lives:

* :mod:`.room` -- :class:`Room` (size, decay per band or materials, air), :class:`Singer`,
  :class:`Microphone`; the physics (speed of sound, air absorption, Sabine/Eyring per band,
  critical distance) and :func:`validate`;
* :mod:`.directivity` -- mic polar patterns and the singer's voice directivity;
* :mod:`.simulate` -- the hybrid model: image sources, a diffuse field from the first
  reflection on, a late decay that is diffuse noise;
* :mod:`.responses` -- :func:`impulse_responses`, the entry point;
* :mod:`.cache` -- the per-row IR cache, on disk and in memory;
* :mod:`.measured` -- measured IR files;
* :mod:`.measures` -- T20, T30, EDT, C50, C80, D50, DRR, echo density, tail roughness, and
  :func:`analyze`.

Importing this package is cheap: pyroomacoustics and scipy.signal load when first needed.
"""

from __future__ import annotations

from .cache import cache_dir, cache_usage, clear_cache
from .directivity import PATTERN_P, PATTERNS, SINGER_DIRECTIVITIES
from .measured import load_measured_irs
from .measures import Analysis, ChannelAnalysis, analyze, schroeder_t30_s
from .responses import ALGORITHM_VERSION, impulse_responses
from .room import (
    WALLS,
    Microphone,
    Room,
    Singer,
    air_absorption_per_m,
    critical_distance_m,
    place_on_line,
    rt60_bands_s,
    speed_of_sound_m_s,
    validate,
)

__all__ = [
    "ALGORITHM_VERSION",
    "PATTERNS",
    "PATTERN_P",
    "SINGER_DIRECTIVITIES",
    "WALLS",
    "Analysis",
    "ChannelAnalysis",
    "Microphone",
    "Room",
    "Singer",
    "air_absorption_per_m",
    "analyze",
    "cache_dir",
    "cache_usage",
    "clear_cache",
    "critical_distance_m",
    "impulse_responses",
    "load_measured_irs",
    "place_on_line",
    "rt60_bands_s",
    "schroeder_t30_s",
    "speed_of_sound_m_s",
    "validate",
]
