"""The studio as a user drives it, in real headless Chromium (Debian's /usr/bin/chromium).

One long walk through the page (load the demo, drag a mic and a threshold, the keyboard, render,
listen, save, open a file), then one test per thing a producer reaches for: solo and mute (the
page's rendered buffer against Rig.render), A/B/C level-matched, meters moving with the playhead
(the output's short-term loudness against a slow reference), the hall panel (its T30 against
``roomgate analyze`` on the same IR), a preset dropped on the page, the layout at 1440 x 900 and
1024 px (bounding boxes), the keyboard (Tab reaches every control; sliders carry their values),
errors beside their control, and an accessibility check by axe-core (from the npm registry, served
to the page by the test). Screenshots are kept in .ci/artifacts/studio/ (gitignored).

Skipped when /usr/bin/chromium or the Python ``playwright`` package is missing (Playwright's own
browser download is not used); the axe-core check is skipped when npm cannot fetch it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path(os.environ.get("ROOMGATE_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("starlette")
pytest.importorskip("multipart")
httpx = pytest.importorskip("httpx")
sync_api = pytest.importorskip("playwright.sync_api")

import soundfile  # noqa: E402

from roomgate import load_preset, sung_crescendo  # noqa: E402
from roomgate.config import load_config  # noqa: E402
from roomgate.studio import serve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / ".ci" / "artifacts" / "studio"
NPM_PREFIX = ROOT / ".ci" / "artifacts" / "npm"  # axe-core is installed here (gitignored), never committed
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
RENDER_TIMEOUT_MS = 60_000
RATE = 16_000  # the demo voice at 16 kHz keeps each test quick


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def studio_url():
    messages: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=serve, kwargs={"port": 0, "on_message": messages.append, "stop_event": stop},
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not messages and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert messages, "the studio did not start"
    yield messages[0]
    stop.set()
    thread.join(15)


@pytest.fixture
def api(studio_url: str):
    base, token = studio_url.split("/?token=")
    with httpx.Client(base_url=base, headers={"X-Roomgate-Token": token}, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        return ARTIFACTS
    except OSError:
        return tmp_path


class Problems(list):
    """Script errors, console errors and failed requests a page reported."""


def _page(browser, width: int = 1440, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
    problems = Problems()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    return page, problems


def _no_problems(problems: list[str], allowed: str = r"$^") -> None:
    expected = re.compile(allowed)
    assert [p for p in problems if not expected.search(p)] == []


def _wait_renders(page, count: int) -> None:
    page.wait_for_function(
        f"() => Number(document.body.dataset.renderCount) >= {count} && document.body.dataset.busy === '0'",
        timeout=RENDER_TIMEOUT_MS,
    )


def _wait_levels(page) -> None:
    """Until the page holds the latest render's levels (A/B/C gains, meters)."""
    page.wait_for_function("() => document.body.dataset.levelsId === document.body.dataset.renderId",
                           timeout=RENDER_TIMEOUT_MS)


