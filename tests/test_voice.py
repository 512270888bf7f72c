"""The synthetic singer behind ``roomgate demo``: shape, levels, pitch, formants, effort, sample rates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter
from scipy.signal.windows import blackmanharris

from roomgate.errors import ConfigError
from roomgate.synth.voice import (
    FORMANT_TABLE,
    Note,
    Rest,
    crescendo_score,
    midi_to_hz,
    note_to_hz,
    sing,
    sung_crescendo,
)

SR = 48000
VOCADITO = Path(__file__).resolve().parent / "data" / "vocadito_14.wav"  # CC BY 4.0, see data/NOTICE.md


# --- measuring tools ---------------------------------------------------------------------------------
def rms_db(x: np.ndarray) -> float:
    return 10.0 * np.log10(float(np.mean(np.square(x, dtype=np.float64))) + 1e-30)


def f0_track_hz(x: np.ndarray, sr: int, fmin: float = 60.0, fmax: float = 700.0) -> np.ndarray:
    """Frame-wise f0 (40 ms frames, 10 ms hop) by normalised autocorrelation with parabolic peak
    interpolation; the first lag whose correlation reaches 90 % of the best avoids octave errors."""
    w, hop = int(0.04 * sr), int(0.01 * sr)
    lmin, lmax = int(sr / fmax), int(sr / fmin) + 2
    starts = np.arange(0, len(x) - w - lmax - 1, hop)
    seg = np.stack([x[i : i + w + lmax] for i in starts])  # (F, w + lmax)
    head = np.zeros_like(seg)
    head[:, :w] = seg[:, :w]
    nfft = 1 << int(np.ceil(np.log2(2 * seg.shape[1])))
    xc = np.fft.irfft(np.conj(np.fft.rfft(head, nfft)) * np.fft.rfft(seg, nfft), nfft)[:, lmin:lmax]
    csum = np.concatenate([np.zeros((len(starts), 1)), np.cumsum(seg**2, axis=1)], axis=1)
    lags = np.arange(lmin, lmax)
    energy = csum[:, lags + w] - csum[:, lags]
    c = xc / np.sqrt(energy * csum[:, w : w + 1] + 1e-30)
    out = []
    for row in c:
        k = int(np.argmax(row > 0.9 * row.max()))
        while k + 1 < len(row) and row[k + 1] > row[k]:
            k += 1
        p = 0.5 * (row[k - 1] - row[k + 1]) / (row[k - 1] - 2 * row[k] + row[k + 1]) if 0 < k < len(row) - 1 else 0.0
        out.append(sr / (lags[k] + p))
    return np.array(out)


def lpc_formants_hz(x: np.ndarray, sr: int, order: int) -> np.ndarray:
    """Formant frequencies from an autocorrelation LPC fit (pre-emphasis 0.9, Hamming window):
    pole angles with bandwidth under 500 Hz, ascending, above 150 Hz."""
    x = lfilter([1.0, -0.9], [1.0], x) * np.hamming(len(x))
    nfft = 1 << int(np.ceil(np.log2(2 * len(x))))
    r = np.fft.irfft(np.abs(np.fft.rfft(x, nfft)) ** 2, nfft)[: order + 1]
    a = solve_toeplitz(r[:order], -r[1 : order + 1])
    roots = np.roots(np.concatenate([[1.0], a]))
    roots = roots[np.imag(roots) > 0]
    f = np.angle(roots) * sr / (2 * np.pi)
    bw = -np.log(np.abs(roots)) * sr / np.pi
    return np.sort(f[(f > 150.0) & (bw < 500.0)])


def phrase_spans_s(score, lead_s: float = 0.1):
    """(start_s, end_s) of each run of notes, and of each rest, from the score's durations."""
    starts = lead_s + np.concatenate([[0.0], np.cumsum([it.duration_s for it in score])])
    phrases, rests = [], []
    for i, it in enumerate(score):
        if isinstance(it, Rest):
            rests.append((starts[i], starts[i + 1]))
        elif phrases and isinstance(score[i - 1], Note):
            phrases[-1] = (phrases[-1][0], starts[i + 1])
        else:
            phrases.append((starts[i], starts[i + 1]))
    return phrases, rests


@pytest.fixture(scope="module")
def demo() -> np.ndarray:
    return sung_crescendo(SR, seed=0)


# --- the demo vocal ----------------------------------------------------------------------------------
def test_demo_shape_dtype_duration_and_peak(demo):
    assert demo.ndim == 2 and demo.shape[0] == 1, demo.shape
    assert demo.dtype == np.float32
    assert np.all(np.isfinite(demo))
    assert 20.0 <= demo.shape[1] / SR <= 26.0, demo.shape[1] / SR
    peak_db = 20 * np.log10(np.max(np.abs(demo)))
    assert np.max(np.abs(demo)) <= 1.0
    assert abs(peak_db - (-1.0)) < 0.1, peak_db


