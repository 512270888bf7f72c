"""Speed of a whole render through the heroes rig, against the same work done with pedalboard.

    .venv/bin/python bench/render.py [--seconds 60] [--runs 7] [--cold-runs 3] [--profile]

Issue "The room": a minute of singing through the room should render three times as fast as
pedalboard (target: roomgate / pedalboard <= 0.3), and a cold heroes room, calibrated, should take
under 2 s once the libraries are imported.

The signal: roomgate's synthetic sung crescendo (a baritone, hushed to shouted, ~24.6 s) tiled to
``--seconds`` of mono at 48 kHz. The rig: the ``heroes-1977`` preset, calibrated on that take (its
p65 / p90 thresholds resolved to dBFS), its impulse responses simulated once beforehand.

Contenders, each run in turn, round after round, after a warm-up (the IR spectra cache, page
faults); the report is each one's median wall time and median CPU time (user + system, all
threads: steadier than wall time on a shared machine), and their ratios:

* ``roomgate Rig.process``: the DSP only: capture (three 2.1 s IRs, one shared forward FFT),
  the mid and far gates keyed by the close mic (RMS detector, hysteresis, hold), trims and the sum
  (a block this long goes through the numpy gates and mixer: no numba).
* ``roomgate Rig.render``: the offline job: the above plus the room's tail (the take is 2.1 s
  longer), the calibration, the report timeline and peak normalisation, in one pass over the take
  held whole.
* ``pedalboard``: the same work as pedalboard can do it: three ``pedalboard.Convolution`` (one per
  mic, the rig's capture IRs given as arrays), two ``pedalboard.NoiseGate`` with the rig's
  thresholds, attack and release (ratio 100, i.e. a gate), each keyed by its own mic, as pedalboard
  has no side-chain, and a numpy sum with the trims. pedalboard is GPL: a benchmark peer only,
  never imported by roomgate itself. JUCE's convolution normalises every IR it loads, so its output
  is scaled back here (a factor folded into the trims, measured once on an impulse) and the two
  mixes are compared at the end as a sanity check; they differ where the gates differ (keyed versus
  self-keyed, hold and hysteresis), not in level.

The cold room runs in a fresh interpreter per run (``--cold-runs``), with an empty IR cache: it
reports the imports (numpy + roomgate, then pyroomacoustics with the scipy it pulls in: 1 s of
CPU on its own on this machine) apart from the work: the room simulation (``Rig.capture_irs`` at
48 kHz) and ``Rig.calibrate`` on the minute; and whether numba was imported at all (an offline
render needs none). The same is then repeated in this process, where every import is warm.

``--profile`` adds a cProfile of one ``Rig.process`` call (the 25 most expensive functions by
cumulative and by own time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

FS = 48_000
PRESET = "heroes-1977"
GATE_RATIO = 100.0  # pedalboard.NoiseGate as a gate (its ratio is an expander's slope)


def sung_take(seconds: float, sample_rate: int = FS):
    """The sung crescendo tiled (and cropped) to ``seconds``: ``(1, N)`` float32."""
    import numpy as np

    import roomgate

    phrase = roomgate.sung_crescendo(sample_rate)
    n = int(round(seconds * sample_rate))
    reps = -(-n // phrase.shape[1])
    return np.ascontiguousarray(np.tile(phrase, (1, reps))[:, :n])


# ------------------------------------------------------------------------------------------------
# The cold room, in a fresh interpreter


def cold_child(take_path: str) -> None:
    """Run in a fresh interpreter: time the imports, then a cold room and its calibration."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    import numpy as np

    import roomgate
    from roomgate.rig import rig as _rig  # noqa: F401 - the rig module and what it imports at the top

    times["import numpy + roomgate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    import pyroomacoustics  # noqa: F401 - pulls in most of scipy (signal, spatial, ...)

    times["import pyroomacoustics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    import scipy.signal  # noqa: F401 - whatever pyroomacoustics left

    times["import scipy.signal (rest)"] = time.perf_counter() - t0
    take = np.load(take_path)

    with tempfile.TemporaryDirectory() as cache:
        os.environ["ROOMGATE_CACHE_DIR"] = cache  # an empty IR cache: the room is simulated
        t0 = time.perf_counter()
        rig = roomgate.load_preset(PRESET)
        rig.capture_irs(FS)
        times["room: simulate the IRs"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rig.calibrate(take, FS)
        times["calibrate"] = time.perf_counter() - t0
    times["numba imported (1 = yes)"] = float("numba" in sys.modules)
    print(json.dumps(times))


def cold_in_fresh_process(take_path: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, __file__, "--cold-child", take_path], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_in_process(take) -> dict[str, float]:
    import roomgate

    times = {}
    with tempfile.TemporaryDirectory() as cache:
        previous = os.environ.get("ROOMGATE_CACHE_DIR")
        os.environ["ROOMGATE_CACHE_DIR"] = cache
        from roomgate.acoustics.cache import clear_memory_cache

        clear_memory_cache()  # the rows this process simulated before: the room is simulated again
        try:
            t0 = time.perf_counter()
            rig = roomgate.load_preset(PRESET)
            rig.capture_irs(FS)
            times["room: simulate the IRs"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            rig.calibrate(take, FS)
            times["calibrate"] = time.perf_counter() - t0
        finally:
            if previous is None:
                del os.environ["ROOMGATE_CACHE_DIR"]
            else:
                os.environ["ROOMGATE_CACHE_DIR"] = previous
    return times


# ------------------------------------------------------------------------------------------------
# pedalboard doing the same work


def pedalboard_convolutions(irs, sample_rate: int, workdir: str) -> list[Any]:
    """One ``pedalboard.Convolution`` per IR row: from the array where pedalboard takes one
    (>= 0.9.10), else from a temporary WAV file."""
    import numpy as np
    import pedalboard

    plugins = []
    for index, row in enumerate(irs):
        row = np.ascontiguousarray(row, dtype=np.float32)
        try:
            plugins.append(pedalboard.Convolution(row, sample_rate=float(sample_rate)))
        except TypeError:  # an older pedalboard: a path only
            import soundfile

            path = str(Path(workdir) / f"ir{index}.wav")
            soundfile.write(path, row, sample_rate, subtype="FLOAT")
            plugins.append(pedalboard.Convolution(path))
    return plugins


def juce_scale(plugin, ir, sample_rate: int) -> float:
    """The gain JUCE applied to an IR when loading it (it normalises), measured with an impulse."""
    import numpy as np

    probe = np.zeros((1, ir.shape[0] + 16), np.float32)
    probe[0, 0] = 1.0
    heard = plugin(probe, sample_rate)[0, : ir.shape[0]]
    return float(np.dot(heard, ir) / np.dot(ir, ir))


# ------------------------------------------------------------------------------------------------


def timed_rounds(contenders: dict[str, Callable[[], Any]], runs: int,
                 warmup: int = 1) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU times (process-wide: every thread) of each contender, round after round."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, fn in contenders.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return times, cpu


def profile(fn: Callable[[], Any], rows: int = 25) -> None:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    for key in ("cumulative", "tottime"):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats(key).print_stats(rows)
        print(f"\n--- cProfile of one Rig.process, by {key} ---")
        print("\n".join(line for line in stream.getvalue().splitlines() if line.strip())[:6000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="take length, s (default 60)")
    parser.add_argument("--runs", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh interpreters for the cold room "
                        "(default 3; 0 skips)")
    parser.add_argument("--profile", action="store_true", help="cProfile one Rig.process")
    parser.add_argument("--cold-child", metavar="TAKE_NPY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_child(args.cold_child)
        return

    import numpy as np
    import pedalboard

    import roomgate

    take = sung_take(args.seconds)
    seconds = take.shape[1] / FS
    rig = roomgate.load_preset(PRESET)
    irs = rig.capture_irs(FS)  # simulated (or read from the cache) once, before any timing
    calibration = rig.calibrate(take, FS)
    print(f"render benchmark: {seconds:g} s of the sung crescendo, mono {FS} Hz, preset {PRESET}; "
          f"IRs {irs.shape[0]} x {irs.shape[1]} ({irs.shape[1] / FS:.2f} s); "
          f"{os.cpu_count()} CPU(s); pedalboard {pedalboard.__version__}, numpy {np.__version__}")
    print("thresholds: " + ", ".join(f"{k} {v:.1f} dBFS" for k, v in calibration.thresholds_db.items()))

    with tempfile.TemporaryDirectory() as workdir:
        convolutions = pedalboard_convolutions(irs, FS, workdir)
    scales = [juce_scale(p, ir, FS) for p, ir in zip(convolutions, irs)]
    gates = {}
    for mic in rig.gated_mics:
        settings = mic.gate.settings  # type: ignore[union-attr]
        gates[mic.name] = pedalboard.NoiseGate(
            threshold_db=float(rig.threshold_db(mic.name)), ratio=GATE_RATIO,
            attack_ms=float(settings.get("attack_ms", 2.0)), release_ms=float(settings.get("release_ms", 250.0)))
    # Trims with JUCE's IR normalisation undone, folded in (one multiply per mic, as the rig does).
    trims = np.array([10 ** (m.gain_db / 20) / s for m, s in zip(rig.config.mics, scales)], np.float32)

    def peer() -> np.ndarray:
        out = np.zeros_like(take)
        for index, (mic, conv) in enumerate(zip(rig.config.mics, convolutions)):
            signal = conv(take, FS)
            if mic.name in gates:
                signal = gates[mic.name](signal, FS)
            out += trims[index] * signal
        return out

    contenders: dict[str, Callable[[], Any]] = {
        "roomgate Rig.process (capture + gates + mix)": lambda: rig.process(take, FS, reset=True),
        "pedalboard 3 Convolution + 2 NoiseGate + sum": peer,
        "roomgate Rig.render (+ 2.1 s tail, report, normalise)": lambda: rig.render(take, FS),
    }
    times, cpu = timed_rounds(contenders, args.runs)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    cpu_median = {name: statistics.median(ts) for name, ts in cpu.items()}
    names = list(contenders)
    print(f"\nmedian of {args.runs} rounds after a warm-up (min .. max); load average {os.getloadavg()[0]:.2f}:")
    for name in names:
        t = median[name]
        print(f"  {name:55s} {t:7.3f} s  ({min(times[name]):.3f} .. {max(times[name]):.3f})  "
              f"{seconds / t:6.1f}x real time   cpu {cpu_median[name]:6.3f} s")
    process_ratio = median[names[0]] / median[names[1]]
    render_ratio = median[names[2]] / median[names[1]]
    fastest = {name: min(ts) for name, ts in times.items()}
    verdict = "met" if process_ratio <= 0.3 else "MISSED"
    print(f"ratio roomgate process / pedalboard = {process_ratio:.2f} (target <= 0.3: {verdict}); "
          f"of the fastest rounds {fastest[names[0]] / fastest[names[1]]:.2f}")
    print(f"ratio roomgate render  / pedalboard = {render_ratio:.2f}; "
          f"of the fastest rounds {fastest[names[2]] / fastest[names[1]]:.2f}")
    print(f"cpu-time ratios: process / pedalboard = {cpu_median[names[0]] / cpu_median[names[1]]:.2f}, "
          f"render / pedalboard = {cpu_median[names[2]] / cpu_median[names[1]]:.2f}")

    ours, theirs = rig.process(take, FS, reset=True)[0], peer()[0]
    level = 20 * np.log10(np.sqrt(np.mean(ours.astype(np.float64) ** 2)) / np.sqrt(np.mean(theirs.astype(np.float64) ** 2)))
    print(f"sanity: rms roomgate / pedalboard mix {level:+.2f} dB, "
          f"correlation {np.corrcoef(ours, theirs)[0, 1]:.3f} (JUCE IR scales undone: "
          + ", ".join(f"{s:.3g}" for s in scales) + ")")

    if args.cold_runs > 0:
        with tempfile.TemporaryDirectory() as workdir:
            take_path = str(Path(workdir) / "take.npy")
            np.save(take_path, take)
            colds = [cold_in_fresh_process(take_path) for _ in range(args.cold_runs)]
        print(f"\ncold heroes room at {FS} Hz, calibrated on the {seconds:g} s take, fresh interpreter, "
              f"empty IR cache (median of {args.cold_runs}):")
        numba = [c.pop("numba imported (1 = yes)") for c in colds]
        keys = list(colds[0])
        for key in keys:
            print(f"  {key:32s} {statistics.median(c[key] for c in colds):6.2f} s")
        print(f"  {'numba imported':32s} {'yes' if any(numba) else 'no'}")
        imports = statistics.median(sum(v for k, v in c.items() if k.startswith("import")) for c in colds)
        work = statistics.median(sum(v for k, v in c.items() if not k.startswith("import")) for c in colds)
        print(f"  {'imports, total':32s} {imports:6.2f} s")
        print(f"  {'room + calibrate (after imports)':32s} {work:6.2f} s  "
              f"(target < 2 s: {'met' if work < 2 else 'MISSED'})")
        warm = [cold_in_process(take) for _ in range(args.cold_runs)]
        work_warm = statistics.median(sum(w.values()) for w in warm)
        print("same in this process (imports and kernels warm, IR cache empty): "
              + ", ".join(f"{k} {statistics.median(w[k] for w in warm):.2f} s" for k in warm[0])
              + f"; total {work_warm:.2f} s")

    if args.profile:
        profile(lambda: rig.process(take, FS, reset=True))


if __name__ == "__main__":
    main()
