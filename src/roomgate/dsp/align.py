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
"""

from __future__ import annotations

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
    local_max = np.flatnonzero((window[1:-1] >= window[:-2]) & (window[1:-1] >= window[2:])) + 1
    candidates = local_max[window[local_max] >= PEAK_FRACTION * highest]
    peak = int(candidates[0]) if candidates.size else int(np.argmax(window))
    offset = 0.0
    if 0 < peak < max_lag:
        left, centre, right = window[peak - 1 : peak + 2]
        curvature = left - 2 * centre + right
        offset = float(0.5 * (left - right) / curvature) if curvature < 0 else 0.0
    rms = float(np.sqrt(np.mean(correlation**2))) or 1e-30
    return Delay(float(peak + offset) / sample_rate, float(window[peak]) / rms)
