"""The room: shoebox geometry, microphones and their impulse responses.

A :class:`Room` (size, a target reverberation time *or* wall materials, air), a singer's position
and some :class:`Microphone` s go in; :func:`impulse_responses` gives one impulse response per mic,
shaped ``(M, L)`` float32, with the room you asked for. The method:

* **Early part, exact geometry** -- pyroomacoustics' image source method (ISM, Allen & Berkley)
  to the order that holds *every* image arriving before the crossover, and no deeper: direct
  sound, early reflections, mic polar patterns and orientation, air absorption (ISO 9613-1),
  fractional delays. Images of order >= 2 are nudged by a seeded few decimetres (a randomised
  ISM, see :func:`_scatter_images`) so the ideal lattice's exactly coincident reflections do not
  colour mics that share the singer's height or the room's centre line, as Visconti's did.
* **Late tail, exact decay** -- from about ``2 sqrt(V)`` ms (twice Polack's mixing time) on, per
  octave band, Gaussian noise with its slow level wander evened out, times ``exp(-6.91 t / T_b)``
  (60 dB of energy in ``T_b``), its level set to the ISM's incoherent energy in that band around
  the crossover, cross-faded in with equal power. ``T_b`` is the asked ``rt60_s`` in the
  125 Hz - 2 kHz bands (wall absorption from Eyring's formula, with the air's share taken out);
  above 2 kHz the same walls plus the air (Sabine's ``4 m V`` term) shorten it, as in a real hall.
  With ``materials``, ``T_b`` is Eyring's prediction for them. The ISM alone in a shoebox decays
  up to 20 % slower than asked (grazing, non-diffuse paths); the tail hits the decay by
  construction and costs a few FFTs, so the whole is also an order of magnitude faster.
* **Deterministic, mic by mic** -- each mic's noise is seeded from a hash of the room, the
  singer, that mic's geometry and the rate: different mics get decorrelated tails, and a mic's
  response does not change when other mics are added to the rig.

Conventions of the result:

* Time zero is the moment the singer sings: the direct sound of a mic at distance ``d`` peaks at
  sample ``round(d / c * sample_rate)`` (pyroomacoustics' 40-sample filter offset is removed).
* Amplitude: ``1 / r`` with ``r`` in metres, so an omni at 1 m hears the direct sound at 1.0
  (pyroomacoustics' own convention in 0.10); directional mics multiply by their pattern.
* Before the direct sound there is only the interpolation filter's pre-ringing (an 81-tap
  windowed sinc): below -40 dB re the direct peak from :data:`PRE_RINGING_SAMPLES` samples before
  the arrival, and below -60 dB (in practice -75 dB or less) beyond its half length, 40 samples.
  pyroomacoustics' zero-phase 10 Hz high-pass, which smears a copy of the reflections up to
  -24 dB *before* the direct sound, is replaced by a causal one.
* Rows are as long as 80 dB of the slowest band's decay after the crossover; a rig's shorter
  rows are zero-padded.

Measured rooms: ``Microphone(ir_path=...)`` takes that file's first channel instead of a
simulation (resampled to the rate, its time zero kept as recorded); :func:`load_measured_irs` reads
one multichannel file, a channel per mic. Simulations are cached on disk (:func:`cache_dir`),
keyed by every input and the library versions, written atomically.

References: W. C. Sabine, *Collected Papers* (1922) and C. F. Eyring, JASA 1, 217 (1930) for
reverberation times; J.-D. Polack (1988) for the mixing time; ISO 9613-1:1993 for air absorption;
O. Cramer, JASA 93, 2510 (1993) for the speed of sound; ISO 3382-1/-2 and M. R. Schroeder,
JASA 37, 409 (1965) for T30; J. B. Allen and D. A. Berkley, JASA 65, 943 (1979) for the ISM.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import pathlib
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import AudioInputError, ConfigError, RoomgateWarning
from ..units import MIN_SAMPLE_RATE_HZ, PATTERNS, check_sample_rate

__all__ = [
    "PATTERNS",
    "WALLS",
    "Microphone",
    "Room",
    "air_absorption_per_m",
    "cache_dir",
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

# First-order polar patterns g(theta) = p + (1 - p) cos(theta). Supercardioid: the largest
# front-to-back ratio, p = (sqrt(3) - 1) / 2; hypercardioid: the largest directivity index, p = 1/4.
PATTERN_P = {
    "omni": 1.0,
    "cardioid": 0.5,
    "supercardioid": (math.sqrt(3.0) - 1.0) / 2.0,
    "hypercardioid": 0.25,
    "figure8": 0.0,
}
# Shoebox walls as pyroomacoustics names them: west x=0, east x=Lx, south y=0, north y=Ly,
# floor z=0, ceiling z=Lz.
WALLS = ("east", "west", "north", "south", "floor", "ceiling")

# The asked rt60_s holds in these octave bands (Hz); above them air absorption shortens the decay.
TARGET_BANDS_MAX_HZ = 2000.0
# Octave-band centres: 125 Hz * 2**k below Nyquist, as pyroomacoustics' filter bank uses.
BASE_BAND_HZ = 125.0
# The IR runs until the slowest band's tail has decayed this far below its start.
TAIL_DYNAMIC_RANGE_DB = 80.0
# See the module docstring: how far before the arrival the interpolation filter may ring above -40 dB.
PRE_RINGING_SAMPLES = 24
# Image sources of order k >= 2 move by up to min(step * (k - 1), max) metres per axis (see _scatter_images).
SCATTER_STEP_M = 0.1
SCATTER_MAX_M = 0.5
# The IRs are high-passed (causally) here: no DC, as a real mic hears none.
DC_BLOCK_HZ = 10.0
# Mics closer than this to the singer have no meaningful 1/r level.
MIN_DISTANCE_M = 0.01
# Call progress() when a simulation is expected to take longer than this.
PROGRESS_AFTER_S = 1.0
# Bump when anything changes what impulse_responses() computes: invalidates every cache entry.
ALGORITHM_VERSION = 1

_SABINE_K = 24.0 * math.log(10.0)  # T = 24 ln(10) V / (c A): 0.161 s/m at c = 343 m/s
_FRAC_DELAY_HALF = 40  # pyroomacoustics' fractional delay filter: 81 taps, centred (frac_delay_length // 2)
_ISM_MARGIN_SAMPLES = 2 * _FRAC_DELAY_HALF  # images rendered past the crossfade's end (their pre-ringing)
_CACHE_PREFIX = "room-ir-"


# ----------------------------------------------------------------------------------------------
# Physics
# ----------------------------------------------------------------------------------------------


# Cramer's coefficients a0..a15 (JASA 93(5), 2510, 1993, eq. 15).
_CRAMER = (
    331.5024, 0.603055, -0.000528, 51.471935, 0.1495874, -0.000782, -1.82e-7, 3.73e-8,
    -2.93e-10, -85.20931, -0.228525, 5.91e-5, -2.835149, -2.15e-13, 29.179762, 0.000486,
)  # fmt: skip
_STANDARD_PRESSURE_PA = 101_325.0
_CO2_MOLE_FRACTION = 0.0004


def speed_of_sound_m_s(temperature_c: float = 20.0, humidity_pct: float = 50.0) -> float:
    """Speed of sound in air (m/s) at standard pressure: 343.99 m/s at 20 degC and 50 % humidity.

    O. Cramer's formula (JASA 93, 2510, 1993) with 400 ppm CO2, the water vapour mole fraction
    from relative humidity by Davis's saturation pressure and enhancement factor (Metrologia 29, 1992).
    """
    a = _CRAMER
    t = float(temperature_c)
    t_k = t + 273.15
    p = _STANDARD_PRESSURE_PA
    enhancement = 1.00062 + 3.14e-8 * p + 5.6e-7 * t * t
    p_sat = math.exp(1.2811805e-5 * t_k * t_k - 1.9509874e-2 * t_k + 34.04926034 - 6.3536311e3 / t_k)
    xw = float(humidity_pct) / 100.0 * enhancement * p_sat / p
    xc = _CO2_MOLE_FRACTION
    return (
        a[0] + a[1] * t + a[2] * t * t
        + (a[3] + a[4] * t + a[5] * t * t) * xw
        + (a[6] + a[7] * t + a[8] * t * t) * p
        + (a[9] + a[10] * t + a[11] * t * t) * xc
        + a[12] * xw * xw + a[13] * p * p + a[14] * xc * xc + a[15] * xw * p * xc
    )  # fmt: skip


def air_absorption_per_m(
    frequency_hz: float | np.ndarray, temperature_c: float = 20.0, humidity_pct: float = 50.0
) -> np.ndarray:
    """Air's energy attenuation coefficient ``m`` (1/m): energy falls as ``exp(-m d)`` over ``d`` metres.

    ISO 9613-1:1993 eqs. (3)-(5) at standard pressure (101.325 kPa); the standard's ``alpha``
    (dB/m) is ``10 log10(e) m``. At 20 degC, 50 %: 4.7 dB/km at 1 kHz, 105 dB/km at 8 kHz.
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    t_k = float(temperature_c) + 273.15
    t_ratio = t_k / 293.15
    # Molar concentration of water vapour (%), from the saturation vapour pressure (eq. B.1, B.3).
    p_sat_ratio = 10.0 ** (-6.8346 * (273.16 / t_k) ** 1.261 + 4.6151)
    h = float(humidity_pct) * p_sat_ratio
    # Relaxation frequencies of oxygen and nitrogen (eq. 3, 4).
    fr_o = 24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h)
    fr_n = t_ratio**-0.5 * (9.0 + 280.0 * h * math.exp(-4.170 * (t_ratio ** (-1.0 / 3.0) - 1.0)))
    f2 = f * f
    alpha_db_per_m = (
        8.686
        * f2
        * (
            1.84e-11 * t_ratio**0.5
            + t_ratio**-2.5
            * (
                0.01275 * math.exp(-2239.1 / t_k) / (fr_o + f2 / fr_o)
                + 0.1068 * math.exp(-3352.0 / t_k) / (fr_n + f2 / fr_n)
            )
        )
    )
    return alpha_db_per_m / (10.0 * math.log10(math.e))


