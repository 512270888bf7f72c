"""The gate: against a per-sample reference, step responses, streaming, key filter, lookahead,
pedalboard's NoiseGate, properties and errors. No test asserts a time (speed: bench/gate.py)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roomgate.errors import AudioInputError, ConfigError
from roomgate.dsp.gate import (Gate, GateSettings, GateTrace, control_period, gate,
                               room_hold_release_ms)

sys.path.insert(0, str(Path(__file__).parent))
from gate_reference import reference_gate  # noqa: E402

FS = 48000


def db_to_amp(level_db: float) -> float:
    return 10.0 ** (level_db / 20.0)


def vocalish(fs: int, seconds: float, seed: int, channels: int = 1) -> np.ndarray:
    """Noise under a stepped envelope from -70 to -10 dBFS: crosses a -40 dB threshold often."""
    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    step = max(1, int(fs * 0.025))
    levels = rng.uniform(-70.0, -10.0, n // step + 1)
    env = np.repeat(10.0 ** (levels / 20.0), step)[:n]
    return (rng.standard_normal((channels, n)) * env).astype(np.float32)


def tone(fs: int, seconds: float, level_db: float, freq_hz: float = 1000.0) -> np.ndarray:
    t = np.arange(int(fs * seconds)) / fs
    return (db_to_amp(level_db) * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def openings(is_open: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(is_open.astype(np.int8)) == 1) + int(is_open[0]))


# ------------------------------------------------------------------------------------------------
# The fast kernel against the slow reference

REFERENCE_CASES = [
    {},
    {"hold_ms": 10.0, "release_ms": 30.0, "lookahead_ms": 3.0},
    {"detector": "rms", "ratio": 3.0, "knee_db": 6.0, "range_db": -30.0},
    {"key_highpass_hz": 100.0, "key_lowpass_hz": 3000.0, "hysteresis_db": 0.0, "hold_ms": 0.0,
     "attack_ms": 0.0, "release_ms": 0.0},
    {"ratio": 2.0, "detector_ms": 0.0, "threshold_db": -30.0, "range_db": -20.0},
    {"threshold_db": -25.0, "hysteresis_db": 10.0, "attack_ms": 7.5, "release_ms": 12.0,
     "lookahead_ms": 7.5, "detector": "rms", "detector_ms": 2.0},
    {"release_curve": "linear", "hold_ms": 10.0, "release_ms": 30.0, "lookahead_ms": 3.0},
    {"detector": "rms", "detector_ms": 20.0, "hold_ms": 20.0, "release_ms": 60.0,
     "range_db": -60.0},
    {"release_ms": 40.0, "lookahead_ms": 2.0, "ratio": 3.0, "knee_db": 4.0},
]


@pytest.mark.parametrize("params", REFERENCE_CASES, ids=repr)
@pytest.mark.parametrize("keyed", [False, True], ids=["self-keyed", "keyed"])
def test_matches_per_sample_reference(params, keyed):
    fs = 16000
    x = vocalish(fs, 0.5, seed=1, channels=2)
    key = vocalish(fs, 0.5, seed=2, channels=2) if keyed else None
    y_ref, gain_ref, open_ref, db_ref = reference_gate(x, fs, key, **params)
    y, trace = Gate(**params).process_with_trace(x, fs, key=key)
    msg = repr(params)
    assert 0 < open_ref.mean() < 1, msg  # the case does exercise opening and closing
    np.testing.assert_array_equal(trace.is_open, open_ref, err_msg=msg)
    np.testing.assert_allclose(trace.gain, gain_ref, rtol=1e-6, atol=1e-9, err_msg=msg)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-9, err_msg=msg)
    np.testing.assert_allclose(trace.key_db, db_ref, rtol=1e-6, atol=1e-4, err_msg=msg)


@pytest.mark.parametrize("fs", [8000, 22050, 192000])
def test_matches_the_reference_at_rates_with_uneven_control_frames(fs):
    """The control rate (1.5 kHz) divides 16 kHz and 48 kHz unevenly too; 8 kHz and 192 kHz are the
    library's bounds, 22.05 kHz rounds its 15-sample frame furthest from 2/3 ms."""
    params = {"threshold_db": -30.0, "hold_ms": 15.0, "release_ms": 50.0, "lookahead_ms": 1.5,
              "detector": "rms", "detector_ms": 10.0}
    x = vocalish(fs, 0.3, seed=4, channels=1)
    y_ref, gain_ref, open_ref, _ = reference_gate(x, fs, None, **params)
    y, trace = Gate(**params).process_with_trace(x, fs)
    assert 0 < open_ref.mean() < 1
    np.testing.assert_array_equal(trace.is_open, open_ref)
    np.testing.assert_allclose(trace.gain, gain_ref, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-9)


