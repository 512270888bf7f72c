"""A raw preset table (TOML, after ``--set``) to a validated :class:`RigConfig`.

Every value is typed here, once: lengths with units to metres, thresholds to their
:mod:`~roomgate.config.thresholds` type, mic distances to positions on the singer's line, measured
IR paths to absolute paths. Every error is a :class:`~roomgate.errors.ConfigError` naming the key
(``mics.far.distance_m``) and giving the expected and the actual value. Nothing here does DSP.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..acoustics.room import Room, Singer, validate as validate_room
from ..errors import ConfigError
from ..units import PATTERNS, parse_length_m
from .rig_config import (
    DRY_KEY,
    SELF_KEY,
    GateConfig,
    MicConfig,
    OutputConfig,
    RigConfig,
    SingerConfig,
    Vector3,
)
from .thresholds import AbsoluteThreshold, Threshold, parse_threshold

__all__ = ["WALL_MARGIN_M", "parse_config"]

# Pyroomacoustics needs mics strictly inside the walls; keep them this far off any surface.
WALL_MARGIN_M = 0.05
# Larger than any hall (a stadium is about 300 m): the acoustics would overflow long before.
MAX_ROOM_SIZE_M = 1000.0
# gain_db = "match", "match -6", "match+3 LU": the trim that matches the mic's loudness to the
# close mic's over the passages where its gate is open, plus an offset.
_MATCH = re.compile(r"^match\s*([+-]\s*\d+(?:\.\d+)?)?\s*(?:LU|dB)?$", re.IGNORECASE)
# Keys a gate may take besides the Gate's own settings (which the Gate checks).
_GATE_SPECIAL_KEYS = ("key", "threshold", "threshold_db", "duck_db")
# Gate times a preset may set to "room": derived from the room's decay (see roomgate.rig.gates).
_ROOM_TIMED = ("hold_ms", "release_ms")
_TOP_LEVEL_KEYS = ("name", "description", "room", "singer", "mics", "output")
_ROOM_KEYS = ("size_m", "rt60_s", "materials", "air_absorption", "temperature_c", "humidity_pct", "ir")
_SINGER_KEYS = ("position_m", "toward_m", "directivity", "facing")
_MIC_KEYS = ("name", "distance_m", "position_m", "pattern", "aim_m", "gain_db", "pan",
             "invert_polarity", "ir", "gate")
_OUTPUT_KEYS = ("channels", "normalize", "peak_db", "tail_s")


def parse_config(table: Mapping[str, Any], source: str = "<memory>") -> RigConfig:
    """Validate a raw preset table into a :class:`RigConfig` (ConfigError names the bad key).

    ``source`` is the preset file: relative measured-IR paths are found next to it.
    """
    _check_keys(table, _TOP_LEVEL_KEYS, "")
    stem = "".join(c for c in Path(source).stem if not _is_control(c))  # a file name may hold anything
    name = _string(table.get("name", stem), "name")
    if any(_is_control(c) for c in name):  # a name is shown, saved in comments, used in file names
        raise ConfigError(f"name: expected text without control characters, got {name!r}")
    description = _string(table.get("description", ""), "description")
    room_table = _table(table.get("room"), "room", required=True)
    room = _parse_room(room_table)
    singer = _parse_singer(_table(table.get("singer"), "singer", required=True), room)
    mics = _parse_mics(table.get("mics"), singer, room.size_m, source)
    output = _parse_output(_table(table.get("output", {}), "output"))
    room_ir = room_table.get("ir")
    if room_ir is not None and not isinstance(room_ir, str):
        raise ConfigError(f"room.ir: expected a path to a multichannel impulse response file, got {room_ir!r}")
    return RigConfig(name, description, room, singer, mics, output, source, _ir_path(room_ir, source))


def _parse_room(room_table: dict[str, Any]) -> Room:
    _check_keys(room_table, _ROOM_KEYS, "room.")
    size = _vector(room_table.get("size_m"), "room.size_m", positive=True)
    if max(size) > MAX_ROOM_SIZE_M:
        raise ConfigError(f"room.size_m: expected lengths up to {MAX_ROOM_SIZE_M:g} m, got "
                          f"{[float(f'{v:.6g}') for v in size]}")
    materials = room_table.get("materials")
    if materials is not None and not isinstance(materials, (str, dict)):
        raise ConfigError(f"room.materials: expected a material name or a table of them, got {materials!r}")
    rt60 = room_table.get("rt60_s", None if materials is not None else 1.5)
    if isinstance(rt60, dict):  # an octave table {125 = 1.8, ...}: Room checks the bands (room.rt60_s.<band>)
        rt60 = {key: _number(value, f"room.rt60_s.{key}", minimum=0.05, maximum=20.0) for key, value in rt60.items()}
    elif rt60 is not None:
        rt60 = _number(rt60, "room.rt60_s", minimum=0.05, maximum=20.0)
    if rt60 is None and materials is None:
        raise ConfigError("room: expected rt60_s or materials, got neither")
    return Room(
        size_m=size,
        rt60_s=rt60,
        materials=materials,
        air_absorption=_bool(room_table.get("air_absorption", True), "room.air_absorption"),
        temperature_c=_number(room_table.get("temperature_c", 20.0), "room.temperature_c", -20.0, 50.0),
        humidity_pct=_number(room_table.get("humidity_pct", 50.0), "room.humidity_pct", 0.0, 100.0),
    )


def _parse_singer(singer_table: dict[str, Any], room: Room) -> SingerConfig:
    _check_keys(singer_table, _SINGER_KEYS, "singer.")
    position = _vector(singer_table.get("position_m"), "singer.position_m")
    _check_inside(position, room.size_m, "singer.position_m")
    toward = singer_table.get("toward_m")
    toward_m = _default_toward_m(position, room.size_m) if toward is None else _vector(toward, "singer.toward_m")
    if toward_m == position:
        raise ConfigError("singer.toward_m: expected a point away from the singer, got the singer's position")
    facing = singer_table.get("facing")
    facing_m = _horizontal_toward(position, toward_m) if facing is None else _vector(facing, "singer.facing")
    singer = SingerConfig(position, toward_m, singer_table.get("directivity", "voice"), facing_m)
    # An impossible decay, directivity or facing is refused before any audio is read.
    validate_room(room, Singer(position, singer.facing, singer.directivity), [])
    return singer


def _horizontal_toward(position_m: Vector3, toward_m: Vector3) -> Vector3:
    """The singer faces along the mics' line, horizontally (as she would, singing toward them)."""
    dx, dy = toward_m[0] - position_m[0], toward_m[1] - position_m[1]
    return (dx, dy, 0.0) if dx or dy else (1.0, 0.0, 0.0)


