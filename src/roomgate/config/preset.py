"""Presets: TOML files to validated, frozen dataclasses, with ``--set KEY=VALUE`` overrides.

A preset describes the rig: the room, where the singer stands, the microphones (by distance along
a line from the singer, or by position), each room mic's gate, trims and the output. Every error
is a :class:`~roomgate.errors.ConfigError` naming the key (``mics.far.distance_m``) and giving the
expected and the actual value. Nothing here does DSP.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

# A relative threshold ("p60", "-6 dB re peak") is resolved against the performance by calibrate.
from ..dsp.levels import PERCENTILE_PATTERN, RE_PEAK_PATTERN
from ..errors import ConfigError
from ..units import PATTERNS, parse_length_m
from ..acoustics.room import Room, Singer, validate as validate_room

# gain_db = "match", "match -6", "match+3 LU": the trim that matches the mic's loudness to the
# close mic's over the passages where its gate is open, plus an offset.
_MATCH = re.compile(r"^match\s*([+-]\s*\d+(?:\.\d+)?)?\s*(?:LU|dB)?$", re.IGNORECASE)
# Keys a gate may take besides its key and threshold: the Gate's own settings (checked by Gate).
_GATE_SPECIAL_KEYS = ("key", "threshold", "threshold_db", "duck_db")
# Pyroomacoustics needs mics strictly inside the walls; keep them this far off any surface.
WALL_MARGIN_M = 0.05


@dataclass(frozen=True)
class SingerConfig:
    position_m: tuple[float, float, float]
    # The line the mics stand on runs from the singer toward this point (default: the middle of
    # the far wall at the singer's height, as Visconti's mics ran down the Meistersaal).
    toward_m: tuple[float, float, float] | None = None
    # How her voice radiates: "voice" (highs beamed forward) or "omni"; and the direction she
    # faces (None: along the mics' line, horizontally; see singer_facing).
    directivity: str = "voice"
    facing: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class GateConfig:
    key: str = "close"  # a mic's name, "dry" (the source itself), or "self" (the mic's own signal)
    threshold: float | str = -40.0  # dBFS of the key's detector, or "p60" / "-6 dB re peak"
    duck_db: float = 0.0  # ducks the nearer gated mics by this much while this gate is open
    settings: dict[str, Any] = field(default_factory=dict)  # the Gate's other settings

    @property
    def threshold_is_relative(self) -> bool:
        return isinstance(self.threshold, str)


@dataclass(frozen=True)
class MicConfig:
    name: str
    distance_m: float | None = None
    position_m: tuple[float, float, float] | None = None
    pattern: str = "omni"
    aim_m: tuple[float, float, float] | None = None
    gain_db: float = 0.0  # the trim; with match_offset_lu set, resolved by Rig.calibrate instead
    match_offset_lu: float | None = None  # gain_db = "match -6": loudness-matched to the close mic, -6 LU
    pan: float = 0.0  # -1 hard left .. +1 hard right (stereo output only)
    invert_polarity: bool = False
    ir: str | None = None  # a measured impulse response instead of the simulated room
    gate: GateConfig | None = None


@dataclass(frozen=True)
class OutputConfig:
    channels: int = 1
    normalize: str = "peak"  # "peak": scale the render to peak_db; "none": keep the trims as they are
    peak_db: float = -1.0
    tail_s: float | None = None  # room tail kept after the input ends; None = 1.2 x RT60


@dataclass(frozen=True)
class RigConfig:
    name: str
    description: str
    room: Room
    singer: SingerConfig
    mics: tuple[MicConfig, ...]
    output: OutputConfig
    source: str = "<memory>"
    # A measured multichannel IR file, one channel per mic in order, instead of the modelled room.
    room_ir: str | None = None

    def mic(self, name: str) -> MicConfig:
        for mic in self.mics:
            if mic.name == name:
                return mic
        raise KeyError(name)


# -- presets -----------------------------------------------------------------------------------


def builtin_presets() -> dict[str, Path]:
    """Built-in preset names mapped to their TOML files."""
    folder = resources.files("roomgate.config") / "presets"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def preset_path(name_or_path: str | Path) -> Path:
    """Resolve a built-in preset name or a path to a TOML file."""
    text = str(name_or_path)
    builtins = builtin_presets()
    if text in builtins:
        return builtins[text]
    path = Path(text)
    if path.suffix.lower() == ".toml" or path.exists() or "/" in text or "\\" in text:
        if not path.is_file():
            raise ConfigError(f"preset {text!r}: no such file")
        return path
    raise ConfigError(f"unknown preset {text!r}; built-in presets: {', '.join(sorted(builtins))}")


def read_preset_table(name_or_path: str | Path) -> tuple[dict[str, Any], Path]:
    """The raw TOML table of a preset, and the file it came from."""
    path = preset_path(name_or_path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"preset {str(path)!r}: broken TOML ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"preset {str(path)!r}: cannot read ({error})") from None


def load_config(name_or_path: str | Path, overrides: Iterable[str] = ()) -> RigConfig:
    """Read, override (``KEY=VALUE`` strings) and validate a preset."""
    table, path = read_preset_table(name_or_path)
    table = apply_overrides(table, overrides)
    return parse_config(table, source=str(path))


# -- overrides ---------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[str, Any]:
    """``"mics.far.distance_m=40ft"`` -> ``("mics.far.distance_m", "40ft")``.

    The value is read as a TOML value when it is one (``2.0``, ``true``, ``[1, 2, 3]``,
    ``"text"``), else taken as a bare string (``40ft``, ``p60``).
    """
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. room.rt60_s=2.0")
    key, _, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: expected a dotted key such as mics.far.distance_m")
    if raw == "":
        raise ConfigError(f"--set {text!r}: expected a value after '='")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(table: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``table`` with each ``KEY=VALUE`` applied; mics are addressed by name."""
    result = copy.deepcopy(dict(table))
    for text in overrides:
        key, value = parse_override(text)
        parts = key.split(".")
        node: Any = result
        walked: list[str] = []
        for part in parts[:-1]:
            walked.append(part)
            if isinstance(node, list) and walked == ["mics", part]:  # the mics list: an entry by its name
                names = [str(m.get("name")) for m in node if isinstance(m, dict)]
                matches = [m for m in node if isinstance(m, dict) and m.get("name") == part]
                if not matches:
                    raise ConfigError(
                        f"--set {key}: no mic named {part!r}; the mics are {', '.join(names)}"
                    )
                node = matches[0]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {'.'.join(walked[:-1])} is a value, not a table")
            if part not in node:
                if part == "gate" and walked[:-1] and walked[0] == "mics":
                    node[part] = {}
                elif len(walked) == 1 and part in _TOP_LEVEL_TABLES:
                    node[part] = {}
                else:
                    raise ConfigError(f"--set {key}: unknown key {'.'.join(walked)!r}")
            node = node[part]
        if isinstance(node, list) and parts[:-1] == ["mics"]:
            raise ConfigError(f"--set {key}: name a mic, e.g. mics.far.distance_m")
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {'.'.join(parts[:-1])} is a value, not a table")
        if parts[0] in ("mics", "room") and parts[-1] == "ir" and isinstance(value, str):
            value = str(Path(value).expanduser().resolve())  # a path typed on the command line: from here
        node[parts[-1]] = value
        # Two spellings of one setting: setting one replaces the other.
        if parts[-1] in _ONE_OF:
            node.pop(_ONE_OF[parts[-1]], None)
    return result