def _band_centres_hz(sample_rate: int) -> np.ndarray:
    """Octave-band centres 125 Hz ... below Nyquist, shape ``(B,)`` (pyroomacoustics' bands)."""
    n_bands = int(math.floor(math.log2(sample_rate / BASE_BAND_HZ)))
    return BASE_BAND_HZ * 2.0 ** np.arange(n_bands)


# ----------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """A shoebox room.

    ``size_m`` is (x, y, z) in metres, the floor at z = 0. Give either ``rt60_s``, the target
    reverberation time (s) in the 125 Hz - 2 kHz octave bands, or ``materials`` with
    ``rt60_s=None``: one pyroomacoustics material name for every surface, or a mapping from each
    of :data:`WALLS` to a name. Temperature (degC) and relative humidity (%) set the speed of sound
    and, when ``air_absorption`` is on, the air's absorption (ISO 9613-1).
    """

    size_m: tuple[float, float, float]
    rt60_s: float | None = 1.5
    materials: str | Mapping[str, str] | None = None
    air_absorption: bool = True
    temperature_c: float = 20.0
    humidity_pct: float = 50.0

    @property
    def volume_m3(self) -> float:
        x, y, z = (float(v) for v in self.size_m)
        return x * y * z

    @property
    def speed_of_sound_m_s(self) -> float:
        return speed_of_sound_m_s(self.temperature_c, self.humidity_pct)

    def wall_areas_m2(self) -> dict[str, float]:
        """Area of each of :data:`WALLS` in m^2."""
        x, y, z = (float(v) for v in self.size_m)
        return {"east": y * z, "west": y * z, "north": x * z, "south": x * z, "floor": x * y, "ceiling": x * y}


@dataclass(frozen=True)
class Microphone:
    """A microphone: a name, a position (m), a polar pattern from :data:`PATTERNS`, and where it points.

    ``aim_m`` is a point the mic's axis points at; ``None`` aims it at the singer. ``ir_path`` names a
    measured impulse response file to use instead of the simulated room (its first channel).
    """

    name: str
    position_m: tuple[float, float, float]
    pattern: str = "omni"
    aim_m: tuple[float, float, float] | None = None
    ir_path: str | None = None


def place_on_line(
    source_m: Sequence[float], distance_m: float, toward_m: Sequence[float]
) -> tuple[float, float, float]:
    """The point ``distance_m`` metres from ``source_m`` along the straight line toward ``toward_m``."""
    source = np.asarray(source_m, dtype=np.float64)
    toward = np.asarray(toward_m, dtype=np.float64)
    if source.shape != (3,) or toward.shape != (3,):
        raise ConfigError(f"place_on_line: expected two 3-D points, got {source_m!r} and {toward_m!r}")
    direction = toward - source
    norm = float(np.linalg.norm(direction))
    if not norm > 0.0:
        raise ConfigError(f"place_on_line: toward_m {tuple(toward_m)!r} is the source itself; it gives no direction")
    point = source + float(distance_m) * direction / norm
    return (float(point[0]), float(point[1]), float(point[2]))


def _vector(value: object, key: str) -> np.ndarray:
    try:
        vec = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected 3 numbers in metres, got {value!r}") from None
    if vec.shape != (3,) or not np.all(np.isfinite(vec)):
        raise ConfigError(f"{key}: expected 3 finite numbers in metres, got {value!r}")
    return vec


def _check_inside(point: np.ndarray, size: np.ndarray, key: str) -> None:
    if np.any(point <= 0.0) or np.any(point >= size):
        raise ConfigError(
            f"{key}: {tuple(float(v) for v in point)!r} is outside the room; "
            f"expected 0 < x < {size[0]:g}, 0 < y < {size[1]:g}, 0 < z < {size[2]:g} m"
        )


def _materials_by_wall(materials: str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(materials, str):
        return {wall: materials for wall in WALLS}
    return {wall: materials[wall] for wall in WALLS}


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_room(room: Room) -> np.ndarray:
    """Validate everything about ``room`` but the feasibility of its decay; returns size, shape (3,)."""
    try:
        size = np.asarray(room.size_m, dtype=np.float64)
    except (TypeError, ValueError):
        size = np.zeros(0)
    if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0.0):
        raise ConfigError(f"room.size_m: expected 3 positive lengths in metres, got {room.size_m!r}")
    if room.rt60_s is None and room.materials is None:
        raise ConfigError("room.rt60_s: expected a reverberation time in seconds or room.materials, got neither")
    if room.rt60_s is not None and room.materials is not None:
        raise ConfigError(
            f"room.rt60_s: expected None when room.materials is given ({room.materials!r}), got {room.rt60_s!r}; "
            "ask for a decay or for materials, not both"
        )
    if room.rt60_s is not None:
        rt60 = room.rt60_s
        if not _is_number(rt60) or not math.isfinite(rt60) or rt60 <= 0:
            raise ConfigError(f"room.rt60_s: expected a positive number of seconds, got {rt60!r}")
    if room.materials is not None:
        _check_materials(room.materials)
    if not isinstance(room.air_absorption, bool):
        raise ConfigError(f"room.air_absorption: expected true or false, got {room.air_absorption!r}")
    # The range of ISO 9613-1's air absorption formulas.
    t = room.temperature_c
    if not _is_number(t) or not -20.0 <= t <= 50.0:
        raise ConfigError(f"room.temperature_c: expected -20 to 50 degC, got {t!r}")
    h = room.humidity_pct
    if not _is_number(h) or not 0.0 <= h <= 100.0:
        raise ConfigError(f"room.humidity_pct: expected 0 to 100 %, got {h!r}")
    return size


def _check_materials(materials: object) -> None:
    from pyroomacoustics.parameters import materials_absorption_table  # lazy: heavy import

    known = materials_absorption_table

    def check_name(name: object, key: str) -> None:
        if not isinstance(name, str) or name not in known:
            close = sorted(k for k in known if isinstance(name, str) and name.lower()[:4] in k)[:5]
            hint = f" (close: {', '.join(close)})" if close else ""
            raise ConfigError(f"{key}: expected a pyroomacoustics material name, got {name!r}{hint}")

    if isinstance(materials, str):
        check_name(materials, "room.materials")
    elif isinstance(materials, Mapping):
        for wall in materials:
            if wall not in WALLS:
                raise ConfigError(f"room.materials.{wall}: expected one of the walls {', '.join(WALLS)}")
        for wall in WALLS:
            if wall not in materials:
                raise ConfigError(
                    f"room.materials.{wall}: missing; give a material for every wall ({', '.join(WALLS)})"
                )
            check_name(materials[wall], f"room.materials.{wall}")
    else:
        raise ConfigError(f"room.materials: expected a material name or a table of them per wall, got {materials!r}")


def _mic_direction(mic: Microphone, position: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Unit vector of the mic's axis, shape (3,)."""
    target = source if mic.aim_m is None else np.asarray(mic.aim_m, dtype=np.float64)
    axis = target - position
    return axis / np.linalg.norm(axis)


