"""A keyed noise gate and downward expander with explicit streaming state.

Each room microphone of the rig goes through one of these, keyed by the singer's level (the close
mic): it opens when the key rises above ``threshold_db`` and closes ``hysteresis_db`` below it,
once ``hold_ms`` has passed. :func:`gate` is a one-block use of :class:`Gate`; a :class:`Gate`
carries all its state from one ``process(..., reset=False)`` call to the next, so a signal processed
in blocks of any sizes gives the one-block result.

The algorithm, one step per line (the per-sample reference in ``tests/gate_reference.py`` is the
same algorithm written as a plain Python loop):

1. Key filter: optional 4th-order Butterworth high-pass and low-pass on each key channel.
2. Detector, at the control rate (one frame of ``H = round(sample_rate / 1500)`` samples, 32 at
   48 kHz): the frame's peak ``max |key|`` (or mean square) over samples and key channels (the
   channels are linked by max), smoothed with the ``detector_ms`` time constant.
3. State machine, at each frame end: open at or above the open threshold, re-arm the hold while
   at or above the close threshold, close ``hold_ms`` after the level was first seen below it.
   With the peak detector the gate also opens on the very sample whose ``|key|`` reaches the
   threshold.
4. Target gain: 1 when open; when closed ``floor = 10 ** (range_db / 20)`` (a gate,
   ``ratio=inf``) or the expansion curve of the level (finite ``ratio``), never below the floor.
5. Gain, per sample: rises toward the target in a straight line (linear in amplitude) at the rate
   that crosses the full range ``floor -> 1`` in ``attack_ms``; falls at the rate that crosses it
   in ``release_ms``: a constant factor per sample (``release_curve = "exponential"``, a constant
   rate in dB: the range in dB, 80 dB toward silence, in ``release_ms``; closing to the target at
   the floor) or a straight line (``"linear"``); then ``y[n] = x[n - L] * gain[n]`` with ``L`` the
   lookahead (the key is not delayed).

numba is imported the first time audio is processed, not when this module is imported.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AudioInputError, ConfigError
from ..units import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, check_sample_rate

__all__ = ["CONTROL_RATE_HZ", "Gate", "GateSettings", "GateTrace", "control_period", "gate",
           "room_hold_release_ms"]

#: Decisions (detector, state machine, target gain) are taken this often; gain ramps per sample.
CONTROL_RATE_HZ = 1500.0
#: ``GateTrace.key_db`` of a silent key (instead of -inf, so reports stay valid JSON).
KEY_DB_FLOOR = -200.0
#: A 2-D array with more rows than this is refused: it is most likely ``(samples, channels)``.
MAX_CHANNELS = 256
#: Order of each Butterworth key filter (24 dB per octave: 40 Hz rumble -32 dB at 100 Hz).
KEY_FILTER_ORDER = 4

_DETECTORS = ("peak", "rms")
_RELEASE_CURVES = ("exponential", "linear")
#: An exponential release toward silence (``range_db = -inf``) falls this many dB in
#: ``release_ms``, then closes to silence.
EXPONENTIAL_RELEASE_DB = 80.0
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def control_period(sample_rate: float) -> int:
    """Samples per control frame at ``sample_rate`` (Hz): ``max(1, round(sample_rate / 1500))``."""
    return max(1, int(round(float(sample_rate) / CONTROL_RATE_HZ)))


#: The hold that lets a hall ring out, as a fraction of its RT60: the time it takes to decay 24 dB.
ROOM_HOLD_RT60 = 0.4


def room_hold_release_ms(rt60_s: float, range_db: float = -80.0) -> tuple[float, float]:
    """``(hold_ms, release_ms)`` that let a room of reverberation time ``rt60_s`` ring out.

    ``hold_ms = 400 * rt60_s`` (0.4 x RT60: the room decays 24 dB meanwhile), then an exponential
    release at the room's own rate, 60 dB per RT60: ``release_ms = -range_db / 60 * 1000 * rt60_s``
    (80 dB for ``range_db = -inf``). Found with :mod:`roomgate.dsp.breathing` on real and
    synthetic singing at RT60 1.5 s and 2.5 s: the gated tail within 1.5 dB of the ungated one when
    that has fallen 30 dB (0.3-0.45 x RT60 after the last note), and 20 dB or more down 2.5 s later.
    For ``release_curve = "exponential"``; what the rig resolves ``hold_ms = "room"`` and
    ``release_ms = "room"`` to.
    """
    rt60 = _number("rt60_s", rt60_s, low=0.0, low_open=True)
    fall_db = EXPONENTIAL_RELEASE_DB if math.isinf(range_db) else -range_db
    return ROOM_HOLD_RT60 * 1000.0 * rt60, fall_db / 60.0 * 1000.0 * rt60


# --------------------------------------------------------------------------------------------------
# Settings


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bad(name: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{name}: expected {expected}, got {value!r}")


def _number(name: str, value: Any, *, low: float | None = None, low_open: bool = False,
            allow_inf: str = "", expected: str | None = None) -> float:
    """Check one numeric setting and return it as a float; ``allow_inf`` is "", "+" or "-"."""
    if expected is None:
        bound = "" if low is None else f" {'>' if low_open else '>='} {low:g}"
        inf_note = {"": "", "+": " (or inf)", "-": " (or -inf)"}[allow_inf]
        expected = f"a number{bound}{inf_note}"
    if not _is_number(value):
        raise _bad(name, expected, value)
    try:
        v = float(value)
    except OverflowError:  # an int too large for a float
        raise _bad(name, expected, "a number too large") from None
    if math.isnan(v):
        raise _bad(name, expected, v)
    if math.isinf(v) and not ((v > 0 and allow_inf == "+") or (v < 0 and allow_inf == "-")):
        raise _bad(name, expected, v)
    if low is not None and (v <= low if low_open else v < low):
        raise _bad(name, expected, v)
    return v


MAX_TIME_MS = 60_000.0
MAX_LOOKAHEAD_MS = 1_000.0


@dataclass(frozen=True)
class GateSettings:
    """The settings of a :class:`Gate`, validated on creation (also by :func:`dataclasses.replace`).

    Every invalid value raises :class:`~roomgate.errors.ConfigError` naming the setting, e.g.
    ``attack_ms: expected a number >= 0, got -3.0``.

    Args:
        threshold_db: open threshold, in dBFS of the key detector (a full-scale sine reads 0 dBFS on
            the peak detector, -3 dBFS on the rms one). Default -40.
        hysteresis_db: the gate closes this many dB below the open threshold, so a level wandering
            around the threshold does not make it chatter. >= 0. Default 4.
        attack_ms: time for the gain to rise in a straight line from the floor to 1 (a partial
            opening takes proportionally less). 0 opens at once. Default 2. (Always linear: it is
            short, and an exponential rise from the floor would spend most of it inaudible.)
        hold_ms: the gate stays open this long after the key level was first seen below the close
            threshold (rounded up to a whole control frame of about 2/3 ms: 0.68 ms at 22.05 kHz). Default 80.
        release_ms: the time the gain takes to fall the gate's whole range, from 1 (0 dB) to the
            floor (``range_db``; with ``range_db = -inf``, to -80 dB, where it then closes to
            silence). A partial fall takes proportionally less. Default 250.
        release_curve: ``"exponential"``: the gain falls at a constant rate in dB
            (``-range_db / release_ms`` dB per ms), as analogue gates release and as a room
            decays; ``"linear"``: in a straight line in amplitude (slow at first, then a cliff).
            Default "exponential".
        range_db: gain of the closed gate, <= 0; ``-inf`` closes to silence. Default -inf.
        ratio: ``inf`` makes a gate; a finite ratio >= 1 makes a downward expander: a closed gate's
            gain is ``(level_db - threshold_db) * (ratio - 1)`` dB, never below ``range_db``.
            Default inf.
        knee_db: width of the soft knee of the expander, centred on the threshold (a quadratic
            blend); with a soft knee the expander counts as open above
            ``threshold_db + knee_db / 2``, where its curve reaches 0 dB. Ignored by a gate
            (``ratio=inf``). >= 0. Default 0.
        lookahead_ms: the audio is delayed by this much while the key is not, so the gate is
            already open when a transient arrives; the delay is reported as
            :attr:`Gate.latency_samples`. Default 0.
        detector: ``"peak"`` (frame peak of ``|key|``, instant attack, exponential release of time
            constant ``detector_ms``; opens on the sample) or ``"rms"`` (frame mean square, averaged
            with time constant ``detector_ms``; opens at a frame end). Default "peak".
        detector_ms: detector time constant, >= 0 (0 = the bare frame peak or frame rms). Default 5.
        key_highpass_hz: high-pass the key (4th-order Butterworth) so rumble and plosives do not
            open the gate; None = off. Must stay below half the sample rate. Default None.
        key_lowpass_hz: low-pass the key (4th-order Butterworth), None = off; must be above
            ``key_highpass_hz`` and below half the sample rate. Default None.
    """

    threshold_db: float = -40.0
    hysteresis_db: float = 4.0
    attack_ms: float = 2.0
    hold_ms: float = 80.0
    release_ms: float = 250.0
    release_curve: str = "exponential"
    range_db: float = -math.inf
    ratio: float = math.inf
    knee_db: float = 0.0
    lookahead_ms: float = 0.0
    detector: str = "peak"
    detector_ms: float = 5.0
    key_highpass_hz: float | None = None
    key_lowpass_hz: float | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalise in place once (ints -> floats)
        put(self, "threshold_db", _number("threshold_db", self.threshold_db))
        put(self, "hysteresis_db", _number("hysteresis_db", self.hysteresis_db, low=0.0))
        for name in ("attack_ms", "hold_ms", "release_ms", "lookahead_ms", "detector_ms",
                     "knee_db"):
            put(self, name, _number(name, getattr(self, name), low=0.0))
        # Times beyond a minute are typos, and a lookahead sizes a delay line: refuse them.
        for name, most in (("attack_ms", MAX_TIME_MS), ("hold_ms", MAX_TIME_MS), ("release_ms", MAX_TIME_MS),
                           ("detector_ms", MAX_TIME_MS), ("lookahead_ms", MAX_LOOKAHEAD_MS)):
            if getattr(self, name) > most:
                raise _bad(name, f"a number from 0 to {most:g}", getattr(self, name))
        range_db = _number("range_db", self.range_db, allow_inf="-",
                           expected="a number <= 0 (or -inf)")
        if range_db > 0:
            raise _bad("range_db", "a number <= 0 (or -inf)", range_db)
        put(self, "range_db", range_db)
        put(self, "ratio", _number("ratio", self.ratio, low=1.0, allow_inf="+"))
        if self.detector not in _DETECTORS:
            raise _bad("detector", "'peak' or 'rms'", self.detector)
        if self.release_curve not in _RELEASE_CURVES:
            raise _bad("release_curve", "'exponential' or 'linear'", self.release_curve)
        for name in ("key_highpass_hz", "key_lowpass_hz"):
            value = getattr(self, name)
            if value is not None:
                put(self, name, _number(name, value, low=0.0, low_open=True,
                                        expected="None or a number > 0"))
        if (self.key_highpass_hz is not None and self.key_lowpass_hz is not None
                and self.key_lowpass_hz <= self.key_highpass_hz):
            raise _bad("key_lowpass_hz", f"a number > key_highpass_hz ({self.key_highpass_hz:g})",
                       self.key_lowpass_hz)

    @property
    def open_threshold_db(self) -> float:
        """Where the gate opens, dBFS of the key detector: ``threshold_db``, or for an expander
        with a soft knee the knee's top, ``threshold_db + knee_db / 2``."""
        expand = not math.isinf(self.ratio)
        return self.threshold_db + (0.5 * self.knee_db if expand else 0.0)

    @property
    def close_threshold_db(self) -> float:
        """Where an open gate starts to close (its hold begins once the key level is below it),
        dBFS of the key detector: ``open_threshold_db - hysteresis_db``."""
        return self.open_threshold_db - self.hysteresis_db

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> GateSettings:
        """Build from keyword settings; an unknown name is a ConfigError listing the known ones."""
        known = [f.name for f in dataclasses.fields(cls)]
        for name in settings:
            if name not in known:
                raise ConfigError(f"{name}: unknown gate setting; expected one of "
                                  f"{', '.join(known)}")
        return cls(**settings)

    def replace(self, **changes: Any) -> GateSettings:
        """A copy with ``changes`` applied and validated (unknown names raise ConfigError)."""
        return GateSettings.from_dict({**dataclasses.asdict(self), **changes})

    def check_sample_rate(self, sample_rate: float) -> None:
        """Raise ConfigError if a key filter frequency is not below half of ``sample_rate`` (Hz)."""
        nyquist = 0.5 * sample_rate
        for name in ("key_highpass_hz", "key_lowpass_hz"):
            value = getattr(self, name)
            if value is not None and value >= nyquist:
                raise _bad(name, f"a number below half the sample rate ({nyquist:g} Hz at "
                                 f"{sample_rate:g} Hz)", value)


