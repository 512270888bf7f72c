"""Ducking: the other account of Visconti's rig, where each mic is muted as the next one opens.

With ``mics.<far>.gate.duck_db = D`` (< 0; 0, the default, is off) the nearer *gated* mics are
lowered by ``D`` dB while that far gate is open, following its gain smoothly: the duck's depth is
``D`` dB times how far the far gate has opened, from its floor (``range_db``) to 1. The close mic is
ungated and never ducked.

Everything runs on the heroes rig at 16 kHz with absolute thresholds (mid -30, far -15 dBFS of the
close mic's 50 ms rms) and fixed trims, so no calibration moves them between runs, on roomgate's
synthetic sung crescendo (seed 0), whose shout opens the far gate fully for about 3 s.

Two measurements, both through the public API:

* *gate gains per sample* (:func:`_probe_gains`): the rig in multitrack mode, fed the close mic's
  capture (the key, exactly as a dry render hears it) and a track of ones on one room mic: the mix
  minus the close mic is that mic's trim times its gate gain, ducking included, sample by sample;
* *a mic's contribution to a dry render* (:func:`_contribution`): two dry ``Rig.process`` runs whose
  only difference is that mic's trim; the gates are keyed by the close mic, so the difference of the
  mixes is that mic's own part, scaled by the trims' difference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import roomgate

RATE = 16_000
# Absolute thresholds and fixed trims: nothing is fitted to the take, so every run gates alike.
ABSOLUTE = (
    "mics.mid.gate.threshold_db=-30",
    "mics.far.gate.threshold_db=-15",
    "mics.close.gain_db=0",
    "mics.mid.gain_db=14",
    "mics.far.gain_db=16",
)
DUCK_DB = -12.0
DUCKED = (*ABSOLUTE, f"mics.far.gate.duck_db={DUCK_DB:g}")
DUCK_GAIN = 10 ** (DUCK_DB / 20)


@pytest.fixture(scope="module")
def dry() -> np.ndarray:
    """The sung crescendo, (1, N) float32 at 16 kHz (no room involved: safe at module scope)."""
    return roomgate.sung_crescendo(RATE, seed=0)


def _rig(overrides: tuple[str, ...]) -> roomgate.Rig:
    return roomgate.load_preset("heroes-1977", list(overrides))


def _floor(rig: roomgate.Rig, mic: str) -> float:
    """A gate's closed gain (its range_db as a linear gain)."""
    range_db = float(rig.config.mic(mic).gate.settings.get("range_db", -math.inf))  # type: ignore[union-attr]
    return 0.0 if math.isinf(range_db) else 10 ** (range_db / 20)


def _probe_gains(overrides: tuple[str, ...], dry: np.ndarray, latency: int = 0) -> dict[str, np.ndarray]:
    """Per output sample, the gain the rig applies to each gated mic (gate and duck), trims aside.

    ``latency``: the rig's lookahead delay in samples, by which the mix hears the ungated close mic
    late (the probe subtracts the close mic as the mix hears it).

    Shape: each ``(N,)`` float64.
    """
    rig = _rig(overrides)
    n = dry.shape[1]
    close = roomgate.convolve_offline(dry, rig.capture_irs(RATE))[0, :n]
    heard = np.concatenate([np.zeros(latency, np.float32), close[: n - latency]]).astype(np.float64)
    names = rig.mic_names
    assert names[0] == "close" and rig.config.mics[0].gain_db == 0.0 and rig.config.mics[0].gate is None
    gains = {}
    for mic in rig.gated_mics:
        tracks = np.zeros((len(names), n), np.float32)
        tracks[0] = close
        tracks[names.index(mic.name)] = 1.0
        out = rig.process(tracks, RATE, reset=True)[0].astype(np.float64)
        gains[mic.name] = (out - heard) / 10 ** (mic.gain_db / 20)
    return gains


def _contribution(overrides: tuple[str, ...], dry: np.ndarray, mic: str) -> np.ndarray:
    """One mic's part of the dry mix ``Rig.process(dry)``, from two runs differing in its trim.

    Shape: ``(N,)`` float64.
    """
    rig = _rig(overrides)
    gain_db = rig.config.mic(mic).gain_db
    raised_db = gain_db + 20 * math.log10(2.0)
    base = rig.process(dry, RATE, reset=True)[0].astype(np.float64)
    louder = _rig((*overrides, f"mics.{mic}.gain_db={raised_db!r}")).process(dry, RATE, reset=True)[0]
    scale = 10 ** (raised_db / 20) / 10 ** (gain_db / 20) - 1.0
    return (louder.astype(np.float64) - base) / scale