# -- validation --------------------------------------------------------------------------------

_TOP_LEVEL_TABLES = ("room", "singer", "output")
_ONE_OF = {"threshold": "threshold_db", "threshold_db": "threshold", "distance_m": "position_m",
           "position_m": "distance_m"}
_TOP_LEVEL_KEYS = ("name", "description", "room", "singer", "mics", "output")
_ROOM_KEYS = ("size_m", "rt60_s", "materials", "air_absorption", "temperature_c", "humidity_pct", "ir")
_SINGER_KEYS = ("position_m", "toward_m", "directivity", "facing")
_MIC_KEYS = ("name", "distance_m", "position_m", "pattern", "aim_m", "gain_db", "pan",
             "invert_polarity", "ir", "gate")
_OUTPUT_KEYS = ("channels", "normalize", "peak_db", "tail_s")


def parse_config(table: Mapping[str, Any], source: str = "<memory>") -> RigConfig:
    """Validate a raw preset table into a :class:`RigConfig` (ConfigError names the bad key)."""
    _check_keys(table, _TOP_LEVEL_KEYS, "")
    name = _string(table.get("name", Path(source).stem), "name")
    description = _string(table.get("description", ""), "description")

    room_table = _table(table.get("room"), "room", required=True)
    _check_keys(room_table, _ROOM_KEYS, "room.")
    size = _vector(room_table.get("size_m"), "room.size_m", length=3, positive=True)
    materials = room_table.get("materials")
    if materials is not None and not isinstance(materials, (str, dict)):
        raise ConfigError(f"room.materials: expected a material name or a table of them, got {materials!r}")
    rt60 = room_table.get("rt60_s", None if materials is not None else 1.5)
    if isinstance(rt60, dict):  # an octave table {125 = 1.8, ...}: Room validates it (room.rt60_s.<band>)
        rt60 = {key: _number(value, f"room.rt60_s.{key}", minimum=0.05, maximum=20.0) for key, value in rt60.items()}
    elif rt60 is not None:
        rt60 = _number(rt60, "room.rt60_s", minimum=0.05, maximum=20.0)
    if rt60 is None and materials is None:
        raise ConfigError("room: expected rt60_s or materials, got neither")
    room = Room(
        size_m=size,
        rt60_s=rt60,
        materials=materials,
        air_absorption=_bool(room_table.get("air_absorption", True), "room.air_absorption"),
        temperature_c=_number(room_table.get("temperature_c", 20.0), "room.temperature_c", -20.0, 50.0),
        humidity_pct=_number(room_table.get("humidity_pct", 50.0), "room.humidity_pct", 0.0, 100.0),
    )

    singer_table = _table(table.get("singer"), "singer", required=True)
    _check_keys(singer_table, _SINGER_KEYS, "singer.")
    singer_position = _vector(singer_table.get("position_m"), "singer.position_m", length=3)
    _check_inside(singer_position, size, "singer.position_m")
    toward = singer_table.get("toward_m")
    toward_m = None if toward is None else _vector(toward, "singer.toward_m", length=3)
    facing = singer_table.get("facing")
    singer = SingerConfig(
        singer_position,
        toward_m,
        directivity=singer_table.get("directivity", "voice"),
        facing=None if facing is None else _vector(facing, "singer.facing", length=3),
    )
    # An impossible decay, directivity or facing is refused before any audio is read.
    validate_room(room, Singer(singer_position, singer.facing, singer.directivity), [])

    mic_tables = table.get("mics")
    if not isinstance(mic_tables, list) or not mic_tables:
        raise ConfigError(f"mics: expected at least one [[mics]] table, got {mic_tables!r}")
    mics: list[MicConfig] = []
    for index, mic_table in enumerate(mic_tables):
        mics.append(_parse_mic(mic_table, index, singer, size))
    names = [m.name for m in mics]
    for mic in mics:
        if names.count(mic.name) > 1:
            raise ConfigError(f"mics.{mic.name}.name: expected unique mic names, got {names}")
        if mic.gate and mic.gate.key not in ("dry", "self") and mic.gate.key not in names:
            raise ConfigError(
                f"mics.{mic.name}.gate.key: expected 'dry', 'self' or a mic name ({', '.join(names)}), "
                f"got {mic.gate.key!r}"
            )

    output_table = _table(table.get("output", {}), "output")
    _check_keys(output_table, _OUTPUT_KEYS, "output.")
    channels = output_table.get("channels", 1)
    if isinstance(channels, bool) or not isinstance(channels, int) or channels not in (1, 2):
        raise ConfigError(f"output.channels: expected 1 (mono) or 2 (stereo), got {channels!r}")
    normalize = output_table.get("normalize", "peak")
    if normalize not in ("peak", "none"):
        raise ConfigError(f"output.normalize: expected 'peak' or 'none', got {normalize!r}")
    tail = output_table.get("tail_s")
    output = OutputConfig(
        channels=channels,
        normalize=normalize,
        peak_db=_number(output_table.get("peak_db", -1.0), "output.peak_db", -60.0, 0.0),
        tail_s=None if tail is None else _number(tail, "output.tail_s", 0.0, 60.0),
    )
    room_ir = room_table.get("ir")
    if room_ir is not None and not isinstance(room_ir, str):
        raise ConfigError(f"room.ir: expected a path to a multichannel impulse response file, got {room_ir!r}")
    return RigConfig(name, description, room, singer, tuple(mics), output, source, room_ir)