@dataclass(frozen=True, eq=False)
class GateTrace:
    """What the gate did, aligned with the output samples (lookahead included).

    Attributes:
        gain: gain applied to output sample ``n`` (linear, within ``[floor, 1]``).
        is_open: the gate's state for output sample ``n``: True when open or holding.
        key_db: the detector level in dB (dBFS, peak or rms) in effect for sample ``n``: updated at
            each control frame end (and on the opening sample with the peak detector), floored at
            -200 dB.

    Shape:
        each ``(N,)``: ``gain`` float32, ``is_open`` bool, ``key_db`` float32.
    """

    gain: np.ndarray
    is_open: np.ndarray
    key_db: np.ndarray


# --------------------------------------------------------------------------------------------------
# Kernel. Plain Python, compiled by numba on first use (cache=True: compiled once per machine).
# The per-sample loops carry no recursion (within a frame part of constant target the gain ramp is
# in closed form) and reduce |x| as integer bits, so they vectorise; the rest runs once per frame.
#
# The kernel's arguments are few on purpose (each costs about 0.3 us of numba dispatch per call,
# which counts at 32-sample live blocks): its constants come in two arrays and its state in two
# more, each indexed by the named slots below.

# int_params slots: control frame H (samples), lookahead L (samples), rms detector (0/1), float32
# bits of the open threshold (the peak detector's per-sample test), expander (0/1), exponential
# release (0/1).
_I_FRAME, _I_LATENCY, _I_RMS, _I_OPEN_BITS, _I_EXPAND, _I_EXPONENTIAL = range(6)
_INT_PARAMS = 6
# float_params slots: open and close thresholds (detector units: amplitude, or mean square), the
# detector's decay per frame, the gain's rise and fall per sample, the floor gain, the hold
# (samples), the expander's slope (ratio - 1), threshold, knee and range (dB), and the dB scale of
# the detector (20 for amplitude, 10 for mean square), the gain where an exponential release
# closes, then the exponential release's gain after k samples, ``r ** k`` for k = 0..H (a frame
# part never spans more than H samples).
(_F_OPEN, _F_CLOSE, _F_DECAY, _F_UP, _F_DOWN, _F_FLOOR, _F_HOLD, _F_SLOPE, _F_THRESHOLD_DB,
 _F_KNEE_DB, _F_RANGE_DB, _F_DB_SCALE, _F_RELEASE_END, _F_RELEASE_POW) = range(14)
