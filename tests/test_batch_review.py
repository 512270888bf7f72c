"""What a review of ``roomgate batch`` and ``roomgate render`` (several inputs) found: every file a
command reads is an input, and no output (audio, report, plot, summary, journal) may be one; a
rerun redoes a file whose outputs changed; every row is checked before any work.

The command line runs as a subprocess, as a user runs it (helpers from test_batch)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from roomgate.batch import Journal
from roomgate.batch.journal import JOURNAL_NAME
from roomgate.errors import OutputError
from test_batch import SMALL, run, take, write_manifest


def refused(result, *words: str) -> None:  # type: ignore[no-untyped-def]
    """Exit 2, one error line naming ``words``, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors and all(w in result.stderr for w in words), result.stderr


# -- 1. the manifest is an input ----------------------------------------------------------------------


def test_a_report_over_the_manifest_is_refused(tmp_path: Path) -> None:
    take(tmp_path / "verse.wav", seed=1)
    manifest = tmp_path / "m.json"
    text = json.dumps({"input": "verse.wav", "report": str(manifest)}) + "\n"
    manifest.write_text(text)
    result = run("batch", str(manifest), "-o", str(tmp_path / "out"), *SMALL)
    refused(result, "m.json", "line 1", "the manifest")
    assert manifest.read_text() == text
    assert not (tmp_path / "out").exists()  # nothing done


