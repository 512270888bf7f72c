"""Benchmark: the heroes room at 48 kHz, roomgate against pyroomacoustics, in one process.

The heroes-1977 rig's geometry (the singer 1.1 m off the centre line, the mics 0.23, 6.1 and 15.2 m
away on a slightly tilted line) in the 19 x 14 x 7 m room asked to decay in RT60 seconds, with air
absorption, simulated by:

* roomgate, cold (empty cache) and warm (cached), :func:`roomgate.acoustics.impulse_responses`
  (the singer an omni here, as pyroomacoustics' sources are);
* pyroomacoustics' image source method alone: ``inverse_sabine(RT60)`` absorption and max order;
* pyroomacoustics' hybrid: ISM to order 3 plus ray tracing (its default rays), scattering 0.5.

For the mid and far mics it prints the three hall measures of issue 12 (see
roomgate.acoustics.measures): the ms after the direct sound the echo density reaches 0.7 (real
halls 12-19), EDT / T30 in the octaves 125 Hz - 4 kHz (0.85-1.14; pass 0.7-1.25), the tail
roughness at 250 Hz / 1 kHz / 4 kHz (0.87-1.41; pass 0.7-2.0, mean >= 0.8); the T30 error against
the decay asked (implied by the air above 2 kHz); and the wall-clock times with their ratios to
roomgate cold. Imports and a first tiny pyroomacoustics run happen before any timing.

Run: ``PYTHONPATH=src python bench/room.py [RT60_S ...]`` (default: 1.5 2.5)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

SAMPLE_RATE_HZ = 48_000
SIZE_M = (19.0, 14.0, 7.0)
SINGER_M = (2.5, 5.9, 1.7)
TOWARD_M = (19.0, 7.43, 2.68)
DISTANCES_M = {"close": 0.2286, "mid": 6.096, "far": 15.24}
BANDS_HZ = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)
ROUGHNESS_BANDS_HZ = (250.0, 1000.0, 4000.0)


def measures(h, implied: dict[float, float]) -> dict[str, object]:
    import numpy as np

    from roomgate.acoustics import measures as ms

    h = np.asarray(h, dtype=np.float64)
    edt = [ms.decay_time_s(h, SAMPLE_RATE_HZ, b, "edt") for b in BANDS_HZ]
    t30 = [ms.decay_time_s(h, SAMPLE_RATE_HZ, b, "t30") for b in BANDS_HZ]
    ratio = [e / t if e and t else float("nan") for e, t in zip(edt, t30)]
    rough = [ms.tail_roughness(h, SAMPLE_RATE_HZ, b) or float("nan") for b in ROUGHNESS_BANDS_HZ]
    error = [100.0 * (t / implied[b] - 1.0) if t else float("nan") for t, b in zip(t30, BANDS_HZ)]
    echo = ms.echo_density_time_ms(h, SAMPLE_RATE_HZ)
    passes = [
        echo is not None and echo <= 30.0,
        all(0.7 <= r <= 1.25 for r in ratio),
        all(0.7 <= r <= 2.0 for r in rough) and float(np.mean(rough)) >= 0.8,
    ]
    return {"echo": echo, "ratio": ratio, "rough": rough, "error": error, "passes": passes}


def run(rt60_s: float) -> None:
    import numpy as np
    import pyroomacoustics as pra

    from roomgate.acoustics import Microphone, Room, Singer, cache, impulse_responses, place_on_line, rt60_bands_s

    room = Room(SIZE_M, rt60_s)
    implied = rt60_bands_s(room, SAMPLE_RATE_HZ)
    singer = Singer(SINGER_M, facing=(TOWARD_M[0] - SINGER_M[0], TOWARD_M[1] - SINGER_M[1], 0.0), directivity="omni")
    mics = [Microphone(name, place_on_line(SINGER_M, d, TOWARD_M)) for name, d in DISTANCES_M.items()]
    positions = np.array([m.position_m for m in mics]).T  # (3, M)
    results: list[tuple[str, float, list]] = []

    with tempfile.TemporaryDirectory() as folder:
        os.environ["ROOMGATE_CACHE_DIR"] = folder
        cache.clear_memory_cache()
        t0 = time.perf_counter()
        irs = impulse_responses(room, singer, mics, SAMPLE_RATE_HZ)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = impulse_responses(room, singer, mics, SAMPLE_RATE_HZ)
        t_warm = time.perf_counter() - t0
        assert np.array_equal(irs, warm)
    results.append(("roomgate cold", t_cold, list(irs)))
    results.append(("roomgate warm (cache)", t_warm, list(warm)))

    absorption, max_order = pra.inverse_sabine(rt60_s, list(SIZE_M))
    t0 = time.perf_counter()
    ism = pra.ShoeBox(list(SIZE_M), fs=SAMPLE_RATE_HZ, materials=pra.Material(absorption), max_order=max_order,
                      air_absorption=True, temperature=room.temperature_c, humidity=room.humidity_pct)
    ism.set_sound_speed(room.speed_of_sound_m_s)
    ism.add_source(list(SINGER_M))
    ism.add_microphone_array(positions)
    ism.compute_rir()
    results.append((f"pra ISM (order {max_order})", time.perf_counter() - t0, [r[0] for r in ism.rir]))

    t0 = time.perf_counter()
    hybrid = pra.ShoeBox(list(SIZE_M), fs=SAMPLE_RATE_HZ, materials=pra.Material(absorption, 0.5), max_order=3,
                         air_absorption=True, ray_tracing=True, temperature=room.temperature_c,
                         humidity=room.humidity_pct)
    hybrid.set_sound_speed(room.speed_of_sound_m_s)
    hybrid.set_ray_tracing()
    hybrid.add_source(list(SINGER_M))
    hybrid.add_microphone_array(positions)
    hybrid.compute_rir()
    results.append((f"pra hybrid (ISM 3 + {hybrid.rt_args['n_rays']} rays)", time.perf_counter() - t0,
                    [r[0] for r in hybrid.rir]))

    print(f"\n=== RT60 {rt60_s} s: heroes room {' x '.join(f'{v:g}' for v in SIZE_M)} m, {SAMPLE_RATE_HZ} Hz, "
          f"omni singer at {SINGER_M}, mics toward {TOWARD_M} ===\n")
    print(f"{'method':36s} {'time s':>8s} {'vs cold':>8s}")
    for name, seconds, _ in results:
        print(f"{name:36s} {seconds:8.3f} {seconds / t_cold:7.2f}x")
    header = (f"{'method':36s} {'mic':4s} {'echo0.7 ms':>10s}  {'EDT/T30 125..4k':36s} {'rough 250/1k/4k':20s} "
              f"{'T30 err % 125..4k':42s} pass")
    print(f"\n{header}")
    for name, _, rows in results:
        if name.startswith("roomgate warm"):
            continue
        for mic, row in zip(DISTANCES_M, rows):
            if mic == "close":
                continue
            m = measures(row, implied)
            echo = "never" if m["echo"] is None else f"{m['echo']:.1f}"
            ratio = " ".join(f"{r:.2f}" for r in m["ratio"])
            rough = " ".join(f"{r:.2f}" for r in m["rough"])
            error = " ".join(f"{e:+5.1f}" for e in m["error"])
            verdict = "".join("Y" if p else "n" for p in m["passes"])
            print(f"{name:36s} {mic:4s} {echo:>10s}  {ratio:36s} {rough:20s} {error:42s} {verdict}")
    print("\npass: echo density / EDT-T30 / roughness (Y = within the bounds of issue 12)")


def main() -> None:
    t0 = time.perf_counter()
    import numpy as np
    import pyroomacoustics as pra
    import scipy.signal  # noqa: F401 - roomgate's filters use it

    print(f"imports {time.perf_counter() - t0:.2f} s (pyroomacoustics {pra.__version__}, numpy {np.__version__})")
    warm = pra.ShoeBox([3, 3, 3], fs=16000, max_order=2, materials=pra.Material(0.3))
    warm.add_source([1, 1, 1])
    warm.add_microphone([2, 2, 2])
    warm.compute_rir()  # pyroomacoustics' lazy set-up is paid by nobody
    for rt60_s in [float(a) for a in sys.argv[1:]] or [1.5, 2.5]:
        run(rt60_s)


if __name__ == "__main__":
    main()
