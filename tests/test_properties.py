"""Property tests: whatever a user types, roomgate either works or says what is wrong.

* Presets and ``--set`` values, built from a grammar of the real keys and of values a user might type
  (numbers negative, huge, NaN-ish; lengths with units; lists; booleans; TOML oddities), either load
  or raise :class:`~roomgate.errors.ConfigError`: never another exception.
* Raw preset tables (mutations of heroes-1977, and raw text) do the same.
* :meth:`Rig.process` on any finite input with any valid settings raises nothing but
  :class:`~roomgate.errors.RoomgateError` and returns only finite samples, in one call or streamed
  (``reset=False``) across random block splits.

Cases that show a bug are explicit examples marked ``xfail(strict=True)``; the properties themselves
keep to what roomgate handles today, so they guard against new regressions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from roomgate.config import load_config, parse_config, read_preset_table
from roomgate.errors import ConfigError, RoomgateError
from roomgate.rig.rig import load_preset

PRESET = "heroes-1977"
MICS = ("close", "mid", "far")
GATED = ("mid", "far")
MIC_KEYS = ("distance_m", "gain_db", "pan", "pattern", "invert_polarity")
GATE_KEYS = ("threshold_db", "threshold", "hysteresis_db", "attack_ms", "hold_ms", "release_ms", "range_db",
             "ratio", "detector", "detector_ms", "duck_db")
REAL_KEYS = (
    ["room.size_m", "room.rt60_s", "singer.position_m"]
    + [f"mics.{m}.{k}" for m in MICS for k in MIC_KEYS]
    + [f"mics.{m}.gate.{k}" for m in GATED for k in GATE_KEYS]
    + [f"output.{k}" for k in ("channels", "normalize", "peak_db")]
)
# Keys that are not there, or are not keys at all.
ODD_KEYS = ["mics.nobody.gain_db", "nothing.here", "nothing", "room.nothing", "mics.far.gate.nothing",
            "room.size_m.x", "mics.far", "mics", "room", "output", "mics.close.gate.threshold_db",
            "mics.far.gate", "singer.position_m.0", "mics.0.gain_db", "mics..gain_db", ".room", "room.",
            "MICS.far.gain_db", "mics.far.gate.key", "name", "description", "room.materials", "mics.far.ir"]

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.filter_too_much])

# -- what a user might type after '=' -------------------------------------------------------------

INT64 = 2**63 - 1  # TOML's own limit for integers (beyond it: see the xfail below)


def _float_text(x: float) -> str:
    return repr(x) if math.isfinite(x) else {math.inf: "inf", -math.inf: "-inf"}.get(x, "nan")


numbers = st.one_of(
    st.integers(-INT64, INT64).map(str),
    st.integers(-100, 100).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(_float_text),
    st.floats(-100, 100).map(_float_text),
    st.sampled_from(["0", "-0", "0.0", "-0.0", "1e308", "-1e308", "5e-324", "1e999", "-1e999", "nan", "+nan", "-nan",
                     "inf", "+inf", "-inf", "NaN", "Infinity", "1_000", "0x10", "0o17", "0b101", "1.", ".5", "+1.5",
                     "1e3", "1E-3", "9" * 30]),
)
with_units = st.one_of(
    st.builds(lambda x, unit, space: f"{x:g}{space}{unit}", st.floats(-1e4, 1e4), st.sampled_from(
        ["m", "cm", "mm", "ft", "feet", "foot", "in", "inch", "inches", "'", '"', "dB", "ms", "s", "LU", "parsecs", ""]),
        st.sampled_from(["", " "])),
    st.sampled_from(["12ft", "9in", "6.1 m", "-3ft", "1e3m", "50'", '9"', "p60", "p0", "p99.9", "p100", "p-5", "pp60",
                     "-6 dB re peak", "+60 dB re peak", "dB re peak", "match", "match -6", "match +3 LU", "match x",
                     "loud", "", " ", "peak", "none", "rms", "omni", "cardioid", "figure8", "shotgun", "self", "dry",
                     "close", "nobody", "true", "yes"]),
)
quoted = st.one_of(with_units, st.text(max_size=12)).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
lists = st.one_of(
    st.lists(st.one_of(numbers, with_units.map(lambda s: repr(s))), max_size=5).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.sampled_from(["[]", "[[1]]", "[1, 2]", "[1, 2, 3, 4]", "[nan, 1, 1]", "['8ft', 6, 3]", "[8, 6, 3]", "[true, 1, 2]",
                     "[1, 'x', 2]", "[{a = 1}]", "[0, 0, 0]", "[-1, 2, 3]", "[1e308, 1e308, 1e308]"]),
)
garbage = st.sampled_from(["true", "false", "{a = 1}", "{}", "{threshold_db = -30}", "1979-05-27", "07:32:00",
                           "1979-05-27T07:32:00Z", "[1,", "{", '"unterminated', "=", "a=b", "1\nx = 2", "'''x'''",
                           '"""x"""', "\\", "#", "1 # comment", "\x00", "é", "🎤"])
raw_text = st.text(max_size=20)
values = st.one_of(numbers, with_units, quoted, lists, garbage, raw_text)
keys = st.one_of(st.sampled_from(REAL_KEYS), st.sampled_from(ODD_KEYS),
                 st.lists(st.sampled_from(["room", "mics", "far", "gate", "x", "size_m", ""]), min_size=1, max_size=4)
                 .map(".".join))
overrides = st.lists(st.one_of(st.builds(lambda k, v: f"{k}={v}", keys, values), st.text(max_size=15)), max_size=4)


def _loads_or_config_error(call: Any) -> Any:
    try:
        result = call()
    except ConfigError:
        event("ConfigError")
        return None
    except Exception as error:  # noqa: BLE001 - the property: nothing but ConfigError
        pytest.fail(f"{type(error).__name__} instead of ConfigError: {error!r}")
    event("loaded")
    return result


@FAST
@given(overrides=overrides)
def test_any_set_overrides_load_or_raise_config_error(overrides: list[str]) -> None:
    _loads_or_config_error(lambda: load_config(PRESET, overrides))


@FAST
@given(key=st.sampled_from(REAL_KEYS), value=values)
def test_every_real_key_with_any_value_loads_or_raises_a_one_line_config_error(key: str, value: str) -> None:
    try:
        load_config(PRESET, [f"{key}={value}"])
        event("loaded")
    except ConfigError as error:
        event("ConfigError")
        message = str(error).strip()
        # One line for the CLI, naming a key ("a.b: ..." or "--set a.b...").
        assert message and "\n" not in message, message
        assert "." in message.split(":")[0] or message.startswith(("--set", "room", "mics", "singer", "output")), message
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"--set {key}={value}: {type(error).__name__} instead of ConfigError: {error!r}")


# -- raw preset tables ------------------------------------------------------------------------------

_HEROES, _ = read_preset_table(PRESET)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-INT64, INT64), st.floats(allow_nan=True), st.text(max_size=8),
                    st.sampled_from(["9in", "20ft", "p65", "-6 dB re peak", "omni", "close", "rms", "peak", "match"]))
toml_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                           max_leaves=8)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_tables(draw: st.DrawFn) -> dict[str, Any]:
    """heroes-1977 with a few random edits: a value replaced, a key deleted or added, a table emptied."""
    import copy

    table = copy.deepcopy(_HEROES)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(table)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = table
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add", "empty"]))
        last = path[-1]
        if action == "replace":
            parent[last] = draw(toml_values)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "gate", "threshold", "distance_m", "position_m", "name", "key",
                                         "materials", "tail_s", "toward_m", "aim_m", "ir", "knee_db"]))] = draw(toml_values)
        elif action == "empty":
            parent[last] = {} if isinstance(parent[last], dict) else []
    return table


@FAST
@given(table=mutated_tables())
def test_any_preset_table_parses_or_raises_config_error(table: dict[str, Any]) -> None:
    _loads_or_config_error(lambda: parse_config(table, source="mutated.toml"))


@settings(max_examples=40, deadline=None)
@given(table=mutated_tables())
def test_any_preset_file_loads_or_raises_config_error(tmp_path_factory: pytest.TempPathFactory,
                                                       table: dict[str, Any]) -> None:
    import tomli_w

    _strip_none(table)
    try:
        text = tomli_w.dumps(table)
    except (TypeError, ValueError):  # not expressible in TOML (e.g. mixed nesting): nothing to test
        assume(False)
    path = tmp_path_factory.mktemp("preset") / "mutated.toml"
    path.write_text(text)
    _loads_or_config_error(lambda: load_config(path))


@settings(max_examples=40, deadline=None)
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_text_as_a_preset_file_loads_or_raises_config_error(tmp_path_factory: pytest.TempPathFactory,
                                                                 text: str) -> None:
    path = tmp_path_factory.mktemp("preset") / "text.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _loads_or_config_error(lambda: load_config(path))


def _strip_none(node: Any) -> None:
    """TOML has no null: drop None values (in place) so the table can be written."""
    if isinstance(node, dict):
        for key in [k for k, v in node.items() if v is None]:
            del node[key]
        for value in node.values():
            _strip_none(value)
    elif isinstance(node, list):
        node[:] = [v for v in node if v is not None]
        for value in node:
            _strip_none(value)


# -- bugs, as explicit examples ---------------------------------------------------------------------

_NUMERIC_KEYS = ["room.rt60_s", "room.temperature_c", "room.humidity_pct", "singer.position_m", "room.size_m",
                 "mics.far.distance_m", "mics.far.gain_db", "mics.far.pan", "mics.far.gate.threshold_db",
                 "mics.far.gate.threshold", "mics.far.gate.hysteresis_db", "mics.far.gate.attack_ms",
                 "mics.far.gate.hold_ms", "mics.far.gate.release_ms", "mics.far.gate.range_db", "mics.far.gate.ratio",
                 "mics.far.gate.detector_ms", "mics.far.gate.duck_db", "mics.far.gate.knee_db",
                 "mics.far.gate.lookahead_ms", "mics.far.gate.key_highpass_hz", "output.peak_db", "output.tail_s"]


def test_integers_beyond_64_bits_are_config_errors() -> None:
    huge = "1" + "0" * 400
    failures = []
    for key in _NUMERIC_KEYS:
        value = f"[{huge}, 1, 1]" if key in ("singer.position_m", "room.size_m") else huge
        for sign in ("", "-"):
            try:
                load_config(PRESET, [f"{key}={sign}{value}"])
            except ConfigError:
                pass
            except Exception as error:  # noqa: BLE001
                failures.append(f"{key}={sign}1e400: {type(error).__name__}")
    assert not failures, failures


def test_output_channels_is_an_integer() -> None:
    try:
        config = load_config(PRESET, ["output.channels=2.0"])
    except ConfigError:
        return
    assert type(config.output.channels) is int


# -- Rig.process on random input with random valid settings ------------------------------------------

ROOMS = {
    "small": ["room.size_m=[8, 6, 3]", "room.rt60_s=0.3", "singer.position_m=[1.5, 3, 1.5]",
              "mics.mid.distance_m=2.5", "mics.far.distance_m=5.5"],
    "tiny": ["room.size_m=[4, 3, 2.5]", "room.rt60_s=0.2", "singer.position_m=[1, 1.5, 1.2]",
             "mics.mid.distance_m=1.2", "mics.far.distance_m=2.5"],
    "tiny-patterns": ["room.size_m=[4, 3, 2.5]", "room.rt60_s=0.2", "singer.position_m=[1, 1.5, 1.2]",
                      "mics.mid.distance_m=1.2", "mics.far.distance_m=2.5", "mics.close.pattern='omni'",
                      "mics.mid.pattern='figure8'", "mics.far.pattern='hypercardioid'"],
}
RATES = (8_000, 11_025, 16_000)


def _finite(low: float, high: float) -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from([low, high]), st.floats(low, high))


@st.composite
def gate_overrides(draw: st.DrawFn, mic: str, absolute: bool) -> list[str]:
    where = f"mics.{mic}.gate."
    out: list[str] = []
    if absolute or draw(st.booleans()):
        out.append(f"{where}threshold_db={draw(_finite(-150.0, 24.0))!r}")
    else:
        threshold = draw(st.one_of(st.integers(0, 99).map(lambda p: f"p{p}"),
                                   _finite(-60.0, 6.0).map(lambda d: f"{d:+.1f} dB re peak")))
        out.append(f"{where}threshold='{threshold}'")
    optional = {
        "hysteresis_db": _finite(0.0, 40.0), "attack_ms": _finite(0.0, 500.0), "hold_ms": _finite(0.0, 2000.0),
        "release_ms": _finite(0.0, 3000.0), "detector_ms": _finite(0.0, 200.0), "duck_db": _finite(-40.0, 0.0),
        "knee_db": _finite(0.0, 24.0), "lookahead_ms": _finite(0.0, 20.0),
        "range_db": st.one_of(_finite(-120.0, 0.0), st.just(-math.inf)),
        "ratio": st.one_of(_finite(1.0, 20.0), st.just(math.inf)),
        # Mostly below the lowest Nyquist (4 kHz); now and then above it (a ConfigError at 8 kHz).
        "key_highpass_hz": st.one_of(_finite(10.0, 1000.0), _finite(10.0, 1000.0), _finite(1000.0, 9000.0)),
        "key_lowpass_hz": st.one_of(_finite(1000.0, 3990.0), _finite(1000.0, 3990.0), _finite(100.0, 9000.0)),
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=6)):
        out.append(f"{where}{name}={_float_text(draw(optional[name]))}")
    if draw(st.booleans()):
        out.append(f"{where}detector='{draw(st.sampled_from(['peak', 'rms']))}'")
    if draw(st.booleans()):
        out.append(f"{where}key='{draw(st.sampled_from(['close', 'dry', 'self', 'mid', 'far']))}'")
    return out


@st.composite
def rig_overrides(draw: st.DrawFn, absolute: bool = False) -> tuple[str, list[str]]:
    room = draw(st.sampled_from(sorted(ROOMS)))
    out = list(ROOMS[room])
    for mic in MICS:
        if draw(st.booleans()):
            gain = draw(st.one_of(_finite(-96.0, 48.0).map(repr),
                                  st.sampled_from(["'match'", "'match -6'", "'match +3 LU'"])))
            if absolute and gain.startswith("'"):
                gain = "0.0"
            out.append(f"mics.{mic}.gain_db={gain}")
        if draw(st.booleans()):
            out.append(f"mics.{mic}.pan={draw(_finite(-1.0, 1.0))!r}")
        if draw(st.booleans()):
            out.append(f"mics.{mic}.invert_polarity={'true' if draw(st.booleans()) else 'false'}")
    for mic in GATED:
        out += draw(gate_overrides(mic, absolute))
    out.append(f"output.channels={draw(st.sampled_from([1, 2]))}")
    return room, out


@st.composite
def signals(draw: st.DrawFn, channels: int) -> np.ndarray:
    """A finite take: silence, noise, a tone, clicks, DC or a burst, at any level from -120 dBFS
    to 60 dB over full scale, 1 to 3000 samples."""
    n = draw(st.integers(1, 3000))
    kind = draw(st.sampled_from(["silence", "noise", "tone", "clicks", "dc", "burst", "square"]))
    amplitude = draw(st.sampled_from([1e-6, 1e-3, 0.1, 0.5, 1.0, 4.0, 1000.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = np.arange(n)
    if kind == "silence":
        x = np.zeros((channels, n))
    elif kind == "noise":
        x = rng.standard_normal((channels, n))
    elif kind == "tone":
        x = np.sin(2 * np.pi * rng.uniform(0.001, 0.5) * t)[None].repeat(channels, 0)
    elif kind == "clicks":
        x = np.zeros((channels, n))
        x[:, rng.integers(0, n, size=max(1, n // 500))] = rng.choice([-1.0, 1.0])
    elif kind == "dc":
        x = np.ones((channels, n)) * rng.choice([-1.0, 1.0])
    elif kind == "burst":
        x = rng.standard_normal((channels, n)) * (t > n // 2)
    else:
        x = np.sign(np.sin(2 * np.pi * 0.01 * t))[None].repeat(channels, 0)
    return np.ascontiguousarray(amplitude * x, dtype=np.float32)


def _rig_or_reject(overrides: list[str]) -> Any:
    try:
        return load_preset(PRESET, overrides)
    except ConfigError:
        assume(False)  # only settings that load are settings the rig must handle


def _check_block(rig: Any, block: np.ndarray, rate: int, reset: bool) -> np.ndarray | None:
    try:
        out = rig.process(block, rate, reset=reset)
    except RoomgateError as error:
        event(f"RoomgateError: {type(error).__name__}: {str(error).split(':')[0]}")
        return None
    except Exception as error:  # noqa: BLE001 - the property: nothing but RoomgateError
        pytest.fail(f"Rig.process raised {type(error).__name__}: {error!r}")
    assert out.shape == (rig.output_channels, block.shape[1]), out.shape
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out)), f"{np.count_nonzero(~np.isfinite(out))} non-finite samples"
    event("processed")
    return out


@SLOW
@given(setup=rig_overrides(), rate=st.sampled_from(RATES), multitrack=st.booleans(), data=st.data())
def test_rig_process_on_any_finite_input_is_finite_or_a_roomgate_error(
        setup: tuple[str, list[str]], rate: int, multitrack: bool, data: st.DataObject) -> None:
    _, overrides = setup
    rig = _rig_or_reject(overrides)
    audio = data.draw(signals(3 if multitrack else 1))
    _check_block(rig, audio, rate, reset=True)


@SLOW
@given(setup=rig_overrides(absolute=True), rate=st.sampled_from(RATES), multitrack=st.booleans(), data=st.data())
def test_rig_streaming_across_random_block_splits_is_finite_or_a_roomgate_error(
        setup: tuple[str, list[str]], rate: int, multitrack: bool, data: st.DataObject) -> None:
    _, overrides = setup
    rig = _rig_or_reject(overrides)
    audio = data.draw(signals(3 if multitrack else 1))
    n = audio.shape[1]
    cuts = sorted(set(data.draw(st.lists(st.integers(0, n), max_size=8))))
    edges = [0, *cuts, n]
    rig.reset()
    for start, stop in zip(edges[:-1], edges[1:]):
        # Zero-length blocks are legal and must be harmless too.
        if _check_block(rig, audio[:, start:stop], rate, reset=False) is None:
            break


def test_loud_but_finite_multitrack_is_refused_or_stays_finite() -> None:
    rig = load_preset(PRESET, [*ROOMS["small"], "mics.mid.gate.threshold_db=-30", "mics.far.gate.threshold_db=-20",
                               "mics.close.gain_db=48", "mics.mid.gain_db=48", "mics.far.gain_db=48"])
    take = np.random.default_rng(0).uniform(-1, 1, (1, 4000)).astype(np.float32) * np.float32(1e37)
    try:
        out = rig.process(np.repeat(take, 3, axis=0), 16_000)
    except RoomgateError:
        return
    assert np.all(np.isfinite(out))


def test_absurd_lookahead_is_a_config_error() -> None:
    try:
        rig = load_preset(PRESET, [*ROOMS["tiny"], "mics.mid.gate.threshold_db=-30",
                                   "mics.far.gate.threshold_db=-20", "mics.far.gate.lookahead_ms=1e9"])
        rig.process(np.zeros((1, 100), np.float32), 16_000)
    except ConfigError:
        return
    pytest.fail("lookahead_ms=1e9 was accepted")