def _parse_mic(mic_table: Any, index: int, singer: SingerConfig, size_m: tuple[float, float, float]) -> MicConfig:
    if not isinstance(mic_table, dict):
        raise ConfigError(f"mics[{index}]: expected a table, got {mic_table!r}")
    name = mic_table.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"mics[{index}].name: expected a name of letters, digits, - or _, got {name!r}")
    where = f"mics.{name}."
    _check_keys(mic_table, _MIC_KEYS, where)
    distance = mic_table.get("distance_m")
    position = mic_table.get("position_m")
    if (distance is None) == (position is None):
        raise ConfigError(f"{where}distance_m: expected exactly one of distance_m or position_m")
    distance_m = None if distance is None else parse_length_m(distance, f"{where}distance_m")
    if distance_m is not None and distance_m <= 0:
        raise ConfigError(f"{where}distance_m: expected a distance > 0, got {distance!r}")
    position_m = None if position is None else _vector(position, f"{where}position_m", length=3)
    where_placed = mic_position_m(singer, size_m, distance_m, position_m)
    _check_inside(where_placed, size_m, f"{where}{'distance_m' if distance_m is not None else 'position_m'}")
    pattern = mic_table.get("pattern", "omni")
    if pattern not in PATTERNS:
        raise ConfigError(f"{where}pattern: expected one of {', '.join(PATTERNS)}, got {pattern!r}")
    aim = mic_table.get("aim_m")
    ir = mic_table.get("ir")
    if ir is not None and not isinstance(ir, str):
        raise ConfigError(f"{where}ir: expected a path to an impulse response file, got {ir!r}")
    gate_table = mic_table.get("gate")
    gain = mic_table.get("gain_db", 0.0)
    match_offset_lu = None
    if isinstance(gain, str) and (match := _MATCH.match(gain.strip())):
        match_offset_lu, gain_db = float((match.group(1) or "0").replace(" ", "")), 0.0
    else:
        try:
            gain_db = _number(gain, f"{where}gain_db", -96.0, 48.0)
        except ConfigError:
            raise ConfigError(
                f"{where}gain_db: expected dB from -96 to 48, or 'match' / 'match -6' (loudness-matched "
                f"to the close mic, offset in LU), got {gain!r}"
            ) from None
    return MicConfig(
        name=name,
        distance_m=distance_m,
        position_m=position_m,
        pattern=pattern,
        aim_m=None if aim is None else _vector(aim, f"{where}aim_m", length=3),
        gain_db=gain_db,
        match_offset_lu=match_offset_lu,
        pan=_number(mic_table.get("pan", 0.0), f"{where}pan", -1.0, 1.0),
        invert_polarity=_bool(mic_table.get("invert_polarity", False), f"{where}invert_polarity"),
        ir=ir,
        gate=None if gate_table is None else _parse_gate(gate_table, f"{where}gate.", name),
    )