def _default_toward_m(singer_m: Vector3, size_m: Vector3) -> Vector3:
    """The middle of the wall farthest from the singer along x, at the singer's height."""
    far_x = size_m[0] if singer_m[0] <= size_m[0] / 2 else 0.0
    return (far_x, singer_m[1], singer_m[2])


def _parse_mics(mic_tables: Any, singer: SingerConfig, size_m: Vector3, source: str) -> tuple[MicConfig, ...]:
    if not isinstance(mic_tables, list) or not mic_tables:
        raise ConfigError(f"mics: expected at least one [[mics]] table, got {mic_tables!r}")
    mics = [_parse_mic(mic_table, index, singer, size_m, source) for index, mic_table in enumerate(mic_tables)]
    names = [m.name for m in mics]
    for mic in mics:
        if names.count(mic.name) > 1:
            raise ConfigError(f"mics.{mic.name}.name: expected unique mic names, got {names}")
        if mic.gate and mic.gate.key not in (DRY_KEY, SELF_KEY) and mic.gate.key not in names:
            raise ConfigError(
                f"mics.{mic.name}.gate.key: expected 'dry', 'self' or a mic name ({', '.join(names)}), "
                f"got {mic.gate.key!r}"
            )
    return tuple(mics)


def _parse_mic(mic_table: Any, index: int, singer: SingerConfig, size_m: Vector3, source: str) -> MicConfig:
    if not isinstance(mic_table, dict):
        raise ConfigError(f"mics[{index}]: expected a table, got {mic_table!r}")
    name = mic_table.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"mics[{index}].name: expected a name of letters, digits, - or _, got {name!r}")
    where = f"mics.{name}."
    _check_keys(mic_table, _MIC_KEYS, where)
    position_m, distance_m, on_line = _place_mic(mic_table, singer, size_m, where)
    pattern = mic_table.get("pattern", "omni")
    if pattern not in PATTERNS:
        raise ConfigError(f"{where}pattern: expected one of {', '.join(PATTERNS)}, got {pattern!r}")
    aim = mic_table.get("aim_m")
    ir = mic_table.get("ir")
    if ir is not None and not isinstance(ir, str):
        raise ConfigError(f"{where}ir: expected a path to an impulse response file, got {ir!r}")
    gain_db, match_offset_lu = _parse_trim(mic_table.get("gain_db", 0.0), where)
    gate_table = mic_table.get("gate")
    return MicConfig(
        name=name,
        position_m=position_m,
        distance_m=distance_m,
        on_line=on_line,
        pattern=pattern,
        aim_m=None if aim is None else _vector(aim, f"{where}aim_m"),
        gain_db=gain_db,
        match_offset_lu=match_offset_lu,
        pan=_number(mic_table.get("pan", 0.0), f"{where}pan", -1.0, 1.0),
        invert_polarity=_bool(mic_table.get("invert_polarity", False), f"{where}invert_polarity"),
        ir=_ir_path(ir, source),
        gate=None if gate_table is None else _parse_gate(gate_table, f"{where}gate.", name),
    )


