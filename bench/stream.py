"""Real-time cost of the streaming convolver: time per block as a fraction of the block period.

Three 1.8 s impulse responses at 48 kHz (synthetic: exponentially decaying noise with RT60 1.5 s
plus a direct spike, as the room would give), one dry input; for each block size, a fresh
``Convolver`` runs ``--blocks`` blocks after ``--warmup`` blocks, timing each ``process_into``
call with ``time.perf_counter``. The machine is shared and noisy: each statistic is the median
over ``--runs`` runs. Targets (issue "Live: the rig in real time"): at 128, mean <= 5 %,
p99 <= 25 %, no block over its period; at 32, mean <= 20 %.

    PYTHONPATH=src .venv/bin/python bench/stream.py [--sizes 32 64 128 256] [--blocks 4000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from roomgate.convolve import Convolver  # noqa: E402

SR = 48_000


def synthetic_irs(n_mics: int = 3, seconds: float = 1.8, rt60_s: float = 1.5, seed: int = 0) -> np.ndarray:
    """Decaying noise (-60 dB at rt60_s) with a direct spike at a few ms per mic; (M, L) float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = 10 ** (-3 * t / rt60_s)  # -60 dB at rt60_s
    irs = 0.1 * rng.standard_normal((n_mics, n)) * env
    for m in range(n_mics):
        irs[m, 10 + 700 * m] += 1.0 / (1 + m)  # direct path, later and weaker for farther mics
    return irs.astype(np.float32)


def run_once(
    irs: np.ndarray, block: int, n_blocks: int, warmup: int, seed: int, inputs: int, allocate: bool, **kw
) -> dict:
    conv = Convolver(irs, **kw)
    rng = np.random.default_rng(seed)
    # one row per input, blocks contiguous: what a live callback hands over after indata.T copy
    x = (0.1 * rng.standard_normal((n_blocks + warmup, inputs, block))).astype(np.float32)
    out = np.empty((irs.shape[0], block), np.float32)
    times = np.empty(n_blocks)
    for i in range(warmup):
        conv.process_into(x[i], out)
    for i in range(n_blocks):
        blk = x[warmup + i]
        if allocate:
            t0 = time.perf_counter()
            conv.process(blk)
        else:
            t0 = time.perf_counter()
            conv.process_into(blk, out)
        times[i] = time.perf_counter() - t0
    period = block / SR
    frac = times / period
    return {
        "mean": float(frac.mean()),
        "median": float(np.median(frac)),
        "p99": float(np.percentile(frac, 99)),
        "max": float(frac.max()),
        "over": int((frac > 1).sum()),
        "mean_us": float(times.mean() * 1e6),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--blocks", type=int, default=4000, help="timed blocks per run")
    ap.add_argument("--warmup", type=int, default=500, help="untimed blocks first")
    ap.add_argument("--runs", type=int, default=3, help="runs per size; medians are printed")
    ap.add_argument("--head-size", type=int, default=128)
    ap.add_argument("--max-partition", type=int, default=2048)
    ap.add_argument("--inputs", type=int, choices=[1, 3], default=1, help="1 dry input or 3 (one per IR)")
    ap.add_argument("--allocate", action="store_true", help="time process() (allocates) not process_into()")
    args = ap.parse_args()

    irs = synthetic_irs()
    kw = {"head_size": args.head_size, "max_partition": args.max_partition}
    mode = "one input" if args.inputs == 1 else "3 inputs (one per IR)"
    print(f"3 IRs x {irs.shape[1]} taps ({irs.shape[1] / SR:.1f} s) at {SR} Hz, {mode}")
    print(Convolver(irs, **kw).describe())
    print(f"{args.runs} runs x {args.blocks} blocks after {args.warmup} warm-up; median over runs;")
    call = "process" if args.allocate else "process_into"
    print(f"time per {call} call as a fraction of the block period\n")
    head = f"{'block':>6} {'period':>9} {'mean':>7} {'median':>7} {'p99':>7} {'max':>7} {'over':>5} {'mean us':>8}"
    print(head)
    print("-" * len(head))
    for b in args.sizes:
        runs = [
            run_once(irs, b, args.blocks, args.warmup, r, args.inputs, args.allocate, **kw) for r in range(args.runs)
        ]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{b:>6} {b / SR * 1e3:>6.2f} ms {med['mean']:>7.1%} {med['median']:>7.1%} "
            f"{med['p99']:>7.1%} {med['max']:>7.1%} {int(med['over']):>5} {med['mean_us']:>8.1f}"
        )


if __name__ == "__main__":
    main()
