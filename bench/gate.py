"""Speed of roomgate's keyed gate against pedalboard's NoiseGate, side by side in one process.

    .venv/bin/python bench/gate.py [--seconds 60] [--runs 15]

The signal: a synthetic sung line (phrases of harmonic notes with pauses, the key, as the close mic
would hear it) and a room mic (the same line, later, quieter, plus room noise), mono, 48 kHz.
roomgate gates the room mic keyed by the close mic, with hysteresis, hold and lookahead (and its
default exponential release; one line shows the linear one); pedalboard
(GPL, a benchmark peer only: never imported by roomgate itself) gates the room mic by itself.
Each contender runs in turn, round after round, after a warm-up (numba's compile or cache load);
the report is the median time per contender. Target: roomgate / pedalboard <= 0.5. One line shows
the same gate in numpy (``dsp/gate_vector.py``, what an offline render uses so as not to load
numba), from a fresh gate each time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

FS = 48000


def sung_line(seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(close mic, room mic), each (1, N) float32: notes at -30..-6 dBFS, pauses, room noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    f0 = np.empty(n)
    level_db = np.empty(n)
    i = 0
    while i < n:  # a note (0.15-0.8 s) or a pause (0.1-0.6 s)
        note = rng.random() < 0.75
        length = int(FS * (rng.uniform(0.15, 0.8) if note else rng.uniform(0.1, 0.6)))
        f0[i:i + length] = rng.uniform(110.0, 440.0)
        level_db[i:i + length] = rng.uniform(-30.0, -6.0) if note else -120.0
        i += length
    # Smooth the level (20 ms) so notes swell and fade instead of switching.
    kernel = np.hanning(int(0.02 * FS))
    amp = np.convolve(10 ** (level_db / 20), kernel / kernel.sum(), mode="same")
    phase = 2 * np.pi * np.cumsum(f0) / FS
    voice = sum(np.sin(h * phase) / h for h in range(1, 8)) * amp
    close = voice + 10 ** (-70 / 20) * rng.standard_normal(n)  # close-mic self-noise
    lag = int(0.044 * FS)  # 15 m of air
    room = 0.25 * np.concatenate([np.zeros(lag), voice[:-lag]])
    room += 10 ** (-55 / 20) * rng.standard_normal(n)  # the room's own noise
    return close[None, :].astype(np.float32), room[None, :].astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="signal length (default 60)")
    parser.add_argument("--runs", type=int, default=15, help="timed rounds (default 15)")
    args = parser.parse_args()

    import pedalboard

    from roomgate.dsp.gate import Gate

    close, room = sung_line(args.seconds)
    roomgate_gate = Gate(threshold_db=-40.0, hysteresis_db=4.0, attack_ms=2.0, hold_ms=80.0,
                         release_ms=250.0, lookahead_ms=2.0)
    peer = pedalboard.NoiseGate(threshold_db=-40.0, ratio=100.0, attack_ms=2.0, release_ms=250.0)
    contenders = {
        "pedalboard.NoiseGate (self-keyed)": lambda: peer(room, FS),
        "roomgate Gate keyed (hysteresis, hold, lookahead)": lambda: roomgate_gate.process(
            room, FS, key=close),
        "roomgate Gate self-keyed": lambda: roomgate_gate.process(room, FS),
        "roomgate Gate keyed + key high-pass 100 Hz": None,
        "roomgate Gate keyed, with trace": lambda: roomgate_gate.process_with_trace(
            room, FS, key=close),
        "roomgate Gate keyed, linear release": None,
    }
    linear = Gate(threshold_db=-40.0, hysteresis_db=4.0, attack_ms=2.0, hold_ms=80.0,
                  release_ms=250.0, lookahead_ms=2.0, release_curve="linear")
    contenders["roomgate Gate keyed, linear release"] = lambda: linear.process(room, FS, key=close)
    filtered = Gate(threshold_db=-40.0, hysteresis_db=4.0, attack_ms=2.0, hold_ms=80.0,
                    release_ms=250.0, lookahead_ms=2.0, key_highpass_hz=100.0)
    contenders["roomgate Gate keyed + key high-pass 100 Hz"] = lambda: filtered.process(
        room, FS, key=close)
    from roomgate.dsp import gate_vector

    def numpy_gate() -> np.ndarray:
        fresh, out = Gate(**vars(roomgate_gate.settings)), np.empty_like(room)
        gate_vector.process_block(fresh, room, close, out, None, float(FS))
        return out

    contenders["roomgate numpy gate keyed (offline renders)"] = numpy_gate

    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(2):  # warm-up: numba compile or cache load, page faults, caches
        for fn in contenders.values():
            fn()
    for _ in range(args.runs):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    _, trace = roomgate_gate.process_with_trace(room, FS, key=close)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"gate benchmark: {args.seconds:g} s mono at {FS} Hz, median of {args.runs} rounds "
          f"after warm-up (room mic open {trace.is_open.mean():.0%} of the time)")
    for name, t in median.items():
        print(f"  {name:52s} {t * 1e3:8.2f} ms  {args.seconds / t:9.0f}x real time")
    main_name = "roomgate Gate keyed (hysteresis, hold, lookahead)"
    ratio = median[main_name] / median["pedalboard.NoiseGate (self-keyed)"]
    print(f"ratio roomgate keyed / pedalboard = {ratio:.2f} (target <= 0.5)")


if __name__ == "__main__":
    main()