# fstate slots: gain, target gain, detector state (peak, or mean square), key level in dB
_G, _TARGET, _ENV, _KEYDB = range(4)
_FSTATE = 4
# istate slots: position in the frame, open flag, samples since first seen below the close
# threshold (-1: not below), frame peak (float32 bits)
_POS, _OPEN, _BELOW, _FPEAK = range(4)
_ISTATE = 4

_ABS_MASK = 0x7FFFFFFF  # float32 bits without the sign: |x| as an integer, ordered like |x|
_NON_FINITE = 0x7F800000  # |x| bits at or above this: Inf or NaN


def _sample_peak_bits_py(bits, rows, stride, index):
    """``max |x|`` over the ``rows`` channels at sample ``index``, as float32 bits.

    ``bits`` is a flat (row-major, ``rows * stride``) float32 array seen as uint32.
    """
    peak = 0
    for k in range(rows):
        peak = max(peak, np.int64(bits[k * stride + index] & np.uint32(_ABS_MASK)))
    return peak


def _gain_after_py(g, k, rate, target, float_params, release_end, exp_fall):
    """The gain ``k >= 0`` samples into a ramp from ``g`` toward ``target``: a straight line of
    slope ``rate`` stopped at the target, or with ``exp_fall`` the exponential release ``g * r**k``
    (``r**k`` from the float_params table), which closes to the target at ``release_end``."""
    if exp_fall:
        gk = g * float_params[_F_RELEASE_POW + k]
        return gk if gk > release_end else target
    gk = g + k * rate
    return min(gk, target) if rate >= 0.0 else max(gk, target)


def _ramp_py(out, o0, src, s0, count, g, k0, rate, target, float_params, release_end, exp_fall):
    """``out[o0 + i] = src[s0 + i] * _gain_after(g, k0 + i, ...)`` for ``i < count``."""
    o0 = np.uint64(o0)
    s0 = np.uint64(s0)
    for i in range(np.uint64(count)):
        out[o0 + i] = src[s0 + i] * _gain_after(g, np.int64(k0) + np.int64(i), rate, target,
                                                float_params, release_end, exp_fall)


# 2 ** (exponent - 150) for each float32 exponent field (0: subnormal, scale 2 ** -149).
_POW2 = np.array([2.0 ** -149] + [2.0 ** (e - 150) for e in range(1, 256)])


def _bits_to_float_py(b):
    """The float32 whose bits are ``b`` (finite, non-negative), exactly, as a float."""
    e = b >> 23
    mantissa = (b & 0x7FFFFF) | (0x800000 if e > 0 else 0)
    return float(mantissa) * _POW2[e]



