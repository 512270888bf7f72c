"""The whole command, as a user waits for it: ``roomgate render`` against a pedalboard script.

    .venv/bin/python bench/cli.py [--seconds 60] [--runs 5] [--first-runs 3] [--long-minutes 10]

Issue 16, goals 1 and 2. Every figure is a whole process, started and waited for as a user would:
interpreter start-up, imports, reading the file, the work, writing the file.

* **The whole command**: ``roomgate render TAKE -o OUT`` (the ``heroes-1977`` preset) against its
  peer, a 20-line script doing the same chain with pedalboard (read with soundfile; three
  ``pedalboard.Convolution`` with the rig's IRs as ``roomgate ir`` writes them; ``NoiseGate`` on
  the mid and far mics; ``Gain`` trims; sum; peak-normalise to -1 dBFS; write PCM_24). The two
  alternate, run after run, after one untimed warm-up each (numba's cache, the room cache, the
  page cache); the report is each one's median wall time and median peak memory, and the ratios
  roomgate / pedalboard. Goals: time ratio <= 0.8, memory ratio <= 1.25.
* **The first run**: ``roomgate render`` of a ``--first-seconds`` clip (default 15 s) as in a fresh
  install: ``NUMBA_CACHE_DIR`` (numba's documented override of where ``cache=True`` kernels are
  stored; it is consulted before the ``__pycache__`` beside the source) and ``ROOMGATE_CACHE_DIR``
  (the room cache) each point at a new empty folder, so every kernel is compiled and the room is
  simulated. The folder is listed afterwards: the kernels compiled into it prove the override was
  honoured (none at all means numba never ran). Reported beside the warm render of the same clip.
  Goal: <= 6 s.
* **A long take**: ``roomgate render`` of ``--long-minutes`` (default 10) minutes, warm: times real
  time (goal >= 100x) and peak memory.

Children run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed), as an installed
package runs. Peak memory is each child's own ``ru_maxrss`` as ``os.wait4`` returns it for that child (not
``RUSAGE_CHILDREN``, which is the largest of all children so far). This process imports nothing
heavy (the takes are made by a child), so a child's pre-``exec`` copy of it never shows.

The takes are synthetic (numpy, in a temporary folder, never committed): a sung-like harmonic
tone with vibrato, in 3 s phrases whose level climbs from -30 to +2 dB re a soft line (so both
room gates open and shut), with a little hiss, mono 48 kHz PCM_24.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_RATE_HZ = 48_000

# The peer: the same chain with pedalboard, as a user would write it. Thresholds near those the
# rig chooses on these takes; pedalboard's NoiseGate is keyed by its own mic (it has no side
# chain), ratio 100 makes it a gate. pedalboard is GPL: a benchmark peer only.
PEER_SCRIPT = '''\
import sys
import numpy as np
import soundfile as sf
from pedalboard import Convolution, Gain, NoiseGate, Pedalboard

take_path, irs_path, out_path = sys.argv[1:4]
dry, rate = sf.read(take_path, dtype="float32", always_2d=True)
irs, _ = sf.read(irs_path, dtype="float32", always_2d=True)   # (taps, mics): close, mid, far
x = np.zeros((1, dry.shape[0] + irs.shape[0] - 1), np.float32)  # the room rings on after the take
x[0, : dry.shape[0]] = dry.mean(axis=1)
mics = [Pedalboard([Convolution(np.ascontiguousarray(irs[:, 0]), sample_rate=rate)]),
        Pedalboard([Convolution(np.ascontiguousarray(irs[:, 1]), sample_rate=rate),
                    NoiseGate(threshold_db=-26.0, ratio=100.0, attack_ms=5.0, release_ms=400.0),
                    Gain(gain_db=14.0)]),
        Pedalboard([Convolution(np.ascontiguousarray(irs[:, 2]), sample_rate=rate),
                    NoiseGate(threshold_db=-14.0, ratio=100.0, attack_ms=5.0, release_ms=600.0),
                    Gain(gain_db=16.0)])]
mix = sum(board(x, rate) for board in mics)
mix *= 10 ** (-1.0 / 20) / np.max(np.abs(mix))
sf.write(out_path, mix.T, rate, subtype="PCM_24")
'''


# ------------------------------------------------------------------------------------------------
# The takes (made in a child process, so this one stays small)


def make_take(seconds: float, path: str, seed: int = 16) -> None:
    """Write a synthetic sung take: ``seconds`` of mono 48 kHz PCM_24 at ``path``."""
    import numpy as np
    import soundfile

    n = int(round(seconds * SAMPLE_RATE_HZ))
    block = SAMPLE_RATE_HZ * 30  # built in pieces: a 10-minute take stays small in memory
    rng = np.random.default_rng(seed)
    phrase, gap = 3 * SAMPLE_RATE_HZ, int(0.8 * SAMPLE_RATE_HZ)
    ramp = int(0.05 * SAMPLE_RATE_HZ)
    with soundfile.SoundFile(path, "w", SAMPLE_RATE_HZ, 1, "PCM_24") as handle:
        for start in range(0, n, block):
            t = np.arange(start, min(n, start + block)) / SAMPLE_RATE_HZ
            phase = 2 * np.pi * 180.0 * (t - 0.02 / (2 * np.pi * 5.5) * np.cos(2 * np.pi * 5.5 * t))
            voice = sum(np.sin(k * phase) / k for k in range(1, 12))
            index = np.arange(start, start + t.size)
            in_phrase = index % (phrase + gap)
            level_db = -30.0 + 4.0 * ((index // (phrase + gap)) % 9)
            fade = np.clip(np.minimum(in_phrase, phrase - in_phrase) / ramp, 0.0, 1.0)
            envelope = np.where(in_phrase < phrase, fade, 0.0) * 10 ** (level_db / 20)
            audio = 0.3 * voice * envelope + 1e-4 * rng.standard_normal(t.size)
            handle.write(audio.astype(np.float32))


# ------------------------------------------------------------------------------------------------
# Running a child


def run(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run ``command`` to completion: (wall s, peak resident memory MB, CPU s user + system) of
    that child."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall_s = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if child.returncode != 0:
        raise SystemExit(f"failed ({child.returncode}): {' '.join(command)}\n{errors}")
    return wall_s, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # maxrss: KB on Linux


def roomgate_command() -> list[str]:
    """``roomgate`` as installed beside this interpreter (the console script), else ``-m``."""
    script = Path(sys.executable).with_name("roomgate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "roomgate"]


def alternate(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, list[tuple[float, float, float]]]:
    """One untimed warm-up each, then ``runs`` rounds, the commands taking turns."""
    for command in commands.values():
        run(command, env)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for round_number in range(runs):
        order = list(commands.items())
        if round_number % 2:  # neither always runs right after the other's page-cache traffic
            order.reverse()
        for name, command in order:
            results[name].append(run(command, env))
    return results


def median(values: list[tuple[float, float, float]], index: int) -> float:
    return statistics.median(v[index] for v in values)


def spread(values: list[tuple[float, float, float]], index: int) -> str:
    return f"{min(v[index] for v in values):.2f} .. {max(v[index] for v in values):.2f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the take for goal 1, s (default 60)")
    parser.add_argument("--runs", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--first-seconds", type=float, default=15.0, help="the first-run clip, s (default 15)")
    parser.add_argument("--first-runs", type=int, default=3, help="fresh first runs (default 3; 0 skips)")
    parser.add_argument("--long-minutes", type=float, default=10.0, help="the long take, min (default 10; 0 skips)")
    parser.add_argument("--long-runs", type=int, default=1, help="timed long renders (default 1)")
    parser.add_argument("--make-take", nargs=2, metavar=("SECONDS", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_take:
        make_take(float(args.make_take[0]), args.make_take[1])
        return

    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)  # the warm runs use the ordinary caches
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: every module's bytecode cached
    roomgate = roomgate_command()
    with tempfile.TemporaryDirectory(prefix="roomgate-bench-cli-") as folder:
        work = Path(folder)
        takes = {"main": (args.seconds, work / "take.wav"), "first": (args.first_seconds, work / "first.wav")}
        if args.long_minutes > 0:
            takes["long"] = (60 * args.long_minutes, work / "long.wav")
        for seconds, path in takes.values():
            subprocess.run([sys.executable, __file__, "--make-take", str(seconds), str(path)], check=True)
        irs = work / "irs.wav"
        run([*roomgate, "ir", "-o", str(irs)], env)  # as the peer's user would get them (also warms the room cache)
        peer_script = work / "peer.py"
        peer_script.write_text(PEER_SCRIPT)
        take = str(takes["main"][1])
        print(f"bench/cli.py: {args.seconds:g} s mono {SAMPLE_RATE_HZ} Hz PCM_24 take, preset heroes-1977; "
              f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}; {sys.executable}")
        print(f"  roomgate:   {' '.join(Path(c).name for c in roomgate)} render TAKE -o OUT")
        print("  pedalboard: python peer.py TAKE IRS OUT (soundfile in/out, 3 Convolution, 2 NoiseGate, "
              "Gain, sum, normalise)")

        # -- goal 1: the whole command ------------------------------------------------------------
        commands = {
            "roomgate render": [*roomgate, "render", take, "-o", str(work / "out-roomgate.wav")],
            "pedalboard script": [sys.executable, str(peer_script), take, str(irs), str(work / "out-peer.wav")],
        }
        results = alternate(commands, args.runs, env)
        print(f"\nthe whole command, {args.seconds:g} s take: medians of {args.runs} alternating runs "
              "(after a warm-up each), wall time and peak memory (min .. max)")
        for name, values in results.items():
            print(f"  {name:20s} {median(values, 0):6.2f} s ({spread(values, 0)})   "
                  f"{median(values, 1):6.0f} MB ({spread(values, 1)})   cpu {median(values, 2):5.2f} s")
        ours, peer = results["roomgate render"], results["pedalboard script"]
        time_ratio = median(ours, 0) / median(peer, 0)
        memory_ratio = median(ours, 1) / median(peer, 1)
        print(f"  ratio roomgate / pedalboard: time {time_ratio:.2f} (goal <= 0.8: {verdict(time_ratio <= 0.8)}), "
              f"memory {memory_ratio:.2f} (goal <= 1.25: {verdict(memory_ratio <= 1.25)}); "
              f"cpu time {median(ours, 2) / median(peer, 2):.2f}")
        load = os.getloadavg()[0]
        if load > 0.5 * (os.cpu_count() or 1):
            print(f"  (load average {load:.2f} on {os.cpu_count()} CPUs: other work shares the machine, wall "
                  "times run long; the cpu-time ratio is the steadier figure)")

        # -- goal 2: the first run ----------------------------------------------------------------
        if args.first_runs > 0:
            clip = str(takes["first"][1])
            out = str(work / "out-first.wav")
            firsts = []
            compiled: list[int] = []
            for _ in range(args.first_runs):
                with tempfile.TemporaryDirectory(prefix="numba-") as numba_cache, \
                        tempfile.TemporaryDirectory(prefix="rooms-") as room_cache:
                    fresh = {**env, "NUMBA_CACHE_DIR": numba_cache, "ROOMGATE_CACHE_DIR": room_cache}
                    firsts.append(run([*roomgate, "render", clip, "-o", out], fresh))
                    compiled.append(sum(1 for p in Path(numba_cache).rglob("*.nbc")))
                    if not any(Path(room_cache).iterdir()):
                        raise SystemExit(f"the room cache {room_cache} stayed empty: ROOMGATE_CACHE_DIR not honoured?")
            warm = alternate({"roomgate": [*roomgate, "render", clip, "-o", out],
                              "pedalboard": [sys.executable, str(peer_script), clip, str(irs), out]},
                             args.runs, env)
            first_s = median(firsts, 0)
            warm_s = median(warm["roomgate"], 0)
            print(f"\nthe first run, {args.first_seconds:g} s clip, empty NUMBA_CACHE_DIR and ROOMGATE_CACHE_DIR "
                  f"(median of {args.first_runs}):")
            print(f"  roomgate render, first run  {first_s:6.2f} s ({spread(firsts, 0)})   {median(firsts, 1):6.0f} MB"
                  f"   cpu {median(firsts, 2):5.2f} s; numba kernels compiled into the empty cache: {compiled}")
            print(f"  roomgate render, warm       {warm_s:6.2f} s   cpu {median(warm['roomgate'], 2):5.2f} s;   pedalboard "
                  f"script {median(warm['pedalboard'], 0):6.2f} s (medians of {args.runs})")
            print(f"  ratio first / warm: {first_s / warm_s:.1f}; first run {first_s:.2f} s "
                  f"(goal <= 6 s: {verdict(first_s <= 6.0)})")

        # -- a long take ---------------------------------------------------------------------------
        if "long" in takes:
            seconds, path = takes["long"]
            command = [*roomgate, "render", str(path), "-o", str(work / "out-long.wav")]
            longs = [run(command, env) for _ in range(args.long_runs)]
            long_s = median(longs, 0)
            print(f"\na long take, {seconds / 60:g} min (median of {args.long_runs}): {long_s:.2f} s, "
                  f"{seconds / long_s:.0f}x real time (goal >= 100x: {verdict(seconds / long_s >= 100)}), "
                  f"{median(longs, 1):.0f} MB peak, cpu {median(longs, 2):.2f} s ({seconds / median(longs, 2):.0f}x)")
        for path in work.glob("out-*.wav"):
            if path.stat().st_size < 1000:
                raise SystemExit(f"{path} is suspiciously small")


if __name__ == "__main__":
    main()
