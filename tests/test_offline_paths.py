"""The fast offline paths against the paths they stand in for: the whole-take render against the
streaming passes, numpy's mixer against the compiled one, the job's in-memory render against its
streamed one, and the small helpers that spare a command its imports. No test asserts a time."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import soundfile

import roomgate
from roomgate.dsp import mixer
from roomgate.dsp.convolve import convolve_offline
from roomgate.dsp.levels import FrameLevels, percentile
from roomgate.rig import job
from roomgate.rig.rig import load_preset

FS = 48000


def sung(seconds: float, seed: int = 3) -> np.ndarray:
    """Phrases of a harmonic tone climbing from soft to loud, with gaps: the gates open and shut.

    Shape: ``(1, N)`` float32.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    voice = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 8))
    phrase = (np.arange(n) // (2 * FS)) % 6
    envelope = np.where((np.arange(n) % (2 * FS)) < 1.6 * FS, 10 ** ((-36 + 6 * phrase) / 20), 0.0)
    return (0.3 * voice * envelope + 1e-4 * rng.standard_normal(n)).astype(np.float32)[np.newaxis]


def test_percentile_is_numpys_to_the_bit() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1000, 4567):
        values = rng.standard_normal(n) * 30 - 40
        for q in (0, 0.5, 24, 50, 65, 90, 95, 99, 100, 33.333):
            assert percentile(values, q) == float(np.percentile(values, q)), (n, q)
    with pytest.raises(ValueError):
        percentile(np.empty(0), 50)


def test_frame_levels_in_any_blocks_equal_one_block() -> None:
    levels = np.random.default_rng(1).uniform(-90, 0, 10007).astype(np.float32)
    whole = FrameLevels(FS)
    whole.add(levels)
    reference = [levels[a : a + 480].astype(np.float64).max() for a in range(0, levels.size, 480)]
    np.testing.assert_array_equal(whole.frames_db(), reference)
    for cuts in ([1, 2, 3, 479, 480, 481, 5000], list(range(100, 10007, 333)), list(range(1, 1000))):
        parts = FrameLevels(FS)
        for a, b in zip([0, *cuts], [*cuts, levels.size]):
            parts.add(levels[a:b])
        np.testing.assert_array_equal(parts.frames_db(), whole.frames_db(), err_msg=str(cuts[:5]))


def test_pyroomacoustics_version_without_importing_it() -> None:
    from roomgate.acoustics.responses import _pyroomacoustics_version

    assert _pyroomacoustics_version() == metadata.version("pyroomacoustics")


def test_convolution_threads_change_nothing() -> None:
    x = np.random.default_rng(2).standard_normal((1, 300_000)).astype(np.float32)
    irs = np.random.default_rng(3).standard_normal((3, 20_000)).astype(np.float32) * 0.01
    one = convolve_offline(x, irs, workers=1, fft_size=65536)
    two = convolve_offline(x, irs, workers=2, fft_size=65536)
    np.testing.assert_array_equal(one, two)
    reference = np.convolve(x[0].astype(np.float64), irs[1].astype(np.float64))
    np.testing.assert_allclose(one[1], reference, atol=1e-6 * np.abs(reference).max())


