"""Nothing lost, whatever happens: the faults a real user's machine throws (issue 15).

The catalogue of tests/test_robustness.py goes on here for the cases that need more than one
command line and a folder of bad files: a full disk (a real tmpfs where the machine allows, and
``ulimit -f`` everywhere), real signals to a real process (SIGTERM, SIGHUP, SIGINT, SIGKILL, Ctrl-C
to a whole ``--jobs`` batch), a real studio server (its temporary folder, its memory), and the
studio's API under a hostile or careless client. The house rules are those of the catalogue: a
user's mistake or the machine's fault is one line and exit code 2 (HTTP 400 in the studio);
nothing half-made is left under a final name, and no temporary file stays behind.

"Nothing non-finite is ever written" is a hypothesis property over tiny, huge and subnormal takes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from roomgate import load_preset
from roomgate.errors import OutputError, RoomgateError, RoomgateWarning
from test_robustness import (
    ABSOLUTE,
    ROOMGATE,
    SMALL,
    assert_nothing_changed,
    assert_one_line_error,
    measured_ir,
    run,
    snapshot,
    voice_file,
)

SMALL_SETTINGS = [arg for arg in SMALL if arg != "--set"]  # the same small room as KEY=VALUE strings


def long_take(path: Path, minutes: float, sample_rate: int = 16_000) -> Path:
    """A long sung-ish take (a tone swelling every 4 s), written in pieces to keep memory small."""
    second = np.arange(sample_rate) / sample_rate
    with soundfile.SoundFile(str(path), "w", sample_rate, 1, "PCM_16") as handle:
        for index in range(int(minutes * 60)):
            t = index + second
            handle.write((0.5 * np.sin(2 * np.pi * 180 * t) * (0.3 + 0.7 * np.abs(np.sin(np.pi * t / 4)))).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def ten_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten minutes at 16 kHz: a render that runs long enough to be interrupted half-way."""
    return long_take(tmp_path_factory.mktemp("long") / "long.wav", 10)


