"""The rig end to end: contracts, streaming in any block size, and the staging on real singing."""

from __future__ import annotations

import numpy as np
import pytest

import roomgate
from roomgate import AudioInputError, ConfigError, load_preset

# The heroes rig at a low rate keeps these tests quick; the room's physics is tested in test_room.
RATE = 16_000


def _crescendo(sample_rate: int = RATE, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A voice-like tone whose phrases rise from -40 to -6 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phrase = (t * 3).astype(int)  # three phrases a second... nine in all
    level_db = -40 + 34 * phrase / phrase.max()
    gap = ((t * 3) % 1) > 0.8
    carrier = np.sin(2 * np.pi * 160 * t) + 0.4 * np.sin(2 * np.pi * 320 * t) + 0.05 * rng.standard_normal(t.size)
    return (10 ** (level_db / 20) * carrier * ~gap).astype(np.float32)[np.newaxis]


def test_load_preset_gives_a_rig() -> None:
    rig = load_preset("heroes-1977")
    assert isinstance(rig, roomgate.Rig)
    assert rig.mic_names == ["close", "mid", "far"]
    assert [m.name for m in rig.gated_mics] == ["mid", "far"]


def test_process_shapes_and_errors() -> None:
    rig = load_preset("heroes-1977")
    dry = _crescendo(seconds=1.0)
    out = rig.process(dry, RATE)
    assert out.shape == dry.shape and out.dtype == np.float32
    assert rig.process(np.repeat(dry, 3, axis=0), RATE).shape == dry.shape  # multitrack
    with pytest.raises(AudioInputError, match=r"\(2, 16000\)"):
        rig.process(np.repeat(dry, 2, axis=0), RATE)
    with pytest.raises(AudioInputError, match="sample_rate"):
        rig.process(dry, 1000)


def test_stereo_output_pans() -> None:
    rig = load_preset("heroes-1977", ["output.channels=2", "mics.mid.pan=-1", "mics.far.pan=1"])
    out = rig.process(_crescendo(seconds=1.0), RATE)
    assert out.shape == (2, RATE)


def test_silence_in_silence_out() -> None:
    rig = load_preset("heroes-1977", ["mics.mid.gate.threshold_db=-30", "mics.far.gate.threshold_db=-20"])
    assert not np.any(rig.process(np.zeros((1, RATE), np.float32), RATE))


@pytest.mark.parametrize("block_sizes", [[1], [7], [128], [4096], [1, 7, 128, 4096, 333, 8192]])
def test_streaming_in_any_block_size_equals_one_block(block_sizes: list[int]) -> None:
    dry = _crescendo(seconds=1.2 if block_sizes == [1] else 3.0)
    rig = load_preset("heroes-1977")
    rig.calibrate(dry, RATE)
    whole = rig.process(dry, RATE, reset=True)
    pieces, start, turn = [], 0, 0
    rig.reset()
    while start < dry.shape[1]:
        size = block_sizes[turn % len(block_sizes)]
        pieces.append(rig.process(dry[:, start : start + size], RATE, reset=False))
        start, turn = start + size, turn + 1
    streamed = np.concatenate(pieces, axis=1)
    np.testing.assert_allclose(streamed, whole, atol=2e-5 * np.abs(whole).max(), err_msg=repr(block_sizes))


def test_offline_then_streaming_continues_the_tail() -> None:
    dry = _crescendo(seconds=2.0)
    rig = load_preset("heroes-1977", ["mics.mid.gate.threshold_db=-30", "mics.far.gate.threshold_db=-20"])
    silence = np.zeros((1, RATE), np.float32)
    whole = rig.process(np.concatenate([dry, silence], axis=1), RATE)
    first = rig.process(dry, RATE, reset=True)
    second = rig.process(silence, RATE, reset=False)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=2e-5 * np.abs(whole).max())


def test_relative_thresholds_must_be_calibrated_before_streaming() -> None:
    rig = load_preset("heroes-1977")
    with pytest.raises(ConfigError, match="calibrate"):
        rig.process(_crescendo(seconds=0.5), RATE, reset=False)


def test_calibration_follows_the_level() -> None:
    dry = _crescendo()
    loud = load_preset("heroes-1977").calibrate(dry, RATE).thresholds_db
    quiet = load_preset("heroes-1977").calibrate(dry * 10 ** (-12 / 20), RATE).thresholds_db
    for name in ("mid", "far"):
        assert quiet[name] == pytest.approx(loud[name] - 12, abs=0.2)
    assert loud["far"] > loud["mid"]


