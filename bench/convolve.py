"""Offline convolution speed: roomgate.convolve_offline against scipy and pedalboard.

The rig's work: a 60 s mono dry signal at 48 kHz convolved with three 1.8 s room IRs (synthetic:
decaying noise, RT60 1.5 s, plus a direct spike). All contenders run in this one process on the
same arrays; each time is the median of ``--runs`` runs after one warm-up run.

- ``convolve_offline`` with a warm IR-spectrum cache (the re-render case), a cold one (cache
  cleared before each run) and with one FFT thread;
- ``scipy.signal.oaconvolve`` and ``fftconvolve``, one call per IR (float32 in);
- ``pedalboard.Convolution``, three instances (GPL: a benchmark peer only, never imported by
  roomgate). It returns N samples (the tail is cut) and normalises the IR, so its error is
  reported after a least-squares gain.

Errors are max |y - ref| / max |ref| against a float64 reference (scipy fftconvolve in float64).

    PYTHONPATH=src .venv/bin/python bench/convolve.py [--seconds 60] [--runs 5] [--sweep]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from roomgate.dsp.convolve import (  # noqa: E402
    _choose_fft_size,
    clear_ir_spectrum_cache,
    convolve_offline,
)
from stream import SR, synthetic_irs  # noqa: E402


def timed(fn, runs: int, before=None) -> tuple[float, object]:
    """Median wall time in seconds of fn() over `runs` runs after one warm-up; last result."""
    if before:
        before()
    out = fn()
    times = []
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def rel_err(y: np.ndarray, ref: np.ndarray) -> float:
    n = min(y.shape[-1], ref.shape[-1])
    return float(np.abs(y[..., :n] - ref[..., :n]).max() / np.abs(ref[..., :n]).max())


def dry_signal(seconds: float, seed: int = 1) -> np.ndarray:
    """A stand-in for a sung phrase: noise with a slow syllabic envelope; (1, N) float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = 0.3 * (1 + np.sin(2 * np.pi * 3 * t)) * (0.2 + 0.8 * (t / max(seconds, 1e-9)))
    return (env * rng.standard_normal(n)).astype(np.float32)[None, :]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sweep", action="store_true", help="also time convolve_offline per FFT size")
    ap.add_argument("--no-pedalboard", action="store_true")
    args = ap.parse_args()

    x = dry_signal(args.seconds)
    irs = synthetic_irs()
    m, taps = irs.shape
    n = x.shape[1]
    f_auto = _choose_fft_size(n, taps, 1, m)
    print(f"{args.seconds:g} s mono at {SR} Hz, {m} IRs x {taps} taps; median of {args.runs} runs")
    print(f"convolve_offline FFT frame: {f_auto} (overlap-save, step {f_auto - taps + 1})\n")

    ref = np.stack([scipy.signal.fftconvolve(x[0].astype(np.float64), irs[k].astype(np.float64)) for k in range(m)])
    rows: list[tuple[str, float, float | None]] = []

    t, y = timed(lambda: convolve_offline(x, irs, workers=2), args.runs)
    rows.append(("convolve_offline workers=2, cached IR spectra", t, rel_err(y, ref)))
    t, y = timed(lambda: convolve_offline(x, irs, workers=2), args.runs, before=clear_ir_spectrum_cache)
    rows.append(("convolve_offline workers=2, cold cache", t, rel_err(y, ref)))
    t, y = timed(lambda: convolve_offline(x, irs, workers=1), args.runs)
    rows.append(("convolve_offline workers=1, cached", t, rel_err(y, ref)))
    t, y = timed(lambda: np.stack([scipy.signal.oaconvolve(x[0], irs[k]) for k in range(m)]), args.runs)
    rows.append(("scipy.signal.oaconvolve x3 (float32)", t, rel_err(y, ref)))
    t, y = timed(lambda: np.stack([scipy.signal.fftconvolve(x[0], irs[k]) for k in range(m)]), args.runs)
    rows.append(("scipy.signal.fftconvolve x3 (float32)", t, rel_err(y, ref)))

    t_pb = None
    if not args.no_pedalboard:
        try:
            import pedalboard
        except ImportError:
            print("pedalboard not installed: skipped")
        else:

            def run_pb() -> np.ndarray:
                outs = []
                for k in range(m):
                    conv = pedalboard.Convolution(np.ascontiguousarray(irs[k : k + 1]), sample_rate=SR)
                    outs.append(conv(x, SR)[0])
                return np.stack(outs)

            t_pb, y = timed(run_pb, args.runs)
            # pedalboard (JUCE) normalises the IR: compare after the least-squares gain per mic
            gains = [float(np.dot(y[k], ref[k, :n]) / np.dot(y[k], y[k])) for k in range(m)]
            scaled = y * np.array(gains, np.float32)[:, None]
            rows.append((f"pedalboard.Convolution x3 (gain {np.mean(gains):.3g} undone)", t_pb, rel_err(scaled, ref)))

    base = rows[0][1]
    head = f"{'method':<52} {'time s':>8} {'x offline':>10} {'/ pedalboard':>13} {'rel err':>9}"
    print(head)
    print("-" * len(head))
    for name, t, err in rows:
        vs_pb = f"{t / t_pb:>13.3f}" if t_pb else f"{'-':>13}"
        print(f"{name:<52} {t:>8.3f} {t / base:>10.2f} {vs_pb} {err:>9.1e}")

    tracemalloc.start()
    convolve_offline(x, irs, workers=2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out_mb = m * (n + taps - 1) * 4 / 2**20
    print(f"\nconvolve_offline peak traced memory: {peak / 2**20:.0f} MiB (output itself {out_mb:.0f} MiB)")

    if args.sweep:
        print("\nFFT frame sweep (workers=2, cached spectra):")
        sizes = sorted({2**17, 3 * 2**16, 5 * 2**15, 2**18, 5 * 2**16, 3 * 2**17, 2**19, 5 * 2**17, 3 * 2**18, 2**20, f_auto})
        for f in sizes:
            if f < 2 * taps:
                continue
            t, _ = timed(lambda f=f: convolve_offline(x, irs, workers=2, fft_size=f), args.runs)
            mark = "  <- chosen" if f == f_auto else ""
            print(f"  F={f:>8}  step={f - taps + 1:>8}  {t:.3f} s{mark}")


if __name__ == "__main__":
    main()
