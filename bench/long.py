"""Long takes: peak memory and speed of `roomgate render` streaming from disk, 1 to 60 minutes.

Takes of 1, 10 and 60 minutes of mono 48 kHz PCM_16 are generated on the fly (the demo's sung
crescendo, repeated with a different level each time) into a temporary folder, rendered through
heroes-1977 by the real command line in a fresh process each, and measured: peak resident memory
(the child's ru_maxrss) and x real time. Beside it, the in-memory path (read the whole file,
Rig.render) for the shorter takes, to show what streaming saves. Target: memory flat in the
take's length (60 minutes under 400 MB) and the 60-minute take's x real time within 20 % of the
1-minute take's.

    python bench/long.py [--minutes 1 10 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

RATE = 48_000
MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode); "
    "sys.stderr.write(r.stderr[-2000:] if r.returncode else '')"
)
IN_MEMORY = (
    "import sys, roomgate; a, r = roomgate.read_audio(sys.argv[1]); "
    "x = roomgate.load_preset('heroes-1977').render(a, r); "
    "roomgate.write_audio(sys.argv[2], x.audio, r, 'PCM_16')"
)


def make_take(path: Path, minutes: float) -> None:
    from roomgate.synth.voice import sung_crescendo

    phrase = sung_crescendo(RATE)[0]
    total = int(minutes * 60 * RATE)
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(str(path), "w", RATE, 1, "PCM_16") as handle:
        written = 0
        while written < total:
            gain = 10 ** (rng.uniform(-6, 0) / 20)
            block = (phrase * gain)[: total - written]
            handle.write(block)
            written += block.size


def measure(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a command run in a fresh process."""
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
    seconds, max_rss_kb, code = result.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return float(seconds), int(max_rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--in-memory-up-to", type=float, default=10, help="minutes (default 10)")
    args = parser.parse_args()
    roomgate_cli = [sys.executable, "-m", "roomgate.cli"]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
        folder = Path(folder)
        # Warm the IR cache and numba's compiled kernels so every row pays the same.
        warm = folder / "warm.wav"
        make_take(warm, 0.1)
        measure([*roomgate_cli, "render", str(warm), "-o", str(folder / "warm-out.wav")])
        rows = []
        for minutes in args.minutes:
            take = folder / f"take-{minutes:g}min.wav"
            made = time.perf_counter()
            make_take(take, minutes)
            print(f"# generated {minutes:g} min in {time.perf_counter() - made:.1f} s", file=sys.stderr)
            seconds, rss_mb = measure([*roomgate_cli, "render", str(take), "-o", str(folder / "out.wav")])
            rows.append(("roomgate render (streaming)", minutes, seconds, rss_mb))
            if minutes <= args.in_memory_up_to:
                seconds, rss_mb = measure([sys.executable, "-c", IN_MEMORY, str(take), str(folder / "out-mem.wav")])
                rows.append(("read_audio + Rig.render (in memory)", minutes, seconds, rss_mb))
            take.unlink()
        print(f"{'path':<38}{'take':>8}{'wall s':>9}{'x real time':>13}{'peak RSS':>11}")
        for name, minutes, seconds, rss_mb in rows:
            print(f"{name:<38}{minutes:>6g} m{seconds:>9.1f}{minutes * 60 / seconds:>12.0f}x{rss_mb:>8.0f} MB")
        streaming = [r for r in rows if r[0].startswith("roomgate")]
        if len(streaming) > 1:
            first, last = streaming[0], streaming[-1]
            speed_ratio = (last[1] * 60 / last[2]) / (first[1] * 60 / first[2])
            print(f"x real time, {last[1]:g} min / {first[1]:g} min: {speed_ratio:.2f} (target >= 0.8); "
                  f"peak RSS {last[3]:.0f} MB (target < 400 MB)")


if __name__ == "__main__":
    main()
