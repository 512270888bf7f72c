"""Nothing lost, whatever happens: the studio's side of issue 15.

The studio as a real server in a process of its own (stopped by signals, listening everywhere,
its peak memory under an upload too long), and its API under a hostile or careless client with
Starlette's TestClient (deep nesting, file names in settings, thousands of changes, demo voices at
many rates, control characters in names). The token is assumed known: it is in the browser's
history. Skipped when the 'studio' extra (starlette, httpx, python-multipart) is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette")
pytest.importorskip("httpx")
pytest.importorskip("multipart")

with warnings.catch_warnings():  # newer Starlette suggests another HTTP client for its TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from roomgate import load_preset  # noqa: E402
from roomgate.studio import create_app  # noqa: E402
from test_faults import SMALL_SETTINGS, everything_in  # noqa: E402
from test_robustness import ROOMGATE, SMALL, measured_ir, voice_file  # noqa: E402

TOKEN = "test-token-faults"


# -- the studio as a real server (items 4, 7, 8) ----------------------------------------------------------


class Studio:
    """``roomgate studio`` in a process of its own, with its temporary folder under ``tmp``."""

    def __init__(self, tmp: Path, *args: str):
        tmp.mkdir(exist_ok=True)
        self.tmp = tmp
        env = {**os.environ, "TMPDIR": str(tmp)}
        self.process = subprocess.Popen([*ROOMGATE, "studio", "--port", "0", *SMALL, *args], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"(http://[^/]+)/\?token=(\S+)", line)
        if not match:
            self.process.kill()
            raise AssertionError(f"no URL in {line!r}; stderr: {self.process.communicate()[1]}")
        self.base, self.token = match.group(1), match.group(2)

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, dict]:
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"X-Roomgate-Token": self.token, "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def upload(self, data: bytes, name: str = "take.wav") -> tuple[int, dict]:
        boundary = "roomgate-test-boundary-7d1"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", "/api/take", body, f"multipart/form-data; boundary={boundary}")

    def memory_kb(self, field: str) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1))  # type: ignore[union-attr]

    def stop(self, signum: int = signal.SIGTERM) -> tuple[str, str]:
        self.process.send_signal(signum)
        return self.process.communicate(timeout=60)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: signal.Signals(s).name)
def test_a_studio_stopped_by_a_signal_removes_the_users_audio(tmp_path: Path, signum: int) -> None:
    """A studio killed with SIGTERM or SIGHUP once left the uploaded and rendered audio in its folder."""
    studio = Studio(tmp_path / "tmp")
    voice = voice_file(tmp_path / "voice.wav", seconds=1.0)
    try:
        assert studio.upload(voice.read_bytes())[0] == 200
        status, answer = studio.request("POST", "/api/render", b"")
        assert status == 200, answer
        assert everything_in(studio.tmp), "the studio keeps its files somewhere else: nothing to test"
    finally:
        _, err = studio.stop(signum)
    assert "Traceback" not in err, err
    assert everything_in(studio.tmp) == []


def test_a_studio_on_every_interface_says_so(tmp_path: Path) -> None:
    studio = Studio(tmp_path / "tmp", "--host", "0.0.0.0")
    try:
        assert studio.base.startswith("http://127.0.0.1:")  # the URL that works: the Host check wants it
        assert studio.request("GET", "/api/rig")[0] == 200
    finally:
        _, err = studio.stop()
    warned = [line for line in err.splitlines() if "warning" in line]
    assert len(warned) == 1 and "every network interface" in warned[0] and "403" in warned[0], err


# -- the API under a hostile or careless client (items 6, 8-12) -----------------------------------

@pytest.fixture
def app(tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_app(TOKEN, tmp_path, overrides=SMALL_SETTINGS, max_upload_bytes=2_000_000)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://127.0.0.1:8765", headers={"X-Roomgate-Token": TOKEN}) as c:
        yield c


@pytest.mark.parametrize("body", [
    '{"set": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"set": ["room.rt60_s=1"], "x": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}",
    '{"set": ' + "[" * 30 + "]" * 30 + "}",
    json.dumps({"set": ["room.size_m=" + "[" * 3000 + "]" * 3000]}),
], ids=["deep-list", "deep-object", "30-levels", "deep-toml-in-a-change"])
def test_deeply_nested_json_is_400_in_one_message(client: TestClient, body: str) -> None:
    """Deep nesting once raised RecursionError: a 500 and ~3000 lines of traceback in the log."""
    response = client.post("/api/settings", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    assert "nested" in response.json()["error"] and "\n" not in response.json()["error"]
    assert client.get("/api/rig").json()["overrides"] == []


def test_a_take_too_long_for_memory_is_never_decoded_into_it(tmp_path: Path) -> None:
    """A 30-minute WAV (57 MB, under the upload limit) was decoded (230 MB) before its length was
    checked; a 3-hour FLAC of 1.7 MB took the server to 3 GB. Now the header decides: a take longer
    than the studio keeps in memory is copied to disk block by block and streams through the render
    job (issue 18: any take the command line renders is accepted)."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/PID/clear_refs to measure the server's peak memory")
    source = tmp_path / "long.wav"
    with soundfile.SoundFile(str(source), "w", 16_000, 1, "PCM_16") as handle:
        silence = np.zeros(16_000 * 60, np.int16)
        for _ in range(30):
            handle.write(silence)
    studio = Studio(tmp_path / "tmp")
    try:
        Path(f"/proc/{studio.process.pid}/clear_refs").write_text("5")  # the peak starts again from here
        peak_before_kb = studio.memory_kb("VmHWM")
        status, answer = studio.upload(source.read_bytes(), "long.wav")
        grown_kb = studio.memory_kb("VmHWM") - peak_before_kb
    finally:
        studio.stop()
    assert status == 200 and answer["name"] == "long.wav" and answer["streaming"] is True, answer
    assert answer["duration_s"] == pytest.approx(30 * 60)
    decoded_kb = 30 * 60 * 16_000 * 4 // 1024  # what decoding it to float32 would take: 112 MB
    assert grown_kb < decoded_kb / 3, f"the server's peak grew by {grown_kb / 1024:.0f} MB"


