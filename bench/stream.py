"""Real-time cost of the live path: time per block as a fraction of the block period.

Main table: the FULL heroes-1977 rig at 48 kHz, as ``roomgate live`` runs it: its simulated room
(three ~2.1 s impulse responses, zero-latency partitioned convolution), the mid and far gates
calibrated on the built-in sung crescendo, the mix, mono duplicated to a stereo output. Each
block goes through ``LiveEngine.callback`` exactly as PortAudio would call it (``indata`` of
shape ``(frames, 1)``, ``outdata`` ``(frames, 2)``), timed with ``time.perf_counter``; the input is
the sung crescendo, looped, so the gates open and close. Also: the one-time start cost (the
stream's buffers, the convolver and the compiled kernels) and the memory traced over 1000
callbacks (should be ~0: the callback allocates no arrays).

Second table: the streaming convolver alone, on synthetic IRs of about the same length (the
teammate's original bench: ``Convolver.process_into``), for comparison.

The machine is shared and noisy: each statistic is the median over ``--runs`` runs, and
``--realtime`` runs the timed loops at SCHED_FIFO priority, as PortAudio's audio thread runs on
Linux (ALSA, JACK), so that other processes do not preempt them (needs CAP_SYS_NICE). Targets
(issue "Live: the rig in real time"): at 128, mean <= 5 %, p99 <= 25 %, no block over its
period; at 32 (0.67 ms), mean <= 20 %.

    PYTHONPATH=src .venv/bin/python bench/stream.py [--sizes 32 64 128 256] [--blocks 4000]
        [--what rig convolver] [--realtime]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from roomgate.dsp.convolve import Convolver  # noqa: E402

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
        _breathe(i)
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


REALTIME = False


def _breathe(index: int) -> None:
    """At SCHED_FIFO, sleep 2 ms every 32 blocks: a real audio thread sleeps between callbacks,
    and a busy loop would run into the kernel's real-time throttling (a 50 ms stall a second)."""
    if REALTIME and index % 32 == 31:
        time.sleep(0.002)


def rig_setup() -> tuple[object, np.ndarray]:
    """The heroes rig calibrated on the sung crescendo, and the crescendo (1, N) at 48 kHz."""
    import roomgate

    song = roomgate.sung_crescendo(SR)
    rig = roomgate.load_preset("heroes-1977")
    rig.calibrate(song, SR)
    return rig, song


def rig_run_once(rig: object, song: np.ndarray, block: int, n_blocks: int, warmup: int, seed: int) -> dict:
    from roomgate.live import LiveEngine

    t0 = time.perf_counter()
    engine = LiveEngine(rig, SR, block, output_channels=2, input_channel=0)
    start_s = time.perf_counter() - t0
    # Blocks as PortAudio hands them over: (frames, channels) float32, C-contiguous; the song
    # looped from a different place each run.
    total = (n_blocks + warmup) * block
    offset = (seed * 7919 * block) % song.shape[1]
    frames = np.resize(np.roll(song[0], -offset), total).reshape(n_blocks + warmup, block, 1)
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    outdata = np.zeros((block, 2), np.float32)
    callback = engine.callback
    times = np.empty(n_blocks)
    for i in range(warmup):
        callback(frames[i], outdata, block, None, None)
    clock = time.perf_counter
    for i in range(n_blocks):
        indata = frames[warmup + i]
        t0 = clock()
        callback(indata, outdata, block, None, None)
        times[i] = clock() - t0
        _breathe(i)
    frac = times / (block / SR)
    return {
        "mean": float(frac.mean()),
        "median": float(np.median(frac)),
        "p99": float(np.percentile(frac, 99)),
        "max": float(frac.max()),
        "over": int((frac > 1).sum()),
        "mean_us": float(times.mean() * 1e6),
        "start_ms": start_s * 1e3,
    }