def validate(room: Room, source_m: Sequence[float], mics: Sequence[Microphone]) -> None:
    """Check a room, the singer's position and the mics; raise :class:`ConfigError` naming the key.

    Keys: ``room.size_m``, ``room.rt60_s`` (also when no wall absorption gives that decay),
    ``room.materials[.<wall>]``, ``room.temperature_c``, ``room.humidity_pct``, ``singer.position_m``,
    ``mics`` and ``mics.<name>.{name,position_m,pattern,aim_m,ir_path}``. Measured mics (``ir_path``)
    need a finite position but not one inside this room.
    """
    size = _check_room(room)
    source = _vector(source_m, "singer.position_m")
    _check_inside(source, size, "singer.position_m")
    if isinstance(mics, Microphone) or not isinstance(mics, Sequence):
        raise ConfigError(f"mics: expected a list of Microphone, got {type(mics).__name__}")
    seen: set[str] = set()
    for index, mic in enumerate(mics):
        if not isinstance(mic, Microphone):
            raise ConfigError(f"mics[{index}]: expected a Microphone, got {type(mic).__name__}")
        if not isinstance(mic.name, str) or not mic.name.strip():
            raise ConfigError(f"mics[{index}].name: expected a non-empty name, got {mic.name!r}")
        key = f"mics.{mic.name}"
        if mic.name in seen:
            raise ConfigError(f"{key}: two mics share this name; expected unique names")
        seen.add(mic.name)
        position = _vector(mic.position_m, f"{key}.position_m")
        if mic.ir_path is not None:
            if not isinstance(mic.ir_path, (str, os.PathLike)) or not str(mic.ir_path):
                raise ConfigError(f"{key}.ir_path: expected a file path, got {mic.ir_path!r}")
            continue
        _check_inside(position, size, f"{key}.position_m")
        distance = float(np.linalg.norm(position - source))
        if distance < MIN_DISTANCE_M:
            raise ConfigError(
                f"{key}.position_m: {distance:.4f} m from the singer; expected at least {MIN_DISTANCE_M} m"
            )
        if mic.pattern not in PATTERNS:
            raise ConfigError(f"{key}.pattern: expected one of {', '.join(PATTERNS)}, got {mic.pattern!r}")
        if mic.aim_m is not None:
            aim = _vector(mic.aim_m, f"{key}.aim_m")
            if np.linalg.norm(aim - position) < 1e-6:
                raise ConfigError(f"{key}.aim_m: {mic.aim_m!r} is the mic's own position; it gives no direction")
    _wall_absorption(room, _band_centres_hz(MIN_SAMPLE_RATE_HZ))  # raises when the decay is impossible


