"""Batches: manifests, the journal, and the same renders on a real Dask cluster.

The cluster is a real ``LocalCluster`` of 2 worker processes on loopback, started once for the
module and shut down at its end; the command line runs as a subprocess, as a user runs it, and
reaches the cluster by its address (``--scheduler tcp://127.0.0.1:PORT``). The interrupted
client starts its own cluster (``local:2``) and is killed with SIGKILL.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from roomgate.batch import Journal, ManifestError, read_manifest, resolve_settings
from roomgate.batch.journal import JOURNAL_NAME

ROOMGATE = [sys.executable, "-m", "roomgate.cli"]
# A small, fast room (the heroes room itself is tested in test_rig).
SMALL = ["--set", "room.size_m=[8, 6, 3]", "--set", "room.rt60_s=0.3", "--set", "singer.position_m=[1.5, 3, 1.5]",
         "--set", "mics.mid.distance_m=2.5", "--set", "mics.far.distance_m=5.5"]
RATE_HZ = 16_000


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROOMGATE, *args], capture_output=True, text=True, cwd=cwd,
                          env=env or os.environ.copy(), timeout=600)


def take(path: Path, seed: int, seconds: float = 1.5) -> Path:
    """A sung-like tone swelling and fading, different for each seed: (N,) PCM_16 at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    envelope = np.clip(np.sin(np.pi * t / seconds), 0, 1) ** 2
    tone = 0.6 * envelope * np.sin(2 * np.pi * (150 + 10 * seed) * t) * (1 + 0.1 * rng.standard_normal(t.size))
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), tone.astype(np.float32), RATE_HZ, subtype="PCM_16")
    return path


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["input", "output", "preset", "set", "report"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def summary(folder: Path) -> dict[str, dict[str, str]]:
    """batch-summary.csv by output file name."""
    with open(folder / "batch-summary.csv", encoding="utf-8") as handle:
        return {Path(row["output"]).name: row for row in csv.DictReader(handle)}


def journal_lines(folder: Path) -> list[dict]:
    """The journal's complete lines (one being written may be torn)."""
    path = folder / JOURNAL_NAME
    entries = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a real LocalCluster: 2 single-threaded worker processes, on loopback."""
    from roomgate.batch.executors import start_local_cluster

    cluster = start_local_cluster(2)  # LocalCluster(n_workers=2, processes=True, host="127.0.0.1", ...)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


# -- on the cluster ---------------------------------------------------------------------------------


def test_the_cluster_renders_the_same_bytes_as_one_process(tmp_path: Path, scheduler: str) -> None:
    """With local:2 the command starts and stops its own LocalCluster; with an address it joins
    a running one (the module's)."""
    inputs = [str(take(tmp_path / f"take{i}.wav", seed=i)) for i in range(3)]
    names = ["take0.wav", "take1.wav", "take2.wav"]
    (tmp_path / "one").mkdir()
    local = run("render", *inputs, "-o", str(tmp_path / "one"), "--jobs", "1", *SMALL)
    assert local.returncode == 0, local.stderr
    for index, address in enumerate(["local:2", scheduler]):
        folder = tmp_path / f"cluster{index}"
        folder.mkdir()
        remote = run("render", *inputs, "-o", str(folder), "--scheduler", address, *SMALL)
        assert remote.returncode == 0, remote.stderr
        assert "rendered 3 of 3 files" in remote.stdout and f"on {address}" in remote.stdout
        assert files_under(folder) == names  # nothing else left behind
        for name in names:
            assert (folder / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), (address, name)


def test_manifest_overrides_reach_their_own_files(tmp_path: Path, scheduler: str) -> None:
    for i, name in enumerate(["plain", "stereo", "far"]):
        take(tmp_path / "takes" / f"{name}.wav", seed=i)
    manifest = write_manifest(tmp_path / "takes" / "manifest.csv", [
        {"input": "plain.wav"},
        {"input": "stereo.wav", "output": "wide/stereo-mix.wav", "set": "output.channels=2; mics.mid.pan=-0.5",
         "report": "wide/stereo.json"},
        {"input": "far.wav", "set": "mics.far.gate.threshold_db=-90"},
    ])
    out = tmp_path / "renders"
    result = run("batch", str(manifest), "-o", str(out), "--scheduler", scheduler, *SMALL)
    assert result.returncode == 0, result.stderr
    assert files_under(out) == [JOURNAL_NAME, "batch-summary.csv", "far.wav", "plain.wav", "wide",
                                "wide/stereo-mix.wav", "wide/stereo.json"]
    assert soundfile.info(str(out / "plain.wav")).channels == 1
    assert soundfile.info(str(out / "wide" / "stereo-mix.wav")).channels == 2
    assert json.loads((out / "wide" / "stereo.json").read_text())["output"]["channels"] == 2
    # Each file is what a single render with the same settings gives, and no other file's.
    for name, extra, target in [("stereo", ["--set", "output.channels=2", "--set", "mics.mid.pan=-0.5"],
                                 out / "wide" / "stereo-mix.wav"),
                                ("far", ["--set", "mics.far.gate.threshold_db=-90"], out / "far.wav")]:
        reference = tmp_path / f"{name}-reference.wav"
        single = run("render", str(tmp_path / "takes" / f"{name}.wav"), "-o", str(reference), *SMALL, *extra)
        assert single.returncode == 0, single.stderr
        assert target.read_bytes() == reference.read_bytes(), name
    rows = summary(out)
    assert float(rows["far.wav"]["open_far"]) == pytest.approx(1.0, abs=0.02)  # a gate at -90 dBFS stays open
    assert float(rows["plain.wav"]["open_far"]) < 0.9
    assert {row["status"] for row in rows.values()} == {"done"}


def test_a_failing_file_is_reported_while_the_others_finish(tmp_path: Path, scheduler: str) -> None:
    take(tmp_path / "good1.wav", seed=1)
    take(tmp_path / "good2.wav", seed=2)
    (tmp_path / "broken.wav").write_bytes(b"not audio at all" * 64)
    manifest = write_manifest(tmp_path / "m.csv", [{"input": "good1.wav"}, {"input": "broken.wav"},
                                                   {"input": "good2.wav"}])
    out = tmp_path / "out"
    result = run("batch", str(manifest), "-o", str(out), "--scheduler", scheduler, *SMALL)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "1 of 3 files failed" in result.stderr
    reasons = [line for line in result.stderr.splitlines() if line.startswith("roomgate: error:")]
    assert len(reasons) == 1 and "broken.wav" in reasons[0] and "not a readable audio file" in reasons[0]
    assert files_under(out) == [JOURNAL_NAME, "batch-summary.csv", "good1.wav", "good2.wav"]
    rows = summary(out)
    assert rows["broken.wav"]["status"] == "failed" and "not a readable audio file" in rows["broken.wav"]["error"]
    assert rows["good1.wav"]["status"] == rows["good2.wav"]["status"] == "done"
    assert [Path(e["output"]).name for e in journal_lines(out)].count("broken.wav") == 0


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(tmp_path: Path, scheduler: str) -> None:
    for i in range(3):
        take(tmp_path / f"t{i}.wav", seed=i)
    rows = [{"input": f"t{i}.wav"} for i in range(3)]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    first = run("batch", str(manifest), "-o", str(out), "--scheduler", scheduler, *SMALL)
    assert first.returncode == 0, first.stderr
    written = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}

    again = run("batch", str(manifest), "-o", str(out), "--scheduler", scheduler, *SMALL)
    assert again.returncode == 0, again.stderr
    assert "rendered 0, skipped 3" in again.stdout
    assert {row["status"] for row in summary(out).values()} == {"skipped"}
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")} == written
    assert len(journal_lines(out)) == 3
    assert float(summary(out)["t0.wav"]["open_mid"]) > 0  # the figures of the run that rendered it

    # A changed input, a changed row and a removed output are redone; the rest is not.
    take(tmp_path / "t0.wav", seed=10)
    rows[1]["set"] = "mics.mid.pan=0.3"
    write_manifest(manifest, rows)
    (out / "t2.wav").unlink()
    third = run("batch", str(manifest), "-o", str(out), "--scheduler", scheduler, *SMALL)
    assert third.returncode == 0, third.stderr
    assert {name: row["status"] for name, row in summary(out).items()} == {"t0.wav": "done", "t1.wav": "done",
                                                                           "t2.wav": "done"}
    fourth = run("batch", str(manifest), "-o", str(out), "--jobs", "2", *SMALL, "--force")
    assert fourth.returncode == 0 and "rendered 3, skipped 0" in fourth.stdout, fourth.stderr


def test_an_interrupted_client_is_resumed_to_completion(tmp_path: Path, scheduler: str) -> None:
    """The client (with its own local:2 cluster) is killed with SIGKILL once the journal shows a
    finished file; the rerun renders only what the journal lacks, and every output is whole."""
    import psutil

    count = 10
    inputs = [take(tmp_path / "takes" / f"take{i:02d}.wav", seed=i, seconds=2.0) for i in range(count)]
    manifest = write_manifest(tmp_path / "takes" / "m.csv", [{"input": p.name} for p in inputs])
    out = tmp_path / "out"
    client = subprocess.Popen([*ROOMGATE, "batch", str(manifest), "-o", str(out), "--scheduler", "local:2", *SMALL],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not journal_lines(out) and client.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.poll() is None, "the batch ended before it could be interrupted"
    workers = psutil.Process(client.pid).children(recursive=True)
    client.send_signal(signal.SIGKILL)
    client.wait()
    psutil.wait_procs(workers, timeout=60)  # its cluster dies with it
    finished_before = {e["output"] for e in journal_lines(out)}
    assert 1 <= len(finished_before) < count, "the client must be killed in the middle of the batch"

    rerun = run("batch", str(manifest), "-o", str(out), "--scheduler", scheduler, *SMALL)
    assert rerun.returncode == 0, rerun.stderr
    statuses = {name: row["status"] for name, row in summary(out).items()}
    assert {name for name, status in statuses.items() if status == "skipped"} == finished_before
    assert set(statuses.values()) <= {"done", "skipped"} and len(statuses) == count
    outputs = [e["output"] for e in journal_lines(out)]
    assert sorted(outputs) == sorted(f"take{i:02d}.wav" for i in range(count))  # each rendered once
    assert files_under(out) == sorted([JOURNAL_NAME, "batch-summary.csv", *outputs])  # no partial files
    reference = tmp_path / "reference.wav"
    single = run("render", str(inputs[-1]), "-o", str(reference), *SMALL)
    assert single.returncode == 0, single.stderr
    assert (out / inputs[-1].name).read_bytes() == reference.read_bytes()
    for name in outputs:
        assert soundfile.info(str(out / name)).frames > 2 * RATE_HZ  # whole: the take and its room tail


def test_file_urls_in_and_out(tmp_path: Path, scheduler: str) -> None:
    source = take(tmp_path / "in" / "take.wav", seed=3)
    (tmp_path / "renders").mkdir()
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"input": source.as_uri(),
                                    "output": (tmp_path / "renders" / "take-url.wav").as_uri(),
                                    "report": (tmp_path / "renders" / "take-url.json").as_uri()}) + "\n")
    result = run("batch", str(manifest), "-o", str(tmp_path / "batch"), "--scheduler", scheduler, *SMALL)
    assert result.returncode == 0, result.stderr
    plain = run("render", str(source), "-o", str(tmp_path / "plain.wav"), *SMALL)
    assert plain.returncode == 0, plain.stderr
    assert (tmp_path / "renders" / "take-url.wav").read_bytes() == (tmp_path / "plain.wav").read_bytes()
    assert files_under(tmp_path / "renders") == ["take-url.json", "take-url.wav"]
    assert json.loads((tmp_path / "renders" / "take-url.json").read_text())["sample_rate"] == RATE_HZ


