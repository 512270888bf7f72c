"""The numpy gate (dsp/gate_vector.py) against the compiled kernel it stands in for: the same
samples and gains to the bit, the same open flags, the same key levels to float32 rounding, in one
block or many, alternating with the kernel on one state. No test asserts a time."""

from __future__ import annotations

import numpy as np
import pytest

from roomgate.dsp import gate_vector
from roomgate.dsp.gate import _BELOW, _G, _OPEN, _POS, Gate

FS = 48000

CASES = [
    {},
    # heroes-1977's gates as the rig runs them at RT60 1.5 s ("room" hold and release)
    {"detector": "rms", "detector_ms": 50.0, "threshold_db": -35.0, "hysteresis_db": 10.0, "attack_ms": 5.0,
     "hold_ms": 600.0, "release_ms": 2000.0, "range_db": -80.0},
    {"detector": "rms", "detector_ms": 50.0, "threshold_db": -35.0, "hysteresis_db": 6.0, "attack_ms": 5.0,
     "hold_ms": 250.0, "release_ms": 400.0, "range_db": -80.0, "release_curve": "linear"},
    {"hold_ms": 10.0, "release_ms": 30.0, "lookahead_ms": 3.0},
    {"hold_ms": 10.0, "release_ms": 30.0, "lookahead_ms": 3.0, "release_curve": "linear", "range_db": -40.0},
    {"hysteresis_db": 0.0, "hold_ms": 0.0, "attack_ms": 0.0, "release_ms": 0.0},
    {"detector_ms": 0.0, "threshold_db": -30.0, "range_db": -20.0},
    {"threshold_db": -25.0, "hysteresis_db": 10.0, "attack_ms": 7.5, "release_ms": 12.0,
     "lookahead_ms": 7.5, "detector": "rms", "detector_ms": 2.0},
    {"detector": "rms", "detector_ms": 0.0, "hold_ms": 1.0, "range_db": 0.0},
    {"threshold_db": -20.0, "release_ms": 60.0, "range_db": -60.0, "lookahead_ms": 0.5, "attack_ms": 1.0},
]


