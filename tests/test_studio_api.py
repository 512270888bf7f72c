"""The studio's HTTP API: status codes, the token and Host checks, uploads, settings, renders, presets.

Runs in-process with Starlette's TestClient on a small fast room (8 x 6 x 3 m, RT60 0.4 s) and
short takes at 16 kHz. Skipped when the 'studio' extra (starlette, httpx, python-multipart) is absent.
"""

from __future__ import annotations

import io
import re
import stat
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
pytest.importorskip("multipart")  # python-multipart

import warnings  # noqa: E402

import httpx  # noqa: E402
import soundfile  # noqa: E402

with warnings.catch_warnings():  # newer Starlette suggests another HTTP client for its TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from roomgate import load_preset  # noqa: E402
from roomgate.studio import create_app, serve  # noqa: E402

TOKEN = "test-token-Zx81"
BASE_URL = "http://127.0.0.1:8765"
SMALL_ROOM = [
    "room.size_m=[8, 6, 3]",
    "room.rt60_s=0.4",
    "singer.position_m=[1.5, 3, 1.6]",
    "singer.toward_m=[8, 3, 1.6]",  # the mics' line along x (heroes-1977's own runs across and up its hall)
    "mics.mid.distance_m=2.5",
    "mics.far.distance_m=5.5",
]
SR = 16_000


