"""Staging on real singing: a take with a song's dynamics opens the room only when it should.

The take is vocadito_14 (real a-cappella singing, Vocadito dataset, CC BY 4.0) sung softly
(15 dB down), a one-second pause, then the same singing out loud, rendered through heroes-1977.
Judged at the scale of phrases: within a phrase, hold rightly bridges the dips between syllables.
"""

from __future__ import annotations

import numpy as np
import pytest

from roomgate import load_preset

FRAME_S = 0.05


@pytest.fixture(scope="module")
def song(request) -> tuple[np.ndarray, int, float]:
    """(take (1, N), sample rate, time the loud half starts in s)."""
    from tests.conftest import VOCADITO

    from roomgate.io.audio import read_audio

    voice, rate = read_audio(VOCADITO)
    take = np.concatenate([voice * np.float32(10 ** (-15 / 20)), np.zeros((1, rate), np.float32), voice], axis=1)
    return take, rate, (voice.shape[1] + rate) / rate


def _inside(inner, outer) -> bool:
    return all(any(s <= a and b <= e for s, e in outer) for a, b in inner)


def test_room_shut_when_soft_open_when_loud(song) -> None:
    take, rate, loud_start_s = song
    report = load_preset("heroes-1977").render(take, rate).report.to_json()
    _, mid, far = report["mics"]
    for mic in (mid, far):
        assert mic["intervals"], mic["name"]
        assert all(start >= loud_start_s for start, _ in mic["intervals"]), (mic["name"], mic["intervals"])
    # The loudest moments of the loud half (top 5 % of its 10 ms key frames): every gate open.
    timeline = report["timeline"]
    hop = timeline["hop_s"]
    key = np.array([-200 if v is None else v for v in timeline["key_db"]])
    loud = np.arange(key.size) * hop >= loud_start_s
    loudest = loud & (key >= np.percentile(key[loud], 95))
    for name in ("mid", "far"):
        gain = np.array(timeline["gain"][name])
        assert np.mean(gain[loudest] > 0.9) > 0.9, name
    # Staged: the far mic is never open while the middle one is shut, and opens less.
    assert _inside(far["intervals"], mid["intervals"])
    assert far["open_fraction"] < mid["open_fraction"]


def test_same_take_12_db_quieter_opens_the_same(song) -> None:
    take, rate, _ = song
    loud = load_preset("heroes-1977").render(take, rate).report.to_json()
    quiet = load_preset("heroes-1977").render(take * np.float32(10 ** (-12 / 20)), rate).report.to_json()
    for a, b in zip(loud["mics"][1:], quiet["mics"][1:]):
        assert b["open_fraction"] == pytest.approx(a["open_fraction"], abs=0.05), a["name"]
        assert b["threshold_db"] == pytest.approx(a["threshold_db"] - 12, abs=0.5), a["name"]


def _room_part(output: np.ndarray, dry: np.ndarray) -> np.ndarray:
    """The output minus the best-fitting delayed, scaled copy of the dry take (the direct sound)."""
    import scipy.signal

    n = dry.size
    correlation = scipy.signal.correlate(output[:n], dry, mode="full", method="fft")
    lag = int(np.argmax(np.abs(correlation))) - (n - 1)
    assert 0 <= lag and lag + n <= output.size, lag  # the close mic hears the voice a little late
    shifted = np.zeros_like(output)
    shifted[lag : lag + n] = dry
    scale = float(np.dot(output, shifted) / np.dot(shifted, shifted))
    return output - scale * shifted


def _frame_energy(signal: np.ndarray, frame: int, frames: int) -> np.ndarray:
    return (signal[: frames * frame].astype(np.float64) ** 2).reshape(frames, frame).sum(axis=1)


def test_the_drama_room_follows_the_voice(song) -> None:
    """The room heard, relative to the same rig with every gate held open, is at least 12 dB
    stronger over the loudest quarter of the sung frames than over the softest quarter.

    Both renders use the same IRs and trims, no normalisation. The room part of each is the output
    minus the best-fitting delayed, scaled copy of the dry take, in 50 ms frames. A linear room
    keeps loud/soft at 0 dB relative to the open rig; only the staged gates can open the gap. The
    per-frame ratios (gated / open, dB) are averaged over each quarter. (A
    plain direct-to-reverberant ratio per frame would not show it: the tails of loud phrases fill
    the soft frames after them.)
    """
    take, rate, _ = song
    common = ['output.normalize="none"']
    gated = load_preset("heroes-1977", common).render(take, rate).audio[0]
    held_open = load_preset("heroes-1977", [*common, "mics.mid.gate.threshold_db=-150",
                                            "mics.far.gate.threshold_db=-150"]).render(take, rate).audio[0]
    dry = take[0]
    frame = int(FRAME_S * rate)
    frames = dry.size // frame
    dry_db = 10 * np.log10(_frame_energy(dry, frame, frames) + 1e-20)
    sung = dry_db > dry_db.max() - 45
    order = np.argsort(dry_db[sung])
    quarter = order.size // 4
    soft, loud = np.flatnonzero(sung)[order[:quarter]], np.flatnonzero(sung)[order[-quarter:]]
    room_gated = _frame_energy(_room_part(gated, dry), frame, frames)
    room_open = _frame_energy(_room_part(held_open, dry), frame, frames)

    def heard_db(frames_index: np.ndarray) -> float:
        # Frame by frame relative to the open rig, then averaged in dB: an energy sum over the
        # quarter would be ruled by the few quiet frames inside loud phrases, where the open rig's
        # room is 20 dB stronger than anywhere in the soft half.
        return float(np.mean(10 * np.log10(room_gated[frames_index] / room_open[frames_index])))

    drama_db = heard_db(loud) - heard_db(soft)
    assert drama_db >= 12.0, drama_db