def test_a_long_take_within_the_limit_still_loads_downmixed(client: TestClient, tmp_path: Path) -> None:
    stereo = np.tile(0.3 * np.sin(2 * np.pi * 220 * np.arange(48_000) / 16_000), (2, 1)).astype(np.float32)
    path = tmp_path / "stereo.flac"
    soundfile.write(str(path), stereo.T, 16_000, subtype="PCM_24")
    response = client.post("/api/take", files={"file": ("stereo.flac", path.read_bytes(), "audio/flac")})
    assert response.status_code == 200, response.text
    take = response.json()
    assert take["samples"] == 48_000 and any("2 channels downmixed" in n for n in take["notes"])


def test_a_loud_upload_is_400_naming_the_file(client: TestClient) -> None:
    import io

    loud = np.zeros(8000, np.float32)
    loud[4000] = 6.26e5
    buffer = io.BytesIO()
    soundfile.write(buffer, loud, 16_000, format="WAV", subtype="FLOAT")
    response = client.post("/api/take", files={"file": ("loud.wav", buffer.getvalue(), "audio/wav")})
    assert response.status_code == 400 and response.json()["error"].startswith("loud.wav: peak 6.26e+05"), response.text


@pytest.mark.parametrize("change", [
    "mics.far.ir={existing}",
    "mics.far.ir={missing}",
    "room.ir={existing}",
    'room={{size_m = [8, 6, 3], rt60_s = 0.4, ir = "{existing}"}}',
])
def test_settings_cannot_name_a_file_for_the_server_to_read(client: TestClient, tmp_path: Path, change: str) -> None:
    """``ir`` once took any path: the answer told whether a file existed, and a render read it."""
    existing = tmp_path / "secret.wav"
    soundfile.write(str(existing), measured_ir(16_000), 16_000, subtype="FLOAT")
    text = change.format(existing=existing, missing=tmp_path / "missing.wav")
    response = client.post("/api/settings", json={"set": [text]})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "reads no file" in error and "secret" not in error and "missing" not in error
    assert client.get("/api/rig").json()["overrides"] == []
    prefetch = client.post("/api/prefetch", json={"set": [text]})
    assert prefetch.status_code == 400 and prefetch.json()["error"] == error