def test_render_report_contract() -> None:
    dry = _crescendo()
    render = load_preset("heroes-1977").render(dry, RATE)
    report = render.report.to_json()
    assert report["sample_rate"] == RATE
    assert report["duration_s"] == pytest.approx(render.audio.shape[1] / RATE)
    assert render.audio.shape[1] > dry.shape[1]  # the tail
    for mic in report["mics"]:
        assert {"name", "distance_m", "gain_db", "threshold_db", "open_fraction", "intervals"} <= set(mic)
    close, mid, far = report["mics"]
    assert close["threshold_db"] is None and close["open_fraction"] == 1.0
    assert far["threshold_db"] > mid["threshold_db"]
    assert 0 < far["open_fraction"] < mid["open_fraction"] < 1
    timeline = report["timeline"]
    assert timeline["hop_s"] <= 0.02
    frames = len(timeline["key_db"])
    assert frames == pytest.approx(report["duration_s"] / timeline["hop_s"], abs=1)
    assert set(timeline["gain"]) == {"close", "mid", "far"}
    assert all(len(g) == frames for g in timeline["gain"].values())
    assert np.max(np.abs(render.audio)) == pytest.approx(10 ** (-1 / 20), rel=1e-3)


def _inside(inner: list[list[float]], outer: list[list[float]], slack_s: float = 0.0) -> bool:
    return all(any(a >= s - slack_s and b <= e + slack_s for s, e in outer) for a, b in inner)


def test_vocadito_staging(vocadito) -> None:
    """Real singing through heroes-1977: the mid mic opens more than the far one, the far one at
    least once, and only while the mid one is open."""
    audio, rate = vocadito
    report = load_preset("heroes-1977").render(audio, rate).report.to_json()
    close, mid, far = report["mics"]
    assert mid["open_fraction"] > far["open_fraction"] > 0
    assert far["intervals"]
    assert _inside(far["intervals"], mid["intervals"]), (far["intervals"], mid["intervals"])


def test_render_in_blocks_equals_render_in_one_piece() -> None:
    """The long-take path (two streaming passes) gives the in-memory render, report and all."""
    dry = _crescendo(seconds=4.0)
    whole = load_preset("heroes-1977").render(dry, RATE)
    pieces: list[np.ndarray] = []
    sizes = [5_000, 7, 30_000, 1_024]

    def blocks():
        start, turn = 0, 0
        while start < dry.shape[1]:
            size = sizes[turn % len(sizes)]
            yield dry[:, start : start + size]
            start, turn = start + size, turn + 1

    streamed = load_preset("heroes-1977").render_blocks(blocks, RATE, pieces.append)
    audio = np.concatenate(pieces, axis=1) * np.float32(10 ** (streamed.normalization_db / 20))
    np.testing.assert_allclose(audio, whole.audio, atol=3e-5)
    assert streamed.normalization_db == pytest.approx(whole.normalization_db, abs=1e-3)
    for a, b in zip(streamed.report.to_json()["mics"], whole.report.to_json()["mics"]):
        assert a["threshold_db"] == pytest.approx(b["threshold_db"], abs=1e-3)
        np.testing.assert_allclose(np.array(a["intervals"]), np.array(b["intervals"]), atol=2e-3)


def test_gain_match_levels_the_room_mic_with_the_close_mic() -> None:
    """gain_db = "match -6": over the passages where the mid gate is open, the mid mic after its
    trim is 6 LU under the close mic (BS.1770 loudness, pyloudnorm)."""
    from roomgate.dsp.levels import loudness_lufs

    dry = _crescendo(seconds=4.0)
    rig = load_preset("heroes-1977", ['mics.mid.gain_db="match -6"', "mics.mid.gate.threshold_db=-30"])
    calibration = rig.calibrate(dry, RATE)
    trim_db = calibration.gains_db["mid"]
    assert rig.gain_db("mid") == trim_db
    gate = roomgate.Gate(**{**rig.config.mic("mid").gate.settings, "threshold_db": -30.0})
    mics = roomgate.convolve_offline(dry, rig.capture_irs(RATE))[:, : dry.shape[1]]
    _, trace = gate.process_with_trace(mics[:1], RATE, key=mics[:1])
    is_open = np.asarray(trace.is_open)
    mid_lufs = loudness_lufs(mics[1][is_open] * 10 ** (trim_db / 20), RATE)
    close_lufs = loudness_lufs(mics[0][is_open], RATE)
    assert mid_lufs - close_lufs == pytest.approx(-6.0, abs=0.3)
    report = rig.render(dry, RATE).report.to_json()
    assert report["mics"][1]["gain_db"] == pytest.approx(trim_db, abs=0.01)


