"""`roomgate analyze`: the measures of roomgate's own IRs and of any IR file, through the real CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

FS = 44_100


def run_cli(*args: str, cache: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "ROOMGATE_CACHE_DIR": cache}
    return subprocess.run([sys.executable, "-m", "roomgate", *args], capture_output=True, text=True, env=env, timeout=300)


def measured_hall(path, rt60_s: float = 1.2, floor: float = 1e-4, channels: int = 2) -> None:
    """A stand-in for a measured hall: 50 ms of background, a direct sound, decaying Gaussian
    noise and the background under it all (54 dB below the decay's start), as a measurement gives."""
    rng = np.random.default_rng(11)
    n = int(3.0 * FS)
    t = np.arange(n) / FS
    onset = int(0.05 * FS)
    data = floor * rng.standard_normal((channels, n + onset))
    data[:, onset] += 1.0
    data[:, onset + 1 :] += 0.05 * rng.standard_normal((channels, n - 1)) * np.exp(-3 * math.log(10) * t[1:] / rt60_s)
    soundfile.write(path, data.T, FS, subtype="FLOAT")


def test_analyze_a_measured_file_as_text_and_json(tmp_path):
    path = tmp_path / "hall.wav"
    measured_hall(path)
    text = run_cli("analyze", str(path), cache=str(tmp_path / "c"))
    assert text.returncode == 0, text.stderr
    assert "channel 1:" in text.stdout and "channel 2:" in text.stdout and "1000 Hz" in text.stdout
    assert "T30 s" in text.stdout and "EDT s" in text.stdout and "DRR dB" in text.stdout
    out = run_cli("analyze", "--json", str(path), cache=str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["file"] == str(path) and data["sample_rate"] == FS and len(data["channels"]) == 2
    assert data["bands_hz"] == [125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0]
    for channel in data["channels"]:
        assert channel["direct_sound_s"] == pytest.approx(0.05, abs=1e-4)
        for band in ("250", "1000", "4000"):  # the noise floor cut off: the decay as made
            assert channel["t30_s"][band] == pytest.approx(1.2, rel=0.07), band


def test_analyze_roomgates_own_irs(tmp_path):
    irs = tmp_path / "irs.wav"
    cache = str(tmp_path / "c")
    made = run_cli("ir", "-o", str(irs), "--sample-rate", "16000", "--set", "room.rt60_s=1.8", cache=cache)
    assert made.returncode == 0, made.stderr
    out = run_cli("analyze", "--json", str(irs), cache=cache)
    assert out.returncode == 0, out.stderr
    channels = json.loads(out.stdout)["channels"]
    assert len(channels) == 3  # close, mid, far
    for channel in channels[1:]:
        for band in ("500", "1000", "2000"):
            assert channel["t30_s"][band] == pytest.approx(1.8, rel=0.05)
        assert channel["echo_density_07_ms"] <= 30.0
    # The direct sound arrives later and the room is louder relative to it, mic by mic.
    assert channels[0]["direct_sound_s"] < channels[1]["direct_sound_s"] < channels[2]["direct_sound_s"]
    assert channels[0]["drr_db"]["1000"] > channels[1]["drr_db"]["1000"] > channels[2]["drr_db"]["1000"]


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("silence.wav", lambda p: soundfile.write(p, np.zeros(FS), FS), "is silent"),
        ("click.wav", lambda p: soundfile.write(p, np.r_[1.0, np.zeros(999)], FS), "at least 100 ms"),
        ("hum.wav", lambda p: soundfile.write(p, 0.5 * np.sin(2 * np.pi * 220 * np.arange(FS) / FS), FS), "does not decay"),
        ("notes.wav", lambda p: p.write_text("not audio at all"), "not a readable audio file"),
    ],
)
def test_analyze_says_in_one_line_why_a_file_is_no_ir(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    out = run_cli("analyze", str(path), cache=str(tmp_path / "c"))
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and message in lines[0], out.stderr


def test_analyze_has_help():
    out = subprocess.run([sys.executable, "-m", "roomgate", "analyze", "-h"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=60)  # fmt: skip
    assert out.returncode == 0 and "--json" in out.stdout and "T30" in out.stdout