def _load_demo(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#plan .mic[data-mic='far']")
    page.select_option("#demo-rate", str(RATE))
    page.click("#load-demo")
    _wait_renders(page, 1)
    _wait_levels(page)


def _centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _drag(page, start: tuple[float, float], end: tuple[float, float], shift: bool = False) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    if shift:
        page.keyboard.down("Shift")
    page.mouse.move(*end, steps=12)
    page.mouse.up()
    if shift:
        page.keyboard.up("Shift")


def _page_buffer(page, which: str) -> np.ndarray:
    """The samples the page plays for ``which`` (dry, rig, open), channel 0, as float32."""
    text = page.evaluate(
        """(which) => {
            const buffer = window.roomgateStudio.state.buffers[which];
            const data = buffer.getChannelData(0);
            const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
            let s = '';
            for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
            return [btoa(s), buffer.sampleRate];
        }""", which)
    samples = np.frombuffer(base64.b64decode(text[0]), dtype="<f4")
    assert text[1] == RATE
    return samples


def _heard(page, which: str) -> np.ndarray:
    """What the page plays for ``which``: its buffer times the player's gain (B's buffer is the mix
    before normalisation, played at the render's normalisation), as float32 computes it."""
    level = page.evaluate("(which) => window.roomgateStudio.playLevel(which)", which)
    return _page_buffer(page, which) * np.float32(level)


def _demo_render(*overrides: str):
    return load_preset("heroes-1977", overrides).render(sung_crescendo(RATE), RATE)


# -- the walk ---------------------------------------------------------------------------------------


def test_studio_in_chromium(studio_url: str, api, browser, artifacts: Path) -> None:
    base = studio_url.split("/?token=")[0]
    page, problems = _page(browser, 1280, 900)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url.split('?')[0]}") if r.status >= 400 else None)
    try:
        # Without the token: the page says so and shows nothing of the studio.
        response = page.goto(base + "/")
        assert response is not None and response.status == 403
        page.goto(studio_url)
        page.wait_for_selector("#plan .mic[data-mic='far']")
        page.screenshot(path=str(artifacts / "1-empty.png"))

        # Load the demo voice; it renders by itself.
        page.select_option("#demo-rate", str(RATE))
        page.click("#load-demo")
        _wait_renders(page, 1)
        assert "demo voice" in page.inner_text("#take-info")
        first = api.get("/api/report").json()
        first_id = page.evaluate("() => document.body.dataset.renderId")
        first_wav = api.get(f"/api/audio/{first_id}").content  # (only the last four renders are kept)
        far0 = first["mics"][2]
        assert far0["name"] == "far" and far0["distance_m"] == pytest.approx(15.24, abs=0.01)
        page.screenshot(path=str(artifacts / "2-demo-loaded.png"), full_page=True)

        # Drag the far mic along its line to 10 m from the singer.
        room = page.locator("#plan rect.room").bounding_box()
        metres = room["width"] / 19.0
        singer_x, singer_y = _centre(page.locator("#plan circle.singer").bounding_box())
        far_dot = _centre(page.locator("#plan .mic[data-mic='far'] circle.dot").bounding_box())
        _drag(page, far_dot, (singer_x + 10.0 * metres, singer_y + 25))  # off the line: snapped to it
        _wait_renders(page, 2)
        moved = api.get("/api/report").json()
        far1 = moved["mics"][2]
        assert far1["distance_m"] == pytest.approx(10.0, abs=0.15)
        on_line = load_config("heroes-1977").singer.point_on_line_m(far1["distance_m"])
        assert far1["position_m"] == pytest.approx(list(on_line), abs=1e-3)  # still on the mics' line
        render = api.get("/api/state").json()["render"]
        assert render["convolved_mics"] == ["far"]  # the other mics' captures were kept
        label = page.locator("#plan .mic[data-mic='far'] text").text_content() or ""
        shown = re.fullmatch(r"far\s+([\d.]+) m", label.strip())
        assert shown and float(shown.group(1)) == pytest.approx(far1["distance_m"], abs=0.006), label

        # Drag the far gate's threshold line 45 px down: the far mic should open more.
        line = page.locator("#timeline .threshold[data-mic='far'] line.line").bounding_box()
        x_line = line["x"] + line["width"] * 0.3
        _drag(page, (x_line, line["y"]), (x_line, line["y"] + 45))
        _wait_renders(page, 3)
        lowered = api.get("/api/report").json()
        far2 = lowered["mics"][2]
        assert far2["distance_m"] == pytest.approx(far1["distance_m"])
        assert far2["threshold_db"] < far1["threshold_db"] - 10  # 45 px of a 70 dB / 118 px scale
        assert far2["open_fraction"] > far1["open_fraction"]
        assert api.get("/api/state").json()["render"]["convolved_mics"] == []
        assert f"{round(100 * far2['open_fraction'])}%" in page.inner_text("#mic-table")
        assert page.input_value("#mic-table tr[data-mic='far'] td:nth-child(4) input") == f"{far2['threshold_db']:.1f}"

        # The keyboard: a focused threshold line steps 0.5 dB per arrow key.
        page.focus("#timeline .threshold[data-mic='far']")
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowUp")
        _wait_renders(page, 4)
        stepped = api.get("/api/report").json()["mics"][2]
        assert stepped["threshold_db"] == pytest.approx(far2["threshold_db"] + 1.0, abs=0.01)
        assert page.get_attribute("#timeline .threshold[data-mic='far']", "aria-valuenow") == f"{stepped['threshold_db']:.1f}"
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        _wait_renders(page, 5)
        assert api.get("/api/report").json()["mics"][2]["threshold_db"] == pytest.approx(far2["threshold_db"])

        # The Render button renders again: the same settings give the same report.
        page.click("#render")
        _wait_renders(page, 6)
        again = api.get("/api/report").json()
        assert again["mics"] == lowered["mics"]
        last_id = page.evaluate("() => document.body.dataset.renderId")
        assert last_id != first_id

        # The audio changed as it should, and the page holds the server's samples exactly.
        before, rate = soundfile.read(io.BytesIO(first_wav), dtype="float32")
        after, _ = soundfile.read(io.BytesIO(api.get(f"/api/audio/{last_id}").content), dtype="float32")
        assert rate == RATE
        n = min(before.size, after.size)
        assert np.sqrt(np.mean((after[:n] - before[:n]) ** 2)) / np.sqrt(np.mean(before[:n] ** 2)) > 0.05
        np.testing.assert_array_equal(_heard(page, "rig"), after)  # (patched from the renders before)

        # Transport: play, switch A/B/C, pick a loop region by dragging across the lanes.
        _wait_levels(page)
        page.click("#play")
        page.wait_for_function("() => window.roomgateStudio.state.playing === true", timeout=5_000)
        page.click("#ab-dry")
        assert page.get_attribute("#ab-dry", "aria-pressed") == "true"
        page.keyboard.press("c")
        assert page.get_attribute("#ab-open", "aria-pressed") == "true"
        page.keyboard.press("b")
        assert page.get_attribute("#ab-rig", "aria-pressed") == "true"
        lanes = page.locator("#timeline rect.lane-bg[data-lane]").first.bounding_box()
        seconds = lanes["width"] / again["duration_s"]
        y_lane = lanes["y"] + lanes["height"] / 2
        _drag(page, (lanes["x"] + 2.0 * seconds, y_lane), (lanes["x"] + 6.0 * seconds, y_lane))
        region = page.evaluate("() => window.roomgateStudio.state.region")
        assert region[0] == pytest.approx(2.0, abs=0.15) and region[1] == pytest.approx(6.0, abs=0.15)
        assert page.get_attribute("#loop", "aria-pressed") == "true"
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifacts / "3-edited.png"), full_page=True)
        page.click("#stop")
        assert page.evaluate("() => window.roomgateStudio.state.playing") is False

        # An invalid setting typed by hand: the server's message, next to the field, names the key.
        page.fill("#set-input", "mics.far.distance_m=80")
        page.press("#set-input", "Enter")
        page.wait_for_selector("#set-error:not(:empty)")
        assert "mics.far.distance_m" in page.inner_text("#set-error")
        assert page.get_attribute("#set-input", "aria-invalid") == "true"

        # Save the preset: it loads as a preset with the changes, under the name typed.
        page.fill("#preset-name", "Hansa, second take")
        with page.expect_download() as download_info:
            page.click("#save-preset")
        assert download_info.value.suggested_filename == "Hansa-second-take.toml"
        preset = artifacts / "studio-preset.toml"
        download_info.value.save_as(str(preset))
        rig = load_preset(preset)
        assert rig.config.name == "Hansa, second take"
        assert rig.mic_distances_m()[2] == pytest.approx(far1["distance_m"], abs=1e-3)
        assert rig.threshold_db("far") == pytest.approx(far2["threshold_db"])

        # Open an audio file: a new take, rendered at once.
        t = np.arange(3 * RATE) / RATE
        tone = (0.3 * np.sin(2 * np.pi * 220 * t) * np.minimum(1, t)).astype(np.float32)
        wav_path = artifacts / "upload-take.wav"
        soundfile.write(str(wav_path), tone, RATE)
        renders = int(page.evaluate("() => document.body.dataset.renderCount"))
        with page.expect_file_chooser() as chooser:
            page.click("#open-file")  # a button: the file picker opens from the keyboard too
        chooser.value.set_files(str(wav_path))
        _wait_renders(page, renders + 1)
        assert "upload-take.wav" in page.inner_text("#take-info")
        assert api.get("/api/report").json()["input"]["samples"] == 3 * RATE
    finally:
        page.close()
    # The 403 (no token) and the 400 (the bad setting) above were asked for; nothing else may fail:
    # no script error, no Content-Security-Policy violation, no other failed request.
    _no_problems(problems, r"Failed to load resource: .* status of (403|400) ")
    assert [f for f in failed if not re.match(r"(403|400) ", f)] == []


