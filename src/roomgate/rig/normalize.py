"""The one rule that turns a mix's level into its normalisation gain.

A render is normalised by a gain that brings its level (the peak, in dBFS) to the target. A
take with nothing in it (digital silence, or a float file holding only subnormal numbers such
as 1e-39) would ask for a gain of hundreds of dB: multiplied in float32 that overflows to
infinity, and the file written holds inf and NaN. So a mix below :data:`SILENCE_DB` is taken as
silence and left as it is (with a :class:`~roomgate.errors.RoomgateWarning`, which the command
line prints as a note), and a level that is not a number is refused. The gain this gives is at
most ``target - SILENCE_DB`` (200 dB), which float32 holds with room to spare.
"""

from __future__ import annotations

import math
import warnings

from ..errors import AudioInputError, RoomgateWarning

__all__ = ["SILENCE_DB", "normalization_gain_db"]

#: A mix whose level is below this (dBFS) is silence: 24-bit audio's noise floor is near -144 dBFS,
#: float32's smallest normal number near -758 dBFS. Nothing audible lies below -200 dBFS.
SILENCE_DB = -200.0


def normalization_gain_db(level_db: float, target_db: float, *, measure: str = "peak") -> float:
    """The gain (dB) that brings a mix at ``level_db`` to ``target_db``.

    Args:
        level_db: the mix's level, dBFS (``-inf`` for digital silence).
        target_db: where it should be, dBFS (at most 0).
        measure: what ``level_db`` measures, for the messages ("peak").

    Returns 0.0, with a RoomgateWarning, when the mix is silence (below :data:`SILENCE_DB`).

    Raises:
        AudioInputError: ``level_db`` is NaN or +inf (the mix holds non-finite samples).
    """
    if math.isnan(level_db) or level_db == math.inf:
        raise AudioInputError(f"output: the mix's {measure} is {level_db}; expected a finite level "
                              "(the mix holds NaN or infinite samples)")
    if level_db < SILENCE_DB:
        shown = "holds no signal at all" if level_db == -math.inf else f"has a {measure} of {level_db:.1f} dBFS"
        warnings.warn(f"the audio {shown}, below {SILENCE_DB:g} dBFS: taken as silence and not "
                      "normalised", RoomgateWarning, stacklevel=2)
        return 0.0
    gain_db = float(target_db) - level_db
    if not math.isfinite(gain_db):  # pragma: no cover - both terms are finite here
        raise AudioInputError(f"output: normalisation gain {gain_db} dB; expected a finite gain")
    return gain_db
