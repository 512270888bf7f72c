"""A gate's threshold, typed once at the door: absolute, a percentile of the singing, or re peak.

A threshold may be absolute (dBFS of the gate's key detector) or fitted to the take:

- ``-30`` (or ``threshold_db = -30``): :class:`AbsoluteThreshold`;
- ``"p60"``: :class:`PercentileThreshold`, the 60th percentile of the key's level over the *sung*
  frames, so the gate opens on the louder 40 % of the singing whatever the recording level;
- ``"-6 dB re peak"``: :class:`RePeakThreshold`, that many dB below the loudest passage.

:func:`parse_threshold` is the only place that reads the text forms; everything downstream holds
one of these classes. A relative threshold becomes dBFS by :meth:`resolve_db` on the take's
:class:`~roomgate.dsp.levels.KeyStatistics` (see :mod:`roomgate.rig.calibration`). Adding a form
means one class here and one branch in :func:`parse_threshold`.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, RoomgateWarning

if TYPE_CHECKING:
    from ..dsp.levels import KeyStatistics

__all__ = ["AbsoluteThreshold", "PercentileThreshold", "RePeakThreshold", "Threshold", "parse_threshold"]

#: The lowest and highest absolute threshold a preset may ask for, dBFS.
MIN_THRESHOLD_DB = -150.0
MAX_THRESHOLD_DB = 24.0
#: The threshold a relative gate gets when the take holds no singing at all: shut.
NO_SINGING_THRESHOLD_DB = 24.0
#: "re peak" is measured from this percentile of the sung frames, so one click does not set it.
PEAK_PERCENTILE = 99.0

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$", re.IGNORECASE)
_RE_PEAK = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*dB\s+re\s+peak$", re.IGNORECASE)


@dataclass(frozen=True)
class AbsoluteThreshold:
    """A fixed threshold in dBFS of the key detector."""

    level_db: float
    is_relative = False

    @property
    def text(self) -> float:
        """As a preset writes it."""
        return self.level_db

    def resolve_db(self, statistics: KeyStatistics, where: str) -> float:
        return self.level_db


@dataclass(frozen=True)
class _Relative:
    """A threshold fitted to the take: resolved on its key statistics."""

    is_relative = True

    def resolve_db(self, statistics: KeyStatistics, where: str) -> float:
        """dBFS on this take; shut (with a warning naming ``where``) when the key holds no singing."""
        if statistics.sung_levels_db.size == 0:
            from ..dsp.levels import ABSOLUTE_FLOOR_DB

            warnings.warn(
                f"{where}: {self.text!r} is relative to the singing, but the key holds none (all below "
                f"{ABSOLUTE_FLOOR_DB:g} dBFS): the gate stays shut",
                RoomgateWarning,
                stacklevel=2,
            )
            return NO_SINGING_THRESHOLD_DB
        return self._resolve_db(statistics)

    @property
    def text(self) -> str:
        raise NotImplementedError

    def _resolve_db(self, statistics: KeyStatistics) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class PercentileThreshold(_Relative):
    """``"pNN"``: the NN-th percentile of the key's sung frame levels."""

    percent: float

    @property
    def text(self) -> str:
        return f"p{self.percent:g}"

    def _resolve_db(self, statistics: KeyStatistics) -> float:
        return statistics.percentile_db(self.percent)


@dataclass(frozen=True)
class RePeakThreshold(_Relative):
    """``"-6 dB re peak"``: this many dB from the loud end of the singing (its 99th percentile)."""

    offset_db: float

    @property
    def text(self) -> str:
        return f"{self.offset_db:g} dB re peak"

    def _resolve_db(self, statistics: KeyStatistics) -> float:
        return statistics.percentile_db(PEAK_PERCENTILE) + self.offset_db


Threshold = AbsoluteThreshold | PercentileThreshold | RePeakThreshold


def parse_threshold(value: Any, where: str) -> Threshold:
    """A threshold from a preset value: a number of dBFS, ``"pNN"`` or ``"-6 dB re peak"``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return AbsoluteThreshold(_absolute_db(value, where))
    if isinstance(value, str):
        text = value.strip()
        if (match := _PERCENTILE.match(text)) and 0 <= float(match.group(1)) < 100:
            return PercentileThreshold(float(match.group(1)))
        if match := _RE_PEAK.match(text):
            return RePeakThreshold(float(match.group(1)))
        try:
            return AbsoluteThreshold(_absolute_db(float(text), where))
        except ValueError:
            pass
    raise ConfigError(f"{where}: expected dBFS (-30), a percentile ('p60') or '-6 dB re peak', got {value!r}")


def _absolute_db(value: float, where: str) -> float:
    try:
        level_db = float(value)
    except OverflowError:
        level_db = math.inf
    if not (math.isfinite(level_db) and MIN_THRESHOLD_DB <= level_db <= MAX_THRESHOLD_DB):
        raise ConfigError(
            f"{where}: expected a number from {MIN_THRESHOLD_DB:g} to {MAX_THRESHOLD_DB:g}, got {value!r}"
        )
    return level_db
