"""The streaming loudness meter against pyloudnorm (the reference), and LUFS normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from roomgate.dsp.loudness import LoudnessMeter


def _take(rate: int, seconds: float, channels: int, seed: int) -> np.ndarray:
    """Phrases of noise at several levels with silences between: the gates have work to do."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    envelope = np.repeat(rng.choice([0.0, 0.01, 0.1, 0.5], size=n // (rate // 4) + 1), rate // 4)[:n]
    return (rng.standard_normal((channels, n)) * envelope).astype(np.float64)


@pytest.mark.parametrize(("rate", "channels", "block"), [(48_000, 1, 4096), (44_100, 2, 1000), (11_025, 1, 777),
                                                         (22_050, 2, 1 << 20)])
def test_integrated_loudness_equals_pyloudnorm_in_any_blocks(rate: int, channels: int, block: int) -> None:
    import pyloudnorm

    audio = _take(rate, 7.3, channels, seed=rate)
    meter = LoudnessMeter(rate, channels)
    for start in range(0, audio.shape[1], block):
        meter.add(audio[:, start : start + block])
    expected = pyloudnorm.Meter(rate).integrated_loudness(audio.T)
    assert meter.integrated_lufs() == pytest.approx(expected, abs=1e-6), repr((rate, channels, block))


def test_silence_and_a_short_take_have_no_loudness() -> None:
    meter = LoudnessMeter(48_000, 1)
    meter.add(np.zeros((1, 48_000)))
    assert meter.integrated_lufs() == -math.inf and meter.true_peak_db() == -math.inf
    short = LoudnessMeter(48_000, 1)
    short.add(np.ones((1, 1000)))
    assert short.integrated_lufs() == -math.inf


def test_true_peak_finds_the_peak_between_samples() -> None:
    # A sine at a quarter of the rate, sampled 45 degrees off its crests: every sample is at
    # 0.707 of the true peak, which lies between them (BS.1770-4 Annex 2's classic case).
    rate = 48_000
    t = np.arange(rate)
    audio = np.sin(2 * np.pi * (rate / 4) * t / rate + np.pi / 4)[np.newaxis, :]
    meter = LoudnessMeter(rate, 1)
    meter.add(audio)
    assert 20 * np.log10(np.max(np.abs(audio))) == pytest.approx(-3.01, abs=0.01)
    assert meter.true_peak_db() == pytest.approx(0.0, abs=0.1)
