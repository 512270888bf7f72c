"""Robustness: bad input fails clearly, nothing is lost.

Every case runs the real command line in a subprocess (as tests/test_cli.py does) and checks the house
rules of DESIGN.md: a user's mistake is exit code 2 and exactly one non-empty line on stderr naming
the file or the preset key and what was expected; no output file appears (hidden temp files
included); the inputs keep their bytes and their mtime. Inputs the rig can use (one sample, many
channels, any rate from 8 to 192 kHz, multitracks of unequal lengths and rates) render.
Outputs are atomic: a render killed with SIGKILL never leaves a partial file under a final name.
The same input and preset give a bit-identical output.

Cases that show a bug are written as the program should behave and marked ``xfail(strict=True)``
with the reason (the ``*_XFAIL`` tables); remove the mark with the fix. None is open now.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

ROOMGATE = [sys.executable, "-m", "roomgate.cli"]
# A small, fast room (the heroes room itself is tested in test_rig).
SMALL = ["--set", "room.size_m=[8, 6, 3]", "--set", "room.rt60_s=0.3", "--set", "singer.position_m=[1.5, 3, 1.5]",
         "--set", "mics.mid.distance_m=2.5", "--set", "mics.far.distance_m=5.5"]
# A tiny one, for the high sample rates.
TINY = ["--set", "room.size_m=[4, 3, 2.5]", "--set", "room.rt60_s=0.2", "--set", "singer.position_m=[1, 1.5, 1.2]",
        "--set", "mics.mid.distance_m=1.2", "--set", "mics.far.distance_m=2.5"]
# Fixed thresholds: a render that does not depend on finding singing in the take.
ABSOLUTE = ["--set", "mics.mid.gate.threshold_db=-30", "--set", "mics.far.gate.threshold_db=-20"]

PNG_END = b"IEND\xaeB`\x82"

# A small preset of our own, with fixed thresholds: every preset-file case is one edit of it.
BASE_PRESET = """\
name = "tiny"
description = "a small test room"

[room]
size_m = [8.0, 6.0, 3.0]
rt60_s = 0.3

[singer]
position_m = [1.5, 3.0, 1.5]

[[mics]]
name = "close"
distance_m = "9in"

[[mics]]
name = "mid"
distance_m = 2.5
gain_db = 10.0

[mics.gate]
threshold_db = -30.0

[[mics]]
name = "far"
distance_m = 5.5
gain_db = 12.0

