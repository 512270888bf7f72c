"""The studio's session API beyond settings and renders: solo and mute, the A/B/C levels, the
hall panel, presets in and out, rows sent only when they change, and long takes.

Each check compares with the library used directly (Rig.render, pyloudnorm, a preset loaded by
the command line's loader), in-process with Starlette's TestClient on a small room at 16 kHz.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
pytest.importorskip("multipart")

import warnings  # noqa: E402

import soundfile  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from roomgate import load_preset  # noqa: E402
from roomgate.rig import Rig  # noqa: E402
from roomgate.studio import create_app  # noqa: E402
from roomgate.studio.wire import PATCH_MAGIC, audio_patch, float_wav_bytes, report_json  # noqa: E402

TOKEN = "test-token-Zx81"
BASE_URL = "http://127.0.0.1:8765"
SMALL_ROOM = [
    "room.size_m=[8, 6, 3]", "room.rt60_s=0.4", "singer.position_m=[1.5, 3, 1.6]", "singer.toward_m=[8, 3, 1.6]",
    "mics.mid.distance_m=2.5", "mics.far.distance_m=5.5",
]
SR = 16_000


def _take(seconds: float = 4.0) -> np.ndarray:
    """A dry 'vocal' climbing in three steps (-40, -22, -6 dBFS) with a breath every second."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    tone = np.sign(np.sin(2 * np.pi * 150 * t)) * 0.5 + 0.5 * np.sin(2 * np.pi * 450 * t)
    levels_db = np.repeat([-40.0, -22.0, -6.0], int(np.ceil(n / 3)))[:n]
    gaps = (np.floor(t * 4) % 4) != 3
    return (tone * 10 ** (levels_db / 20) * gaps).astype(np.float32)[np.newaxis, :]


def _wav(audio: np.ndarray, rate: int = SR, subtype: str = "FLOAT", format: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.T, rate, format=format, subtype=subtype)
    return buffer.getvalue()


def _audio(client: TestClient, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200, response.text
    audio, rate = soundfile.read(io.BytesIO(response.content), always_2d=True, dtype="float32")
    assert rate == SR
    return audio.T


@pytest.fixture
def app(tmp_path: Path):
    return create_app(TOKEN, tmp_path, overrides=SMALL_ROOM, max_upload_bytes=40_000_000)


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE_URL, headers={"X-Roomgate-Token": TOKEN}) as c:
        yield c


def _load(client: TestClient, audio: np.ndarray | None = None) -> dict:
    response = client.post("/api/take", files={"file": ("take.wav", _wav(_take() if audio is None else audio), "audio/wav")})
    assert response.status_code == 200, response.text
    return response.json()


def _reference(*overrides: str) -> Rig:
    return load_preset("heroes-1977", [*SMALL_ROOM, *overrides])


# -- solo and mute ------------------------------------------------------------------------------


def test_solo_and_mute_change_what_is_rendered(client: TestClient) -> None:
    _load(client)
    full = client.post("/api/render").json()
    full_audio = _audio(client, full["audio_url"])
    reference = _reference().render(_take(), SR)
    np.testing.assert_allclose(full_audio, reference.audio, atol=2e-6)

    assert client.post("/api/monitor", json={"solo": ["far"]}).json() == {"solo": ["far"], "mute": []}
    soloed = client.post("/api/render").json()
    assert soloed["monitor"] == {"solo": ["far"], "mute": []}
    far_alone = _audio(client, soloed["audio_url"])
    # The far mic alone, through its gate (keyed by the close mic as before) and trim, at the
    # full mix's gain: the same rig with the other mics' trims at -96 dB.
    alone = _reference("mics.close.gain_db=-96", "mics.mid.gain_db=-96").render(_take(), SR)
    expected = alone.audio * 10 ** ((reference.normalization_db - alone.normalization_db) / 20)
    np.testing.assert_allclose(far_alone, expected, atol=2e-4)
    assert soloed["report"]["mics"] == full["report"]["mics"]  # the gates did the same
    assert 0.001 < np.max(np.abs(far_alone)) < np.max(np.abs(full_audio))

    client.post("/api/monitor", json={"solo": [], "mute": ["far"]})
    muted = _audio(client, client.post("/api/render").json()["audio_url"])
    np.testing.assert_allclose(muted, full_audio - far_alone, atol=2e-4)
    assert client.get("/api/state").json()["monitor"] == {"solo": [], "mute": ["far"]}


@pytest.mark.parametrize("body", [{"solo": ["nobody"]}, {"mute": "far"}, {"solo": [3]}])
def test_monitor_refuses_what_is_not_a_mic(client: TestClient, body: dict) -> None:
    response = client.post("/api/monitor", json=body)
    assert response.status_code == 400
    assert ("nobody" in response.json()["error"]) or ("list of mic names" in response.json()["error"])