def _gate_kernel(C, K, x, key, kbits, y, dl, fstate, istate, sumsq, tr_gain, tr_open, tr_db,
                 int_params, float_params, trace):
    """Gate one block, a control frame (or the part of it inside this block) at a time.

    Every array is flat, row-major: x, y (C * N), key, kbits (its float32 bits) (K * N), dl
    (C * L); flat arrays with plain offsets keep numba from making views, or checking indices, per
    frame. ``int_params``, ``float_params``, ``fstate`` and ``istate`` are indexed by the
    ``_I_*``, ``_F_*``, ``_G``... and ``_POS``... slots. ``sumsq`` ``(2 K,)``: the rms detector's
    running sums over the frame, committed (first ``K``) and a working copy (last ``K``).

    The caller has checked that x is finite; the key is checked here, frame by frame, within the
    peak reduction (where it costs nothing). Returns -1 with the state updated in place, or 1 for
    a non-finite key sample with the state untouched (it is only written at the end).
    """
    H = int_params[_I_FRAME]
    L = int_params[_I_LATENCY]
    is_rms = int_params[_I_RMS] != 0
    open_bits = int_params[_I_OPEN_BITS]
    expand = int_params[_I_EXPAND] != 0
    open_thr = float_params[_F_OPEN]
    close_thr = float_params[_F_CLOSE]
    decay = float_params[_F_DECAY]
    up = float_params[_F_UP]
    down = float_params[_F_DOWN]
    floor = float_params[_F_FLOOR]
    hold = float_params[_F_HOLD]
    slope = float_params[_F_SLOPE]
    thr_db = float_params[_F_THRESHOLD_DB]
    knee_db = float_params[_F_KNEE_DB]
    range_db = float_params[_F_RANGE_DB]
    db_scale = float_params[_F_DB_SCALE]
    exponential = int_params[_I_EXPONENTIAL] != 0
    release_end = float_params[_F_RELEASE_END]
    pow0 = np.uint64(_F_RELEASE_POW + 1)  # the table's entry for 1 sample
    N = y.shape[0] // C
    mask = np.uint32(_ABS_MASK)
    g = fstate[_G]
    target = fstate[_TARGET]
    env = fstate[_ENV]
    key_db = fstate[_KEYDB]
    pos = istate[_POS]
    is_open = istate[_OPEN]
    below = istate[_BELOW]
    fpeak = istate[_FPEAK]
    for k in range(K):
        sumsq[K + k] = sumsq[k]
    n = 0
    while n < N:
        m = min(H - pos, N - n)
        end = n + m
        # Detector input: the peak of |key| over this frame part, channels linked by max.
        pb = np.uint32(0)
        for k in range(K):
            base = np.uint64(k * N + n)
            for i in range(np.uint64(m)):
                pb = max(pb, kbits[base + i] & mask)
        if pb >= _NON_FINITE:
            return 1
        fpeak = max(fpeak, np.int64(pb))
        if is_rms:
            for k in range(K):
                acc = sumsq[K + k]
                for i in range(k * N + n, k * N + end):
                    v = float(key[i])
                    acc += v * v
                sumsq[K + k] = acc
        # The peak detector opens the gate on the very sample reaching the threshold: cut there.
        cut = end
        if is_open == 0 and not is_rms and pb >= open_bits:
            for i in range(n, end):
                if _sample_peak_bits(kbits, K, N, i) >= open_bits:
                    cut = i
                    break
        start = n
        while True:
            # Output: the delayed audio times the gain ramp toward a constant target.
            rate = up if target > g else (-down if target < g else 0.0)
            exp_fall = exponential and rate < 0.0
            # An exponential release closes to the target at the first gain at or below this.
            end_gain = max(target, release_end)
            if start >= L:  # the common case, kept simple so that it vectorises
                cnt = np.uint64(cut - start)
                for c in range(C):
                    # Unsigned offsets: numba then skips its negative-index wraparound, which
                    # would otherwise stop LLVM from vectorising these loops (2-3x slower).
                    o = np.uint64(c * N + start)
                    s = np.uint64(c * N + start - L)
                    if rate == 0.0:  # steady: open, or closed
                        g32 = np.float32(g)
                        for i in range(cnt):
                            y[o + i] = x[s + i] * g32
                    elif rate > 0.0:
                        for i in range(cnt):
                            y[o + i] = x[s + i] * min(g + (i + 1) * rate, target)
                    elif exp_fall:
                        for i in range(cnt):
                            gi = g * float_params[pow0 + i]
                            y[o + i] = x[s + i] * (gi if gi > end_gain else target)
                    else:
                        for i in range(cnt):
                            y[o + i] = x[s + i] * max(g + (i + 1) * rate, target)
            else:  # partly or wholly from the delay line
                p = start
                while p < cut:
                    if p < L:
                        q = min(cut, L)
                        for c in range(C):
                            _ramp(y, c * N + p, dl, c * L + p, q - p, g, p - start + 1, rate,
                                  target, float_params, end_gain, exp_fall)
                    else:
                        q = cut
                        for c in range(C):
                            _ramp(y, c * N + p, x, c * N + p - L, q - p, g, p - start + 1,
                                  rate, target, float_params, end_gain, exp_fall)
                    p = q
            if trace:
                t0 = np.uint64(start)
                for i in range(np.uint64(cut - start)):
                    tr_gain[t0 + i] = _gain_after(g, np.int64(i) + 1, rate, target, float_params,
                                                  end_gain, exp_fall)
                    tr_open[t0 + i] = is_open != 0
                    tr_db[t0 + i] = key_db
            if cut > start:
                g = _gain_after(g, cut - start, rate, target, float_params, end_gain, exp_fall)
            if cut == end:
                break
            is_open = 1
            below = -1
            target = 1.0
            if trace:
                b = _sample_peak_bits(kbits, K, N, cut)
                key_db = 20.0 * math.log10(_bits_to_float(b)) if b > 0 else KEY_DB_FLOOR
            start = cut
            cut = end
        pos += m
        n = end
        if pos < H:
            continue
        # Frame end: detector, state machine, target.
        if is_rms:
            ms = 0.0
            for k in range(K):
                ms = max(ms, sumsq[K + k])
                sumsq[K + k] = 0.0
            ms = ms / H
            env = ms + decay * (env - ms)
        else:
            env = max(_bits_to_float(fpeak), env * decay)
        fpeak = 0
        pos = 0
        if env >= open_thr:
            is_open = 1
            below = -1
        elif is_open != 0:
            if env >= close_thr:
                below = -1
            else:
                below = 0 if below < 0 else below + H
                if below >= hold:
                    is_open = 0
                    below = -1
        level_db = KEY_DB_FLOOR
        if trace or (expand and is_open == 0):  # a log per frame only where it is used
            level_db = db_scale * math.log10(env) if env > 0.0 else KEY_DB_FLOOR
            key_db = level_db
        if is_open != 0:
            target = 1.0
        elif expand and env > 0.0:
            # Downward expansion below the threshold, quadratic soft knee centred on it.
            over = level_db - thr_db
            if over >= 0.5 * knee_db:
                gdb = 0.0
            elif 2.0 * over > -knee_db:
                gdb = -slope * (over - 0.5 * knee_db) ** 2 / (2.0 * knee_db)
            else:
                gdb = slope * over
            target = max(10.0 ** (gdb / 20.0), floor) if gdb >= range_db else floor
        else:
            target = floor
    fstate[_G] = g
    fstate[_TARGET] = target
    fstate[_ENV] = env
    fstate[_KEYDB] = key_db
    istate[_POS] = pos
    istate[_OPEN] = is_open
    istate[_BELOW] = below
    istate[_FPEAK] = fpeak
    for k in range(K):
        sumsq[k] = sumsq[K + k]
    return -1


def _float_bits_at_least(value: float) -> int:
    """Bits of the smallest float32 >= ``value`` (>= 0): ``|x| >= value`` iff its bits are >=."""
    if value > _FLOAT32_MAX:
        return _NON_FINITE  # no finite sample reaches it
    v32 = np.float32(value)
    if float(v32) < value:
        v32 = np.nextafter(v32, np.float32(np.inf))
    return int(np.array(v32, dtype=np.float32).view(np.uint32))


def _biquad_py(v, b0, b1, b2, a1, a2, p, q):
    """One transposed-direct-form-II section on sample ``v`` with state ``(p, q)``.

    Returns ``(output, p, q)``. ``(b * v + q) - a * w``: the recursion through the output ``w`` is
    one fused multiply-add (compiled with ``contract``, like its caller).
    """
    w = b0 * v + p
    return w, (b1 * v + q) - a1 * w, b2 * v - a2 * w


