"""Convolution engine: offline overlap-save and the zero-latency partitioned streaming convolver.

References are ``numpy.convolve`` in float64 (slow, obviously correct); tolerances are relative
to the reference's peak (float32 rounding is ~1e-7..1e-6 of it; we allow 1e-5). Fixed seeds.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roomgate import AudioInputError
from roomgate.dsp.convolve import (
    Convolver,
    clear_ir_spectrum_cache,
    convolve_offline,
    ir_spectrum_cache_info,
    plan_partitions,
)

RTOL = 1e-5  # of the output's peak


def _irs(m: int, taps: int, seed: int = 0, decay: bool = True) -> np.ndarray:
    """Room-like IRs: a direct spike then decaying noise (or plain noise); (M, L) float32."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((m, taps))
    if decay:
        h *= np.exp(-np.arange(taps) / max(1.0, taps / 7))
        h[:, 0] += 2.0
    return h.astype(np.float32)


def _signal(channels: int, n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((channels, n)).astype(np.float32)


def _reference(x: np.ndarray, irs: np.ndarray) -> np.ndarray:
    """Full convolution with numpy.convolve in float64; (M, N + L - 1)."""
    rows = [x[0 if x.shape[0] == 1 else m].astype(np.float64) for m in range(irs.shape[0])]
    return np.stack([np.convolve(r, h.astype(np.float64)) for r, h in zip(rows, irs)])


def _assert_close(y: np.ndarray, ref: np.ndarray, msg: str = "", rtol: float = RTOL) -> None:
    assert y.shape == ref.shape, (y.shape, ref.shape, msg)
    err = np.abs(y.astype(np.float64) - ref).max() / np.abs(ref).max()
    assert err <= rtol, f"relative error {err:.2e} > {rtol:.0e} ({msg})"


def _stream(conv: Convolver, x: np.ndarray, sizes) -> np.ndarray:
    """Feed x in consecutive blocks of the given sizes (cycled); concatenated output."""
    out, i, k = [], 0, 0
    while i < x.shape[1]:
        n = sizes[k % len(sizes)]
        out.append(conv.process(x[:, i : i + n]))
        i, k = i + n, k + 1
    return np.concatenate(out, axis=1)


# Cases: (mics M, taps L, samples N, inputs). Taps span direct-FIR-only IRs, one or two FFT
# levels, and a signal shorter than its IR.
CASES = [
    (1, 1, 300, 1),
    (1, 37, 1000, 1),
    (3, 300, 5000, 1),
    (3, 300, 5000, 3),
    (3, 6000, 9000, 1),
    (2, 6000, 9000, 2),
    (2, 5000, 50, 1),
]


@pytest.mark.parametrize(("m", "taps", "n", "inputs"), CASES)
def test_offline_matches_numpy(m: int, taps: int, n: int, inputs: int) -> None:
    irs, x = _irs(m, taps), _signal(inputs, n)
    y = convolve_offline(x, irs, workers=1)
    assert y.dtype == np.float32
    _assert_close(y, _reference(x, irs), repr((m, taps, n, inputs)))


@pytest.mark.parametrize(("m", "taps", "n", "inputs"), CASES)
def test_stream_then_tail_matches_numpy(m: int, taps: int, n: int, inputs: int) -> None:
    irs, x = _irs(m, taps), _signal(inputs, n)
    conv = Convolver(irs)
    y = np.concatenate([conv.process(x), conv.tail()], axis=1)
    assert y.dtype == np.float32
    _assert_close(y, _reference(x, irs), repr((m, taps, n, inputs)))


def test_long_irs_against_numpy() -> None:
    """Three 20000-tap IRs (four FFT levels deep at head 32): both engines against numpy."""
    irs, x = _irs(3, 20_000, seed=3), _signal(1, 20_000, seed=4)
    ref = _reference(x, irs)
    _assert_close(convolve_offline(x, irs), ref, "offline")
    conv = Convolver(irs, head_size=32, max_partition=2048)
    assert len(conv.partitions) == 4
    y = np.concatenate([_stream(conv, x, [1000, 3, 4096]), conv.tail()], axis=1)
    _assert_close(y, ref, "stream")


def test_room_sized_irs_offline_equals_streaming() -> None:
    """The rig's case: 3 IRs of 1.8 s at 48 kHz; offline and streaming agree to float32."""
    irs = _irs(3, 86_400, seed=5)
    x = _signal(1, 60_000, seed=6)
    off = convolve_offline(x, irs)
    conv = Convolver(irs)
    y = np.concatenate([_stream(conv, x, [128]), conv.tail()], axis=1)
    _assert_close(y, off.astype(np.float64), "1.8 s IRs, blocks of 128")


@pytest.mark.parametrize("size", [1, 7, 128, 4096, None])
def test_block_size_invariance(size: int | None) -> None:
    irs, x = _irs(3, 5000, seed=7), _signal(1, 12_000, seed=8)
    conv = Convolver(irs)
    whole = conv.process(x)
    conv.reset()
    y = conv.process(x) if size is None else _stream(conv, x, [size])
    _assert_close(y, whole.astype(np.float64), f"block size {size}")


_CONV_FOR_SEQUENCES: list[tuple] = []  # (convolver, inputs, one-call outputs), built once


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 8192), min_size=1, max_size=12), st.sampled_from([1, 3]))
def test_random_block_sequences(sizes: list[int], inputs: int) -> None:
    """Any sequence of block sizes 1..8192 gives the one-call result (and reset() restarts)."""
    if not _CONV_FOR_SEQUENCES:
        irs = _irs(3, 30_000, seed=9)
        conv = Convolver(irs)
        x1, x3 = _signal(1, 40_000, seed=10), _signal(3, 40_000, seed=11)
        whole = {1: conv.process(x1)}
        conv.reset()
        whole[3] = conv.process(x3)
        _CONV_FOR_SEQUENCES.append((conv, {1: x1, 3: x3}, whole))
    conv, xs, whole = _CONV_FOR_SEQUENCES[0]
    conv.reset()
    x = xs[inputs][:, : sum(sizes)]
    y = _stream(conv, x, sizes)
    _assert_close(y, whole[inputs][:, : x.shape[1]].astype(np.float64), repr(sizes))