def test_gain_match_needs_calibration_for_streaming() -> None:
    rig = load_preset("heroes-1977", ['mics.far.gain_db="match"', "mics.mid.gate.threshold_db=-30",
                                      "mics.far.gate.threshold_db=-20"])
    with pytest.raises(ConfigError, match="calibrate"):
        rig.process(_crescendo(seconds=0.5), RATE, reset=False)


def test_a_measured_multichannel_ir_file_replaces_the_room(tmp_path) -> None:
    """room.ir = a file with one channel per mic: the rig uses it instead of simulating; here the
    file holds the rig's own IRs (as `roomgate ir` writes them), so the render is unchanged."""
    # The gates' "room" times follow the measured decay (T30, a little off the asked RT60): pin them.
    times = [f"mics.{mic}.gate.{key}={value}" for mic in ("mid", "far")
             for key, value in (("hold_ms", 600), ("release_ms", 2000))]
    rig = load_preset("heroes-1977", times)
    irs_path = roomgate.write_audio(tmp_path / "hall.wav", rig.impulse_responses(RATE), RATE, "FLOAT")
    dry = _crescendo(seconds=2.0)
    simulated = rig.render(dry, RATE).audio
    measured_rig = load_preset("heroes-1977", [f'room.ir="{irs_path}"', *times])
    np.testing.assert_allclose(measured_rig.render(dry, RATE).audio, simulated, atol=1e-5)
    with pytest.raises(AudioInputError, match="two.wav.*expected 3"):
        two = roomgate.write_audio(tmp_path / "two.wav", rig.impulse_responses(RATE)[:2], RATE, "FLOAT")
        load_preset("heroes-1977", [f'room.ir="{two}"']).impulse_responses(RATE)


def test_room_gate_times_follow_the_room_and_a_measured_decay(tmp_path) -> None:
    """hold_ms = release_ms = "room": 0.4 x RT60 of hold, then the range at 60 dB per RT60; from the
    asked RT60 for the modelled room, from the measured T30 for a measured IR."""
    from roomgate.acoustics.room import schroeder_t30_s

    for rt60_s in (1.5, 2.5):
        rig = load_preset("heroes-1977", [f"room.rt60_s={rt60_s}"])
        for mic in ("mid", "far"):
            settings = rig.gate_config(mic).settings  # type: ignore[union-attr]
            assert settings["hold_ms"] == pytest.approx(400 * rt60_s, rel=0.02)
            assert settings["release_ms"] == pytest.approx(80 / 60 * 1000 * rt60_s, rel=0.02)
    irs = load_preset("heroes-1977", ["room.rt60_s=2.0"]).impulse_responses(48_000)
    path = roomgate.write_audio(tmp_path / "hall.wav", irs, 48_000, "FLOAT")
    measured = load_preset("heroes-1977", [f'room.ir="{path}"'])
    t30_s = np.mean([schroeder_t30_s(irs[1], 48_000, band) for band in (500.0, 1000.0)])
    assert measured.gate_config("mid").settings["hold_ms"] == pytest.approx(400 * t30_s, rel=1e-3)  # type: ignore[union-attr]
    assert load_preset("heroes-1977", ["mics.far.gate.hold_ms=123"]).gate_config("far").settings["hold_ms"] == 123  # type: ignore[union-attr]


def test_the_report_gives_the_gate_times_it_ran_with() -> None:
    """A "room" hold and release are resolved before the render, and the report says what they became."""
    dry = _crescendo()
    report = load_preset("heroes-1977", ["room.rt60_s=2.0", "mics.far.gate.hold_ms=123"]).render(dry, RATE).report
    times = {m.name: (m.hold_ms, m.release_ms) for m in report.mics}
    assert times["close"] == (None, None)
    assert times["mid"][0] == pytest.approx(800, rel=0.02) and times["mid"][1] == pytest.approx(80 / 60 * 2000, rel=0.02)
    assert times["far"][0] == 123
