"""A synthetic singing voice: the dry vocal that ``roomgate demo`` sends through the rig.

This is a source-filter singer in the tradition of Klatt's cascade formant synthesiser:

1. **Glottal source.** The glottal *flow* of the Liljencrants-Fant (LF) model, sampled analytically
   once per period at a fractional onset, at an oversampled rate (>= 96 kHz), then decimated with a
   polyphase low-pass: what is left off the harmonics sits below -80 dB at any output rate. The pulse
   shape follows one number, Fant's ``Rd``: 1.7 is a soft, breathy, dark voice (long open phase, slow
   return), 0.45 a pressed shout (short open phase, abrupt closure, strong upper harmonics). Each
   period draws its own jitter (period) and shimmer (amplitude).
2. **Aspiration.** Noise added to the flow and gated by the glottal opening, stronger for soft
   (breathy) singing; it also makes "h" onsets and the breaths between phrases.
3. **Vocal tract.** A cascade of two-pole resonators F1-F5 taken from a singers' vowel table, moving
   smoothly between vowels, and a peaking boost at ~2.9 kHz -- the singer's formant -- which grows
   with effort while F3-F5 cluster. Above F5 a parallel branch of broad resonances (4.6, 6.2, 7.9 kHz)
   stands in for the higher formants a five-pole cascade lacks (Klatt's cascade/parallel split).
4. **Lip radiation.** A first difference of the tract output (+6 dB/octave).
5. **Fricatives** ("s", "sh", stop bursts) are band-passed noise added after the tract.

The performance layer turns a list of :class:`Note` and :class:`Rest` into control curves: pitch with
onset scoops, legato portamento, delayed vibrato whose depth grows through a held note, slow drift and
an end-of-phrase fall; vocal effort that sets level, ``Rd``, breathiness, the singer's formant and a slight
sharpening at a shout; voicing envelopes with soft attacks and releases (no clicks). Like a singer
listening to themselves, each note is then trimmed to the loudness its effort asks for.

Sources (read and re-derived here, nothing copied):

- G. Fant, J. Liljencrants, Q. Lin, "A four-parameter model of glottal flow", STL-QPSR 26(4), 1985:
  the LF flow-derivative equations, the return-phase constant ``eps`` and the zero-net-flow condition.
- G. Fant, "The LF-model revisited. Transformations and frequency domain analysis", STL-QPSR 36(2-3),
  1995: the ``Rd`` regressions for ``Ra``, ``Rk``, ``Rg``.
- D. H. Klatt, "Software for a cascade/parallel formant synthesizer", JASA 67(3), 1980: unity-DC-gain
  two-pole resonators in cascade, radiation as a first difference.
- Formant frequencies and bandwidths (F1-F5, vowels a e i o u, bass and tenor): the "Formant values"
  appendix of the Csound manual (data from IRCAM's CHANT singing synthesis). ``"baritone"`` is the mean
  of the bass and tenor rows.
- J. Sundberg, "Articulatory interpretation of the 'singing formant'", JASA 55(4), 1974: the ~3 kHz
  cluster of F3-F5 in trained (and loud) singing; and his later work on F1 tuning at high pitch.
- R. Bristow-Johnson, "Audio EQ cookbook": the peaking biquad used for the singer's formant.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from collections.abc import Callable
from typing import Sequence, Union

import numpy as np

from ..errors import ConfigError
from ..units import check_sample_rate

__all__ = [
    "FORMANT_TABLE",
    "Note",
    "Rest",
    "crescendo_score",
    "midi_to_hz",
    "note_to_hz",
    "sing",
    "sung_crescendo",
]

# ---------------------------------------------------------------------------------------------------
# Vowel table: (F1..F5 in Hz, B1..B5 in Hz). Csound manual, appendix "Formant values" (IRCAM CHANT).
# ---------------------------------------------------------------------------------------------------
_CHANT = {
    "bass": {
        "a": ((600, 1040, 2250, 2450, 2750), (60, 70, 110, 120, 130)),
        "e": ((400, 1620, 2400, 2800, 3100), (40, 80, 100, 120, 120)),
        "i": ((250, 1750, 2600, 3050, 3340), (60, 90, 100, 120, 120)),
        "o": ((400, 750, 2400, 2600, 2900), (40, 80, 100, 120, 120)),
        "u": ((350, 600, 2400, 2675, 2950), (40, 80, 100, 120, 120)),
    },
    "tenor": {
        "a": ((650, 1080, 2650, 2900, 3250), (80, 90, 120, 130, 140)),
        "e": ((400, 1700, 2600, 3200, 3580), (70, 80, 100, 120, 120)),
        "i": ((290, 1870, 2800, 3250, 3540), (40, 90, 100, 120, 120)),
        "o": ((400, 800, 2600, 2800, 3000), (40, 80, 100, 120, 120)),
        "u": ((350, 600, 2700, 2900, 3300), (40, 60, 100, 120, 120)),
    },
}
_CHANT["baritone"] = {
    v: tuple(tuple(0.5 * (b + t) for b, t in zip(bv, tv)) for bv, tv in zip(_CHANT["bass"][v], _CHANT["tenor"][v]))
    for v in "aeiou"
}

#: ``FORMANT_TABLE[voice][vowel] == ((F1..F5 Hz), (B1..B5 Hz))`` for voice in bass, baritone, tenor.
FORMANT_TABLE: dict[str, dict[str, tuple[tuple[float, ...], tuple[float, ...]]]] = _CHANT

# Consonant articulations: formant targets (F1..F3 Hz, B1..B3 Hz) used while the consonant sounds;
# F4, F5 stay with the vowel. Rough textbook values for a male tract (nasal murmur: low F1, damped
# upper formants; glides start from the vowel they resemble).
_CONSONANT_FORMANTS = {
    "m": ((260.0, 1000.0, 2200.0), (60.0, 300.0, 400.0)),
    "n": ((260.0, 1400.0, 2400.0), (60.0, 300.0, 400.0)),
    "l": ((330.0, 1050.0, 2600.0), (60.0, 120.0, 200.0)),
    "w": ((300.0, 650.0, 2300.0), (50.0, 80.0, 150.0)),
    "y": ((260.0, 2050.0, 2900.0), (50.0, 100.0, 150.0)),
}
# name -> (duration_s, voicing during it 0..1, voiced level relative to the vowel in dB)
_CONSONANTS = {
    "": (0.0, 1.0, 0.0),
    "h": (0.09, 0.0, 0.0),
    "s": (0.11, 0.0, 0.0),
    "sh": (0.12, 0.0, 0.0),
    "t": (0.09, 0.0, 0.0),
    "k": (0.10, 0.0, 0.0),
    "m": (0.09, 1.0, -14.0),
    "n": (0.08, 1.0, -14.0),
    "l": (0.07, 1.0, -6.0),
    "w": (0.08, 1.0, -5.0),
    "y": (0.08, 1.0, -4.0),
}

_NOTE_RE = re.compile(r"^\s*([A-Ga-g])([#b]?)(-?\d)\s*$")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_to_hz(midi: float) -> float:
    """MIDI note number (69 = A4) -> frequency in Hz, equal temperament at A4 = 440 Hz."""
    return 440.0 * 2.0 ** ((float(midi) - 69.0) / 12.0)


def note_to_hz(name: str) -> float:
    """Scientific pitch name (``"A3"``, ``"F#2"``, ``"Bb4"``) -> frequency in Hz (A4 = 440 Hz)."""
    m = _NOTE_RE.match(name)
    if not m:
        raise ConfigError(f"note name: expected like 'A3', 'F#2' or 'Bb4', got {name!r}")
    letter, accidental, octave = m.groups()
    semis = _STEPS[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]
    return midi_to_hz(12 * (int(octave) + 1) + semis)


@dataclass(frozen=True)
class Note:
    """One sung note.

    Args:
        pitch: frequency in Hz (float), or a note name such as ``"A3"``; ``Note.midi(57, ...)`` takes a
            MIDI number.
        duration_s: length in seconds, consonant included (the consonant takes the start of the note).
        vowel: ``"a" "e" "i" "o" "u"``, or a diphthong of two of them (``"ai"``: a gliding to i).
        effort: vocal effort 0..1: 0 soft and breathy, 0.5 full voice, 1 a pressed shout. Sets level,
            spectral tilt, breathiness, the singer's formant and a slight sharpening near 1.
        effort_end: effort at the end of the note (a swell or a fade); default: ``effort``.
        onset: consonant before the vowel: ``"" "h" "s" "sh" "t" "k" "m" "n" "l" "w" "y"``.
    """

    pitch: Union[float, str]
    duration_s: float
    vowel: str = "a"
    effort: float = 0.5
    effort_end: float | None = None
    onset: str = ""

    @classmethod
    def midi(cls, midi: float, duration_s: float, **kwargs) -> "Note":
        """A note from a MIDI number (69 = A4 = 440 Hz)."""
        return cls(midi_to_hz(midi), duration_s, **kwargs)

    @property
    def pitch_hz(self) -> float:
        """The requested fundamental frequency in Hz."""
        return note_to_hz(self.pitch) if isinstance(self.pitch, str) else float(self.pitch)


@dataclass(frozen=True)
class Rest:
    """Silence between phrases; ``breath`` 0..1 is the loudness of the inhalation heard in it."""

    duration_s: float
    breath: float = 0.5


# ---------------------------------------------------------------------------------------------------
# LF model, Rd-parametrised (Fant 1995), tabulated once in normalised time (T0 = 1, Ee = 1).
# ---------------------------------------------------------------------------------------------------
_RD_MIN, _RD_MAX, _RD_N = 0.3, 2.7, 97


@functools.cache
def _lf_table() -> np.ndarray:
    """LF parameters over an Rd grid: ``(_RD_N, 8)`` float64 rows of
    ``te, tp, ta, eps, alpha, E0, U(te), U(tp)`` in normalised time (period 1, negative peak Ee = 1)."""
    from scipy.optimize import brentq

    rows = []
    for rd in np.linspace(_RD_MIN, _RD_MAX, _RD_N):
        ra = (-1.0 + 4.8 * rd) / 100.0  # Fant 1995, regressions on Rd
        rk = (22.4 + 11.8 * rd) / 100.0
        rg = rk / (4.0 * (0.11 * rd / (0.5 + 1.2 * rk) - ra))  # from Rd = (0.5+1.2Rk)(Rk/4Rg+Ra)/0.11
        tp = 1.0 / (2.0 * rg)
        te = tp * (1.0 + rk)
        ta = ra
        tb = 1.0 - te
        # return phase: eps*ta = 1 - exp(-eps*(tc - te)), the non-trivial root
        eps = brentq(lambda e: e * ta - 1.0 + math.exp(-e * tb), 1e-6, 1.0 / ta + 1.0)
        wg = math.pi / tp
        k_ret = 1.0 / (eps * ta)
        area_ret = -k_ret * ((1.0 - math.exp(-eps * tb)) / eps - tb * math.exp(-eps * tb))

        def flow_open(alpha: float, tau: float) -> float:
            e0 = -1.0 / (math.exp(alpha * te) * math.sin(wg * te))  # continuity: E(te) = -Ee
            return e0 * (math.exp(alpha * tau) * (alpha * math.sin(wg * tau) - wg * math.cos(wg * tau)) + wg) / (
                alpha * alpha + wg * wg
            )

        # zero net flow over the period fixes alpha
        alpha = brentq(lambda a: flow_open(a, te) + area_ret, -60.0, 120.0)
        e0 = -1.0 / (math.exp(alpha * te) * math.sin(wg * te))
        rows.append((te, tp, ta, eps, alpha, e0, flow_open(alpha, te), flow_open(alpha, tp)))
    return np.array(rows, dtype=np.float64)


def _rd_of_effort(effort: np.ndarray) -> np.ndarray:
    """Vocal effort 0..1 -> Rd: 1.7 (soft, breathy) ... 0.45 (pressed shout), geometric in between."""
    return 1.7 * (0.45 / 1.7) ** np.clip(effort, 0.0, 1.0)


# Loudness targets. Singers set their loudness by ear, so ``sing`` measures each sung note and trims it
# to: RMS (dBFS, before peak normalisation) = level(effort) + 3 dB per octave above A3 + a small
# intrinsic vowel term (open vowels are louder; Lehiste & Peterson 1959 found a few dB between a and i).
_EFFORT_KNOTS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_LEVEL_DB_KNOTS = np.array([-30.5, -25.5, -20.0, -15.5, -11.0])
_VOWEL_DB = {"a": 0.0, "o": -1.0, "e": -1.5, "u": -2.5, "i": -2.5}
_PITCH_DB_PER_OCTAVE = 3.0


def _level_db_of_effort(effort: np.ndarray) -> np.ndarray:
    """Vocal effort 0..1 -> target RMS in dBFS of a sustained 'a' at A3 (220 Hz)."""
    return np.interp(np.clip(effort, 0.0, 1.0), _EFFORT_KNOTS, _LEVEL_DB_KNOTS)


def _note_target_db(note: "Note") -> float:
    e = 0.5 * (note.effort + (note.effort if note.effort_end is None else note.effort_end))
    vowel = float(np.mean([_VOWEL_DB[v] for v in note.vowel]))
    return float(_level_db_of_effort(e)) + _PITCH_DB_PER_OCTAVE * math.log2(note.pitch_hz / 220.0) + vowel


# ---------------------------------------------------------------------------------------------------
# Kernels: plain Python, compiled by numba on first use (and cached on disk), so that importing this
# module never imports numba. The compiled kernels reach their helpers through the module globals
# bound below, which _kernels() rebinds to compiled versions before anything is compiled.
# ---------------------------------------------------------------------------------------------------
def _frame_position_py(position: float, hop: float, n_frames: int) -> tuple[int, float]:
    """Control frame ``j`` and weight ``w`` (0..1) that interpolate frames ``j, j + 1`` at ``position``.

    ``position`` and ``hop`` (samples per control frame) count samples; past the next-to-last frame
    the curves hold their last value.
    """
    frame = position / hop
    j = int(frame)
    if j >= n_frames - 1:
        return n_frames - 2, 1.0
    return j, frame - j


def _lerp_py(a: float, b: float, w: float) -> float:
    """``a`` to ``b`` at weight ``w``, rounded as ``a + w * (b - a)`` (every curve here is)."""
    return a + w * (b - a)


def _lf_parameters_py(
    lf_table: np.ndarray, rd: float, rd_min: float, rd_step: float
) -> tuple[float, float, float, float, float, float, float, float]:
    """The LF row ``te, tp, ta, eps, alpha, E0, U(te), U(tp)`` (see :func:`_lf_table`) at shape ``rd``,
    interpolated between the ``(R, 8)`` table's rows (Rd from ``rd_min`` by ``rd_step``), held at its ends."""
    x = (rd - rd_min) / rd_step
    if x < 0.0:
        x = 0.0
    if x > lf_table.shape[0] - 1.000001:
        x = lf_table.shape[0] - 1.000001
    r = int(x)
    w = x - r
    lo, hi = lf_table[r], lf_table[r + 1]
    return (
        _lerp(lo[0], hi[0], w), _lerp(lo[1], hi[1], w), _lerp(lo[2], hi[2], w), _lerp(lo[3], hi[3], w),
        _lerp(lo[4], hi[4], w), _lerp(lo[5], hi[5], w), _lerp(lo[6], hi[6], w), _lerp(lo[7], hi[7], w),
    )