def _energy_ratio_db(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(float(np.sum(a * a)) / float(np.sum(b * b)))


def test_ducking_is_off_by_default(dry: np.ndarray) -> None:
    """The preset leaves duck_db at 0; a rig so set is the same, sample for sample, as one with an
    explicit ``duck_db = 0``; and a duck on the mid gate (whose only nearer mic, the close one, is
    ungated) changes nothing either: the close mic is never ducked."""
    rig = _rig(ABSOLUTE)
    assert all(m.gate.duck_db == 0.0 for m in rig.gated_mics)  # type: ignore[union-attr]
    plain = rig.process(dry, RATE)
    explicit = _rig((*ABSOLUTE, "mics.far.gate.duck_db=0", "mics.mid.gate.duck_db=0")).process(dry, RATE)
    mid_only = _rig((*ABSOLUTE, "mics.mid.gate.duck_db=-12")).process(dry, RATE)
    np.testing.assert_array_equal(explicit, plain)
    np.testing.assert_array_equal(mid_only, plain)
    assert np.abs(plain).max() > 0.1  # a real mix, not silence


def test_duck_lowers_the_mid_mic_by_duck_db_while_the_far_gate_is_open(dry: np.ndarray) -> None:
    """Where the far gate is fully open (gain exactly 1), the mid mic's part of the dry mix is
    ``duck_db`` lower (energy ratio within 0.5 dB; the gain itself within 1e-5 relative); where the
    far gate is shut (at its floor) the mid mic is untouched; the far and close mics never move."""
    plain_gains, ducked_gains = _probe_gains(ABSOLUTE, dry), _probe_gains(DUCKED, dry)
    floor = _floor(_rig(DUCKED), "far")
    far = ducked_gains["far"]
    np.testing.assert_allclose(far, plain_gains["far"], rtol=1e-6, atol=1e-9)  # the far mic: no duck
    fully_open = far >= 1.0 - 1e-6
    shut = far <= floor * (1 + 1e-3)
    assert fully_open.sum() > 1.0 * RATE, "the shout should hold the far gate open for over a second"
    assert shut.sum() > 10.0 * RATE
    mid_open = plain_gains["mid"] > 0.5  # where the duck is audible at all
    assert (fully_open & mid_open).sum() > 1.0 * RATE

    # The gains, sample by sample.
    ratio = ducked_gains["mid"][fully_open & mid_open] / plain_gains["mid"][fully_open & mid_open]
    np.testing.assert_allclose(ratio, DUCK_GAIN, rtol=1e-5)
    np.testing.assert_allclose(ducked_gains["mid"][shut], plain_gains["mid"][shut], rtol=1e-5, atol=1e-9)

    # The mid mic's part of the dry mix (room sound, not a probe).
    plain_mid, ducked_mid = _contribution(ABSOLUTE, dry, "mid"), _contribution(DUCKED, dry, "mid")
    assert _energy_ratio_db(ducked_mid[fully_open], plain_mid[fully_open]) == pytest.approx(DUCK_DB, abs=0.5)
    assert _energy_ratio_db(ducked_mid[shut & mid_open], plain_mid[shut & mid_open]) == pytest.approx(0.0, abs=0.01)
    # The close and far parts: the mix minus the mid part is the same with and without the duck.
    plain_mix = _rig(ABSOLUTE).process(dry, RATE)[0].astype(np.float64)
    ducked_mix = _rig(DUCKED).process(dry, RATE)[0].astype(np.float64)
    rest_plain, rest_ducked = plain_mix - plain_mid, ducked_mix - ducked_mid
    np.testing.assert_allclose(rest_ducked, rest_plain, atol=1e-5 * np.abs(rest_plain).max())


def test_duck_moves_no_faster_than_the_gates_own_ramp(dry: np.ndarray) -> None:
    """The duck follows the far gate's gain, which ramps in a straight line (attack 5 ms up,
    release 600 ms down): the mid mic's total gain (gate x duck) never steps by more per sample than
    the mid gate's own steepest ramp, ``(1 - floor) / attack`` (80 samples at 16 kHz), and the duck
    itself passes through intermediate values instead of switching."""
    rig = _rig(DUCKED)
    attack_samples = float(rig.config.mic("mid").gate.settings["attack_ms"]) * RATE / 1000  # type: ignore[union-attr]
    ramp = (1.0 - _floor(rig, "mid")) / attack_samples
    plain, ducked = _probe_gains(ABSOLUTE, dry), _probe_gains(DUCKED, dry)
    steepest = float(np.abs(np.diff(ducked["mid"])).max())
    assert steepest <= ramp * (1 + 1e-4), (steepest, ramp)
    assert float(np.abs(np.diff(plain["mid"])).max()) == pytest.approx(ramp, rel=1e-3)  # the reference ramp is real

    mid_open = plain["mid"] > 0.999  # the mid gate fully open: what moves is the duck alone
    duck = ducked["mid"][mid_open] / plain["mid"][mid_open]
    between = (duck > DUCK_GAIN * 1.01) & (duck < 0.99)
    far_attack = float(rig.config.mic("far").gate.settings["attack_ms"]) * RATE / 1000  # type: ignore[union-attr]
    # At least one full attack's worth of intermediate values (0.74 of the range at the attack rate).
    assert between.sum() >= 0.7 * far_attack, between.sum()
    # Away from the edges of the mid gate, the duck's own steps are bounded by the far gate's ramp.
    runs = np.diff(np.flatnonzero(mid_open)) == 1
    duck_steps = np.abs(np.diff(duck))[runs]
    assert duck_steps.max() <= (1 - DUCK_GAIN) / far_attack * (1 + 1e-3)


def test_report_timeline_shows_the_duck(dry: np.ndarray) -> None:
    """``Rig.render(...).report.to_json()["timeline"]["gain"]["mid"]`` is the gain actually applied, duck
    included: ``duck_db`` lower in the frames where the far gate's timeline gain is 1, equal where
    it is at its floor. The duck is a level, not a gate state: the mid mic's open intervals and
    open fraction do not change."""
    plain = _rig(ABSOLUTE).render(dry, RATE).report.to_json()
    ducked = _rig(DUCKED).render(dry, RATE).report.to_json()
    floor = _floor(_rig(DUCKED), "far")
    far = np.array(ducked["timeline"]["gain"]["far"])
    np.testing.assert_array_equal(far, plain["timeline"]["gain"]["far"])
    mid_plain = np.array(plain["timeline"]["gain"]["mid"])
    mid_ducked = np.array(ducked["timeline"]["gain"]["mid"])
    fully_open = (far >= 1.0 - 1e-6) & (mid_plain > 0.5)
    shut = far <= floor * (1 + 1e-3)
    assert fully_open.sum() * ducked["timeline"]["hop_s"] > 1.0
    np.testing.assert_allclose(mid_ducked[fully_open] / mid_plain[fully_open], DUCK_GAIN, rtol=1e-4)
    np.testing.assert_allclose(mid_ducked[shut], mid_plain[shut], rtol=1e-5)
    mics_plain = {m["name"]: m for m in plain["mics"]}
    for mic in ducked["mics"]:
        assert mic["intervals"] == mics_plain[mic["name"]]["intervals"], mic["name"]
        assert mic["open_fraction"] == mics_plain[mic["name"]]["open_fraction"], mic["name"]


@pytest.mark.parametrize("block_sizes", [[1], [7], [128], [4096], [1, 7, 128, 4096, 333, 8192]])
def test_ducking_is_block_size_invariant(dry: np.ndarray, block_sizes: list[int]) -> None:
    """With the duck on, ``Rig.process`` in blocks (``reset=False``) gives the one-call result to
    float32 rounding (2e-5 of the peak), over the far gate's opening at the shout; the excerpt is
    checked to hold a real duck (the ducked mix differs from the plain one)."""
    start = int(20.6 * RATE)  # the far gate opens at about 21.1 s
    seconds = 1.2 if block_sizes == [1] else 4.0
    excerpt = np.ascontiguousarray(dry[:, start : start + int(seconds * RATE)])
    rig = _rig(DUCKED)
    whole = rig.process(excerpt, RATE, reset=True)
    plain = _rig(ABSOLUTE).process(excerpt, RATE, reset=True)
    assert np.sqrt(np.mean((whole - plain) ** 2)) > 0.05 * np.sqrt(np.mean(plain**2)), "no duck in the excerpt"
    rig.reset()
    pieces, at, turn = [], 0, 0
    while at < excerpt.shape[1]:
        size = block_sizes[turn % len(block_sizes)]
        pieces.append(rig.process(excerpt[:, at : at + size], RATE, reset=False))
        at, turn = at + size, turn + 1
    streamed = np.concatenate(pieces, axis=1)
    np.testing.assert_allclose(streamed, whole, atol=2e-5 * np.abs(whole).max(), err_msg=repr(block_sizes))


def test_duck_is_timed_with_the_far_mic_when_the_far_gate_looks_ahead(dry: np.ndarray) -> None:
    """With ``lookahead_ms = 10`` on the far gate, the rig delays the close and mid mics by 10 ms to
    stay aligned with it. The duck applied to the mid mic at output sample ``t`` must follow the
    far gate's gain at that same output sample: ``1 - (1 - duck) * openness(g_far[t])``."""
    lookahead = ("mics.far.gate.lookahead_ms=10",)
    latency = int(round(10e-3 * RATE))
    plain = _probe_gains((*ABSOLUTE, *lookahead), dry, latency)
    ducked = _probe_gains((*DUCKED, *lookahead), dry, latency)
    floor = _floor(_rig(DUCKED), "far")
    openness = np.clip((ducked["far"] - floor) / (1 - floor), 0.0, 1.0)
    expected = 1 - (1 - DUCK_GAIN) * openness
    mid_open = plain["mid"] > 0.5
    measured = ducked["mid"][mid_open] / plain["mid"][mid_open]
    np.testing.assert_allclose(measured, expected[mid_open], atol=1e-4)