# ----------------------------------------------------------------------------------------------
# Reverberation times (Sabine / Eyring)
# ----------------------------------------------------------------------------------------------


def _air_per_m(room: Room, centres_hz: np.ndarray) -> np.ndarray:
    if not room.air_absorption:
        return np.zeros_like(centres_hz)
    return air_absorption_per_m(centres_hz, room.temperature_c, room.humidity_pct)


def _wall_absorption(room: Room, centres_hz: np.ndarray) -> dict[str, np.ndarray]:
    """Energy absorption coefficient of each wall per band, ``{wall: (B,)}``.

    With ``rt60_s``: one coefficient for all walls per band, from Eyring's formula
    ``T = 24 ln10 V / (c (-S ln(1 - a) + 4 m V))`` solved for ``a`` with the air's share ``4 m V``
    removed, for bands up to 2 kHz; the 2 kHz walls above. A decay is possible when the walls'
    Sabine absorption ``-ln(1 - a)`` is in (0, 1]: shorter decays would need more than total
    absorption in Sabine's terms, longer ones less than the air alone gives.
    """
    if room.materials is not None:
        from pyroomacoustics.parameters import materials_absorption_table  # lazy: heavy import

        out: dict[str, np.ndarray] = {}
        for wall, name in _materials_by_wall(room.materials).items():
            table = materials_absorption_table[name]
            coeffs = np.asarray(table["coeffs"], dtype=np.float64)
            freqs = np.asarray(table.get("center_freqs", [1000.0])[: coeffs.size], dtype=np.float64)
            # Linear in log frequency between the table's bands, its end values held beyond them.
            out[wall] = np.clip(np.interp(np.log2(centres_hz), np.log2(freqs), coeffs), 0.0, 1.0)
        return out

    volume = room.volume_m3
    surface = sum(room.wall_areas_m2().values())
    c = room.speed_of_sound_m_s
    rt60 = float(room.rt60_s)  # type: ignore[arg-type]
    air = _air_per_m(room, centres_hz)
    total_area_m2 = _SABINE_K * volume / (c * rt60)  # equivalent absorption area the decay needs
    sabine_alpha = (total_area_m2 - 4.0 * air * volume) / surface  # the walls' share, Sabine's terms
    in_target = centres_hz <= TARGET_BANDS_MAX_HZ
    worst_high = float(np.max(sabine_alpha[in_target]))
    worst_low = float(np.min(sabine_alpha[in_target]))
    if worst_high > 1.0:
        shortest_s = _SABINE_K * volume / (c * (surface + 4.0 * float(np.min(air[in_target])) * volume))
        raise ConfigError(
            f"room.rt60_s: a {rt60:g} s decay is shorter than this {_size_text(room)} room can have "
            f"(its walls would need a Sabine absorption of {worst_high:.2f} > 1); expected at least {shortest_s:.3g} s"
        )
    if worst_low <= 0.0:
        band = float(centres_hz[in_target][int(np.argmin(sabine_alpha[in_target]))])
        longest_s = _SABINE_K / (c * 4.0 * float(np.max(air[in_target])))
        raise ConfigError(
            f"room.rt60_s: a {rt60:g} s decay is longer than the air's absorption alone allows at {band:g} Hz "
            f"(at most {longest_s:.3g} s); ask for less or set room.air_absorption = false"
        )
    last_target = int(np.flatnonzero(in_target)[-1])
    sabine_alpha = np.where(in_target, sabine_alpha, sabine_alpha[last_target])
    alpha = 1.0 - np.exp(-sabine_alpha)  # Eyring: -ln(1 - a) = Sabine's a
    return {wall: alpha.copy() for wall in WALLS}


def _size_text(room: Room) -> str:
    return " x ".join(f"{float(v):g}" for v in room.size_m) + " m"


def _eyring_rt60_s(room: Room, centres_hz: np.ndarray, alpha: Mapping[str, np.ndarray]) -> np.ndarray:
    """Eyring's reverberation time per band (s), shape (B,), with the air's ``4 m V``.

    Eyring (1930): ``T = 24 ln10 V / (c (-S ln(1 - mean a) + 4 m V))``, ``mean a`` area-weighted.
    It is exact for the ISM with uniform walls' mean free path ``4V/S`` and a fair estimate for mixed ones.
    """
    areas = room.wall_areas_m2()
    surface = sum(areas.values())
    mean_alpha = sum(areas[w] * alpha[w] for w in WALLS) / surface
    with np.errstate(divide="ignore"):
        wall_area = -surface * np.log1p(-np.minimum(mean_alpha, 1.0))
    absorption = wall_area + 4.0 * _air_per_m(room, centres_hz) * room.volume_m3
    with np.errstate(divide="ignore"):
        rt60 = _SABINE_K * room.volume_m3 / (room.speed_of_sound_m_s * absorption)
    return np.where(np.isfinite(rt60), rt60, 0.0)


def rt60_bands_s(room: Room, sample_rate: int = 48_000) -> dict[float, float]:
    """The reverberation time the tail gets in each octave band, ``{centre_hz: T60_s}``.

    With ``rt60_s`` these equal it from 125 Hz to 2 kHz, shorter above when the air absorbs;
    with ``materials`` they are Eyring's prediction. Raises :class:`ConfigError` like :func:`validate`.
    """
    _check_room(room)
    centres = _band_centres_hz(check_sample_rate(sample_rate))
    rt60 = _eyring_rt60_s(room, centres, _wall_absorption(room, centres))
    return {float(f): float(t) for f, t in zip(centres, rt60)}