def test_real_singing_matches_the_reference_and_streams(vocadito):
    audio, sr = vocadito
    x = audio[:, 6 * sr: 7 * sr + sr // 2]  # 1.5 s with pauses: the gate opens and closes
    params = {"threshold_db": -30.0, "lookahead_ms": 2.0, "key_highpass_hz": 80.0}
    y_ref, gain_ref, open_ref, _ = reference_gate(x, sr, None, **params)
    y, trace = Gate(**params).process_with_trace(x, sr)
    assert 0.2 < open_ref.mean() < 0.95 and openings(open_ref) >= 2
    np.testing.assert_array_equal(trace.is_open, open_ref)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-9)
    g = Gate(**params)
    cuts = np.sort(np.random.default_rng(17).choice(x.shape[1], 40, replace=False))
    blocks = [g.process(part, sr, reset=(i == 0)) for i, part in enumerate(np.split(x, cuts, 1))]
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), y, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------------------------
# Step responses

def _step_trace(params, on_s=0.3, off_s=None, level_db=-20.0, total_s=1.0):
    n = int(FS * total_s)
    x = np.zeros(n, np.float32)
    on = int(FS * on_s)
    off = n if off_s is None else int(FS * off_s)
    x[on:off] = tone(FS, (off - on) / FS, level_db)
    _, trace = Gate(**params).process_with_trace(x, FS)
    return x, trace, on, off


@pytest.mark.parametrize("attack_ms", [0.5, 2.0, 10.0, 37.0])
def test_attack_time_is_the_full_rise(attack_ms):
    params = {"attack_ms": attack_ms, "range_db": -40.0}
    _, trace, on, _ = _step_trace(params)
    floor = db_to_amp(-40.0)
    g = trace.gain.astype(np.float64)
    assert np.all(g[:on] == np.float32(floor)), repr(params)
    start = np.argmax(g > floor)  # first sample above the floor: the tone's first non-zero sample
    full = np.argmax(g >= 1.0)
    measured_ms = (full - start + 1) / FS * 1000
    assert measured_ms == pytest.approx(attack_ms, rel=0.05, abs=1000 / FS), repr(params)
    # 10 % -> 90 % of the rise takes 0.8 * attack_ms (linear ramp).
    lo = np.argmax(g >= floor + 0.1 * (1 - floor))
    hi = np.argmax(g >= floor + 0.9 * (1 - floor))
    assert (hi - lo) / FS * 1000 == pytest.approx(0.8 * attack_ms, rel=0.05, abs=1000 / FS)
    assert np.all(np.diff(g[start:full + 1]) >= 0)


@pytest.mark.parametrize("curve", ["exponential", "linear"])
@pytest.mark.parametrize("release_ms", [5.0, 50.0, 250.0])
def test_release_time_is_the_full_fall(release_ms, curve):
    params = {"release_ms": release_ms, "hold_ms": 0.0, "detector_ms": 0.0,
              "release_curve": curve}
    _, trace, _, off = _step_trace(params, on_s=0.1, off_s=0.3)
    g = trace.gain.astype(np.float64)
    fall_start = off + np.argmax(g[off:] < 1.0)
    fall_end = fall_start + np.argmax(g[fall_start:] <= 0.0)
    measured_ms = (fall_end - fall_start + 1) / FS * 1000
    assert measured_ms == pytest.approx(release_ms, rel=0.05, abs=1000 / FS)
    assert np.all(np.diff(g[fall_start - 1:fall_end + 1]) <= 0)
    # The release starts within one control frame plus the last tone half-period after the tone.
    assert fall_start - off <= 2 * control_period(FS)


@pytest.mark.parametrize("range_db", [-80.0, -40.0, -math.inf])
@pytest.mark.parametrize("release_ms", [40.0, 1500.0])
def test_exponential_release_falls_the_range_at_a_constant_rate_in_db(range_db, release_ms):
    """As an analogue gate (and a room) does: a straight line in dB, the whole range (80 dB toward
    silence, then silence) in release_ms; the linear curve is slow at first, then a cliff."""
    common = {"release_ms": release_ms, "hold_ms": 0.0, "detector_ms": 0.0, "range_db": range_db}
    _, trace, _, off = _step_trace(common, on_s=0.1, off_s=0.3, total_s=2.0)
    g = trace.gain.astype(np.float64)
    start = off + int(np.argmax(g[off:] < 1.0)) - 1  # the last sample at 1
    fall_db = 80.0 if range_db == -math.inf else -range_db
    samples = release_ms * FS / 1000
    k = np.arange(1, int(samples))
    np.testing.assert_allclose(20 * np.log10(g[start + k]), -fall_db * k / samples, atol=2e-3)
    floor = 0.0 if range_db == -math.inf else db_to_amp(range_db)
    assert np.all(g[start + int(samples) + 2:] == np.float32(floor))
    # The linear curve, set alike: halfway through the release it is only 6 dB down.
    _, linear, _, _ = _step_trace({**common, "release_curve": "linear"}, on_s=0.1, off_s=0.3,
                                  total_s=2.0)
    half = start + int(samples / 2)
    assert 20 * np.log10(linear.gain[half]) > -6.1
    assert 20 * np.log10(g[half]) == pytest.approx(-fall_db / 2, abs=0.01)


