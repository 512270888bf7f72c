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

The code reads top-down from :func:`sing`: it checks its inputs; :func:`_controls` turns the score into
control curves at 1 kHz (held targets, then each phrase and each note, then pitch, formants and source
curves); two numba kernels, compiled on first use, render the LF flow and the tract; the other stages
are numpy. Everything random comes from one generator seeded by ``seed`` and drawn in a fixed order, so
a seed always gives the same samples, to the bit.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

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
_FormantRow = tuple[tuple[float, ...], tuple[float, ...]]  # ((F1..F5 Hz), (B1..B5 Hz))

_CHANT: dict[str, dict[str, _FormantRow]] = {
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


def _halfway(low: _FormantRow, high: _FormantRow) -> _FormantRow:
    """The mean of two rows, formant by formant and bandwidth by bandwidth."""
    return (
        tuple(0.5 * (a + b) for a, b in zip(low[0], high[0])),
        tuple(0.5 * (a + b) for a, b in zip(low[1], high[1])),
    )


_CHANT["baritone"] = {vowel: _halfway(_CHANT["bass"][vowel], _CHANT["tenor"][vowel]) for vowel in "aeiou"}

#: ``FORMANT_TABLE[voice][vowel] == ((F1..F5 Hz), (B1..B5 Hz))`` for voice in bass, baritone, tenor.
FORMANT_TABLE: dict[str, dict[str, _FormantRow]] = _CHANT

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


class _Onset(NamedTuple):
    """An onset consonant: how long it lasts, how voiced it is, and its voiced level re the vowel."""

    duration_s: float
    voicing: float  # 0: unvoiced (noise), 1: voiced
    level_db: float


_CONSONANTS = {
    "": _Onset(0.0, 1.0, 0.0),
    "h": _Onset(0.09, 0.0, 0.0),
    "s": _Onset(0.11, 0.0, 0.0),
    "sh": _Onset(0.12, 0.0, 0.0),
    "t": _Onset(0.09, 0.0, 0.0),
    "k": _Onset(0.10, 0.0, 0.0),
    "m": _Onset(0.09, 1.0, -14.0),
    "n": _Onset(0.08, 1.0, -14.0),
    "l": _Onset(0.07, 1.0, -6.0),
    "w": _Onset(0.08, 1.0, -5.0),
    "y": _Onset(0.08, 1.0, -4.0),
}

_NOTE_NAME = re.compile(r"^\s*([A-Ga-g])([#b]?)(-?\d)\s*$")
_SEMITONES_ABOVE_C = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_to_hz(midi: float) -> float:
    """MIDI note number (69 = A4) -> frequency in Hz, equal temperament at A4 = 440 Hz."""
    return 440.0 * 2.0 ** ((float(midi) - 69.0) / 12.0)


def note_to_hz(name: str) -> float:
    """Scientific pitch name (``"A3"``, ``"F#2"``, ``"Bb4"``) -> frequency in Hz (A4 = 440 Hz)."""
    match = _NOTE_NAME.match(name)
    if not match:
        raise ConfigError(f"note name: expected like 'A3', 'F#2' or 'Bb4', got {name!r}")
    letter, accidental, octave = match.groups()
    semitones = _SEMITONES_ABOVE_C[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]
    return midi_to_hz(12 * (int(octave) + 1) + semitones)


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

    pitch: float | str
    duration_s: float
    vowel: str = "a"
    effort: float = 0.5
    effort_end: float | None = None
    onset: str = ""

    @classmethod
    def midi(cls, midi: float, duration_s: float, **fields: Any) -> Note:
        """A note from a MIDI number (69 = A4 = 440 Hz); ``fields`` as for :class:`Note`."""
        return cls(midi_to_hz(midi), duration_s, **fields)

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
_RD_MIN, _RD_MAX, _RD_COUNT = 0.3, 2.7, 97  # the table's Rd grid
_RD_STEP = (_RD_MAX - _RD_MIN) / (_RD_COUNT - 1)


@functools.cache
def _lf_table() -> np.ndarray:
    """LF parameters over an Rd grid: ``(_RD_COUNT, 8)`` float64 rows of
    ``te, tp, ta, eps, alpha, E0, U(te), U(tp)`` in normalised time (period 1, negative peak Ee = 1).

    The names are the papers' symbols: ``te`` the instant of the main excitation, ``tp`` of peak flow,
    ``ta`` the return-phase time constant, ``eps`` its decay rate, ``alpha`` and ``wg`` the open phase's
    growth and angular frequency, ``U`` the flow (the integral of the LF flow derivative).
    """
    from scipy.optimize import brentq

    rows = []
    for rd in np.linspace(_RD_MIN, _RD_MAX, _RD_COUNT):
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


def _level_db_of_effort(effort: np.ndarray | float) -> np.ndarray:
    """Vocal effort 0..1 -> target RMS in dBFS of a sustained 'a' at A3 (220 Hz)."""
    return np.interp(np.clip(effort, 0.0, 1.0), _EFFORT_KNOTS, _LEVEL_DB_KNOTS)


def _note_target_db(note: Note) -> float:
    """The RMS in dBFS a note aims at: from its mean effort, its pitch and its vowel(s)."""
    effort = 0.5 * (note.effort + _final_effort(note))
    vowel_db = float(np.mean([_VOWEL_DB[v] for v in note.vowel]))
    return float(_level_db_of_effort(effort)) + _PITCH_DB_PER_OCTAVE * math.log2(note.pitch_hz / 220.0) + vowel_db


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
    """``a`` to ``b`` at weight ``w`` (0..1), as ``a + w * (b - a)``: the samples depend on this rounding."""
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
        _return_phase(
            flow, opening, oversampling, t0, dt, closing, stop, scale, inv_peak, u_end, te, eps, k_ret, ec, u_te
        )


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
_CONTROL_RATE_HZ = 1000.0  # control frames per second
_BREATH_AMP = 0.4  # aspiration amplitude of a full inhalation (breath=1): about -45 dBFS RMS
# the tract at rest between phrases: a neutral vowel (F1..F5, B1..B5 in Hz)
_SCHWA_FORMANTS_HZ = np.array([500.0, 1500.0, 2500.0, 3500.0, 4200.0])
_SCHWA_BANDWIDTHS_HZ = np.array([150.0, 200.0, 250.0, 300.0, 300.0])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, the cubic ``3x^2 - 2x^3`` in between (flat at both ends)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _smooth(x: np.ndarray, width_s: float) -> np.ndarray:
    """Hann-window moving average along the last axis (a step becomes an S-curve of ``width_s``)."""
    width = max(int(round(width_s * _CONTROL_RATE_HZ)), 1) | 1
    if width < 3:
        return x
    window = np.hanning(width + 2)[1:-1]
    window /= window.sum()
    pad = width // 2
    padded = np.concatenate([np.repeat(x[..., :1], pad, -1), x, np.repeat(x[..., -1:], pad, -1)], axis=-1)
    if x.ndim == 1:
        return np.convolve(padded, window, mode="valid")
    return np.stack([np.convolve(row, window, mode="valid") for row in padded])


def _lowpass_noise(rng: np.random.Generator, n_frames: int, cutoff_hz: float) -> np.ndarray:
    """Unit-RMS Gaussian noise at the control rate, ``(n_frames,)``, low-passed (2nd-order Butterworth,
    zero phase); 1 s of extra noise either side keeps the filter's edge transients out."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, cutoff_hz / (_CONTROL_RATE_HZ / 2), output="sos")
    x = sosfiltfilt(sos, rng.standard_normal(n_frames + 2000))[1000:-1000]
    return x / (np.std(x) + 1e-12)


@dataclass(frozen=True)
class _Style:
    """How the score is sung, each a scale 0..4 (1: as designed): ``vibrato`` depth; ``humanize``:
    jitter, shimmer, drift, scoops and level wobble; ``breathiness``: aspiration and breath noise."""

    vibrato: float
    humanize: float
    breathiness: float

    @classmethod
    def checked(cls, vibrato: float, humanize: float, breathiness: float) -> _Style:
        """The style, or a :class:`ConfigError` naming the first scale outside 0..4."""
        for name, value in (("vibrato", vibrato), ("humanize", humanize), ("breathiness", breathiness)):
            if not (np.isfinite(value) and 0.0 <= value <= 4.0):
                raise ConfigError(f"{name}: expected 0..4, got {value!r}")
        return cls(vibrato, humanize, breathiness)


class _NoteTimes(NamedTuple):
    """Where a note sits, in seconds: its start (the onset consonant's), its vowel's start, its end."""

    start_s: float
    vowel_start_s: float
    end_s: float


class _NoteSpan(NamedTuple):
    """A sung note's times (s) and the loudness its singer aims at: RMS dBFS of its steady part."""

    start_s: float
    vowel_start_s: float
    end_s: float
    target_db: float


class _Burst(NamedTuple):
    """A fricative or stop burst (``kind`` "s", "sh", "t", "k"), band-passed noise added after the
    tract at a level relative to the vowel that starts at ``vowel_start_s``."""

    start_s: float
    duration_s: float
    kind: str
    vowel_start_s: float


@dataclass(frozen=True)
class _Timeline:
    """Where the score's items sit in time, and the grid of control frames that covers them."""

    starts_s: np.ndarray  # (items + 1,) start of each item, then the end of the last, in s
    times_s: np.ndarray  # (F,) time of each control frame, in s

    @classmethod
    def of(cls, items: list[Note | Rest], lead_s: float, tail_s: float) -> _Timeline:
        """Items one after the other from ``lead_s``, frames until ``tail_s`` after the last (+ 2)."""
        starts_s = lead_s + np.concatenate([[0.0], np.cumsum([it.duration_s for it in items])])
        n_frames = int(math.ceil((starts_s[-1] + tail_s) * _CONTROL_RATE_HZ)) + 2
        return cls(starts_s, np.arange(n_frames) / _CONTROL_RATE_HZ)

    @property
    def n_frames(self) -> int:
        return self.times_s.shape[0]

    def frame(self, time_s: float) -> int:
        """The control frame at ``time_s``, clipped to ``0..F`` (a slice bound)."""
        return int(np.clip(round(time_s * _CONTROL_RATE_HZ), 0, self.n_frames))

    def note_times(self, i: int, note: Note) -> _NoteTimes:
        """The times of ``note``, item ``i`` of the score."""
        start_s = self.starts_s[i]
        return _NoteTimes(start_s, start_s + _onset_duration_s(note), self.starts_s[i + 1])


@dataclass
class _RawCurves:
    """The control curves as the score writes them, note by note, before smoothing: ``(F,)`` arrays
    (``(K, F)`` for formants) at the control rate, and the events and spans met on the way."""

    log2_f0: np.ndarray  # log2 of the target pitch in Hz, stepwise
    effort: np.ndarray  # 0..1
    vowel_formant_hz: np.ndarray  # (5, F)
    vowel_bandwidth_hz: np.ndarray  # (5, F)
    consonant_mask: np.ndarray  # 1 where a consonant articulation overrides F1..F3
    consonant_formant_hz: np.ndarray  # (3, F)
    consonant_bandwidth_hz: np.ndarray  # (3, F)
    voicing: np.ndarray  # 0..1
    consonant_gain_db: np.ndarray  # the level dip of voiced consonants
    onset_aspiration: np.ndarray  # "h" and stop aspiration, relative to the local voice amplitude
    breath: np.ndarray  # inhalations in the rests, absolute (1: a full breath)
    bend_cents: np.ndarray  # scoops into notes, falls off phrases
    shape_db: np.ndarray  # note-level dynamics: a lift into each note, a swell through long ones
    vibrato_depth_cents: np.ndarray
    bursts: list[_Burst]
    notes: list[_NoteSpan]
    phrases: list[tuple[float, float]]  # (start_s, end_s) per phrase, release included

    @classmethod
    def zeros(cls, n_frames: int) -> _RawCurves:
        def flat() -> np.ndarray:
            return np.zeros(n_frames)

        return cls(
            log2_f0=flat(), effort=flat(),
            vowel_formant_hz=np.zeros((5, n_frames)), vowel_bandwidth_hz=np.zeros((5, n_frames)),
            consonant_mask=flat(),
            consonant_formant_hz=np.zeros((3, n_frames)), consonant_bandwidth_hz=np.zeros((3, n_frames)),
            voicing=flat(), consonant_gain_db=flat(), onset_aspiration=flat(), breath=flat(),
            bend_cents=flat(), shape_db=flat(), vibrato_depth_cents=flat(),
            bursts=[], notes=[], phrases=[],
        )


@dataclass
class _Controls:
    """The performance as control curves, ``F`` frames at :data:`_CONTROL_RATE_HZ`."""

    f0_hz: np.ndarray  # (F,) fundamental
    amplitude: np.ndarray  # (F,) glottal excitation amplitude (Ee, linear)
    voicing: np.ndarray  # (F,) 0..1 voicing shape (gates the aspiration)
    rd: np.ndarray  # (F,) LF shape parameter
    effort: np.ndarray  # (F,) smoothed effort 0..1
    aspiration: np.ndarray  # (F,) aspiration noise amplitude (linear)
    formant_hz: np.ndarray  # (5, F)
    bandwidth_hz: np.ndarray  # (5, F)
    bursts: list[_Burst]  # fricatives and stop bursts, added after the tract
    notes: list[_NoteSpan]  # the loudness each note aims at
    phrases: list[tuple[float, float]]  # (start_s, end_s) per phrase, release included


def _controls(
    items: list[Note | Rest], voice: str, rng: np.random.Generator, lead_s: float, tail_s: float, style: _Style
) -> _Controls:
    """The score as control curves: targets held note by note, each phrase performed, then smoothed.

    ``rng`` draws, in this order: for each note (phrase by phrase) its loudness aim, swell, scoop and
    vibrato; then the vibrato rate and phase, the pitch drift and the level wobble.
    """
    timeline = _Timeline.of(items, lead_s, tail_s)
    raw = _RawCurves.zeros(timeline.n_frames)
    _hold_targets(raw, items, FORMANT_TABLE[voice], timeline)
    _draw_breaths(raw, items, timeline, style.breathiness)
    for phrase in _phrases(items, timeline):
        _perform_phrase(raw, phrase, timeline, rng, style.humanize)
    effort = _smooth(raw.effort, 0.15)
    voicing = _smooth(raw.voicing, 0.02)
    log2_f0 = _smooth(raw.log2_f0, 0.09)  # portamento
    f0_hz = _f0_curve(raw, timeline, log2_f0, effort, rng, style)
    formant_hz, bandwidth_hz = _sung_formants(raw, effort, log2_f0)
    amplitude, aspiration = _source_curves(raw, effort, voicing, rng, style)
    rd = _rd_of_effort(effort)
    return _Controls(
        f0_hz, amplitude, voicing, rd, effort, aspiration, formant_hz, bandwidth_hz, raw.bursts, raw.notes, raw.phrases
    )


# --- the score, note by note: stepwise targets, breaths, phrases -------------------------------------
def _final_effort(note: Note) -> float:
    """The effort a note ends on."""
    return note.effort if note.effort_end is None else note.effort_end


def _onset_duration_s(note: Note) -> float:
    """How long the note's onset consonant lasts: its own duration, at most 40 % of the note."""
    return min(_CONSONANTS[note.onset].duration_s, 0.4 * note.duration_s)


def _next_note(items: list[Note | Rest], i: int) -> Note | None:
    """The first note after item ``i``, if any."""
    return next((it for it in items[i + 1:] if isinstance(it, Note)), None)


def _phrases(items: list[Note | Rest], timeline: _Timeline) -> list[list[tuple[Note, _NoteTimes]]]:
    """The notes of each phrase (a maximal run of notes), with their times."""
    phrases: list[list[tuple[Note, _NoteTimes]]] = []
    for i, item in enumerate(items):
        if isinstance(item, Note):
            if not (i > 0 and isinstance(items[i - 1], Note)):
                phrases.append([])
            phrases[-1].append((item, timeline.note_times(i, item)))
    return phrases


def _hold_targets(
    raw: _RawCurves, items: list[Note | Rest], vowels: dict[str, _FormantRow], timeline: _Timeline
) -> None:
    """Stepwise pitch, effort and vowel formants: each note's own; through a rest, the last note's and
    then the next one's, so the smoothing never swings through a rest; before the first note and after
    the last, theirs."""
    first_index, first_note = next((i, it) for i, it in enumerate(items) if isinstance(it, Note))
    for i, item in enumerate(items):
        a, b = timeline.frame(timeline.starts_s[i]), timeline.frame(timeline.starts_s[i + 1])
        if isinstance(item, Note):
            _hold_note(raw, item, a, b, timeline.frame(timeline.note_times(i, item).vowel_start_s), vowels)
        else:
            before = next((it for it in reversed(items[:i]) if isinstance(it, Note)), first_note)
            _hold_rest(raw, before, _next_note(items, i) or before, a, b)
    first = timeline.frame(timeline.starts_s[first_index])
    end = timeline.frame(timeline.starts_s[-1])
    for curve in (raw.log2_f0, raw.effort, raw.vowel_formant_hz, raw.vowel_bandwidth_hz):
        curve[..., :first] = curve[..., first:first + 1]
        curve[..., end:] = curve[..., end - 1:end]


def _hold_note(raw: _RawCurves, note: Note, a: int, b: int, vowel_frame: int, vowels: dict[str, _FormantRow]) -> None:
    """A note's pitch, effort ramp and vowel over frames ``a..b-1``; a diphthong holds its first vowel,
    then glides to the second (in log frequency) from 45 % of the way past ``vowel_frame``."""
    raw.log2_f0[a:b] = math.log2(note.pitch_hz)
    raw.effort[a:b] = np.linspace(note.effort, _final_effort(note), b - a)
    first = vowels[note.vowel[0]]
    if len(note.vowel) == 1:
        raw.vowel_formant_hz[:, a:b] = np.array(first[0])[:, None]
        raw.vowel_bandwidth_hz[:, a:b] = np.array(first[1])[:, None]
        return
    second = vowels[note.vowel[1]]
    va = vowel_frame
    g = _smoothstep((np.arange(a, b) - va - 0.45 * (b - va)) / (0.35 * (b - va) + 1))
    raw.vowel_formant_hz[:, a:b] = np.exp(np.log(first[0])[:, None] * (1 - g) + np.log(second[0])[:, None] * g)
    raw.vowel_bandwidth_hz[:, a:b] = np.array(first[1])[:, None] * (1 - g) + np.array(second[1])[:, None] * g


def _hold_rest(raw: _RawCurves, before: Note, after: Note, a: int, b: int) -> None:
    """A rest over frames ``a..b-1``: the pitch and final effort of the note ``before`` it, then from
    mid-rest those of the note ``after`` it, on a neutral vowel."""
    m = (a + b) // 2
    raw.log2_f0[a:m], raw.log2_f0[m:b] = math.log2(before.pitch_hz), math.log2(after.pitch_hz)
    raw.effort[a:m] = _final_effort(before)
    raw.effort[m:b] = after.effort
    raw.vowel_formant_hz[:, a:b] = _SCHWA_FORMANTS_HZ[:, None]
    raw.vowel_bandwidth_hz[:, a:b] = _SCHWA_BANDWIDTHS_HZ[:, None]


def _draw_breaths(raw: _RawCurves, items: list[Note | Rest], timeline: _Timeline, breathiness: float) -> None:
    """An inhalation in each rest, ending 60 ms before the next phrase; deeper before a loud phrase."""
    for i, item in enumerate(items):
        if isinstance(item, Rest) and item.breath > 0 and breathiness > 0:
            upcoming = _next_note(items, i)
            depth = 0.6 + 0.4 * (upcoming.effort if upcoming is not None else 0.3)
            duration_s = min(0.55, 0.7 * item.duration_s)
            end_s = timeline.starts_s[i + 1] - 0.06
            a, b = timeline.frame(end_s - duration_s), timeline.frame(end_s)
            x = np.linspace(0.0, 1.0, b - a)
            raw.breath[a:b] = breathiness * item.breath * depth * np.sin(np.pi * x) ** 2 * (0.6 + 0.4 * x)


def _perform_phrase(
    raw: _RawCurves, phrase: list[tuple[Note, _NoteTimes]], timeline: _Timeline, rng: np.random.Generator,
    humanize: float,
) -> None:
    """A phrase's voicing envelope and the pitch fall at its release, then each of its notes."""
    p0, p1 = phrase[0][1].start_s, phrase[-1][1].end_s
    attack = 0.12 - 0.08 * phrase[0][0].effort  # soft singers ease in, a shout hits
    release = 0.28 - 0.16 * _final_effort(phrase[-1][0])
    a, b = timeline.frame(p0), timeline.frame(p1 + 0.5 * release)
    raw.phrases.append((p0, p1 + 0.5 * release))
    x = timeline.times_s[a:b]
    env = _smoothstep((x - p0) / attack) * (1.0 - _smoothstep((x - (p1 - 0.5 * release)) / release))
    raw.voicing[a:b] = np.maximum(raw.voicing[a:b], env)
    # pitch falls away at the release, as singers let go of a phrase
    raw.bend_cents[a:b] -= 60.0 * humanize * _smoothstep((x - (p1 - 0.5 * release)) / release) ** 2
    for k, (note, times) in enumerate(phrase):
        _perform_note(raw, note, times, timeline, rng, humanize, phrase_start=k == 0)


# --- one note: dynamics, onset consonant, scoop, vibrato ----------------------------------------------
def _perform_note(
    raw: _RawCurves, note: Note, times: _NoteTimes, timeline: _Timeline, rng: np.random.Generator,
    humanize: float, phrase_start: bool,
) -> None:
    """A note's loudness aim and shape, its onset consonant, a scoop where the voice (re)starts, and its
    vibrato; ``rng`` draws in that order."""
    _note_dynamics(raw, note, times, timeline, rng, humanize)
    onset = _CONSONANTS[note.onset]
    onset_s = _onset_duration_s(note)
    if onset_s > 0:
        if onset.voicing == 0.0:
            _unvoiced_onset(raw, note.onset, onset_s, times, timeline)
        else:
            _voiced_onset(raw, note.onset, onset.level_db, times, timeline)
    # scoop up into the note when the voice (re)starts: phrase onsets and after unvoiced consonants
    if phrase_start or onset.voicing == 0.0:
        _scoop(raw, note, times, timeline, rng, humanize)
    _vibrato_depth(raw, note, times, timeline, rng)


def _note_dynamics(
    raw: _RawCurves, note: Note, times: _NoteTimes, timeline: _Timeline, rng: np.random.Generator, humanize: float
) -> None:
    """The note's loudness aim (a little unsteady); its level eases in after a note change and swells
    through a held note (~ +2 dB mid-note)."""
    s0, vs, s1 = times
    a, b = timeline.frame(s0), timeline.frame(s1)
    raw.notes.append(_NoteSpan(s0, vs, s1, _note_target_db(note) + 0.8 * humanize * rng.standard_normal()))
    xn = np.clip((timeline.times_s[a:b] - vs) / max(s1 - vs, 1e-3), 0.0, 1.0)
    swell = min(1.0, (s1 - vs) / 1.2) * (2.0 + rng.random()) * humanize
    swell *= 1.0 - 0.7 * note.effort  # no headroom left at a shout
    ease = -2.0 * humanize * (1.0 - _smoothstep((timeline.times_s[a:b] - vs) / 0.1))
    raw.shape_db[a:b] = ease + swell * np.sin(np.pi * xn) ** 1.5


def _unvoiced_onset(raw: _RawCurves, onset: str, onset_s: float, times: _NoteTimes, timeline: _Timeline) -> None:
    """An unvoiced consonant lasting ``onset_s``: voicing stops (20 ms ramps) and restarts with a soft
    attack; "h" is aspiration, a stop ("t", "k") a burst then aspiration, "s"/"sh" a fricative."""
    s0, vs, _ = times
    ca, cb = timeline.frame(s0), timeline.frame(vs)
    da, db = timeline.frame(s0 - 0.03), timeline.frame(vs + 0.06)
    xx = timeline.times_s[da:db]
    dip = _smoothstep((xx - (s0 - 0.02)) / 0.025) * (1.0 - _smoothstep((xx - (vs - 0.005)) / 0.05))
    raw.voicing[da:db] *= 1.0 - dip
    if onset == "h":
        puff = np.sin(np.pi * np.linspace(0.15, 1.0, cb - ca)) ** 0.7
        raw.onset_aspiration[ca:cb] = np.maximum(raw.onset_aspiration[ca:cb], puff)
    elif onset in ("t", "k"):
        closure_s = 0.45 * onset_s
        raw.bursts.append(_Burst(s0 + closure_s, 0.012, onset, vs))
        ta = min(timeline.frame(s0 + closure_s + 0.01), cb)  # a very short note: no room for aspiration
        raw.onset_aspiration[ta:cb] = np.maximum(raw.onset_aspiration[ta:cb], np.linspace(0.8, 0.2, cb - ta))
    else:
        raw.bursts.append(_Burst(s0 - 0.01, onset_s + 0.02, onset, vs))


def _voiced_onset(raw: _RawCurves, onset: str, level_db: float, times: _NoteTimes, timeline: _Timeline) -> None:
    """A voiced consonant: a level dip of ``level_db`` and, for nasals and glides, its own F1..F3."""
    ca, cb = timeline.frame(times.start_s), timeline.frame(times.vowel_start_s)
    raw.consonant_gain_db[ca:cb] = np.minimum(raw.consonant_gain_db[ca:cb], level_db)
    if onset in _CONSONANT_FORMANTS:
        formant_hz, bandwidth_hz = _CONSONANT_FORMANTS[onset]
        raw.consonant_mask[ca:cb] = 1.0
        raw.consonant_formant_hz[:, ca:cb] = np.array(formant_hz)[:, None]
        raw.consonant_bandwidth_hz[:, ca:cb] = np.array(bandwidth_hz)[:, None]


def _scoop(
    raw: _RawCurves, note: Note, times: _NoteTimes, timeline: _Timeline, rng: np.random.Generator, humanize: float
) -> None:
    """A scoop up into the pitch over the first ~140 ms of the vowel, deeper when loud."""
    depth = -(25.0 + 35.0 * rng.random()) * humanize * (0.6 + 0.6 * note.effort)
    _, vs, s1 = times
    a, b = timeline.frame(vs), timeline.frame(s1)
    raw.bend_cents[a:b] += depth * (1.0 - _smoothstep((timeline.times_s[a:b] - vs) / 0.14))


def _vibrato_depth(
    raw: _RawCurves, note: Note, times: _NoteTimes, timeline: _Timeline, rng: np.random.Generator
) -> None:
    """Vibrato depth in cents: delayed ~0.3 s, growing through a held note, wider when loud."""
    delay_s = 0.3 + 0.1 * rng.random()
    full = (30.0 + 25.0 * note.effort) * (0.85 + 0.3 * rng.random())
    s0, _, s1 = times
    a, b = timeline.frame(s0), timeline.frame(s1)
    xx = timeline.times_s[a:b]
    rise = _smoothstep((xx - s0 - delay_s) / 0.6)
    fall = 1.0 - _smoothstep((xx - (s1 - 0.06)) / 0.08)
    raw.vibrato_depth_cents[a:b] = full * rise * fall


# --- from the raw curves to the controls: pitch, formants, source ----------------------------------
def _f0_curve(
    raw: _RawCurves, timeline: _Timeline, log2_f0: np.ndarray, effort: np.ndarray, rng: np.random.Generator,
    style: _Style,
) -> np.ndarray:
    """Sung pitch in Hz, ``(F,)``: the smoothed targets ``log2_f0`` bent by vibrato, drift, scoops and
    falls, and pushed sharp at a shout. ``rng`` draws the vibrato, then the drift."""
    vibrato = _vibrato_cents(raw.vibrato_depth_cents, rng, style)
    drift = _drift_cents(raw.notes, timeline, rng, style.humanize)
    sharp = 18.0 * _smoothstep((effort - 0.6) / 0.4)
    cents = vibrato + drift + raw.bend_cents + sharp
    return 2.0 ** (log2_f0 + cents / 1200.0)


def _vibrato_cents(depth_cents: np.ndarray, rng: np.random.Generator, style: _Style) -> np.ndarray:
    """Vibrato in cents, ``(F,)``, at ~5.6 Hz with a wandering rate, from a random phase."""
    rate_hz = 5.6 + 0.25 * _lowpass_noise(rng, depth_cents.shape[0], 0.5) * style.humanize
    phase = 2.0 * np.pi * np.cumsum(rate_hz) / _CONTROL_RATE_HZ + 2 * np.pi * rng.random()
    return _smooth(depth_cents, 0.06) * style.vibrato * np.sin(phase)


def _drift_cents(notes: list[_NoteSpan], timeline: _Timeline, rng: np.random.Generator, humanize: float) -> np.ndarray:
    """Slow pitch drift in cents, ``(F,)``, centred on each note: drift wanders, the singer corrects."""
    drift = 6.0 * humanize * _lowpass_noise(rng, timeline.n_frames, 1.2)
    for note in notes:
        a, b = timeline.frame(note.start_s), timeline.frame(note.end_s)
        drift[a:b] -= drift[a:b].mean()
    return _smooth(drift, 0.1)


def _articulated_formants(raw: _RawCurves) -> tuple[np.ndarray, np.ndarray]:
    """F1..F5 and B1..B5 in Hz, ``(5, F)`` each: the vowels gliding into each other (in log frequency),
    and voiced consonants taking over F1..F3 while they sound."""
    mask = _smooth(raw.consonant_mask, 0.05)
    formant_hz = np.exp(_smooth(np.log(raw.vowel_formant_hz), 0.07))
    bandwidth_hz = _smooth(raw.vowel_bandwidth_hz, 0.07)
    # the consonants' own targets, smoothed faster (the vowel's where there is none)
    consonant = raw.consonant_mask > 0
    consonant_hz = np.where(consonant, raw.consonant_formant_hz, raw.vowel_formant_hz[:3])
    consonant_hz = np.exp(_smooth(np.log(consonant_hz), 0.03))
    consonant_bw_hz = _smooth(np.where(consonant, raw.consonant_bandwidth_hz, raw.vowel_bandwidth_hz[:3]), 0.03)
    formant_hz[:3] = formant_hz[:3] * (1 - mask) + consonant_hz * mask
    bandwidth_hz[:3] = bandwidth_hz[:3] * (1 - mask) + consonant_bw_hz * mask
    return formant_hz, bandwidth_hz


def _sung_formants(raw: _RawCurves, effort: np.ndarray, log2_f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1..F5 and B1..B5 in Hz, ``(5, F)`` each, as sung: articulated, shaped by ``effort`` and kept
    above the pitch ``log2_f0``."""
    formant_hz, bandwidth_hz = _articulated_formants(raw)
    # effort: the jaw opens (F1 up a little) and F3..F5 gather into the singer's formant cluster;
    # a soft voice spreads them as in speech, with wider (weaker) upper formants
    spread = 1.0 - effort
    formant_hz[0] *= 1.0 + 0.08 * effort
    formant_hz[3] += 250.0 * spread
    formant_hz[4] += 450.0 * spread
    bandwidth_hz[2:] *= 1.0 + 0.3 * spread
    # the table's narrow F1/F2 bandwidths (40-60 Hz) suit FOF synthesis; in a cascade they ring and make
    # the level jump by ~7 dB as harmonics cross F1, so floor them at sung closed-phase values
    bandwidth_hz[0] = np.maximum(bandwidth_hz[0], 100.0)
    bandwidth_hz[1] = np.maximum(bandwidth_hz[1], 110.0)
    # formant tuning at high pitch (Sundberg): singers do not leave F1 below the fundamental
    formant_hz[0] = np.maximum(formant_hz[0], 1.1 * 2.0 ** log2_f0)
    return formant_hz, bandwidth_hz


def _source_curves(
    raw: _RawCurves, effort: np.ndarray, voicing: np.ndarray, rng: np.random.Generator, style: _Style
) -> tuple[np.ndarray, np.ndarray]:
    """Glottal excitation amplitude (Ee) and aspiration amplitude, linear, ``(F,)`` each."""
    # a first guess (the measured offset of the radiated output re the source), trimmed per note
    # after the tract; a little level wobble on top of the note shapes
    level = 10.0 ** ((_level_db_of_effort(effort) + 36.0) / 20.0)
    wobble_db = 0.4 * style.humanize * _lowpass_noise(rng, effort.shape[0], 2.0)
    level *= 10.0 ** ((_smooth(raw.shape_db, 0.05) + wobble_db) / 20.0)
    consonant_gain = 10.0 ** (_smooth(raw.consonant_gain_db, 0.035) / 20.0)
    amplitude = level * voicing * consonant_gain
    # aspiration relative to the voice: -16 dB soft, -36 dB at a shout (breathy vs pressed)
    aspiration_rel = 10.0 ** ((-16.0 - 20.0 * effort) / 20.0) * style.breathiness
    # an "h" is whispered vowel about 12 dB under the vowel it opens (the voice brightens with effort
    # faster than the noise does, hence the effort term)
    aspiration_h = 10.0 ** ((-15.0 - 5.0 * effort) / 20.0)
    aspiration = level * (aspiration_rel * voicing + aspiration_h * raw.onset_aspiration) + _BREATH_AMP * raw.breath
    return amplitude, _smooth(aspiration, 0.01)


# ---------------------------------------------------------------------------------------------------
# Rendering.
# ---------------------------------------------------------------------------------------------------
_MIN_OVERSAMPLED_RATE_HZ = 96000.0  # the glottal source's rate at least: inharmonic residue < -80 dB
_SINGER_FORMANT_HZ = 2900.0
# parallel high-formant branch: (centre Hz, bandwidth Hz, gain re the radiated source)
_HF_BRANCH = ((4600.0, 1200.0, 1.0), (6200.0, 1600.0, 0.8), (7900.0, 2200.0, 0.6))
# fricative and stop-burst noise: kind -> (band low Hz, band high Hz, level re the vowel after it in dB):
# an "s" sits ~12 dB under its vowel, a stop burst ~6 dB
_BURST_NOISE = {
    "s": (4000.0, 9000.0, -12.0),
    "sh": (1800.0, 6000.0, -10.0),
    "t": (2500.0, 8000.0, -6.0),
    "k": (1200.0, 3500.0, -6.0),
}


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
    sample_rate_hz = float(check_sample_rate(sample_rate))
    style = _Style.checked(vibrato, humanize, breathiness)
    items = _check_score(notes, voice)
    # one generator for everything, drawn in a fixed order: the performance, jitter and shimmer,
    # aspiration noise, then the bursts
    rng = np.random.default_rng(seed)
    controls = _controls(items, voice, rng, lead_s, tail_s, style)
    n_samples = int(round((lead_s + sum(it.duration_s for it in items) + tail_s) * sample_rate_hz))
    hop = sample_rate_hz / _CONTROL_RATE_HZ  # output samples per control frame
    voicing = _at_output_rate(controls.voicing, n_samples, hop)
    flow, opening = _glottal_source(controls, n_samples, hop, sample_rate_hz, rng, style.humanize)
    breath = _aspiration(controls, voicing, opening, hop, sample_rate_hz, rng)
    out = _radiate(_vocal_tract(flow + breath, controls, hop, sample_rate_hz), sample_rate_hz)
    out += _high_formants(flow, breath, controls, hop, sample_rate_hz)
    # the singer listens: trim every note to its loudness target. A smooth gain on the output equals
    # scaling the source, since the tract is linear and rings for only a few milliseconds.
    out *= _loudness_trim(out, voicing, controls, sample_rate_hz)
    _add_bursts(out, controls.bursts, rng, sample_rate_hz)
    _fade_edges(out, sample_rate_hz)
    if peak_dbfs is not None:
        peak = float(np.max(np.abs(out)))
        if peak > 0:
            out *= 10.0 ** (peak_dbfs / 20.0) / peak
    return out[None, :].astype(np.float32)


def _check_score(notes: Sequence[Note | Rest], voice: str) -> list[Note | Rest]:
    """The score as a list, or a :class:`ConfigError` naming the voice or the first bad item."""
    if voice not in FORMANT_TABLE:
        raise ConfigError(f"voice: expected one of {sorted(FORMANT_TABLE)}, got {voice!r}")
    items = list(notes)
    if not any(isinstance(it, Note) for it in items):
        raise ConfigError(f"notes: expected at least one Note, got {items!r}")
    for i, item in enumerate(items):
        if not isinstance(item, (Note, Rest)):
            raise ConfigError(f"notes[{i}]: expected a Note or a Rest, got {item!r}")
        if not (np.isfinite(item.duration_s) and item.duration_s > 0):
            raise ConfigError(f"notes[{i}].duration_s: expected > 0 s, got {item.duration_s!r}")
        if isinstance(item, Note):
            _check_note(i, item)
        elif not (0.0 <= item.breath <= 1.0):
            raise ConfigError(f"notes[{i}].breath: expected 0..1, got {item.breath!r}")
    return items


def _check_note(i: int, note: Note) -> None:
    """A :class:`ConfigError` naming ``notes[i]`` and its first bad field, if any."""
    if isinstance(note.pitch, bool) or not isinstance(note.pitch, (int, float, np.number, str)):
        raise ConfigError(f"notes[{i}].pitch: expected Hz or a note name like 'A3', got {note.pitch!r}")
    pitch_hz = note.pitch_hz
    if not (40.0 <= pitch_hz <= 1500.0):
        raise ConfigError(f"notes[{i}].pitch: expected 40..1500 Hz, got {pitch_hz!r} Hz")
    if not (0.0 <= note.effort <= 1.0) or not (note.effort_end is None or 0.0 <= note.effort_end <= 1.0):
        raise ConfigError(f"notes[{i}].effort: expected 0..1, got {note.effort!r} / {note.effort_end!r}")
    if note.onset not in _CONSONANTS:
        raise ConfigError(f"notes[{i}].onset: expected one of {sorted(_CONSONANTS)}, got {note.onset!r}")
    if not (1 <= len(note.vowel) <= 2 and all(v in "aeiou" for v in note.vowel)):
        raise ConfigError(f"notes[{i}].vowel: expected a, e, i, o, u or a pair like 'ai', got {note.vowel!r}")


def _at_output_rate(curve: np.ndarray, n_samples: int, hop: float) -> np.ndarray:
    """A ``(F,)`` control curve linearly interpolated to ``(n_samples,)``, ``hop`` samples per frame."""
    return np.interp(np.arange(n_samples) / hop, np.arange(curve.shape[0]), curve)


def _glottal_source(
    controls: _Controls, n_samples: int, hop: float, sample_rate_hz: float, rng: np.random.Generator, humanize: float
) -> tuple[np.ndarray, np.ndarray]:
    """Glottal flow and glottal opening (0..1), ``(n_samples,)`` each at the output rate.

    The LF flow is made at ``oversampling`` times the output rate (>= 96 kHz) and decimated with a
    long Kaiser low-pass (~80 dB stopband), so that what aliases stays under -80 dB.
    """
    from scipy.signal import resample_poly

    oversampling = int(math.ceil(_MIN_OVERSAMPLED_RATE_HZ / sample_rate_hz))
    max_periods = int(n_samples / sample_rate_hz * 1600) + 16
    jitter = 0.005 * humanize * rng.standard_normal(max_periods)  # ~0.5 % period jitter, a healthy voice
    shimmer = 0.03 * humanize * rng.standard_normal(max_periods)  # ~0.25 dB shimmer
    shimmer = np.clip(shimmer, -0.5, 0.5)
    flow = np.zeros(n_samples * oversampling)
    opening = np.zeros(n_samples)
    glottal_flow, _ = _kernels()
    glottal_flow(
        n_samples * oversampling, sample_rate_hz * oversampling, hop * oversampling, oversampling,
        controls.f0_hz, controls.amplitude, controls.rd, _lf_table(), _RD_MIN, _RD_STEP, jitter, shimmer, flow, opening,
    )
    if oversampling > 1:
        flow = resample_poly(flow, 1, oversampling, window=("kaiser", 8.0))
    return flow, opening


def _aspiration(
    controls: _Controls, voicing: np.ndarray, opening: np.ndarray, hop: float, sample_rate_hz: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Aspiration noise to add to the flow, ``(N,)`` like ``voicing`` (0..1) and the glottal ``opening``:
    gated by the opening while voiced, open during "h" and breaths."""
    from scipy.signal import butter, sosfilt

    amplitude = _at_output_rate(controls.aspiration, voicing.shape[0], hop)
    noise = rng.standard_normal(voicing.shape[0])
    # a -6 dB/octave tilt above 1.5 kHz in the flow domain becomes ~flat after lip radiation
    sos = np.concatenate([
        butter(1, 1500.0 / (sample_rate_hz / 2), output="sos"),
        butter(2, 300.0 / (sample_rate_hz / 2), "high", output="sos"),
    ])
    noise = sosfilt(sos, noise)
    gate = (1.0 - voicing) + voicing * (0.25 + 0.75 * opening)
    return noise * amplitude * gate * 0.02  # 0.02: filtered-noise RMS re flow, set by ear against HNR


def _vocal_tract(excitation: np.ndarray, controls: _Controls, hop: float, sample_rate_hz: float) -> np.ndarray:
    """The ``(N,)`` excitation through F1..F5 in cascade (those below 0.46 fs), then the singer's formant
    peak, which grows with effort."""
    keep = [k for k in range(5) if controls.formant_hz[k].max() < 0.46 * sample_rate_hz]
    a1, a2, b0 = _resonator_coeffs(controls.formant_hz[keep].T, controls.bandwidth_hz[keep].T, sample_rate_hz)
    singer_gain_db = 2.0 + 7.0 * np.clip(controls.effort, 0.0, 1.0) ** 1.3
    peaking = _peaking_coeffs(min(_SINGER_FORMANT_HZ, 0.4 * sample_rate_hz), singer_gain_db, 1.6, sample_rate_hz)
    out = np.empty(excitation.shape[0])
    _, tract = _kernels()
    contiguous = np.ascontiguousarray
    tract(excitation, hop, contiguous(a1), contiguous(a2), contiguous(b0), contiguous(peaking), out)
    return out


def _radiate(x: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """Lip radiation: a first difference (+6 dB/octave), scaled to unity gain at 1 kHz at any rate."""
    return np.diff(x, prepend=0.0) * (sample_rate_hz / (2.0 * np.pi * 1000.0))


def _high_formants(
    flow: np.ndarray, breath: np.ndarray, controls: _Controls, hop: float, sample_rate_hz: float
) -> np.ndarray:
    """The region above F5, ``(N,)``, through a parallel branch (Klatt's cascade/parallel split).

    A truncated all-pole cascade falls ~10 dB/kHz above its last pole, while real voices keep a
    plateau of higher formants at 4-9 kHz about 30 dB under the strongest partials.
    """
    from scipy.signal import butter, sosfilt

    gain = _at_output_rate(0.3 + 0.7 * controls.effort, flow.shape[0], hop)  # a soft voice is dark up there too
    # (aspiration reaches it only in part: real breath noise is shaped by F3-F5 and fades above them)
    source = _radiate(flow + 0.3 * breath, sample_rate_hz)
    high = np.zeros(flow.shape[0])
    nyquist_hz = sample_rate_hz / 2
    for centre_hz, bandwidth_hz, branch_gain in _HF_BRANCH:
        if centre_hz + bandwidth_hz / 2 < 0.45 * sample_rate_hz:
            band = [(centre_hz - bandwidth_hz / 2) / nyquist_hz, (centre_hz + bandwidth_hz / 2) / nyquist_hz]
            high += branch_gain * sosfilt(butter(1, band, "band", output="sos"), source)
    return gain * high


def _resonator_coeffs(
    formant_hz: np.ndarray, bandwidth_hz: np.ndarray, sample_rate_hz: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-pole resonators with unity gain at DC (Klatt 1980): ``a1, a2, b0`` shaped like the inputs."""
    radius = np.exp(-np.pi * bandwidth_hz / sample_rate_hz)
    a1 = -2.0 * radius * np.cos(2.0 * np.pi * formant_hz / sample_rate_hz)
    a2 = radius * radius
    return a1, a2, 1.0 + a1 + a2


def _peaking_coeffs(centre_hz: float, gain_db: np.ndarray, q: float, sample_rate_hz: float) -> np.ndarray:
    """Peaking biquad (RBJ audio-EQ cookbook), normalised: ``(len(gain_db), 5)`` rows b0 b1 b2 a1 a2."""
    a = 10.0 ** (gain_db / 40.0)  # the cookbook's A
    w0 = 2.0 * np.pi * centre_hz / sample_rate_hz
    alpha = np.sin(w0) / (2.0 * q)
    a0 = 1.0 + alpha / a
    a1 = np.broadcast_to(-2.0 * np.cos(w0), a.shape) / a0
    return np.stack([(1.0 + alpha * a) / a0, a1, (1.0 - alpha * a) / a0, a1, (1.0 - alpha / a) / a0], axis=1)


def _loudness_trim(out: np.ndarray, voicing: np.ndarray, controls: _Controls, sample_rate_hz: float) -> np.ndarray:
    """Per-sample gain ``(N,)`` that brings each note's steady, voiced part to its target RMS (dBFS).

    Harmonics falling on or between narrow formants make the raw level jump by several dB from note
    to note; this evens it out the way a singer's ear does. Rests keep 0 dB (breaths stay absolute).
    """
    trim_db = np.zeros(controls.f0_hz.shape[0])
    for p0, p1 in controls.phrases:
        notes = [note for note in controls.notes if p0 - 1e-9 <= note.start_s < p1]
        for k, note in enumerate(notes):
            rms_db = _steady_level_db(out, voicing, note, sample_rate_hz)
            end_s = p1 if k == len(notes) - 1 else note.end_s  # the last note's trim holds through the release
            frames = slice(int(round(note.start_s * _CONTROL_RATE_HZ)), int(round(end_s * _CONTROL_RATE_HZ)))
            trim_db[frames] = np.clip(note.target_db - rms_db, -20.0, 20.0)
    trim_db = _smooth(trim_db, 0.06)
    return _at_output_rate(10.0 ** (trim_db / 20.0), out.shape[0], sample_rate_hz / _CONTROL_RATE_HZ)


def _steady_level_db(out: np.ndarray, voicing: np.ndarray, note: _NoteSpan, sample_rate_hz: float) -> float:
    """RMS in dBFS of a note's voiced vowel 30 ms in from either end (the whole vowel when under 50 ms
    of it is voiced); the note's target when the vowel is empty."""
    a, b = int((note.vowel_start_s + 0.03) * sample_rate_hz), int((note.end_s - 0.03) * sample_rate_hz)
    seg = out[a:b][voicing[a:b] > 0.8] if b > a else out[0:0]
    if seg.size < 0.05 * sample_rate_hz:
        seg = out[int(note.vowel_start_s * sample_rate_hz):int(note.end_s * sample_rate_hz)]
    return 10.0 * np.log10(float(np.mean(seg * seg)) + 1e-20) if seg.size else note.target_db


def _add_bursts(out: np.ndarray, bursts: list[_Burst], rng: np.random.Generator, sample_rate_hz: float) -> None:
    """Fricatives and stop bursts, added to ``out`` in place after the tract, each set relative to the
    vowel that follows it."""
    n_samples = out.shape[0]
    for burst in bursts:
        a = int(round(burst.start_s * sample_rate_hz))
        m = min(int(round(burst.duration_s * sample_rate_hz)), n_samples - max(a, 0))
        if a < 0 or m < 8:
            continue
        va = int(round((burst.vowel_start_s + 0.06) * sample_rate_hz))
        ref = out[va:va + int(0.15 * sample_rate_hz)]
        ref_rms = float(np.sqrt(np.mean(ref * ref))) if ref.size else 0.0
        lo_hz, hi_hz, level_db = _BURST_NOISE[burst.kind]
        x = _bandpass_noise(rng, m, lo_hz, hi_hz, sample_rate_hz)
        x *= _burst_envelope(burst.kind, m)
        x *= ref_rms * 10.0 ** (level_db / 20.0) / (float(np.sqrt(np.mean(x * x))) + 1e-12)
        out[a:a + m] += x


def _burst_envelope(kind: str, n_samples: int) -> np.ndarray:
    """A fricative swells and fades (sin^2); a stop burst cracks open in 1/8 of its length and decays."""
    u = np.linspace(0.0, 1.0, n_samples)
    return np.sin(np.pi * u) ** 2 if kind in ("s", "sh") else np.minimum(u * 8.0, 1.0) * np.exp(-u * 4.0)


def _bandpass_noise(
    rng: np.random.Generator, n_samples: int, lo_hz: float, hi_hz: float, sample_rate_hz: float
) -> np.ndarray:
    """``(n_samples,)`` Gaussian noise through a 2nd-order Butterworth band-pass, the band kept below
    0.45 fs (and its low edge under 0.6 times its high edge)."""
    from scipy.signal import butter, sosfilt

    hi = min(hi_hz, 0.45 * sample_rate_hz)
    lo = min(lo_hz, 0.6 * hi)
    sos = butter(2, [lo / (sample_rate_hz / 2), hi / (sample_rate_hz / 2)], btype="band", output="sos")
    return sosfilt(sos, rng.standard_normal(n_samples))


def _fade_edges(out: np.ndarray, sample_rate_hz: float) -> None:
    """5 ms linear fades, in place, so that the file starts and ends at zero."""
    n_samples = out.shape[0]
    k = min(int(0.005 * sample_rate_hz), n_samples // 2)
    out[:k] *= np.linspace(0.0, 1.0, k)
    out[n_samples - k:] *= np.linspace(1.0, 0.0, k)


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
