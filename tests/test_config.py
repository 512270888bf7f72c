"""Presets and --set overrides: what loads, and errors that name the key."""

from __future__ import annotations

import math

import pytest

from roomgate import ConfigError
from roomgate.config import AbsoluteThreshold, RePeakThreshold
from roomgate.units import parse_length_m
from roomgate.config import (
    apply_overrides,
    builtin_presets,
    load_config,
    parse_override,
    read_preset_table,
)


def test_heroes_preset_has_the_contract_keys() -> None:
    config = load_config("heroes-1977")
    assert config.room.size_m == (19.0, 14.0, 7.0)
    assert config.room.rt60_s == 1.5
    assert [m.name for m in config.mics] == ["close", "mid", "far"]
    close, mid, far = config.mics
    assert close.gate is None
    assert mid.gate is not None and mid.gate.key == "close"
    assert far.gate is not None and far.gate.key == "close"
    assert close.distance_m == pytest.approx(0.2286)
    assert mid.distance_m == pytest.approx(6.096)
    assert far.distance_m == pytest.approx(15.24)
    assert config.output.channels == 1


def test_every_builtin_preset_loads() -> None:
    assert "heroes-1977" in builtin_presets()
    for name in builtin_presets():
        assert load_config(name).mics


@pytest.mark.parametrize(
    ("text", "metres"),
    [(6.1, 6.1), ("50ft", 15.24), ("9in", 0.2286), ("6.1 m", 6.1), ("30cm", 0.3), ("20 feet", 6.096), (3, 3.0)],
)
def test_lengths_accept_units(text: object, metres: float) -> None:
    assert parse_length_m(text, "k") == pytest.approx(metres)


@pytest.mark.parametrize("text", ["far", "10 parsecs", "", True, [1]])
def test_bad_lengths_name_the_key(text: object) -> None:
    with pytest.raises(ConfigError, match="mics.far.distance_m"):
        parse_length_m(text, "mics.far.distance_m")


def test_overrides_address_mics_by_name() -> None:
    config = load_config("heroes-1977", ["mics.far.distance_m=40ft", "room.rt60_s=2.0",
                                         "mics.mid.gate.threshold_db=-30", "mics.far.gate.hold_ms=100"])
    assert config.mic("far").distance_m == pytest.approx(12.192)
    assert config.room.rt60_s == 2.0
    assert config.mic("mid").gate.threshold == AbsoluteThreshold(-30.0)
    assert config.mic("far").gate.settings["hold_ms"] == 100


def test_override_values_are_toml_or_text() -> None:
    assert parse_override("room.size_m=[20, 15, 8]") == ("room.size_m", [20, 15, 8])
    assert parse_override("mics.far.distance_m=40ft") == ("mics.far.distance_m", "40ft")
    assert parse_override("output.normalize=\"none\"") == ("output.normalize", "none")
    assert parse_override("room.air_absorption=false") == ("room.air_absorption", False)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("room.rt60_s", "expected KEY=VALUE"),
        ("=3", "dotted key"),
        ("mics.bogus.distance_m=3", "no mic named 'bogus'"),
        ("nothing.here=3", "unknown key 'nothing'"),
        ("room.rt60_s=", "expected a value"),
        ("mics.distance_m=3", "name a mic"),
    ],
)
def test_bad_overrides_say_what_is_wrong(override: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config("heroes-1977", [override])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("room.rt60_s=-1", "room.rt60_s"),
        ("room.rt60_s=\"long\"", "room.rt60_s"),
        ("room.size_m=[19, 14]", "room.size_m"),
        ("room.size_m=[19, -14, 7]", "room.size_m"),
        ("room.colour=\"red\"", "room.colour"),
        ("mics.far.distance_m=-3", "mics.far.distance_m"),
        ("mics.far.distance_m=40", "mics.far.distance_m"),  # past the far wall
        ("mics.far.pattern=\"shotgun\"", "mics.far.pattern"),
        ("mics.far.gain_db=\"loud\"", "mics.far.gain_db"),
        ("mics.far.gate.attack_ms=-3", "mics.far.gate.attack_ms"),
        ("mics.far.gate.key=\"nobody\"", "mics.far.gate.key"),
        ("mics.far.gate.threshold=\"p200\"", "mics.far.gate.threshold"),
        ("singer.position_m=[30, 7, 1.7]", "singer.position_m"),
        ("output.channels=3", "output.channels"),
        ("output.normalize=\"loud\"", "output.normalize"),
    ],
)
def test_invalid_values_name_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config("heroes-1977", [override])


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="heroes-1977"):
        load_config("heroes-1978")


def test_broken_toml_names_the_file(tmp_path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[room\nsize_m = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml.*broken TOML"):
        load_config(broken)


def test_preset_file_round_trip(tmp_path) -> None:
    table, _ = read_preset_table("heroes-1977")
    import tomli_w

    custom = tmp_path / "mine.toml"
    custom.write_text(tomli_w.dumps(apply_overrides(table, ["room.rt60_s=0.8"])), encoding="utf-8")
    assert load_config(custom).room.rt60_s == 0.8


def test_relative_thresholds_parse() -> None:
    config = load_config("heroes-1977", ["mics.mid.gate.threshold=\"-6 dB re peak\"", "mics.far.gate.threshold=-25"])
    assert config.mic("mid").gate.threshold == RePeakThreshold(-6.0)
    assert config.mic("mid").gate.threshold.text == "-6 dB re peak"
    assert config.mic("far").gate.threshold == AbsoluteThreshold(-25.0)
    assert not math.isnan(config.mic("far").gate.threshold.level_db)