@pytest.mark.parametrize(("head", "max_partition"), [(2, 8), (16, 64), (64, 4096)])
def test_other_partition_schemes(head: int, max_partition: int) -> None:
    irs, x = _irs(2, 3000, seed=12), _signal(1, 5000, seed=13)
    conv = Convolver(irs, head_size=head, max_partition=max_partition)
    y = np.concatenate([_stream(conv, x, [1, 33, 500]), conv.tail()], axis=1)
    _assert_close(y, _reference(x, irs), f"head {head}, max partition {max_partition}")


def test_zero_latency() -> None:
    """The output for input sample n already contains h[0] * x[n]."""
    irs = _irs(3, 4000, seed=14)
    conv = Convolver(irs)
    assert conv.latency_samples == 0
    conv.process(np.zeros((1, 777), np.float32))
    y = conv.process(np.ones((1, 1), np.float32))
    np.testing.assert_allclose(y[:, 0], irs[:, 0], rtol=1e-6)
    # and the impulse response comes out sample by sample
    rest = np.concatenate([conv.process(np.zeros((1, 1), np.float32)) for _ in range(300)], axis=1)
    np.testing.assert_allclose(rest, irs[:, 1:301], atol=1e-6 * np.abs(irs).max())


def test_reset_gives_identical_output() -> None:
    irs, x = _irs(3, 5000, seed=15), _signal(1, 9000, seed=16)
    conv = Convolver(irs)
    first = _stream(conv, x, [100, 1, 999])
    conv.reset()
    second = _stream(conv, x, [100, 1, 999])
    np.testing.assert_array_equal(first, second)


def test_silence_after_sound_gives_tail_then_zeros() -> None:
    irs, x = _irs(3, 5000, seed=17), _signal(1, 3000, seed=18)
    ref = _reference(x, irs)
    conv = Convolver(irs)
    conv.process(x)
    tail = conv.process(np.zeros((1, irs.shape[1] - 1), np.float32))
    _assert_close(tail, ref[:, x.shape[1] :], "tail")
    after = conv.process(np.zeros((1, 20_000), np.float32))
    assert np.abs(after).max() <= 1e-6 * np.abs(ref).max()  # rounding of the FFT levels only
    assert not np.any(after[:, -2000:])  # once every level has seen only silence: exact zeros


@pytest.mark.parametrize("inputs", [1, 3])
def test_offline_equals_streaming(inputs: int) -> None:
    irs, x = _irs(3, 12_000, seed=19), _signal(inputs, 20_000, seed=20)
    off = convolve_offline(x, irs)
    conv = Convolver(irs)
    y = np.concatenate([_stream(conv, x, [512, 3]), conv.tail()], axis=1)
    _assert_close(y, off.astype(np.float64), f"{inputs} inputs")


def test_one_input_equals_identical_inputs() -> None:
    irs, x = _irs(3, 2000, seed=21), _signal(1, 4000, seed=22)
    a = Convolver(irs).process(x)
    b = Convolver(irs).process(np.repeat(x, 3, axis=0))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * np.abs(a).max())


