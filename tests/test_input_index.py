"""No output may be a file the command reads: the index of inputs every output is checked against."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roomgate.cli import common
from roomgate.cli.common import InputFile, InputIndex, check_not_an_input
from roomgate.errors import OutputError


def test_an_input_is_found_by_name_link_hard_link_and_dotted_path(tmp_path: Path) -> None:
    take = tmp_path / "take.wav"
    take.write_bytes(b"RIFF")
    (tmp_path / "soft.wav").symlink_to(take)
    os.link(take, tmp_path / "hard.wav")
    (tmp_path / "sub").mkdir()
    index = InputIndex([InputFile(take, "input"), InputFile(tmp_path / "hall.wav", "mics.far.ir")])
    for alias in (take, tmp_path / "soft.wav", tmp_path / "hard.wav", tmp_path / "sub" / ".." / "take.wav"):
        found = index.find(alias)
        assert found is not None and found.path == take, alias
    # A name that does not exist yet is still found by its path; another file is not.
    assert index.find(tmp_path / "hall.wav").role == "mics.far.ir"  # type: ignore[union-attr]
    (tmp_path / "other.wav").write_bytes(b"RIFF")
    assert index.find(tmp_path / "other.wav") is None
    assert index.find(tmp_path / "new.wav") is None


def test_the_message_names_the_role_of_the_input(tmp_path: Path) -> None:
    ir = tmp_path / "hall.wav"
    ir.write_bytes(b"RIFF")
    with pytest.raises(OutputError, match=r"--report .*hall.wav: is an input \(mics.far.ir\)"):
        check_not_an_input(ir, [tmp_path / "take.wav", InputFile(ir, "mics.far.ir")], "--report")
    check_not_an_input(tmp_path / "out.wav", [tmp_path / "take.wav", InputFile(ir, "mics.far.ir")])


def test_checking_many_outputs_looks_at_each_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of N files checks N outputs against N inputs: the index makes that 2N file lookups, not
    N squared (1,000 files took minutes before)."""
    inputs = [tmp_path / f"in{i}.wav" for i in range(200)]
    for path in inputs:
        path.write_bytes(b"RIFF")
    looked_up: list[Path] = []
    identity = common._identity
    monkeypatch.setattr(common, "_identity", lambda path: looked_up.append(path) or identity(path))
    index = InputIndex(inputs)
    for i in range(200):
        check_not_an_input(tmp_path / "out" / f"in{i}.wav", index)
    assert len(looked_up) == 400
