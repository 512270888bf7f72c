"""A batch on Dask against the same batch on this machine's processes.

    .venv/bin/python bench/batch.py [--takes 100] [--seconds 10] [--runs 3] [--rate 48000]

Issue 17, "Catalogue scale": 100 takes of 10 s through ``roomgate render --scheduler local:2``
(a LocalCluster of 2 worker processes, started and stopped by the command) against
``--jobs 2`` (a process pool of 2): the ratio of wall times is Dask's overhead (goal: at most
1.15); and the same 100 through one process (``--jobs 1``): the speed-up of either.

Each contender is the whole command as a user runs it, in a fresh interpreter, timed from start
to exit (imports, starting the workers, every file, stopping). They run in turn, round after
round, each into an empty folder; the report is each one's median. The takes are roomgate's
sung crescendo (mono, PCM_24), each from another point of the phrase so no two files are the
same; the rig is ``heroes-1977``, whose room is simulated once beforehand into a scratch IR
cache, so every contender starts with the room cached and numba's kernels compiled. At the end
the three folders are compared byte for byte.

The fixed costs are then timed in this process: importing ``distributed``, and a LocalCluster of
2 workers started and stopped with no work (what ``local:2`` adds however few the files).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOMGATE = [sys.executable, "-m", "roomgate.cli"]


def write_takes(folder: Path, count: int, seconds: float, rate: int) -> list[Path]:
    """``count`` mono takes of ``seconds``, each the sung crescendo from another starting point."""
    import numpy as np
    import soundfile

    import roomgate

    phrase = roomgate.sung_crescendo(rate)[0]
    n = int(round(seconds * rate))
    paths = []
    for index in range(count):
        start = (index * 7919 * rate // 100) % phrase.size  # a prime stride through the phrase
        audio = np.resize(np.roll(phrase, -start), n)
        path = folder / f"take{index:03d}.wav"
        soundfile.write(str(path), audio, rate, subtype="PCM_24")
        paths.append(path)
    return paths


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a command. The CPU time is user + system of the command and every
    process under it (the workers, a fork server's children), sampled every 0.1 s (what a process
    spends in its last 0.1 s is missed); unlike the wall time, a busy machine barely moves it."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    root = psutil.Process(process.pid)
    cpu_by_pid: dict[int, float] = {}
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for member in tree:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            cpu_by_pid[member.pid] = times.user + times.system
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    _, stderr = process.communicate()
    if process.returncode != 0:
        sys.exit(f"failed: {' '.join(command[:6])} ...\n{stderr[-2000:]}")
    return elapsed, sum(cpu_by_pid.values())


def fixed_costs() -> tuple[float, float]:
    """(import distributed, a LocalCluster of 2 started and stopped) in seconds."""
    started = time.perf_counter()
    import distributed  # noqa: F401

    imported = time.perf_counter() - started
    from roomgate.batch import DaskExecutor

    started = time.perf_counter()
    with DaskExecutor("local:2"):
        pass
    return imported, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=48_000)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="roomgate-bench-batch-"))
    try:
        env = {**os.environ, "ROOMGATE_CACHE_DIR": str(scratch / "ir-cache")}
        takes = write_takes(scratch, args.takes, args.seconds, args.rate)
        timed([*ROOMGATE, "render", str(takes[0]), "-o", str(scratch / "warm.wav")], env)  # the room, cached
        contenders = {"--jobs 2": ["--jobs", "2"], "--scheduler local:2": ["--scheduler", "local:2"],
                      "--jobs 1": ["--jobs", "1"]}
        walls: dict[str, list[float]] = {name: [] for name in contenders}
        cpus: dict[str, list[float]] = {name: [] for name in contenders}
        for round_index in range(args.runs):
            for name, option in contenders.items():
                folder = scratch / f"out-{name.split()[-1].replace(':', '')}-{name.split()[0][2:]}"
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                wall, cpu = timed([*ROOMGATE, "render", *map(str, takes), "-o", str(folder), *option], env)
                walls[name].append(wall)
                cpus[name].append(cpu)
                print(f"  round {round_index + 1}: {name:20s} {wall:6.1f} s wall, {cpu:6.1f} s CPU "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
        folders = sorted(p for p in scratch.iterdir() if p.name.startswith("out-"))
        same = all((folders[0] / t.name).read_bytes() == (f / t.name).read_bytes() for f in folders[1:] for t in takes)
        imported_s, cluster_s = fixed_costs()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    median = {name: statistics.median(values) for name, values in walls.items()}
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    audio_s = args.takes * args.seconds
    print(f"\n{args.takes} takes of {args.seconds:g} s (mono {args.rate} Hz, heroes-1977), {args.runs} rounds, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; outputs byte-identical: {same}")
    print(f"{'contender':22s} {'wall':>8s} {'min':>8s} {'x real time':>12s} {'CPU':>8s}")
    for name, values in walls.items():
        print(f"{name:22s} {median[name]:7.1f}s {min(values):7.1f}s {audio_s / median[name]:11.0f}x {cpu[name]:7.1f}s")
    dask, pool = "--scheduler local:2", "--jobs 2"
    print(f"\nDask's overhead: local:2 / --jobs 2 = {median[dask] / median[pool]:.2f} in wall time (goal <= 1.15), "
          f"{cpu[dask] / cpu[pool]:.2f} in CPU time")
    print(f"speed-up over one process: --jobs 2 {median['--jobs 1'] / median['--jobs 2']:.2f}x, "
          f"local:2 {median['--jobs 1'] / median['--scheduler local:2']:.2f}x")
    print(f"fixed costs of local:2: import distributed {imported_s:.1f} s, "
          f"a LocalCluster of 2 started and stopped {cluster_s:.1f} s")
    if not same:
        sys.exit("the contenders' outputs differ")


if __name__ == "__main__":
    main()