# -- A / B / C -----------------------------------------------------------------------------------


def test_levels_measure_a_b_c_and_the_gains_that_match_them(client: TestClient) -> None:
    import pyloudnorm

    _load(client)
    result = client.post("/api/render").json()
    levels = client.get(result["levels_url"]).json()
    assert levels["render_id"] == result["id"]
    versions = levels["versions"]
    assert set(versions) == {"dry", "rig", "open"} and versions["rig"]["gain_db"] == 0.0
    audio = {name: _audio(client, version["audio_url"]) for name, version in versions.items()}
    loudness = {name: pyloudnorm.Meter(SR).integrated_loudness(a.T.astype(np.float64)) for name, a in audio.items()}
    for name, version in versions.items():
        assert version["levels"]["integrated_lufs"] == pytest.approx(loudness[name], abs=1e-3)
        # Played with its gain, each version is as loud as the rig (B).
        assert loudness[name] + version["gain_db"] == pytest.approx(loudness["rig"], abs=1e-3)
        duration_s = audio[name].shape[1] / SR
        assert len(version["levels"]["peak_db"]) == math.ceil(duration_s / 0.01 - 1e-9)
        assert len(version["levels"]["short_term_lufs"]) == math.ceil(duration_s / 0.1 - 1e-9)
    # C is the rig with every gate open: Rig.render without gates, normalised alike.
    rig = _reference()
    opened = Rig(dataclasses.replace(rig.config, mics=tuple(dataclasses.replace(m, gate=None) for m in rig.config.mics)))
    np.testing.assert_allclose(audio["open"], opened.render(_take(), SR).audio, atol=2e-6)
    np.testing.assert_allclose(audio["dry"], _take(), atol=1e-7)
    # A threshold change keeps C (it has no gates), a trim change makes a new one.
    client.post("/api/settings", json={"set": ["mics.far.gate.threshold_db=-30"]})
    again = client.get(client.post("/api/render").json()["levels_url"]).json()["versions"]
    assert again["open"]["id"] == versions["open"]["id"] and again["rig"]["id"] != versions["rig"]["id"]
    client.post("/api/settings", json={"set": ["mics.far.gain_db=6"]})
    third = client.get(client.post("/api/render").json()["levels_url"]).json()["versions"]
    assert third["open"]["id"] != versions["open"]["id"]
    assert client.get("/api/levels/r-0000000000000000").status_code == 404
    assert client.get("/api/levels/..%2Fetc").status_code == 404


# -- only what changed ---------------------------------------------------------------------------


def test_a_render_since_the_last_sends_only_the_rows_that_changed(client: TestClient) -> None:
    _load(client)
    first = client.post("/api/render").json()
    client.post("/api/settings", json={"set": ["mics.far.gate.threshold_db=-30"]})
    second = client.post("/api/render", json={"since": first["id"]}).json()
    assert set(second["unchanged"]) == {"key_db", "gain.close", "gain.mid"}
    timeline = second["report"]["timeline"]
    assert timeline["key_db"] is None and timeline["gain"]["mid"] is None
    assert timeline["gain"]["far"] != first["report"]["timeline"]["gain"]["far"]
    full = client.get("/api/report").json()  # the report itself is whole
    assert full["timeline"]["key_db"] == first["report"]["timeline"]["key_db"]
    assert "unchanged" not in client.post("/api/render", json={"since": "r-0000000000000000"}).json()


def _apply_patch(before: np.ndarray, patch: bytes) -> np.ndarray:
    """The page's applyPatch, in Python: the patched samples."""
    assert patch[:8] == PATCH_MAGIC
    size = int.from_bytes(patch[8:12], "little")
    header = json.loads(patch[12 : 12 + size])
    after = before.copy()
    offset = 12 + size
    for start, length in header["runs"]:
        for channel in range(header["channels"]):
            after[channel, start : start + length] = np.frombuffer(patch, "<f4", length, offset)
            offset += 4 * length
    assert offset == len(patch) and header["frames"] == before.shape[1]
    return after