# -- without a cluster ------------------------------------------------------------------------------


def test_bad_rows_are_all_reported_by_line_before_any_work(tmp_path: Path) -> None:
    take(tmp_path / "good.wav", seed=1)
    manifest = write_manifest(tmp_path / "m.csv", [
        {"input": "good.wav"},                                   # line 2
        {"input": "missing.wav"},                                # line 3
        {"input": "good.wav", "preset": "no-such-preset", "output": "other.wav"},  # line 4
        {"input": "good.wav", "set": "room.rt60_s=-1", "output": "third.wav"},    # line 5
        {"input": "good.wav"},                                   # line 6: same output as line 2
        {"input": "", "preset": "heroes-1977"},                  # line 7: no input
    ])
    out = tmp_path / "out"
    result = run("batch", str(manifest), "-o", str(out), *SMALL)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(" line ")[1].split(":")[0] for line in lines] == ["3", "4", "5", "7", "6"], lines
    assert "missing.wav" in lines[0] and "no-such-preset" in lines[1] and "rt60_s" in lines[2]
    assert "also written by line 2" in lines[4]
    assert not out.exists() or files_under(out) == []


def test_json_lines_manifest_and_defaults(tmp_path: Path) -> None:
    take(tmp_path / "a.flac", seed=1)
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text("\n".join([
        json.dumps({"input": "a.flac"}),
        "",
        json.dumps({"input": "a.flac", "output": "b.wav", "set": ["output.channels=2", "mics.mid.pan=0.5"]}),
        json.dumps({"input": "a.flac", "output": "c.wav", "report": "c.json", "preset": "heroes-1977"}),
        json.dumps({"input": "a.flac", "output": "d.wav", "preset": "my-hall.toml"}),
    ]) + "\n")
    from roomgate.config import builtin_presets

    (tmp_path / "my-hall.toml").write_bytes(builtin_presets()["heroes-1977"].read_bytes())
    rows = read_manifest(manifest, str(tmp_path / "out"), preset="heroes-1977", overrides=SMALL[1::2], extension=None)
    assert [row.line for row in rows] == [1, 3, 4, 5]
    assert rows[3].settings.source == str(tmp_path / "my-hall.toml")  # next to the manifest
    assert rows[0].output == str(tmp_path / "out" / "a.flac")  # the input's stem and type, in DIR
    assert rows[1].settings.table["output"]["channels"] == 2
    assert rows[1].settings.digest != rows[0].settings.digest == rows[2].settings.digest
    assert rows[2].report == str(tmp_path / "out" / "c.json") and rows[0].report is None
    manifest.write_text(json.dumps({"input": "a.flac", "gain": 3}) + "\n" + "[1, 2]\n")
    with pytest.raises(ManifestError) as caught:
        read_manifest(manifest, str(tmp_path / "out"), preset="heroes-1977")
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 1", "line 2"]
    assert "unknown key(s) gain" in caught.value.problems[0]


