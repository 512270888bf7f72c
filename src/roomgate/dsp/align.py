"""How late each room mic hears the singer, from the recordings themselves.

Generalised cross-correlation with phase transform (GCC-PHAT, Knapp & Carter 1976): whitening
the cross-spectrum leaves sharp peaks at the direct sound and the strong reflections even in a
reverberant hall, where a plain cross-correlation smears them together. Two refinements:

- only the band where a voice and a distant mic both have energy (100 Hz to 4 kHz) is whitened:
  above it the far mic holds little but noise, whose whitened phases add a false peak;
- far from the singer a reflection can beat the direct sound (two side walls at equal distance add
  up), so the *earliest* peak within :data:`PEAK_FRACTION` of the highest is taken: nothing
  reaches a mic before the direct sound.

The chosen peak is refined to a fraction of a sample by a parabola through its neighbours.

:func:`estimate_delay` looks at two signals it is given. For a whole take, :func:`loudest_passages`
finds the passages where the singer is loudest (a take may open with seconds of silence, where a
correlation finds nothing but noise) and :func:`estimate_take_delays` averages them and says how
sure it is (the peak-to-sidelobe ratio); :func:`shift_tracks` moves tracks in time to align them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# A room mic 100 m farther than the close mic is late by about 0.29 s: look no further than this.
MAX_DELAY_S = 0.3
BAND_HZ = (100.0, 4000.0)
PEAK_FRACTION = 0.5


@dataclass(frozen=True)
class Delay:
    delay_s: float  # how much later than the close mic this mic hears the singer
    confidence: float  # peak height over the correlation's RMS: above ~5 the peak is clear

    def implied_distance_m(self, close_distance_m: float, speed_of_sound_m_s: float) -> float:
        """The mic's distance from the singer that this delay implies (close mic's plus the path)."""
        return close_distance_m + self.delay_s * speed_of_sound_m_s


def estimate_delay(reference: np.ndarray, delayed: np.ndarray, sample_rate: int, max_delay_s: float = MAX_DELAY_S) -> Delay:
    """The delay of ``delayed`` behind ``reference`` (GCC-PHAT), from 0 to ``max_delay_s``.

    Shape:
        reference, delayed: ``(N,)`` the same take at two mics, same rate.
    """
    import scipy.fft

    n = min(reference.size, delayed.size)
    size = scipy.fft.next_fast_len(2 * n)
    spectrum = scipy.fft.rfft(delayed[:n], size) * np.conj(scipy.fft.rfft(reference[:n], size))
    frequencies_hz = scipy.fft.rfftfreq(size, 1 / sample_rate)
    band = (frequencies_hz >= BAND_HZ[0]) & (frequencies_hz <= min(BAND_HZ[1], 0.45 * sample_rate))
    magnitude = np.abs(spectrum)
    spectrum = np.where(band, spectrum / np.maximum(magnitude, 1e-30), 0)
    correlation = scipy.fft.irfft(spectrum, size)
    max_lag = min(int(max_delay_s * sample_rate), n - 1)
    window = correlation[: max_lag + 1]
    highest = float(window.max())
    padded = np.concatenate([[-np.inf], window, [-np.inf]])  # a lag at either end may be the peak (0 above all)
    local_max = np.flatnonzero((padded[1:-1] >= padded[:-2]) & (padded[1:-1] >= padded[2:]))
    candidates = local_max[window[local_max] >= PEAK_FRACTION * highest]
    peak = int(candidates[0]) if candidates.size else int(np.argmax(window))
    offset = 0.0
    if 0 < peak < max_lag:
        left, centre, right = window[peak - 1 : peak + 2]
        curvature = left - 2 * centre + right
        offset = float(0.5 * (left - right) / curvature) if curvature < 0 else 0.0
    rms = float(np.sqrt(np.mean(correlation**2))) or 1e-30
    return Delay(float(peak + offset) / sample_rate, float(window[peak]) / rms)


# -- the whole take: the loudest passages, averaged ---------------------------------------------------

#: Passages of this length are ranked by the reference's level; the loudest are used.
PASSAGE_S = 2.0
PASSAGE_COUNT = 8
#: Passages more than this far under the loudest are left out (breaths, silence, noise).
PASSAGE_RANGE_DB = 30.0
#: Peak-to-sidelobe ratio (see :class:`TakeDelay`) under which an estimate is not trusted.
MIN_PEAK_TO_SIDELOBE = 6.0
#: Lags this close to the peak belong to it (its main lobe), not to the sidelobes.
MAIN_LOBE_S = 0.001
#: The least reference signal (summed over the passages) an estimate is trusted from: a lag search
#: over +-MAX_DELAY_S in a take shorter than that search finds a "clear" peak in almost nothing
#: (10 samples whiten to a near-perfect impulse: peak-to-sidelobe over 100 at a meaningless lag).
MIN_SIGNAL_S = 0.5


@dataclass(frozen=True)
class TakeDelay:
    """A mic's delay behind the reference over a whole take.

    ``peak_to_sidelobe``: the chosen peak's height above the mean of the rest of the correlation
    (lags more than 1 ms from it), in standard deviations of that rest: about 2-4 for unrelated
    signals, tens for a clear delay. ``reliable`` when it is at least :data:`MIN_PEAK_TO_SIDELOBE`,
    some passage was loud enough and the passages held at least :data:`MIN_SIGNAL_S` of signal; ``delay_s`` is then the estimate, else ``None``.
    """

    delay_s: float | None
    peak_to_sidelobe: float
    passages: int  # how many loud passages the estimate used
    signal_s: float = math.inf  # how much of the reference the passages held (under MIN_SIGNAL_S: not reliable)

    @property
    def too_short(self) -> bool:
        return self.signal_s < MIN_SIGNAL_S

    @property
    def reliable(self) -> bool:
        return self.delay_s is not None

    def implied_distance_m(self, close_distance_m: float, speed_of_sound_m_s: float) -> float | None:
        return None if self.delay_s is None else close_distance_m + self.delay_s * speed_of_sound_m_s


def loudest_passages(blocks: Callable[[], Iterable[np.ndarray]], reference: int, sample_rate: int, *,
                     margin_s: float = MAX_DELAY_S, passage_s: float = PASSAGE_S,
                     count: int = PASSAGE_COUNT) -> list[np.ndarray]:
    """The ``count`` loudest passages of a multitrack take, ranked by the ``reference`` track's
    energy, each with ``margin_s`` more of every track on both sides; two streaming passes over
    ``blocks()``, keeping only the passages.

    Shape:
        ``blocks()`` yields ``(T, n)`` blocks; returns ``(T, margin + passage + margin)`` arrays, in
        time order. Passages more than :data:`PASSAGE_RANGE_DB` under the loudest, or silent, are left out.
    """
    length = max(1, int(round(passage_s * sample_rate)))
    margin = int(round(margin_s * sample_rate))
    energies: list[float] = []
    carry = 0.0
    position = 0
    for block in blocks():
        row = np.asarray(block[reference], np.float64)
        offset = 0
        while offset < row.size:
            take = min(row.size - offset, length - position % length)
            carry += float(np.dot(row[offset : offset + take], row[offset : offset + take]))
            offset += take
            position += take
            if position % length == 0:
                energies.append(carry)
                carry = 0.0
    if position % length:
        energies.append(carry * length / (position % length))
    ranked = sorted(range(len(energies)), key=lambda i: -energies[i])
    loudest = energies[ranked[0]] if ranked else 0.0
    floor = loudest * 10 ** (-PASSAGE_RANGE_DB / 10)
    chosen = sorted(i for i in ranked[:count] if energies[i] > 0 and energies[i] >= floor)
    spans = [(i * length - margin, (i + 1) * length + margin) for i in chosen]
    return _cut(blocks, spans)


def _cut(blocks: Callable[[], Iterable[np.ndarray]], spans: list[tuple[int, int]]) -> list[np.ndarray]:
    """The samples of each ``[start, end)`` span of the take (zeros outside it), in one pass."""
    pieces: list[list[tuple[int, np.ndarray]]] = [[] for _ in spans]
    tracks = 0
    position = 0
    for block in blocks():
        tracks = block.shape[0]
        end = position + block.shape[1]
        for index, (first, last) in enumerate(spans):
            lo, hi = max(first, position), min(last, end)
            if lo < hi:
                pieces[index].append((lo - first, np.array(block[:, lo - position : hi - position], np.float64)))
        position = end
    passages = []
    for (first, last), parts in zip(spans, pieces):
        passage = np.zeros((tracks, last - first))
        for at, part in parts:
            passage[:, at : at + part.shape[1]] = part
        passages.append(passage)
    return passages


def estimate_take_delays(passages: list[np.ndarray], reference: int, sample_rate: int, *,
                         margin_s: float = MAX_DELAY_S) -> list[TakeDelay]:
    """Each track's delay behind ``reference`` (from ``-margin_s`` to ``+margin_s``: a track that
    started recording late is early), from passages :func:`loudest_passages` cut: their GCC-PHAT
    cross-spectra are summed before the phase transform (a Welch-style average: every loud passage
    votes), then the earliest peak within :data:`PEAK_FRACTION` of the highest is taken and
    refined by a parabola. The reference's own entry is a zero delay.

    Shape:
        passages: ``(T, margin + L + margin)`` arrays; returns T :class:`TakeDelay`.
    """
    import scipy.fft

    tracks = passages[0].shape[0] if passages else 0
    if not passages:
        return []
    margin = int(round(margin_s * sample_rate))
    longest = max(p.shape[1] for p in passages)
    size = scipy.fft.next_fast_len(2 * longest)
    frequencies_hz = scipy.fft.rfftfreq(size, 1 / sample_rate)
    band = (frequencies_hz >= BAND_HZ[0]) & (frequencies_hz <= min(BAND_HZ[1], 0.45 * sample_rate))
    cross = np.zeros((tracks, size // 2 + 1), np.complex128)
    for passage in passages:
        inner = np.zeros_like(passage[reference])
        inner[margin : passage.shape[1] - margin] = passage[reference, margin : passage.shape[1] - margin]
        reference_spectrum = np.conj(scipy.fft.rfft(inner, size))
        cross += scipy.fft.rfft(passage, size, axis=1) * reference_spectrum
    signal_s = sum(_signal_span(p[reference, margin : p.shape[1] - margin]) for p in passages) / sample_rate
    results = []
    main_lobe = max(1, int(MAIN_LOBE_S * sample_rate))
    for track in range(tracks):
        if track == reference:
            results.append(TakeDelay(0.0, math.inf, len(passages), signal_s))
            continue
        whitened = np.where(band, cross[track] / np.maximum(np.abs(cross[track]), 1e-30), 0)
        correlation = scipy.fft.irfft(whitened, size)
        # A delay of k samples peaks at index k (negative ones wrap to the end): put the lags from
        # -margin to +margin in order, so that index j is a delay of j - margin samples.
        window = np.concatenate([correlation[size - margin :], correlation[: margin + 1]])
        peak = _earliest_strong_peak(window)
        sidelobes = np.concatenate([window[: max(0, peak - main_lobe)], window[peak + main_lobe + 1 :]])
        spread = float(sidelobes.std()) if sidelobes.size > 1 else 0.0
        ratio = (float(window[peak]) - float(sidelobes.mean())) / spread if spread > 0 else 0.0
        delay_s = (peak + _parabolic_offset(window, peak) - margin) / sample_rate
        trusted = ratio >= MIN_PEAK_TO_SIDELOBE and signal_s >= MIN_SIGNAL_S
        results.append(TakeDelay(delay_s if trusted else None, ratio, len(passages), signal_s))
    return results


def _signal_span(samples: np.ndarray) -> int:
    """Samples from the first non-zero one to the last (0 for silence): a passage cut past the
    take's end is zero-padded, and that padding is no signal."""
    nonzero = np.flatnonzero(samples)
    return int(nonzero[-1] - nonzero[0] + 1) if nonzero.size else 0


