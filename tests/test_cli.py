"""The command line as a user meets it: real subprocess runs, one-line errors, no stray files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

ROOMGATE = [sys.executable, "-m", "roomgate.cli"]
# A small, fast room for CLI plumbing tests (the heroes room itself is tested in test_rig).
SMALL = ["--set", "room.size_m=[8, 6, 3]", "--set", "room.rt60_s=0.3", "--set", "singer.position_m=[1.5, 3, 1.5]",
         "--set", "mics.mid.distance_m=2.5", "--set", "mics.far.distance_m=5.5"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROOMGATE, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy(), timeout=300)


def _voice_file(path: Path, sample_rate: int = 16_000, channels: int = 1) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * sample_rate)) / sample_rate
    envelope = np.clip(np.sin(np.pi * t / 1.5), 0, 1) ** 2
    tone = 0.6 * envelope * np.sin(2 * np.pi * 180 * t) * (1 + 0.1 * rng.standard_normal(t.size))
    soundfile.write(str(path), np.tile(tone[:, None], (1, channels)).astype(np.float32), sample_rate, subtype="PCM_16")
    return path


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_on_every_subcommand() -> None:
    for command in ([], ["demo"], ["render"], ["mix"], ["ir"], ["presets"], ["cache"]):
        result = run(*command, "-h")
        assert result.returncode == 0 and "usage: roomgate" in result.stdout


def test_presets_lists_heroes() -> None:
    result = run("presets")
    assert result.returncode == 0 and "heroes-1977" in result.stdout


def test_render_writes_audio_report_and_plot(tmp_path: Path) -> None:
    source = _voice_file(tmp_path / "voice.wav", channels=2)
    before = source.read_bytes()
    out, report, plot = tmp_path / "out.wav", tmp_path / "r.json", tmp_path / "p.png"
    result = run("render", str(source), "-o", str(out), "--report", str(report), "--plot", str(plot), *SMALL)
    assert result.returncode == 0, result.stderr
    assert "downmixed to mono" in result.stderr
    assert "close" in result.stdout and "far" in result.stdout
    audio, rate = soundfile.read(str(out), always_2d=True)
    info = soundfile.info(str(out))
    assert rate == 16_000 and info.subtype == "PCM_16"  # the input's subtype is kept
    assert audio.shape[0] > 1.5 * 16_000  # the room's tail follows the last note
    assert np.max(np.abs(audio)) == pytest.approx(10 ** (-1 / 20), abs=2e-3)  # normalised to -1 dBFS
    data = json.loads(report.read_text())
    assert data["sample_rate"] == 16_000 and [m["name"] for m in data["mics"]] == ["close", "mid", "far"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert source.read_bytes() == before  # the input is never changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav", "p.png", "r.json", "voice.wav"]


def test_render_keeps_subtype_unless_told(tmp_path: Path) -> None:
    source = _voice_file(tmp_path / "voice.wav")
    out = tmp_path / "out.flac"
    assert run("render", str(source), "-o", str(out), "--subtype", "PCM_24", *SMALL).returncode == 0
    assert soundfile.info(str(out)).subtype == "PCM_24"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["render", "{missing}", "-o", "{out}"], ["missing.wav", "no such file"]),
        (["render", "{folder}", "-o", "{out}"], ["is a folder"]),
        (["render", "{junk}", "-o", "{out}"], ["junk.wav", "not a readable audio file"]),
        (["render", "{voice}", "-o", "{voice}"], ["never overwrites its input"]),
        (["render", "{voice}", "-o", "{nowhere}"], ["does not exist"]),
        (["render", "{voice}", "-o", "{out}", "--preset", "heroes-1978"], ["unknown preset", "heroes-1977"]),
        (["render", "{voice}", "-o", "{out}", "--set", "room.rt60_s"], ["expected KEY=VALUE"]),
        (["render", "{voice}", "-o", "{out}", "--set", "mics.bogus.gain_db=3"], ["no mic named 'bogus'"]),
        (["render", "{voice}", "-o", "{out}", "--set", "mics.far.distance_m=-2"], ["mics.far.distance_m"]),
        (["render", "{voice}", "-o", "{out}", "--set", "mics.far.distance_m=100ft"], ["mics.far.distance_m", "outside the room"]),
        (["render", "{voice}", "-o", "{out}", "--report", "{out}.txt"], ["--report", ".json"]),
        (["render", "{voice}"], ["-o/--output"]),
        (["mix", "{voice}", "{voice}", "-o", "{out}"], ["3 mics", "expected 3 files"]),
        (["ir", "-o", "{out}", "--sample-rate", "4000"], ["--sample-rate", "8000"]),
        (["frobnicate"], ["invalid choice"]),
    ],
)
def test_errors_are_one_line_exit_2_and_leave_no_file(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    voice = _voice_file(tmp_path / "voice.wav")
    (tmp_path / "folder").mkdir()
    (tmp_path / "junk.wav").write_bytes(b"definitely not audio" * 20)
    names = {"missing": tmp_path / "missing.wav", "folder": tmp_path / "folder", "junk": tmp_path / "junk.wav",
             "voice": voice, "out": tmp_path / "out.wav", "nowhere": tmp_path / "no" / "out.wav"}
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    result = run(*[a.format(**names) for a in args])
    _assert_one_line_error(result, *fragments)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before  # nothing written, nothing changed


def test_ir_exports_one_channel_per_mic(tmp_path: Path) -> None:
    out = tmp_path / "irs.wav"
    result = run("ir", "-o", str(out), "--sample-rate", "16000", *SMALL)
    assert result.returncode == 0, result.stderr
    irs, rate = soundfile.read(str(out), always_2d=True)
    assert rate == 16_000 and irs.shape[1] == 3 and soundfile.info(str(out)).subtype == "FLOAT"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_several_inputs_go_into_a_folder(tmp_path: Path, jobs: str) -> None:
    a, b = _voice_file(tmp_path / "a.wav"), _voice_file(tmp_path / "b.wav")
    folder = tmp_path / "renders"
    folder.mkdir()
    result = run("render", str(a), str(b), "-o", str(folder), "--jobs", jobs, "--report", str(folder), *SMALL)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["a.json", "a.wav", "b.json", "b.wav"]
    assert "rendered 2 of 2 files" in result.stdout


def test_a_failing_file_does_not_stop_the_batch(tmp_path: Path) -> None:
    good, bad = _voice_file(tmp_path / "good.wav"), tmp_path / "bad.wav"
    bad.write_bytes(b"not audio" * 50)
    folder = tmp_path / "renders"
    folder.mkdir()
    result = run("render", str(bad), str(good), "-o", str(folder), "--jobs", "2", *SMALL)
    assert result.returncode == 2
    assert sorted(p.name for p in folder.iterdir()) == ["good.wav"]
    assert "1 of 2 files failed" in result.stderr and "bad.wav" in result.stderr
    assert "Traceback" not in result.stderr