def critical_distance_m(room: Room) -> float:
    """Critical distance (m) for an omni source and mic: ``sqrt(A / (16 pi))``, ``A`` from T at 1 kHz.

    ``= 0.057 sqrt(V / T)`` at 343 m/s (Sabine); beyond it a mic hears more room than singer.
    For the heroes room (1862 m^3, 1.5 s) about 2.0 m.
    """
    rt60_1k = rt60_bands_s(room, 8000)[1000.0]
    if rt60_1k <= 0.0:  # an anechoic room: all direct sound
        return math.inf
    area_m2 = _SABINE_K * room.volume_m3 / (room.speed_of_sound_m_s * rt60_1k)
    return math.sqrt(area_m2 / (16.0 * math.pi))


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Timing:
    """When the tail takes over for one mic (s from the singing): crossfade [start, start + width]."""

    direct_s: float
    crossover_s: float
    width_s: float

    @property
    def end_s(self) -> float:
        return self.crossover_s + self.width_s


def _timings(room: Room, source: np.ndarray, positions: Sequence[np.ndarray]) -> list[_Timing]:
    """Crossover times: the tail takes over past the mixing time, never during the direct sound.

    Polack's mixing time ``sqrt(V)`` ms marks where reflections become dense; at ``2 sqrt(V)`` ms a
    shoebox has ``4 pi c^3 t^2 / V`` = about 2000 reflections/s whatever its volume. The crossfade is
    ``sqrt(V)`` ms wide (at least 5 ms) and starts at least that long after the direct sound.
    """
    width_s = max(math.sqrt(room.volume_m3) * 1e-3, 5e-3)
    c = room.speed_of_sound_m_s
    out = []
    for position in positions:
        direct_s = float(np.linalg.norm(position - source)) / c
        out.append(_Timing(direct_s, max(2.0 * width_s, direct_s + width_s), width_s))
    return out


def _ism_order(room: Room, end_s: float) -> int:
    """The smallest ISM order holding every image closer than ``c * end_s``.

    An image with ``o_x, o_y, o_z`` reflections off each pair of walls lies at least
    ``(o_i - 1) L_i`` away along each axis, so by Cauchy-Schwarz its order is at most
    ``R sqrt(sum 1 / L_i^2) + 3`` at distance ``R``.
    """
    reach_m = room.speed_of_sound_m_s * end_s + math.sqrt(3.0) * SCATTER_MAX_M  # scattered images may come closer
    inverse = math.sqrt(sum(1.0 / float(v) ** 2 for v in room.size_m))
    return int(math.ceil(reach_m * inverse)) + 3