def test_demo_is_deterministic_per_seed():
    a = sung_crescendo(8000, seed=0)
    b = sung_crescendo(8000, seed=0)
    c = sung_crescendo(8000, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == c.shape
    assert rms_db(a - c) > rms_db(a) - 20.0, "another seed should give a different performance"


def test_demo_phrases_climb_with_breaths_between(demo):
    phrases, rests = phrase_spans_s(crescendo_score())
    assert 4 <= len(phrases) <= 6
    x = demo[0]
    levels = [rms_db(x[int(a * SR) : int(b * SR)]) for a, b in phrases]
    assert all(np.diff(levels) > 2.0), levels
    assert levels[-1] - levels[0] >= 20.0, levels
    assert levels[0] < -28.0 and levels[-1] > -13.0, levels
    for a, b in rests:
        assert 0.5 <= b - a <= 1.0
        # after the release tail, a rest holds only a breath: near-silence, far under every phrase
        gap = rms_db(x[int((a + 0.15) * SR) : int(b * SR)])
        assert gap < -45.0 and gap < min(levels) - 15.0, (a, b, gap, levels)


def test_demo_ends_in_silence_without_clicks(demo):
    x = demo[0].astype(np.float64)
    assert abs(x[0]) < 1e-4 and abs(x[-1]) < 1e-4
    assert rms_db(x[-int(0.05 * SR) :]) < -70.0
    # no clicks: energy above 14 kHz never jumps out of its neighbourhood except at the fricatives
    # and the stop burst the score asks for ("s", "t", "h"), which are noise, not steps
    from scipy.signal import butter, sosfilt

    hp = sosfilt(butter(4, 14000 / (SR / 2), "high", output="sos"), x)
    frame = int(0.005 * SR)
    n = len(hp) // frame
    e = 10 * np.log10(np.mean(hp[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-30)
    full = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-30)
    # relative to the broadband level in the same frame, the top octave stays low
    assert np.max((e - full)[full > -60.0]) < -12.0


# --- the general singer ------------------------------------------------------------------------------
def test_note_names_and_midi():
    assert note_to_hz("A4") == pytest.approx(440.0)
    assert note_to_hz("A2") == pytest.approx(110.0)
    assert note_to_hz("C4") == pytest.approx(261.6256, rel=1e-6)
    assert note_to_hz("F#3") == pytest.approx(note_to_hz("Gb3"))
    assert midi_to_hz(57) == pytest.approx(220.0)
    assert Note.midi(57, 1.0).pitch_hz == pytest.approx(220.0)


@pytest.mark.parametrize("pitch,effort,sharp_cents", [("A3", 0.5, 0.0), ("D3", 0.2, 0.0), ("E4", 1.0, 18.0)])
def test_held_note_pitch_matches_request(pitch, effort, sharp_cents):
    """Mean over vibrato and drift: within 5 cents of the note (a shout is pushed ~18 cents sharp)."""
    x = sing([Note(pitch, 2.6, "a", effort)], SR, seed=3)[0].astype(np.float64)
    f0 = f0_track_hz(x[int(0.7 * SR) : int(2.5 * SR)], SR)
    cents = 1200 * np.log2(f0 / note_to_hz(pitch))
    assert abs(np.mean(cents) - sharp_cents) < 5.0, (pitch, effort, np.mean(cents))
    # and it is sung, not held: vibrato of tens of cents at 5-6 Hz
    dev = cents - np.mean(cents)
    assert 12.0 < np.std(dev) < 60.0, np.std(dev)
    spec = np.abs(np.fft.rfft(dev * np.hanning(len(dev)), 4096))
    rate = np.fft.rfftfreq(4096, 0.01)[np.argmax(spec)]
    assert 4.8 < rate < 6.5, rate


def test_vibrato_waits_and_grows_through_a_held_note():
    x = sing([Note("A3", 3.0, "a", 0.5)], SR, seed=0)[0].astype(np.float64)
    cents = 1200 * np.log2(f0_track_hz(x, SR)[10:] / 220.0)  # from 0.2 s
    early = np.std(cents[5:20])  # 0.25-0.4 s after the onset
    late = np.std(cents[180:260])  # 2.0-2.8 s
    assert early < 0.5 * late, (early, late)


@pytest.mark.parametrize("vowel", list("aeiou"))
def test_formants_follow_the_table(vowel):
    f_table = FORMANT_TABLE["baritone"][vowel][0]
    sr = 16000
    x = sing([Note("A2", 1.5, vowel, 0.5)], sr, seed=0)[0].astype(np.float64)
    f = lpc_formants_hz(x[int(0.5 * sr) : int(1.4 * sr)], sr, 18)
    assert abs(f[0] / f_table[0] - 1) < 0.15, (vowel, f[:3], f_table[:3])
    assert abs(f[1] / f_table[1] - 1) < 0.15, (vowel, f[:3], f_table[:3])


def test_a_and_i_are_told_apart_by_f1():
    sr = 16000
    f1 = {}
    for v in "ai":
        x = sing([Note("D3", 1.5, v, 0.5)], sr, seed=0)[0].astype(np.float64)
        f1[v] = lpc_formants_hz(x[int(0.5 * sr) : int(1.4 * sr)], sr, 18)[0]
    assert f1["a"] > 2.0 * f1["i"], f1


def test_shout_is_brighter_than_soft():
    def hi_lo_db(effort: float) -> float:
        x = sing([Note("A3", 1.5, "a", effort)], SR, seed=0)[0].astype(np.float64)[int(0.5 * SR) : int(1.4 * SR)]
        p = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
        f = np.fft.rfftfreq(len(x), 1 / SR)
        return 10 * np.log10(p[f > 2000].sum() / p[f < 1000].sum())

    soft, shout = hi_lo_db(0.0), hi_lo_db(1.0)
    assert shout - soft >= 10.0, (soft, shout)


def test_louder_effort_is_louder():
    levels = [rms_db(sing([Note("A3", 1.2, "a", e)], SR, seed=0, peak_dbfs=None)[0][int(0.4 * SR) : int(1.0 * SR)])
              for e in (0.0, 0.5, 1.0)]
    assert levels[0] + 6 < levels[1] < levels[2] - 6, levels


def _inharmonic_db(sr: int) -> float:
    """Energy off the harmonics of a bright shouted A4 re on them, in dB (aliasing shows up here)."""
    x = sing([Note("A4", 1.6, "a", 1.0)], sr, humanize=0.0, vibrato=0.0, breathiness=0.0, peak_dbfs=None)
    s = x[0].astype(np.float64)[int(0.5 * sr) : int(1.5 * sr)]
    f0 = 440.0 * 2 ** (18.0 / 1200)  # the shout sits 18 cents sharp
    p = np.abs(np.fft.rfft(s * blackmanharris(len(s)))) ** 2
    h = np.fft.rfftfreq(len(s), 1 / sr) / f0
    near = np.abs(h - np.round(h)) * f0 < max(8.0, 0.04 * f0)
    return 10 * np.log10(p[~near].sum() / p[near].sum())


@pytest.mark.parametrize("sr", [8000, 44100, 48000, 96000])
def test_sample_rates_and_no_aliasing(sr):
    notes = [
        Note("E3", 0.5, "o", 0.3, onset="h"),
        Note("A3", 0.6, "a", 0.9, onset="s"),
        Rest(0.5),
        Note("B3", 0.5, "i", 0.6, onset="t"),
    ]
    x = sing(notes, sr, seed=2)
    assert x.shape == (1, round((0.1 + 2.1 + 0.4) * sr)) and x.dtype == np.float32
    assert np.all(np.isfinite(x)) and 0.85 < np.max(np.abs(x)) <= 1.0
    assert _inharmonic_db(sr) < -50.0


def test_demo_at_44k1_matches_48k(demo):
    a = sung_crescendo(44100)
    assert abs(a.shape[1] / 44100 - demo.shape[1] / SR) < 1e-3
    assert abs(rms_db(a) - rms_db(demo)) < 1.0, (rms_db(a), rms_db(demo))


def test_bad_input_is_a_config_error():
    with pytest.raises(ConfigError, match="vowel"):
        sing([Note("A3", 1.0, "x")], SR)
    with pytest.raises(ConfigError, match="effort"):
        sing([Note("A3", 1.0, "a", 1.5)], SR)
    with pytest.raises(ConfigError, match="onset"):
        sing([Note("A3", 1.0, "a", onset="zz")], SR)
    with pytest.raises(ConfigError, match="note name"):
        sing([Note("H3", 1.0)], SR)
    with pytest.raises(ConfigError, match="sample_rate"):
        sing([Note("A3", 1.0)], 1000)
    with pytest.raises(ValueError, match="voice"):
        sing([Note("A3", 1.0)], SR, voice="soprano")
    with pytest.raises(ConfigError, match="at least one Note"):
        sing([Rest(1.0)], SR)


def test_spectral_balance_is_in_the_range_of_real_singing(demo):
    """Energy above 2 kHz re below 1 kHz over the sung parts: the demo's mid phrase sits within
    8 dB of a real singer's (vocadito_14, CC BY 4.0); the soft phrase is darker, the shout brighter."""
    import soundfile as sf

    def balance_db(x: np.ndarray, sr: int) -> float:
        frame = int(0.02 * sr)
        n = len(x) // frame
        fr = x[: n * frame].reshape(n, frame)
        lv = 10 * np.log10(np.mean(fr**2, axis=1) + 1e-30)
        y = fr[lv > lv.max() - 35].ravel()
        p = np.abs(np.fft.rfft(y)) ** 2
        f = np.fft.rfftfreq(len(y), 1 / sr)
        return 10 * np.log10(p[f > 2000].sum() / p[f < 1000].sum())

    real, sr = sf.read(VOCADITO)
    ref = balance_db(real, sr)
    phrases, _ = phrase_spans_s(crescendo_score())
    ours = [balance_db(demo[0][int(a * SR) : int(b * SR)].astype(np.float64), SR) for a, b in phrases]
    assert abs(ours[2] - ref) < 8.0, (ours, ref)
    assert ours[0] < ours[2] < ours[-1], ours


# --- the kernels against slow references, and the import cost -------------------------------------
def test_import_is_light():
    code = ("import sys, roomgate.synth.voice; "
            "bad = [m for m in ('numba', 'scipy.signal', 'scipy.optimize') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tract_kernel_is_lfilter_when_the_coefficients_hold():
    """With constant coefficient curves, the time-varying cascade is one lfilter per resonator, then
    the peaking biquad."""
    from roomgate.synth import voice

    fs, n = 16000.0, 3000
    formant_hz = np.array([[700.0, 1200.0, 2600.0]] * 5)  # (F, K): five frames, three resonators
    bandwidth_hz = np.array([[90.0, 110.0, 160.0]] * 5)
    a1, a2, b0 = voice._resonator_coeffs(formant_hz, bandwidth_hz, fs)
    peaking = voice._peaking_coeffs(2900.0, np.full(5, 6.0), 1.6, fs)
    x = np.random.default_rng(4).standard_normal(n)
    out = np.empty(n)
    _, tract = voice._kernels()
    tract(x, n / 4.0, a1, a2, b0, peaking, out)
    ref = x
    for k in range(3):
        ref = lfilter([b0[0, k]], [1.0, a1[0, k], a2[0, k]], ref)
    ref = lfilter(peaking[0, :3], np.concatenate([[1.0], peaking[0, 3:]]), ref)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref)))


