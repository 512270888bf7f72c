"""The hall: the default rig's room passes the measures real halls pass (issue 12).

For the mid and far mics of the heroes-1977 rig at RT60 1.5 s and 2.5 s, measured from the direct
sound (see roomgate.acoustics.measures, itself tested in test_acoustics_measures.py):

1. the echo density reaches 0.7 within 30 ms (real halls: 12-19 ms; roomgate 1: 60-85 ms);
2. EDT / T30 between 0.7 and 1.25 in every octave from 125 Hz to 4 kHz (real halls 0.85-1.14);
3. the tail roughness between 0.7 and 2.0 at 250 Hz, 1 kHz and 4 kHz, 0.8 or more on average
   (real halls 0.87-1.41; roomgate 1: 0.35-0.69, a plate).

And the physics around them: T30 within 5 % of the decay asked (a number, an octave table,
materials) in every band, the singer's directivity darkening the reverberant field, and a rig
put on the room's symmetry axis not booming. The rig runs at 48 kHz as `roomgate ir` exports it;
the rest at 16 kHz.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from roomgate.acoustics import Microphone, Room, Singer, cache, impulse_responses, place_on_line, rt60_bands_s
from roomgate.acoustics import measures as ms
from roomgate.config import load_config
from roomgate.errors import ConfigError
from roomgate.rig.rig import load_preset

BANDS_HZ = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)
ROUGHNESS_BANDS_HZ = (250.0, 1000.0, 4000.0)
FS = 16_000
HEROES_SIZE_M = (19.0, 14.0, 7.0)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOMGATE_CACHE_DIR", str(tmp_path / "cache"))
    cache.clear_memory_cache()


@functools.lru_cache(maxsize=None)
def rig_irs(rt60_s: float, sample_rate: int = 48_000) -> dict[str, np.ndarray]:
    rig = load_preset("heroes-1977", [f"room.rt60_s={rt60_s}"])
    irs = rig.impulse_responses(sample_rate)
    return {mic.name: irs[i].astype(np.float64) for i, mic in enumerate(rig.config.mics)}


CASES = [(rt60_s, mic) for rt60_s in (1.5, 2.5) for mic in ("mid", "far")]


@pytest.mark.parametrize(("rt60_s", "mic"), CASES)
def test_echo_density_is_a_halls_within_30_ms(rt60_s, mic):
    h = rig_irs(rt60_s)[mic]
    assert ms.echo_density_time_ms(h, 48_000) <= 30.0


@pytest.mark.parametrize(("rt60_s", "mic"), CASES)
def test_early_decay_follows_the_reverberation_in_every_band(rt60_s, mic):
    h = rig_irs(rt60_s)[mic]
    ratios = {b: ms.decay_time_s(h, 48_000, b, "edt") / ms.decay_time_s(h, 48_000, b, "t30") for b in BANDS_HZ}
    assert all(0.7 <= r <= 1.25 for r in ratios.values()), ratios


@pytest.mark.parametrize(("rt60_s", "mic"), CASES)
def test_the_tail_wanders_like_diffuse_noise(rt60_s, mic):
    h = rig_irs(rt60_s)[mic]
    roughness = [ms.tail_roughness(h, 48_000, b) for b in ROUGHNESS_BANDS_HZ]
    assert all(0.7 <= r <= 2.0 for r in roughness) and np.mean(roughness) >= 0.8, roughness


@pytest.mark.parametrize(("rt60_s", "mic"), CASES)
def test_the_rig_decays_as_asked_in_every_band(rt60_s, mic):
    h = rig_irs(rt60_s)[mic]
    implied = rt60_bands_s(load_config("heroes-1977", [f"room.rt60_s={rt60_s}"]).room, 48_000)
    # From 125 Hz to 4 kHz, as the issue asks. (At 8 kHz the air halves the decay within an
    # octave: that band's filter hears the slower 5.7-6.7 kHz end longest, in a real hall too.)
    for band in BANDS_HZ:
        assert ms.decay_time_s(h, 48_000, band, "t30") == pytest.approx(implied[band], rel=0.05), band


# --------------------------------------------------------------------------------------------
# The decay asked: a number, an octave table, materials
# --------------------------------------------------------------------------------------------

SINGER = Singer((2.5, 5.9, 1.7), facing=(1.0, 0.1, 0.0))
TOWARD = (19.0, 7.43, 2.68)
ROOM_MICS = [Microphone("mid", place_on_line(SINGER.position_m, 6.1, TOWARD)),
             Microphone("far", place_on_line(SINGER.position_m, 15.2, TOWARD))]  # fmt: skip
WALLS = {"east": "wooden_lining", "west": "wooden_lining", "north": "curtains_velvet",
         "south": "wooden_lining", "floor": "wood_16mm", "ceiling": "plasterboard"}  # fmt: skip


@pytest.mark.parametrize(
    "room",
    [
        Room(HEROES_SIZE_M, 1.8),
        Room(HEROES_SIZE_M, {125: 2.2, 250: 2.0, 500: 1.8, 1000: 1.6, 2000: 1.4, 4000: 1.1}),
        Room(HEROES_SIZE_M, {"250": 1.2, "2000": 0.9}),  # TOML's text keys; 500 and 1000 interpolated
        Room(HEROES_SIZE_M, None, materials=WALLS),
    ],
    ids=["number", "table", "sparse-table", "materials"],
)
def test_t30_within_5_percent_of_the_decay_asked_or_implied(room):
    expected = rt60_bands_s(room, FS)
    irs = impulse_responses(room, SINGER, ROOM_MICS, FS, use_cache=False)
    for mic, h in zip(ROOM_MICS, irs.astype(np.float64)):
        for band in BANDS_HZ:
            assert ms.decay_time_s(h, FS, band, "t30") == pytest.approx(expected[band], rel=0.05), (mic.name, band)


def test_an_octave_table_is_the_decay_of_each_band():
    bands = rt60_bands_s(Room(HEROES_SIZE_M, {"250": 1.2, "2000": 0.9}), 48_000)
    assert bands[125.0] == pytest.approx(1.2) and bands[250.0] == pytest.approx(1.2)  # held below
    assert bands[500.0] == pytest.approx(1.1) and bands[1000.0] == pytest.approx(1.0)  # log-frequency steps
    assert bands[2000.0] == pytest.approx(0.9)
    assert bands[4000.0] < 0.9 and bands[8000.0] < bands[4000.0]  # above: the same walls and more air


# --------------------------------------------------------------------------------------------
# The singer's directivity
# --------------------------------------------------------------------------------------------


def reverberant_to_direct_db(directivity: str, band_hz: float) -> float:
    room = Room(HEROES_SIZE_M, 1.5)
    singer = Singer((4.0, 5.9, 1.7), facing=(1.0, 0.0, 0.0), directivity=directivity)
    mic = Microphone("front", (10.0, 5.9, 1.7))  # 6 m in front of her, on her axis
    (h,) = impulse_responses(room, singer, [mic], FS, use_cache=False)
    return -ms.direct_to_reverberant_db(h.astype(np.float64), FS, band_hz)


def test_a_voice_beams_its_highs_forward_and_the_hall_sounds_darker():
    voice = reverberant_to_direct_db("voice", 4000.0) - reverberant_to_direct_db("voice", 500.0)
    omni = reverberant_to_direct_db("omni", 4000.0) - reverberant_to_direct_db("omni", 500.0)
    assert voice <= -3.0, voice
    assert abs(omni) <= 1.0, omni


def test_a_singer_facing_away_is_heard_darker_and_duller():
    room = Room(HEROES_SIZE_M, 1.5, air_absorption=False)
    mic = Microphone("front", (10.0, 5.9, 1.7))
    rows = {}
    for facing in ((1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)):
        singer = Singer((4.0, 5.9, 1.7), facing=facing)
        (rows[facing],) = impulse_responses(room, singer, [mic], FS, use_cache=False)
    toward, away = rows[(1.0, 0.0, 0.0)], rows[(-1.0, 0.0, 0.0)]
    n = int(round(6.0 / room.speed_of_sound_m_s * FS))
    assert toward[n] == pytest.approx(1.0 / 6.0, rel=0.02)  # on her axis: 1 / r at every frequency
    drop_db = [ms.direct_to_reverberant_db(toward, FS, b) - ms.direct_to_reverberant_db(away, FS, b) for b in (250.0, 4000.0)]
    assert 0.5 < drop_db[0] < 5.0 and drop_db[1] > 10.0, drop_db  # her back: a little at 250 Hz, much at 4 kHz


# --------------------------------------------------------------------------------------------
# A rig on the symmetry axis
# --------------------------------------------------------------------------------------------


def early_excess_db(h: np.ndarray, sample_rate: int, band_hz: float, early_ms: float = 80.0) -> float:
    """Energy in the first ``early_ms`` after the direct sound over what the late decay (the T30
    line, -5 to -35 dB) extrapolates to there, in dB: 0 for an exponential decay."""
    start = ms.direct_sound_index(h, sample_rate)
    energy = ms.octave_band(h, sample_rate, band_hz)[start:] ** 2
    edc_db = ms.schroeder_db(energy)
    i0, i1 = int(np.argmax(edc_db <= -5.0)), int(np.argmax(edc_db <= -35.0))
    t = np.arange(i0, i1 + 1) / sample_rate
    slope_db_per_s, intercept_db = np.polyfit(t, edc_db[i0 : i1 + 1], 1)
    rate = -slope_db_per_s * math.log(10.0) / 10.0  # energy decay rate, 1/s
    extrapolated = energy.sum() * 10.0 ** (intercept_db / 10.0) * (1.0 - math.exp(-rate * early_ms / 1000.0))
    return 10.0 * math.log10(energy[: int(early_ms * sample_rate / 1000)].sum() / extrapolated)


def test_a_rig_on_the_symmetry_axis_does_not_boom():
    # Singer and mics on the hall's centre line at one height: a perfect box's images coincide in
    # groups and add up below 300 Hz. Real halls' early energy sits 3-4 dB above the late decay's
    # extrapolation at 250 Hz; an image-source shoebox puts up to 7 dB there.
    room = Room(HEROES_SIZE_M, 1.5)
    singer = Singer((2.5, 7.0, 1.7), facing=(1.0, 0.0, 0.0))
    mics = [Microphone(name, place_on_line(singer.position_m, d, (19.0, 7.0, 1.7))) for name, d in (("mid", 6.1), ("far", 15.2))]
    irs = impulse_responses(room, singer, mics, FS, use_cache=False).astype(np.float64)
    excess = [[early_excess_db(h, FS, band) for band in (125.0, 250.0)] for h in irs]
    assert np.max(excess) <= 5.0, excess


# --------------------------------------------------------------------------------------------
# The preset keys
# --------------------------------------------------------------------------------------------


def test_preset_keys_for_the_singer_and_the_decay_table():
    config = load_config("heroes-1977", ["singer.directivity=omni", "singer.facing=[0, 1, 0]",
                                         "room.rt60_s={125 = 1.8, 1000 = 1.5}"])  # fmt: skip
    assert config.singer.directivity == "omni" and config.singer.facing == (0.0, 1.0, 0.0)
    assert rt60_bands_s(config.room, 16_000)[125.0] == pytest.approx(1.8)
    default = load_config("heroes-1977")
    # By default she faces the mics' line, horizontally.
    (sx, sy, _), (tx, ty, _) = default.singer.position_m, default.singer.toward_m
    assert default.singer.directivity == "voice" and default.singer.facing == pytest.approx((tx - sx, ty - sy, 0.0))
    for override, key in [
        ("singer.directivity=tenor", "singer.directivity"),
        ("singer.facing=[0, 0, 0]", "singer.facing"),
        ("singer.facing=[1, 0]", "singer.facing"),
        ("room.rt60_s={300 = 1.5}", "room.rt60_s.300"),
        ("room.rt60_s={1000 = -1}", "room.rt60_s.1000"),
    ]:
        with pytest.raises(ConfigError, match=f"^{key}"):
            load_config("heroes-1977", [override])


def test_the_default_singer_faces_down_the_mics_line():
    rig = load_preset("heroes-1977")
    singer = np.asarray(rig.config.singer.position_m)
    positions = rig.mic_positions_m()
    assert abs(singer[1] - 7.0) > 1.0  # off the centre line
    assert np.ptp(positions[:, 2]) > 0.5 and np.all(np.abs(positions[:, 1] - 7.0) > 0.25)  # off both planes
    assert rig.mic_distances_m() == pytest.approx([0.2286, 6.096, 15.24], abs=1e-3)  # 9 in, 20 ft, 50 ft
    facing = np.asarray(rig.config.singer.facing)
    facing /= np.linalg.norm(facing)
    for position in positions:
        toward = (position - singer) / np.linalg.norm(position - singer)
        assert toward @ facing > 0.99  # every mic within 8 degrees of her axis
