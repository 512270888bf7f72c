"""The studio's fast path gives Rig.render's samples: a kept capture, re-gated and re-mixed.

:meth:`Rig.render_captured` (the gates and the mix on a known capture) is checked against
:meth:`Rig.render` (capture included), and the studio's :class:`Renderer` over a
:class:`CaptureCache` against a fresh ``load_preset(...).render()`` after each kind of change the
page makes: a threshold, a hold on a relative gate (the calibration reused), a moved mic (one mic
convolved), a mic moved back (none), a trim; solo and mute against sums of single mics; a gate
keyed by the dry take (the slow path). Real singing (tests/data/vocadito_14.wav) at 16 kHz in a
small room, so it runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from roomgate import load_preset
from roomgate.dsp.convolve import convolve_offline
from roomgate.errors import ConfigError
from roomgate.io.audio import resample
from roomgate.studio.capture import CaptureCache, calibration_key, row_digest
from roomgate.studio.renderer import Monitor, Renderer

SR = 16_000
SMALL_ROOM = [
    "room.size_m=[8, 6, 3]", "room.rt60_s=0.4", "singer.position_m=[1.5, 3, 1.6]", "singer.toward_m=[8, 3, 1.6]",
    "mics.mid.distance_m=2.5", "mics.far.distance_m=5.5",
]
# The whole-rig tolerance: the convolutions differ in FFT sizes (float32 rounding, ~1e-7 of the
# peak); the gates then see the same levels, so the outputs agree far below audibility.
ATOL = 2e-6


@pytest.fixture(scope="module")
def take() -> np.ndarray:
    from roomgate.io.audio import read_audio
    from pathlib import Path

    audio, rate = read_audio(Path(__file__).parent / "data" / "vocadito_14.wav")
    return resample(audio, rate, SR)[:, : 8 * SR].astype(np.float32)


def _capture(rig, take: np.ndarray) -> np.ndarray:
    irs = rig.capture_irs(SR)
    return convolve_offline(take, irs)[:, : take.shape[1] + rig.tail_samples(SR)]


def _assert_same_render(fast, slow) -> None:
    np.testing.assert_allclose(fast.audio, slow.audio, rtol=0, atol=ATOL)
    assert fast.report.mics == slow.report.mics  # thresholds, open fractions, intervals to the sample
    assert fast.report.input == slow.report.input
    assert fast.normalization_db == pytest.approx(slow.normalization_db, abs=1e-4)
    np.testing.assert_allclose(fast.report.timeline.key_db, slow.report.timeline.key_db, atol=0.011)
    for name, gains in slow.report.timeline.gain.items():
        np.testing.assert_allclose(fast.report.timeline.gain[name], gains, atol=1e-4)


@pytest.mark.parametrize("overrides", [
    [],  # heroes-1977: relative thresholds (p65, p90) fitted on the take
    ["mics.far.gate.threshold_db=-35", "mics.mid.gate.hold_ms=40", "mics.far.gain_db=6"],
    ["output.channels=2", "mics.mid.pan=-0.7", "mics.far.pan=0.7", "mics.far.gate.duck_db=-6"],
    ["mics.far.gain_db=match -3"],  # a matched trim, fitted on open passages
])
def test_render_captured_equals_render(take: np.ndarray, overrides: list[str]) -> None:
    rig = load_preset("heroes-1977", [*SMALL_ROOM, *overrides])
    slow = rig.render(take, SR)
    fresh = load_preset("heroes-1977", [*SMALL_ROOM, *overrides])
    fast = fresh.render_captured(_capture(fresh, take), SR, take.shape[1])
    _assert_same_render(fast, slow)
    assert fast.audio.shape == slow.audio.shape


def test_render_captured_with_a_calibration_skips_fitting(take: np.ndarray, monkeypatch) -> None:
    rig = load_preset("heroes-1977", SMALL_ROOM)
    captured = _capture(rig, take)
    first = rig.render_captured(captured, SR, take.shape[1])
    calibration = rig.calibration
    assert calibration is not None and set(calibration.thresholds_db) == {"mid", "far"}
    monkeypatch.setattr(type(rig), "calibrate", lambda *a, **k: pytest.fail("calibrated again"))
    again = rig.render_captured(captured, SR, take.shape[1], calibration=calibration)
    np.testing.assert_array_equal(again.audio, first.audio)


def test_muted_mics_leave_the_mix_and_the_solos_add_up_to_it(take: np.ndarray) -> None:
    rig = load_preset("heroes-1977", [*SMALL_ROOM, "mics.far.gate.duck_db=-6"])
    captured = _capture(rig, take)
    n = take.shape[1]
    full = rig.render_captured(captured, SR, n)
    calibration = rig.calibration

    def unnormalised(render):
        return render.audio.astype(np.float64) * 10 ** (-render.normalization_db / 20)

    solos = [rig.render_captured(captured, SR, n, calibration=calibration,
                                 muted=[m for m in rig.mic_names if m != name]) for name in rig.mic_names]
    # Mixing is linear once the gates (which still run, keyed as before) have acted.
    np.testing.assert_allclose(sum(unnormalised(s) for s in solos), unnormalised(full), rtol=0, atol=1e-5)
    for solo in solos:  # what each mic's gate did is the same whoever is heard
        assert solo.report.mics == full.report.mics
    far_alone = unnormalised(solos[2])
    assert np.max(np.abs(far_alone)) > 0.01  # the far mic is heard, alone
    without_far = rig.render_captured(captured, SR, n, calibration=calibration, muted=["far"])
    np.testing.assert_allclose(unnormalised(without_far), unnormalised(full) - far_alone, atol=1e-5)
    with pytest.raises(ConfigError, match="nobody"):
        rig.render_captured(captured, SR, n, muted=["nobody"])


def test_a_gate_keyed_by_the_dry_take_is_refused(take: np.ndarray) -> None:
    rig = load_preset("heroes-1977", [*SMALL_ROOM, "mics.far.gate.key=dry"])
    with pytest.raises(ConfigError, match=r"mics\.far\.gate\.key"):
        rig.render_captured(_capture(rig, take), SR, take.shape[1])


def test_the_renderer_follows_each_change_and_convolves_only_what_moved(take: np.ndarray, monkeypatch) -> None:
    renderer = Renderer()
    capture = CaptureCache(take)
    convolved_rows: list[int] = []
    real = capture._convolve
    monkeypatch.setattr(capture, "_convolve", lambda rows: convolved_rows.append(len(rows)) or real(rows))
    steps = [
        ([], ["close", "mid", "far"]),
        (["mics.far.gate.threshold_db=-38"], []),
        (["mics.far.gate.threshold_db=-38", "mics.mid.gate.hold_ms=60", "mics.mid.gate.release_ms=150"], []),
        (["mics.far.gate.threshold_db=-38", "mics.far.distance_m=4.2"], ["far"]),
        (["mics.far.gate.threshold_db=-38", "mics.far.distance_m=5.5"], []),  # moved back: kept
        (["mics.mid.gain_db=9", "mics.close.gain_db=-2"], []),
        (["mics.mid.gate.detector_ms=20"], []),  # a new detector: calibrated again, same capture
    ]
    for overrides, convolved in steps:
        rig = load_preset("heroes-1977", [*SMALL_ROOM, *overrides])
        outcome = renderer.render(rig, take, SR, capture, Monitor())
        assert outcome.convolved == convolved, overrides
        _assert_same_render(outcome.render, load_preset("heroes-1977", [*SMALL_ROOM, *overrides]).render(take, SR))
    assert convolved_rows == [3, 1]


def test_the_renderer_falls_back_for_a_gate_keyed_by_the_dry_take(take: np.ndarray) -> None:
    overrides = [*SMALL_ROOM, "mics.mid.gate.key=dry"]
    rig = load_preset("heroes-1977", overrides)
    outcome = Renderer().render(rig, take, SR, CaptureCache(take), Monitor())
    assert outcome.captured is None and outcome.convolved == ["close", "mid", "far"]
    np.testing.assert_array_equal(outcome.render.audio, load_preset("heroes-1977", overrides).render(take, SR).audio)
    muted = Renderer().render(load_preset("heroes-1977", overrides), take, SR, None, Monitor(solo=("close",)))
    assert muted.render.normalization_db == pytest.approx(outcome.render.normalization_db)
    # The close mic alone: no room mic in it, at the full mix's gain.
    alone = load_preset("heroes-1977", [*overrides, "mics.mid.gain_db=-96", "mics.far.gain_db=-96"])
    reference = alone.render(take, SR)
    scale = 10 ** ((outcome.render.normalization_db - reference.normalization_db) / 20)
    np.testing.assert_allclose(muted.render.audio, reference.audio * scale, atol=1e-5)


def test_monitored_renders_keep_the_full_mix_level(take: np.ndarray) -> None:
    renderer = Renderer()
    capture = CaptureCache(take)
    rig = load_preset("heroes-1977", SMALL_ROOM)
    full = renderer.render(rig, take, SR, capture, Monitor()).render
    solo = renderer.render(rig, take, SR, capture, Monitor(solo=("far",))).render
    assert solo.normalization_db == pytest.approx(full.normalization_db)
    captured = _capture(rig, take)
    alone = rig.render_captured(captured, SR, take.shape[1], muted=["close", "mid"])
    scale = 10 ** ((full.normalization_db - alone.normalization_db) / 20)
    np.testing.assert_allclose(solo.audio, alone.audio * scale, atol=ATOL)
    assert 0 < np.max(np.abs(solo.audio)) < np.max(np.abs(full.audio))  # a room mic alone is quieter than the mix
    muted = renderer.render(rig, take, SR, capture, Monitor(mute=("far",))).render
    opened = renderer.render_open(rig, renderer.render(rig, take, SR, capture, Monitor()), SR, Monitor())
    assert opened is not None and all(m.open_fraction == 1.0 for m in opened.report.mics)
    assert not np.allclose(muted.audio, full.audio)


def test_calibration_key_ignores_gate_timing_only_for_rms_detectors() -> None:
    rig = load_preset("heroes-1977", SMALL_ROOM)
    digests = [row_digest(np.arange(1, i + 2, dtype=np.float32)) for i in range(3)]

    def key(*overrides: str, rows=digests) -> str:
        return calibration_key(load_preset("heroes-1977", [*SMALL_ROOM, *overrides]).config, rows)

    base = key()
    assert base == calibration_key(rig.config, digests)
    assert key("mics.far.gate.hold_ms=10", "mics.mid.gate.release_ms=90", "mics.mid.gate.hysteresis_db=2") == base
    assert key("mics.far.gate.threshold_db=-30") != base  # the far gate no longer needs fitting
    assert key("mics.far.gate.threshold=p70") != base
    assert key("mics.far.gate.detector_ms=10") != base
    assert key(rows=[digests[1], digests[0], digests[2]]) != base  # the key (close) capture differs...
    assert key(rows=[digests[0], digests[1], digests[0]]) == base  # ...the far's own does not matter
    peak = ["mics.far.gate.detector=peak"]
    assert key(*peak, "mics.far.gate.hold_ms=10") != key(*peak)


def test_row_digest_ignores_trailing_zeros() -> None:
    row = np.array([0.0, 1.0, -0.5, 0.25], np.float32)
    assert row_digest(row) == row_digest(np.concatenate([row, np.zeros(9, np.float32)]))
    assert row_digest(row) != row_digest(row * np.float32(1.0001))


def test_a_row_being_prefetched_is_waited_for_not_convolved_twice(take: np.ndarray, monkeypatch) -> None:
    import threading
    import time

    rig = load_preset("heroes-1977", SMALL_ROOM)
    moved = load_preset("heroes-1977", [*SMALL_ROOM, "mics.far.distance_m=4.4"])
    capture = CaptureCache(take)
    capture.captured(rig.capture_irs(SR), rig.tail_samples(SR))
    calls: list[int] = []
    real = capture._convolve

    def slow(rows):
        calls.append(len(rows))
        time.sleep(0.3)  # long enough for the render to arrive while it runs
        return real(rows)

    monkeypatch.setattr(capture, "_convolve", slow)
    prefetch = threading.Thread(target=capture.prefetch, args=(moved.capture_irs(SR),))
    prefetch.start()
    time.sleep(0.05)
    matrix, new, _ = capture.captured(moved.capture_irs(SR), moved.tail_samples(SR))
    prefetch.join()
    assert calls == [1] and new == []  # the prefetch convolved the far mic; the render waited for it
    expected = convolve_offline(take, moved.capture_irs(SR))[:, : matrix.shape[1]]
    np.testing.assert_allclose(matrix, expected, atol=1e-6)
