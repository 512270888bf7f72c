"""Directivity: how much a microphone hears, and a singer radiates, in each direction.

* **Microphones** have first-order polar patterns ``g(theta) = p + (1 - p) cos(theta)`` (amplitude,
  ``theta`` off the mic's axis), the names from :data:`roomgate.units.PATTERNS`. In a diffuse field
  a first-order mic hears ``p^2 + (1 - p)^2 / 3`` of the energy an omni hears.
* **The singer** is ``"omni"`` or ``"voice"``: a voice is nearly omnidirectional in the low
  octaves and beams its highs forward (the mouth is small against the low wavelengths; the head
  and torso shadow the highs). :data:`VOICE_LEVELS_DB` gives, per octave band, the level at 90 and
  180 degrees off the facing direction re on-axis, and the pattern between them is a quadratic
  in ``1 - cos(theta)`` (in dB), the same all around the facing axis.

The voice's figures are rounded, representative values of the horizontal-plane measurements of
singers and talkers by A. H. Marshall and J. Meyer (Acustica 58, 130, 1985), B. B. Monson,
E. J. Hunter and B. H. Story (JASA 132(1), 433, 2012: speech and singing alike, the highs up to
16 kHz) and B. F. G. Katz and C. d'Alessandro (ICA 2007, a singer in 3-D); M. Brandner et al.
(JASA 148(3), 1169, 2020) show how mouth opening and torso shift them. Their directivity indices
(0.6 dB at 125 Hz, 1.5 dB at 500 Hz, 2.3 dB at 1 kHz, 5.0 dB at 4 kHz; :func:`directivity_index_db`)
match the range those studies and T. W. Leishman et al. (JASA 149(3), 1507, 2021) report for the
voice. A model of a typical singer, not a measurement of one: real singers differ by a few dB,
and with the vowel, the pitch and how far the mouth opens.
"""

from __future__ import annotations

import math

import numpy as np

from ..units import PATTERNS

__all__ = [
    "PATTERNS",
    "PATTERN_P",
    "SINGER_DIRECTIVITIES",
    "VOICE_LEVELS_DB",
    "diffuse_energy_factor",
    "directivity_index_db",
    "mic_gain",
    "mic_diffuse_energy",
    "singer_energy_gain",
]

# First-order polar patterns g(theta) = p + (1 - p) cos(theta). Supercardioid: the largest
# front-to-back ratio, p = (sqrt(3) - 1) / 2; hypercardioid: the largest directivity index, p = 1/4.
PATTERN_P = {
    "omni": 1.0,
    "cardioid": 0.5,
    "supercardioid": (math.sqrt(3.0) - 1.0) / 2.0,
    "hypercardioid": 0.25,
    "figure8": 0.0,
}

#: The singer's directivities: ``"voice"`` (the default) and ``"omni"``.
SINGER_DIRECTIVITIES = ("voice", "omni")

#: Octave-band centre (Hz) -> (level at 90 degrees, level at 180 degrees) off the facing
#: direction, dB re on-axis. Sources: see the module docstring.
VOICE_LEVELS_DB = {
    125.0: (-0.5, -1.5),
    250.0: (-1.0, -2.5),
    500.0: (-1.5, -3.5),
    1000.0: (-2.5, -6.0),
    2000.0: (-4.5, -10.0),
    4000.0: (-6.5, -14.0),
    8000.0: (-8.0, -17.0),
    16000.0: (-9.5, -20.0),
}


def mic_gain(pattern: str, cos_off_axis: np.ndarray | float) -> np.ndarray:
    """Amplitude gain of a first-order mic ``pattern`` at ``cos(theta)`` off its axis (signed:
    a figure-8's back lobe is negative). Shape: that of ``cos_off_axis``."""
    p = PATTERN_P[pattern]
    return p + (1.0 - p) * np.asarray(cos_off_axis, dtype=np.float64)


def mic_diffuse_energy(pattern: str) -> float:
    """The share of a diffuse field's energy a mic of this pattern hears, re an omni: ``p^2 + (1 - p)^2 / 3``."""
    p = PATTERN_P[pattern]
    return p * p + (1.0 - p) ** 2 / 3.0


def _voice_coefficients(centres_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) per band with level ``L(u) = A u + B u^2`` dB, ``u = 1 - cos(theta)``: L(1) = L90, L(2) = L180.

    Bands between the table's are interpolated in log frequency; beyond it the end values hold.
    """
    table_hz = np.array(sorted(VOICE_LEVELS_DB))
    at_90 = np.array([VOICE_LEVELS_DB[f][0] for f in table_hz])
    at_180 = np.array([VOICE_LEVELS_DB[f][1] for f in table_hz])
    octaves = np.log2(np.asarray(centres_hz, dtype=np.float64))
    l90 = np.interp(octaves, np.log2(table_hz), at_90)
    l180 = np.interp(octaves, np.log2(table_hz), at_180)
    b = 0.5 * (l180 - 2.0 * l90)
    return l90 - b, b


def singer_energy_gain(directivity: str, centres_hz: np.ndarray, cos_off_facing: np.ndarray) -> np.ndarray:
    """Energy the singer radiates at ``cos(theta)`` off her facing direction, re on-axis, per band.

    Shape: ``centres_hz`` ``(B,)`` and ``cos_off_facing`` ``(n,)`` give ``(B, n)``. ``"omni"``: all ones.
    """
    centres = np.asarray(centres_hz, dtype=np.float64)
    cos = np.clip(np.asarray(cos_off_facing, dtype=np.float64), -1.0, 1.0)
    if directivity == "omni":
        return np.ones((centres.size, cos.size))
    a, b = _voice_coefficients(centres)
    u = 1.0 - cos
    return 10.0 ** ((a[:, None] * u[None, :] + b[:, None] * u[None, :] ** 2) / 10.0)


def diffuse_energy_factor(directivity: str, centres_hz: np.ndarray) -> np.ndarray:
    """The singer's power re an omni source as loud on-axis: the mean of her energy pattern over
    all directions, ``1 / Q`` (Q the directivity factor), per band ``(B,)``.

    The reverberant field is fed by all of it, the direct sound in front of her by the on-axis
    part only: that is why a hall sounds darker than the voice in front of the singer.
    """
    # u = 1 - cos(theta) is uniform on [0, 2] over the sphere: a mean over u is a mean over directions.
    u = (np.arange(512) + 0.5) / 256.0
    return singer_energy_gain(directivity, centres_hz, 1.0 - u).mean(axis=1)


def directivity_index_db(directivity: str, centres_hz: np.ndarray) -> np.ndarray:
    """The singer's directivity index ``10 log10 Q`` (dB) per band ``(B,)``: 0 for ``"omni"``."""
    return -10.0 * np.log10(diffuse_energy_factor(directivity, centres_hz))