def test_process_into_strided_and_other_dtypes() -> None:
    """float64 input, strided input and output (sounddevice's indata.T / outdata.T) all work."""
    irs, x = _irs(3, 3000, seed=23), _signal(1, 6000, seed=24)
    expected = Convolver(irs).process(x)
    conv = Convolver(irs)
    frames_first = np.empty((x.shape[1], 3), np.float32)  # (frames, channels) like outdata
    for i in range(0, x.shape[1], 256):
        conv.process_into(x[:, i : i + 256].astype(np.float64), frames_first[i : i + 256].T)
    np.testing.assert_allclose(frames_first.T, expected, rtol=0, atol=1e-6 * np.abs(expected).max())
    conv = Convolver(irs, max_block_size=100)  # staging smaller than the blocks
    indata = np.ascontiguousarray(x.T)  # (frames, 1)
    y = np.concatenate([conv.process(indata[i : i + 700].T) for i in range(0, 6000, 700)], axis=1)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6 * np.abs(expected).max())


def test_process_into_allocates_no_arrays() -> None:
    irs = _irs(3, 20_000, seed=25)
    conv = Convolver(irs)
    x = _signal(1, 128 * 400, seed=26)
    out = np.empty((3, 128), np.float32)
    for i in range(50):  # warm: every scheduled unit of work has run
        conv.process_into(x[:, i * 128 : (i + 1) * 128], out)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(50, 400):
        conv.process_into(x[:, i * 128 : (i + 1) * 128], out)
    grown = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    assert grown < 4096, f"process_into allocated {grown} bytes"  # a few small Python objects


def test_empty_block() -> None:
    conv = Convolver(_irs(3, 100))
    assert conv.process(np.zeros((1, 0), np.float32)).shape == (3, 0)
    assert conv.n_inputs is None  # an empty block does not choose the input mode


@pytest.mark.parametrize(
    "bad",
    [np.zeros(100, np.float32), np.zeros((2, 100), np.float32), np.zeros((1, 2, 100), np.float32),
     np.zeros((1, 10), np.complex64)],
    ids=["1-D", "2-channels-for-3-irs", "3-D", "complex"],
)
def test_bad_blocks_raise_with_the_shape(bad: np.ndarray) -> None:
    conv = Convolver(_irs(3, 100))
    with pytest.raises(AudioInputError) as err:
        conv.process(bad)
    assert isinstance(err.value, ValueError)
    if bad.dtype != np.complex64:
        assert repr(bad.shape) in str(err.value)
    with pytest.raises(AudioInputError) as err:
        convolve_offline(bad, _irs(3, 100))
    if bad.dtype != np.complex64:
        assert repr(bad.shape) in str(err.value)


def test_bad_irs_and_outputs_raise() -> None:
    for irs in (np.zeros(10), np.zeros((3, 0)), np.zeros((0, 10)), np.full((1, 5), np.nan)):
        with pytest.raises(AudioInputError, match=r"shape|NaN"):
            Convolver(irs)
    conv = Convolver(_irs(3, 100))
    with pytest.raises(AudioInputError, match=r"\(3, 10\)"):
        conv.process_into(np.zeros((1, 10), np.float32), np.zeros((3, 11), np.float32))
    conv.process(np.zeros((1, 10), np.float32))
    with pytest.raises(AudioInputError, match="reset"):  # the input mode is fixed until reset
        conv.process(np.zeros((3, 10), np.float32))
    conv.reset()
    assert conv.process(np.zeros((3, 10), np.float32)).shape == (3, 10)
    with pytest.raises(AudioInputError, match="n_inputs=3"):
        Convolver(_irs(3, 100), n_inputs=3).process(np.zeros((1, 10), np.float32))


def test_ir_spectrum_cache_reused() -> None:
    clear_ir_spectrum_cache()
    irs, x = _irs(3, 4000, seed=27), _signal(1, 20_000, seed=28)
    first = convolve_offline(x, irs)
    assert ir_spectrum_cache_info()["misses"] == 1
    second = convolve_offline(x, irs.copy())  # same content, another array: a hit
    info = ir_spectrum_cache_info()
    assert (info["hits"], info["misses"], info["entries"]) == (1, 1, 1)
    np.testing.assert_array_equal(first, second)
    changed = irs.copy()
    changed[1, 10] += 1.0  # edited content must not reuse the old spectra
    third = convolve_offline(x, changed)
    assert ir_spectrum_cache_info()["misses"] == 2
    _assert_close(third, _reference(x, changed))


def test_partition_plan_tiles_the_ir() -> None:
    assert plan_partitions(100, head_size=128) == (100, [])
    for taps in (129, 1000, 86_400, 300_000):
        direct, levels = plan_partitions(taps, head_size=128, max_partition=2048)
        assert direct == 128 and levels[0].offset == 128
        for a, b in zip(levels, levels[1:]):
            assert b.offset == a.end  # contiguous
            assert b.offset >= 2 * b.block_size  # one block of slack for spreading its FFTs
        assert levels[-1].end >= taps > levels[-1].end - levels[-1].block_size
        assert max(p.block_size for p in levels) <= 2048
    with pytest.raises(ValueError, match="power of two"):
        plan_partitions(1000, head_size=100)
