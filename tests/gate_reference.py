"""A slow, obviously correct reference of roomgate's gate: one Python loop, one sample at a time.

It implements the algorithm described in ``roomgate.dsp.gate`` (key filter, control-frame detector,
state machine with hysteresis and hold, target gain, straight-line attack, exponential
or straight-line release, lookahead) without any of the fast kernel's tricks: no closed-form ramps,
no tables, no integer views, no flat arrays. Only the filter design (``scipy.signal.butter``) and
the settings validation are shared with the library.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from roomgate.dsp.gate import (EXPONENTIAL_RELEASE_DB, KEY_DB_FLOOR, KEY_FILTER_ORDER,
                               GateSettings, control_period)


def _biquad_cascade(sos: np.ndarray, row: np.ndarray) -> list[float]:
    """Filter one channel through second-order sections, transposed direct form II, float64."""
    out = [float(v) for v in row]
    for b0, b1, b2, a0, a1, a2 in sos:
        b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        z1 = z2 = 0.0
        for n, v in enumerate(out):
            w = b0 * v + z1
            z1 = (b1 * v + z2) - a1 * w
            z2 = b2 * v - a2 * w
            out[n] = w
    return out


def reference_gate(audio, sample_rate, key=None, **settings):
    """Gate ``audio`` (C, N) keyed by ``key`` (K, N) or by itself, from a fresh state.

    Returns ``(y, gain, is_open, key_db)``: y (C, N) float32 and the (N,) trace.
    """
    s = GateSettings(**settings)
    fs = float(sample_rate)
    x = np.asarray(audio, dtype=np.float32)
    k = x if key is None else np.asarray(key, dtype=np.float32)
    C, N = x.shape
    K = k.shape[0]

    # 1. Key filter, then float32 like the key the detector sees.
    sos = []
    if s.key_highpass_hz is not None:
        sos.append(signal.butter(KEY_FILTER_ORDER, s.key_highpass_hz, "highpass", fs=fs,
                                 output="sos"))
    if s.key_lowpass_hz is not None:
        sos.append(signal.butter(KEY_FILTER_ORDER, s.key_lowpass_hz, "lowpass", fs=fs,
                                 output="sos"))
    if sos:
        big = float(np.finfo(np.float32).max)
        k = np.array([[min(max(v, -big), big) for v in _biquad_cascade(np.concatenate(sos), row)]
                      for row in k], dtype=np.float32)

    H = control_period(fs)
    L = int(round(s.lookahead_ms * fs / 1000.0))
    floor = 0.0 if s.range_db == -math.inf else 10.0 ** (s.range_db / 20.0)
    rms = s.detector == "rms"
    gate_only = s.ratio == math.inf
    open_db = s.threshold_db + (0.0 if gate_only else s.knee_db / 2.0)
    close_db = open_db - s.hysteresis_db
    scale = 10.0 if rms else 20.0  # rms works on the mean square
    open_thr = 10.0 ** (open_db / scale)
    close_thr = 10.0 ** (close_db / scale)
    tau = s.detector_ms * fs / 1000.0
    decay = math.exp(-H / tau) if tau > 0 else 0.0
    attack = s.attack_ms * fs / 1000.0
    release = s.release_ms * fs / 1000.0
    up = (1.0 - floor) / attack if attack > 0 else 2.0
    down = (1.0 - floor) / release if release > 0 else 2.0
    hold = s.hold_ms * fs / 1000.0
    # The exponential release: a constant factor per sample, falling the range in release_ms
    # (80 dB toward silence), closing to the target at the floor (-80 dB toward silence).
    exponential = s.release_curve == "exponential"
    fall_db = EXPONENTIAL_RELEASE_DB if s.range_db == -math.inf else -s.range_db
    factor = 10.0 ** (-fall_db / 20.0 / release) if release > 0 else 0.0
    release_end = floor if floor > 0 else 10.0 ** (-fall_db / 20.0)

    def closed_gain(env: float) -> float:
        if gate_only or env <= 0.0:
            return floor
        over = scale * math.log10(env) - s.threshold_db
        w = s.knee_db
        if over >= w / 2:
            gdb = 0.0
        elif w > 0 and over > -w / 2:
            gdb = -(s.ratio - 1.0) * (over - w / 2) ** 2 / (2 * w)
        else:
            gdb = (s.ratio - 1.0) * over
        return floor if gdb < s.range_db else max(10.0 ** (gdb / 20.0), floor)

    y = np.zeros((C, N), dtype=np.float32)
    gain = np.zeros(N, dtype=np.float32)
    is_open_tr = np.zeros(N, dtype=bool)
    key_db_tr = np.zeros(N, dtype=np.float32)

    g = target = floor
    env = 0.0
    is_open = False
    below = None  # samples since the level was first seen below the close threshold
    frame_peak = 0.0
    sumsq = [0.0] * K
    pos = 0
    key_db = KEY_DB_FLOOR
    for n in range(N):
        a = max(abs(float(k[j, n])) for j in range(K))
        frame_peak = max(frame_peak, a)
        if rms:
            for j in range(K):
                sumsq[j] += float(k[j, n]) * float(k[j, n])
        if not is_open and not rms and a >= open_thr:  # the peak detector opens on the sample
            is_open, below, target = True, None, 1.0
            key_db = 20.0 * math.log10(a)
        if g < target:
            g = min(g + up, target)
        elif g > target and exponential:
            g = g * factor
            if g <= max(target, release_end):
                g = target
        elif g > target:
            g = max(g - down, target)
        for c in range(C):
            delayed = float(x[c, n - L]) if n >= L else 0.0
            y[c, n] = delayed * g
        gain[n] = g
        is_open_tr[n] = is_open
        key_db_tr[n] = key_db
        pos += 1
        if pos == H:  # frame end
            if rms:
                ms = max(sumsq) / H
                sumsq = [0.0] * K
                env = ms + decay * (env - ms)
            else:
                env = max(frame_peak, env * decay)
            frame_peak = 0.0
            pos = 0
            if env >= open_thr:
                is_open, below = True, None
            elif is_open:
                if env >= close_thr:
                    below = None
                else:
                    below = 0 if below is None else below + H
                    if below >= hold:
                        is_open, below = False, None
            key_db = scale * math.log10(env) if env > 0 else KEY_DB_FLOOR
            target = 1.0 if is_open else closed_gain(env)
    return y, gain, is_open_tr, key_db_tr