def everything_in(folder: Path) -> list[str]:
    """Every entry under ``folder``, hidden ones included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- 1. an output that is a file the command reads ---------------------------------------------------


@pytest.mark.parametrize("link", ["symlink", "hard-link"])
def test_an_output_linked_to_a_measured_ir_is_refused(tmp_path: Path, link: str) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    hall = tmp_path / "hall.wav"
    soundfile.write(str(hall), measured_ir(16_000), 16_000, subtype="FLOAT")
    other = tmp_path / "other.wav"
    if link == "symlink":
        other.symlink_to(hall)
    else:
        os.link(hall, other)
    before = snapshot(tmp_path)
    for argv in (["render", str(voice), "-o", str(other)], ["ir", "-o", str(other)],
                 ["mix", str(voice), str(voice), str(voice), "-o", str(other)]):
        result = run(*argv, *SMALL, *ABSOLUTE, "--set", f"mics.far.ir='{hall}'")
        assert_one_line_error(result, "other.wav", "mics.far.ir", "never overwrites its input")
    assert_nothing_changed(before, snapshot(tmp_path))


# -- 2. nothing non-finite is ever written ----------------------------------------------------------


def test_a_subnormal_take_renders_as_silence_with_a_note(tmp_path: Path) -> None:
    """A float WAV peaking near 1e-39 once printed "normalised +783.5 dB" and wrote inf and NaN."""
    source = tmp_path / "faint.wav"
    t = np.arange(8000) / 16_000
    soundfile.write(str(source), (1e-39 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16_000, subtype="FLOAT")
    out, report = tmp_path / "out.wav", tmp_path / "r.json"
    result = run("render", str(source), "-o", str(out), "--report", str(report), *SMALL)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "warning" not in result.stderr, result.stderr
    assert any("note" in line and "silence" in line and "-200 dBFS" in line for line in result.stderr.splitlines())
    assert "normalised" not in result.stdout
    audio, _ = soundfile.read(str(out), always_2d=True)
    assert np.isfinite(audio).all() and np.max(np.abs(audio)) < 1e-30
    data = json.loads(report.read_text(), parse_constant=_refuse_constant)
    assert data["output"]["normalization_db"] == 0


def test_rig_render_of_a_subnormal_take_is_finite() -> None:
    rig = load_preset("heroes-1977", SMALL_SETTINGS)
    faint = (1e-39 * np.sin(2 * np.pi * 180 * np.arange(4000) / 16_000)).astype(np.float32)[np.newaxis]
    with pytest.warns(RoomgateWarning, match="silence"):
        render = rig.render(faint, 16_000)
    assert np.isfinite(render.audio).all()
    assert render.normalization_db == 0.0


def test_ir_normalize_of_subnormal_irs_is_silence_with_a_note(tmp_path: Path) -> None:
    """``roomgate ir --normalize`` on measured IRs of subnormal numbers: the same rule as a render."""
    irs = np.zeros((2000, 3), np.float32)
    irs[0], irs[100] = 1e-39, -5e-40
    hall = tmp_path / "faint-hall.wav"
    soundfile.write(str(hall), irs, 16_000, subtype="FLOAT")
    out = tmp_path / "irs.wav"
    result = run("ir", "-o", str(out), "--normalize", "--sample-rate", "16000", *SMALL, "--set", f"room.ir='{hall}'")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr and "silence" in result.stderr, result.stderr
    written, _ = soundfile.read(str(out), always_2d=True)
    assert np.isfinite(written).all() and "normalised to -1 dBFS" not in result.stdout


def _refuse_constant(name: str) -> float:
    raise AssertionError(f"the JSON holds {name}: not strict JSON")


_RIGS: dict[str, object] = {}


def _rig(normalize: str):  # type: ignore[no-untyped-def]
    """A small rig per normalisation mode, kept so that its room is simulated once."""
    if normalize not in _RIGS:
        _RIGS[normalize] = load_preset("heroes-1977", [*SMALL_SETTINGS, f"output.normalize={normalize!r}"])
    return _RIGS[normalize]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(amplitude=st.sampled_from([0.0, 1.4e-45, 1e-42, 1e-39, 1e-37, 1e-30, 1e-12, 1e-6, 0.5, 300.0, 9e3]),
       seed=st.integers(0, 2**16), samples=st.integers(1, 2500), normalize=st.sampled_from(["peak", "none"]),
       subtype=st.sampled_from(["FLOAT", "PCM_24", "PCM_16"]))
@example(amplitude=1e-39, seed=0, samples=2000, normalize="peak", subtype="FLOAT")
def test_nothing_non_finite_is_ever_written(tmp_path: Path, amplitude: float, seed: int, samples: int,
                                            normalize: str, subtype: str) -> None:
    """Through the API (Rig.render) and the file jobs every face uses (render_file, mix_files): tiny,
    huge and subnormal takes give finite audio and strict-JSON reports, or a RoomgateError and no file."""
    from roomgate.rig.job import Outputs, mix_files, render_file

    rig = _rig(normalize)
    take = (amplitude * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)[np.newaxis]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoomgateWarning)
        try:
            render = rig.render(take, 16_000)  # type: ignore[attr-defined]
        except RoomgateError:  # louder than any audio (+80 dBFS): refused, as the file job below does
            assert np.max(np.abs(take)) > 1e4
        else:
            assert np.isfinite(render.audio).all(), repr((amplitude, seed, samples))
            json.dumps(render.report.to_json(), allow_nan=False)
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        source = folder / "take.wav"
        soundfile.write(str(source), take[0], 16_000, subtype="FLOAT")
        for job in ("render", "mix"):  # a dry take; the same take as three recorded mics
            out, report = folder / f"{job}.wav", folder / f"{job}.json"
            try:
                if job == "render":
                    render_file(rig, source, Outputs(out, subtype, report))  # type: ignore[arg-type]
                else:
                    mix_files(rig, [source] * 3, Outputs(out, subtype, report))  # type: ignore[arg-type]
            except RoomgateError:
                assert not out.exists() and not report.exists()
                continue
            written, _ = soundfile.read(str(out), always_2d=True, dtype="float32")
            assert np.isfinite(written).all(), job
            json.loads(report.read_text(), parse_constant=_refuse_constant)


def test_the_writer_refuses_non_finite_samples_and_leaves_nothing(tmp_path: Path) -> None:
    from roomgate.io.audio import block_writer, write_audio

    bad = np.zeros((1, 100), np.float32)
    bad[0, 50] = np.inf
    with pytest.raises(OutputError, match="NaN or infinite"):
        write_audio(tmp_path / "a.wav", bad, 16_000, "FLOAT")
    with pytest.raises(OutputError, match="b.wav.*NaN or infinite"):
        with block_writer(tmp_path / "b.wav", 16_000, 1, "FLOAT") as write:
            write(np.zeros((1, 100), np.float32))
            write(bad * np.nan)
    assert everything_in(tmp_path) == []


# -- 3. a full disk, a file-size limit ---------------------------------------------------------------


@contextlib.contextmanager
def full_disk(folder: Path, size_bytes: int) -> Iterator[Path]:
    """``folder`` as a real tmpfs of ``size_bytes``; skips where mounting one is not allowed."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the ulimit -f cases run everywhere)")
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _limited_to(size_bytes: int):  # type: ignore[no-untyped-def]
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size_bytes, size_bytes))
    return limit