def _parse_gate(gate_table: Any, where: str, mic_name: str) -> GateConfig:
    if not isinstance(gate_table, dict):
        raise ConfigError(f"{where[:-1]}: expected a table, got {gate_table!r}")
    key = gate_table.get("key", "close")
    if not isinstance(key, str):
        raise ConfigError(f"{where}key: expected a mic name, 'dry' or 'self', got {key!r}")
    if key == mic_name:
        key = "self"
    if "threshold" in gate_table and "threshold_db" in gate_table:
        raise ConfigError(f"{where}threshold: give threshold or threshold_db, not both")
    if "threshold_db" in gate_table:
        threshold: float | str = _number(gate_table["threshold_db"], f"{where}threshold_db", -150.0, 24.0)
    else:
        threshold = parse_threshold(gate_table.get("threshold", -40.0), f"{where}threshold")
    settings = {k: v for k, v in gate_table.items() if k not in _GATE_SPECIAL_KEYS}
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
    )


def parse_threshold(value: Any, where: str) -> float | str:
    """A threshold: a number of dBFS, ``"pNN"`` (a percentile of the sung frames) or
    ``"-6 dB re peak"`` (relative to the loudest passage)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value, where, -150.0, 24.0)
    if isinstance(value, str):
        text = value.strip()
        match = PERCENTILE_PATTERN.match(text)
        if match and 0 <= float(match.group(1)) < 100:
            return text.lower()
        if RE_PEAK_PATTERN.match(text):
            return text
        try:
            return _number(float(text), where, -150.0, 24.0)
        except ValueError:
            pass
    raise ConfigError(f"{where}: expected dBFS (-30), a percentile ('p60') or '-6 dB re peak', got {value!r}")


def mic_position_m(
    singer: SingerConfig,
    size_m: tuple[float, float, float],
    distance_m: float | None,
    position_m: tuple[float, float, float] | None,
) -> tuple[float, float, float]:
    """Where a mic stands: its ``position_m``, or ``distance_m`` along the singer's line."""
    if position_m is not None:
        return position_m
    assert distance_m is not None
    toward = singer.toward_m or default_toward_m(singer.position_m, size_m)
    direction = [t - s for t, s in zip(toward, singer.position_m)]
    length = math.sqrt(sum(d * d for d in direction))
    if length == 0:
        raise ConfigError("singer.toward_m: expected a point away from the singer, got the singer's position")
    return tuple(s + distance_m * d / length for s, d in zip(singer.position_m, direction))  # type: ignore[return-value]