[mics.gate]
threshold_db = -20.0
"""


# -- helpers -------------------------------------------------------------------------------------


def measured_ir(sample_rate: int, seconds: float = 0.25) -> np.ndarray:
    """A plausible measured impulse response: a click, then decaying noise."""
    rng = np.random.default_rng(3)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    ir = (0.3 * rng.standard_normal(n) * np.exp(-t / 0.05)).astype(np.float32)
    ir[0] = 1.0
    return ir


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROOMGATE, *args], capture_output=True, text=True, cwd=cwd,
                          env=env or os.environ.copy(), timeout=timeout)


def voice_file(path: Path, sample_rate: int = 16_000, seconds: float = 0.5, channels: int = 1,
               subtype: str = "PCM_16", amplitude: float = 0.5) -> Path:
    """A short sung-ish tone: a 180 Hz voice with vibrato-like noise under a swell."""
    rng = np.random.default_rng(0)
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    envelope = np.sin(np.pi * (t + 0.5 / sample_rate) / max(seconds, 1e-9)) ** 2
    tone = amplitude * envelope * np.sin(2 * np.pi * 180 * t) * (1 + 0.1 * rng.standard_normal(n))
    soundfile.write(str(path), np.tile(tone[:, None], (1, channels)).astype(np.float32), sample_rate, subtype=subtype)
    return path


def wav_bytes(channels: int, sample_rate: int, bits: int, data: bytes) -> bytes:
    """A hand-made PCM WAV: for headers libsndfile would never write."""
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, sample_rate * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def snapshot(folder: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every entry under ``folder`` (hidden ones too): files by bytes and mtime, folders as None."""
    entries: dict[str, tuple[bytes, int] | None] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        entries[key] = (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None
    return entries


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, f"exit {result.returncode}; stderr:\n{result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.stderr}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def assert_nothing_changed(before: dict[str, tuple[bytes, int] | None], after: dict[str, tuple[bytes, int] | None]) -> None:
    created = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    assert not created, f"files appeared: {created}"
    assert not removed, f"files disappeared: {removed}"
    changed = sorted(k for k in before if before[k] != after[k])
    assert not changed, f"files changed (bytes or mtime): {changed}"


def is_complete(path: Path) -> bool:
    """Whether an output under its final name is whole: readable to its end."""
    if path.suffix == ".json":
        try:
            json.loads(path.read_text())
        except ValueError:
            return False
        return True
    if path.suffix == ".png":
        data = path.read_bytes()
        return data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(PNG_END)
    try:
        info = soundfile.info(str(path))
        audio, _ = soundfile.read(str(path), always_2d=True)
    except Exception:  # noqa: BLE001 - any failure to read it back means it is not whole
        return False
    return info.frames > 0 and audio.shape[0] == info.frames


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable even for root (chattr +i), or skip when that is impossible."""
    folder.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root and chattr +i is unavailable: cannot make a folder unwritable")
    try:
        probe = folder / "probe"
        try:
            probe.touch()
        except OSError:
            pass
        else:  # pragma: no cover - a filesystem that ignores the immutable flag
            probe.unlink()
            pytest.skip("the filesystem ignores chattr +i")
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], capture_output=True)


@pytest.fixture
def cold_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment with an empty IR cache of its own (outside tmp_path, which the tests list):
    work done before an error is then visible (its progress line), whatever ran before."""
    return {**os.environ, "ROOMGATE_CACHE_DIR": str(tmp_path_factory.mktemp("cold-cache"))}


# -- the workspace every catalogue case starts from ------------------------------------------------


def make_workspace(root: Path) -> dict[str, str]:
    """Inputs good and bad, presets good and bad; returns the names the cases' templates use."""
    voice_file(root / "voice.wav")
    voice_file(root / "short.wav", seconds=0.3)
    (root / "folder").mkdir()
    (root / "empty.wav").write_bytes(b"")
    soundfile.write(str(root / "zero.wav"), np.zeros((0, 1), np.float32), 16_000, subtype="PCM_16")
    header = (root / "voice.wav").read_bytes()
    (root / "truncated.wav").write_bytes(header[:30])  # cut inside the fmt chunk
    (root / "riffonly.wav").write_bytes(header[:12])  # RIFF....WAVE and nothing else
    (root / "random.wav").write_bytes(np.random.default_rng(7).bytes(4096))
    (root / "png.wav").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (root / "text.wav").write_text("[room]\nsize_m = [1, 2, 3]\n")
    (root / "nochannels.wav").write_bytes(wav_bytes(0, 16_000, 16, bytes(400)))
    for name, bad in (("nan", np.nan), ("inf", np.inf), ("neginf", -np.inf)):
        samples = np.zeros(8000, np.float32)  # as long as voice.wav, so a mix of them needs no padding
        samples[4000] = bad
        soundfile.write(str(root / f"{name}.wav"), samples, 16_000, subtype="FLOAT")
    samples = np.zeros(800, np.float32)
    samples[400] = np.nan
    soundfile.write(str(root / "nanshort.wav"), samples, 16_000, subtype="FLOAT")
    voice_file(root / "rate4k.wav", sample_rate=4_000, seconds=0.3)
    voice_file(root / "rate384k.wav", sample_rate=384_000, seconds=0.05)
    loud = np.zeros(8000, np.float32)
    loud[4000] = 6.26e5  # a float file no microphone made
    soundfile.write(str(root / "loud.wav"), loud, 16_000, subtype="FLOAT")
    hall = measured_ir(16_000)  # measured impulse responses: one mic's, and a room's (a channel per mic)
    soundfile.write(str(root / "hall.wav"), hall, 16_000, subtype="FLOAT")
    soundfile.write(str(root / "hall3.wav"), np.stack([hall, hall, hall], axis=1), 16_000, subtype="FLOAT")
    (root / "presetwav.wav").write_text(BASE_PRESET)  # a preset file, whatever its name says
    presets = {
        "unknown_key": BASE_PRESET.replace("rt60_s = 0.3", "rt60_s = 0.3\nreverb_s = 2.0"),
        "unknown_mic_key": BASE_PRESET.replace("gain_db = 10.0", "gain_db = 10.0\nloudness = 3"),
        "wrong_type": BASE_PRESET.replace("gain_db = 10.0", 'gain_db = "loud"'),
        "wrong_type_room": BASE_PRESET.replace("size_m = [8.0, 6.0, 3.0]", 'size_m = "big"'),
        "negative_distance": BASE_PRESET.replace("distance_m = 2.5", "distance_m = -2.5"),
        "outside": BASE_PRESET.replace("distance_m = 5.5", 'distance_m = "40ft"'),
        "singer_outside": BASE_PRESET.replace("position_m = [1.5, 3.0, 1.5]", "position_m = [1.5, 9.0, 1.5]"),
        # 0.1 s in a 40 x 30 x 12 m hall would need walls absorbing more than everything.
        "rt60_too_short": BASE_PRESET.replace("size_m = [8.0, 6.0, 3.0]", "size_m = [40.0, 30.0, 12.0]")
                                     .replace("rt60_s = 0.3", "rt60_s = 0.1"),
        "rt60_too_long": BASE_PRESET.replace("rt60_s = 0.3", "rt60_s = 19.0"),
        "broken": BASE_PRESET.replace("rt60_s = 0.3", "rt60_s = = 0.3"),
        "gate_setting": BASE_PRESET.replace("threshold_db = -30.0", "threshold_db = -30.0\nattack_ms = -5"),
        "no_mics": BASE_PRESET.split("[[mics]]")[0],
        "blank": "",
        "deep_array": BASE_PRESET.replace("size_m = [8.0, 6.0, 3.0]", "size_m = " + "[" * 3000 + "]" * 3000),
        "deep_table": BASE_PRESET.replace("rt60_s = 0.3", "rt60_s = " + "{a = " * 3000 + "1" + "}" * 3000),
        "nested_20": BASE_PRESET.replace("size_m = [8.0, 6.0, 3.0]", "size_m = " + "[" * 20 + "8" + "]" * 20),
        "huge_room": BASE_PRESET.replace("size_m = [8.0, 6.0, 3.0]", "size_m = [1e308, 1e308, 1e308]"),
    }
    for name, text in presets.items():
        (root / f"{name}.toml").write_text(text)
    (root / "binary.toml").write_bytes(b"\xff\xfe\x00\x01 not text")
    names = {p.stem: str(p) for p in root.iterdir()}
    assert len(names) == len(list(root.iterdir())), "two workspace files share a stem"
    names.update(out=str(root / "out.wav"), nowhere=str(root / "no" / "such" / "out.wav"))
    return names


# Each case: id, arguments (templates over make_workspace's names), fragments the one line must hold.
CATALOGUE: list[tuple[str, list[str], list[str]]] = [
    # -- inputs that are not there, or not audio
    ("mix-missing-file", ["mix", "{voice}", "{voice}", "{folder}/missing.wav", "-o", "{out}"], ["missing.wav", "no such file"]),
    ("mix-folder", ["mix", "{voice}", "{folder}", "{voice}", "-o", "{out}"], ["folder", "is a folder"]),
    ("render-empty-file", ["render", "{empty}", "-o", "{out}"], ["empty.wav", "empty"]),
    ("mix-empty-file", ["mix", "{voice}", "{voice}", "{empty}", "-o", "{out}"], ["empty.wav", "empty"]),
    ("render-zero-length", ["render", "{zero}", "-o", "{out}"], ["zero.wav", "no samples"]),
    ("mix-zero-length", ["mix", "{voice}", "{zero}", "{voice}", "-o", "{out}"], ["zero.wav", "no samples"]),
    ("render-truncated-header", ["render", "{truncated}", "-o", "{out}"], ["truncated.wav", "not a readable audio file"]),
    ("render-riff-only", ["render", "{riffonly}", "-o", "{out}"], ["riffonly.wav", "not a readable audio file"]),
    ("render-png-named-wav", ["render", "{png}", "-o", "{out}"], ["png.wav", "not a readable audio file"]),
    ("render-text-named-wav", ["render", "{text}", "-o", "{out}"], ["text.wav", "not a readable audio file"]),
    ("render-zero-channels", ["render", "{nochannels}", "-o", "{out}"], ["nochannels.wav", "not a readable audio file"]),
    ("render-nan", ["render", "{nan}", "-o", "{out}"], ["nan.wav", "NaN or infinite"]),
    ("render-inf", ["render", "{inf}", "-o", "{out}"], ["inf.wav", "NaN or infinite"]),
    ("render-neginf", ["render", "{neginf}", "-o", "{out}"], ["neginf.wav", "NaN or infinite"]),
    ("mix-nan-track", ["mix", "{voice}", "{voice}", "{nan}", "-o", "{out}"], ["nan.wav", "NaN or infinite"]),
    ("mix-nan-short-track", ["mix", "{voice}", "{voice}", "{nanshort}", "-o", "{out}"], ["nanshort.wav", "NaN or infinite"]),
    ("mix-rate-too-low", ["mix", "{rate4k}", "{voice}", "{voice}", "-o", "{out}"], ["rate4k.wav", "4000", "8000"]),
    # -- outputs that cannot be
    ("mix-output-folder-missing", ["mix", "{voice}", "{short}", "{voice}", "-o", "{nowhere}"], ["does not exist"]),
    ("ir-output-folder-missing", ["ir", "-o", "{nowhere}"], ["does not exist"]),
    ("render-plot-folder-missing", ["render", "{voice}", "-o", "{out}", "--plot", "{folder}/no/p.png"], ["--plot", "does not exist"]),
    ("render-report-folder-missing", ["render", "{voice}", "-o", "{out}", "--report", "{folder}/no/r.json"], ["--report", "does not exist"]),
    ("render-output-is-folder", ["render", "{voice}", "-o", "{folder}"], ["is a folder"]),
    ("render-output-unknown-extension", ["render", "{voice}", "-o", "{folder}/out.xyz"], ["out.xyz", ".wav"]),
    ("render-unknown-subtype", ["render", "{voice}", "-o", "{out}", "--subtype", "PCM_99"], ["PCM_99", "PCM_16"]),
    ("mix-output-is-first-input", ["mix", "{voice}", "{short}", "{short}", "-o", "{voice}"], ["never overwrites its input"]),
    ("mix-output-is-last-input", ["mix", "{voice}", "{voice}", "{short}", "-o", "{short}"], ["never overwrites its input"]),
    ("render-output-is-input-other-spelling", ["render", "{voice}", "-o", "{folder}/../voice.wav"], ["never overwrites its input"]),
    ("ir-sample-rate-too-high", ["ir", "-o", "{out}", "--sample-rate", "192001"], ["--sample-rate", "192000"]),
    # -- preset files
    ("preset-unknown-key", ["render", "{voice}", "-o", "{out}", "--preset", "{unknown_key}"], ["room.reverb_s", "unknown key", "expected one of"]),
    ("preset-unknown-mic-key", ["render", "{voice}", "-o", "{out}", "--preset", "{unknown_mic_key}"], ["mics.mid.loudness", "unknown key"]),
    ("preset-wrong-type", ["render", "{voice}", "-o", "{out}", "--preset", "{wrong_type}"], ["mics.mid.gain_db", "expected", "'loud'"]),
    ("preset-wrong-type-room", ["render", "{voice}", "-o", "{out}", "--preset", "{wrong_type_room}"], ["room.size_m", "expected", "'big'"]),
    ("preset-negative-distance", ["render", "{voice}", "-o", "{out}", "--preset", "{negative_distance}"], ["mics.mid.distance_m", "expected", "-2.5"]),
    ("preset-mic-outside-room", ["render", "{voice}", "-o", "{out}", "--preset", "{outside}"], ["mics.far.distance_m", "outside the room"]),
    ("preset-singer-outside-room", ["render", "{voice}", "-o", "{out}", "--preset", "{singer_outside}"], ["singer.position_m", "outside the room"]),
    ("preset-rt60-too-short", ["render", "{voice}", "-o", "{out}", "--preset", "{rt60_too_short}"], ["room.rt60_s", "expected at least"]),
    ("preset-rt60-too-long", ["render", "{voice}", "-o", "{out}", "--preset", "{rt60_too_long}"], ["room.rt60_s", "longer than"]),
    ("ir-preset-rt60-too-short", ["ir", "-o", "{out}", "--preset", "{rt60_too_short}"], ["room.rt60_s", "expected at least"]),
    ("preset-broken-toml", ["render", "{voice}", "-o", "{out}", "--preset", "{broken}"], ["broken.toml", "TOML"]),
    ("preset-binary", ["render", "{voice}", "-o", "{out}", "--preset", "{binary}"], ["binary.toml"]),
    ("preset-gate-setting", ["render", "{voice}", "-o", "{out}", "--preset", "{gate_setting}"], ["mics.mid.gate", "attack_ms", "-5"]),
    ("preset-no-mics", ["render", "{voice}", "-o", "{out}", "--preset", "{no_mics}"], ["mics", "expected"]),
    ("preset-missing-file", ["render", "{voice}", "-o", "{out}", "--preset", "{folder}/gone.toml"], ["gone.toml", "no such file"]),
    ("mix-unknown-preset-name", ["mix", "{voice}", "{voice}", "{voice}", "-o", "{out}", "--preset", "heroes-77"], ["heroes-77", "heroes-1977"]),
    ("ir-unknown-preset-name", ["ir", "-o", "{out}", "--preset", "bowie"], ["bowie", "heroes-1977"]),
    # -- --set
    ("set-empty-key", ["render", "{voice}", "-o", "{out}", "--set", "=5"], ["--set", "'=5'", "expected"]),
    ("set-empty-value", ["render", "{voice}", "-o", "{out}", "--set", "room.rt60_s="], ["room.rt60_s", "expected a value"]),
    ("set-empty-part", ["render", "{voice}", "-o", "{out}", "--set", "mics..gain_db=1"], ["mics..gain_db", "expected"]),
    ("set-no-equals-ir", ["ir", "-o", "{out}", "--set", "mics.far.distance_m"], ["mics.far.distance_m", "KEY=VALUE"]),
    ("set-no-such-mic", ["render", "{voice}", "-o", "{out}", "--set", "mics.nobody.gain_db=1"], ["nobody", "close, mid, far"]),
    ("set-no-such-mic-gate", ["mix", "{voice}", "{voice}", "{voice}", "-o", "{out}", "--set", "mics.nobody.gate.threshold_db=-30"], ["nobody", "close, mid, far"]),
    ("set-nothing-here", ["render", "{voice}", "-o", "{out}", "--set", "nothing.here=1"], ["nothing", "unknown key"]),
    ("set-nothing-top", ["render", "{voice}", "-o", "{out}", "--set", "nothing=1"], ["nothing", "unknown key", "expected one of"]),
    ("set-room-nothing", ["render", "{voice}", "-o", "{out}", "--set", "room.nothing=1"], ["room.nothing", "unknown key"]),
    ("set-gate-nothing", ["render", "{voice}", "-o", "{out}", "--set", "mics.far.gate.nothing=1"], ["nothing", "expected one of"]),
    ("set-wrong-type", ["render", "{voice}", "-o", "{out}", "--set", "room.rt60_s=fast"], ["room.rt60_s", "expected a number", "'fast'"]),
    ("set-bad-unit", ["render", "{voice}", "-o", "{out}", "--set", "mics.far.distance_m=12 parsecs"], ["mics.far.distance_m", "expected"]),
    ("set-bad-pattern", ["render", "{voice}", "-o", "{out}", "--set", "mics.far.pattern=shotgun"], ["mics.far.pattern", "cardioid", "'shotgun'"]),
    ("set-bad-channels", ["render", "{voice}", "-o", "{out}", "--set", "output.channels=3"], ["output.channels", "expected", "3"]),
    ("set-bad-gate-time", ["render", "{voice}", "-o", "{out}", "--set", "mics.far.gate.attack_ms=-3"], ["mics.far.gate", "attack_ms", "-3"]),
    ("set-bad-threshold", ["render", "{voice}", "-o", "{out}", "--set", "mics.far.gate.threshold=loud"], ["mics.far.gate.threshold", "p60", "'loud'"]),
    ("set-rt60-impossible", ["render", "{voice}", "-o", "{out}", "--set", "room.rt60_s=0.05"], ["room.rt60_s", "0.05", "expected at least"]),
    ("set-gate-key-unknown", ["render", "{voice}", "-o", "{out}", "--set", "mics.far.gate.key=piano"], ["mics.far.gate.key", "'piano'"]),
    ("set-into-a-number", ["render", "{voice}", "-o", "{out}", "--set", "room.rt60_s.x=1"], ["room.rt60_s", "not a table"]),
    ("set-into-a-list", ["render", "{voice}", "-o", "{out}", "--set", "room.size_m.x=1"], ["room.size_m", "not a table"]),
    ("set-ir-missing", ["render", "{voice}", "-o", "{out}", "--set", "mics.far.ir='{folder}/missing.wav'"], ["missing.wav", "no such file"]),
    ("set-ir-not-audio", ["render", "{voice}", "-o", "{out}", "--set", "mics.far.ir='{png}'"], ["png.wav", "not a readable audio file"]),
    ("set-ir-nan", ["ir", "-o", "{out}", "--set", "mics.far.ir='{nan}'"], ["nan.wav", "NaN or infinite"]),
    # -- issue 15: an output that is a file the command reads (not only its audio inputs)
    ("render-output-is-a-measured-ir", ["render", "{voice}", "-o", "{hall}", "--set", "mics.far.ir='{hall}'"],
     ["hall.wav", "mics.far.ir", "never overwrites its input"]),
    ("render-output-is-the-room-ir", ["render", "{voice}", "-o", "{hall3}", "--set", "room.ir='{hall3}'"],
     ["hall3.wav", "room.ir", "never overwrites its input"]),
    ("ir-output-is-a-measured-ir", ["ir", "-o", "{hall}", "--set", "mics.far.ir='{hall}'"],
     ["hall.wav", "mics.far.ir", "never overwrites its input"]),
    ("mix-output-is-a-measured-ir", ["mix", "{voice}", "{voice}", "{voice}", "-o", "{hall}", "--set", "mics.far.ir='{hall}'"],
     ["hall.wav", "mics.far.ir", "never overwrites its input"]),
    ("render-output-is-the-preset-file", ["render", "{voice}", "-o", "{presetwav}", "--preset", "{presetwav}"],
     ["presetwav.wav", "the preset", "never overwrites its input"]),
    # -- issue 15: nesting deeper than any preset, numbers larger than any room, louder than any audio
    ("set-deeply-nested-value", ["render", "{voice}", "-o", "{out}", "--set", "room.size_m=" + "[" * 5000 + "]" * 5000],
     ["--set room.size_m", "nested"]),
    ("set-nested-20-levels", ["ir", "-o", "{out}", "--set", "room.size_m=" + "[" * 20 + "8" + "]" * 20],
     ["--set room.size_m", "nested"]),
    ("preset-deeply-nested-array", ["render", "{voice}", "-o", "{out}", "--preset", "{deep_array}"], ["deep_array.toml", "nested"]),
    ("preset-deeply-nested-table", ["ir", "-o", "{out}", "--preset", "{deep_table}"], ["deep_table.toml", "nested"]),
    ("preset-nested-20-levels", ["render", "{voice}", "-o", "{out}", "--preset", "{nested_20}"], ["nested_20.toml", "nested"]),
    ("set-huge-room", ["render", "{voice}", "-o", "{out}", "--set", "room.size_m=[1e308,1e308,1e308]"], ["room.size_m", "1000 m"]),
    ("ir-huge-room", ["ir", "-o", "{out}", "--set", "room.size_m=[1e308,1e308,1e308]"], ["room.size_m", "1000 m"]),
    ("preset-huge-room", ["render", "{voice}", "-o", "{out}", "--preset", "{huge_room}"], ["room.size_m", "1000 m"]),
    ("set-infinite-room", ["render", "{voice}", "-o", "{out}", "--set", "room.size_m=[1e400,6,3]"], ["room.size_m", "finite"]),
    ("render-loud-input", ["render", "{loud}", "-o", "{out}"], ["loud.wav", "peak 6.26e+05"]),
    ("mix-loud-track", ["mix", "{voice}", "{loud}", "{voice}", "-o", "{out}"], ["loud.wav", "peak 6.26e+05"]),
    # -- issue 15: the studio's address
    ("studio-port-out-of-range", ["studio", "--port", "70000"], ["--port", "65535", "70000"]),
    ("studio-port-negative", ["studio", "--port", "-1"], ["--port", "65535"]),
    ("studio-host-not-loopback", ["studio", "--host", "192.0.2.1", "--port", "0"], ["192.0.2.1", "127.0.0.1"]),
]

# Catalogue cases that show a bug: the reason, and (kept in the test) what should happen.
CATALOGUE_XFAIL: dict[str, str] = {}  # case -> the bug's description, while one is open


@pytest.mark.parametrize(("args", "fragments"), [
    pytest.param(args, fragments, id=case,
                 marks=[pytest.mark.xfail(reason=CATALOGUE_XFAIL[case], strict=True)] if case in CATALOGUE_XFAIL else [])
    for case, args, fragments in CATALOGUE
])
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(tmp_path: Path, cold_env: dict[str, str],
                                                             args: list[str], fragments: list[str]) -> None:
    names = make_workspace(tmp_path)
    argv = [a.format(**names) for a in args]
    if "--preset" not in argv and argv[0] in ("render", "mix", "ir"):
        argv[1:1] = SMALL  # first, so the case's own --set wins; a case that wrongly succeeds stays quick
    before = snapshot(tmp_path)
    result = run(*argv, cwd=tmp_path, env=cold_env)
    assert_one_line_error(result, *[f.format(**names) for f in fragments])
    assert_nothing_changed(before, snapshot(tmp_path))


# -- the same rules, for cases that need more than the workspace -------------------------------------


def test_output_via_symlink_or_hard_link_to_the_input_is_refused(tmp_path: Path) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    (tmp_path / "soft.wav").symlink_to(voice)
    os.link(voice, tmp_path / "hard.wav")
    before = snapshot(tmp_path)
    for name in ("soft.wav", "hard.wav"):
        assert_one_line_error(run("render", str(voice), "-o", str(tmp_path / name), *SMALL), "never overwrites its input")
        assert_one_line_error(run("mix", str(voice), str(voice), str(voice), "-o", str(tmp_path / name), *SMALL),
                              "never overwrites its input")
    assert_nothing_changed(before, snapshot(tmp_path))


_NOT_CHECKED_UP_FRONT = ("cli._check_side_file checks that the folder exists but not that it is writable, so "
                         "out.wav is written before the report/plot fails: exit 2 with an output left behind")
UNWRITABLE_XFAIL: dict[str, str] = {}  # case -> the bug's description, while one is open


@pytest.mark.parametrize("command", [
    pytest.param(c, marks=[pytest.mark.xfail(reason=UNWRITABLE_XFAIL[c], strict=True)] if c in UNWRITABLE_XFAIL else [])
    for c in ("render", "mix", "ir", "render-report", "render-plot", "mix-report")
])
def test_unwritable_output_folder_is_one_line_exit_2_and_nothing_is_written(tmp_path: Path, cold_env: dict[str, str],
                                                                           command: str) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    locked = tmp_path / "locked"
    out = str(tmp_path / "out.wav")
    argv = {
        "render": ["render", str(voice), "-o", str(locked / "out.wav"), *ABSOLUTE],
        "mix": ["mix", str(voice), str(voice), str(voice), "-o", str(locked / "out.wav")],
        "ir": ["ir", "-o", str(locked / "irs.wav"), "--sample-rate", "16000"],
        "render-report": ["render", str(voice), "-o", out, "--report", str(locked / "r.json"), *ABSOLUTE],
        "render-plot": ["render", str(voice), "-o", out, "--plot", str(locked / "p.png"), *ABSOLUTE],
        "mix-report": ["mix", str(voice), str(voice), str(voice), "-o", out, "--report", str(locked / "r.json")],
    }[command]
    with read_only_folder(locked):
        before = snapshot(tmp_path)
        result = run(*argv, *SMALL, env=cold_env)
        after = snapshot(tmp_path)
    assert_one_line_error(result, "locked", "not writable")
    assert_nothing_changed(before, after)


def test_huge_integer_in_a_preset_is_a_config_error(tmp_path: Path) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    before = snapshot(tmp_path)
    result = run("render", str(voice), "-o", str(tmp_path / "out.wav"), *SMALL, "--set", "mics.far.gain_db=1" + "0" * 400)
    assert_one_line_error(result, "mics.far.gain_db", "expected")
    assert_nothing_changed(before, snapshot(tmp_path))


def test_float_channel_count_is_used_or_refused_clearly(tmp_path: Path) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    out = tmp_path / "out.wav"
    result = run("render", str(voice), "-o", str(out), *SMALL, *ABSOLUTE, "--set", "output.channels=2.0")
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode == 0:
        assert soundfile.info(str(out)).channels == 2
    else:
        assert_one_line_error(result, "output.channels")
        assert not out.exists()


def test_huge_lookahead_is_refused_not_a_memory_error(tmp_path: Path) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    before = snapshot(tmp_path)
    result = run("render", str(voice), "-o", str(tmp_path / "out.wav"), *SMALL, *ABSOLUTE,
                 "--set", "mics.far.gate.lookahead_ms=1e9")
    assert_one_line_error(result, "lookahead_ms", "expected")
    assert_nothing_changed(before, snapshot(tmp_path))


def test_input_rate_out_of_range_names_the_file(tmp_path: Path) -> None:
    for seconds, rate in ((0.3, 4_000), (0.05, 384_000)):
        source = voice_file(tmp_path / f"rate{rate}.wav", sample_rate=rate, seconds=seconds)
        before = snapshot(tmp_path)
        result = run("render", str(source), "-o", str(tmp_path / "out.wav"), *SMALL)
        assert_one_line_error(result, source.name, str(rate), "8000")
        assert_nothing_changed(before, snapshot(tmp_path))


@pytest.mark.parametrize("channels", [65, 300])
def test_a_file_with_very_many_channels_is_downmixed_or_refused_in_one_line(tmp_path: Path, channels: int) -> None:
    """A file's channel layout is not ambiguous (unlike an array's): roomgate should downmix it, or refuse
    it in one line naming the file and the count, never with advice for Python callers (audio.T)."""
    source = tmp_path / f"c{channels}.wav"
    noise = 0.1 * np.random.default_rng(0).standard_normal((1600, channels))
    soundfile.write(str(source), noise.astype(np.float32), 16_000, subtype="FLOAT")
    out = tmp_path / "out.wav"
    before = snapshot(tmp_path)
    result = run("render", str(source), "-o", str(out), *SMALL, *ABSOLUTE)
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode == 0:
        assert "downmixed" in result.stderr and soundfile.info(str(out)).channels == 1
    else:
        line = assert_one_line_error(result, source.name, str(channels))
        assert "audio.T" not in line
        assert_nothing_changed(before, snapshot(tmp_path))


def test_random_bytes_named_wav_are_one_line(tmp_path: Path) -> None:
    """libmpg123 takes these bytes for MPEG audio and prints its own warning straight to stderr."""
    source = tmp_path / "random.wav"
    source.write_bytes(np.random.default_rng(1).bytes(4096))
    before = snapshot(tmp_path)
    result = run("render", str(source), "-o", str(tmp_path / "out.wav"), *SMALL)
    assert_one_line_error(result, "random.wav", "not a readable audio file")
    assert_nothing_changed(before, snapshot(tmp_path))


def test_batch_with_two_inputs_of_the_same_name_loses_nothing(tmp_path: Path) -> None:
    """render a/take.wav b/take.wav -o OUT would write both to OUT/take.wav: the second silently
    replaces the first. It should be refused up front (nothing written), or keep both."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = voice_file(tmp_path / "a" / "take.wav", seconds=0.5)
    second = voice_file(tmp_path / "b" / "take.wav", seconds=0.3)
    folder = tmp_path / "renders"
    folder.mkdir()
    result = run("render", str(first), str(second), "-o", str(folder), *SMALL, *ABSOLUTE)
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode == 0:
        assert len([p for p in folder.iterdir() if p.suffix == ".wav"]) == 2, sorted(p.name for p in folder.iterdir())
    else:
        assert_one_line_error(result)
        assert list(folder.iterdir()) == []


def test_set_ir_relative_path_is_relative_to_the_working_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(4000) / 16_000
    hall = (rng.standard_normal(4000) * np.exp(-t / 0.05)).astype(np.float32)
    hall[0] = 1.0
    soundfile.write(str(tmp_path / "hall.wav"), hall, 16_000, subtype="FLOAT")
    voice = voice_file(tmp_path / "voice.wav")
    result = run("render", "voice.wav", "-o", "out.wav", *SMALL, *ABSOLUTE, "--set", "mics.far.ir=hall.wav", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert is_complete(tmp_path / "out.wav") and voice.exists()


# -- inputs the rig can use render -----------------------------------------------------------------


def _render_ok(source: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    before = source.read_bytes(), source.stat().st_mtime_ns
    result = run("render", str(source), "-o", str(out), *extra)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (source.read_bytes(), source.stat().st_mtime_ns) == before  # the input is never changed
    return result


def test_one_sample_input_renders_with_fixed_thresholds(tmp_path: Path) -> None:
    source = tmp_path / "one.wav"
    soundfile.write(str(source), np.array([0.5], np.float32), 16_000, subtype="PCM_16")
    out = tmp_path / "out.wav"
    _render_ok(source, out, *SMALL, *ABSOLUTE)
    audio, rate = soundfile.read(str(out), always_2d=True)
    assert rate == 16_000
    assert audio.shape[0] > 1600  # the one sample, then 0.3 s of room ringing after it
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 0


@pytest.mark.parametrize("content", ["one-sample", "silence"])
def test_one_sample_or_silent_input_renders_with_the_default_preset(tmp_path: Path, content: str) -> None:
    """heroes-1977's thresholds are percentiles of the singing; a take with no singing in it (one
    sample, or silence) should still render (the gates simply stay shut), not be refused."""
    source = tmp_path / "take.wav"
    samples = np.array([0.5], np.float32) if content == "one-sample" else np.zeros(8000, np.float32)
    soundfile.write(str(source), samples, 16_000, subtype="PCM_16")
    out = tmp_path / "out.wav"
    _render_ok(source, out, *SMALL)
    audio, _ = soundfile.read(str(out), always_2d=True)
    assert audio.shape[0] > samples.size and np.all(np.isfinite(audio))


def test_eight_channel_input_is_downmixed_with_a_notice(tmp_path: Path) -> None:
    source = voice_file(tmp_path / "eight.wav", channels=8)
    out = tmp_path / "out.wav"
    result = _render_ok(source, out, *SMALL)
    assert "8 channels downmixed to mono" in result.stderr and "eight.wav" in result.stderr
    info = soundfile.info(str(out))
    assert info.channels == 1 and info.samplerate == 16_000


@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 44_100, 88_200, 192_000])
def test_every_rate_from_8_to_192_khz_renders_and_keeps_its_rate(tmp_path: Path, rate: int) -> None:
    source = voice_file(tmp_path / f"voice{rate}.wav", sample_rate=rate, seconds=0.25 if rate < 88_200 else 0.1,
                        subtype="PCM_24")
    out = tmp_path / "out.wav"
    _render_ok(source, out, *TINY)
    info = soundfile.info(str(out))
    audio, _ = soundfile.read(str(out), always_2d=True)
    assert info.samplerate == rate and info.subtype == "PCM_24"
    assert info.frames > soundfile.info(str(source)).frames  # the room's tail follows
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 0.5


def test_truncated_data_renders_what_is_there(tmp_path: Path) -> None:
    """A WAV whose data chunk was cut short (a copy interrupted) holds the samples before the cut."""
    whole = voice_file(tmp_path / "whole.wav", seconds=1.0)
    source = tmp_path / "cut.wav"
    source.write_bytes(whole.read_bytes()[: 44 + 2 * 8000])  # half of the 16-bit samples
    out = tmp_path / "out.wav"
    _render_ok(source, out, *SMALL, *ABSOLUTE)
    assert soundfile.info(str(out)).frames >= 8000


def test_mix_pads_shorter_tracks_with_a_notice(tmp_path: Path) -> None:
    close = voice_file(tmp_path / "close.wav", seconds=0.5)
    mid = voice_file(tmp_path / "mid.wav", seconds=0.3)
    far = voice_file(tmp_path / "far.wav", seconds=0.4)
    out = tmp_path / "out.wav"
    result = run("mix", str(close), str(mid), str(far), "-o", str(out), *SMALL)
    assert result.returncode == 0, result.stderr
    assert "mid.wav" in result.stderr and "far.wav" in result.stderr and "padded" in result.stderr
    assert "0.200 s" in result.stderr and "0.100 s" in result.stderr
    info = soundfile.info(str(out))
    assert info.frames == 8000 and info.samplerate == 16_000  # the longest track's length, no tail added


def test_mix_resamples_other_rates_with_a_notice(tmp_path: Path) -> None:
    close = voice_file(tmp_path / "close.wav", seconds=0.5)
    mid = voice_file(tmp_path / "mid.wav", sample_rate=44_100, seconds=0.5)
    far = voice_file(tmp_path / "far.wav", sample_rate=22_050, seconds=0.5)
    out = tmp_path / "out.wav"
    result = run("mix", str(close), str(mid), str(far), "-o", str(out), *SMALL)
    assert result.returncode == 0, result.stderr
    for name, rate in (("mid.wav", 44_100), ("far.wav", 22_050)):
        assert any(name in line and "resampled" in line and str(rate) in line for line in result.stderr.splitlines()), result.stderr
    info = soundfile.info(str(out))
    assert info.samplerate == 16_000 and abs(info.frames - 8000) <= 1
    audio, _ = soundfile.read(str(out), always_2d=True)
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 0.5


# -- atomic outputs ---------------------------------------------------------------------------------

# Run the real CLI, but SIGKILL the process at the moment it renames a finished temp file onto the
# final name ROOMGATE_TEST_KILL_AT: the latest instant a kill can come before that output exists.
_KILL_AT_RENAME = """
import os, signal, sys
target = os.environ["ROOMGATE_TEST_KILL_AT"]

