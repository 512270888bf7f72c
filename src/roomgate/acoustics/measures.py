"""Room measures of an impulse response: decay times, clarity, direct-to-reverberant ratio, echo
density and how much the tail's level wanders.

Every measure starts at the direct sound: :func:`direct_sound_index`, the largest sample within
2 ms after the first sample within 20 dB of the IR's peak. Octave bands are 3rd-order Butterworth
band-passes (edges ``f / sqrt 2`` and ``f sqrt 2``, applied causally, as IEC 61260 class 1 allows).

* **T20, T30, EDT** (ISO 3382-1 / -2): the Schroeder backward integral (Schroeder, JASA 37, 409,
  1965) of the band-passed IR from the direct sound, a least-squares line through it from -5 to
  -25 dB (T20), -5 to -35 dB (T30) or 0 to -10 dB (EDT), extrapolated to 60 dB. A measured IR's
  noise floor is found and cut off first (:func:`decay_end`, after Lundeby et al., Acustica 81,
  344, 1995), with the energy the cut-off decay would still have held added back.
* **C50, C80, D50** (ISO 3382-1): early (0-50 or 0-80 ms after the direct sound) to late energy
  in dB; D50 the early share of all the energy (0..1).
* **DRR**: the energy of the direct sound (the samples within 2.5 ms of its peak) to all the rest,
  in dB; per band from their spectra, so the band filter does not smear one into the other.
* **Echo density** (Abel & Huang, AES 121st Convention, 2006): in a 20 ms Hann window sliding over
  the IR, the (window-weighted) fraction of samples whose magnitude exceeds the window's RMS,
  divided by ``erfc(1 / sqrt 2)`` (that fraction for Gaussian noise). Gaussian noise scores 1, an
  IR of sparse reflections near 0. :func:`echo_density_time_ms` is when it first reaches a
  threshold; the mixing time of Lindau et al. (JAES 60(11), 887, 2012) is the time it reaches 1.
* **Tail roughness**: the standard deviation (dB) of the band's 10 ms frame levels about their
  straight-line fit from 100 to 800 ms after the direct sound, divided by the same figure for
  exponentially decaying Gaussian noise with the same slope through the same filter (the mean of
  8 seeds). A real hall's tail scores about 1 (0.87-1.41 measured); a tail whose level has been
  smoothed, a plate, scores well below.

:func:`analyze` gathers them all per channel and octave band into plain dataclasses that
``dataclasses.asdict`` (or :meth:`Analysis.to_dict`) turns into JSON.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AudioInputError
from ..units import check_sample_rate

__all__ = [
    "Analysis",
    "ChannelAnalysis",
    "ECHO_DENSITY_WINDOW_MS",
    "analyze",
    "analysis_bands_hz",
    "clarity_db",
    "decay_end",
    "decay_time_s",
    "definition",
    "direct_sound_index",
    "direct_to_reverberant_db",
    "echo_density",
    "echo_density_time_ms",
    "fit_decay_s",
    "octave_band",
    "schroeder_db",
    "schroeder_t30_s",
    "tail_roughness",
]

#: The direct sound: the largest sample this soon after the first one within 20 dB of the peak.
DIRECT_SEARCH_MS = 2.0
DIRECT_THRESHOLD_DB = -20.0
#: The direct sound's own energy, for the DRR: samples within this of its peak.
DIRECT_HALF_WINDOW_MS = 2.5
ECHO_DENSITY_WINDOW_MS = 20.0
#: Echo density is computed this far after the direct sound (the mixing time comes well before).
ECHO_DENSITY_SPAN_MS = 300.0
ROUGHNESS_FRAME_MS = 10.0
ROUGHNESS_SPAN_MS = (100.0, 800.0)
ROUGHNESS_SEEDS = 8
#: Octave-band centres analysed, where the band's upper edge is below Nyquist.
ANALYSIS_BANDS_HZ = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
#: Decay ranges on the Schroeder curve (dB below its start): (from, to) for each decay time.
DECAY_RANGES_DB = {"edt": (0.0, -10.0), "t20": (-5.0, -25.0), "t30": (-5.0, -35.0)}
#: The shortest IR analyze() accepts, and how far it must decay to be an IR at all.
MIN_DURATION_MS = 100.0
MIN_DECAY_DB = 20.0
_GAUSSIAN_EXCEEDANCE = math.erfc(1.0 / math.sqrt(2.0))  # P(|x| > sigma) for Gaussian x: 0.3173


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------


def _as_ir(ir: object, name: str = "ir") -> np.ndarray:
    h = np.asarray(ir, dtype=np.float64)
    if h.ndim != 1:
        raise ValueError(f"{name}: expected one impulse response shaped (N,), got shape {h.shape}")
    return h


def direct_sound_index(ir: np.ndarray, sample_rate: int) -> int:
    """Sample index of the direct sound: the largest ``|h|`` within 2 ms after the first sample
    within 20 dB of the peak. Shape: ``ir`` is ``(N,)``. Raises ValueError on a silent IR."""
    h = np.abs(_as_ir(ir))
    peak = float(h.max(initial=0.0))
    if not peak > 0.0:
        raise ValueError("direct_sound_index: the impulse response is silent")
    first = int(np.argmax(h >= peak * 10.0 ** (DIRECT_THRESHOLD_DB / 20.0)))
    stop = first + int(round(DIRECT_SEARCH_MS * 1e-3 * sample_rate)) + 1
    return first + int(np.argmax(h[first:stop]))


def _band_edges_hz(band_hz: float) -> tuple[float, float]:
    return band_hz / math.sqrt(2.0), band_hz * math.sqrt(2.0)


@functools.lru_cache(maxsize=64)
def _octave_sos(band_hz: float, sample_rate: int) -> np.ndarray:
    from scipy.signal import butter  # lazy: scipy.signal is a slow import

    low, high = _band_edges_hz(band_hz)
    if high >= sample_rate / 2.0:
        raise ValueError(f"the {band_hz:g} Hz octave band reaches past Nyquist ({sample_rate / 2:g} Hz)")
    return np.asarray(butter(3, [low, high], btype="bandpass", fs=sample_rate, output="sos"))


def octave_band(ir: np.ndarray, sample_rate: int, band_hz: float) -> np.ndarray:
    """``ir`` through the octave band centred at ``band_hz``: a 3rd-order Butterworth band-pass
    (edges ``f / sqrt 2``, ``f sqrt 2``), causal. Shape: ``(N,)`` in, ``(N,)`` float64 out."""
    from scipy.signal import sosfilt

    return np.asarray(sosfilt(_octave_sos(band_hz, sample_rate), _as_ir(ir)))


def analysis_bands_hz(sample_rate: int) -> tuple[float, ...]:
    """The octave bands :func:`analyze` measures at ``sample_rate``: 125 Hz up to the last band
    whose upper edge is below Nyquist (125 Hz - 4 kHz at 16 kHz, - 8 kHz at 44.1 kHz and up)."""
    return tuple(f for f in ANALYSIS_BANDS_HZ if _band_edges_hz(f)[1] < sample_rate / 2.0)


def _frame_energy(energy: np.ndarray, frame: int) -> np.ndarray:
    n = energy.size // frame
    return energy[: n * frame].reshape(n, frame).mean(axis=1)


def decay_end(energy: np.ndarray, sample_rate: int) -> tuple[int, float]:
    """Where the decay meets the noise floor, and what the cut-off decay would still have held.

    Lundeby et al. (Acustica 81, 344, 1995), simplified: the background level is the mean energy
    of the last 10 % of the response; a line fitted to the 10 ms frame levels from the start
    down to 10 dB above that background meets it at the crossing point; the background is then
    re-estimated beyond the crossing and the fit repeated (three times at most). When the
    response still decays in its last 10 % (no noise floor, as in a simulation) it is kept whole.

    Shape: ``energy`` is ``h**2`` from the direct sound on, ``(N,)``. Returns ``(end, tail)``: the
    sample index to integrate up to, and the energy (same units as ``energy``) the exponential
    decay would have added after it (Lundeby's correction ``C``).
    """
    n = energy.size
    frame = max(1, int(round(0.010 * sample_rate)))
    levels = _frame_energy(energy, frame)
    if levels.size < 10 or not levels.max() > 0.0:
        return n, 0.0
    levels_db = 10.0 * np.log10(np.maximum(levels / levels.max(), 1e-30))
    times_s = (np.arange(levels.size) + 0.5) * frame / sample_rate
    tail = levels_db[-max(2, levels.size // 10) :]
    noise_db = 10.0 * math.log10(max(float(np.mean(10.0 ** (tail / 10.0))), 1e-30))
    # A response whose last tenth still falls by more than 3 dB has no noise floor to cut off.
    if tail[: tail.size // 2].mean() - tail[tail.size // 2 :].mean() > 3.0 or noise_db < -200.0:
        return n, 0.0
    start = int(np.argmax(levels_db))
    cross_s = None
    slope = 0.0
    for _ in range(3):
        above = np.flatnonzero(levels_db[start:] < noise_db + 10.0)
        stop = start + (int(above[0]) if above.size else levels_db.size - start)
        if stop - start < 3:
            break
        slope, intercept = np.polyfit(times_s[start:stop], levels_db[start:stop], 1)
        if not slope < 0.0:
            break
        cross_s = (noise_db - intercept) / slope
        # Re-estimate the background from where the decay is 5 dB below it onward (or the last 10 %).
        later = times_s >= cross_s + 5.0 / -slope
        if np.count_nonzero(later) >= 2:
            noise_db = 10.0 * math.log10(max(float(np.mean(10.0 ** (levels_db[later] / 10.0))), 1e-30))
    if cross_s is None or slope >= 0.0:
        return n, 0.0
    end = int(min(n, max(frame, round(cross_s * sample_rate))))
    # Energy of the exponential decay past the crossing: level(end) * T / (6 ln 10 / 10) per sample.
    decay_per_s = -slope * math.log(10.0) / 10.0  # energy decay rate, 1/s
    level_at_end = levels.max() * 10.0 ** (noise_db / 10.0)
    return end, float(level_at_end * sample_rate / decay_per_s)


def schroeder_db(energy: np.ndarray, tail_energy: float = 0.0) -> np.ndarray:
    """The Schroeder decay curve in dB re its start: ``10 log10(sum_{tau >= t} e(tau) + C)``.

    Shape: ``energy`` (h squared) ``(N,)`` in, ``(N,)`` out. Raises ValueError when silent.
    """
    remaining = np.cumsum(energy[::-1])[::-1] + tail_energy
    if not remaining[0] > 0.0:
        raise ValueError("the impulse response is silent")
    return 10.0 * np.log10(np.maximum(remaining / remaining[0], 1e-300))


def fit_decay_s(edc_db: np.ndarray, sample_rate: int, top_db: float, bottom_db: float) -> float | None:
    """60 dB over the slope of a line fitted to ``edc_db`` between ``top_db`` and ``bottom_db``."""
    if not edc_db[-1] <= bottom_db:
        return None
    start = int(np.argmax(edc_db <= top_db))
    stop = int(np.argmax(edc_db <= bottom_db))
    if stop - start < 2:
        return None
    t = np.arange(start, stop + 1) / sample_rate
    slope_db_per_s = float(np.polyfit(t, edc_db[start : stop + 1], 1)[0])
    return -60.0 / slope_db_per_s if slope_db_per_s < 0.0 else None


def decay_time_s(
    ir: np.ndarray, sample_rate: int, band_hz: float | None = None, kind: str = "t30", *, from_direct: bool = True
) -> float | None:
    """T20, T30 or EDT (``kind``: ``"t20"``, ``"t30"``, ``"edt"``) in seconds, or None when the
    decay does not reach the range's lower end above the noise floor.

    The IR is band-passed (``band_hz``; None: broadband), cut at the direct sound (unless
    ``from_direct`` is False), its noise floor cut off (:func:`decay_end`), integrated backwards
    and fitted between the range's ends (:data:`DECAY_RANGES_DB`). Shape: ``ir`` is ``(N,)``.
    """
    top_db, bottom_db = DECAY_RANGES_DB[kind]
    h = _as_ir(ir)
    start = direct_sound_index(h, sample_rate) if from_direct else 0
    if band_hz is not None:
        h = octave_band(h, sample_rate, band_hz)
    energy = h[start:] ** 2
    end, tail = decay_end(energy, sample_rate)
    return fit_decay_s(schroeder_db(energy[:end], tail), sample_rate, top_db, bottom_db)


def schroeder_t30_s(ir: np.ndarray, sample_rate: int, band_hz: float | None = None) -> float:
    """Reverberation time T30 (s) of one impulse response, per ISO 3382-1/-2, from its first sample.

    Schroeder's backward integration, a least-squares line through the decay curve from -5 to
    -35 dB, extrapolated to 60 dB; with ``band_hz`` the IR is band-passed first (:func:`octave_band`).
    Shape: ``ir`` is ``(N,)``. Raises ValueError when the decay does not reach -35 dB.
    """
    h = _as_ir(ir, "schroeder_t30_s")
    if band_hz is not None:
        h = octave_band(h, sample_rate, band_hz)
    edc_db = schroeder_db(h**2)
    if not edc_db[-1] <= -35.0:
        raise ValueError(f"schroeder_t30_s: the decay reaches only {edc_db[-1]:.1f} dB; expected -35 dB for T30")
    t30 = fit_decay_s(edc_db, sample_rate, -5.0, -35.0)
    if t30 is None:
        raise ValueError("schroeder_t30_s: the decay from -5 to -35 dB is too short to fit")
    return t30


def _early_late(energy: np.ndarray, sample_rate: int, split_ms: float) -> tuple[float, float]:
    split = int(round(split_ms * 1e-3 * sample_rate))
    return float(np.sum(energy[:split])), float(np.sum(energy[split:]))


def clarity_db(ir: np.ndarray, sample_rate: int, split_ms: float = 80.0, band_hz: float | None = None) -> float:
    """C50 (``split_ms=50``) or C80: early to late energy (dB), split ``split_ms`` after the direct sound."""
    h = _as_ir(ir)
    start = direct_sound_index(h, sample_rate)
    if band_hz is not None:
        h = octave_band(h, sample_rate, band_hz)
    early, late = _early_late(h[start:] ** 2, sample_rate, split_ms)
    return 10.0 * math.log10(early / late) if early > 0.0 and late > 0.0 else math.nan


def definition(ir: np.ndarray, sample_rate: int, band_hz: float | None = None) -> float:
    """D50: the share (0..1) of the energy that arrives in the first 50 ms after the direct sound."""
    h = _as_ir(ir)
    start = direct_sound_index(h, sample_rate)
    if band_hz is not None:
        h = octave_band(h, sample_rate, band_hz)
    early, late = _early_late(h[start:] ** 2, sample_rate, 50.0)
    return early / (early + late) if early + late > 0.0 else math.nan


def direct_to_reverberant_db(ir: np.ndarray, sample_rate: int, band_hz: float | None = None) -> float:
    """DRR (dB): the energy within 2.5 ms of the direct sound's peak over all the energy after it.

    Per band, each part's energy is taken from its spectrum through the band filter's power
    response (Parseval), so the filter does not smear the direct sound into the reverberation.
    """
    h = _as_ir(ir)
    peak = direct_sound_index(h, sample_rate)
    half = int(round(DIRECT_HALF_WINDOW_MS * 1e-3 * sample_rate))
    direct = np.zeros_like(h)
    direct[max(0, peak - half) : peak + half + 1] = h[max(0, peak - half) : peak + half + 1]
    reverberant = h.copy()
    reverberant[: peak + half + 1] = 0.0
    if band_hz is None:
        d, r = float(np.sum(direct**2)), float(np.sum(reverberant**2))
    else:
        from scipy.signal import sosfreqz

        n_fft = 1 << int(math.ceil(math.log2(max(h.size, 2))))
        _, response = sosfreqz(_octave_sos(band_hz, sample_rate), worN=n_fft // 2 + 1, fs=sample_rate)
        power = np.abs(response) ** 2
        d = float(np.sum(power * np.abs(np.fft.rfft(direct, n_fft)) ** 2))
        r = float(np.sum(power * np.abs(np.fft.rfft(reverberant, n_fft)) ** 2))
    return 10.0 * math.log10(d / r) if d > 0.0 and r > 0.0 else math.nan


def echo_density(
    ir: np.ndarray, sample_rate: int, span_ms: float = ECHO_DENSITY_SPAN_MS, window_ms: float = ECHO_DENSITY_WINDOW_MS
) -> tuple[np.ndarray, np.ndarray]:
    """Abel & Huang's normalised echo density after the direct sound.

    Returns ``(times_ms, eta)``, both ``(K,)``: ``eta`` of the Hann window centred ``times_ms``
    after the direct sound, every 0.25 ms (or every sample below 4 kHz) up to ``span_ms``.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    h = _as_ir(ir)
    start = direct_sound_index(h, sample_rate)
    half = int(round(0.5 * window_ms * 1e-3 * sample_rate))
    window = np.hanning(2 * half + 3)[1:-1]  # 2 half + 1 nonzero weights, centred
    window /= window.sum()
    hop = max(1, sample_rate // 4000)
    centres = np.arange(start, min(h.size, start + int(span_ms * 1e-3 * sample_rate) + 1), hop)
    padded = np.concatenate([np.zeros(half), h, np.zeros(half)])
    frames = sliding_window_view(padded, 2 * half + 1)[centres]  # (K, W), frame k centred on centres[k]
    rms = np.sqrt(frames**2 @ window)
    exceed = (np.abs(frames) > rms[:, None]) @ window
    eta = np.where(rms > 0.0, exceed / _GAUSSIAN_EXCEEDANCE, 0.0)
    return (centres - start) * 1e3 / sample_rate, eta


def echo_density_time_ms(ir: np.ndarray, sample_rate: int, threshold: float = 0.7) -> float | None:
    """Milliseconds after the direct sound when the echo density first reaches ``threshold``
    (None if it never does within :data:`ECHO_DENSITY_SPAN_MS`). ``threshold=1`` is Lindau et al.'s
    mixing time."""
    times_ms, eta = echo_density(ir, sample_rate)
    reached = np.flatnonzero(eta >= threshold)
    return float(times_ms[reached[0]]) if reached.size else None


def _frame_levels_db(x: np.ndarray, sample_rate: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    frame = int(round(ROUGHNESS_FRAME_MS * 1e-3 * sample_rate))
    energy = _frame_energy(x[start:stop] ** 2, frame)
    times_s = (np.arange(energy.size) + 0.5) * frame / sample_rate
    return times_s, 10.0 * np.log10(np.maximum(energy, 1e-300))


def _wander_db(times_s: np.ndarray, levels_db: np.ndarray) -> tuple[float, float]:
    """(standard deviation about the fitted line in dB, the line's slope in dB/s)."""
    slope, intercept = np.polyfit(times_s, levels_db, 1)
    return float(np.std(levels_db - (slope * times_s + intercept))), float(slope)


def tail_roughness(
    ir: np.ndarray, sample_rate: int, band_hz: float, span_ms: tuple[float, float] = ROUGHNESS_SPAN_MS
) -> float | None:
    """How much the tail's level wanders, relative to decaying Gaussian noise (see the module doc).

    The span is cut short where the decay meets a noise floor; None when fewer than 20 frames
    (200 ms) are left. Shape: ``ir`` is ``(N,)``.
    """
    from scipy.signal import sosfilt

    h = _as_ir(ir)
    direct = direct_sound_index(h, sample_rate)
    sos = _octave_sos(band_hz, sample_rate)
    band = np.asarray(sosfilt(sos, h))[direct:]
    end, _ = decay_end(band**2, sample_rate)
    start = int(round(span_ms[0] * 1e-3 * sample_rate))
    stop = min(int(round(span_ms[1] * 1e-3 * sample_rate)), end)
    if (stop - start) < 20 * ROUGHNESS_FRAME_MS * 1e-3 * sample_rate:
        return None
    own_db, slope_db_per_s = _wander_db(*_frame_levels_db(band, sample_rate, start, stop))
    # The reference: white Gaussian noise decaying at the same slope, through the same filter,
    # from the direct sound on (so the filter has settled long before the span starts).
    t_s = np.arange(stop) / sample_rate
    envelope = 10.0 ** (slope_db_per_s * t_s / 20.0)
    reference = []
    for seed in range(ROUGHNESS_SEEDS):
        noise = np.random.default_rng(seed).standard_normal(stop) * envelope
        reference.append(_wander_db(*_frame_levels_db(np.asarray(sosfilt(sos, noise)), sample_rate, start, stop))[0])
    return own_db / float(np.mean(reference))


# ----------------------------------------------------------------------------------------------
# analyze(): every measure, per channel and band
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelAnalysis:
    """The measures of one channel. Per-band dicts are keyed by the band centre in Hz as text
    (``"125"``, ``"1000"``) plus ``"broadband"``; a value is None where the decay is too short
    (or too noisy) for that measure."""

    channel: int
    direct_sound_s: float  #: when the direct sound arrives, from the start of the file
    echo_density_07_ms: float | None  #: echo density first reaches 0.7 (ms after the direct sound)
    mixing_time_ms: float | None  #: echo density first reaches 1 (Lindau et al.)
    t20_s: dict[str, float | None]
    t30_s: dict[str, float | None]
    edt_s: dict[str, float | None]
    c50_db: dict[str, float | None]
    c80_db: dict[str, float | None]
    d50: dict[str, float | None]
    drr_db: dict[str, float | None]
    roughness: dict[str, float | None]  #: tail roughness (bands only)


@dataclass(frozen=True)
class Analysis:
    """:func:`analyze`'s result: the rate, the length, the bands measured and one entry per channel."""

    sample_rate: int
    duration_s: float
    bands_hz: list[float]
    channels: list[ChannelAnalysis]

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, lists, numbers and None (NaN becomes None): ready for ``json.dumps``."""
        out: dict[str, Any] = _finite(dataclasses.asdict(self))  # type: ignore[assignment]
        return out


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _band_key(band_hz: float | None) -> str:
    return "broadband" if band_hz is None else f"{band_hz:g}"


def _optional(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _check_ir_channel(h: np.ndarray, sample_rate: int, where: str) -> None:
    """AudioInputError (one line) when ``h`` is no impulse response: silent, too short, no decay."""
    if not np.all(np.isfinite(h)):
        raise AudioInputError(f"{where}: holds NaN or infinite samples; expected a finite impulse response")
    peak = float(np.max(np.abs(h), initial=0.0))
    if not peak > 0.0:
        raise AudioInputError(f"{where}: is silent; expected an impulse response")
    start = direct_sound_index(h, sample_rate)
    length_ms = (h.size - start) * 1e3 / sample_rate
    if length_ms < MIN_DURATION_MS:
        raise AudioInputError(
            f"{where}: only {length_ms:.0f} ms after the direct sound; expected at least {MIN_DURATION_MS:g} ms of decay"
        )
    energy = h[start:] ** 2
    frame = max(1, int(round(0.010 * sample_rate)))
    levels = _frame_energy(energy, frame)
    range_db = 10.0 * math.log10(levels.max() / max(float(np.min(levels[levels.argmax() :])), 1e-300))
    edc_db = schroeder_db(energy)
    if range_db < MIN_DECAY_DB:
        raise AudioInputError(
            f"{where}: its level does not decay (it falls {range_db:.0f} dB from its loudest 10 ms); expected an "
            f"impulse response falling at least {MIN_DECAY_DB:g} dB"
        )
    remaining_db = float(edc_db[energy.size // 2])
    if remaining_db > -MIN_DECAY_DB / 4.0:  # an IR's energy is nearly all early: a recording's is spread out
        share = 100.0 * 10.0 ** (remaining_db / 10.0)
        raise AudioInputError(
            f"{where}: {share:.0f}% of its energy comes in its second half (a recording, not an impulse "
            f"response?); expected an impulse response whose energy after the middle is under "
            f"{100.0 * 10.0 ** (-MIN_DECAY_DB / 40.0):.0f}% of the whole"
        )


def analyze(ir: np.ndarray, sample_rate: int, *, bands_hz: Sequence[float] | None = None, name: str = "ir") -> Analysis:
    """Every room measure of every channel of an impulse response, broadband and per octave band.

    Shape: ``ir`` is ``(C, N)`` (a 1-D ``(N,)`` is taken as one channel). ``bands_hz`` defaults to
    :func:`analysis_bands_hz`. Raises :class:`AudioInputError` (one line, naming ``name`` and the
    channel) when a channel is silent, too short or does not decay.
    """
    sample_rate = check_sample_rate(sample_rate)
    irs = np.asarray(ir, dtype=np.float64)
    if irs.ndim == 1:
        irs = irs[None, :]
    if irs.ndim != 2:
        raise AudioInputError(f"{name}: expected impulse responses shaped (channels, samples), got shape {irs.shape}")
    bands = tuple(analysis_bands_hz(sample_rate) if bands_hz is None else bands_hz)
    channels = []
    for index, h in enumerate(irs):
        where = name if irs.shape[0] == 1 else f"{name} channel {index + 1}"
        _check_ir_channel(h, sample_rate, where)
        channels.append(_analyze_channel(h, sample_rate, bands, index))
    return Analysis(sample_rate, irs.shape[1] / sample_rate, [float(b) for b in bands], channels)


def _analyze_channel(h: np.ndarray, sample_rate: int, bands: Sequence[float], index: int) -> ChannelAnalysis:
    measures: dict[str, dict[str, float | None]] = {
        k: {} for k in ("t20_s", "t30_s", "edt_s", "c50_db", "c80_db", "d50", "drr_db", "roughness")
    }
    start = direct_sound_index(h, sample_rate)
    for band in (None, *bands):
        key = _band_key(band)
        x = h if band is None else octave_band(h, sample_rate, band)
        energy = x[start:] ** 2
        end, tail = decay_end(energy, sample_rate)
        edc_db = schroeder_db(energy[:end], tail)
        for kind in ("t20", "t30", "edt"):
            measures[f"{kind}_s"][key] = fit_decay_s(edc_db, sample_rate, *DECAY_RANGES_DB[kind])
        e50, l50 = _early_late(energy, sample_rate, 50.0)
        e80, l80 = _early_late(energy, sample_rate, 80.0)
        measures["c50_db"][key] = 10.0 * math.log10(e50 / l50) if e50 > 0.0 and l50 > 0.0 else None
        measures["c80_db"][key] = 10.0 * math.log10(e80 / l80) if e80 > 0.0 and l80 > 0.0 else None
        measures["d50"][key] = e50 / (e50 + l50) if e50 + l50 > 0.0 else None
        measures["drr_db"][key] = _optional(direct_to_reverberant_db(h, sample_rate, band))
        if band is not None:
            measures["roughness"][key] = tail_roughness(h, sample_rate, band)
    return ChannelAnalysis(
        channel=index,
        direct_sound_s=start / sample_rate,
        echo_density_07_ms=echo_density_time_ms(h, sample_rate, 0.7),
        mixing_time_ms=echo_density_time_ms(h, sample_rate, 1.0),
        **measures,
    )