def _place_mic(mic_table: dict[str, Any], singer: SingerConfig, size_m: Vector3, where: str) -> tuple[Vector3, float, bool]:
    """(position, distance from the singer, placed on the line?) from ``distance_m`` or ``position_m``."""
    distance = mic_table.get("distance_m")
    position = mic_table.get("position_m")
    if (distance is None) == (position is None):
        raise ConfigError(f"{where}distance_m: expected exactly one of distance_m or position_m")
    if distance is not None:
        distance_m = parse_length_m(distance, f"{where}distance_m")
        if distance_m <= 0:
            raise ConfigError(f"{where}distance_m: expected a distance > 0, got {distance!r}")
        position_m = singer.point_on_line_m(distance_m)
        _check_inside(position_m, size_m, f"{where}distance_m")
        return position_m, distance_m, True
    position_m = _vector(position, f"{where}position_m")
    _check_inside(position_m, size_m, f"{where}position_m")
    return position_m, math.dist(position_m, singer.position_m), False


def _parse_trim(gain: Any, where: str) -> tuple[float, float | None]:
    """``gain_db``: (dB, None), or (0, offset in LU) for ``"match -6"``."""
    if isinstance(gain, str) and (match := _MATCH.match(gain.strip())):
        return 0.0, float((match.group(1) or "0").replace(" ", ""))
    try:
        return _number(gain, f"{where}gain_db", -96.0, 48.0), None
    except ConfigError:
        raise ConfigError(
            f"{where}gain_db: expected dB from -96 to 48, or 'match' / 'match -6' (loudness-matched "
            f"to the close mic, offset in LU), got {gain!r}"
        ) from None


def _parse_gate(gate_table: Any, where: str, mic_name: str) -> GateConfig:
    if not isinstance(gate_table, dict):
        raise ConfigError(f"{where[:-1]}: expected a table, got {gate_table!r}")
    key = gate_table.get("key", "close")
    if not isinstance(key, str):
        raise ConfigError(f"{where}key: expected a mic name, 'dry' or 'self', got {key!r}")
    if key == mic_name:
        key = SELF_KEY
    if "threshold" in gate_table and "threshold_db" in gate_table:
        raise ConfigError(f"{where}threshold: give threshold or threshold_db, not both")
    threshold: Threshold
    if "threshold_db" in gate_table:
        threshold = AbsoluteThreshold(_number(gate_table["threshold_db"], f"{where}threshold_db", -150.0, 24.0))
    else:
        threshold = parse_threshold(gate_table.get("threshold", -40.0), f"{where}threshold")
    settings = {k: v for k, v in gate_table.items() if k not in _GATE_SPECIAL_KEYS}
    # hold_ms = "room", release_ms = "room": set by the rig from its room's decay.
    room_timed = tuple(k for k in _ROOM_TIMED if isinstance(settings.get(k), str) and settings[k].strip().lower() == "room")
    for name in room_timed:
        del settings[name]
    from ..dsp.gate import Gate  # the Gate validates its own settings

    try:
        Gate(**settings)
    except ConfigError as error:
        raise ConfigError(f"{where}{error}") from None
    except TypeError as error:  # an unknown keyword
        raise ConfigError(f"{where[:-1]}: {error}") from None
    return GateConfig(
        key=key,
        threshold=threshold,
        duck_db=_number(gate_table.get("duck_db", 0.0), f"{where}duck_db", -96.0, 0.0),
        settings=settings,
        room_timed=room_timed,
    )