def guard(real):
    def wrapper(src, dst, *args, **kwargs):
        if os.path.basename(os.fspath(dst)) == target:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, *args, **kwargs)
    return wrapper

os.replace = guard(os.replace)
os.rename = guard(os.rename)
from roomgate.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_killed_at_rename(tmp_path: Path, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    driver = tmp_path / "kill_at_rename.py"
    driver.write_text(_KILL_AT_RENAME)
    env = {**os.environ, "ROOMGATE_TEST_KILL_AT": target}
    return subprocess.run([sys.executable, str(driver), *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize(("target", "written_before"), [
    ("out.wav", []), ("r.json", ["out.wav"]), ("p.png", ["out.wav", "r.json"]),
])
def test_render_killed_before_an_output_is_in_place_leaves_nothing_under_its_name(
        tmp_path: Path, target: str, written_before: list[str]) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    folder = tmp_path / "out"
    folder.mkdir()
    result = _run_killed_at_rename(tmp_path, target, "render", str(voice), "-o", str(folder / "out.wav"),
                                   "--report", str(folder / "r.json"), "--plot", str(folder / "p.png"), *SMALL)
    assert result.returncode == -signal.SIGKILL, (
        f"{target} was never renamed into place (written straight to its final name?): exit {result.returncode}\n{result.stderr}")
    assert not (folder / target).exists()
    for name in written_before:  # written (whole) before the kill
        assert is_complete(folder / name), name
    leftovers = [p.name for p in folder.iterdir() if p.name not in written_before]
    assert all(name.startswith(".") for name in leftovers), leftovers  # only hidden temp files


@pytest.mark.parametrize("target", ["out.wav", "r.json"])
def test_mix_killed_before_an_output_is_in_place_leaves_nothing_under_its_name(tmp_path: Path, target: str) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    folder = tmp_path / "out"
    folder.mkdir()
    result = _run_killed_at_rename(tmp_path, target, "mix", str(voice), str(voice), str(voice),
                                   "-o", str(folder / "out.wav"), "--report", str(folder / "r.json"), *SMALL)
    assert result.returncode == -signal.SIGKILL, f"exit {result.returncode}\n{result.stderr}"
    assert not (folder / target).exists()
    assert all(p.name.startswith(".") or p.name == "out.wav" for p in folder.iterdir())


def test_ir_killed_before_the_file_is_in_place_leaves_nothing_under_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = _run_killed_at_rename(tmp_path, "irs.wav", "ir", "-o", str(folder / "irs.wav"), "--sample-rate", "16000", *SMALL)
    assert result.returncode == -signal.SIGKILL, f"exit {result.returncode}\n{result.stderr}"
    assert all(p.name.startswith(".") for p in folder.iterdir()), sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def long_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s at 16 kHz: long enough that a render runs for a few seconds."""
    path = tmp_path_factory.mktemp("long") / "long.wav"
    rate = 16_000
    t = np.arange(60 * rate) / rate
    voice = 0.5 * np.sin(2 * np.pi * 180 * t) * (0.3 + 0.7 * np.abs(np.sin(np.pi * t / 4)))
    soundfile.write(str(path), voice.astype(np.float32), rate, subtype="PCM_16")
    return path


def _kill_when(process: subprocess.Popen[bytes], folder: Path, seen: Callable[[list[str]], bool],
               timeout_s: float = 240.0) -> list[str]:
    """Poll ``folder`` every millisecond; SIGKILL ``process`` the moment ``seen(names)`` holds.
    Returns the names seen then. When the process ends first the moment was missed (a loaded machine
    can sleep through a short window): skip; the kill-at-rename tests above are the deterministic guard."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        names = os.listdir(folder)
        if seen(names):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return names
        if process.poll() is not None:
            pytest.skip(f"the render ended (exit {process.returncode}) before the moment to kill it was seen; "
                        f"the folder holds {sorted(os.listdir(folder))}")
        time.sleep(0.001)
    process.kill()
    process.wait()
    pytest.fail("timed out waiting for the moment to kill the render")


@pytest.mark.parametrize("moment", ["first-temp-file", "audio-part", "plot-part"])
def test_render_killed_mid_way_never_leaves_a_partial_file_under_a_final_name(
        tmp_path: Path, long_voice: Path, moment: str) -> None:
    """SIGKILL a real render of a long take at three moments: when its first temp file appears
    (rendering), while the audio's ``.out.wav.*.part`` is being written, and while the plot's is.
    A final name may hold only a whole file (written before the kill); the outputs still to come
    must not exist. Hidden temp files may stay behind (nothing can clean up after SIGKILL)."""
    folder = tmp_path / "out"
    folder.mkdir()
    finals = ["out.wav", "r.json", "p.png"]
    predicates: dict[str, Callable[[list[str]], bool]] = {
        "first-temp-file": lambda names: any(n.startswith(".") for n in names),
        "audio-part": lambda names: any(n.startswith(".out.wav.") and n.endswith(".part") for n in names),
        "plot-part": lambda names: any(n.startswith(".p.png.") and n.endswith(".part") for n in names),
    }
    process = subprocess.Popen(
        [*ROOMGATE, "render", str(long_voice), "-o", str(folder / "out.wav"), "--report", str(folder / "r.json"),
         "--plot", str(folder / "p.png"), *SMALL],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    _kill_when(process, folder, predicates[moment])
    present = [name for name in finals if (folder / name).exists()]
    for name in present:
        assert is_complete(folder / name), f"{name} is under its final name but not whole"
    # The outputs after the one being written at the kill cannot have been started.
    not_yet = {"first-temp-file": ["r.json", "p.png"], "audio-part": ["r.json", "p.png"], "plot-part": []}[moment]
    assert not [name for name in not_yet if name in present], present
    if moment == "first-temp-file":
        assert "p.png" not in present
    leftovers = [n for n in os.listdir(folder) if n not in finals]
    assert all(n.startswith(".") for n in leftovers), leftovers


def test_ir_killed_while_simulating_leaves_nothing(tmp_path: Path) -> None:
    """SIGKILL `roomgate ir` while it simulates a room no cache holds: no irs.wav appears."""
    folder = tmp_path / "out"
    folder.mkdir()
    env = {**os.environ, "ROOMGATE_CACHE_DIR": str(tmp_path / "cold-cache")}
    process = subprocess.Popen([*ROOMGATE, "ir", "-o", str(folder / "irs.wav"), "--sample-rate", "48000"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(1.5)
    if process.poll() is not None:
        pytest.skip(f"`roomgate ir` finished within 1.5 s (exit {process.returncode}): nothing to interrupt")
    process.send_signal(signal.SIGKILL)
    process.wait()
    irs = folder / "irs.wav"
    assert not irs.exists() or is_complete(irs)
    assert all(n.startswith(".") or n == "irs.wav" for n in os.listdir(folder))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_outputs_get_ordinary_permissions(tmp_path: Path) -> None:
    """The temp file behind an atomic write is created 0600 (mkstemp); renamed into place as it was,
    every output would be readable by its owner alone, whatever the umask says."""
    voice = voice_file(tmp_path / "voice.wav")
    out, report, plot = tmp_path / "out.wav", tmp_path / "r.json", tmp_path / "p.png"
    _render_ok(voice, out, "--report", str(report), "--plot", str(plot), *SMALL)
    expected = 0o666 & ~_umask()
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (out, report, plot)}
    assert modes == {p.name: oct(expected) for p in (out, report, plot)}


# -- determinism ------------------------------------------------------------------------------------


def test_render_is_bit_identical_run_to_run_cold_or_warm_cache(tmp_path: Path) -> None:
    voice = voice_file(tmp_path / "voice.wav", seconds=0.8)
    env = {**os.environ, "ROOMGATE_CACHE_DIR": str(tmp_path / "cache")}  # cold for the first run only
    outputs = []
    for index in range(2):
        out, report = tmp_path / f"out{index}.wav", tmp_path / f"r{index}.json"
        result = run("render", str(voice), "-o", str(out), "--report", str(report), *SMALL, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append((out.read_bytes(), json.loads(report.read_text())))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1] == outputs[1][1]


def test_mix_is_bit_identical_run_to_run(tmp_path: Path) -> None:
    close = voice_file(tmp_path / "close.wav", seconds=0.5)
    mid = voice_file(tmp_path / "mid.wav", sample_rate=44_100, seconds=0.4)
    far = voice_file(tmp_path / "far.wav", seconds=0.3, amplitude=0.2)
    digests = []
    for index in range(2):
        out = tmp_path / f"out{index}.wav"
        result = run("mix", str(close), str(mid), str(far), "-o", str(out), *SMALL)
        assert result.returncode == 0, result.stderr
        digests.append(out.read_bytes())
    assert digests[0] == digests[1]


@pytest.mark.parametrize("command", ["ir", "render-float"])
def test_float_outputs_are_bit_identical_run_to_run(tmp_path: Path, command: str) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    files = []
    for index in range(2):
        out = tmp_path / f"out{index}.wav"
        if command == "ir":
            result = run("ir", "-o", str(out), "--sample-rate", "16000", *SMALL)
        else:
            result = run("render", str(voice), "-o", str(out), "--subtype", "FLOAT", *SMALL)
        assert result.returncode == 0, result.stderr
        files.append(out.read_bytes())
        if index == 0:
            time.sleep(1.1)  # the PEAK chunk's timestamp counts seconds
    assert files[0] == files[1]
