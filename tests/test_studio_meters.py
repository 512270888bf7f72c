"""The studio's meters against slow references: pyloudnorm's integrated loudness, a direct
short-term loudness (the K-weighted mean square of the last 3 s), and the peak of each 10 ms,
for any block sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from roomgate.io.audio import resample
from roomgate.studio.meters import LevelMeter, k_weighting, match_gains_db, meter_signal


def _pyloudnorm(signal: np.ndarray, rate: int) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(rate).integrated_loudness(signal.T.astype(np.float64)))


@pytest.mark.parametrize("rate", [48_000, 44_100, 16_000])
def test_integrated_loudness_is_pyloudnorms(vocadito, rate: int) -> None:
    audio, source_rate = vocadito
    voice = resample(audio, source_rate, rate).astype(np.float64)
    assert meter_signal(voice, rate).integrated_lufs == pytest.approx(_pyloudnorm(voice, rate), abs=1e-6)
    stereo = np.stack([voice[0], 0.3 * np.roll(voice[0], 999)])
    assert meter_signal(stereo, rate).integrated_lufs == pytest.approx(_pyloudnorm(stereo, rate), abs=1e-6)


def test_integrated_loudness_of_a_sine_and_of_silence() -> None:
    rate = 48_000
    t = np.arange(10 * rate) / rate
    sine = (0.5 * np.sin(2 * np.pi * 997 * t))[np.newaxis]
    # BS.1770: a full-scale 997 Hz sine in one channel reads -3.01 LUFS; this one is 6.02 dB lower.
    assert meter_signal(sine, rate).integrated_lufs == pytest.approx(-3.01 - 6.02, abs=0.05)
    quiet = meter_signal(np.zeros((1, rate)), rate)
    assert quiet.integrated_lufs == -math.inf
    assert np.all(quiet.peak_db == -120.0) and np.all(quiet.short_term_lufs == -120.0)
    assert quiet.to_json()["integrated_lufs"] is None


@pytest.mark.parametrize("block", [1, 7, 128, 4096, None])
def test_any_block_sizes_give_the_one_block_result(vocadito, block: int | None) -> None:
    audio, rate = vocadito
    voice = audio[:, : 3 * rate + 1234].astype(np.float64)
    whole = meter_signal(voice, rate)
    meter = LevelMeter(rate, 1)
    sizes = [block] if block else [1, 7, 128, 4096, 33_333]
    start = index = 0
    while start < voice.shape[1]:
        size = sizes[index % len(sizes)]
        meter.add(voice[:, start : start + size])
        start += size
        index += 1
    pieces = meter.result()
    assert pieces.integrated_lufs == pytest.approx(whole.integrated_lufs, abs=1e-9)
    np.testing.assert_allclose(pieces.short_term_lufs, whole.short_term_lufs, atol=1e-9)
    np.testing.assert_array_equal(pieces.peak_db, whole.peak_db)


def test_short_term_loudness_and_peaks_against_direct_sums(vocadito) -> None:
    from scipy.signal import lfilter

    audio, rate = vocadito
    voice = audio.astype(np.float64)
    levels = meter_signal(voice, rate)
    weighted = voice[0]
    for b, a in k_weighting(rate):
        weighted = lfilter(b, a, weighted)
    hop = int(round(0.1 * rate))
    for index in (0, 5, 29, 30, 64, len(levels.short_term_lufs) - 1):
        end = min((index + 1) * hop, voice.shape[1])
        start = max(0, (index + 1) * hop - 30 * hop)
        mean_square = np.sum(weighted[start:end] ** 2) / ((index + 1) * hop - start)
        assert levels.short_term_lufs[index] == pytest.approx(-0.691 + 10 * np.log10(mean_square), abs=1e-9)
    peak_hop = int(round(0.01 * rate))
    for index in (0, 17, 400, len(levels.peak_db) - 1):
        chunk = np.abs(voice[0, index * peak_hop : (index + 1) * peak_hop])
        assert levels.peak_db[index] == pytest.approx(max(20 * np.log10(chunk.max()), -120.0), abs=1e-9)
    assert len(levels.peak_db) == math.ceil(voice.shape[1] / peak_hop)
    assert len(levels.short_term_lufs) == math.ceil(voice.shape[1] / hop)


def test_match_gains_bring_each_signal_to_the_reference() -> None:
    assert match_gains_db(-18.0, {"dry": -24.5, "open": -12.0}) == {"dry": 6.5, "open": -6.0}
    assert match_gains_db(-18.0, {"dry": -math.inf}) == {"dry": 0.0}
    assert match_gains_db(-math.inf, {"dry": -20.0}) == {"dry": 0.0}
    assert match_gains_db(-10.0, {"dry": -90.0}) == {"dry": 40.0}