def singer_facing(singer: SingerConfig, size_m: tuple[float, float, float]) -> tuple[float, float, float]:
    """The direction the singer faces: ``singer.facing``, else horizontally along the mics' line."""
    if singer.facing is not None:
        return singer.facing
    toward = singer.toward_m or default_toward_m(singer.position_m, size_m)
    dx, dy = toward[0] - singer.position_m[0], toward[1] - singer.position_m[1]
    return (dx, dy, 0.0) if dx or dy else (1.0, 0.0, 0.0)


def default_toward_m(singer_m: tuple[float, float, float], size_m: tuple[float, float, float]) -> tuple[float, float, float]:
    """The middle of the wall farthest from the singer along x, at the singer's height."""
    far_x = size_m[0] if singer_m[0] <= size_m[0] / 2 else 0.0
    return (far_x, singer_m[1], singer_m[2])


def _check_inside(point: tuple[float, ...], size_m: tuple[float, float, float], where: str) -> None:
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
        raise ConfigError(f"{where}: expected a number from {minimum:g} to {maximum:g}, got {value!r}")
    return number


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return value


def _vector(value: Any, where: str, length: int, positive: bool = False) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != length:
        raise ConfigError(f"{where}: expected a list of {length} numbers (metres), got {value!r}")
    numbers = []
    for item in value:
        number = parse_length_m(item, where) if isinstance(item, str) else _number(item, where)
        if positive and number <= 0:
            raise ConfigError(f"{where}: expected lengths > 0, got {value!r}")
        numbers.append(number)
    return tuple(numbers)