def _band_weights(n_fft: int, sample_rate: int, centres_hz: np.ndarray) -> np.ndarray:
    """Amplitude-complementary octave-band weights on an rfft grid, shape ``(B, n_fft // 2 + 1)``.

    Each band is flat within a quarter octave of its centre and hands over to the next with a
    cos^2 over the half octave around their shared edge, so the bands sum to exactly 1 (0 below
    10 Hz, ramping to 1 at 20 Hz: no DC in the tail).
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    octaves = np.log2(np.maximum(freqs, 1e-3) / centres_hz[0])
    weights = np.zeros((centres_hz.size, freqs.size))
    below = np.ones_like(freqs)  # share not yet given to lower bands
    for b in range(centres_hz.size):
        if b == centres_hz.size - 1:
            weights[b] = below
            break
        u = np.clip((octaves - b - 0.25) / 0.5, 0.0, 1.0)  # 0 up to c*2^0.25, 1 from c*2^0.75
        mine = np.cos(0.5 * np.pi * u) ** 2
        weights[b] = np.minimum(mine, below)
        below = below - weights[b]
    ramp = np.clip((freqs - 10.0) / 10.0, 0.0, 1.0)
    return weights * np.sin(0.5 * np.pi * ramp) ** 2


def _estimated_seconds(room: Room, n_mics: int, sample_rate: int) -> float:
    """A rough guess of a simulation's wall time (s), for progress messages.

    Measured on a 2-core machine: about 0.15 s plus 1 s per 6 million band-samples of tail, plus
    about 2 s to import pyroomacoustics the first time.
    """
    import sys

    centres = _band_centres_hz(sample_rate)
    longest_s = max(rt60_bands_s(room, sample_rate).values())
    band_samples = n_mics * centres.size * sample_rate * longest_s * TAIL_DYNAMIC_RANGE_DB / 60.0
    first_import_s = 0.0 if "pyroomacoustics" in sys.modules else 2.0
    return first_import_s + 0.15 + band_samples / 6e6


def _simulate(
    room: Room,
    source: np.ndarray,
    mics: Sequence[Microphone],
    sample_rate: int,
    room_seed: int,
    mic_seeds: Sequence[int],
) -> list[np.ndarray]:
    """Hybrid ISM + statistical tail for simulated mics: one float32 row ``(L_m,)`` per mic.

    Each row depends only on the room, the singer, that mic and the rate, never on the other mics
    simulated with it: the ISM is cut per mic and every random draw is seeded per mic or per image.
    """
    import pyroomacoustics as pra  # lazy: heavy import
    from pyroomacoustics.directivities import CardioidFamily
    from scipy.signal import butter, sosfilt  # lazy: scipy.signal is a slow import

    fs = sample_rate
    c = room.speed_of_sound_m_s
    centres = _band_centres_hz(fs)
    alpha = _wall_absorption(room, centres)
    air = _air_per_m(room, centres)
    rt60 = np.maximum(_eyring_rt60_s(room, centres, alpha), 1e-3)
    positions = [np.asarray(m.position_m, dtype=np.float64) for m in mics]
    axes = [_mic_direction(m, p, source) for m, p in zip(mics, positions)]
    timings = _timings(room, source, positions)

    # --- early part: pyroomacoustics' ISM, just deep enough to be complete until the crossfade ends
    materials = {
        wall: pra.Material(
            energy_absorption={"coeffs": [float(a) for a in alpha[wall]], "center_freqs": [float(f) for f in centres]}
        )
        for wall in WALLS
    }
    sim = pra.ShoeBox(
        np.asarray(room.size_m, dtype=np.float64),
        fs=fs,
        max_order=_ism_order(room, max(t.end_s for t in timings) + _ISM_MARGIN_SAMPLES / fs),
        materials=materials,
        air_absorption=False,
        temperature=room.temperature_c,
        humidity=room.humidity_pct,
    )
    sim.set_sound_speed(c)  # ours, whatever pyroomacoustics' formula is
    if room.air_absorption:
        sim.set_air_absorption(coefficients=[float(m) for m in air], center_freqs=[float(f) for f in centres])
    sim.add_source(source)
    for mic, position, axis in zip(mics, positions, axes):
        p = PATTERN_P[mic.pattern]
        sim.add_microphone(position, directivity=None if p == 1.0 else CardioidFamily(orientation=axis, p=p))
    sim.image_source_model()
    images = sim.sources[0]
    _scatter_images(images.images, images.orders, room_seed)
    # Each mic renders only the images it needs (those arriving before its crossfade ends), so
    # its early part is the same whatever the deepest mic made the ISM compute.
    visible = sim.visibility[0]
    arrivals = [np.linalg.norm(images.images.T - p[None, :], axis=1) / c * fs for p in positions]
    for m, (timing, arrival) in enumerate(zip(timings, arrivals)):
        visible[m, arrival > timing.end_s * fs + _ISM_MARGIN_SAMPLES] = 0
    _compute_rir_without_zero_phase_highpass(sim)  # uses the scattered images: the ISM is done

    damping = np.broadcast_to(np.asarray(images.damping, dtype=np.float64), (centres.size, images.orders.size))
    dc_block = butter(2, DC_BLOCK_HZ, btype="highpass", fs=fs, output="sos")
    rows = []
    for m, (mic, position, axis, timing, seed) in enumerate(zip(mics, positions, axes, timings, mic_seeds)):
        n_ism = int(math.ceil(timing.end_s * fs)) + 1
        n_out = int(math.ceil((timing.end_s + float(np.max(rt60)) * TAIL_DYNAMIC_RANGE_DB / 60.0) * fs))
        early = np.zeros(n_ism)
        raw = np.asarray(sim.rir[m][0], dtype=np.float64)[_FRAC_DELAY_HALF:]  # time zero = singing
        early[: min(n_ism, raw.size)] = raw[:n_ism]

        # Level: the ISM's energy per band in a window around the crossover, summed image by image
        # (incoherently). Summing the rendered ISM instead would count reflections that coincide
        # exactly when singer and mic share a height or a symmetry plane of the room (as on
        # Visconti's line) twice over: up to 6 dB of level a real, irregular hall does not have.
        n0 = int(round((timing.crossover_s - 0.5 * timing.width_s) * fs))
        n1 = min(int(round(timing.end_s * fs)), n_ism)
        offsets = images.images.T - position[None, :]
        dist = np.linalg.norm(offsets, axis=1)
        near = (arrivals[m] >= n0) & (arrivals[m] < n1) & (visible[m] > 0)
        p = PATTERN_P[mic.pattern]
        pattern_gain = p + (1.0 - p) * (offsets[near] @ axis) / dist[near]
        amplitude = damping[:, near] * np.exp(-0.5 * air[:, None] * dist[near]) * pattern_gain / dist[near]

        n_fft = _fast_len(n_out)
        weights = _band_weights(n_fft, fs, centres)
        # A unit-energy pulse puts this share of its energy in each band (Parseval, full spectrum).
        share = (2.0 * np.sum(weights**2, axis=1) - weights[:, 0] ** 2 - weights[:, -1] ** 2) / n_fft
        early_energy = share * np.sum(amplitude**2, axis=1)

        t_s = np.arange(n_out) / fs
        spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n_fft))
        tail = np.zeros(n_out)
        for b in range(centres.size):  # one band at a time: memory stays O(L) for long decays
            band = _flatten_envelope(np.fft.irfft(spectrum * weights[b], n_fft), fs, float(centres[b]))[:n_out]
            band *= np.exp(-3.0 * math.log(10.0) * t_s / rt60[b])  # 60 dB of energy in T_b
            model_energy = float(np.sum(band[n0:n1] ** 2))
            if model_energy > 0.0:
                tail += math.sqrt(early_energy[b] / model_energy) * band

        # Equal-power crossfade: the ISM and the noise are uncorrelated.
        u = np.clip((t_s - timing.crossover_s) / timing.width_s, 0.0, 1.0)
        row = tail * np.sin(0.5 * np.pi * u)
        row[:n_ism] += early * np.cos(0.5 * np.pi * u[:n_ism])
        # Causal DC blocker (2nd-order Butterworth, 10 Hz): nothing can leak before the direct sound.
        rows.append(sosfilt(dc_block, row).astype(np.float32))
    return rows


def _scatter_images(images: np.ndarray, orders: np.ndarray, seed: int) -> None:
    """Move image sources of order >= 2 by a seeded random offset, in place; ``images`` is ``(3, n)``.

    An ideal shoebox lines its images up on a lattice: reflections arrive in exactly coincident
    pairs on its symmetry planes and sweep in pitch later on, which no real hall does. Like the
    randomised ISM (De Sena et al., IEEE/ACM TASLP 23(1), 2015; pyroomacoustics' ``use_rand_ism``,
    which also moves the direct sound), we jitter each image, here by up to
    ``SCATTER_STEP_M * (order - 1)`` (at most ``SCATTER_MAX_M``) per axis, keeping the direct sound
    and the first reflections exact: a crude model of surface irregularity. Each image's offset is
    a hash of its exact lattice position and ``seed``, so it does not depend on which other images
    were computed.
    """
    reach = np.minimum(SCATTER_STEP_M * np.maximum(orders - 1, 0), SCATTER_MAX_M)
    cells = np.round(images * 1e4).astype(np.int64).view(np.uint64)  # 0.1 mm lattice keys, (3, n)
    with np.errstate(over="ignore"):
        key = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        for axis in range(3):
            key = _splitmix64(key ^ cells[axis])
        for axis in range(3):
            bits = _splitmix64(key + np.uint64(axis + 1))
            unit = (bits >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # uniform [0, 1)
            images[axis] += (2.0 * unit - 1.0) * reach


def _splitmix64(x: np.ndarray | np.uint64) -> np.ndarray:
    """SplitMix64's finaliser (Steele et al., OOPSLA 2014): a well-mixed 64-bit hash, element-wise."""
    x = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _flatten_envelope(noise: np.ndarray, sample_rate: int, centre_hz: float) -> np.ndarray:
    """Divide circular band noise ``(N,)`` by its moving RMS, keeping its overall RMS.

    Band-limited Gaussian noise wanders in level (relative std ``1 / sqrt(bandwidth x window)``),
    which tilts a Schroeder decay by a few % at 500 Hz for one realisation (ISO 3382-2's
    uncertainty of a single decay; 4 % in a 0.4 s room). Evening the energy out over
    ``max(10 ms, 4 periods)`` leaves noise that still sounds like noise but decays at the asked
    rate to within about 1 %.
    """
    n = noise.shape[0]
    half = max(1, int(round(0.5 * max(0.010, 4.0 / centre_hz) * sample_rate)))
    power = noise**2
    # Circular moving average: the noise is periodic in n, so wrap instead of padding.
    padded = np.concatenate([power[n - half :], power, power[:half]])
    sums = np.concatenate([[0.0], np.cumsum(padded)])
    moving = (sums[2 * half + 1 :] - sums[:n]) / (2 * half + 1)  # centred on each sample
    return noise / np.sqrt(np.maximum(moving, 1e-30)) * math.sqrt(float(np.mean(power)))