def test_at_most_so_many_changes_per_request(client: TestClient) -> None:
    """1000 keys in a 15 KB body once held the studio's lock for 4.9 s (a 1 MB body: hours)."""
    from roomgate.studio import settings as studio_settings

    MAX_CHANGES = studio_settings.MAX_CHANGES
    many = [f"mics.far.gain_db={index % 12}" for index in range(MAX_CHANGES + 1)]
    response = client.post("/api/settings", json={"set": many})
    assert response.status_code == 400 and f"at most {MAX_CHANGES}" in response.json()["error"]
    assert client.post("/api/settings", json={"set": many[:MAX_CHANGES]}).status_code == 200


@pytest.mark.parametrize(("existing", "changes"), [(0, 50), (50, 50), (200, 10), (300, 300)])
def test_merging_settings_parses_each_once(monkeypatch: pytest.MonkeyPatch, existing: int, changes: int) -> None:
    """Linear: every change and every kept setting is parsed once (it was once per pair)."""
    from roomgate.studio import settings as studio_settings

    keys = [f"mics.m{index}.gain_db" for index in range(existing + changes)]
    old = [f"{key}=1" for key in keys[:existing]]
    new = [f"{key}=2" for key in keys[existing // 2: existing // 2 + changes]]  # half replace earlier ones
    calls = []
    real = studio_settings.parse_override
    monkeypatch.setattr(studio_settings, "parse_override", lambda text: calls.append(text) or real(text))
    merged = studio_settings.merge_overrides(old, new)
    assert len(calls) == existing + changes
    assert merged == [t for t in old if t.split("=")[0] not in {n.split("=")[0] for n in new}] + new


def test_demo_voices_kept_are_bounded(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    """One demo voice per sample rate was kept for ever (12 rates: +220 MB)."""
    from roomgate.studio import session as studio_session

    DEMO_VOICES_KEPT = studio_session.DEMO_VOICES_KEPT
    rates = [8_000, 11_025, 12_000, 16_000][: DEMO_VOICES_KEPT + 2]
    for rate in rates:
        assert client.post("/api/take/demo", json={"sample_rate": rate}).status_code == 200
    assert len(app.studio._demo_voices) <= DEMO_VOICES_KEPT
    again = client.post("/api/take/demo", json={"sample_rate": rates[0]})
    assert again.status_code == 200 and again.json()["sample_rate"] == rates[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=12), style=st.sampled_from(["raw", "quoted"]))
@example(name="a\x7fb", style="raw")
@example(name="a\x7fb", style="quoted")
@example(name="\x85", style="raw")
def test_a_saved_preset_always_loads(client: TestClient, tmp_path: Path, name: str, style: str) -> None:
    """A DEL in a preset's name was copied into a ``# --set`` comment: the saved preset no longer loaded."""
    client.post("/api/settings/reset")
    text = f"name={name}" if style == "raw" else "name=" + json.dumps(name, ensure_ascii=False)
    response = client.post("/api/settings", json={"set": [text, "room.rt60_s=0.5"]})
    assert response.status_code in (200, 400), response.text
    saved = client.get("/api/preset.toml")
    assert saved.status_code == 200
    path = tmp_path / "saved.toml"
    path.write_bytes(saved.content)
    rig = load_preset(path)
    expected = client.get("/api/rig").json()
    assert rig.config.name == expected["name"] and rig.config.room.rt60_s == expected["room"]["rt60_s"]
    assert not any(0xD800 <= ord(c) <= 0xDFFF or (ord(c) < 32 and c != "\t") or 0x7F <= ord(c) < 0xA0
                   for c in rig.config.name)


def test_a_control_character_in_a_name_is_400(client: TestClient) -> None:
    for text in ("name=a\x7fb", 'name="a\\u007fb"', "name=\x9b", 'name="\\u0085"'):
        response = client.post("/api/settings", json={"set": [text]})
        assert response.status_code == 400 and "control characters" in response.json()["error"], (text, response.text)


def test_a_preset_file_named_with_a_control_character_loads(tmp_path: Path) -> None:
    """A preset without a ``name`` is named after its file, which may hold anything: cleaned."""
    source = tmp_path / "heroes\x7f.toml"
    shutil.copy(Path(load_preset("heroes-1977").config.source), source)
    text = source.read_text()
    source.write_text(re.sub(r'(?m)^name = "heroes-1977"\n', "", text, count=1))
    assert load_preset(source).config.name == "heroes"