@pytest.mark.parametrize("seed", [0, 1])
def test_numpy_mixer_equals_the_compiled_one(seed: int) -> None:
    """The same outputs, aligned and ducked gains and delay lines, to the bit, over blocks shorter
    and longer than the alignment delays."""
    rng = np.random.default_rng(seed)
    m, c, n, longest = 4, 2, 5000, 300
    mics = rng.standard_normal((m, n)).astype(np.float32)
    gated = rng.standard_normal((m, n)).astype(np.float32)
    is_gated = np.array([False, True, True, True])
    gains = rng.uniform(0, 1, (m, n)).astype(np.float32)
    ducks = np.array([[1, 3, 0.5, 1e-4], [2, 3, 0.25, 1e-4], [1, 2, 0.7, 0.0]])
    ducked = np.array([False, True, True, False])
    delays = np.array([300, 0, 120, 7], np.int64)
    weights = rng.uniform(-1, 1, (c, m)).astype(np.float32)
    weights[1, 2] = 0.0  # a mic panned out of a channel
    memory0 = rng.standard_normal((m, longest)).astype(np.float32)
    gain_memory0 = rng.uniform(0, 1, (m, longest)).astype(np.float32)
    results = []
    for kernel in (mixer.mix_kernel(), mixer.mix_block_numpy):
        memory, gain_memory, g = memory0.copy(), gain_memory0.copy(), gains.copy()
        pieces = []
        for a, b in ((0, 100), (100, 150), (150, 2500), (2500, n)):
            out = np.empty((c, b - a), np.float32)
            block_gains = np.ascontiguousarray(g[:, a:b])
            kernel(np.ascontiguousarray(mics[:, a:b]), np.ascontiguousarray(gated[:, a:b]), is_gated, block_gains,
                   ducks, ducked, np.empty((m, b - a), np.float32), delays, memory, gain_memory, weights, out)
            g[:, a:b] = block_gains
            pieces.append(out)
        results.append((np.concatenate(pieces, axis=1), g, memory, gain_memory))
    for compiled, ours in zip(*results):
        np.testing.assert_array_equal(ours, compiled)


def _streamed(rig: roomgate.Rig, take: np.ndarray, block: int) -> tuple[np.ndarray, roomgate.Render]:
    pieces: list[np.ndarray] = []
    summary = rig.render_blocks(lambda: [take[:, a : a + block] for a in range(0, take.shape[1], block)],
                                FS, pieces.append)
    audio = np.concatenate(pieces, axis=1) * np.float32(10 ** (summary.normalization_db / 20))
    return audio, summary


@pytest.mark.parametrize("overrides", [[], ["mics.mid.gate.lookahead_ms=3", "mics.far.gate.duck_db=-9",
                                            "output.channels=2", "mics.far.pan=0.5", "output.tail_s=0.5"],
                                       ["mics.mid.gate.key=dry", "mics.far.gate.key=self", "mics.far.gate.detector=peak",
                                        "output.tail_s=3"]],
                         ids=["heroes", "lookahead-duck-stereo-short-tail", "dry-and-self-keys-long-tail"])
def test_the_whole_take_render_equals_the_streaming_passes(overrides: list[str]) -> None:
    take = sung(14.0)
    rig = load_preset("heroes-1977", overrides)
    whole = rig.render(take, FS)
    streamed, summary = _streamed(rig, take, 40_000)
    assert whole.audio.shape == streamed.shape == (rig.output_channels, take.shape[1] + rig.tail_samples(FS))
    np.testing.assert_allclose(whole.audio, streamed, atol=2e-6)
    assert whole.normalization_db == pytest.approx(summary.normalization_db, abs=1e-4)
    for ours, theirs in zip(whole.report.mics, summary.report.mics):
        assert ours.threshold_db == pytest.approx(theirs.threshold_db, abs=1e-3)
        assert ours.open_fraction == pytest.approx(theirs.open_fraction, abs=1e-4)
    far = whole.report.mic("far")
    assert 0.05 < far.open_fraction < 0.9  # the far gate really worked
    np.testing.assert_allclose(whole.report.timeline.gain["far"], summary.report.timeline.gain["far"], atol=1e-6)


def test_a_multitrack_render_in_one_pass_equals_the_streaming_passes() -> None:
    take = sung(6.0, seed=5)
    rig = load_preset("heroes-1977")
    mics = np.ascontiguousarray(convolve_offline(take, rig.capture_irs(FS))[:, : take.shape[1]])
    whole = rig.render(mics, FS)
    streamed, summary = _streamed(rig, mics, 50_000)
    assert whole.audio.shape == streamed.shape == (1, take.shape[1])
    np.testing.assert_allclose(whole.audio, streamed, atol=2e-6)
    assert [m.threshold_db for m in whole.report.mics] == [m.threshold_db for m in summary.report.mics]


