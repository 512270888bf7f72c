"""Benchmark: the heroes room at 48 kHz, roomgate against pyroomacoustics, in one process.

Three omni mics on Visconti's line (0.23, 6.1 and 15.2 m from the singer at (3, 7, 1.7) toward the
far wall) in the 19 x 14 x 7 m room asked to decay in 1.5 s, with air absorption:

* roomgate cold (empty cache) and warm (cached), :func:`roomgate.acoustics.room.impulse_responses`;
* pyroomacoustics' image source method alone: ``inverse_sabine(1.5)`` absorption and max order;
* pyroomacoustics' hybrid: ISM to order 3 plus ray tracing (its default settings).

Prints the wall-clock times, their ratios to roomgate cold, and the T30 (ISO 3382: Schroeder
integration, -5 to -35 dB, octave bands 500 Hz, 1 kHz, 2 kHz) of every mic with its error against
the asked 1.5 s. Omni mics throughout: pyroomacoustics' ray tracer has no mic directivity.
Imports and a first tiny pyroomacoustics run happen before any timing, so no method pays them.

Run: ``PYTHONPATH=src python bench/room.py``
"""

from __future__ import annotations

import os
import tempfile
import time

SAMPLE_RATE_HZ = 48_000
RT60_S = 1.5
SIZE_M = (19.0, 14.0, 7.0)
SINGER_M = (3.0, 7.0, 1.7)
TOWARD_M = (19.0, 7.0, 1.7)
DISTANCES_M = {"close": 0.23, "mid": 6.1, "far": 15.2}
BANDS_HZ = (500.0, 1000.0, 2000.0)


def main() -> None:
    t0 = time.perf_counter()
    import numpy as np

    t_numpy = time.perf_counter() - t0
    t0 = time.perf_counter()
    import pyroomacoustics as pra

    t_pra = time.perf_counter() - t0
    t0 = time.perf_counter()
    import scipy.signal  # noqa: F401 - roomgate's T30 and DC blocker use it

    t_scipy = time.perf_counter() - t0
    from roomgate.acoustics import room as rg

    print(f"imports: numpy {t_numpy:.2f} s, pyroomacoustics {t_pra:.2f} s, scipy.signal {t_scipy:.2f} s "
          f"(pyroomacoustics {pra.__version__}, numpy {np.__version__})")

    room = rg.Room(SIZE_M, RT60_S)
    mics = [rg.Microphone(name, rg.place_on_line(SINGER_M, d, TOWARD_M)) for name, d in DISTANCES_M.items()]
    positions = np.array([m.position_m for m in mics]).T  # (3, M)

    # One tiny run first: pyroomacoustics' lazy set-up (filter banks, libroom) is paid by nobody.
    warm = pra.ShoeBox([3, 3, 3], fs=16000, max_order=2, materials=pra.Material(0.3))
    warm.add_source([1, 1, 1])
    warm.add_microphone([2, 2, 2])
    warm.compute_rir()

    results: list[tuple[str, float, list[np.ndarray]]] = []

    with tempfile.TemporaryDirectory() as cache:
        os.environ["ROOMGATE_CACHE_DIR"] = cache
        t0 = time.perf_counter()
        irs = rg.impulse_responses(room, SINGER_M, mics, SAMPLE_RATE_HZ)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        irs_warm = rg.impulse_responses(room, SINGER_M, mics, SAMPLE_RATE_HZ)
        t_warm = time.perf_counter() - t0
        assert np.array_equal(irs, irs_warm)
    results.append(("roomgate cold", t_cold, list(irs)))
    results.append(("roomgate warm (cache)", t_warm, list(irs_warm)))

    absorption, max_order = pra.inverse_sabine(RT60_S, list(SIZE_M))
    c = room.speed_of_sound_m_s
    t0 = time.perf_counter()
    ism = pra.ShoeBox(list(SIZE_M), fs=SAMPLE_RATE_HZ, materials=pra.Material(absorption), max_order=max_order,
                      air_absorption=True, temperature=room.temperature_c, humidity=room.humidity_pct)
    ism.set_sound_speed(c)
    ism.add_source(list(SINGER_M))
    ism.add_microphone_array(positions)
    ism.compute_rir()
    t_ism = time.perf_counter() - t0
    results.append((f"pra ISM (order {max_order}, inverse_sabine)", t_ism, [r[0] for r in ism.rir]))

    t0 = time.perf_counter()
    hybrid = pra.ShoeBox(list(SIZE_M), fs=SAMPLE_RATE_HZ, materials=pra.Material(absorption), max_order=3,
                         air_absorption=True, ray_tracing=True, temperature=room.temperature_c,
                         humidity=room.humidity_pct)
    hybrid.set_sound_speed(c)
    hybrid.set_ray_tracing()
    hybrid.add_source(list(SINGER_M))
    hybrid.add_microphone_array(positions)
    hybrid.compute_rir()
    t_hybrid = time.perf_counter() - t0
    results.append((f"pra hybrid (ISM 3 + {hybrid.rt_args['n_rays']} rays)", t_hybrid, [r[0] for r in hybrid.rir]))

    critical_m = rg.critical_distance_m(room)
    print(f"\nheroes room {' x '.join(f'{v:g}' for v in SIZE_M)} m, asked RT60 {RT60_S} s, {SAMPLE_RATE_HZ} Hz, "
          f"3 omni mics at {', '.join(f'{n} {d} m' for n, d in DISTANCES_M.items())}; critical distance {critical_m:.2f} m\n")
    print(f"{'method':40s} {'time s':>8s} {'vs cold':>8s} {'max |T30 err| beyond rc':>24s} {'all mics':>9s}")
    t30 = {}
    for name, seconds, rows in results:
        table = np.array([[rg.schroeder_t30_s(np.asarray(r, dtype=np.float64), SAMPLE_RATE_HZ, b) for b in BANDS_HZ]
                          for r in rows])
        t30[name] = table
        err = np.abs(table / RT60_S - 1.0) * 100.0
        beyond = [i for i, d in enumerate(DISTANCES_M.values()) if d > critical_m]
        print(f"{name:40s} {seconds:8.3f} {seconds / t_cold:7.2f}x {err[beyond].max():23.1f}% {err.max():8.1f}%")

    print(f"\nT30 (s) per mic and octave band; asked {RT60_S} s (error %)")
    header = "".join(f"{f'{b:g} Hz':>16s}" for b in BANDS_HZ)
    for name, table in t30.items():
        if name.startswith("roomgate warm"):
            continue
        print(f"\n{name}\n{'mic':10s}{header}")
        for mic, row in zip(DISTANCES_M, table):
            cells = "".join(f"{t:8.3f} ({(t / RT60_S - 1) * 100:+5.1f}%)" for t in row)
            print(f"{mic:10s}{cells}")


if __name__ == "__main__":
    main()
