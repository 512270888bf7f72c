"""Benchmark: how live the studio feels. Time from a settings change to rendered audio available.

A 30 s take (the built-in demo voice at 48 kHz, its opening phrases repeated to reach 30 s) is
uploaded to a running studio (``serve(port=0)`` in a thread, HTTP over loopback, as the page
talks to it), then each timing runs

    POST /api/settings  ->  POST /api/render  ->  GET /api/audio/{id}  (the WAV's bytes in hand)

for (a) a gate threshold change only (no new impulse response), and (b) the far mic moved along
its line, cold (a distance never simulated: one new IR, for that mic only), warm (a distance
simulated before: every IR cached), and as the page does it (its IR asked for with
``POST /api/prefetch`` while the mouse holds the mic still, 0.4 s before letting go).
Its peer is the command line's way: a fresh
``load_preset(..., overrides).render(take)`` for each change, with room.py's disk cache, which
keys all the mics together, so a moved mic re-simulates every mic. Prints medians and ratios.

The IR disk cache lives in a fresh temporary folder, so "cold" is cold. Target: under 1 s.

Run: ``.venv/bin/python bench/studio.py``
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time

SAMPLE_RATE_HZ = 48_000
TAKE_S = 30.0
RUNS = 10


def _take(np, sung_crescendo):
    voice = sung_crescendo(SAMPLE_RATE_HZ)[0]
    n = int(TAKE_S * SAMPLE_RATE_HZ)
    return np.concatenate([voice, voice])[:n][np.newaxis, :].astype(np.float32)


def main() -> None:
    os.environ["ROOMGATE_CACHE_DIR"] = tempfile.mkdtemp(prefix="roomgate-bench-ir-")
    import threading

    import httpx
    import numpy as np
    import soundfile

    from roomgate import load_preset, sung_crescendo
    from roomgate.studio import serve

    take = _take(np, sung_crescendo)
    wav = io.BytesIO()
    soundfile.write(wav, take.T, SAMPLE_RATE_HZ, format="WAV", subtype="FLOAT")
    print(f"take: the demo voice at {SAMPLE_RATE_HZ} Hz, {take.shape[1] / SAMPLE_RATE_HZ:.1f} s; "
          f"heroes-1977 (19 x 14 x 7 m, RT60 1.5 s); {RUNS} runs each, medians\n")

    urls: list[str] = []
    stop = threading.Event()
    server = threading.Thread(target=serve, kwargs={"port": 0, "on_message": urls.append, "stop_event": stop})
    server.start()
    while not urls:
        time.sleep(0.01)
    base, token = urls[0].split("/?token=")
    client = httpx.Client(base_url=base, headers={"X-Roomgate-Token": token}, timeout=120)
    upload = client.post("/api/take", files={"file": ("take.wav", wav.getvalue(), "audio/wav")})
    assert upload.status_code == 200, upload.text

    def change_and_render(changes: list[str]) -> tuple[float, list[str]]:
        started = time.perf_counter()
        response = client.post("/api/settings", json={"set": changes})
        assert response.status_code == 200, response.text
        result = client.post("/api/render").json()
        audio = client.get(result["audio_url"])
        assert audio.status_code == 200 and len(audio.content) > 1000
        return time.perf_counter() - started, result["simulated_mics"]

    def peer(changes: list[str]) -> float:
        started = time.perf_counter()
        load_preset("heroes-1977", changes).render(take, SAMPLE_RATE_HZ)
        return time.perf_counter() - started

    started = time.perf_counter()
    first = client.post("/api/render").json()
    print(f"first render (pyroomacoustics imported, all {len(first['simulated_mics'])} mics simulated): "
          f"{time.perf_counter() - started:.2f} s\n")

    rows = []
    # (a) a threshold change: the gates and the mix only.
    thresholds = [f"mics.far.gate.threshold_db={-20 - i}" for i in range(RUNS)]
    rows.append(("(a) gate threshold changed", [change_and_render([c])[0] for c in thresholds],
                 [peer([c]) for c in thresholds], "no new IR"))

    # (b) the far mic moved to distances never simulated: one new IR (studio), all three (peer).
    moves = [f"mics.far.distance_m={9.0 + 0.37 * i:.2f}" for i in range(RUNS)]
    cold = [change_and_render([c]) for c in moves]
    assert all(simulated == ["far"] for _, simulated in cold), cold
    peer_moves = [f"mics.far.distance_m={9.11 + 0.37 * i:.2f}" for i in range(RUNS)]
    rows.append(("(b) far mic moved, cold", [t for t, _ in cold], [peer([c]) for c in peer_moves],
                 "studio: 1 new IR; peer: 3"))

    # (b) warm: back to distances simulated before (the peer's from its disk cache).
    warm = [change_and_render([c]) for c in moves]
    assert all(simulated == [] for _, simulated in warm), warm
    rows.append(("(b) far mic moved, warm", [t for t, _ in warm], [peer([c]) for c in peer_moves],
                 "IRs cached (peer: on disk)"))

    # (b) as the page does it: the IR asked for while the mic is held, then let go.
    held = []
    for i in range(RUNS):
        change = f"mics.far.distance_m={12.0 + 0.29 * i:.2f}"
        client.post("/api/prefetch", json={"set": [change]})
        time.sleep(0.4)
        held.append(change_and_render([change])[0])
    rows.append(("(b) far mic moved, page prefetched", held, [t for t in rows[1][2]],
                 "IR simulated during the drag"))

    print(f"{'change -> rendered audio in hand':36} {'studio':>8} {'peer':>8} {'peer/studio':>12}  note")
    for label, studio, peer_times, note in rows:
        s, p = statistics.median(studio), statistics.median(peer_times)
        print(f"{label:36} {s:7.3f}s {p:7.3f}s {p / s:11.2f}x  {note}")
    print("\nstudio: POST /api/settings + POST /api/render + GET the WAV over loopback HTTP;"
          "\npeer: load_preset(preset, overrides).render(take), a fresh Rig per change (the CLI's way)")
    worst = max(statistics.median(r[1]) for r in rows[:3])
    print(f"target under 1 s for a 30 s take: {'met' if worst < 1.0 else 'NOT met'} (slowest median {worst:.3f} s)")
    client.close()
    stop.set()
    server.join(10)


if __name__ == "__main__":
    main()
