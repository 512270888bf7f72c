"""`roomgate mix`: real recorded mics through the same staging, and --estimate-delays finding their delays."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from roomgate.dsp.align import estimate_delay


def _room_takes(voice: np.ndarray, rate: int, extra_delays_s=(0.005, 0.012), gains_db=(-6.0, -12.0)):
    """A close take and two room takes: the voice through room responses of another hall (30 x 20 x
    10 m, RT60 2 s, mics at 8 m and 20 m) at two levels, each with an extra delay. Returns the
    tracks (3, N) and the true delays (s) of the room tracks behind the close one."""
    from roomgate.acoustics.room import Microphone, Room, impulse_responses, place_on_line, speed_of_sound_m_s

    room = Room(size_m=(30.0, 20.0, 10.0), rt60_s=2.0)
    # Off the room's centre line, as a real hall is never perfectly symmetric (on it, the two side
    # walls' reflections coincide and can outweigh the direct sound at 20 m).
    singer = (4.0, 6.5, 1.7)
    distances = (8.0, 20.0)
    mics = [Microphone(f"m{i}", place_on_line(singer, d, (30.0, 9.0, 1.9))) for i, d in enumerate(distances)]
    irs = impulse_responses(room, singer, mics, rate)
    import scipy.signal

    tracks, delays = [voice], []
    for ir, distance, extra, gain in zip(irs, distances, extra_delays_s, gains_db):
        wet = scipy.signal.fftconvolve(voice, ir)[: voice.size] * 10 ** (gain / 20)
        shift = int(round(extra * rate))
        tracks.append(np.concatenate([np.zeros(shift), wet[: voice.size - shift]]))
        delays.append(round(distance / speed_of_sound_m_s() * rate) / rate + shift / rate)
    return np.stack(tracks).astype(np.float32), delays


def test_gcc_phat_finds_a_delay_in_a_reverberant_take(vocadito) -> None:
    voice, rate = vocadito
    tracks, delays = _room_takes(voice[0, : 6 * rate], rate)
    for track, truth in zip(tracks[1:], delays):
        found = estimate_delay(tracks[0], track, rate)
        assert found.delay_s == pytest.approx(truth, abs=0.001)
        assert found.confidence > 5


def test_mix_with_estimate_delays_through_the_command_line(vocadito, tmp_path: Path) -> None:
    voice, rate = vocadito
    tracks, delays = _room_takes(voice[0], rate)
    paths = []
    for name, track in zip(("close", "mid", "far"), tracks):
        path = tmp_path / f"{name}.wav"
        soundfile.write(str(path), track / np.abs(tracks).max() * 0.9, rate, subtype="PCM_24")
        paths.append(str(path))
    out, report_path = tmp_path / "mix.wav", tmp_path / "mix.json"
    result = subprocess.run([sys.executable, "-m", "roomgate.cli", "mix", *paths, "-o", str(out), "--estimate-delays",
                             "--report", str(report_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    alignment = report["input"]["alignment"]
    for name, truth in zip(("mid", "far"), delays):
        assert alignment[name]["delay_ms"] == pytest.approx(1000 * truth, abs=1.0), name
    mixed, mixed_rate = soundfile.read(str(out), always_2d=True)
    assert mixed_rate == rate and mixed.shape == (voice.shape[1], 1)  # recorded mics: no added tail
    _, mid, far = report["mics"]
    assert 0 < far["open_fraction"] < mid["open_fraction"] < 1


def test_mix_pads_and_resamples_with_notices(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    long = (0.2 * rng.standard_normal(16_000)).astype(np.float32)
    soundfile.write(str(tmp_path / "close.wav"), long, 16_000)
    soundfile.write(str(tmp_path / "mid.wav"), long[:12_000], 16_000)
    soundfile.write(str(tmp_path / "far.wav"), (0.1 * rng.standard_normal(22_050)).astype(np.float32), 22_050)
    out = tmp_path / "out.wav"
    result = subprocess.run([sys.executable, "-m", "roomgate.cli", "mix", *(str(tmp_path / f"{n}.wav") for n in ("close", "mid", "far")),
                             "-o", str(out), "--set", "mics.mid.gate.threshold_db=-30", "--set", "mics.far.gate.threshold_db=-20"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "mid.wav: 0.250 s shorter" in result.stderr and "padded with silence" in result.stderr
    assert "far.wav: resampled from 22050 Hz to 16000 Hz" in result.stderr
    assert soundfile.info(str(out)).frames == 16_000


def test_one_multichannel_file_is_the_whole_rig(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    soundfile.write(str(tmp_path / "rig.wav"), (0.2 * rng.standard_normal((16_000, 3))).astype(np.float32), 16_000)
    out = tmp_path / "out.wav"
    result = subprocess.run([sys.executable, "-m", "roomgate.cli", "mix", str(tmp_path / "rig.wav"), "-o", str(out),
                             "--set", "mics.mid.gate.threshold_db=-30", "--set", "mics.far.gate.threshold_db=-20"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert out.is_file()


@pytest.mark.parametrize("delay", [0, 1, 37])
def test_gcc_phat_finds_a_delay_of_zero_too_beside_a_strong_reflection(delay: int) -> None:
    """A lag at the window's edge (0: mics at one distance) may be the peak; a reflection 200
    samples later at 0.8 of the direct sound must not win over it."""
    rate = 16_000
    dry = np.random.default_rng(3).standard_normal(rate * 2)
    heard = np.zeros_like(dry)
    heard[delay:] += dry[: dry.size - delay]
    heard[delay + 200:] += 0.8 * dry[: dry.size - delay - 200]
    assert estimate_delay(dry, heard, rate).delay_s * rate == pytest.approx(delay, abs=0.05)