def _key_filter_py(sos, key, K, N, zi, out):
    """Second-order sections over each row of the flat ``key`` into float32 ``out``.

    Transposed direct form II with float64 state ``zi`` (S, K, 2), four sections per pass with
    coefficients and state in registers (missing sections pass the signal through). The output is
    clipped to the float32 range, so a filter's overshoot on huge finite input does not read as an
    Inf; a NaN stays a NaN.
    """
    big = _FLOAT32_MAX
    S = sos.shape[0]
    c = np.zeros((4, 6))
    z = np.zeros((4, 2))
    for k in range(K):
        base = np.uint64(k * N)
        for first in range(0, S, 4):
            c[:] = 0.0
            c[:, 0] = 1.0
            z[:] = 0.0
            for j in range(first, min(S, first + 4)):
                c[j - first] = sos[j]
                z[j - first] = zi[j, k]
            b00, b01, b02, a01, a02 = c[0, 0], c[0, 1], c[0, 2], c[0, 4], c[0, 5]
            b10, b11, b12, a11, a12 = c[1, 0], c[1, 1], c[1, 2], c[1, 4], c[1, 5]
            b20, b21, b22, a21, a22 = c[2, 0], c[2, 1], c[2, 2], c[2, 4], c[2, 5]
            b30, b31, b32, a31, a32 = c[3, 0], c[3, 1], c[3, 2], c[3, 4], c[3, 5]
            p0, q0, p1, q1 = z[0, 0], z[0, 1], z[1, 0], z[1, 1]
            p2, q2, p3, q3 = z[2, 0], z[2, 1], z[3, 0], z[3, 1]
            for n in range(np.uint64(N)):
                v = float(key[base + n]) if first == 0 else float(out[base + n])
                v, p0, q0 = _biquad(v, b00, b01, b02, a01, a02, p0, q0)
                v, p1, q1 = _biquad(v, b10, b11, b12, a11, a12, p1, q1)
                v, p2, q2 = _biquad(v, b20, b21, b22, a21, a22, p2, q2)
                v, p3, q3 = _biquad(v, b30, b31, b32, a31, a32, p3, q3)
                if v > big:
                    v = big
                elif v < -big:
                    v = -big
                out[base + n] = v
            z[0, 0], z[0, 1], z[1, 0], z[1, 1] = p0, q0, p1, q1
            z[2, 0], z[2, 1], z[3, 0], z[3, 1] = p2, q2, p3, q3
            for j in range(first, min(S, first + 4)):
                zi[j, k] = z[j - first]


def _count_non_finite_py(flat):
    """How many samples of the flat float32 array are a NaN or an Inf (vectorised, as bits)."""
    bits = flat.view(np.uint32)
    exponent = np.uint32(_NON_FINITE)
    bad = 0
    for i in range(np.uint64(bits.shape[0])):
        bad += (bits[i] & exponent) == exponent
    return bad


def _gate_block_py(x, key, y, dl, fstate, istate, sumsq, sos, zi, kf, tr_gain, tr_open, tr_db,
                   int_params, float_params, trace):
    """One block through the gate in one compiled call: the checks, the key filter, the kernel and
    the lookahead delay line (one dispatch per gate and block, which the live path needs).

    x, y ``(C, n)``, key ``(K, n)``, dl ``(C, L)`` float32 C-contiguous; kf a float32 scratch of
    at least ``K * n`` (used only with a key filter, ``sos`` of ``S > 0`` sections); the trace
    arrays at least ``n`` long when ``trace``. The state arrays are updated in place, and only
    once the block is known finite. Returns -1, 0 (a non-finite audio sample) or 1 (key).
    """
    C, n = x.shape
    K = key.shape[0]
    L = dl.shape[1]
    # Refuse a block holding a NaN or an Inf before any state moves: the audio here (unless it is
    # its own key), the key here if it is filtered (the filter's state would move), else in the
    # kernel (which leaves its state untouched when it finds one).
    xflat = x.reshape(C * n)
    kflat = key.reshape(K * n)
    self_keyed = xflat.ctypes.data == kflat.ctypes.data and C == K
    if not self_keyed and _count_non_finite(xflat):
        return 0
    if sos.shape[0] > 0:
        if _count_non_finite(kflat):
            return 0 if self_keyed else 1
        kflat = kf[: K * n]
        _key_filter(sos, key.reshape(K * n), K, n, zi, kflat)
    dflat = dl.reshape(C * L)
    if _gate_kernel_nb(C, K, xflat, kflat, kflat.view(np.uint32), y.reshape(C * n), dflat, fstate,
                       istate, sumsq, tr_gain, tr_open, tr_db, int_params, float_params,
                       trace) >= 0:
        return 0 if self_keyed else 1
    # The delay line keeps the last L input samples, oldest first (a left shift copies forward).
    for c in range(C):
        if n >= L:
            for j in range(L):
                dflat[c * L + j] = xflat[c * n + n - L + j]
        else:
            for j in range(L - n):
                dflat[c * L + j] = dflat[c * L + j + n]
            for j in range(n):
                dflat[c * L + L - n + j] = xflat[c * n + j]
    return -1


# Compiled callers reach their callees through these module globals, which _compiled_block()
# binds to compiled code before it compiles the callers (until then: the plain Python versions).
_sample_peak_bits, _ramp, _bits_to_float = _sample_peak_bits_py, _ramp_py, _bits_to_float_py
_gain_after = _gain_after_py
_biquad, _count_non_finite = _biquad_py, _count_non_finite_py
_key_filter, _gate_kernel_nb = _key_filter_py, _gate_kernel

_BLOCK: Any = None
_BLOCK_LOCK = threading.Lock()
_NO_SCRATCH = np.zeros(0, np.float32)  # the filtered-key scratch of a gate without a key filter
_NO_TRACE = (np.zeros(0, np.float32), np.zeros(0, np.bool_), np.zeros(0, np.float32))


def _compiled_block() -> Any:
    """:func:`_gate_block_py` compiled (or loaded from numba's disk cache), once per process."""
    global _BLOCK, _sample_peak_bits, _ramp, _bits_to_float, _biquad, _count_non_finite, _gain_after
    global _key_filter, _gate_kernel_nb
    with _BLOCK_LOCK:
        if _BLOCK is None:
            import numba  # lazily: `import roomgate` stays light

            jit = numba.njit(cache=True, nogil=True)
            _sample_peak_bits = jit(_sample_peak_bits_py)
            _gain_after = jit(_gain_after_py)
            _ramp = jit(_ramp_py)
            _bits_to_float = jit(_bits_to_float_py)
            _count_non_finite = jit(_count_non_finite_py)
            contract = numba.njit(cache=True, nogil=True, fastmath={"contract"})
            _biquad = contract(_biquad_py)
            _key_filter = contract(_key_filter_py)
            _gate_kernel_nb = jit(_gate_kernel)
            _BLOCK = jit(_gate_block_py)
        return _BLOCK


# --------------------------------------------------------------------------------------------------
# Input checks


def _check_sample_rate(sample_rate: Any) -> float:
    """The library's one sample-rate rule (:func:`roomgate.units.check_sample_rate`), as a float."""
    return float(check_sample_rate(sample_rate))