def vocalish(seconds: float, seed: int, channels: int = 1) -> np.ndarray:
    """Noise under an envelope stepping every 120 ms from -80 to -10 dBFS: crosses the thresholds often."""
    rng = np.random.default_rng(seed)
    n = int(FS * seconds)
    step = int(FS * 0.12)
    levels = rng.uniform(-80.0, -10.0, n // step + 1)
    envelope = np.repeat(10.0 ** (levels / 20.0), step)[:n]
    return (rng.standard_normal((channels, n)) * envelope).astype(np.float32)


def run_blocks(gate: Gate, x: np.ndarray, key: np.ndarray, cuts: list[int], kernel_every: int = 0,
               ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The gate over ``x`` in blocks ending at ``cuts``, by the numpy gate; every
    ``kernel_every``-th block (if any) by the compiled kernel instead, on the same state."""
    n = x.shape[1]
    y = np.empty_like(x)
    trace = (np.empty(n, np.float32), np.empty(n, np.bool_), np.empty(n, np.float32))
    edges = [0, *cuts, n]
    for number, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        part = tuple(t[a:b] for t in trace)
        xa, ka, ya = (np.ascontiguousarray(v[:, a:b]) for v in (x, key, y))
        if kernel_every and number % kernel_every == kernel_every - 1:
            assert gate._process_block(xa, ka, ya, part, float(FS)) == -1
        else:
            assert gate_vector.process_block(gate, xa, ka, ya, part, float(FS)) == -1
        y[:, a:b] = ya
    return y, trace


def block_cuts(kind: str, n: int) -> list[int]:
    rng = np.random.default_rng(7)
    return {"one": [], "odd": sorted(rng.choice(n, 25, replace=False).tolist()),
            "tiny": list(range(1, 400)) + list(range(401, 2000, 37)),
            "alternating": list(range(997, n, 997))}[kind]


@pytest.mark.parametrize("settings", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("blocks", ["one", "odd", "tiny", "alternating"])
def test_numpy_gate_equals_the_kernel(settings: dict, blocks: str) -> None:
    """To the bit against the kernel fed the same blocks (with a lookahead the kernel's own
    products depend on where its blocks begin, by float32 rounding), and to float32 rounding
    against one call."""
    x = vocalish(3.0, seed=len(str(settings)), channels=2)
    key = vocalish(3.0, seed=99)
    whole, trace = Gate(**settings).process_with_trace(x, FS, key=key)
    cuts = block_cuts(blocks, x.shape[1])
    expected, expected_trace = run_blocks(Gate(**settings), x, key, cuts, kernel_every=1)
    gate = Gate(**settings)
    assert gate_vector.supports(gate)
    got, got_trace = run_blocks(gate, x, key, cuts, kernel_every=2 if blocks == "alternating" else 0)
    msg = repr((settings, blocks))
    assert 0.02 < trace.is_open.mean() < 0.98, msg  # the gate really opened and shut
    np.testing.assert_array_equal(got_trace[1], expected_trace[1], err_msg=msg)
    np.testing.assert_array_equal(got_trace[0], expected_trace[0], err_msg=msg)
    np.testing.assert_array_equal(got, expected, err_msg=msg)
    np.testing.assert_allclose(got_trace[2], expected_trace[2], rtol=1e-6, atol=1e-4, err_msg=msg)
    np.testing.assert_array_equal(got_trace[1], trace.is_open, err_msg=msg)
    np.testing.assert_allclose(got, whole, rtol=1e-6, atol=1e-9, err_msg=msg)


@pytest.mark.parametrize("settings", [CASES[1], CASES[3]], ids=["rms", "peak-lookahead"])
def test_numpy_gate_continues_a_stream_like_the_kernel(settings: dict) -> None:
    """Blocks of the kernel's sizes, through each: the state each leaves is the same."""
    x, key = vocalish(2.0, seed=3), vocalish(2.0, seed=4)
    ours, theirs = Gate(**settings), Gate(**settings)
    for a, b in ((0, 700), (700, 30_001), (30_001, 30_002), (30_002, x.shape[1])):
        xa, ka = np.ascontiguousarray(x[:, a:b]), np.ascontiguousarray(key[:, a:b])
        y1, y2 = np.empty_like(xa), np.empty_like(xa)
        trace1 = (np.empty(b - a, np.float32), np.empty(b - a, np.bool_), np.empty(b - a, np.float32))
        trace2 = tuple(np.empty_like(t) for t in trace1)
        assert gate_vector.process_block(ours, xa, ka, y1, trace1, float(FS)) == -1
        assert theirs._process_block(xa, ka, y2, trace2, float(FS)) == -1  # type: ignore[arg-type]
        np.testing.assert_array_equal(y1, y2)
        assert ours._state is not None and theirs._state is not None
        assert np.array_equal(ours._state.istate, theirs._state.istate), (a, b)
        assert ours._state.fstate[_G] == theirs._state.fstate[_G]
        np.testing.assert_allclose(ours._state.fstate, theirs._state.fstate, rtol=1e-12)
        np.testing.assert_array_equal(ours._state.delay, theirs._state.delay)
        np.testing.assert_allclose(ours._state.sumsq, theirs._state.sumsq, rtol=1e-15)


def test_numpy_gate_on_real_singing(vocadito: tuple[np.ndarray, int]) -> None:
    audio, rate = vocadito
    for settings in (CASES[1], CASES[0]):
        expected, trace = Gate(**settings).process_with_trace(audio, rate, key=audio)
        gate = Gate(**settings)
        y = np.empty_like(audio)
        n = audio.shape[1]
        got_trace = (np.empty(n, np.float32), np.empty(n, np.bool_), np.empty(n, np.float32))
        assert gate_vector.process_block(gate, audio, audio, y, got_trace, float(rate)) == -1
        assert 0.05 < trace.is_open.mean() < 0.95  # the gate really opened and shut
        np.testing.assert_array_equal(got_trace[1], trace.is_open)
        np.testing.assert_array_equal(y, expected)


def test_numpy_gate_refuses_non_finite_blocks_leaving_the_state() -> None:
    gate = Gate()
    x = vocalish(0.1, seed=1)
    y = np.empty_like(x)
    assert gate_vector.process_block(gate, x[:, :1000], x[:, :1000], y[:, :1000], None, float(FS)) == -1
    assert gate._state is not None
    before = (gate._state.fstate.copy(), gate._state.istate.copy(), gate._state.sumsq.copy())
    rest = np.ascontiguousarray(x[:, 1000:])
    bad = rest.copy()
    bad[0, 100] = np.nan
    out = np.empty_like(rest)
    assert gate_vector.process_block(gate, bad, rest, out, None, float(FS)) == 0
    assert gate_vector.process_block(gate, rest, bad, out, None, float(FS)) == 1
    bad[0, 100] = np.inf
    assert gate_vector.process_block(gate, bad, bad, out, None, float(FS)) == 0
    for kept, now in zip(before, (gate._state.fstate, gate._state.istate, gate._state.sumsq)):
        np.testing.assert_array_equal(kept, now)


def test_key_filters_and_expanders_are_left_to_the_kernel() -> None:
    assert gate_vector.supports(Gate(release_curve="linear", lookahead_ms=5.0, detector="rms"))
    assert not gate_vector.supports(Gate(key_highpass_hz=100.0))
    assert not gate_vector.supports(Gate(key_lowpass_hz=5000.0))
    assert not gate_vector.supports(Gate(ratio=2.0))


def test_a_probe_reads_the_kernels_levels_and_open_flags() -> None:
    """``y=None``: no gain, the trace's open flags and levels as the kernel's."""
    key = vocalish(2.0, seed=8)
    for settings in (CASES[0], CASES[1]):
        _, trace = Gate(**settings).process_with_trace(key, FS, key=key)
        probe = Gate(**settings)
        n = key.shape[1]
        opened, levels = np.empty(n, np.bool_), np.empty(n, np.float32)
        for a, b in ((0, 5000), (5000, n)):
            assert gate_vector.process_block(probe, key[:, a:b], key[:, a:b], None, (None, opened[a:b], levels[a:b]),
                                             float(FS)) == -1
        np.testing.assert_array_equal(opened, trace.is_open)
        np.testing.assert_allclose(levels, trace.key_db, rtol=1e-6, atol=1e-4)


def test_gates_sharing_a_detector_give_what_each_gives_alone() -> None:
    key = vocalish(2.0, seed=5)
    audio = vocalish(2.0, seed=6, channels=2)
    settings = dict(CASES[1])
    thresholds = (-40.0, -30.0, -20.0)
    alone = [run_blocks(Gate(**{**settings, "threshold_db": t}), audio, key, [30000, 61000]) for t in thresholds]
    gates = [Gate(**{**settings, "threshold_db": t}) for t in thresholds]
    n = audio.shape[1]
    outs = [np.empty_like(audio) for _ in gates]
    traces = [(np.empty(n, np.float32), np.empty(n, np.bool_), np.empty(n, np.float32)) for _ in gates]
    for a, b in ((0, 30000), (30000, 61000), (61000, n)):
        memo: dict = {}
        k = key[:, a:b]
        for gate, out, trace in zip(gates, outs, traces):
            part = tuple(t[a:b] for t in trace)
            assert gate_vector.process_block(gate, np.ascontiguousarray(audio[:, a:b]), k, out[:, a:b], part,
                                             float(FS), memo=memo) == -1
        assert len(memo) == 1  # one detector for the three gates
    for (expected, expected_trace), out, trace in zip(alone, outs, traces):
        np.testing.assert_array_equal(out, expected)
        for ours, theirs in zip(trace, expected_trace):
            np.testing.assert_array_equal(ours, theirs)


def test_the_hold_counter_carries_across_blocks() -> None:
    """A level that falls below the close threshold in one block and stays there: the gate
    closes ``hold_ms`` later, however the blocks are cut (the count carried in the state)."""
    n = FS
    key = np.full((1, n), 0.1, np.float32)
    key[:, n // 4 :] = 1e-4  # -80 dBFS: far below the close threshold
    settings = {"threshold_db": -30.0, "hold_ms": 100.0, "detector_ms": 0.0, "release_ms": 10.0}
    _, trace = Gate(**settings).process_with_trace(key, FS, key=key)
    for cut in (n // 4 + 5, n // 4 + 1000, n // 4 + 4799):
        gate = Gate(**settings)
        _, got = run_blocks(gate, key, key, [cut])
        np.testing.assert_array_equal(got[1], trace.is_open, err_msg=str(cut))
    assert gate._state is not None and gate._state.istate[_OPEN] == 0 and gate._state.istate[_BELOW] == -1
    assert gate._state.istate[_POS] == n % 32