def test_glottal_flow_kernel_equals_its_python_form(monkeypatch):
    """The compiled LF kernel against the same functions run by the interpreter (helpers included)."""
    from roomgate.synth import voice

    glottal_flow, _ = voice._kernels()
    oversampling, n = 4, 2400  # 25 ms at 96 kHz: a few periods across a pitch, level and Rd glide
    f0_hz = np.linspace(180.0, 260.0, 6)
    amplitude = np.array([0.0, 0.5, 1.0, 1.0, 0.8, 0.0])
    rd = np.linspace(0.4, 2.0, 6)
    rng = np.random.default_rng(5)
    jitter, shimmer = 0.005 * rng.standard_normal(40), 0.03 * rng.standard_normal(40)
    args = (n, 96000.0, n / 5.0, oversampling, f0_hz, amplitude, rd, voice._lf_table(), voice._RD_MIN,
            voice._RD_STEP, jitter, shimmer)
    flow, opening = np.zeros(n), np.zeros(n // oversampling)
    glottal_flow(*args, flow, opening)
    for name in ("_frame_position", "_lerp", "_lf_parameters", "_store_flow", "_open_phase", "_return_phase",
                 "_glottal_pulse"):
        monkeypatch.setattr(voice, name, getattr(voice, name + "_py"))
    flow_ref, opening_ref = np.zeros(n), np.zeros(n // oversampling)
    voice._glottal_flow_py(*args, flow_ref, opening_ref)
    assert np.max(flow_ref) > 0.01 and np.max(opening_ref) > 0.9  # it did sing, several periods
    np.testing.assert_allclose(flow, flow_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(opening, opening_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("onset", ["t", "k"])
def test_a_very_short_stop_consonant_note_sings(onset):
    """A note too short for a stop's aspiration (under about 45 ms) still sings, finite."""
    out = sing([Note("A3", 0.03, onset=onset), Note("C4", 0.2)], 16000)
    assert out.shape[0] == 1 and np.isfinite(out).all()