# -- solo, mute and A/B/C ---------------------------------------------------------------------------


def test_solo_and_mute_change_what_is_heard(studio_url: str, browser, artifacts: Path) -> None:
    page, problems = _page(browser)
    try:
        _load_demo(page, studio_url)
        full = _demo_render()
        np.testing.assert_allclose(_heard(page, "rig"), full.audio[0], atol=2e-6)

        page.click("#mic-table button.solo[data-mic='far']")
        _wait_renders(page, 2)
        assert page.get_attribute("#mic-table button.solo[data-mic='far']", "aria-pressed") == "true"
        # The far mic alone through its gate (keyed by the close mic) and trim, at the mix's gain.
        alone = _demo_render("mics.close.gain_db=-96", "mics.mid.gain_db=-96")
        expected = alone.audio[0] * 10 ** ((full.normalization_db - alone.normalization_db) / 20)
        soloed = _heard(page, "rig")
        np.testing.assert_allclose(soloed, expected, atol=2e-4)
        assert "mic muted" not in page.get_attribute("#plan .mic[data-mic='far']", "class")
        assert "muted" in page.get_attribute("#plan .mic[data-mic='close']", "class")

        page.click("#mic-table button.solo[data-mic='far']")  # solo off, then mute the far mic
        _wait_renders(page, 3)
        page.click("#mic-table button.mute[data-mic='far']")
        _wait_renders(page, 4)
        assert page.get_attribute("#mic-table button.mute[data-mic='far']", "aria-pressed") == "true"
        np.testing.assert_allclose(_heard(page, "rig"), full.audio[0] - soloed, atol=2e-4)

        # A, B and C are level-matched: each played with its gain is as loud as B.
        _wait_levels(page)
        from roomgate.studio.meters import meter_signal

        loudness = {}
        for which in ("dry", "rig", "open"):
            samples = _heard(page, which).astype(np.float64)
            loudness[which] = meter_signal(samples[np.newaxis], RATE).integrated_lufs
        assert loudness["dry"] == pytest.approx(loudness["rig"], abs=0.01)
        assert loudness["open"] == pytest.approx(loudness["rig"], abs=0.01)
        page.keyboard.press("c")
        assert page.evaluate("() => document.body.dataset.which") == "open"
        page.screenshot(path=str(artifacts / "4-muted.png"))
    finally:
        page.close()
    _no_problems(problems)