def _take(seconds: float = 3.0, channels: int = 1) -> np.ndarray:
    """A dry 'vocal' climbing in three steps: -40, -22 and -6 dBFS bursts of a buzzy tone."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    tone = np.sign(np.sin(2 * np.pi * 150 * t)) * 0.5 + 0.5 * np.sin(2 * np.pi * 450 * t)
    levels_db = np.repeat([-40.0, -22.0, -6.0], int(np.ceil(n / 3)))[:n]
    gaps = (np.floor(t * 4) % 4) != 3  # a short breath every second
    audio = (tone * 10 ** (levels_db / 20) * gaps).astype(np.float32)
    return np.tile(audio, (channels, 1))


def _wav_bytes(audio: np.ndarray, sample_rate: int = SR, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.T, sample_rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


@pytest.fixture
def app(tmp_path: Path):
    return create_app(TOKEN, tmp_path, overrides=SMALL_ROOM, max_upload_bytes=2_000_000)


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE_URL, headers={"X-Roomgate-Token": TOKEN}) as c:
        yield c


@pytest.fixture
def bare(app):
    """A client that sends no token."""
    with TestClient(app, base_url=BASE_URL) as c:
        yield c


def _upload(client: TestClient, data: bytes, name: str = "take.wav") -> httpx.Response:
    return client.post("/api/take", files={"file": (name, data, "audio/wav")})


def _load_take(client: TestClient, audio: np.ndarray | None = None, subtype: str = "PCM_16") -> dict:
    response = _upload(client, _wav_bytes(_take() if audio is None else audio, subtype=subtype))
    assert response.status_code == 200, response.text
    return response.json()


# -- the token and the Host header ---------------------------------------------------------------


def test_page_needs_the_token_and_static_files_do_not(bare: TestClient) -> None:
    assert bare.get("/").status_code == 403
    assert bare.get("/?token=wrong").status_code == 403
    page = bare.get(f"/?token={TOKEN}")
    assert page.status_code == 200
    assert "roomgate" in page.text and "static/studio.js" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("studio.js", "javascript"), ("studio.css", "css")):
        response = bare.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]


@pytest.mark.parametrize("headers", [{}, {"X-Roomgate-Token": "wrong"}, {"X-Roomgate-Token": ""}])
def test_api_refuses_a_missing_or_wrong_token(bare: TestClient, headers: dict) -> None:
    for method, path in (("GET", "/api/rig"), ("GET", "/api/state"), ("POST", "/api/render"),
                         ("POST", "/api/settings"), ("GET", "/api/preset.toml"), ("GET", "/api/audio/dry")):
        response = bare.request(method, path, headers=headers)
        assert response.status_code == 403, (method, path)
        assert "token" in response.json()["error"]


def test_token_in_the_query_is_accepted(bare: TestClient) -> None:
    assert bare.get(f"/api/rig?token={TOKEN}").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example:8765",
                                  "192.168.1.10:8765", ""])
def test_a_foreign_host_header_is_refused(client: TestClient, host: str) -> None:
    response = client.get("/api/rig", headers={"host": host})
    assert response.status_code == 403
    assert "Host" in response.text


def test_host_must_name_the_port_when_known(tmp_path: Path) -> None:
    app = create_app(TOKEN, tmp_path, port=8765, overrides=SMALL_ROOM)
    with TestClient(app, base_url=BASE_URL, headers={"X-Roomgate-Token": TOKEN}) as c:
        assert c.get("/api/rig").status_code == 200
        assert c.get("/api/rig", headers={"host": "localhost:8765"}).status_code == 200
        assert c.get("/api/rig", headers={"host": "[::1]:8765"}).status_code == 200
        assert c.get("/api/rig", headers={"host": "127.0.0.1:9999"}).status_code == 403
        assert c.get("/api/rig", headers={"host": "127.0.0.1"}).status_code == 403


# -- the rig and its settings ---------------------------------------------------------------------


def test_rig_describes_room_singer_and_mics(client: TestClient) -> None:
    rig = client.get("/api/rig").json()
    assert rig["room"]["size_m"] == [8.0, 6.0, 3.0]
    assert rig["singer"]["position_m"] == [1.5, 3.0, 1.6]
    assert [m["name"] for m in rig["mics"]] == ["close", "mid", "far"]
    close, mid, far = rig["mics"]
    assert close["distance_m"] == pytest.approx(0.2286) and close["gate"] is None
    assert far["distance_m"] == pytest.approx(5.5) and far["position_m"] == pytest.approx([7.0, 3.0, 1.6])
    assert mid["gain_db"] == 14.0 and mid["gate"]["threshold"] == "p65" and mid["gate"]["key"] == "close"
    assert rig["line"]["direction"] == pytest.approx([1.0, 0.0, 0.0])
    assert rig["overrides"] == []


def test_settings_change_moves_a_mic_and_sets_a_threshold(client: TestClient) -> None:
    changes = ["mics.far.distance_m=4.25", "mics.mid.gate.threshold_db=-30"]
    response = client.post("/api/settings", json={"set": changes})
    assert response.status_code == 200, response.text
    rig = response.json()
    far, mid = rig["mics"][2], rig["mics"][1]
    assert far["distance_m"] == pytest.approx(4.25)
    assert mid["gate"]["threshold"] == -30.0 and mid["gate"]["threshold_db"] == -30.0
    # A later value of a key replaces the earlier one; position_m places a mic anywhere.
    rig = client.post("/api/settings", json={"set": ["mics.far.position_m=[6, 1.5, 2]"]}).json()
    assert rig["mics"][2]["placed"] == "position" and rig["mics"][2]["position_m"] == [6.0, 1.5, 2.0]
    rig = client.post("/api/settings", json={"set": ["mics.far.distance_m=5"]}).json()
    assert rig["overrides"] == ["mics.mid.gate.threshold_db=-30", "mics.far.distance_m=5"]
    assert rig["mics"][2]["distance_m"] == pytest.approx(5.0)
    rig = client.post("/api/settings/undo").json()
    assert rig["overrides"] == ["mics.mid.gate.threshold_db=-30"]
    assert rig["mics"][2]["distance_m"] == pytest.approx(5.5)  # back to the start (SMALL_ROOM)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ("mics.far.distance_m=40", "mics.far.distance_m"),  # outside the 8 m room
        ("mics.far.gate.threshold_db=loud", "mics.far.gate.threshold"),
        ("mics.nobody.gain_db=3", "no mic named 'nobody'"),
        ("room.rt60_s=-1", "room.rt60_s"),
        ("mics.mid.gate.attack_ms=-5", "mics.mid.gate."),
        ("room.colour=red", "room.colour"),
        ("no equals sign", "KEY=VALUE"),
    ],
)
def test_an_invalid_setting_is_400_naming_the_key_and_changes_nothing(
    client: TestClient, change: str, names: str
) -> None:
    before = client.get("/api/rig").json()
    response = client.post("/api/settings", json={"set": ["mics.mid.gain_db=3", change]})
    assert response.status_code == 400, response.text
    assert names in response.json()["error"]
    assert client.get("/api/rig").json() == before  # all or nothing


def test_settings_body_errors_are_400(client: TestClient) -> None:
    broken = client.post("/api/settings", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    assert client.post("/api/settings", json=[1, 2]).status_code == 400
    assert client.post("/api/settings", json={"set": 5}).status_code == 400
    assert client.post("/api/settings", json={"set": ["a.b=1\nc=2"]}).status_code == 400


def test_reset_goes_back_to_the_start_or_to_a_built_in_preset(client: TestClient) -> None:
    client.post("/api/settings", json={"set": ["mics.mid.gain_db=3"]})
    rig = client.post("/api/settings/reset").json()
    assert rig["overrides"] == [] and rig["mics"][1]["gain_db"] == 14.0 and rig["room"]["size_m"] == [8.0, 6.0, 3.0]
    client.post("/api/settings", json={"set": ["mics.mid.gain_db=3"]})
    assert client.post("/api/settings/reset", json={"preset": "/etc/passwd"}).status_code == 400
    assert client.post("/api/settings/reset", json={"preset": "../presets/heroes-1977.toml"}).status_code == 400
    rig = client.post("/api/settings/reset", json={"preset": "heroes-1977"}).json()
    assert rig["room"]["size_m"] == [19.0, 14.0, 7.0] and rig["overrides"] == []


# -- uploads ----------------------------------------------------------------------------------


def test_upload_of_non_audio_bytes_is_400_naming_the_file(client: TestClient) -> None:
    response = _upload(client, b"this is not a sound file, just words " * 40, name="notes.wav")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "notes.wav" in error and "not a readable audio file" in error
    assert "session-" not in error  # the private folder is never shown


def test_upload_of_an_empty_file_is_400(client: TestClient) -> None:
    response = _upload(client, b"", name="empty.wav")
    assert response.status_code == 400
    assert "empty" in response.json()["error"] and "empty.wav" in response.json()["error"]


def test_upload_without_the_file_field_or_not_multipart_is_400(client: TestClient) -> None:
    response = client.post("/api/take", files={"other": ("x.wav", b"RIFF", "audio/wav")})
    assert response.status_code == 400 and "'file'" in response.json()["error"]
    response = client.post("/api/take", content=_wav_bytes(_take()), headers={"content-type": "audio/wav"})
    assert response.status_code == 400 and "multipart" in response.json()["error"]
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=x"):
        response = client.post("/api/take", content=b"garbage", headers={"content-type": content_type})
        assert response.status_code == 400 and response.json()["error"].startswith("upload: ")
    two = [("file", ("a.wav", b"RIFF", "audio/wav")), ("file", ("b.wav", b"RIFF", "audio/wav"))]
    assert client.post("/api/take", files=two).status_code == 400


def test_an_oversized_upload_is_413(tmp_path: Path) -> None:
    app = create_app(TOKEN, tmp_path, overrides=SMALL_ROOM, max_upload_bytes=20_000)
    big = _wav_bytes(_take(2.0))  # 64 kB
    with TestClient(app, base_url=BASE_URL, headers={"X-Roomgate-Token": TOKEN}) as c:
        response = _upload(c, big)  # declared by Content-Length
        assert response.status_code == 413 and "limit" in response.json()["error"]

        boundary = "b0undary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n"
                f"Content-Type: audio/wav\r\n\r\n").encode() + big + f"\r\n--{boundary}--\r\n".encode()

        def chunks():  # no Content-Length: counted as it arrives
            for start in range(0, len(body), 4096):
                yield body[start:start + 4096]

        response = c.post("/api/take", content=chunks(),
                          headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert response.status_code == 413
        assert c.get("/api/state").json()["take"] is None
        small = _upload(c, _wav_bytes(_take(0.5)))
        assert small.status_code == 200, small.text


def test_upload_stereo_is_downmixed_and_both_audios_read_back(client: TestClient) -> None:
    take = _load_take(client, _take(channels=2))
    assert take["sample_rate"] == SR and take["duration_s"] == pytest.approx(3.0)
    assert "downmixed" in take["notes"][0]
    dry = client.get(take["audio_url"])
    assert dry.status_code == 200 and dry.headers["content-type"] == "audio/wav"
    audio, rate = soundfile.read(io.BytesIO(dry.content), always_2d=True)
    assert rate == SR and audio.shape == (3 * SR, 1)
    assert client.get("/api/audio/dry").content == dry.content


# -- rendering ----------------------------------------------------------------------------------


def test_render_without_a_take_is_409(client: TestClient) -> None:
    response = client.post("/api/render")
    assert response.status_code == 409 and "take" in response.json()["error"]
    assert client.get("/api/report").status_code == 404


def test_render_gives_a_wav_and_a_report(client: TestClient) -> None:
    _load_take(client)
    response = client.post("/api/render")
    assert response.status_code == 200, response.text
    result = response.json()
    report = result["report"]
    assert report["sample_rate"] == SR
    assert [m["name"] for m in report["mics"]] == ["close", "mid", "far"]
    assert report["mics"][2]["distance_m"] == pytest.approx(5.5)
    assert {"hop_s", "key_db", "gain"} <= set(report["timeline"])
    assert result["convolved_mics"] == ["close", "mid", "far"]
    wav = client.get(result["audio_url"])
    assert wav.status_code == 200
    audio, rate = soundfile.read(io.BytesIO(wav.content), always_2d=True, dtype="float32")
    assert rate == SR and audio.shape[1] == 1
    assert audio.shape[0] == pytest.approx(report["duration_s"] * SR, abs=1)
    assert 0.8 < np.max(np.abs(audio)) <= 1.0  # normalised to -1 dBFS
    download = client.get("/api/audio/render?download=1")
    assert download.content == wav.content
    assert re.search(r'attachment; filename="take-heroes-1977\.wav"', download.headers["content-disposition"])
    assert client.get("/api/report").json() == report
    state = client.get("/api/state").json()
    assert state["render"]["id"] == result["id"] and state["take"]["duration_s"] == pytest.approx(3.0)


def test_studio_render_equals_the_rig_the_cli_uses(client: TestClient) -> None:
    """The per-mic IR cache gives the same render as load_preset(...).render()."""
    _load_take(client, subtype="FLOAT")
    client.post("/api/settings", json={"set": ["mics.far.distance_m=4.5"]})
    result = client.post("/api/render").json()
    studio, _ = soundfile.read(io.BytesIO(client.get(result["audio_url"]).content), always_2d=True, dtype="float32")
    rig = load_preset("heroes-1977", [*SMALL_ROOM, "mics.far.distance_m=4.5"])
    reference = rig.render(_take(), SR)
    np.testing.assert_allclose(studio.T, reference.audio, atol=1e-6)
    assert result["report"]["mics"] == reference.report.to_json()["mics"]


def test_gate_change_reuses_irs_and_a_moved_mic_simulates_only_itself(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import roomgate.acoustics.simulate

    simulated: list[int] = []  # how many mics each simulation of the room was asked for
    real = roomgate.acoustics.simulate.simulate

    def counting(room, singer, mics, *args, **kwargs):
        simulated.append(len(mics))
        return real(room, singer, mics, *args, **kwargs)

    monkeypatch.setattr(roomgate.acoustics.simulate, "simulate", counting)
    client.post("/api/settings", json={"set": ["room.rt60_s=0.45"]})  # a room no other test simulated
    _load_take(client)
    first = client.post("/api/render").json()
    assert simulated == [3] and first["convolved_mics"] == ["close", "mid", "far"]
    simulated.clear()
    far = first["report"]["mics"][2]
    client.post("/api/settings", json={"set": ["mics.far.gate.threshold_db=-45"]})
    second = client.post("/api/render").json()
    assert second["convolved_mics"] == [] and simulated == []  # the gates and the mix only
    far2 = second["report"]["mics"][2]
    assert far2["threshold_db"] == -45.0
    assert far2["open_fraction"] > far["open_fraction"]  # a lower threshold opens the far mic more
    client.post("/api/settings", json={"set": ["mics.far.distance_m=3.75"]})
    third = client.post("/api/render").json()
    assert third["convolved_mics"] == ["far"] and simulated == [1]
    assert third["report"]["mics"][2]["distance_m"] == pytest.approx(3.75)
    client.post("/api/settings", json={"set": ["mics.far.distance_m=5.5"]})
    back = client.post("/api/render").json()
    assert back["convolved_mics"] == [] and simulated == [1]  # seen before: IR and capture kept


def test_prefetch_simulates_a_dragged_mic_before_it_is_let_go(client: TestClient, app) -> None:
    assert client.post("/api/prefetch", json={"set": ["mics.far.distance_m=4"]}).json() == {"queued": False}
    _load_take(client)
    client.post("/api/render")
    response = client.post("/api/prefetch", json={"set": ["mics.far.distance_m=3.9"]})
    assert response.status_code == 200 and response.json() == {"queued": True}
    deadline = time.monotonic() + 30
    while app.studio._prefetch_running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.get("/api/rig").json()["mics"][2]["distance_m"] == pytest.approx(5.5)  # nothing changed
    client.post("/api/settings", json={"set": ["mics.far.distance_m=3.9"]})
    assert client.post("/api/render").json()["convolved_mics"] == []  # ready when let go
    bad = client.post("/api/prefetch", json={"set": ["mics.far.distance_m=99"]})
    assert bad.status_code == 400 and "mics.far.distance_m" in bad.json()["error"]


def test_demo_voice_take(client: TestClient) -> None:
    take = client.post("/api/take/demo", json={"sample_rate": SR}).json()
    assert take["name"].startswith("demo voice") and take["duration_s"] == pytest.approx(24.6, abs=0.1)
    assert client.post("/api/take/demo", json={"sample_rate": 100}).status_code == 400
    assert client.post("/api/take/demo", json={"sample_rate": "fast"}).status_code == 400


def test_old_renders_are_deleted_and_their_ids_404(client: TestClient, app) -> None:
    _load_take(client, _take(1.0))
    ids = [client.post("/api/render").json()["id"] for _ in range(6)]
    assert client.get(f"/api/audio/{ids[-1]}").status_code == 200
    assert client.get(f"/api/audio/{ids[0]}").status_code == 404
    assert client.get(f"/api/levels/{ids[-1]}").status_code == 200  # (C is made after the render)
    app.studio.flush_files()  # (render files are written, and old ones deleted, on a thread)
    wavs = sorted(p.name for p in app.studio.workdir.iterdir())
    # The take's dry audio, the last four renders, and one C (the same settings each time).
    assert [name[0] for name in wavs] == ["o", "r", "r", "r", "r", "t"]


# -- files are addressed by server ids only ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/audio/../../etc/passwd",
        "/api/audio/..%2F..%2Fetc%2Fpasswd",
        "/api/audio/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/audio/..",
        "/api/audio/t-..%2F..%2Fetc",
        "/api/audio/r-0000000000000000",
        "/api/audio/%2Fetc%2Fpasswd",
        "/static/..%2Fapp.py",
        "/static/../app.py",
        "/static/index.html%00.js",
    ],
)
def test_path_traversal_finds_nothing(client: TestClient, path: str) -> None:
    _load_take(client)
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert b"root:" not in response.content and b"import" not in response.content


def test_session_folder_is_private(client: TestClient, app) -> None:
    folder = app.studio.workdir
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    take = _load_take(client)
    names = [p.name for p in folder.iterdir()]
    assert names == [f"{take['id']}.wav"]  # an id the server made, not the upload's name


# -- presets ----------------------------------------------------------------------------------


def test_saved_preset_loads_with_the_changes(client: TestClient, tmp_path: Path) -> None:
    client.post("/api/settings", json={"set": ["mics.far.distance_m=4.5", "mics.mid.gate.threshold_db=-31.5",
                                               "mics.far.gain_db=10"]})
    response = client.get("/api/preset.toml")
    assert response.status_code == 200
    assert 'filename="heroes-1977-studio.toml"' in response.headers["content-disposition"]
    assert "# Saved by roomgate studio" in response.text and "--set mics.far.distance_m=4.5" in response.text
    path = tmp_path / "mine.toml"
    path.write_text(response.text, encoding="utf-8")
    rig = load_preset(path)
    assert rig.config.room.size_m == (8.0, 6.0, 3.0)
    assert rig.mic_distances_m()[2] == pytest.approx(4.5)
    assert rig.config.mic("far").gain_db == 10.0
    assert rig.threshold_db("mid") == -31.5
    assert rig.config.mic("far").gate.threshold.text == "p90"  # untouched settings stay as they were


def test_saved_preset_renders_from_the_command_line(client: TestClient, tmp_path: Path) -> None:
    from roomgate.cli import main

    client.post("/api/settings", json={"set": ["mics.far.distance_m=4.5"]})
    preset = tmp_path / "mine.toml"
    preset.write_text(client.get("/api/preset.toml").text, encoding="utf-8")
    source = tmp_path / "in.wav"
    source.write_bytes(_wav_bytes(_take(1.0)))
    out = tmp_path / "out.wav"
    assert main(["render", str(source), "-o", str(out), "--preset", str(preset)]) == 0
    assert soundfile.info(str(out)).samplerate == SR


# -- serve() ------------------------------------------------------------------------------------


def test_serve_prints_nothing_and_gives_the_url_with_the_token(capsys: pytest.CaptureFixture) -> None:
    messages: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=serve, kwargs={"port": 0, "on_message": messages.append, "stop_event": stop,
                                                    "overrides": SMALL_ROOM})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not messages and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(messages) == 1
        url = messages[0]
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{20,})", url)
        assert match, url
        base, token = url.split("/?")[0], match.group(2)
        assert httpx.get(url, timeout=10).status_code == 200
        assert httpx.get(base + "/api/rig", timeout=10).status_code == 403
        rig = httpx.get(base + "/api/rig", headers={"X-Roomgate-Token": token}, timeout=10)
        assert rig.status_code == 200 and rig.json()["room"]["size_m"] == [8.0, 6.0, 3.0]
        spoofed = httpx.get(base + "/api/rig", headers={"X-Roomgate-Token": token, "Host": "attacker.example"},
                            timeout=10)
        assert spoofed.status_code == 403
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_serve_on_a_busy_port_is_an_output_error() -> None:
    import socket

    from roomgate.errors import OutputError

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with pytest.raises(OutputError, match="cannot listen"):
            serve(port=busy.getsockname()[1], on_message=lambda url: None)
    finally:
        busy.close()