_PRA_CONSTANTS_LOCK = threading.Lock()


def _compute_rir_without_zero_phase_highpass(sim: object) -> None:
    """``sim.compute_rir()`` with pyroomacoustics' 10 Hz high-pass switched off for the call.

    That high-pass runs forward and backward (``sosfiltfilt``): it removes the IR's DC by
    spreading a negative copy of its low-passed reflections *before* the direct sound, up to
    -24 dB re the direct peak in a small room. We high-pass causally afterwards instead.
    The switch is pyroomacoustics' documented global ``constants``; it is restored at once.
    """
    from pyroomacoustics.parameters import constants

    with _PRA_CONSTANTS_LOCK:
        previous = constants.get("rir_hpf_enable")
        constants.set("rir_hpf_enable", False)
        try:
            sim.compute_rir()  # type: ignore[attr-defined]
        finally:
            constants.set("rir_hpf_enable", previous)


def _fast_len(n: int) -> int:
    from scipy.fft import next_fast_len  # lazy: scipy is a slow import

    return int(next_fast_len(int(n), real=True))


# ----------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------


def cache_dir() -> pathlib.Path:
    """Where simulated IRs are kept.

    ``$ROOMGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/roomgate``, else ``~/.cache/roomgate``.
    """
    explicit = os.environ.get("ROOMGATE_CACHE_DIR")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return pathlib.Path(xdg).expanduser() / "roomgate"
    return pathlib.Path.home() / ".cache" / "roomgate"


def clear_cache() -> int:
    """Remove every cached IR (and any temp file a crash left); returns how many files were removed."""
    folder = cache_dir()
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.glob(f"{_CACHE_PREFIX}*"):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _library_versions() -> dict[str, str]:
    from importlib import metadata

    from .. import __version__

    versions = {"roomgate": __version__, "numpy": np.__version__}
    try:
        versions["pyroomacoustics"] = metadata.version("pyroomacoustics")
    except metadata.PackageNotFoundError:  # pragma: no cover - an odd install: ask the module
        import pyroomacoustics

        versions["pyroomacoustics"] = pyroomacoustics.__version__
    return versions


def _floats(values: object) -> list[float]:
    return [float(v) for v in values]  # type: ignore[union-attr]


def _room_description(room: Room) -> dict[str, object]:
    materials = room.materials
    return {
        "size_m": _floats(room.size_m),
        "rt60_s": None if room.rt60_s is None else float(room.rt60_s),
        "materials": None if materials is None else _materials_by_wall(materials),
        "air_absorption": bool(room.air_absorption),
        "temperature_c": float(room.temperature_c),
        "humidity_pct": float(room.humidity_pct),
    }


def _mic_description(mic: Microphone, source: np.ndarray) -> dict[str, object]:
    # The mic's name is left out: renaming a mic changes neither its IR nor its noise seed.
    position = np.asarray(mic.position_m, dtype=np.float64)
    return {
        "position_m": _floats(position),
        "pattern": mic.pattern,
        "axis": _floats(_mic_direction(mic, position, source)) if mic.pattern != "omni" else None,
    }