def test_a_file_size_limit_is_one_line_naming_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    """``ulimit -f``: the render once ended in a traceback, exit 1, "LibsndfileError: System error"."""
    voice = voice_file(tmp_path / "voice.wav", seconds=2.0)
    folder = tmp_path / "out"
    folder.mkdir()
    warm = run("render", str(voice), "-o", str(tmp_path / "warm.wav"), *SMALL, *ABSOLUTE)  # the room, cached
    assert warm.returncode == 0, warm.stderr
    before = snapshot(folder)
    result = subprocess.run([*ROOMGATE, "render", str(voice), "-o", str(folder / "out.wav"), "--report",
                             str(folder / "r.json"), *SMALL, *ABSOLUTE], capture_output=True, text=True,
                            preexec_fn=_limited_to(16_384), timeout=300)
    assert_one_line_error(result, "out.wav", "cannot write", "file-size limit")
    assert_nothing_changed(before, snapshot(folder))


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    voice = voice_file(tmp_path / "voice.wav", seconds=2.0)
    with full_disk(tmp_path / "full", 16_384) as folder:
        result = run("render", str(voice), "-o", str(folder / "out.wav"), "--plot", str(folder / "p.png"),
                     *SMALL, *ABSOLUTE)
        left = everything_in(folder)
    assert_one_line_error(result, "out.wav", "cannot write", "no space left")
    assert left == []