# -- meters ---------------------------------------------------------------------------------------


def test_meters_move_with_the_playhead(studio_url: str, api, browser) -> None:
    from roomgate.studio.meters import meter_signal

    page, problems = _page(browser)
    try:
        _load_demo(page, studio_url)
        render_id = page.evaluate("() => document.body.dataset.renderId")
        report = api.get("/api/report").json()
        out, _ = soundfile.read(io.BytesIO(api.get(f"/api/audio/{render_id}").content), dtype="float64", always_2d=True)
        reference = meter_signal(out.T, RATE)
        page.click("#play")
        readings = []
        for _ in range(8):
            page.wait_for_timeout(350)
            readings.append(page.evaluate("""() => {
                const m = (name) => document.querySelector(`.meter[data-meter="${name}"]`);
                return {
                    t: window.roomgateStudio.state.position + 0, head: Number(document.getElementById('playhead').getAttribute('x1')),
                    key: Number(m('key').getAttribute('aria-valuenow')), mid: Number(m('mid').getAttribute('aria-valuenow')),
                    out: Number(m('out').getAttribute('aria-valuenow')), lufs: m('out').dataset.lufs,
                    clock: document.getElementById('clock').textContent,
                };
            }"""))
        page.click("#play")  # pause: the meters show the paused playhead's values
        paused_at = page.evaluate("() => window.roomgateStudio.state.position")
        page.wait_for_timeout(200)
        lufs_paused = float(page.get_attribute(".meter[data-meter='out']", "data-lufs"))
    finally:
        page.close()
    _no_problems(problems)
    heads = [r["head"] for r in readings]
    assert heads == sorted(heads) and heads[-1] - heads[0] > 20  # the playhead moves...
    assert len({r["key"] for r in readings}) >= 3  # ...and the key meter with it
    assert len({r["out"] for r in readings}) >= 3 and len({r["lufs"] for r in readings}) >= 3
    # Paused: the output meter reads the short-term loudness (last 3 s) at the playhead.
    hop = 0.1
    expected = reference.short_term_lufs[min(int(paused_at / hop), len(reference.short_term_lufs) - 1)]
    assert lufs_paused == pytest.approx(expected, abs=0.01)
    timeline = report["timeline"]
    assert max(r["key"] for r in readings) <= 0.0 and min(r["key"] for r in readings) >= -70
    assert timeline["hop_s"] <= 0.02