def test_a_re_gated_render_is_sent_as_the_samples_that_changed(client: TestClient) -> None:
    _load(client)
    first = client.post("/api/render").json()
    held = _audio(client, first["raw_audio_url"])  # the page plays the mix before normalisation...
    normalized = _audio(client, first["audio_url"])
    np.testing.assert_array_equal(held * np.float32(first["play_gain"]), normalized)  # ...at the render's gain
    client.post("/api/settings", json={"set": ["mics.far.gate.threshold_db=-25"]})  # (the peak moves too)
    second = client.post("/api/render", json={"since": first["id"]}).json()
    assert second["play_gain"] != first["play_gain"]
    response = client.get(second["audio_url"], params={"since": first["id"], "raw": 1})
    assert response.headers["content-type"] == "application/x-roomgate-patch"
    whole = _audio(client, second["raw_audio_url"])
    np.testing.assert_array_equal(_apply_patch(held, response.content), whole)
    assert len(response.content) < 0.6 * whole.nbytes  # only where the far gate's gain moved
    np.testing.assert_array_equal(whole * np.float32(second["play_gain"]), _audio(client, second["audio_url"]))
    # A render the page does not hold, or one that changed everywhere: the whole WAV.
    stranger = client.get(second["audio_url"], params={"since": "r-0000000000000000", "raw": 1})
    assert stranger.headers["content-type"] == "audio/wav"
    client.post("/api/settings", json={"set": ["mics.close.gain_db=-6"]})
    third = client.post("/api/render").json()
    assert client.get(third["audio_url"], params={"since": second["id"], "raw": 1}).headers["content-type"] == "audio/wav"
    assert client.get(first["audio_url"], params={"raw": 1}).status_code == 404  # raw: the latest only


@pytest.mark.parametrize("channels", [1, 2])
def test_audio_patches_rebuild_the_new_samples(channels: int) -> None:
    rng = np.random.default_rng(channels)
    before = rng.uniform(-1, 1, (channels, 20_000)).astype(np.float32)
    after = before.copy()
    for start, stop in ((0, 3), (1000, 1200), (1500, 1505), (19_990, 20_000)):  # 300 samples apart: joined
        after[channels - 1, start:stop] += 0.25
    patch = audio_patch(before, after, 8_000, gap_samples=512)
    assert patch is not None
    np.testing.assert_array_equal(_apply_patch(before, patch), after)
    size = int.from_bytes(patch[8:12], "little")
    assert json.loads(patch[12 : 12 + size])["runs"] == [[0, 3], [1000, 505], [19_990, 10]]
    assert audio_patch(before, before, 8_000) == audio_patch(before, before.copy(), 8_000)  # no runs
    assert audio_patch(before, after[:, :-1], 8_000) is None
    assert audio_patch(before, before + 0.5, 8_000) is None  # everything changed: the WAV instead


def test_report_json_is_to_json_and_the_wav_bytes_read_back() -> None:
    render = _reference().render(_take(1.0), SR)
    assert report_json(render.report) == render.report.to_json()
    for channels in (1, 2):
        audio = np.random.default_rng(channels).uniform(-1, 1, (channels, 999)).astype(np.float32)
        back, rate = soundfile.read(io.BytesIO(float_wav_bytes(audio, 44_100)), always_2d=True, dtype="float32")
        assert rate == 44_100 and soundfile.info(io.BytesIO(float_wav_bytes(audio, 44_100))).subtype == "FLOAT"
        np.testing.assert_array_equal(back.T, audio)


# -- the hall -------------------------------------------------------------------------------------


def test_hall_panel_measures_each_mic_and_resends_only_a_moved_one(client: TestClient) -> None:
    assert client.get("/api/hall").status_code == 409
    _load(client)
    hall = client.get("/api/hall").json()
    assert hall["sample_rate"] == SR and [m["name"] for m in hall["mics"]] == ["close", "mid", "far"]
    far = hall["mics"][2]
    assert far["distance_m"] == pytest.approx(5.5)
    assert far["measures"]["t30_s"]["broadband"] == pytest.approx(0.4, rel=0.35)  # the small room's RT60
    assert far["decay_db"][0] == 0.0 and far["decay_db"][-1] < -40
    assert max(far["envelope_db"]) == 0.0 and len(far["envelope_db"]) == math.ceil(far["span_s"] / 0.002 - 1e-9)
    assert far["direct_s"] == pytest.approx(5.5 / 343, abs=0.003)
    have = ",".join(m["digest"] for m in hall["mics"])
    assert all(m.get("same") for m in client.get(f"/api/hall?have={have}").json()["mics"])
    client.post("/api/settings", json={"set": ["mics.far.distance_m=4"]})
    moved = client.get(f"/api/hall?have={have}").json()["mics"]
    assert [bool(m.get("same")) for m in moved] == [True, True, False]
    assert moved[2]["direct_s"] == pytest.approx(4 / 343, abs=0.003)


# -- presets in and out ---------------------------------------------------------------------------