def test_csv_header_must_name_known_columns(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,out\na.wav,b.wav\n")
    with pytest.raises(ManifestError, match="line 1: expected a header"):
        read_manifest(manifest, str(tmp_path), preset="heroes-1977")


def test_journal_ignores_a_torn_line_and_keys_outputs_by_folder(tmp_path: Path) -> None:
    from roomgate.batch import RenderTask, TaskResult

    settings = resolve_settings("heroes-1977", [])
    task = RenderTask("in.wav", str(tmp_path / "out.wav"), settings)
    with Journal(tmp_path / JOURNAL_NAME) as journal:
        assert journal.done_sha256(task) is None
        journal.record(task, TaskResult("in.wav", task.output, "done", 1.0, "abc", 2.0, {"close": 1.0}))
    with open(tmp_path / JOURNAL_NAME, "a") as handle:
        handle.write('{"output": "torn.wav", "inp')  # a client killed while writing
    with Journal(tmp_path / JOURNAL_NAME) as journal:
        assert journal.done_sha256(task) == "abc"
        assert journal.entry(task.output) is not None and journal.entry(task.output)["output"] == "out.wav"
        other = RenderTask("in.wav", task.output, settings, subtype="PCM_24")
        assert journal.done_sha256(other) is None  # other settings: not done
        with pytest.raises(OSError, match="another roomgate batch"):
            Journal(tmp_path / JOURNAL_NAME).__enter__()


def test_memory_urls_through_a_task(tmp_path: Path) -> None:
    """A URL that is not a local path: the task downloads the input, renders locally and uploads
    the output under a temporary name before moving it into place (in this process: memory://
    is per process)."""
    import fsspec

    from roomgate.batch import RenderTask, run_task
    from roomgate.batch.locations import remove_empty_staging

    source = take(tmp_path / "take.wav", seed=4)
    memory = fsspec.filesystem("memory")
    memory.pipe("/takes/take.wav", source.read_bytes())
    settings = resolve_settings("heroes-1977", SMALL[1::2])
    result = run_task(RenderTask("memory://takes/take.wav", "memory://renders/take.wav", settings,
                                 report="memory://renders/take.json"))
    assert result.status == "done", result.error
    local = run_task(RenderTask(str(source), str(tmp_path / "local.wav"), settings))
    assert memory.cat("/renders/take.wav") == (tmp_path / "local.wav").read_bytes()
    remove_empty_staging("memory://renders")  # as the batch does once every task is over
    assert sorted(memory.ls("/renders", detail=False)) == ["/renders/take.json", "/renders/take.wav"]
    assert result.input_sha256 == local.input_sha256 and result.open_fraction == local.open_fraction
    assert dict(result.output_sha256).keys() == {"memory://renders/take.wav", "memory://renders/take.json"}
    again = RenderTask("memory://takes/take.wav", "memory://renders/take.wav", settings,
                       report="memory://renders/take.json", skip_if_sha256=result.input_sha256,
                       skip_if_outputs=result.output_sha256)
    assert run_task(again).status == "skipped"
    memory.pipe("/renders/take.json", b"{}")  # an output changed since: the file is rendered again
    assert run_task(again).status == "done"
    missing = run_task(RenderTask("memory://takes/nothing.wav", "memory://renders/x.wav", settings))
    assert missing.status == "failed" and missing.error == "memory://takes/nothing.wav: no such file"


def test_scheduler_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    source = take(tmp_path / "a.wav", seed=1)
    code = ("import sys; sys.modules['distributed'] = None; from roomgate.cli import main; "
            f"sys.exit(main(['render', {str(source)!r}, '-o', {str(tmp_path / 'b.wav')!r}, '--scheduler', 'local:2']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "roomgate render: error: --scheduler needs the 'dask' extra (dask.distributed and fsspec): "
        "pip install 'roomgate[dask]' (distributed is missing)"]
    assert not (tmp_path / "b.wav").exists()


@pytest.mark.parametrize("address", ["local:0", "localhost:8786", "nowhere.json"])
def test_a_bad_scheduler_address_is_one_line(tmp_path: Path, address: str) -> None:
    source = take(tmp_path / "a.wav", seed=1)
    result = run("render", str(source), "-o", str(tmp_path / "b.wav"), "--scheduler", address)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"--scheduler {address}" in result.stderr and "Traceback" not in result.stderr


def test_help(tmp_path: Path) -> None:
    result = run("batch", "-h")
    assert result.returncode == 0 and "MANIFEST" in result.stdout and "--scheduler" in result.stdout
    assert "--scheduler" in run("render", "-h").stdout