def _as_2d(array: Any, name: str) -> tuple[np.ndarray, bool]:
    """``(channels, samples)`` float32 C-contiguous view or copy, and whether the input was 1-D."""
    arr = np.asarray(array)
    if arr.dtype.kind != "f":
        raise AudioInputError(f"{name}: expected a floating-point array (float32), "
                              f"got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr2 = arr[np.newaxis, :]
    elif arr.ndim == 2:
        arr2 = arr
    else:
        raise AudioInputError(f"{name}: expected shape (samples,) or (channels, samples), "
                              f"got shape {arr.shape}")
    if arr2.shape[0] == 0:
        raise AudioInputError(f"{name}: expected at least one channel, got shape {arr.shape}")
    if arr2.shape[0] > MAX_CHANNELS:
        raise AudioInputError(f"{name}: expected (channels, samples) with at most {MAX_CHANNELS} "
                              f"channels, got shape {arr.shape}; is it (samples, channels)? "
                              "Transpose it")
    return np.ascontiguousarray(arr2, dtype=np.float32), arr.ndim == 1


def _key_2d(key: Any, x: np.ndarray, audio: Any) -> np.ndarray:
    """The key as ``(K, N)`` float32 C-contiguous, ``N`` that of the audio ``x`` (2-D)."""
    k = key
    if not (type(k) is np.ndarray and k.ndim == 2 and k.dtype == np.float32
            and k.flags.c_contiguous):
        k, _ = _as_2d(key, "key")
    if k.shape[1] != x.shape[1]:
        raise AudioInputError(f"key: expected {x.shape[1]} samples like the audio, got key shape "
                              f"{np.shape(key)} for audio shape {np.shape(audio)}")
    return k


def _non_finite_error(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> AudioInputError:
    where = np.argwhere(~np.isfinite(arr))
    channel, sample = (int(where[0][0]), int(where[0][1])) if len(where) else (0, 0)
    value = float(arr[channel, sample])
    return AudioInputError(f"{name}: expected finite samples, got {value!r} at channel {channel}, "
                           f"sample {sample} (shape {shape})")


# --------------------------------------------------------------------------------------------------
# The gate


class _Plan:
    """The kernel's constants for one (settings, sample rate): thresholds, rates, filter."""

    def __init__(self, s: GateSettings, fs: float) -> None:
        self.settings = s
        self.sample_rate = fs
        self.floor = 0.0 if math.isinf(s.range_db) else 10.0 ** (s.range_db / 20.0)
        self.latency = int(round(s.lookahead_ms * fs / 1000.0))
        self.sos = _key_filter_sos(s, fs)
        H = control_period(fs)
        is_rms = s.detector == "rms"
        expand = not math.isinf(s.ratio)
        # With a soft knee the expander's curve only reaches 0 dB at its top.
        open_db, close_db = s.open_threshold_db, s.close_threshold_db
        db_scale = 10.0 if is_rms else 20.0  # the rms detector tracks the mean square
        # (exponents clipped: a threshold of +400 dB must mean "never", not an OverflowError)
        open_thr = 10.0 ** min(open_db / db_scale, 300.0)
        tau = s.detector_ms * fs / 1000.0
        attack = s.attack_ms * fs / 1000.0
        release = s.release_ms * fs / 1000.0
        span = 1.0 - self.floor
        ints = np.zeros(_INT_PARAMS, dtype=np.int64)
        ints[_I_FRAME] = H
        ints[_I_LATENCY] = self.latency
        ints[_I_RMS] = is_rms
        ints[_I_OPEN_BITS] = _float_bits_at_least(open_thr)
        ints[_I_EXPAND] = expand
        ints[_I_EXPONENTIAL] = s.release_curve == "exponential"
        floats = np.zeros(_F_RELEASE_POW + H + 1, dtype=np.float64)
        floats[_F_OPEN] = open_thr
        floats[_F_CLOSE] = 10.0 ** min(close_db / db_scale, 300.0)
        floats[_F_DECAY] = math.exp(-H / tau) if tau > 0 else 0.0
        floats[_F_UP] = span / attack if attack > 0 else 2.0  # 0 ms: one step, whatever the range
        floats[_F_DOWN] = span / release if release > 0 else 2.0
        floats[_F_FLOOR] = self.floor
        floats[_F_HOLD] = s.hold_ms * fs / 1000.0
        floats[_F_SLOPE] = (s.ratio - 1.0) if expand else 0.0
        floats[_F_THRESHOLD_DB] = s.threshold_db
        floats[_F_KNEE_DB] = s.knee_db
        floats[_F_RANGE_DB] = s.range_db
        floats[_F_DB_SCALE] = db_scale
        fall_db = EXPONENTIAL_RELEASE_DB if math.isinf(s.range_db) else -s.range_db
        floats[_F_RELEASE_END] = self.floor if self.floor > 0 else 10.0 ** (-fall_db / 20.0)
        per_sample = 10.0 ** (-fall_db / 20.0 / release) if release > 0 else 0.0
        floats[_F_RELEASE_POW:] = per_sample ** np.arange(H + 1.0)
        self.int_params, self.float_params = ints, floats
        self.sos_or_empty = self.sos if self.sos is not None else np.zeros((0, 6))


class _GateState:
    """All a gate carries from one block to the next, for one stream layout.

    ``fstate`` (float64, ``_FSTATE``) and ``istate`` (int64, ``_ISTATE``) are indexed by the
    ``_G``... and ``_POS``... slots; ``sumsq`` ``(2 K,)`` float64 holds the rms detector's running
    sums over the current frame (committed, then the kernel's working copy); ``delay`` ``(C, L)``
    float32 is the lookahead delay line (the last ``L`` input samples); ``zi`` ``(S, K, 2)``
    float64 the key filter's state.
    """

    __slots__ = ("sample_rate", "channels", "key_channels", "fstate", "istate", "sumsq", "delay",
                 "zi")

    def __init__(self, plan: _Plan, channels: int, key_channels: int) -> None:
        self.sample_rate = plan.sample_rate
        self.channels = channels
        self.key_channels = key_channels
        self.fstate = np.zeros(_FSTATE, dtype=np.float64)
        self.fstate[_G] = self.fstate[_TARGET] = plan.floor  # starts closed
        self.fstate[_KEYDB] = KEY_DB_FLOOR
        self.istate = np.zeros(_ISTATE, dtype=np.int64)
        self.istate[_BELOW] = -1
        self.sumsq = np.zeros(2 * key_channels, dtype=np.float64)
        self.delay = np.zeros((channels, plan.latency), dtype=np.float32)
        self.zi = np.zeros((plan.sos_or_empty.shape[0], key_channels, 2), dtype=np.float64)


def _key_filter_sos(s: GateSettings, fs: float) -> np.ndarray | None:
    """Butterworth high-pass and/or low-pass sections for the key, or None."""
    if s.key_highpass_hz is None and s.key_lowpass_hz is None:
        return None
    from scipy import signal  # lazily: only a filtered key needs scipy.signal

    sections = []
    if s.key_highpass_hz is not None:
        sections.append(signal.butter(KEY_FILTER_ORDER, s.key_highpass_hz, "highpass", fs=fs,
                                      output="sos"))
    if s.key_lowpass_hz is not None:
        sections.append(signal.butter(KEY_FILTER_ORDER, s.key_lowpass_hz, "lowpass", fs=fs,
                                      output="sos"))
    return np.ascontiguousarray(np.concatenate(sections, axis=0), dtype=np.float64)


class Gate:
    """A keyed gate (or downward expander) with hysteresis, hold, range, lookahead and a key filter.

    ``Gate(**settings)`` takes the keyword settings of :class:`GateSettings` (units in the names,
    defaults there); an unknown or invalid one raises :class:`~roomgate.errors.ConfigError`.
    Multi-channel audio gets one shared gain; key channels are linked by max.

    Timing, exactly (``fs`` the sample rate, ``H`` the control frame, 32 samples at 48 kHz):

    - attack: the gain rises in a straight line (linear in amplitude) from the floor to 1 in
      ``attack_ms``, so 10 % -> 90 % of the rise takes ``0.8 * attack_ms``. It starts on the sample
      whose key reaches the threshold (peak detector) or after the frame end that saw it (rms).
    - hold: the gate stays open ``hold_ms``, rounded up to whole frames, after the first frame end
      whose level is below the close threshold ``threshold_db - hysteresis_db``.
    - release: then the gain falls the whole range, 1 to the floor, in ``release_ms`` (to the
      expansion curve, at the same rate, with a finite ``ratio``). Exponential (the default): at a
      constant rate in dB, ``-range_db / release_ms`` dB per ms (80 dB in ``release_ms`` when
      ``range_db = -inf``, then silence), as an analogue gate releases and a room decays; set
      ``release_ms`` to ``-range_db / 60 * RT60`` and the gain falls at the room's own rate.
      Linear: a straight line in amplitude, slow at first, then a cliff (its last tenth of the time
      falls from -20 dB to the floor).
    - the gate starts to close at ``close_threshold_db = threshold_db - hysteresis_db`` (see
      :attr:`GateSettings.close_threshold_db`), so it stays open longer than a level above
      ``threshold_db`` alone would say: through the softer notes of a phrase that opened it, plus
      ``hold_ms`` and the release.
    - lookahead: ``y[n] = x[n - L] * gain[n]``, ``L = round(lookahead_ms * fs / 1000)``; the gain
      uses the key up to ``n``, so with ``lookahead_ms >= attack_ms`` the gate is fully open when a
      transient reaches the output.

    Compared with ``pedalboard.NoiseGate`` (JUCE's ``dsp::NoiseGate``): set alike (no hold,
    hysteresis, range or lookahead), the two agree in the broad sense, 0 dB above the threshold and
    the ``ratio - 1`` expansion slope below it (within 0.1 dB on a 1 kHz staircase; on low notes the
    peak detector's 5 ms release dips between the waveform's peaks and expands a little more).
    Where and why they differ:

    - Detector: JUCE squares the input and smooths it with a ballistics filter (instant attack, a
      fixed 50 ms "release", i.e. a ``50 / (2 pi)`` ms time constant), close to the peak for a held
      note; here it is an explicit peak or rms detector with its own ``detector_ms``.
    - Attack and release: JUCE's are one-pole time constants ``t / (2 pi)`` ms applied to the
      detected *level*, so how fast the gain moves depends on the ratio and on how far the level
      moved, and it never quite arrives; here they are the exact times the *gain* takes to cross its
      range, whatever the level did, which makes lookahead exact.
    - Gain: JUCE computes ``(level / threshold) ** (ratio - 1)`` from every sample's smoothed level,
      so the gain ripples with the waveform of low notes; here the target changes once per control
      frame and the gain ramps toward it sample by sample.
    - JUCE has no hysteresis, hold, range, lookahead, external key, key filter or channel linking
      (each channel is gated on its own).

    Speed (``bench/gate.py``): a minute of mono 48 kHz keyed, with hysteresis, hold and lookahead,
    takes about a fifth of ``pedalboard.NoiseGate``'s time.

    Shape:
        - audio: ``(channels, samples)`` or ``(samples,)`` (mono), any float dtype.
        - key: None (the audio keys itself), ``(key_channels, samples)`` or ``(samples,)``, with the
          same number of samples as the audio.
        - output: the shape of the audio, float32; trace arrays ``(samples,)``.
    """

    def __init__(self, **settings: Any) -> None:
        self._settings = GateSettings.from_dict(settings)
        self._last_sample_rate: float | None = None
        self._plan_cache: _Plan | None = None
        self.reset()

    @classmethod
    def from_settings(cls, settings: GateSettings) -> Gate:
        """A gate from a :class:`GateSettings` (e.g. one loaded from a preset)."""
        if not isinstance(settings, GateSettings):
            raise ConfigError(f"settings: expected a GateSettings, got {type(settings).__name__}")
        return cls(**dataclasses.asdict(settings))

    def __repr__(self) -> str:
        changed = [f"{f.name}={getattr(self._settings, f.name)!r}"
                   for f in dataclasses.fields(GateSettings)
                   if getattr(self._settings, f.name) != f.default]
        return f"Gate({', '.join(changed)})"

    @property
    def settings(self) -> GateSettings:
        """The settings (frozen); change them with ``gate.settings = gate.settings.replace(...)``.

        A new value takes effect at the next call and keeps the streaming state, except that a
        change of key filter or of lookahead resets the gate.
        """
        return self._settings

    @settings.setter
    def settings(self, value: GateSettings) -> None:
        if not isinstance(value, GateSettings):
            raise ConfigError(f"settings: expected a GateSettings, got {type(value).__name__}")
        old, self._settings = self._settings, value
        if (old.key_highpass_hz, old.key_lowpass_hz, old.lookahead_ms) != (
                value.key_highpass_hz, value.key_lowpass_hz, value.lookahead_ms):
            self.reset()

    # -- latency ----------------------------------------------------------------------------------

    def latency_samples_at(self, sample_rate: float) -> int:
        """The lookahead delay in samples at ``sample_rate`` (Hz)."""
        fs = _check_sample_rate(sample_rate)
        return int(round(self._settings.lookahead_ms * fs / 1000.0))

    @property
    def latency_samples(self) -> int:
        """Lookahead delay in samples at the sample rate of the last call (0 before any call)."""
        if self._last_sample_rate is None:
            return 0
        return self.latency_samples_at(self._last_sample_rate)

    # -- state ------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the past: closed gate, silent detector, empty delay line and key filter."""
        self._state: _GateState | None = None

    def _check_layout(self, channels: int, key_channels: int, fs: float) -> None:
        """Refuse to continue the stream with another channel count, key count or sample rate."""
        st = self._state
        if st is not None and (st.channels, st.key_channels, st.sample_rate) != (
                channels, key_channels, fs):
            raise AudioInputError(
                "audio: cannot continue the stream (reset=False) with a different layout: expected "
                f"{st.channels} channel(s) keyed by {st.key_channels} at {st.sample_rate:g} Hz, "
                f"got {channels} keyed by {key_channels} at {fs:g} Hz")

    def _plan(self, sample_rate: float) -> _Plan:
        """Everything derived from the settings and the sample rate, cached for small blocks."""
        cached = self._plan_cache
        if cached is not None and cached.settings is self._settings \
                and cached.sample_rate == sample_rate:
            return cached
        self._settings.check_sample_rate(sample_rate)
        plan = _Plan(self._settings, sample_rate)
        self._plan_cache = plan
        return plan

    # -- processing -------------------------------------------------------------------------------

    def process(self, audio: Any, sample_rate: float, key: Any = None,
                reset: bool = True) -> np.ndarray:
        """Gate ``audio`` keyed by ``key`` (or by itself); ``reset=False`` continues the stream.

        Shape:
            audio ``(C, N)`` or ``(N,)``; key None, ``(K, N)`` or ``(N,)``; returns the shape of
            the audio, float32.
        """
        return self._run(audio, sample_rate, key, reset, trace=False)[0]

    def process_with_trace(self, audio: Any, sample_rate: float, key: Any = None,
                           reset: bool = True) -> tuple[np.ndarray, GateTrace]:
        """Like :meth:`process`, also returning the :class:`GateTrace` aligned with the output.

        Shape:
            as :meth:`process`; each trace array ``(N,)``.
        """
        y, trace = self._run(audio, sample_rate, key, reset, trace=True)
        assert trace is not None
        return y, trace

    __call__ = process

    def process_into(self, audio: np.ndarray, sample_rate: float, out: np.ndarray,
                     key: np.ndarray | None = None,
                     trace: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Gate the next block of the stream into ``out``: the real-time path.

        Always continues the stream (``reset=False``; call :meth:`reset` to start again) and gives
        what :meth:`process` and :meth:`process_with_trace` give, sharing their state. With
        float32 C-contiguous arrays it allocates no arrays once the gate is running (one compiled
        call per block); other inputs are converted first (which allocates).

        Args:
            trace: None, or three arrays at least ``N`` long that receive the
                :class:`GateTrace` (gain float32, is_open bool, key_db float32) in their first
                ``N`` entries.

        Shape:
            audio ``(C, N)`` or ``(N,)``; key None, ``(K, N)`` or ``(N,)``; out the shape of the
            audio, float32, C-contiguous, not overlapping the audio; returns ``out``.

        Raises:
            AudioInputError: for a block or key holding a NaN or an Inf (the gate is left as it
                was), a wrong shape, or a stream continued with a different layout.
        """
        fs = sample_rate if (type(sample_rate) is float and sample_rate.is_integer()  # the rig's own rate
                             and MIN_SAMPLE_RATE_HZ <= sample_rate <= MAX_SAMPLE_RATE_HZ) \
            else _check_sample_rate(sample_rate)
        x = audio
        if not (type(x) is np.ndarray and x.ndim == 2 and x.dtype == np.float32
                and x.flags.c_contiguous):
            x, _ = _as_2d(audio, "audio")
        k = x if key is None else _key_2d(key, x, audio)
        y = out
        if type(y) is np.ndarray and y.ndim == 1 and x.shape[0] == 1:
            y = y[np.newaxis]
        if not (type(y) is np.ndarray and y.shape == x.shape and y.dtype == np.float32
                and y.flags.c_contiguous and y.flags.writeable):
            raise AudioInputError(
                f"out: expected a writable C-contiguous float32 array shaped like the audio "
                f"{np.shape(audio)}, got {getattr(out, 'dtype', type(out).__name__)} "
                f"{np.shape(out)}")
        n = x.shape[1]
        if trace is not None and (len(trace[0]) < n or len(trace[1]) < n or len(trace[2]) < n):
            raise AudioInputError(f"trace: expected three arrays of at least {n} samples, "
                                  f"got lengths {[len(a) for a in trace]}")
        self._check_layout(x.shape[0], k.shape[0], fs)
        bad = self._process_block(x, k, y, trace, fs)
        if bad >= 0:
            if bad == 1:
                raise _non_finite_error("key", k, np.shape(key if key is not None else audio))
            raise _non_finite_error("audio", x, np.shape(audio))
        return out

    def _run(self, audio: Any, sample_rate: float, key: Any, reset: bool,
             trace: bool) -> tuple[np.ndarray, GateTrace | None]:
        """:meth:`process` and :meth:`process_with_trace`: check, allocate, then one block."""
        fs = _check_sample_rate(sample_rate)
        self._plan(fs)  # a key filter the sample rate cannot hold is refused before anything moves
        x, mono = _as_2d(audio, "audio")
        k = x if key is None else _key_2d(key, x, audio)
        if reset:
            self.reset()
        self._check_layout(x.shape[0], k.shape[0], fs)
        y = np.empty(x.shape, dtype=np.float32)
        m = x.shape[1] if trace else 0
        tr = (np.empty(m, np.float32), np.empty(m, np.bool_), np.empty(m, np.float32))
        bad = self._process_block(x, k, y, tr if trace else None, fs, keep_scratch=False)
        if bad >= 0:
            if bad == 1:
                raise _non_finite_error("key", k, np.shape(key if key is not None else audio))
            raise _non_finite_error("audio", x, np.shape(audio))
        return (y[0] if mono else y), (GateTrace(*tr) if trace else None)

    def _process_block(self, x: np.ndarray, k: np.ndarray, y: np.ndarray,
                       trace: tuple[np.ndarray, np.ndarray, np.ndarray] | None, fs: float,
                       keep_scratch: bool = True) -> int:
        """The one path of every call: ``x`` keyed by ``k`` into ``y`` (and the trace), carrying
        the state. Unchecked, for callers that guarantee the checks (the rig's stream, whose
        buffers are made for it): float32 C-contiguous 2-D ``x``, ``k``, ``y``, the stream's
        layout, trace arrays long enough. An empty block starts the state.

        ``keep_scratch``: the filtered key goes to a scratch kept by the gate (for small blocks:
        no allocation), or with False to a new one (for a long block, so as not to keep it).
        Returns -1, or 0 / 1 for a non-finite audio / key sample (the state then unchanged).
        """
        plan = self._plan(fs)
        st = self._state
        if st is None:
            st = self._state = _GateState(plan, x.shape[0], k.shape[0])
        self._last_sample_rate = fs
        n = x.shape[1]
        if n == 0:
            return -1
        if trace is None:
            gains, opened, levels = _NO_TRACE
        else:
            gains, opened, levels = trace
        kf = _NO_SCRATCH
        if plan.sos is not None:
            kf = (self._scratch_key(k.shape[0] * n) if keep_scratch
                  else np.empty(k.shape[0] * n, np.float32))
        return _compiled_block()(x, k, y, st.delay, st.fstate, st.istate, st.sumsq,
                                 plan.sos_or_empty, st.zi, kf, gains, opened, levels,
                                 plan.int_params, plan.float_params, trace is not None)

    def _scratch_key(self, size: int) -> np.ndarray:
        """A float32 scratch of at least ``size`` samples for the filtered key, kept."""
        cached = getattr(self, "_key_scratch", None)
        if cached is None or cached.shape[0] < size:
            cached = np.empty(max(size, 256), np.float32)
            self._key_scratch = cached
        return cached


def gate(audio: Any, sample_rate: float, key: Any = None, **settings: Any) -> np.ndarray:
    """Gate ``audio`` keyed by ``key``: ``Gate(**settings).process(audio, sample_rate, key=key)``.

    See :class:`GateSettings` for the settings (with units and defaults) and :class:`Gate` for the
    timing definitions.

    Shape:
        audio ``(C, N)`` or ``(N,)``; key None, ``(K, N)`` or ``(N,)``; returns the shape of the
        audio, float32.
    """
    return Gate(**settings).process(audio, sample_rate, key=key)