def test_a_saved_preset_carries_the_typed_name_and_opens_again(client: TestClient, tmp_path: Path) -> None:
    client.post("/api/settings", json={"set": ["mics.far.distance_m=4.5", "mics.mid.gate.threshold_db=-31.5"]})
    response = client.get("/api/preset.toml", params={"name": "Hansa take 2"})
    assert response.status_code == 200
    assert 'filename="Hansa-take-2.toml"' in response.headers["content-disposition"]
    path = tmp_path / "saved.toml"
    path.write_text(response.text, encoding="utf-8")
    rig = load_preset(path)
    assert rig.config.name == "Hansa take 2" and rig.mic_distances_m()[2] == pytest.approx(4.5)
    assert client.get("/api/preset.toml", params={"name": "two\nlines"}).status_code == 400
    assert client.get("/api/preset.toml", params={"name": ""}).status_code == 400

    client.post("/api/settings/reset", json={"preset": "heroes-1977"})  # elsewhere; then open the file
    opened = client.post("/api/preset", json={"name": "saved.toml", "text": response.text})
    assert opened.status_code == 200, opened.text
    rig_json = opened.json()
    assert rig_json["preset"] == "Hansa take 2" and rig_json["overrides"] == []
    assert rig_json["room"]["size_m"] == [8.0, 6.0, 3.0] and rig_json["mics"][2]["distance_m"] == pytest.approx(4.5)
    assert client.post("/api/settings/undo").json()["preset"] == "Hansa take 2"  # it is the start now


@pytest.mark.parametrize(("text", "says"), [
    ("name = 'x'\n[room\nsize_m = 1", "saved.toml: broken TOML"),
    ("name = 'x'\n[room]\nsize_m = [8, 6, 3]\nrt60_s = -1\n[singer]\nposition_m = [1, 1, 1]\n", "room.rt60_s"),
    ("[room]\nsize_m = [8, 6, 3]\nir = '/etc/passwd'\n[singer]\nposition_m = [1, 1, 1]\n", "room.ir names a measured IR"),
])
def test_an_opened_preset_that_does_not_load_is_400_naming_it(client: TestClient, text: str, says: str) -> None:
    before = client.get("/api/rig").json()
    response = client.post("/api/preset", json={"name": "saved.toml", "text": text})
    assert response.status_code == 400 and says in response.json()["error"]
    assert response.json()["error"].startswith("saved.toml: ")
    assert client.get("/api/rig").json() == before
    assert client.post("/api/preset", json={"name": "x.toml", "text": "#" * 300_000}).status_code == 413
    assert client.post("/api/preset", json={"name": "x.toml"}).status_code == 400


# -- long takes -----------------------------------------------------------------------------------


def test_a_take_longer_than_memory_streams_through_the_render_job(client: TestClient, app) -> None:
    app.studio.memory_take_s = 2.0  # (6 minutes by default)
    take = _load(client)
    assert take["streaming"] is True and "renders the whole take from disk" in take["notes"][-1]
    result = client.post("/api/render").json()
    reference = _reference().render(_take(), SR)
    np.testing.assert_allclose(_audio(client, result["audio_url"]), reference.audio, atol=2e-6)
    assert result["report"]["mics"] == reference.report.to_json()["mics"]
    levels = client.get(result["levels_url"]).json()["versions"]
    assert levels["open"] is None and levels["dry"]["levels"]["integrated_lufs"] < levels["rig"]["levels"]["integrated_lufs"] + 40
    client.post("/api/monitor", json={"solo": ["far"]})
    refused = client.post("/api/render")
    assert refused.status_code == 409 and "solo and mute" in refused.json()["error"]


def test_a_take_over_twenty_minutes_is_accepted(tmp_path: Path) -> None:
    """Refused before the streaming job; now any take the command line renders is rendered."""
    rate = 8_000
    minutes = 21
    phrase = _take(4.0)[:, ::2]  # 4 s at 8 kHz
    audio = np.tile(phrase, (1, minutes * 15 + 1))[:, : minutes * 60 * rate]
    flac = _wav(audio, rate, subtype="PCM_16", format="FLAC")
    app = create_app(TOKEN, tmp_path, overrides=[*SMALL_ROOM, "mics.mid.gate.threshold_db=-30",
                                                 "mics.far.gate.threshold_db=-12"], max_upload_bytes=len(flac) + 10_000)
    with TestClient(app, base_url=BASE_URL, headers={"X-Roomgate-Token": TOKEN}) as client:
        response = client.post("/api/take", files={"file": ("long.flac", flac, "audio/flac")})
        assert response.status_code == 200, response.text
        assert response.json()["streaming"] and response.json()["duration_s"] == pytest.approx(21 * 60)
        result = client.post("/api/render")
        assert result.status_code == 200, result.text
        report = result.json()["report"]
        assert report["duration_s"] > 21 * 60 and 0.2 < report["mics"][2]["open_fraction"] < 0.5
        info = soundfile.info(io.BytesIO(client.get(result.json()["audio_url"]).content))
        assert info.frames == pytest.approx(report["duration_s"] * rate, abs=1)