def _earliest_strong_peak(window: np.ndarray) -> int:
    highest = float(window.max())
    padded = np.concatenate([[-np.inf], window, [-np.inf]])  # a lag at either end may be the peak (0 above all)
    local_max = np.flatnonzero((padded[1:-1] >= padded[:-2]) & (padded[1:-1] >= padded[2:]))
    candidates = local_max[window[local_max] >= PEAK_FRACTION * highest]
    return int(candidates[0]) if candidates.size else int(np.argmax(window))


def _parabolic_offset(window: np.ndarray, peak: int) -> float:
    if not 0 < peak < window.size - 1:
        return 0.0
    left, centre, right = window[peak - 1 : peak + 2]
    curvature = left - 2 * centre + right
    return float(0.5 * (left - right) / curvature) if curvature < 0 else 0.0


def shift_tracks(blocks: Iterable[np.ndarray], shifts: Sequence[int], length: int) -> Iterator[np.ndarray]:
    """The take with each track moved in time: track ``t`` later by ``shifts[t]`` samples (earlier
    when negative), silence filling in, the take's ``length`` kept.

    Shape:
        ``blocks`` yields ``(T, n)`` blocks; yields ``(T, k)`` blocks adding up to ``length``.
    """
    pending = [np.zeros(max(int(s), 0), np.float32) for s in shifts]
    to_drop = [max(-int(s), 0) for s in shifts]
    emitted = 0
    for block in blocks:
        for track, row in enumerate(block):
            skip = min(to_drop[track], row.size)
            to_drop[track] -= skip
            pending[track] = np.concatenate([pending[track], np.asarray(row[skip:], np.float32)])
        ready = min(min(p.size for p in pending), length - emitted)
        if ready > 0:
            yield np.stack([p[:ready] for p in pending])
            pending = [p[ready:] for p in pending]
            emitted += ready
    if emitted < length:
        rest = length - emitted
        yield np.stack([np.pad(p[:rest], (0, max(0, rest - p.size))) for p in pending])