# -- the hall -------------------------------------------------------------------------------------


def test_the_hall_panel_gives_roomgate_analyzes_figures(studio_url: str, api, browser, tmp_path: Path) -> None:
    from roomgate.cli import main

    page, problems = _page(browser)
    try:
        _load_demo(page, studio_url)
        page.wait_for_function("() => Number(document.body.dataset.hallCount) >= 1", timeout=RENDER_TIMEOUT_MS)
        page.click(".hall-mics button[data-mic='mid']")
        panel = page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll(
            '#hall-table tr[data-measure="t30_s"] td[data-value]')).map((td) => [td.dataset.band, Number(td.dataset.value)]))""")
        shown = page.inner_text("#hall-table")
        # The same IR, from the command line: the rig's IRs exported, then analysed.
        preset = tmp_path / "rig.toml"
        preset.write_text(api.get("/api/preset.toml").text, encoding="utf-8")
        irs = tmp_path / "irs.wav"
        assert main(["ir", "--preset", str(preset), "--sample-rate", str(RATE), "-o", str(irs)]) == 0
        result = subprocess.run([sys.executable, "-m", "roomgate", "analyze", str(irs), "--json"],
                                capture_output=True, text=True, check=True)
        mid = json.loads(result.stdout)["channels"][1]
        assert set(panel) == {k for k, v in mid["t30_s"].items() if v is not None}
        for band, value in mid["t30_s"].items():
            if value is not None:
                assert panel[band] == pytest.approx(value, abs=1e-4), band
        assert f"{mid['t30_s']['1000']:.2f}" in shown

        # Move the mid mic: the panel follows (the mic's IR is measured again).
        count = page.evaluate("() => Number(document.body.dataset.hallCount)")
        direct = page.evaluate("() => window.roomgateStudio.state.hall.mid.direct_s")
        page.focus("#plan .mic[data-mic='mid']")
        page.keyboard.press("Shift+ArrowLeft")
        page.keyboard.press("Shift+ArrowLeft")
        page.wait_for_function(f"() => Number(document.body.dataset.hallCount) > {count} && "
                               f"window.roomgateStudio.state.hall.mid.direct_s < {direct - 0.004}", timeout=RENDER_TIMEOUT_MS)
        assert "4.10 m" in page.inner_text("#hall-info")
    finally:
        page.close()
    _no_problems(problems)


# -- presets in ------------------------------------------------------------------------------------


def _drop_file(page, name: str, text: str) -> None:
    page.evaluate("""([name, text]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], name, { type: 'application/toml' }));
        for (const type of ['dragenter', 'dragover', 'drop']) {
            document.querySelector('main').dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }
    }""", [name, text])


def test_a_dropped_preset_applies(studio_url: str, api, browser, tmp_path: Path) -> None:
    page, problems = _page(browser)
    try:
        _load_demo(page, studio_url)
        text = api.get("/api/preset.toml", params={"name": "Dropped room"}).text
        text = text.replace('distance_m = "50ft"', "distance_m = 11.5").replace("rt60_s = 1.5", "rt60_s = 2.1")
        assert "distance_m = 11.5" in text
        _drop_file(page, "dropped.toml", text)
        _wait_renders(page, 2)
        rig = api.get("/api/rig").json()
        assert rig["preset"] == "Dropped room" and rig["room"]["rt60_s"] == 2.1
        assert rig["mics"][2]["distance_m"] == pytest.approx(11.5)
        assert api.get("/api/report").json()["mics"][2]["distance_m"] == pytest.approx(11.5)
        assert "11.50 m" in (page.text_content("#plan .mic[data-mic='far']") or "")
        assert page.input_value("#preset-name") == "Dropped room"
        assert "Dropped room (opened)" in page.inner_text("#preset-select")

        # A broken one: the error is next to the preset controls and announced; nothing changes.
        _drop_file(page, "broken.toml", "[room\nsize_m = 2")
        page.wait_for_selector("#preset-error:not(:empty)")
        assert page.get_attribute("#preset-error", "role") == "alert"
        assert "broken.toml: broken TOML" in page.inner_text("#preset-error")
        assert api.get("/api/rig").json()["preset"] == "Dropped room"

        # The file picker and the built-ins do the same.
        path = tmp_path / "picked.toml"
        path.write_text(text.replace("Dropped room", "Picked room"), encoding="utf-8")
        page.set_input_files("#preset-input", str(path))
        page.wait_for_function("() => document.getElementById('preset-name').value === 'Picked room'")
        assert page.inner_text("#preset-error") == ""
        page.select_option("#preset-select", "heroes-1977")
        page.wait_for_function("() => document.querySelector('#plan .mic[data-mic=\"far\"]').textContent.includes('15.24')")
    finally:
        page.close()
    _no_problems(problems, r"Failed to load resource: .* status of 400 ")


# -- layout ---------------------------------------------------------------------------------------


def _boxes_overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_it_fits_at_1440_by_900_and_nothing_is_cut_off_at_1024(studio_url: str, api, browser, artifacts: Path) -> None:
    page, problems = _page(browser, 1440, 900)
    try:
        _load_demo(page, studio_url)
        page.wait_for_function("() => Number(document.body.dataset.hallCount) >= 1", timeout=RENDER_TIMEOUT_MS)
        size = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        assert size == [1440, 900]  # no scrolling
        within = lambda box: box and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1440 and box["y"] + box["height"] <= 900  # noqa: E731
        for selector in ["#plan rect.room", "#mic-table", "#gate-table", "#set-form", "#undo", "#hall-plot", "#hall-table",
                         "#play", "#ab-open", "#render", "#meters", "#save-preset", "#download-render"]:
            assert within(page.locator(selector).bounding_box()), selector
        lanes = page.locator("#timeline rect.lane-bg[data-lane]")
        assert lanes.count() == 3
        for index in range(3):
            assert within(lanes.nth(index).bounding_box()), index
        # Labels apart: the two thresholds' (set close together), the singer's and the close mic's.
        api.post("/api/settings", json={"set": ["mics.mid.gate.threshold_db=-20", "mics.far.gate.threshold_db=-19"]})
        page.click("#render")
        _wait_renders(page, 2)
        pills = [page.locator(f"#timeline .threshold[data-mic='{m}'] .pill").bounding_box() for m in ("mid", "far")]
        assert not _boxes_overlap(*pills)
        singer = page.locator("#plan .singer-label").bounding_box()
        close = page.locator("#plan .mic[data-mic='close'] .mic-label").bounding_box()
        assert not _boxes_overlap(singer, close)
        page.screenshot(path=str(artifacts / "5-1440x900.png"))

        # 1024 px wide: nothing sticks out; a long take name is cut with an ellipsis and a tooltip.
        page.set_viewport_size({"width": 1024, "height": 768})
        long_name = "a very long take name from the session at Hansa by the wall, second attempt, louder.wav"
        t = np.arange(2 * RATE) / RATE
        path = artifacts / long_name
        soundfile.write(str(path), (0.2 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), RATE)
        page.set_input_files("#file-input", str(path))
        _wait_renders(page, 3)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1024
        outside = page.evaluate("""() => Array.from(document.querySelectorAll('body *')).filter((e) => {
            const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > 1024.5 || r.left < -0.5);
        }).map((e) => e.tagName + '#' + e.id)""")
        assert outside == []
        take = page.locator("#take-info")
        assert long_name in (take.get_attribute("title") or "")
        assert page.evaluate("() => { const e = document.getElementById('take-info'); return e.scrollWidth > e.clientWidth; }")
        assert page.evaluate("() => getComputedStyle(document.getElementById('take-info')).textOverflow") == "ellipsis"
        assert page.evaluate("() => getComputedStyle(document.getElementById('status')).textOverflow") == "ellipsis"
        assert page.get_attribute("#status", "title") == page.inner_text("#status")
        page.screenshot(path=str(artifacts / "6-1024.png"), full_page=True)
    finally:
        page.close()
    _no_problems(problems)


# -- keyboard and screen readers ------------------------------------------------------------------


CONTROLS = ("button:not([disabled]), select, input:not([type=file]):not([disabled]), "
            "#plan .mic, #timeline .threshold")


def test_tab_reaches_every_control_and_sliders_say_their_values(studio_url: str, browser) -> None:
    page, problems = _page(browser)
    try:
        _load_demo(page, studio_url)
        page.wait_for_function("() => Number(document.body.dataset.hallCount) >= 1", timeout=RENDER_TIMEOUT_MS)
        count = page.evaluate(f"""() => {{
            const all = Array.from(document.querySelectorAll({json.dumps(CONTROLS)}));
            all.forEach((e, i) => e.setAttribute('data-tab', String(i)));
            return all.length;
        }}""")
        assert count > 40
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        reached = []
        for _ in range(count + 5):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("() => document.activeElement && document.activeElement.getAttribute('data-tab')"))
        missed = set(range(count)) - {int(r) for r in reached if r is not None}
        assert not missed, page.evaluate("(m) => m.map((i) => document.querySelector(`[data-tab='${i}']`).outerHTML.slice(0, 120))",
                                         sorted(missed))
        # A sensible order: the header, the plan (nearest mic first), the tables, the hall, the transport.
        def first(selector: str) -> int:
            tab = page.get_attribute(selector, "data-tab")
            return reached.index(tab)
        order = [first("#open-file"), first("#plan .mic[data-mic='close']"), first("#plan .mic[data-mic='far']"),
                 first("#mic-table tr[data-mic='far'] input"), first("#gate-table select"), first("#set-input"),
                 first(".hall-mics button"), first("#play"), first("#timeline .threshold")]
        assert order == sorted(order)

        for slider in page.locator("[role=slider]").all():
            for attribute in ("aria-valuemin", "aria-valuemax", "aria-valuenow", "aria-label"):
                assert slider.get_attribute(attribute), attribute
            assert float(slider.get_attribute("aria-valuemin")) <= float(slider.get_attribute("aria-valuenow")) \
                <= float(slider.get_attribute("aria-valuemax"))
        assert page.locator("[role=slider]").count() == 5  # three mics, two thresholds

        # The focused mic wears a visible ring.
        page.focus("#open-file")
        while page.evaluate("() => document.activeElement.dataset.mic") != "far":
            page.keyboard.press("Tab")
        ring = page.locator("#plan .mic[data-mic='far'] .ring")
        assert page.evaluate("(e) => getComputedStyle(e).opacity", ring.element_handle()) == "1"
        assert page.evaluate("(e) => getComputedStyle(e).opacity",
                             page.locator("#plan .mic[data-mic='mid'] .ring").element_handle()) == "0"

        # An error appears next to the control that caused it, and is announced.
        field = "#mic-table tr[data-mic='far'] td:nth-child(2) input"
        page.fill(field, "99")
        page.press(field, "Enter")
        page.wait_for_selector("#mics-error:not(:empty)")
        assert page.get_attribute("#mics-error", "role") == "alert"
        assert "mics.far.distance_m" in page.inner_text("#mics-error")
        assert page.get_attribute(field, "aria-invalid") == "true"
        assert page.get_attribute(field, "aria-describedby") == "mics-error"
        error_box = page.locator("#mics-error").bounding_box()
        table = page.locator("#mic-table").bounding_box()
        assert 0 <= error_box["y"] - (table["y"] + table["height"]) < 20  # right under the mic table
        assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "far distance in metres"
    finally:
        page.close()
    _no_problems(problems, r"Failed to load resource: .* status of 400 ")


def _axe_source() -> str:
    """axe-core from the npm registry, installed once into .ci/artifacts/npm (gitignored)."""
    script = NPM_PREFIX / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot fetch axe-core for the accessibility check")
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([npm, "install", "--prefix", str(NPM_PREFIX), "--no-save", "--no-audit", "--no-fund",
                            "--loglevel=error", "axe-core@4"], check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as error:
            pytest.skip(f"npm could not fetch axe-core ({type(error).__name__}); no accessibility check")
    return script.read_text(encoding="utf-8")


def test_axe_finds_no_serious_or_critical_violations(studio_url: str, browser, artifacts: Path) -> None:
    source = _axe_source()
    page, problems = _page(browser)
    try:
        # Served to the page from its own origin by the test (the page's CSP allows scripts from 'self').
        page.route("**/static/axe.min.js", lambda route: route.fulfill(body=source, content_type="text/javascript"))
        _load_demo(page, studio_url)
        page.wait_for_function("() => Number(document.body.dataset.hallCount) >= 1", timeout=RENDER_TIMEOUT_MS)
        page.add_script_tag(url="static/axe.min.js")
        results = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    finally:
        page.close()
    (artifacts / "axe.json").write_text(json.dumps(results["violations"], indent=1), encoding="utf-8")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == []
    _no_problems(problems)
