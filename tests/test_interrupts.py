"""An interrupt stays an interrupt, even when a library's clean-up raises its own error over it."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from roomgate import cli
from roomgate.interrupts import Interrupted, exit_code, interrupt_behind


def _raised_while_interrupted(interrupt: KeyboardInterrupt) -> RuntimeError:
    """What tqdm does when Ctrl-C lands while it takes its lock: its clean-up fails on the way out."""
    try:
        try:
            raise interrupt
        finally:
            raise RuntimeError("cannot release un-acquired lock")
    except RuntimeError as error:
        return error


def test_the_interrupt_behind_an_error_is_found() -> None:
    assert interrupt_behind(None) is None
    assert interrupt_behind(ValueError("no")) is None
    plain = KeyboardInterrupt()
    assert interrupt_behind(plain) is plain
    terminated = Interrupted(signal.SIGTERM)
    found = interrupt_behind(_raised_while_interrupted(terminated))
    assert found is terminated and exit_code(found) == 128 + signal.SIGTERM
    try:  # further down the chain: an error raised from the error that the interrupt caused
        raise OSError("closing") from _raised_while_interrupted(plain)
    except OSError as error:
        assert interrupt_behind(error) is plain


def test_the_command_exits_as_interrupted_not_with_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from roomgate.cli import presets

    def interrupted_in_a_library(args: Any) -> int:
        raise _raised_while_interrupted(KeyboardInterrupt())

    monkeypatch.setattr(presets, "run_presets", interrupted_in_a_library)  # the parser is built by main
    assert cli.main(["presets"]) == 130
    assert capsys.readouterr().err.strip() == "roomgate: interrupted"


def test_any_other_error_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    from roomgate.cli import presets

    def broken(args: Any) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(presets, "run_presets", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["presets"])