def test_a_plot_that_does_not_fit_takes_the_audio_and_report_with_it(tmp_path: Path) -> None:
    """The disk holds the render and its report but not the plot: once, the WAV and the JSON
    stayed behind after a traceback. Now the outputs are placed together, or not at all."""
    voice = voice_file(tmp_path / "voice.wav", sample_rate=8_000, seconds=0.5)
    reference = tmp_path / "reference"
    reference.mkdir()
    made = run("render", str(voice), "-o", str(reference / "out.wav"), "--report", str(reference / "r.json"),
               "--plot", str(reference / "p.png"), *SMALL, *ABSOLUTE)
    assert made.returncode == 0, made.stderr

    def pages(n: int) -> int:
        return -(-n // 4096)

    wav, report, plot = (pages((reference / n).stat().st_size) for n in ("out.wav", "r.json", "p.png"))
    scratch = pages(4 * soundfile.info(str(reference / "out.wav")).frames)  # float32, mono
    size = wav + report + plot - 1  # room for the scratch and the audio, not for all three outputs
    if scratch + wav > size:
        pytest.skip(f"this render's scratch file ({scratch} pages) is too large for the case")
    with full_disk(tmp_path / "full", size * 4096) as folder:
        result = run("render", str(voice), "-o", str(folder / "out.wav"), "--report", str(folder / "r.json"),
                     "--plot", str(folder / "p.png"), *SMALL, *ABSOLUTE)
        left = everything_in(folder)
    assert_one_line_error(result, "p.png", "cannot write", "no space left")
    assert left == []


# -- 4. SIGTERM, SIGHUP, SIGKILL -------------------------------------------------------------------


def _start_render(take: Path, folder: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*ROOMGATE, "render", str(take), "-o", str(folder / "out.wav"), "--report",
                             str(folder / "r.json"), *SMALL, *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_scratch(process: subprocess.Popen[str], folder: Path) -> None:
    """Wait until the render has a file open in ``folder``: its scratch file, open from the first
    pass to the last write (named before issue 15, nameless since), so the render is mid-way."""
    if not Path(f"/proc/{process.pid}/fd").is_dir():
        process.kill()
        pytest.skip("needs Linux's /proc/PID/fd to see when the render is under way")
    prefix = str(folder) + os.sep
    while process.poll() is None:
        with contextlib.suppress(OSError):  # a descriptor may close while it is being read
            for fd in os.listdir(f"/proc/{process.pid}/fd"):
                if os.readlink(f"/proc/{process.pid}/fd/{fd}").startswith(prefix):
                    return
        time.sleep(0.001)
    pytest.skip(f"the render ended (exit {process.returncode}) before it was seen writing")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: signal.Signals(s).name)
def test_a_render_stopped_by_a_signal_leaves_nothing(tmp_path: Path, ten_minutes: Path, signum: int) -> None:
    """SIGTERM and SIGHUP once skipped the clean-up Ctrl-C does: a hidden 346 MB scratch file and
    a .part stayed beside the output."""
    folder = tmp_path / "out"
    folder.mkdir()
    process = _start_render(ten_minutes, folder)
    _wait_for_scratch(process, folder)
    process.send_signal(signum)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, f"exit {process.returncode}\n{rest}"
    assert "Traceback" not in rest and "interrupted" in rest, rest
    assert everything_in(folder) == []


def test_a_render_killed_with_sigkill_leaves_no_scratch_file(tmp_path: Path, ten_minutes: Path) -> None:
    """Nothing can clean up after SIGKILL; a scratch file that has no name needs no clean-up."""
    folder = tmp_path / "out"
    folder.mkdir()
    process = _start_render(ten_minutes, folder)
    _wait_for_scratch(process, folder)
    process.kill()
    process.communicate(timeout=120)
    assert everything_in(folder) == []


# -- 5. Ctrl-C stops a --jobs batch at once ---------------------------------------------------------


def test_ctrl_c_stops_a_jobs_batch_and_places_nothing_unfinished(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) once let the batch go
    on for ~15 s and write another output before exiting 130."""
    sources = tmp_path / "in"
    sources.mkdir()
    voice_file(sources / "a-short.wav", seconds=0.5)
    for index in range(3):
        long_take(sources / f"long{index}.wav", 5)
    folder = tmp_path / "out"
    folder.mkdir()
    process = subprocess.Popen([*ROOMGATE, "render", *sorted(map(str, sources.iterdir())), "-o", str(folder),
                                "--jobs", "2", *SMALL], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        while not (folder / "a-short.wav").exists():  # the short file is done; a long one is half-way
            if process.poll() is not None:
                pytest.fail(f"the batch ended (exit {process.returncode}) before the short file was done")
            time.sleep(0.005)
        finished = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        if finished != ["a-short.wav"]:
            pytest.skip(f"a long file was done as early as the short one ({finished}): no moment to test")
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
        _wait_until_gone(process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, err
    assert everything_in(folder) == ["a-short.wav"]


def _wait_until_gone(group: int) -> None:
    """Wait for every process of ``group`` (the batch's workers too) to end; fail after a minute."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail("the batch's worker processes were still running a minute after Ctrl-C")


def test_the_silence_floor_on_its_own() -> None:
    """The normalisation rule on its own: silence below -200 dBFS, else the gain to the target."""
    from roomgate.rig.normalize import SILENCE_DB, normalization_gain_db

    assert normalization_gain_db(-6.0, -1.0) == pytest.approx(5.0)
    assert normalization_gain_db(SILENCE_DB + 1, -1.0) == pytest.approx(-1.0 - SILENCE_DB - 1)
    with pytest.warns(RoomgateWarning, match="silence"):
        assert normalization_gain_db(-780.0, -1.0) == 0.0
    with pytest.warns(RoomgateWarning, match="no signal"):
        assert normalization_gain_db(-math.inf, -1.0) == 0.0
    for bad in (math.nan, math.inf):
        with pytest.raises(RoomgateError, match="finite"):
            normalization_gain_db(bad, -1.0)