def test_an_output_hard_linked_to_the_manifest_is_refused(tmp_path: Path) -> None:
    take(tmp_path / "verse.wav", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    manifest = write_manifest(tmp_path / "m.csv", [{"input": "verse.wav", "output": "verse.csv.wav"}])
    os.link(manifest, out / "verse.csv.wav")
    refused(run("batch", str(manifest), "-o", str(out), *SMALL), "verse.csv.wav", "the manifest")


def test_an_output_over_a_preset_file_a_row_names_is_refused(tmp_path: Path) -> None:
    take(tmp_path / "verse.wav", seed=1)
    from roomgate.config.presets import preset_path

    preset = tmp_path / "mine.toml"
    preset.write_text(preset_path("heroes-1977").read_text())
    os.symlink(preset, tmp_path / "mine.json")  # the report, a symbolic link to the preset file
    manifest = write_manifest(tmp_path / "m.csv", [{"input": "verse.wav", "preset": "mine.toml",
                                                    "report": str(tmp_path / "mine.json")}])
    before = preset.read_text()
    refused(run("batch", str(manifest), "-o", str(tmp_path / "out"), *SMALL), "mine.json", "the preset")
    assert preset.read_text() == before


# -- 2. the journal is neither an input nor an output, and is a journal ------------------------------


@pytest.mark.parametrize("which", ["manifest", "input", "output", "summary"])
def test_a_journal_that_is_an_input_or_an_output_is_refused(tmp_path: Path, which: str) -> None:
    take(tmp_path / "verse.wav", seed=1)
    manifest = write_manifest(tmp_path / "m.csv", [{"input": "verse.wav"}])
    out = tmp_path / "out"
    journal = {"manifest": manifest, "input": tmp_path / "verse.wav", "output": out / "verse.wav",
               "summary": out / "batch-summary.csv"}[which]
    before = {p: p.read_bytes() for p in (manifest, tmp_path / "verse.wav")}
    result = run("batch", str(manifest), "-o", str(out), "--journal", str(journal), *SMALL)
    refused(result, "--journal", journal.name)
    assert {p: p.read_bytes() for p in before} == before
    assert not out.exists()


def test_a_file_that_is_not_a_journal_is_refused_and_left_alone(tmp_path: Path) -> None:
    take(tmp_path / "verse.wav", seed=1)
    manifest = write_manifest(tmp_path / "m.csv", [{"input": "verse.wav"}])
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = run("batch", str(manifest), "-o", str(tmp_path / "out"), "--journal", str(notes), *SMALL)
    refused(result, "notes.txt", "not a roomgate batch journal")
    assert notes.read_text() == "my notes\n"
    binary = tmp_path / "binary.dat"
    binary.write_bytes(b"\xff\xfe\x00RIFF\n")
    with pytest.raises(OutputError, match="not a roomgate batch journal"):
        Journal(binary).__enter__()


def test_a_torn_last_line_is_dropped_so_the_next_line_reads_back(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    line = {"output": "a.wav", "status": "done", "input_sha256": "x"}
    path.write_text(json.dumps(line) + "\n" + '{"output": "b.w')
    with Journal(path) as journal:
        assert set(journal.entries) == {"a.wav"}
    assert path.read_text() == json.dumps(line) + "\n"


# -- 3. a rerun redoes a file whose outputs changed ----------------------------------------------------


def test_a_rerun_redoes_a_file_whose_outputs_changed(tmp_path: Path) -> None:
    take(tmp_path / "verse.wav", seed=1)
    manifest = write_manifest(tmp_path / "m.csv", [{"input": "verse.wav", "report": "verse.json"}])
    out = tmp_path / "out"

    def batch() -> str:
        result = run("batch", str(manifest), "-o", str(out), *SMALL)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "rendered 1, skipped 0" in batch()
    audio, report = (out / "verse.wav").read_bytes(), (out / "verse.json").read_bytes()
    assert "rendered 0, skipped 1" in batch()
    (out / "verse.wav").write_bytes(audio[:1000])  # truncated after the run
    assert "rendered 1, skipped 0" in batch()
    assert (out / "verse.wav").read_bytes() == audio
    (out / "verse.json").write_text("{}\n")  # a report overwritten
    assert "rendered 1, skipped 0" in batch()
    assert json.loads((out / "verse.json").read_text()) == json.loads(report)
    assert "rendered 0, skipped 1" in batch()


# -- 4. every row's subtype is checked before any work -------------------------------------------------


def test_a_subtype_the_format_cannot_hold_is_refused_before_any_work(tmp_path: Path) -> None:
    take(tmp_path / "a.wav", seed=1)
    take(tmp_path / "b.wav", seed=2)
    manifest = write_manifest(tmp_path / "m.csv", [{"input": "a.wav"}, {"input": "b.wav", "output": "b.wav"}])
    out = tmp_path / "out"
    result = run("batch", str(manifest), "-o", str(out), "--subtype", "FLOAT", "--ext", "flac", *SMALL)
    refused(result, "line 2", "FLOAT", "a.flac")
    assert "line 3" not in result.stderr  # b.wav can hold FLOAT
    assert not out.exists()


# -- 5. rows: no '..' out of DIR, no silently dropped row ----------------------------------------------


def test_a_relative_output_or_report_may_not_climb_out_of_dir(tmp_path: Path) -> None:
    take(tmp_path / "verse.wav", seed=1)
    manifest = write_manifest(tmp_path / "m.csv", [{"input": "verse.wav", "output": "../../escaped.wav"},
                                                   {"input": "verse.wav", "output": "v2.wav",
                                                    "report": "sub/../../r.json"}])
    out = tmp_path / "deep" / "out"
    result = run("batch", str(manifest), "-o", str(out), *SMALL)
    refused(result, "line 2", "line 3", "escaped.wav", "r.json", "..")
    assert not (tmp_path / "escaped.wav").exists() and not out.exists()


def test_a_row_with_no_input_is_a_bad_row(tmp_path: Path) -> None:
    take(tmp_path / "verse.wav", seed=1)
    manifest = tmp_path / "m.csv"
    manifest.write_text("input,output,preset,set,report\nverse.wav,,,,\n,,,,\n\n")
    result = run("batch", str(manifest), "-o", str(tmp_path / "out"), *SMALL)
    refused(result, "line 3", "input: empty")
    assert "line 4" not in result.stderr  # a blank line is no row


# -- 6. render: reports and plots of inputs with the same stem ----------------------------------------


@pytest.mark.parametrize("option", ["--report", "--plot"])
def test_render_refuses_two_inputs_whose_reports_or_plots_clash(tmp_path: Path, option: str) -> None:
    if option == "--plot":
        pytest.importorskip("matplotlib")
    first = take(tmp_path / "a" / "v.wav", seed=1)
    second = tmp_path / "b" / "v.flac"
    second.parent.mkdir()
    import soundfile

    data, rate = soundfile.read(str(first))
    soundfile.write(str(second), data, rate)
    folder = tmp_path / "col"
    folder.mkdir()
    result = run("render", str(first), str(second), "-o", str(folder), option, str(folder), *SMALL)
    refused(result, option, "v")
    assert list(folder.iterdir()) == []
