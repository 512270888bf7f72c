"""Units and the few rules every layer shares: lengths, decibels, the sample-rate rule, mic patterns.

Everything here is plain Python (no numpy), so any layer may import it at no cost.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from .errors import AudioInputError, ConfigError

__all__ = [
    "MAX_SAMPLE_RATE_HZ",
    "MIN_SAMPLE_RATE_HZ",
    "PATTERNS",
    "SampleRateError",
    "check_sample_rate",
    "db_to_gain",
    "gain_to_db",
    "parse_length_m",
]

# -- sample rates --------------------------------------------------------------------------------

#: The one sample-rate rule of the library: a whole number of Hz in this range, for files, rooms,
#: gates, the demo voice, live streams and the studio alike.
MIN_SAMPLE_RATE_HZ = 8_000
MAX_SAMPLE_RATE_HZ = 192_000


class SampleRateError(AudioInputError, ConfigError):
    """A sample rate outside the library's rule: both an input and a setting error (ValueError)."""


def check_sample_rate(sample_rate: object, where: str = "sample_rate") -> int:
    """``sample_rate`` as an int, or :class:`SampleRateError` naming ``where``.

    Accepts ints and integral floats (``48000.0``) from :data:`MIN_SAMPLE_RATE_HZ` to
    :data:`MAX_SAMPLE_RATE_HZ`; refuses bools, strings, NaN and everything else.
    """
    expected = (f"expected a positive finite whole number of Hz from {MIN_SAMPLE_RATE_HZ} to "
                f"{MAX_SAMPLE_RATE_HZ}, got {sample_rate!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise SampleRateError(f"{where}: {expected}")
    rate = float(sample_rate)
    if not (math.isfinite(rate) and rate == int(rate) and MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ):
        raise SampleRateError(f"{where}: {expected}")
    return int(rate)


# -- decibels ------------------------------------------------------------------------------------


def db_to_gain(level_db: float) -> float:
    """Amplitude gain of ``level_db`` dB: ``10 ** (dB / 20)`` (``-inf`` dB gives 0)."""
    return 0.0 if level_db == -math.inf else 10.0 ** (level_db / 20.0)


def gain_to_db(gain: float, floor_db: float = -math.inf) -> float:
    """Level in dB of an amplitude ``gain`` (``floor_db`` for 0 or less)."""
    return 20.0 * math.log10(gain) if gain > 0 else floor_db


# -- lengths -------------------------------------------------------------------------------------

_LENGTH = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(m|cm|mm|ft|feet|foot|in|inch|inches|\"|')?\s*$")
_METRES_PER_UNIT: dict[str | None, float] = {
    None: 1.0, "m": 1.0, "cm": 0.01, "mm": 0.001,
    "ft": 0.3048, "feet": 0.3048, "foot": 0.3048, "'": 0.3048,
    "in": 0.0254, "inch": 0.0254, "inches": 0.0254, '"': 0.0254,
}


def parse_length_m(value: Any, where: str) -> float:
    """A length in metres from a number (metres) or text with a unit: ``"50ft"``, ``"9in"``, ``"6.1 m"``.

    Raises :class:`ConfigError` naming ``where`` for anything else (or a non-finite number).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number, unit = float(value), None
        except OverflowError:
            raise ConfigError(f"{where}: expected a length in metres, got one too large") from None
    elif isinstance(value, str) and (match := _LENGTH.match(value)):
        number, unit = float(match.group(1)), match.group(2)
    else:
        raise ConfigError(f"{where}: expected a length such as 6.1, '6.1m', '20ft' or '9in', got {value!r}")
    if not math.isfinite(number):
        raise ConfigError(f"{where}: expected a finite length, got {value!r}")
    return number * _METRES_PER_UNIT[unit]


# -- microphones ---------------------------------------------------------------------------------

#: The polar patterns a mic may have (first-order family; acoustics/ gives their shapes).
PATTERNS = ("omni", "cardioid", "supercardioid", "hypercardioid", "figure8")