def test_the_job_renders_a_take_in_memory_as_it_streams_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "take.wav"
    soundfile.write(path, sung(9.0, seed=5)[0], FS, subtype="PCM_24")
    rig = load_preset("heroes-1977")
    calls: list[str] = []
    for name in ("render_in_memory", "render_stream"):
        original = getattr(job, name)
        monkeypatch.setattr(job, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    whole = job.render_file(rig, path, job.Outputs(tmp_path / "whole.wav", report_path=tmp_path / "whole.json"))
    monkeypatch.setattr(job, "IN_MEMORY_BYTES", 0)
    streamed = job.render_file(rig, path, job.Outputs(tmp_path / "streamed.wav"))
    assert calls == ["render_in_memory", "render_stream"]
    a, _ = soundfile.read(tmp_path / "whole.wav", dtype="int32")
    b, _ = soundfile.read(tmp_path / "streamed.wav", dtype="int32")
    assert soundfile.info(tmp_path / "whole.wav").subtype == "PCM_24"
    assert a.shape == b.shape and np.abs(a).max() > 2**30  # normalised to -1 dBFS
    assert np.max(np.abs(a.astype(np.int64) - b) >> 8) <= 2  # 24-bit steps: float rounding only
    assert whole.render.audio.size == 0 and streamed.render.audio.size == 0
    assert whole.render.report.input is not None and whole.render.report.input.path == str(path)
    assert (tmp_path / "whole.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["streamed.wav", "take.wav", "whole.json", "whole.wav"]


def test_an_offline_render_loads_no_numba(tmp_path: Path) -> None:
    """A dry take (here through a measured room, so nothing is simulated) and a multitrack render
    through numpy alone: numba is neither imported nor compiled."""
    rng = np.random.default_rng(9)
    t = np.arange(int(0.8 * FS)) / FS
    irs = (rng.standard_normal((3, t.size)) * np.exp(-t / 0.15) * [[1.0], [0.3], [0.1]]).astype(np.float32)
    irs[:, 0] = 1.0
    soundfile.write(tmp_path / "hall.wav", irs.T, FS, subtype="FLOAT")
    soundfile.write(tmp_path / "take.wav", sung(5.0)[0], FS, subtype="PCM_24")
    script = f"""
import sys
import numpy as np
import roomgate
from roomgate.rig.job import Outputs, render_file
times = [f"mics.{{m}}.gate.{{k}}=300" for m in ("mid", "far") for k in ("hold_ms", "release_ms")]
rig = roomgate.load_preset("heroes-1977", ['room.ir="{tmp_path / 'hall.wav'}"', *times])
result = render_file(rig, __import__("pathlib").Path("{tmp_path / 'take.wav'}"), Outputs(__import__("pathlib").Path("{tmp_path / 'out.wav'}")))
mics = np.ascontiguousarray(np.random.default_rng(1).standard_normal((3, 96000)).astype(np.float32) * 0.1)
rig.render(mics, 48000)
print(sorted(m for m in ("numba", "scipy", "pyroomacoustics") if m in sys.modules), result.render.report.mic("mid").open_fraction)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded, open_fraction = done.stdout.split("]")
    assert loaded == "[", done.stdout
    assert 0.0 < float(open_fraction) < 1.0


def test_a_short_last_block_joins_the_one_before(tmp_path: Path) -> None:
    """Blocks of a long take: a remainder of at most a quarter block is read with the block
    before it (a short block would take the rig's small-block path: numba's kernels)."""
    from roomgate.io.audio import TrackReader, read_blocks

    rng = np.random.default_rng(4)
    for frames, sizes in ((2 * 1000 + 7, [1000, 1007]), (2 * 1000 + 250, [1000, 1250]), (2 * 1000 + 251, [1000, 1000, 251]),
                          (600, [600]), (3000, [1000, 1000, 1000])):
        audio = rng.uniform(-0.5, 0.5, frames).astype(np.float32)
        path = tmp_path / f"take{frames}.wav"
        soundfile.write(path, audio, FS, subtype="FLOAT")
        blocks = list(read_blocks(path, block_frames=1000))
        assert [b.shape[1] for b in blocks] == sizes, frames
        np.testing.assert_array_equal(np.concatenate(blocks, axis=1)[0], audio)
        tracks = list(TrackReader([path, path], FS, block_frames=1000).blocks())
        assert [b.shape for b in tracks] == [(2, n) for n in sizes], frames