def _store_flow_py(
    flow: np.ndarray, opening: np.ndarray, oversampling: int, s: int, u: float, scale: float, inv_peak: float
) -> None:
    """Write normalised flow ``u`` at oversampled sample ``s``; every ``oversampling``-th sample, also
    the glottal opening (flow re its peak, 0..1) at the output rate."""
    flow[s] = scale * u
    if s % oversampling == 0:
        g = u * inv_peak
        opening[s // oversampling] = g if g > 0.0 else 0.0


def _open_phase_py(
    flow: np.ndarray, opening: np.ndarray, oversampling: int, t0: float, dt: float, first: int, stop: int,
    scale: float, inv_peak: float, u_end: float, wg: float, alpha: float, e0: float,
) -> None:
    """Samples ``first..stop-1`` of the open phase, ``tau = (s - t0) * dt`` in periods:
    ``U = E0 (e^(alpha tau) (alpha sin wg tau - wg cos wg tau) + wg) / (alpha^2 + wg^2) - tau U_end``."""
    inv_den = 1.0 / (alpha * alpha + wg * wg)
    # e^(alpha tau) (cos wg tau, sin wg tau) as a complex number rotated by one sample's step:
    # one multiply per sample instead of exp, sin and cos
    tau0 = (first - t0) * dt
    mag = math.exp(alpha * tau0)
    zr = mag * math.cos(wg * tau0)
    zi = mag * math.sin(wg * tau0)
    mag = math.exp(alpha * dt)
    mr = mag * math.cos(wg * dt)
    mi = mag * math.sin(wg * dt)
    for s in range(first, stop):
        tau = (s - t0) * dt
        u = e0 * (alpha * zi - wg * zr + wg) * inv_den - tau * u_end
        _store_flow(flow, opening, oversampling, s, u, scale, inv_peak)
        zr, zi = zr * mr - zi * mi, zr * mi + zi * mr


def _return_phase_py(
    flow: np.ndarray, opening: np.ndarray, oversampling: int, t0: float, dt: float, first: int, stop: int,
    scale: float, inv_peak: float, u_end: float, te: float, eps: float, k_ret: float, ec: float, u_te: float,
) -> None:
    """Samples ``first..stop-1`` of the return phase: the exponential recovery towards closure,
    ``U = U(te) - k_ret ((1 - e^(-eps (tau - te))) / eps - (tau - te) ec) - tau U_end``."""
    q = math.exp(-eps * ((first - t0) * dt - te))
    qm = math.exp(-eps * dt)  # q advances by one multiply per sample
    for s in range(first, stop):
        tau = (s - t0) * dt
        d = tau - te
        u = u_te - k_ret * ((1.0 - q) / eps - d * ec) - tau * u_end
        _store_flow(flow, opening, oversampling, s, u, scale, inv_peak)
        q *= qm


def _glottal_pulse_py(
    flow: np.ndarray, opening: np.ndarray, oversampling: int, t0: float, period: float, n_samples: int,
    scale: float, lf: tuple[float, float, float, float, float, float, float, float],
) -> None:
    """One LF flow pulse of ``period`` oversampled samples from fractional sample ``t0``, ``scale`` times
    the normalised flow of LF row ``lf`` (see :func:`_lf_parameters_py`), cut at ``n_samples``."""
    te, tp, ta, eps, alpha, e0, u_te, u_tp = lf
    start = int(math.ceil(t0))
    stop = min(int(math.ceil(t0 + period)), n_samples)
    wg = math.pi / tp
    k_ret = 1.0 / (eps * ta)
    ec = math.exp(-eps * (1.0 - te))
    # interpolated parameters break the zero-net-flow balance slightly: remove the residual
    # with a ramp so the flow is exactly 0 at both ends of the period (no step, no click)
    u_end = u_te - k_ret * ((1.0 - ec) / eps - (1.0 - te) * ec)
    inv_peak = 1.0 / u_tp
    closing = max(start, min(int(math.floor(t0 + te * period)) + 1, stop))  # first sample after te
    dt = 1.0 / period
    _open_phase(flow, opening, oversampling, t0, dt, start, closing, scale, inv_peak, u_end, wg, alpha, e0)
    if closing < stop:
        _return_phase(flow, opening, oversampling, t0, dt, closing, stop, scale, inv_peak, u_end, te, eps, k_ret, ec, u_te)


def _glottal_flow_py(
    n_samples: int, sample_rate_hz: float, hop: float, oversampling: int,
    f0_hz: np.ndarray, amplitude: np.ndarray, rd: np.ndarray, lf_table: np.ndarray, rd_min: float, rd_step: float,
    jitter: np.ndarray, shimmer: np.ndarray, flow: np.ndarray, opening: np.ndarray,
) -> None:
    """LF glottal flow at the oversampled rate, one period after the other.

    n_samples: samples to write at the oversampled rate ``sample_rate_hz``; hop: oversampled samples per
    control frame; f0_hz, amplitude, rd: ``(F,)`` control curves (Hz, linear Ee, Rd); lf_table: ``(R, 8)``
    from :func:`_lf_table` (Rd from ``rd_min`` by ``rd_step``); jitter, shimmer: ``(P,)`` relative
    perturbations of each period's length and amplitude (reused cyclically after P periods).
    flow: ``(n_samples,)`` output; opening: ``(n_samples // oversampling,)`` output, the normalised glottal
    opening 0..1 at the output rate.
    """
    n_frames = f0_hz.shape[0]
    t0 = 0.0  # fractional start of the current period, in oversampled samples
    k = 0
    while t0 < n_samples:
        j, w = _frame_position(t0, hop, n_frames)
        f0 = _lerp(f0_hz[j], f0_hz[j + 1], w)
        amp = _lerp(amplitude[j], amplitude[j + 1], w)
        kk = k % jitter.shape[0]
        period = sample_rate_hz / f0 * (1.0 + jitter[kk])
        if amp > 0.0:
            amp = amp * (1.0 + shimmer[kk])
            # Ee scales with amp; flow = Ee * T0 * U(t/T0), referenced to T0 = 10 ms
            scale = amp * (period / sample_rate_hz) * 100.0
            lf = _lf_parameters(lf_table, _lerp(rd[j], rd[j + 1], w), rd_min, rd_step)
            _glottal_pulse(flow, opening, oversampling, t0, period, n_samples, scale, lf)
        t0 += period
        k += 1


def _tract_py(
    x: np.ndarray, hop: float, a1_curve: np.ndarray, a2_curve: np.ndarray, b0_curve: np.ndarray,
    peaking_curve: np.ndarray, out: np.ndarray,
) -> None:
    """Cascade of time-varying two-pole resonators, then a time-varying peaking biquad.

    x: ``(N,)`` input; hop: samples per control frame; a1_curve, a2_curve, b0_curve: ``(F, K)`` resonator
    coefficients, linearly interpolated per sample (the stability triangle is convex, so the
    interpolated filter stays stable); peaking_curve: ``(F, 5)`` peaking b0 b1 b2 a1 a2; out: ``(N,)``.
    """
    n_frames, n_resonators = a1_curve.shape
    y1 = np.zeros(n_resonators)  # each resonator's last two outputs
    y2 = np.zeros(n_resonators)
    ex1 = 0.0  # the peaking biquad's last two inputs and outputs
    ex2 = 0.0
    ey1 = 0.0
    ey2 = 0.0
    for s in range(x.shape[0]):
        j, w = _frame_position(s, hop, n_frames)
        v = x[s]
        for q in range(n_resonators):
            a1 = _lerp(a1_curve[j, q], a1_curve[j + 1, q], w)
            a2 = _lerp(a2_curve[j, q], a2_curve[j + 1, q], w)
            b0 = _lerp(b0_curve[j, q], b0_curve[j + 1, q], w)
            yv = b0 * v - a1 * y1[q] - a2 * y2[q]
            y2[q] = y1[q]
            y1[q] = yv
            v = yv
        b0 = _lerp(peaking_curve[j, 0], peaking_curve[j + 1, 0], w)
        b1 = _lerp(peaking_curve[j, 1], peaking_curve[j + 1, 1], w)
        b2 = _lerp(peaking_curve[j, 2], peaking_curve[j + 1, 2], w)
        a1 = _lerp(peaking_curve[j, 3], peaking_curve[j + 1, 3], w)
        a2 = _lerp(peaking_curve[j, 4], peaking_curve[j + 1, 4], w)
        yv = b0 * v + b1 * ex1 + b2 * ex2 - a1 * ey1 - a2 * ey2
        ex2 = ex1
        ex1 = v
        ey2 = ey1
        ey1 = yv
        out[s] = yv


_frame_position, _lerp, _lf_parameters = _frame_position_py, _lerp_py, _lf_parameters_py
_store_flow, _open_phase, _return_phase, _glottal_pulse = (
    _store_flow_py, _open_phase_py, _return_phase_py, _glottal_pulse_py
)


@functools.cache
def _kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    """The compiled ``(glottal_flow, tract)`` kernels, compiled (or loaded from numba's cache) once."""
    global _frame_position, _lerp, _lf_parameters, _store_flow, _open_phase, _return_phase, _glottal_pulse
    import numba  # here, not at the top: importing the module stays light

    # fastmath off: the samples must not depend on how LLVM reorders the arithmetic
    jit = numba.njit(cache=True, nogil=True, fastmath=False)
    _frame_position, _lerp, _lf_parameters = jit(_frame_position_py), jit(_lerp_py), jit(_lf_parameters_py)
    _store_flow, _open_phase, _return_phase = jit(_store_flow_py), jit(_open_phase_py), jit(_return_phase_py)
    _glottal_pulse = jit(_glottal_pulse_py)
    return jit(_glottal_flow_py), jit(_tract_py)


# ---------------------------------------------------------------------------------------------------
# The performance: notes -> control curves at 1 kHz.
# ---------------------------------------------------------------------------------------------------
_CR = 1000.0  # control rate, frames per second
_BREATH_AMP = 0.4  # aspiration amplitude of a full inhalation (breath=1): about -45 dBFS RMS


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _smooth(x: np.ndarray, width_s: float) -> np.ndarray:
    """Hann-window moving average along the last axis (a step becomes an S-curve of ``width_s``)."""
    n = max(int(round(width_s * _CR)), 1) | 1
    if n < 3:
        return x
    win = np.hanning(n + 2)[1:-1]
    win /= win.sum()
    pad = n // 2
    xp = np.concatenate([np.repeat(x[..., :1], pad, -1), x, np.repeat(x[..., -1:], pad, -1)], axis=-1)
    if x.ndim == 1:
        return np.convolve(xp, win, mode="valid")
    return np.stack([np.convolve(row, win, mode="valid") for row in xp])


def _lowpass_noise(rng: np.random.Generator, n: int, cutoff_hz: float) -> np.ndarray:
    """Unit-RMS Gaussian noise at the control rate, low-passed (2nd-order Butterworth, zero phase)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, cutoff_hz / (_CR / 2), output="sos")
    x = sosfiltfilt(sos, rng.standard_normal(n + 2000))[1000:-1000]
    return x / (np.std(x) + 1e-12)


def _validate(notes: Sequence[Note | Rest], voice: str) -> list[Note | Rest]:
    if voice not in FORMANT_TABLE:
        raise ConfigError(f"voice: expected one of {sorted(FORMANT_TABLE)}, got {voice!r}")
    items = list(notes)
    if not any(isinstance(it, Note) for it in items):
        raise ConfigError(f"notes: expected at least one Note, got {items!r}")
    for i, it in enumerate(items):
        if not isinstance(it, (Note, Rest)):
            raise ConfigError(f"notes[{i}]: expected a Note or a Rest, got {it!r}")
        if not (np.isfinite(it.duration_s) and it.duration_s > 0):
            raise ConfigError(f"notes[{i}].duration_s: expected > 0 s, got {it.duration_s!r}")
        if isinstance(it, Note):
            if isinstance(it.pitch, bool) or not isinstance(it.pitch, (int, float, np.number, str)):
                raise ConfigError(f"notes[{i}].pitch: expected Hz or a note name like 'A3', got {it.pitch!r}")
            hz = it.pitch_hz
            if not (40.0 <= hz <= 1500.0):
                raise ConfigError(f"notes[{i}].pitch: expected 40..1500 Hz, got {hz!r} Hz")
            if not (0.0 <= it.effort <= 1.0) or not (it.effort_end is None or 0.0 <= it.effort_end <= 1.0):
                raise ConfigError(f"notes[{i}].effort: expected 0..1, got {it.effort!r} / {it.effort_end!r}")
            if it.onset not in _CONSONANTS:
                raise ConfigError(f"notes[{i}].onset: expected one of {sorted(_CONSONANTS)}, got {it.onset!r}")
            if not (1 <= len(it.vowel) <= 2 and all(v in "aeiou" for v in it.vowel)):
                raise ConfigError(f"notes[{i}].vowel: expected a, e, i, o, u or a pair like 'ai', got {it.vowel!r}")
        elif not (0.0 <= it.breath <= 1.0):
            raise ConfigError(f"notes[{i}].breath: expected 0..1, got {it.breath!r}")
    return items


@dataclass
class _Controls:
    f0_hz: np.ndarray  # (F,) fundamental
    amp: np.ndarray  # (F,) glottal excitation amplitude (Ee, linear)
    voicing: np.ndarray  # (F,) 0..1 voicing shape (for noise gating)
    rd: np.ndarray  # (F,) LF shape parameter
    effort: np.ndarray  # (F,) smoothed effort
    asp: np.ndarray  # (F,) aspiration noise amplitude (linear)
    formant_hz: np.ndarray  # (5, F)
    bandwidth_hz: np.ndarray  # (5, F)
    bursts: list  # (start_s, dur_s, kind, vowel_start_s): fricatives and stop bursts added after the tract
    notes: list  # (start_s, vowel_start_s, end_s, target_db) per note: the loudness the singer aims at
    phrases: list  # (start_s, end_s) per phrase, release included


def _controls(items, voice, rng, lead_s, tail_s, vibrato, humanize, breathiness) -> _Controls:
    table = FORMANT_TABLE[voice]
    starts = lead_s + np.concatenate([[0.0], np.cumsum([it.duration_s for it in items])])
    total_s = starts[-1] + tail_s
    nf = int(math.ceil(total_s * _CR)) + 2
    t = np.arange(nf) / _CR

    def fr(a: float) -> int:
        return int(np.clip(round(a * _CR), 0, nf))

    # phrases: maximal runs of notes
    phrases: list[list[int]] = []
    for i, it in enumerate(items):
        if isinstance(it, Note):
            if i > 0 and isinstance(items[i - 1], Note):
                phrases[-1].append(i)
            else:
                phrases.append([i])

    logf = np.zeros(nf)  # log2 of target pitch, stepwise
    eff = np.zeros(nf)
    vow_f = np.zeros((5, nf))
    vow_b = np.zeros((5, nf))
    cons_mask = np.zeros(nf)  # 1 where a consonant articulation overrides F1..F3
    cons_f = np.zeros((3, nf))
    cons_b = np.zeros((3, nf))
    voicing = np.zeros(nf)
    cons_gain_db = np.zeros(nf)
    asp_extra = np.zeros(nf)  # h, stop aspiration, breaths (relative to the local voice amplitude)
    breath_abs = np.zeros(nf)
    cents_extra = np.zeros(nf)  # scoops, falls
    shape_db = np.zeros(nf)  # note-level dynamics: a lift into each note, a swell through long ones
    vib_depth = np.zeros(nf)
    bursts = []
    note_spans: list = []
    phrase_spans: list = []
    schwa = (np.array([500.0, 1500.0, 2500.0, 3500.0, 4200.0]), np.array([150.0, 200.0, 250.0, 300.0, 300.0]))

    # stepwise targets
    first_note = next(i for i, it in enumerate(items) if isinstance(it, Note))
    last_note = None
    for i, it in enumerate(items):
        a, b = fr(starts[i]), fr(starts[i + 1])
        if isinstance(it, Note):
            logf[a:b] = math.log2(it.pitch_hz)
            e1 = it.effort if it.effort_end is None else it.effort_end
            eff[a:b] = np.linspace(it.effort, e1, b - a)
            cdur = min(_CONSONANTS[it.onset][0], 0.4 * it.duration_s)
            va = fr(starts[i] + cdur)  # vowel start
            v0 = table[it.vowel[0]]
            vow_f[:, a:b] = np.array(v0[0])[:, None]
            vow_b[:, a:b] = np.array(v0[1])[:, None]
            if len(it.vowel) == 2:  # diphthong: hold the first vowel, glide to the second
                v1 = table[it.vowel[1]]
                g = _smoothstep((np.arange(a, b) - va - 0.45 * (b - va)) / (0.35 * (b - va) + 1))
                vow_f[:, a:b] = np.exp(np.log(v0[0])[:, None] * (1 - g) + np.log(v1[0])[:, None] * g)
                vow_b[:, a:b] = np.array(v0[1])[:, None] * (1 - g) + np.array(v1[1])[:, None] * g
            last_note = i
        else:
            # hold the last pitch and effort through the release, then prepare the next phrase's, so
            # the smoothing never swings through a rest
            prev = items[last_note if last_note is not None else first_note]
            nxt = next((items[k] for k in range(i + 1, len(items)) if isinstance(items[k], Note)), prev)
            m = (a + b) // 2
            logf[a:m], logf[m:b] = math.log2(prev.pitch_hz), math.log2(nxt.pitch_hz)
            eff[a:m] = prev.effort if prev.effort_end is None else prev.effort_end
            eff[m:b] = nxt.effort
            vow_f[:, a:b] = schwa[0][:, None]
            vow_b[:, a:b] = schwa[1][:, None]
    # before the first note and after the last, hold their pitch
    a0 = fr(starts[first_note])
    logf[:a0] = logf[a0]
    eff[:a0] = eff[a0]
    vow_f[:, :a0] = vow_f[:, a0:a0 + 1]
    vow_b[:, :a0] = vow_b[:, a0:a0 + 1]
    z = fr(starts[-1])
    logf[z:] = logf[z - 1]
    eff[z:] = eff[z - 1]
    vow_f[:, z:] = vow_f[:, z - 1:z]
    vow_b[:, z:] = vow_b[:, z - 1:z]

    # the next note index after each rest (for breath level)
    for i, it in enumerate(items):
        if isinstance(it, Rest) and it.breath > 0 and breathiness > 0:
            nxt = next((k for k in range(i + 1, len(items)) if isinstance(items[k], Note)), None)
            depth = 0.6 + 0.4 * (items[nxt].effort if nxt is not None else 0.3)  # a deeper breath before a loud phrase
            bd = min(0.55, 0.7 * it.duration_s)
            b_end = starts[i + 1] - 0.06
            a, b = fr(b_end - bd), fr(b_end)
            x = np.linspace(0.0, 1.0, b - a)
            breath_abs[a:b] = breathiness * it.breath * depth * np.sin(np.pi * x) ** 2 * (0.6 + 0.4 * x)

    # per phrase: voicing envelope, consonants, scoops, vibrato, release fall
    for ph in phrases:
        p0, p1 = starts[ph[0]], starts[ph[-1] + 1]
        e_on = items[ph[0]].effort
        e_off = items[ph[-1]].effort if items[ph[-1]].effort_end is None else items[ph[-1]].effort_end
        attack = 0.12 - 0.08 * e_on  # soft singers ease in, a shout hits
        release = 0.28 - 0.16 * e_off
        a, b = fr(p0), fr(p1 + 0.5 * release)
        phrase_spans.append((p0, p1 + 0.5 * release))
        x = t[a:b]
        env = _smoothstep((x - p0) / attack) * (1.0 - _smoothstep((x - (p1 - 0.5 * release)) / release))
        voicing[a:b] = np.maximum(voicing[a:b], env)
        # pitch falls away at the release, as singers let go of a phrase
        cents_extra[a:b] -= 60.0 * humanize * _smoothstep((x - (p1 - 0.5 * release)) / release) ** 2
        for n_idx, i in enumerate(ph):
            it = items[i]
            s0, s1 = starts[i], starts[i + 1]
            cdur, cvoice, cdb = _CONSONANTS[it.onset]
            cdur = min(cdur, 0.4 * it.duration_s)
            vs = s0 + cdur  # the vowel starts here
            a, b = fr(s0), fr(s1)
            # each note has its own loudness aim (a little unsteady), eases in after a note change
            # and swells through a held note (~ +2 dB mid-note)
            note_spans.append((s0, vs, s1, _note_target_db(it) + 0.8 * humanize * rng.standard_normal()))
            xn = np.clip((t[a:b] - vs) / max(s1 - vs, 1e-3), 0.0, 1.0)
            swell = min(1.0, (s1 - vs) / 1.2) * (2.0 + rng.random()) * humanize
            swell *= 1.0 - 0.7 * it.effort  # no headroom left at a shout
            ease = -2.0 * humanize * (1.0 - _smoothstep((t[a:b] - vs) / 0.1))
            shape_db[a:b] = ease + swell * np.sin(np.pi * xn) ** 1.5
            if cdur > 0:
                ca, cb = fr(s0), fr(vs)
                if cvoice == 0.0:
                    # unvoiced: voicing stops (20 ms ramps) and restarts with a soft attack
                    xx = t[fr(s0 - 0.03):fr(vs + 0.06)]
                    dip = _smoothstep((xx - (s0 - 0.02)) / 0.025) * (1.0 - _smoothstep((xx - (vs - 0.005)) / 0.05))
                    voicing[fr(s0 - 0.03):fr(vs + 0.06)] *= 1.0 - dip
                    if it.onset == "h":
                        puff = np.sin(np.pi * np.linspace(0.15, 1.0, cb - ca)) ** 0.7
                        asp_extra[ca:cb] = np.maximum(asp_extra[ca:cb], puff)
                    elif it.onset in ("t", "k"):
                        closure = 0.45 * cdur
                        bursts.append((s0 + closure, 0.012, it.onset, vs))
                        ta_, tb_ = fr(s0 + closure + 0.01), cb
                        asp_extra[ta_:tb_] = np.maximum(asp_extra[ta_:tb_], np.linspace(0.8, 0.2, tb_ - ta_))
                    else:
                        bursts.append((s0 - 0.01, cdur + 0.02, it.onset, vs))
                else:
                    cons_gain_db[ca:cb] = np.minimum(cons_gain_db[ca:cb], cdb)
                    if it.onset in _CONSONANT_FORMANTS:
                        cf, cbw = _CONSONANT_FORMANTS[it.onset]
                        cons_mask[ca:cb] = 1.0
                        cons_f[:, ca:cb] = np.array(cf)[:, None]
                        cons_b[:, ca:cb] = np.array(cbw)[:, None]
            # scoop up into the note when the voice (re)starts: phrase onsets and after unvoiced consonants
            if n_idx == 0 or cvoice == 0.0:
                depth = -(25.0 + 35.0 * rng.random()) * humanize * (0.6 + 0.6 * it.effort)
                xx = t[fr(vs):b]
                cents_extra[fr(vs):b] += depth * (1.0 - _smoothstep((xx - vs) / 0.14))
            # vibrato: delayed ~0.3 s, depth grows through a held note, wider when loud
            dv = 0.3 + 0.1 * rng.random()
            full = (30.0 + 25.0 * it.effort) * (0.85 + 0.3 * rng.random())
            xx = t[a:b]
            vib_depth[a:b] = full * _smoothstep((xx - s0 - dv) / 0.6) * (1.0 - _smoothstep((xx - (s1 - 0.06)) / 0.08))

    eff_s = _smooth(eff, 0.15)
    voicing = _smooth(voicing, 0.02)
    # voiced consonants: a level dip and their own F1..F3
    cons_gain = 10.0 ** (_smooth(cons_gain_db, 0.035) / 20.0)
    cm = _smooth(cons_mask, 0.05)
    fmt_f = np.exp(_smooth(np.log(vow_f), 0.07))
    fmt_b = _smooth(vow_b, 0.07)
    cf_s = np.exp(_smooth(np.log(np.where(cons_mask > 0, cons_f, vow_f[:3])), 0.03))
    cb_s = _smooth(np.where(cons_mask > 0, cons_b, vow_b[:3]), 0.03)
    fmt_f[:3] = fmt_f[:3] * (1 - cm) + cf_s * cm
    fmt_b[:3] = fmt_b[:3] * (1 - cm) + cb_s * cm
    # pitch: target + portamento + vibrato + drift + scoops + sharpening at a shout
    logf_s = _smooth(logf, 0.09)
    rate = 5.6 + 0.25 * _lowpass_noise(rng, nf, 0.5) * humanize
    phase = 2.0 * np.pi * np.cumsum(rate) / _CR + 2 * np.pi * rng.random()
    vib = _smooth(vib_depth, 0.06) * vibrato * np.sin(phase)
    drift = 6.0 * humanize * _lowpass_noise(rng, nf, 1.2)
    for i, it in enumerate(items):  # keep intonation centred on each note: drift wanders, the singer corrects
        if isinstance(it, Note):
            a, b = fr(starts[i]), fr(starts[i + 1])
            drift[a:b] -= drift[a:b].mean()
    drift = _smooth(drift, 0.1)
    sharp = 18.0 * _smoothstep((eff_s - 0.6) / 0.4)
    cents = vib + drift + cents_extra + sharp
    f0 = 2.0 ** (logf_s + cents / 1200.0)

    # effort: the jaw opens (F1 up a little) and F3..F5 gather into the singer's formant cluster;
    # a soft voice spreads them as in speech, with wider (weaker) upper formants
    spread = 1.0 - eff_s
    fmt_f[0] *= 1.0 + 0.08 * eff_s
    fmt_f[3] += 250.0 * spread
    fmt_f[4] += 450.0 * spread
    fmt_b[2:] *= 1.0 + 0.3 * spread
    # the table's narrow F1/F2 bandwidths (40-60 Hz) suit FOF synthesis; in a cascade they ring and make
    # the level jump by ~7 dB as harmonics cross F1, so floor them at sung closed-phase values
    fmt_b[0] = np.maximum(fmt_b[0], 100.0)
    fmt_b[1] = np.maximum(fmt_b[1], 110.0)
    # formant tuning at high pitch (Sundberg): singers do not leave F1 below the fundamental
    f0t = 2.0 ** logf_s
    fmt_f[0] = np.maximum(fmt_f[0], 1.1 * f0t)

    # source amplitude: a first guess (measured offset of the radiated output re the source), trimmed
    # per note after the tract
    level = 10.0 ** ((_level_db_of_effort(eff_s) + 36.0) / 20.0)
    level *= 10.0 ** ((_smooth(shape_db, 0.05) + 0.4 * humanize * _lowpass_noise(rng, nf, 2.0)) / 20.0)
    amp = level * voicing * cons_gain
    rd = _rd_of_effort(eff_s)
    # aspiration relative to the voice: -16 dB soft, -36 dB at a shout (breathy vs pressed)
    asp_rel = 10.0 ** ((-16.0 - 20.0 * eff_s) / 20.0) * breathiness
    # an "h" is whispered vowel about 12 dB under the vowel it opens (the voice brightens with effort
    # faster than the noise does, hence the effort term)
    asp_h = 10.0 ** ((-15.0 - 5.0 * eff_s) / 20.0)
    asp = level * (asp_rel * voicing + asp_h * asp_extra) + _BREATH_AMP * breath_abs
    asp = _smooth(asp, 0.01)
    return _Controls(f0, amp, voicing, rd, eff_s, asp, fmt_f, fmt_b, bursts, note_spans, phrase_spans)


# ---------------------------------------------------------------------------------------------------
# Rendering.
# ---------------------------------------------------------------------------------------------------
_INTERNAL_MIN_HZ = 96000.0  # oversampled rate for the glottal source: inharmonic residue < -80 dB
_SINGER_FORMANT_HZ = 2900.0
# parallel high-formant branch: (centre Hz, bandwidth Hz, gain re the radiated source)
_HF_BRANCH = ((4600.0, 1200.0, 1.0), (6200.0, 1600.0, 0.8), (7900.0, 2200.0, 0.6))


def _resonator_coeffs(f_hz: np.ndarray, b_hz: np.ndarray, sr: float):
    """Two-pole resonator with unity gain at DC (Klatt 1980): returns a1, a2, b0 arrays."""
    r = np.exp(-np.pi * b_hz / sr)
    a1 = -2.0 * r * np.cos(2.0 * np.pi * f_hz / sr)
    a2 = r * r
    return a1, a2, 1.0 + a1 + a2


def _peaking_coeffs(f_hz: float, gain_db: np.ndarray, q: float, sr: float) -> np.ndarray:
    """Peaking biquad (RBJ audio-EQ cookbook), normalised: (len(gain_db), 5) rows b0 b1 b2 a1 a2."""
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f_hz / sr
    al = np.sin(w0) / (2.0 * q)
    a0 = 1.0 + al / A
    cw = -2.0 * np.cos(w0)
    a1 = np.broadcast_to(cw, A.shape) / a0
    return np.stack([(1.0 + al * A) / a0, a1, (1.0 - al * A) / a0, a1, (1.0 - al / A) / a0], axis=1)


def _loudness_trim(out: np.ndarray, voicing: np.ndarray, ctl: _Controls, sr: float) -> np.ndarray:
    """Per-sample gain (N,) that brings each note's steady, voiced part to its target RMS (dBFS).

    Harmonics falling on or between narrow formants make the raw level jump by several dB from note
    to note; this evens it out the way a singer's ear does. Rests keep 0 dB (breaths stay absolute).
    """
    nf = ctl.f0_hz.shape[0]
    trim_db = np.zeros(nf)
    for (p0, p1) in ctl.phrases:
        spans = [sp for sp in ctl.notes if p0 - 1e-9 <= sp[0] < p1]
        for k, (s0, vs, s1, target_db) in enumerate(spans):
            a, b = int((vs + 0.03) * sr), int((s1 - 0.03) * sr)
            seg = out[a:b][voicing[a:b] > 0.8] if b > a else out[0:0]
            if seg.size < 0.05 * sr:
                seg = out[int(vs * sr):int(s1 * sr)]
            rms_db = 10.0 * np.log10(float(np.mean(seg * seg)) + 1e-20) if seg.size else target_db
            end = p1 if k == len(spans) - 1 else s1
            trim_db[int(round(s0 * _CR)):int(round(end * _CR))] = np.clip(target_db - rms_db, -20.0, 20.0)
    trim_db = _smooth(trim_db, 0.06)
    return np.interp(np.arange(out.shape[0]) / (sr / _CR), np.arange(nf), 10.0 ** (trim_db / 20.0))


def _bandpass_noise(rng, n: int, lo_hz: float, hi_hz: float, sr: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    hi = min(hi_hz, 0.45 * sr)
    lo = min(lo_hz, 0.6 * hi)
    sos = butter(2, [lo / (sr / 2), hi / (sr / 2)], btype="band", output="sos")
    return sosfilt(sos, rng.standard_normal(n))


def sing(
    notes: Sequence[Note | Rest],
    sample_rate: int = 48000,
    *,
    seed: int = 0,
    voice: str = "baritone",
    vibrato: float = 1.0,
    humanize: float = 1.0,
    breathiness: float = 1.0,
    peak_dbfs: float | None = -1.0,
    lead_s: float = 0.1,
    tail_s: float = 0.4,
) -> np.ndarray:
    """Sing a melody: a list of :class:`Note` and :class:`Rest` -> a dry mono vocal.

    Notes that follow each other without a :class:`Rest` form a legato phrase (portamento between
    pitches, formants gliding between vowels); a rest ends the phrase, with an inhalation in it.
    Note ``k`` starts at ``lead_s + sum(durations before k)`` seconds.

    Args:
        notes: the score.
        sample_rate: output rate in Hz (8000 or more).
        seed: seeds jitter, shimmer, drift, vibrato rate and all noises; the same seed gives the same
            samples.
        voice: ``"bass"``, ``"baritone"`` or ``"tenor"`` (which formant table).
        vibrato: scale of the vibrato depth (0: none).
        humanize: scale of jitter, shimmer, pitch drift, scoops and level wobble (0: exact machine).
        breathiness: scale of aspiration and breath noise (0: none; consonant noise stays).
        peak_dbfs: normalise the peak to this level; ``None`` keeps the calibrated absolute level:
            a sustained "a" at A3 sits near -30.5 dBFS RMS at effort 0 and -11 dBFS at effort 1, plus
            3 dB per octave of pitch, a little less for closed vowels.
        lead_s, tail_s: silence before the first note and after the last, in seconds.

    Returns:
        ``(1, N)`` float32, ``N = round((lead_s + sum(durations) + tail_s) * sample_rate)``.
    """
    from scipy.signal import resample_poly

    sample_rate = check_sample_rate(sample_rate)
    for name, val in (("vibrato", vibrato), ("humanize", humanize), ("breathiness", breathiness)):
        if not (np.isfinite(val) and 0.0 <= val <= 4.0):
            raise ConfigError(f"{name}: expected 0..4, got {val!r}")
    items = _validate(notes, voice)
    sr = float(sample_rate)
    rng = np.random.default_rng(seed)
    ctl = _controls(items, voice, rng, lead_s, tail_s, vibrato, humanize, breathiness)
    glottal_flow, tract = _kernels()

    n = int(round((lead_s + sum(it.duration_s for it in items) + tail_s) * sr))
    hop = sr / _CR
    os_ = int(math.ceil(_INTERNAL_MIN_HZ / sr))
    # --- source: LF flow at os_ * sr, decimated with a long Kaiser low-pass (~80 dB stopband)
    max_periods = int(n / sr * 1600) + 16
    jit = 0.005 * humanize * rng.standard_normal(max_periods)  # ~0.5 % period jitter, a healthy voice
    shim = 0.03 * humanize * rng.standard_normal(max_periods)  # ~0.25 dB shimmer
    shim = np.clip(shim, -0.5, 0.5)
    flow_os = np.zeros(n * os_)
    gmod = np.zeros(n)
    table = _lf_table()
    rd_step = (_RD_MAX - _RD_MIN) / (_RD_N - 1)
    glottal_flow(
        n * os_, sr * os_, hop * os_, os_, ctl.f0_hz, ctl.amp, ctl.rd, table, _RD_MIN, rd_step, jit, shim, flow_os, gmod
    )
    flow = resample_poly(flow_os, 1, os_, window=("kaiser", 8.0)) if os_ > 1 else flow_os
    del flow_os

    # --- aspiration: noise in the flow, gated by the glottal opening while voiced (open during h/breaths)
    frames = np.arange(n) / hop
    fidx = np.arange(ctl.f0_hz.shape[0])
    voicing = np.interp(frames, fidx, ctl.voicing)
    asp_amp = np.interp(frames, fidx, ctl.asp)
    from scipy.signal import butter, sosfilt

    noise = rng.standard_normal(n)
    # a -6 dB/octave tilt above 1.5 kHz in the flow domain becomes ~flat after lip radiation
    sos = np.concatenate(
        [butter(1, 1500.0 / (sr / 2), output="sos"), butter(2, 300.0 / (sr / 2), "high", output="sos")]
    )
    noise = sosfilt(sos, noise)
    gate = (1.0 - voicing) + voicing * (0.25 + 0.75 * gmod)
    breath = noise * asp_amp * gate * 0.02  # 0.02: filtered-noise RMS re flow, set by ear against HNR
    excitation = flow + breath

    # --- vocal tract: F1..F5 (those below 0.46 fs) in cascade, then the singer's formant peak
    keep = [k for k in range(5) if ctl.formant_hz[k].max() < 0.46 * sr]
    a1c, a2c, b0c = _resonator_coeffs(ctl.formant_hz[keep].T, ctl.bandwidth_hz[keep].T, sr)
    sf_gain_db = 2.0 + 7.0 * np.clip(ctl.effort, 0.0, 1.0) ** 1.3
    eqc = _peaking_coeffs(min(_SINGER_FORMANT_HZ, 0.4 * sr), sf_gain_db, 1.6, sr)
    voiced = np.empty(n)
    contig = np.ascontiguousarray
    tract(excitation, hop, contig(a1c), contig(a2c), contig(b0c), contig(eqc), voiced)

    # --- lip radiation: first difference, scaled to unity gain at 1 kHz whatever the sample rate
    rad = sr / (2.0 * np.pi * 1000.0)
    out = np.diff(voiced, prepend=0.0) * rad

    # --- the region above F5 through a parallel branch (Klatt's cascade/parallel split): a truncated
    # all-pole cascade falls ~10 dB/kHz above its last pole, while real voices keep a plateau of
    # higher formants at 4-9 kHz about 30 dB under the strongest partials
    hf_gain = np.interp(frames, fidx, 0.3 + 0.7 * ctl.effort)  # a soft voice is dark up there too
    # (aspiration reaches it only in part: real breath noise is shaped by F3-F5 and fades above them)
    exc_rad = np.diff(flow + 0.3 * breath, prepend=0.0) * rad
    hf = np.zeros(n)
    for fc, bw, g in _HF_BRANCH:
        if fc + bw / 2 < 0.45 * sr:
            sos = butter(1, [(fc - bw / 2) / (sr / 2), (fc + bw / 2) / (sr / 2)], "band", output="sos")
            hf += g * sosfilt(sos, exc_rad)
    out += hf_gain * hf

    # --- the singer listens: trim every note to its loudness target. A smooth gain on the output equals
    # scaling the source, since the tract is linear and rings for only a few milliseconds.
    out *= _loudness_trim(out, voicing, ctl, sr)

    # --- fricatives and stop bursts, after the tract, set relative to the vowel that follows them
    # (an "s" sits ~12 dB under its vowel, a stop burst ~6 dB)
    for start_s, dur_s, kind, vowel_s in ctl.bursts:
        a = int(round(start_s * sr))
        m = min(int(round(dur_s * sr)), n - max(a, 0))
        if a < 0 or m < 8:
            continue
        va = int(round((vowel_s + 0.06) * sr))
        ref = out[va:va + int(0.15 * sr)]
        ref_rms = float(np.sqrt(np.mean(ref * ref))) if ref.size else 0.0
        band, rel_db = {"s": ((4000.0, 9000.0), -12.0), "sh": ((1800.0, 6000.0), -10.0),
                        "t": ((2500.0, 8000.0), -6.0), "k": ((1200.0, 3500.0), -6.0)}[kind]
        x = _bandpass_noise(rng, m, band[0], band[1], sr)
        u = np.linspace(0.0, 1.0, m)
        env = np.sin(np.pi * u) ** 2 if kind in ("s", "sh") else np.minimum(u * 8.0, 1.0) * np.exp(-u * 4.0)
        x *= env
        x *= ref_rms * 10.0 ** (rel_db / 20.0) / (float(np.sqrt(np.mean(x * x))) + 1e-12)
        out[a:a + m] += x

    # edges: 5 ms fades so the file starts and ends at zero
    k = min(int(0.005 * sr), n // 2)
    out[:k] *= np.linspace(0.0, 1.0, k)
    out[n - k:] *= np.linspace(1.0, 0.0, k)
    if peak_dbfs is not None:
        pk = float(np.max(np.abs(out)))
        if pk > 0:
            out *= 10.0 ** (peak_dbfs / 20.0) / pk
    return out[None, :].astype(np.float32)


# ---------------------------------------------------------------------------------------------------
# The demo performance.
# ---------------------------------------------------------------------------------------------------
def crescendo_score() -> list[Note | Rest]:
    """The demo melody: five phrases in D major for a baritone (D3..A4), from a hushed start to a
    shouted top A, each phrase separated by a breath. An original tune written for roomgate."""
    N = Note
    return [
        # 1: hushed, near speech level in the low register
        N("D3", 0.70, "u", 0.04, 0.06, onset="h"), N("E3", 0.35, "u", 0.06),
        N("F#3", 0.90, "o", 0.07, onset="w"), N("E3", 0.45, "o", 0.07),
        N("D3", 1.60, "a", 0.08, 0.04, onset="l"),
        Rest(0.90, breath=0.35),
        # 2: still soft, a little higher
        N("F#3", 0.60, "e", 0.24, onset="y"), N("A3", 0.50, "e", 0.26),
        N("G3", 0.50, "a", 0.27, onset="m"), N("F#3", 0.50, "a", 0.27),
        N("E3", 0.40, "o", 0.26, onset="n"), N("F#3", 1.50, "o", 0.28, 0.24),
        Rest(0.80, breath=0.45),
        # 3: full voice: the middle microphone should open here
        N("A3", 0.50, "a", 0.52, onset="h"), N("B3", 0.45, "a", 0.54),
        N("A3", 0.90, "ai", 0.56, onset="w"), N("F#3", 0.45, "e", 0.55, onset="s"),
        N("A3", 0.50, "e", 0.57), N("B3", 1.40, "o", 0.60, 0.56, onset="l"),
        Rest(0.70, breath=0.6),
        # 4: loud, the top of the chest voice
        N("D4", 0.70, "o", 0.78), N("C#4", 0.40, "o", 0.79),
        N("B3", 0.50, "a", 0.78, onset="t"), N("A3", 0.40, "a", 0.78),
        N("B3", 0.50, "e", 0.80, onset="y"), N("D4", 1.60, "e", 0.82, 0.86),
        Rest(0.80, breath=0.9),
        # 5: the shout: every microphone open
        N("F#4", 0.60, "a", 0.95, onset="h"), N("E4", 0.40, "a", 0.96),
        N("D4", 0.50, "o", 0.97, onset="w"), N("E4", 0.50, "a", 0.98, onset="y"),
        N("A4", 2.60, "a", 1.00, 1.00),
    ]


def sung_crescendo(sample_rate: int = 48000, *, seed: int = 0) -> np.ndarray:
    """The demo's dry vocal: a baritone singing five phrases from hushed to shouted.

    24.6 s; the phrase RMS levels climb ~23 dB, from about -34 dBFS (hushed, low register) through
    -29, -22 and -17 to about -11 dBFS (the shouted top A; a sung vowel's ~9 dB crest factor keeps
    its RMS there once the peak is normalised to -1 dBFS). The rests between phrases hold only a
    breath, 55-70 dBFS down.

    Returns:
        ``(1, N)`` float32 at ``sample_rate`` Hz.
    """
    return sing(crescendo_score(), sample_rate, seed=seed, peak_dbfs=-1.0)