def _digest(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _load_cached(path: pathlib.Path, key: str, n_mics: int) -> np.ndarray | None:
    """The cached array, or None (with a warning) when the entry is corrupt or partial."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as entry:  # a zip: its CRC catches flipped bytes
            stored_key = str(entry["key"])
            irs = np.array(entry["irs"])
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - any unreadable entry is recomputed, never trusted
        reason = f"{type(error).__name__}: {error}"
    else:
        sound = irs.dtype == np.float32 and irs.ndim == 2 and irs.shape[0] == n_mics and np.all(np.isfinite(irs))
        if stored_key == key and sound:
            return irs
        reason = f"holds {irs.dtype} {irs.shape}" + (" for another key" if stored_key != key else "")
    warnings.warn(
        f"IR cache entry {path} is corrupt or partial ({reason}); recomputing it", RoomgateWarning, stacklevel=3
    )
    return None


def _store_cached(path: pathlib.Path, key: str, irs: np.ndarray) -> None:
    """Write atomically: a temp file in the same folder, renamed over the entry when complete."""
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f"{_CACHE_PREFIX}tmp-", suffix=".npz", delete=False
        ) as tmp:
            tmp_name = tmp.name
            np.savez(tmp, key=np.array(key), irs=irs)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as error:
        warnings.warn(
            f"could not write the IR cache entry {path} ({error}); continuing without it", RoomgateWarning, stacklevel=3
        )
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


# ----------------------------------------------------------------------------------------------
# Measured IRs
# ----------------------------------------------------------------------------------------------


def _read_ir_file(path: str | os.PathLike[str], sample_rate: int) -> np.ndarray:
    """A measured IR file at ``sample_rate``: shape ``(C, L)`` float32 (AudioInputError naming the file)."""
    from ..io.audio import read_audio, resample

    audio, file_rate = read_audio(path)
    if file_rate != sample_rate:
        audio = resample(audio, file_rate, sample_rate)
    if not np.any(audio):
        raise AudioInputError(f"{path}: the impulse response is silent; expected a measured room response")
    return np.ascontiguousarray(audio, dtype=np.float32)


def _read_mic_ir(mic: Microphone, sample_rate: int) -> np.ndarray:
    audio = _read_ir_file(mic.ir_path, sample_rate)  # type: ignore[arg-type]
    if audio.shape[0] > 1:
        warnings.warn(
            f"mics.{mic.name}.ir_path: {mic.ir_path} has {audio.shape[0]} channels; using the first",
            RoomgateWarning,
            stacklevel=3,
        )
    return audio[0]


def load_measured_irs(path: str | os.PathLike[str], sample_rate: int, n_mics: int) -> np.ndarray:
    """One multichannel IR file, a channel per mic in the rig's order, at ``sample_rate``.

    Shape: returns ``(n_mics, L)`` float32, time zero as recorded.
    Raises :class:`AudioInputError` naming the file when it is unreadable or its channel count is not ``n_mics``.
    """
    sample_rate = check_sample_rate(sample_rate)
    audio = _read_ir_file(path, sample_rate)
    if audio.shape[0] != n_mics:
        raise AudioInputError(f"{path}: has {audio.shape[0]} channels; expected {n_mics}, one per mic")
    return audio


# ----------------------------------------------------------------------------------------------
# The entry point
# ----------------------------------------------------------------------------------------------


def _pad_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Stack 1-D rows into ``(M, max L)`` float32, zero-padding the shorter ones."""
    out = np.zeros((len(rows), max((r.shape[0] for r in rows), default=0)), dtype=np.float32)
    for i, row in enumerate(rows):
        out[i, : row.shape[0]] = row
    return out


def impulse_responses(
    room: Room,
    source_m: Sequence[float],
    mics: Sequence[Microphone],
    sample_rate: int,
    *,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """The impulse response from the singer to each mic.

    Shape:
        returns ``(M, L)`` float32, a row per mic in ``mics``' order, ``L`` the longest row
        (shorter ones zero-padded). Time zero is the singing: a mic ``d`` metres away hears the
        direct sound at sample ``round(d / c * sample_rate)`` with amplitude ``1 / d`` (omni).

    Simulated rows come from the cache when an entry for exactly these inputs exists; ``progress``
    is called with a message when a simulation is expected to take over :data:`PROGRESS_AFTER_S`.
    Raises :class:`ConfigError` naming the key (see :func:`validate`) and :class:`AudioInputError`
    naming a measured IR file that cannot be used.
    """
    sample_rate = check_sample_rate(sample_rate)
    validate(room, source_m, mics)
    source = np.asarray(source_m, dtype=np.float64)
    simulated = [m for m in mics if m.ir_path is None]
    rows: dict[str, np.ndarray] = {}

    if simulated:
        room_part = {"room": _room_description(room), "singer_m": _floats(source), "sample_rate": sample_rate}
        descriptions = [_mic_description(m, source) for m in simulated]
        payload = {
            "algorithm": ALGORITHM_VERSION,
            "versions": _library_versions(),
            **room_part,
            "mics": descriptions,
        }
        key = _digest(payload)
        path = cache_dir() / f"{_CACHE_PREFIX}{key}.npz"
        irs = _load_cached(path, key, len(simulated)) if use_cache else None
        if irs is None:
            if progress is not None:
                estimate_s = _estimated_seconds(room, len(simulated), sample_rate)
                if estimate_s > PROGRESS_AFTER_S:
                    progress(
                        f"simulating the {_size_text(room)} room for {len(simulated)} mic(s) at "
                        f"{sample_rate} Hz (about {estimate_s:.0f} s; cached afterwards)"
                    )
            # The scatter of the images is the room's own (the same at every rate); the noise is each mic's.
            room_seed = int(_digest({"room": room_part["room"], "singer_m": room_part["singer_m"]})[:16], 16)
            mic_seeds = [int(_digest({**room_part, "mic": d})[:16], 16) for d in descriptions]
            irs = _pad_rows(_simulate(room, source, simulated, sample_rate, room_seed, mic_seeds))
            if use_cache:
                _store_cached(path, key, irs)
        for mic, row in zip(simulated, irs):
            rows[mic.name] = row

    for mic in mics:
        if mic.ir_path is not None:
            rows[mic.name] = _read_mic_ir(mic, sample_rate)

    return _pad_rows([rows[mic.name] for mic in mics])


# ----------------------------------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------------------------------


def schroeder_t30_s(ir: np.ndarray, sample_rate: int, band_hz: float | None = None) -> float:
    """Reverberation time T30 (s) of one impulse response, per ISO 3382-1/-2.

    Schroeder's backward integration ``E(t) = sum_{tau >= t} h(tau)^2`` (1965), a least-squares
    line through the decay curve from -5 to -35 dB, extrapolated to 60 dB (``T30 = 60 / slope``).
    With ``band_hz``, the IR is first filtered by an octave-band filter centred there (3rd-order
    Butterworth band-pass, edges ``f / sqrt(2)`` and ``f sqrt(2)``, as IEC 61260 class 1 allows).

    Shape: ``ir`` is ``(N,)``. Raises ValueError when the decay does not reach -35 dB.
    """
    h = np.asarray(ir, dtype=np.float64)
    if h.ndim != 1:
        raise ValueError(f"schroeder_t30_s: expected one impulse response shaped (N,), got shape {h.shape}")
    if band_hz is not None:
        from scipy.signal import butter, sosfilt  # lazy: scipy.signal is a slow import

        low, high = band_hz / math.sqrt(2.0), band_hz * math.sqrt(2.0)
        if high >= sample_rate / 2.0:
            raise ValueError(
                f"schroeder_t30_s: the {band_hz:g} Hz octave band reaches past Nyquist ({sample_rate / 2:g} Hz)"
            )
        h = sosfilt(butter(3, [low, high], btype="bandpass", fs=sample_rate, output="sos"), h)
    energy = np.cumsum(h[::-1] ** 2)[::-1]
    if not energy[0] > 0.0:
        raise ValueError("schroeder_t30_s: the impulse response is silent")
    edc_db = 10.0 * np.log10(np.maximum(energy / energy[0], 1e-300))
    start = int(np.argmax(edc_db <= -5.0))
    if not edc_db[-1] <= -35.0:
        raise ValueError(f"schroeder_t30_s: the decay reaches only {edc_db[-1]:.1f} dB; expected -35 dB for T30")
    stop = int(np.argmax(edc_db <= -35.0))
    t = np.arange(start, stop + 1) / sample_rate
    slope_db_per_s = np.polyfit(t, edc_db[start : stop + 1], 1)[0]
    return float(-60.0 / slope_db_per_s)