def traced_growth(rig: object, song: np.ndarray, block: int = 128, n_blocks: int = 1000) -> int:
    """Bytes of memory still held after ``n_blocks`` callbacks (tracemalloc), after a warm-up."""
    import tracemalloc

    from roomgate.live import LiveEngine

    engine = LiveEngine(rig, SR, block, output_channels=2, input_channel=0)
    frames = np.ascontiguousarray(np.resize(song[0], (n_blocks + 100) * block).reshape(-1, block, 1))
    outdata = np.zeros((block, 2), np.float32)
    for i in range(100):
        engine.callback(frames[i], outdata, block, None, None)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(100, n_blocks + 100):
        engine.callback(frames[i], outdata, block, None, None)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held


def print_table(rows: list[tuple[int, dict]], extra: str = "") -> None:
    head = f"{'block':>6} {'period':>9} {'mean':>7} {'median':>7} {'p99':>7} {'max':>7} {'over':>5} {'mean us':>8}{extra}"
    print(head)
    print("-" * len(head))
    for b, med in rows:
        line = (
            f"{b:>6} {b / SR * 1e3:>6.2f} ms {med['mean']:>7.1%} {med['median']:>7.1%} "
            f"{med['p99']:>7.1%} {med['max']:>7.1%} {int(med['over']):>5} {med['mean_us']:>8.1f}"
        )
        if extra:
            line += f" {med['start_ms']:>9.0f}"
        print(line)


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
    ap.add_argument("--what", nargs="+", choices=["rig", "convolver"], default=["rig", "convolver"])
    ap.add_argument("--realtime", action="store_true", help="time at SCHED_FIFO priority, like an audio thread")
    args = ap.parse_args()
    if args.realtime:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
            global REALTIME
            REALTIME = True
            print("timing at SCHED_FIFO priority 20 (as an audio thread), 2 ms of sleep every 32 blocks")
        except (AttributeError, OSError) as error:
            print(f"--realtime: could not get SCHED_FIFO ({error}); timing at normal priority")

    if "rig" in args.what:
        t0 = time.perf_counter()
        rig, song = rig_setup()
        print(f"heroes-1977 at {SR} Hz, full IRs {rig.capture_irs(SR).shape[1]} taps "
              f"({rig.capture_irs(SR).shape[1] / SR:.2f} s) x 3 mics; gates calibrated on the sung crescendo "
              f"(mid {rig.calibration.thresholds_db['mid']:.1f}, far {rig.calibration.thresholds_db['far']:.1f} dBFS); "
              f"set up in {time.perf_counter() - t0:.1f} s")
        print(f"LiveEngine.callback, mono rig -> 2 output channels; {args.runs} runs x {args.blocks} blocks "
              f"after {args.warmup} warm-up; median over runs;")
        print("time per callback as a fraction of the block period; 'start ms': LiveEngine() (the stream)\n")
        rows = []
        for b in args.sizes:
            runs = [rig_run_once(rig, song, b, args.blocks, args.warmup, r) for r in range(args.runs)]
            rows.append((b, {k: statistics.median(r[k] for r in runs) for k in runs[0]}))
        print_table(rows, extra=f" {'start ms':>9}")
        print(f"\nmemory still traced after 1000 callbacks of 128: {traced_growth(rig, song)} bytes\n")
    if "convolver" not in args.what:
        return

    irs = synthetic_irs()
    kw = {"head_size": args.head_size, "max_partition": args.max_partition}
    mode = "one input" if args.inputs == 1 else "3 inputs (one per IR)"
    print(f"The convolver alone: 3 synthetic IRs x {irs.shape[1]} taps ({irs.shape[1] / SR:.1f} s) at {SR} Hz, {mode}")
    print(Convolver(irs, **kw).describe())
    print(f"{args.runs} runs x {args.blocks} blocks after {args.warmup} warm-up; median over runs;")
    call = "process" if args.allocate else "process_into"
    print(f"time per {call} call as a fraction of the block period\n")
    rows = []
    for b in args.sizes:
        runs = [
            run_once(irs, b, args.blocks, args.warmup, r, args.inputs, args.allocate, **kw) for r in range(args.runs)
        ]
        rows.append((b, {k: statistics.median(r[k] for r in runs) for k in runs[0]}))
    print_table(rows)


if __name__ == "__main__":
    main()