def _parse_output(output_table: dict[str, Any]) -> OutputConfig:
    _check_keys(output_table, _OUTPUT_KEYS, "output.")
    channels = output_table.get("channels", 1)
    if isinstance(channels, bool) or not isinstance(channels, int) or channels not in (1, 2):
        raise ConfigError(f"output.channels: expected 1 (mono) or 2 (stereo), got {channels!r}")
    normalize = output_table.get("normalize", "peak")
    if normalize not in ("peak", "none"):
        raise ConfigError(f"output.normalize: expected 'peak' or 'none', got {normalize!r}")
    tail = output_table.get("tail_s")
    return OutputConfig(
        channels=channels,
        normalize=normalize,
        peak_db=_number(output_table.get("peak_db", -1.0), "output.peak_db", -60.0, 0.0),
        tail_s=None if tail is None else _number(tail, "output.tail_s", 0.0, 60.0),
    )


def _ir_path(ir: str | None, source: str) -> str | None:
    """A measured IR's path as given, made absolute: a relative one is found next to the preset."""
    if ir is None:
        return None
    path = Path(ir).expanduser()
    if not path.is_absolute() and source not in ("<memory>", ""):
        path = Path(source).parent / path
    return str(path.absolute())


# -- value checks --------------------------------------------------------------------------------


def _check_inside(point: Vector3, size_m: Vector3, where: str) -> None:
    for axis, (value, limit) in enumerate(zip(point, size_m)):
        if not (WALL_MARGIN_M <= value <= limit - WALL_MARGIN_M):
            shown = ", ".join(f"{v:.2f}" for v in point)
            raise ConfigError(
                f"{where}: puts it at ({shown}) m, outside the room "
                f"({' x '.join(f'{s:g}' for s in size_m)} m, {WALL_MARGIN_M} m from the walls); "
                f"axis {'xyz'[axis]} must be within {WALL_MARGIN_M:g}..{limit - WALL_MARGIN_M:g} m"
            )


def _check_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}{key}: unknown key; expected one of {', '.join(known)}")


def _table(value: Any, where: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table [{where}], got {value!r}")
    return value


def _number(value: Any, where: str, minimum: float = -math.inf, maximum: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise ConfigError(f"{where}: expected a number from {minimum:g} to {maximum:g}, got one too large") from None
    if not math.isfinite(number) or not (minimum <= number <= maximum):
        bounded = math.isfinite(minimum) or math.isfinite(maximum)
        expected = f"a number from {minimum:g} to {maximum:g}" if bounded else "a finite number"
        raise ConfigError(f"{where}: expected {expected}, got {value!r}")
    return number


def _is_control(character: str) -> bool:
    """A control character (C0, DEL, C1) or a lone surrogate: not text a file or terminal can hold."""
    return unicodedata.category(character) in ("Cc", "Cs")


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return value


def _vector(value: Any, where: str, positive: bool = False) -> Vector3:
    if not isinstance(value, list) or len(value) != 3:
        raise ConfigError(f"{where}: expected a list of 3 numbers (metres), got {value!r}")
    numbers = []
    for item in value:
        number = parse_length_m(item, where) if isinstance(item, str) else _number(item, where)
        if positive and number <= 0:
            raise ConfigError(f"{where}: expected lengths > 0, got {value!r}")
        numbers.append(number)
    return (numbers[0], numbers[1], numbers[2])