def test_close_threshold_is_the_open_threshold_less_the_hysteresis():
    assert GateSettings(threshold_db=-30, hysteresis_db=6).close_threshold_db == -36.0
    assert GateSettings(threshold_db=-30, hysteresis_db=6).open_threshold_db == -30.0
    # A soft-knee expander counts as open from the knee's top.
    expander = GateSettings(threshold_db=-30, hysteresis_db=6, ratio=2.0, knee_db=8.0)
    assert (expander.open_threshold_db, expander.close_threshold_db) == (-26.0, -32.0)
    # The gate does close there: a tone just above it holds, just below it closes.
    # (1.5 kHz: a whole period in each 32-sample frame, so each frame's peak is the tone's)
    x = np.concatenate([tone(FS, 0.2, -20.0, 1500.0), tone(FS, 0.5, -35.5, 1500.0),
                        tone(FS, 0.5, -36.5, 1500.0)])
    _, trace = Gate(threshold_db=-30, hysteresis_db=6, hold_ms=0.0,
                    detector_ms=0.0).process_with_trace(x, FS)
    assert trace.is_open[FS // 1000 : int(0.7 * FS)].all()  # (from the sine's first peak)
    assert not trace.is_open[int(0.75 * FS):].any()


def test_room_hold_release_follow_the_rt60():
    assert room_hold_release_ms(1.5) == pytest.approx((600.0, 2000.0))  # 40 dB/s, 80 dB
    assert room_hold_release_ms(2.5, -60.0) == pytest.approx((1000.0, 2500.0))
    assert room_hold_release_ms(2.0, -math.inf) == pytest.approx((800.0, 80 / 60 * 2000.0))
    # The release then falls at the room's own rate: 60 dB per RT60.
    hold_ms, release_ms = room_hold_release_ms(1.2, -40.0)
    assert 40.0 / release_ms * 1000.0 * 1.2 == pytest.approx(60.0)
    with pytest.raises(ConfigError, match="^rt60_s: expected a number > 0"):
        room_hold_release_ms(0.0)


@pytest.mark.parametrize("hold_ms", [0.0, 20.0, 80.0, 333.3])
def test_hold_keeps_the_gate_open_for_hold_ms_within_a_frame(hold_ms):
    params = {"hold_ms": hold_ms, "detector_ms": 0.0, "release_ms": 10.0}
    _, trace, _, off = _step_trace(params, on_s=0.1, off_s=0.3, total_s=1.0)
    H = control_period(FS)
    # The first frame end that sees the level below the close threshold: key_db drops there.
    seen_below = off + np.argmax(trace.key_db[off:] < -44.0)
    closed = seen_below + np.argmax(~trace.is_open[seen_below:])
    held = closed - seen_below
    assert hold_ms * FS / 1000 <= held < hold_ms * FS / 1000 + H, (held, H)
    assert trace.is_open[off:closed].all()
    # The release starts when the hold ends.
    assert trace.gain[closed - 1] == 1.0 and trace.gain[closed] < 1.0


def _wander(seed: int, seconds: float, around_db: float, wander_db: float) -> np.ndarray:
    """A 1 kHz tone whose level wanders randomly within around_db +/- wander_db."""
    rng = np.random.default_rng(seed)
    n = int(FS * seconds)
    walk = np.cumsum(rng.normal(0.0, 0.25, n // 480 + 1))
    walk = wander_db * np.sin(walk)  # bounded random walk in [-wander, +wander]
    walk[0] = wander_db  # start above the threshold: exactly one opening is due
    level = np.interp(np.arange(n), np.arange(len(walk)) * 480, walk) + around_db
    t = np.arange(n) / FS
    return (10 ** (level / 20) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)


def test_hysteresis_stops_chatter():
    x = _wander(seed=3, seconds=3.0, around_db=-40.0, wander_db=2.0)
    common = {"threshold_db": -40.0, "hold_ms": 0.0, "detector_ms": 0.0, "release_ms": 5.0}
    _, with_hyst = Gate(hysteresis_db=4.0, **common).process_with_trace(x, FS)
    _, without = Gate(hysteresis_db=0.0, **common).process_with_trace(x, FS)
    assert openings(with_hyst.is_open) == 1
    assert openings(without.is_open) > 10


def test_silence_in_silence_out():
    for params in ({}, {"lookahead_ms": 5.0, "range_db": -20.0}, {"ratio": 2.0, "detector": "rms"}):
        z = np.zeros((2, 10000), np.float32)
        y = Gate(**params).process(z, FS, key=vocalish(FS, 10000 / FS, seed=4))
        assert y.dtype == np.float32 and y.shape == z.shape
        assert not np.any(y), repr(params)


@pytest.mark.parametrize("params", REFERENCE_CASES, ids=repr)
def test_gain_within_floor_and_one_and_no_clicks(params):
    x = vocalish(FS, 1.0, seed=5)
    _, trace = Gate(**params).process_with_trace(x, FS)
    s = GateSettings(**params)
    floor = 0.0 if s.range_db == -math.inf else db_to_amp(s.range_db)
    assert trace.gain.min() >= np.float32(floor) * (1 - 1e-6)
    assert trace.gain.max() <= 1.0
    # No jump larger than one attack (or release) step per sample.
    step_up = (1 - floor) / (s.attack_ms * FS / 1000) if s.attack_ms else 1.0
    g = trace.gain.astype(np.float64)
    d = np.diff(g)
    assert d.max() <= step_up * (1 + 1e-5) + 1e-7
    if s.release_curve == "linear":
        step_down = (1 - floor) / (s.release_ms * FS / 1000) if s.release_ms else 1.0
        assert -d.min() <= step_down * (1 + 1e-5) + 1e-7
    elif s.release_ms:  # exponential: no step falls more dB than the range / release samples
        fall_db = -s.range_db if floor > 0 else 80.0
        end = max(floor, db_to_amp(-fall_db))
        step_db = fall_db / (s.release_ms * FS / 1000)
        falling = (d < 0) & (g[1:] > end * (1 + 1e-5))
        steps_db = 20 * np.log10(g[:-1][falling] / g[1:][falling])
        assert np.all(steps_db <= step_db * (1 + 1e-4) + 3e-6)  # (+ float32 rounding)
        # ... and the last step, onto the floor, starts one step above the end of the range.
        closing = (d < 0) & ~falling
        assert np.all(g[:-1][closing] <= end * db_to_amp(step_db) * (1 + 1e-5) + 1e-7)


@pytest.mark.parametrize("ratio,knee_db,range_db", [(2.0, 0.0, -math.inf), (4.0, 0.0, -30.0),
                                                    (3.0, 10.0, -math.inf)])
def test_expander_static_curve(ratio, knee_db, range_db):
    thr = -40.0
    g = Gate(threshold_db=thr, ratio=ratio, knee_db=knee_db, range_db=range_db,
             hysteresis_db=0.0, hold_ms=0.0)
    for level in (-70.0, -55.0, -46.0, -42.0, -40.0, -38.0, -30.0):
        _, trace = g.process_with_trace(tone(FS, 0.3, level), FS)
        measured = 20 * np.log10(trace.gain[-1000:].mean())
        over = level - thr
        if knee_db and abs(over) < knee_db / 2:
            want = -(ratio - 1) * (over - knee_db / 2) ** 2 / (2 * knee_db)
        else:
            want = min(0.0, (ratio - 1) * over)
        want = max(want, range_db)
        assert measured == pytest.approx(want, abs=0.05), (level, measured, want)


# ------------------------------------------------------------------------------------------------
# Streaming

def _in_blocks(g: Gate, x, key, sizes):
    ys, traces, start = [], [], 0
    for i, size in enumerate(sizes):
        stop = min(start + size, x.shape[-1])
        k = None if key is None else key[..., start:stop]
        y, tr = g.process_with_trace(x[..., start:stop], FS, key=k, reset=(i == 0))
        ys.append(y)
        traces.append(tr)
        start = stop
        if start >= x.shape[-1]:
            break
    assert start == x.shape[-1]
    return (np.concatenate(ys, axis=-1), np.concatenate([t.gain for t in traces]),
            np.concatenate([t.is_open for t in traces]))


STREAM_CASES = [
    {"lookahead_ms": 2.5, "hold_ms": 20.0},
    {"detector": "rms", "ratio": 3.0, "knee_db": 6.0, "key_highpass_hz": 80.0},
    {"key_lowpass_hz": 2000.0, "attack_ms": 0.0, "range_db": -12.0, "lookahead_ms": 0.9},
    {"release_curve": "linear", "release_ms": 30.0, "hold_ms": 5.0, "lookahead_ms": 1.3},
]


@pytest.mark.parametrize("params", STREAM_CASES, ids=repr)
@pytest.mark.parametrize("blocks", ["1", "7", "128", "4096", "random", "one"])
def test_block_size_invariance(params, blocks):
    n = 12000 if blocks == "1" else 48000
    x = vocalish(FS, n / FS, seed=6, channels=2)
    key = vocalish(FS, n / FS, seed=7, channels=1)[0]
    y1, g1 = Gate(**params).process_with_trace(x, FS, key=key)
    if blocks == "random":
        sizes = list(np.random.default_rng(8).integers(1, 3000, size=n))
    elif blocks == "one":
        sizes = [n]
    else:
        sizes = [int(blocks)] * (n // int(blocks) + 1)
    y2, gain2, open2 = _in_blocks(Gate(**params), x, key, sizes)
    msg = repr((params, blocks))
    np.testing.assert_array_equal(open2, g1.is_open, err_msg=msg)
    np.testing.assert_allclose(gain2, g1.gain, rtol=1e-6, atol=1e-7, err_msg=msg)
    np.testing.assert_allclose(y2, y1, rtol=1e-6, atol=1e-7, err_msg=msg)


def test_reset_and_state_after_sound():
    g = Gate(release_ms=100.0, hold_ms=50.0)
    loud = tone(FS, 0.2, -10.0)
    silence = np.zeros(FS // 10, np.float32)
    g.process(loud, FS)
    _, tail = g.process_with_trace(silence, FS, reset=False)
    assert tail.is_open[0] and tail.gain[0] == 1.0  # still open: the state carried over
    g.reset()
    _, fresh = g.process_with_trace(silence, FS, reset=False)
    assert not fresh.is_open.any() and not fresh.gain.any()
    _, again = g.process_with_trace(silence, FS)  # reset=True is the default
    np.testing.assert_array_equal(again.gain, fresh.gain)


def test_streaming_refuses_a_changed_layout():
    g = Gate()
    g.process(np.zeros((2, 100), np.float32), FS)
    with pytest.raises(AudioInputError, match="2 channel"):
        g.process(np.zeros((1, 100), np.float32), FS, reset=False)
    with pytest.raises(AudioInputError, match="44100"):
        g.process(np.zeros((2, 100), np.float32), 44100, reset=False)


# ------------------------------------------------------------------------------------------------
# Channels and key

def test_multichannel_audio_shares_one_gain():
    x = vocalish(FS, 0.5, seed=9, channels=3)
    x[1] *= 0.01  # a quiet channel is gated exactly like the loud ones
    y, trace = Gate().process_with_trace(x, FS)
    np.testing.assert_allclose(y, x * trace.gain, rtol=1e-6, atol=1e-12)


def test_key_channels_are_linked_by_max():
    x = vocalish(FS, 0.5, seed=10, channels=2)
    key = vocalish(FS, 0.5, seed=11, channels=2)
    key[1, : key.shape[1] // 2] = 0.0  # each key channel alone misses some of the events
    linked = np.max(np.abs(key), axis=0)
    y_two, t_two = Gate().process_with_trace(x, FS, key=key)
    y_max, t_max = Gate().process_with_trace(x, FS, key=linked)
    np.testing.assert_array_equal(t_two.gain, t_max.gain)
    np.testing.assert_array_equal(y_two, y_max)


def test_1d_is_mono_and_returns_1d():
    x = vocalish(FS, 0.2, seed=12)[0]
    y = gate(x, FS)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y, gate(x[None, :], FS)[0])
    np.testing.assert_array_equal(gate(x.astype(np.float64), FS), y)


def test_function_is_one_block_of_the_class():
    x = vocalish(FS, 0.3, seed=13, channels=2)
    key = vocalish(FS, 0.3, seed=14)
    params = {"threshold_db": -35.0, "lookahead_ms": 1.0, "detector": "rms"}
    np.testing.assert_array_equal(gate(x, FS, key=key, **params),
                                  Gate(**params).process(x, FS, key=key))


@pytest.mark.parametrize("cutoff_setting", ["key_highpass_hz", "key_lowpass_hz"])
def test_key_filter_keeps_out_of_band_energy_from_opening(cutoff_setting):
    if cutoff_setting == "key_highpass_hz":
        rumble, cutoff = tone(FS, 1.0, -15.0, freq_hz=40.0), 100.0  # plosive / rumble
    else:
        rumble, cutoff = tone(FS, 1.0, -15.0, freq_hz=15000.0), 3000.0  # hiss / cymbal
    rumble[: FS // 20] *= np.hanning(FS // 10)[: FS // 20]  # a 50 ms fade-in, as rumble does
    _, filtered = Gate(**{cutoff_setting: cutoff}).process_with_trace(rumble, FS)
    _, unfiltered = Gate().process_with_trace(rumble, FS)
    assert not filtered.is_open.any()
    assert unfiltered.is_open[FS // 10:].all()
    # In-band singing still opens a filtered gate.
    _, voice = Gate(**{cutoff_setting: cutoff}).process_with_trace(tone(FS, 0.5, -20, 500), FS)
    assert voice.is_open[FS // 10:].all()


# ------------------------------------------------------------------------------------------------
# Lookahead

def test_latency_is_reported():
    g = Gate(lookahead_ms=5.0)
    assert g.latency_samples == 0  # before any call
    assert g.latency_samples_at(48000) == 240 and g.latency_samples_at(44100) == 220
    g.process(np.zeros(10, np.float32), 44100)
    assert g.latency_samples == 220
    g.reset()
    assert g.latency_samples == 220  # the sample rate of the last call
    assert Gate().latency_samples_at(96000) == 0


@pytest.mark.parametrize("lookahead_ms,attack_ms", [(2.0, 2.0), (5.0, 2.0), (10.0, 10.0)])
def test_lookahead_delays_audio_and_opens_before_the_transient(lookahead_ms, attack_ms):
    n = FS // 2
    x = np.zeros(n, np.float32)
    t0 = 10007
    x[t0:] = tone(FS, (n - t0) / FS, -10.0, freq_hz=700.0)
    x[t0] = 0.3  # a sharp transient, the first sound
    g = Gate(lookahead_ms=lookahead_ms, attack_ms=attack_ms)
    y, trace = g.process_with_trace(x, FS)
    L = g.latency_samples
    assert L == round(lookahead_ms * FS / 1000)
    delayed = np.concatenate([np.zeros(L, np.float32), x[:-L]])
    np.testing.assert_allclose(y, delayed * trace.gain, rtol=1e-6, atol=1e-12)
    assert trace.gain[t0 + L] == 1.0  # fully open when the transient comes out
    assert y[t0 + L] == np.float32(0.3)
    assert not np.any(y[: t0 + L])


def test_without_lookahead_the_transient_is_cut_by_the_attack():
    x = np.zeros(FS // 4, np.float32)
    x[5000:] = 0.3
    y, trace = Gate(attack_ms=2.0).process_with_trace(x, FS)
    assert 0 < trace.gain[5000] < 0.05
    assert y[5000] < 0.3 * 0.05


# ------------------------------------------------------------------------------------------------
# Against pedalboard's NoiseGate (JUCE dsp::NoiseGate). Test-only: pedalboard is GPL.

@pytest.mark.parametrize("ratio", [2.0, 4.0])
@pytest.mark.parametrize("freq_hz", [1000.0, 220.0])
def test_agrees_with_pedalboard_noise_gate_on_a_level_staircase(ratio, freq_hz):
    pedalboard = pytest.importorskip("pedalboard")
    thr = -40.0
    levels = np.arange(-64.0, -15.0, 4.0)
    step = int(0.4 * FS)
    t = np.arange(step * len(levels)) / FS
    x = (np.sin(2 * np.pi * freq_hz * t) * np.repeat(10 ** (levels / 20), step)).astype(np.float32)
    ours = Gate(threshold_db=thr, ratio=ratio, attack_ms=1.0, release_ms=50.0, hold_ms=0.0,
                hysteresis_db=0.0).process(x, FS)
    theirs = pedalboard.NoiseGate(threshold_db=thr, ratio=ratio, attack_ms=1.0,
                                  release_ms=50.0)(x[None, :], FS)[0]

    def steady_gain_db(y):  # rms gain over the second half of each step
        out = []
        for i in range(len(levels)):
            seg = slice(i * step + step // 2, (i + 1) * step)
            out.append(10 * np.log10(np.mean(y[seg].astype(float) ** 2)
                                     / np.mean(x[seg].astype(float) ** 2)))
        return np.array(out)

    g_ours, g_theirs = steady_gain_db(ours), steady_gain_db(theirs)
    msg = repr((ratio, freq_hz, g_ours.round(2), g_theirs.round(2)))
    above = levels > thr  # at the threshold itself both are marginal
    below = levels < thr
    np.testing.assert_allclose(g_ours[above], 0.0, atol=0.1, err_msg=msg)
    np.testing.assert_allclose(g_theirs[above], g_ours[above], atol=1.0, err_msg=msg)
    slope_ours = np.polyfit(levels[below], g_ours[below], 1)[0]
    slope_theirs = np.polyfit(levels[below], g_theirs[below], 1)[0]
    assert slope_ours == pytest.approx(ratio - 1, rel=0.05), msg
    assert slope_theirs == pytest.approx(slope_ours, rel=0.1), msg
    if freq_hz >= 1000:  # a tone whose peaks every frame sees: the same curve, to 0.1 dB
        np.testing.assert_allclose(g_theirs, g_ours, atol=0.1, err_msg=msg)


# ------------------------------------------------------------------------------------------------
# Properties

FLOAT32_MAX = float(np.finfo(np.float32).max)
finite_samples = st.floats(min_value=-FLOAT32_MAX, max_value=FLOAT32_MAX, width=32)
valid_settings = st.fixed_dictionaries({}, optional={
    "threshold_db": st.floats(-100, 20),
    "hysteresis_db": st.floats(0, 20),
    "attack_ms": st.floats(0, 50),
    "hold_ms": st.floats(0, 100),
    "release_ms": st.floats(0, 300),
    "release_curve": st.sampled_from(["exponential", "linear"]),
    "range_db": st.one_of(st.just(-math.inf), st.floats(-120, 0)),
    "ratio": st.one_of(st.just(math.inf), st.floats(1, 50)),
    "knee_db": st.floats(0, 24),
    "lookahead_ms": st.floats(0, 20),
    "detector": st.sampled_from(["peak", "rms"]),
    "detector_ms": st.floats(0, 50),
    "key_highpass_hz": st.one_of(st.none(), st.floats(20, 500)),
    "key_lowpass_hz": st.one_of(st.none(), st.floats(1000, 7000)),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=valid_settings,
       audio=st.lists(finite_samples, min_size=0, max_size=600),
       scale=st.sampled_from([1.0, 1e-3, 1e-30]),
       split=st.integers(0, 600))
def test_any_finite_input_and_valid_settings_give_finite_output_in_range(params, audio, scale,
                                                                         split):
    fs = 16000
    x = np.asarray(audio, dtype=np.float32) * np.float32(scale)
    g = Gate(**params)
    y1, t1 = g.process_with_trace(x[:split], fs)
    y2, t2 = g.process_with_trace(x[split:], fs, reset=False)
    y = np.concatenate([y1, y2])
    gain = np.concatenate([t1.gain, t2.gain])
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.all(np.isfinite(y))
    s = g.settings
    floor = 0.0 if s.range_db == -math.inf else db_to_amp(s.range_db)
    assert np.all(gain <= 1.0) and np.all(gain >= np.float32(floor) * (1 - 1e-6))
    L = g.latency_samples
    delayed = np.concatenate([np.zeros(L, np.float32), x])[: len(x)]
    assert np.all(np.abs(y) <= np.abs(delayed))


INVALID = {
    "threshold_db": [math.nan, math.inf, "loud", None],
    "hysteresis_db": [-0.5, math.nan],
    "attack_ms": [-3.0, math.nan, math.inf],
    "hold_ms": [-1, "80"],
    "release_ms": [-0.001, True],
    "range_db": [1.0, math.nan, math.inf],
    "ratio": [0.5, -2.0, math.nan],
    "knee_db": [-1.0],
    "lookahead_ms": [-5.0, math.nan],
    "detector": ["max", 1, None],
    "release_curve": ["log", "", None],
    "detector_ms": [-1.0],
    "key_highpass_hz": [0.0, -50.0, math.nan, "100"],
    "key_lowpass_hz": [0.0, math.inf],
}


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_invalid_settings_raise_config_error_naming_the_setting(data):
    name = data.draw(st.sampled_from(sorted(INVALID)))
    value = data.draw(st.sampled_from(INVALID[name]))
    with pytest.raises(ConfigError) as info:
        Gate(**{name: value})
    assert str(info.value).startswith(f"{name}: expected "), str(info.value)
    assert repr(value) in str(info.value) or repr(float(value)) in str(info.value)


def test_error_messages_show_expected_and_actual():
    with pytest.raises(ConfigError, match=r"^attack_ms: expected a number >= 0, got -3\.0$"):
        Gate(attack_ms=-3)
    with pytest.raises(ConfigError, match=r"^unknown_ms: unknown gate setting; expected one of "):
        Gate(unknown_ms=1)
    with pytest.raises(ConfigError, match=r"^key_lowpass_hz: expected a number > key_highpass_hz"):
        Gate(key_highpass_hz=500, key_lowpass_hz=400)
    with pytest.raises(ConfigError, match=r"^detector: expected 'peak' or 'rms', got 'max'$"):
        Gate(detector="max")
    with pytest.raises(ConfigError, match=r"^ratio: expected a number >= 1 \(or inf\), got 0\.5$"):
        Gate(ratio=0.5)
    g = Gate(key_lowpass_hz=30000)  # fine until a sample rate says otherwise
    with pytest.raises(ConfigError, match=r"^key_lowpass_hz: expected a number below half the "):
        g.process(np.zeros(10, np.float32), 48000)
    g.process(np.zeros(10, np.float32), 96000)


def test_settings_are_frozen_and_replace_validates():
    g = Gate(threshold_db=-30)
    s = g.settings
    assert isinstance(s, GateSettings) and s.threshold_db == -30.0 and s.hold_ms == 80.0
    with pytest.raises(AttributeError):
        s.threshold_db = -20  # type: ignore[misc]
    assert s.replace(threshold_db=-20).threshold_db == -20.0
    with pytest.raises(ConfigError, match="^attack_ms"):
        s.replace(attack_ms=-1)
    with pytest.raises(ConfigError, match="^nope"):
        s.replace(nope=1)
    import dataclasses

    with pytest.raises(ConfigError, match="^hold_ms"):
        dataclasses.replace(s, hold_ms=-1)
    g.settings = s.replace(threshold_db=-20)
    assert g.settings.threshold_db == -20.0
    assert Gate.from_settings(g.settings).settings == g.settings


def test_defaults_are_vocal_gate_defaults():
    s = Gate().settings
    assert (s.threshold_db, s.hysteresis_db, s.attack_ms, s.hold_ms, s.release_ms) == (
        -40.0, 4.0, 2.0, 80.0, 250.0)
    assert s.range_db == -math.inf and s.ratio == math.inf and s.knee_db == 0.0
    assert (s.lookahead_ms, s.detector, s.detector_ms) == (0.0, "peak", 5.0)
    assert s.release_curve == "exponential"
    assert s.key_highpass_hz is None and s.key_lowpass_hz is None


@pytest.mark.parametrize("audio,key,match", [
    (np.zeros((1, 2, 100), np.float32), None, r"got shape \(1, 2, 100\)"),
    (np.zeros(()), None, r"got shape \(\)"),
    (np.zeros((0, 100), np.float32), None, "at least one channel"),
    (np.zeros((48000, 2), np.float32), None, "samples, channels"),
    (np.zeros(100, np.int16), None, "floating-point"),
    (np.zeros((2, 100), np.float32), np.zeros((1, 99), np.float32),
     r"key shape \(1, 99\) for audio shape \(2, 100\)"),
    (np.zeros((2, 100), np.float32), np.zeros((2, 3, 100), np.float32), r"shape \(2, 3, 100\)"),
])
def test_bad_audio_shapes_raise_audio_input_error(audio, key, match):
    with pytest.raises(AudioInputError, match=match):
        Gate().process(audio, FS, key=key)


@pytest.mark.parametrize("where", ["audio", "key"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("params", [{}, {"lookahead_ms": 1.0, "key_highpass_hz": 100.0},
                                    {"detector": "rms", "detector_ms": 20.0}], ids=repr)
def test_non_finite_input_raises_and_keeps_the_state(where, bad, params):
    x = vocalish(FS, 0.1, seed=15, channels=2)
    key = vocalish(FS, 0.1, seed=16)
    g = Gate(**params)
    first = g.process(x, FS, key=key)
    broken_x, broken_key = x.copy(), key.copy()
    (broken_x if where == "audio" else broken_key)[0, 1234] = bad
    with pytest.raises(AudioInputError, match=rf"^{where}: expected finite samples, got .* "
                                              r"channel 0, sample 1234"):
        g.process(broken_x, FS, key=broken_key, reset=False)
    # The failed call changed nothing: the stream continues as if it had not happened.
    y_after, _ = g.process_with_trace(x, FS, key=key, reset=False)
    y_ref = Gate(**params)
    y_ref.process(x, FS, key=key)
    np.testing.assert_array_equal(y_after, y_ref.process(x, FS, key=key, reset=False))
    assert first.shape == x.shape


@pytest.mark.parametrize("params", [{}, {"detector": "rms"}, {"key_lowpass_hz": 3000.0}],
                         ids=repr)
def test_non_finite_self_keyed_audio_raises_and_keeps_the_state(params):
    x = vocalish(FS, 0.1, seed=18, channels=2)
    g, twin = Gate(**params), Gate(**params)
    g.process(x[:, :3001], FS)  # 3001: the stream stops inside a control frame
    twin.process(x[:, :3001], FS)
    broken = x[:, 3001:].copy()
    broken[1, 1500] = math.nan  # late in the block: the kernel has run frames before it
    with pytest.raises(AudioInputError, match=r"^audio: expected finite samples, got nan at "
                                              r"channel 1, sample 1500"):
        g.process(broken, FS, reset=False)
    np.testing.assert_array_equal(g.process(x[:, 3001:], FS, reset=False),
                                  twin.process(x[:, 3001:], FS, reset=False))


@pytest.mark.parametrize("sample_rate", [0, -48000, math.nan, math.inf, "48000", None])
def test_bad_sample_rate(sample_rate):
    with pytest.raises(AudioInputError, match="^sample_rate: expected a positive finite"):
        Gate().process(np.zeros(10, np.float32), sample_rate)


def test_empty_audio():
    y, trace = Gate().process_with_trace(np.zeros((2, 0), np.float32), FS)
    assert y.shape == (2, 0) and trace.gain.shape == (0,)
    assert isinstance(trace, GateTrace)


def test_import_is_light():
    code = ("import sys, roomgate.dsp.gate; "
            "bad = [m for m in ('numba', 'scipy.signal') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
