"""The room, the singer and the microphones: geometry, decay per band, air, and their validation.

A :class:`Room` is a shoebox with a decay: ``rt60_s`` one number (the reverberation time of the
125 Hz - 2 kHz octaves; the air shortens the higher ones), an octave table
(``{125: 1.8, 250: 1.7, ..., 8000: 0.9}``, every band as asked), or ``materials`` (pyroomacoustics'
absorption database, one per wall) and the decay Eyring's formula gives them. A :class:`Singer`
stands somewhere, faces somewhere and radiates as a voice or an omni; :class:`Microphone` s stand,
point and have polar patterns. :func:`validate` checks all of it, naming the preset key.

Physics here: the speed of sound (Cramer), the air's absorption (ISO 9613-1), the wall absorption
a decay needs and the decay walls give (Sabine, Eyring), the critical distance.

References: W. C. Sabine, *Collected Papers* (1922) and C. F. Eyring, JASA 1, 217 (1930) for
reverberation times; ISO 9613-1:1993 for air absorption; O. Cramer, JASA 93, 2510 (1993) for the
speed of sound; H. Kuttruff, *Room Acoustics* (5th ed., 2009), ch. 5, for the critical distance.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..units import MAX_SAMPLE_RATE_HZ, PATTERNS, check_sample_rate
from .directivity import SINGER_DIRECTIVITIES

__all__ = [
    "BASE_BAND_HZ",
    "MIN_DISTANCE_M",
    "PATTERNS",
    "TARGET_BANDS_MAX_HZ",
    "WALLS",
    "Microphone",
    "Room",
    "Singer",
    "air_absorption_per_m",
    "band_centres_hz",
    "critical_distance_m",
    "mic_axis",
    "place_on_line",
    "rt60_bands_s",
    "singer_facing",
    "speed_of_sound_m_s",
    "validate",
    "wall_absorption",
]

# Shoebox walls as pyroomacoustics names them: west x=0, east x=Lx, south y=0, north y=Ly,
# floor z=0, ceiling z=Lz.
WALLS = ("east", "west", "north", "south", "floor", "ceiling")
# A single rt60_s holds in these octave bands (Hz); above them air absorption shortens the decay.
TARGET_BANDS_MAX_HZ = 2000.0
# Octave-band centres: 125 Hz * 2**k below Nyquist, as pyroomacoustics' filter bank uses.
BASE_BAND_HZ = 125.0
# Mics closer than this to the singer have no meaningful 1/r level.
MIN_DISTANCE_M = 0.01

SABINE_K = 24.0 * math.log(10.0)  # T = 24 ln(10) V / (c A): 0.161 s/m at c = 343 m/s


# ----------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """A shoebox room.

    ``size_m`` is (x, y, z) in metres, the floor at z = 0. The decay, one of:

    * ``rt60_s`` a number: the reverberation time (s) of the 125 Hz - 2 kHz octave bands; above
      2 kHz the same walls and the air's absorption give a shorter one, as in a real hall;
    * ``rt60_s`` a table ``{octave centre Hz: seconds}`` (125, 250, ... 16000; keys may be text,
      as TOML gives them): each band as asked, bands between two given ones interpolated (in log
      frequency), below the lowest held, above the highest its walls held and the air added;
    * ``materials`` with ``rt60_s=None``: one pyroomacoustics material name for every surface, or
      a mapping from each of :data:`WALLS` to a name; the decay is Eyring's for them.

    Temperature (degC) and relative humidity (%) set the speed of sound and, when
    ``air_absorption`` is on, the air's absorption (ISO 9613-1).
    """

    size_m: tuple[float, float, float]
    rt60_s: float | Mapping[Any, float] | None = 1.5
    materials: str | Mapping[str, str] | None = None
    air_absorption: bool = True
    temperature_c: float = 20.0
    humidity_pct: float = 50.0

    @property
    def volume_m3(self) -> float:
        x, y, z = (float(v) for v in self.size_m)
        return x * y * z

    @property
    def surface_m2(self) -> float:
        return sum(self.wall_areas_m2().values())

    @property
    def mean_free_path_m(self) -> float:
        """``4 V / S``: the mean distance sound travels between two reflections (Kuttruff, 4.2)."""
        return 4.0 * self.volume_m3 / self.surface_m2

    @property
    def speed_of_sound_m_s(self) -> float:
        return speed_of_sound_m_s(self.temperature_c, self.humidity_pct)

    def wall_areas_m2(self) -> dict[str, float]:
        """Area of each of :data:`WALLS` in m^2."""
        x, y, z = (float(v) for v in self.size_m)
        return {"east": y * z, "west": y * z, "north": x * z, "south": x * z, "floor": x * y, "ceiling": x * y}


@dataclass(frozen=True)
class Singer:
    """The singer: where her mouth is (m), which way she faces, and how her voice radiates.

    ``facing`` is a direction (any length; it is normalised); None faces her, horizontally,
    toward the middle of the room (a preset faces her down the mics' line instead).
    ``directivity`` is ``"voice"`` (highs beamed forward: see :mod:`.directivity`) or ``"omni"``.
    """

    position_m: tuple[float, float, float]
    facing: tuple[float, float, float] | None = None
    directivity: str = "voice"


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


def as_singer(singer: Singer | Sequence[float]) -> Singer:
    """A :class:`Singer` as given, or one with the defaults standing at a bare position."""
    if isinstance(singer, Singer):
        return singer
    return Singer(singer)  # type: ignore[arg-type]  # validated by validate()


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


def mic_axis(mic: Microphone, singer_m: np.ndarray) -> np.ndarray:
    """Unit vector of the mic's axis, shape (3,): toward ``aim_m``, or the singer."""
    position = np.asarray(mic.position_m, dtype=np.float64)
    target = singer_m if mic.aim_m is None else np.asarray(mic.aim_m, dtype=np.float64)
    axis = target - position
    return axis / np.linalg.norm(axis)


def singer_facing(singer: Singer, room: Room) -> np.ndarray:
    """Unit vector the singer faces, shape (3,): ``facing``, or horizontally toward the room's middle
    (+x when she stands in the middle)."""
    if singer.facing is not None:
        facing = np.asarray(singer.facing, dtype=np.float64)
        return facing / np.linalg.norm(facing)
    toward = 0.5 * np.asarray(room.size_m, dtype=np.float64) - np.asarray(singer.position_m, dtype=np.float64)
    toward[2] = 0.0
    norm = float(np.linalg.norm(toward))
    return toward / norm if norm > 1e-9 else np.array([1.0, 0.0, 0.0])


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


def band_centres_hz(sample_rate: int) -> np.ndarray:
    """Octave-band centres 125 Hz ... below Nyquist, shape ``(B,)`` (pyroomacoustics' bands)."""
    n_bands = int(math.floor(math.log2(sample_rate / BASE_BAND_HZ)))
    return BASE_BAND_HZ * 2.0 ** np.arange(n_bands)


def air_per_m(room: Room, centres_hz: np.ndarray) -> np.ndarray:
    """The air's energy absorption (1/m) per band, zeros when the room's air absorption is off."""
    if not room.air_absorption:
        return np.zeros_like(centres_hz)
    return air_absorption_per_m(centres_hz, room.temperature_c, room.humidity_pct)


def _size_text(room: Room) -> str:
    return " x ".join(f"{float(v):g}" for v in room.size_m) + " m"


def size_text(room: Room) -> str:
    """``"19 x 14 x 7 m"``."""
    return _size_text(room)


def _asked_rt60_s(room: Room, centres_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the reverberation time asked of each band, whether the band was asked), shapes ``(B,)``.

    A number: asked of the bands up to 2 kHz. A table: of the bands up to its highest key, those
    between two keys interpolated linearly in log frequency, those below the lowest held.
    """
    table = rt60_table(room.rt60_s)
    if table is None:
        return np.full(centres_hz.size, float(room.rt60_s)), centres_hz <= TARGET_BANDS_MAX_HZ  # type: ignore[arg-type]
    keys = np.array(sorted(table))
    values = np.array([table[k] for k in keys])
    asked = np.interp(np.log2(centres_hz), np.log2(keys), values)
    return asked, centres_hz <= keys[-1] * (1.0 + 1e-9)


def rt60_table(rt60_s: object) -> dict[float, float] | None:
    """``rt60_s`` as ``{centre_hz: seconds}`` when it is a table (keys as numbers), else None.

    Raises :class:`ConfigError` naming ``room.rt60_s.<band>`` for a key that is not an octave
    centre (125 Hz * 2**k) or a value that is not a positive number of seconds.
    """
    if not isinstance(rt60_s, Mapping):
        return None
    if not rt60_s:
        raise ConfigError("room.rt60_s: expected seconds or a table {octave centre Hz = seconds}, got an empty table")
    table: dict[float, float] = {}
    for key, value in rt60_s.items():
        try:
            centre = float(key)
        except (TypeError, ValueError):
            centre = math.nan
        octave = math.log2(centre / BASE_BAND_HZ) if centre > 0 else math.nan
        if not (math.isfinite(octave) and octave >= -1e-9 and abs(octave - round(octave)) < 1e-6):
            raise ConfigError(
                f"room.rt60_s.{key}: expected an octave-band centre in Hz (125, 250, 500, 1000, 2000, 4000, "
                f"8000 or 16000), got {key!r}"
            )
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"room.rt60_s.{key}: expected a positive number of seconds, got {value!r}")
        table[BASE_BAND_HZ * 2.0 ** round(octave)] = float(value)
    return table


def wall_absorption(room: Room, centres_hz: np.ndarray) -> dict[str, np.ndarray]:
    """Energy absorption coefficient of each wall per band, ``{wall: (B,)}``.

    With ``rt60_s``: one coefficient for all walls per band, from Eyring's formula
    ``T = 24 ln10 V / (c (-S ln(1 - a) + 4 m V))`` solved for ``a`` with the air's share ``4 m V``
    removed, in the bands asked; above them the highest asked band's walls. A decay is possible
    when the walls' Sabine absorption ``-ln(1 - a)`` is in (0, 1]: shorter decays would need
    more than total absorption in Sabine's terms, longer ones less than the air alone gives.
    Raises :class:`ConfigError` naming ``room.rt60_s`` (and the band, for a table) otherwise.
    """
    if room.materials is not None:
        from pyroomacoustics.parameters import materials_absorption_table  # lazy: heavy import

        out: dict[str, np.ndarray] = {}
        for wall, name in materials_by_wall(room.materials).items():
            table = materials_absorption_table[name]
            coeffs = np.asarray(table["coeffs"], dtype=np.float64)
            freqs = np.asarray(table.get("center_freqs", [1000.0])[: coeffs.size], dtype=np.float64)
            # Linear in log frequency between the table's bands, its end values held beyond them.
            out[wall] = np.clip(np.interp(np.log2(centres_hz), np.log2(freqs), coeffs), 0.0, 1.0)
        return out

    volume = room.volume_m3
    surface = room.surface_m2
    c = room.speed_of_sound_m_s
    rt60, asked = _asked_rt60_s(room, centres_hz)
    air = air_per_m(room, centres_hz)
    total_area_m2 = SABINE_K * volume / (c * rt60)  # equivalent absorption area each decay needs
    sabine_alpha = (total_area_m2 - 4.0 * air * volume) / surface  # the walls' share, Sabine's terms
    is_table = rt60_table(room.rt60_s) is not None
    for b in np.flatnonzero(asked):
        key = f"room.rt60_s.{centres_hz[b]:g}" if is_table else "room.rt60_s"
        if sabine_alpha[b] > 1.0:
            shortest_s = SABINE_K * volume / (c * (surface + 4.0 * float(air[b]) * volume))
            raise ConfigError(
                f"{key}: a {rt60[b]:.3g} s decay is shorter than this {_size_text(room)} room can have at "
                f"{centres_hz[b]:g} Hz (its walls would need a Sabine absorption of {sabine_alpha[b]:.2f} > 1); "
                f"expected at least {shortest_s:.3g} s"
            )
        if sabine_alpha[b] <= 0.0:
            longest_s = SABINE_K / (c * 4.0 * float(air[b]))
            raise ConfigError(
                f"{key}: a {rt60[b]:.3g} s decay is longer than the air's absorption alone allows at "
                f"{centres_hz[b]:g} Hz (at most {longest_s:.3g} s); ask for less or set room.air_absorption = false"
            )
    last_asked = int(np.flatnonzero(asked)[-1])
    sabine_alpha = np.where(asked, sabine_alpha, sabine_alpha[last_asked])
    alpha = 1.0 - np.exp(-sabine_alpha)  # Eyring: -ln(1 - a) = Sabine's a
    return {wall: alpha.copy() for wall in WALLS}


def eyring_rt60_s(room: Room, centres_hz: np.ndarray, alpha: Mapping[str, np.ndarray]) -> np.ndarray:
    """Eyring's reverberation time per band (s), shape (B,), with the air's ``4 m V``.

    Eyring (1930): ``T = 24 ln10 V / (c (-S ln(1 - mean a) + 4 m V))``, ``mean a`` area-weighted.
    """
    areas = room.wall_areas_m2()
    surface = sum(areas.values())
    mean_alpha = sum(areas[w] * alpha[w] for w in WALLS) / surface
    with np.errstate(divide="ignore"):
        wall_area = -surface * np.log1p(-np.minimum(mean_alpha, 1.0))
    absorption = wall_area + 4.0 * air_per_m(room, centres_hz) * room.volume_m3
    with np.errstate(divide="ignore"):
        rt60 = SABINE_K * room.volume_m3 / (room.speed_of_sound_m_s * absorption)
    return np.where(np.isfinite(rt60), rt60, 0.0)


def rt60_bands_s(room: Room, sample_rate: int = 48_000) -> dict[float, float]:
    """The reverberation time the room decays with in each octave band, ``{centre_hz: T60_s}``.

    With one ``rt60_s`` these equal it from 125 Hz to 2 kHz, shorter above when the air absorbs;
    with a table, as asked; with ``materials``, Eyring's prediction. Raises :class:`ConfigError`
    like :func:`validate`.
    """
    check_room(room)
    centres = band_centres_hz(check_sample_rate(sample_rate))
    rt60 = eyring_rt60_s(room, centres, wall_absorption(room, centres))
    return {float(f): float(t) for f, t in zip(centres, rt60)}


def critical_distance_m(room: Room) -> float:
    """Critical distance (m) for an omni source and mic: ``sqrt(A / (16 pi))``, ``A`` from T at 1 kHz.

    ``= 0.057 sqrt(V / T)`` at 343 m/s (Sabine); beyond it a mic hears more room than singer.
    For the heroes room (1862 m^3, 1.5 s) about 2.0 m. A voice's directivity moves it out in
    front of her (by ``sqrt Q``) and in behind her.
    """
    rt60_1k = rt60_bands_s(room, 8000)[1000.0]
    if rt60_1k <= 0.0:  # an anechoic room: all direct sound
        return math.inf
    area_m2 = SABINE_K * room.volume_m3 / (room.speed_of_sound_m_s * rt60_1k)
    return math.sqrt(area_m2 / (16.0 * math.pi))


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


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


def materials_by_wall(materials: str | Mapping[str, str]) -> dict[str, str]:
    """``{wall: material name}`` for every wall of :data:`WALLS`."""
    if isinstance(materials, str):
        return {wall: materials for wall in WALLS}
    return {wall: materials[wall] for wall in WALLS}


def check_room(room: Room) -> np.ndarray:
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
    if room.rt60_s is not None and rt60_table(room.rt60_s) is None:
        rt60 = room.rt60_s
        if not _is_number(rt60) or not math.isfinite(rt60) or rt60 <= 0:  # type: ignore[operator,arg-type]
            raise ConfigError(
                f"room.rt60_s: expected a positive number of seconds or a table {{octave centre Hz = seconds}}, "
                f"got {rt60!r}"
            )
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


def check_singer(singer: Singer, size: np.ndarray) -> np.ndarray:
    """Validate the singer in a room of ``size``; returns her position, shape (3,)."""
    position = _vector(singer.position_m, "singer.position_m")
    _check_inside(position, size, "singer.position_m")
    if singer.directivity not in SINGER_DIRECTIVITIES:
        raise ConfigError(
            f"singer.directivity: expected one of {', '.join(SINGER_DIRECTIVITIES)}, got {singer.directivity!r}"
        )
    if singer.facing is not None:
        try:
            facing = np.asarray(singer.facing, dtype=np.float64)
        except (TypeError, ValueError):
            facing = np.zeros(0)
        if facing.shape != (3,) or not np.all(np.isfinite(facing)) or not np.linalg.norm(facing) > 1e-9:
            raise ConfigError(f"singer.facing: expected a direction, 3 finite numbers not all 0, got {singer.facing!r}")
    return position


def validate(room: Room, singer: Singer | Sequence[float], mics: Sequence[Microphone]) -> None:
    """Check a room, the singer and the mics; raise :class:`ConfigError` naming the key.

    ``singer`` is a :class:`Singer` or a bare position. Keys: ``room.size_m``, ``room.rt60_s[.<band>]``
    (also when no wall absorption gives that decay), ``room.materials[.<wall>]``,
    ``room.temperature_c``, ``room.humidity_pct``, ``singer.position_m``, ``singer.facing``,
    ``singer.directivity``, ``mics`` and ``mics.<name>.{name,position_m,pattern,aim_m,ir_path}``.
    Measured mics (``ir_path``) need a finite position but not one inside this room.
    """
    size = check_room(room)
    source = check_singer(as_singer(singer), size)
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
    # Raises when the decay is impossible in any band a rate up to 192 kHz can hold.
    wall_absorption(room, band_centres_hz(MAX_SAMPLE_RATE_HZ))


# ----------------------------------------------------------------------------------------------
# Names that moved out of this module in the acoustics split (issue 11); still importable here.
# ----------------------------------------------------------------------------------------------

_MOVED = {
    "impulse_responses": "responses",
    "load_measured_irs": "measured",
    "cache_dir": "cache",
    "clear_cache": "cache",
    "schroeder_t30_s": "measures",
    "PATTERN_P": "directivity",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
