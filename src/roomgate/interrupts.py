"""SIGTERM and SIGHUP handled as Ctrl-C is, so that the same clean-up runs for all three.

Python turns SIGINT (Ctrl-C) into :class:`KeyboardInterrupt`, which unwinds the stack: every
``finally`` and context manager runs, partial outputs are removed. SIGTERM (``kill``, a closing
session manager, a job scheduler) and SIGHUP (a closed terminal) instead end the process at
once, leaving its temporary files behind. Inside :func:`interrupts_on_termination` they raise
:class:`Interrupted` (a KeyboardInterrupt) instead.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["TERMINATION_SIGNALS", "Interrupted", "exit_code", "interrupts_on_termination", "raise_interrupted"]

#: The signals handled like Ctrl-C (those the platform has).
TERMINATION_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop by a signal other than SIGINT; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """A signal handler: raise :class:`Interrupted`; a second signal while the first is being
    cleaned up after is ignored, so that the clean-up itself is not cut short."""
    for other in TERMINATION_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


def interrupt_behind(error: BaseException | None) -> KeyboardInterrupt | None:
    """The Ctrl-C (or SIGTERM, SIGHUP) ``error`` is, or that it was raised while handling.

    A library caught mid-way by the interrupt may raise its own error from its clean-up (tqdm,
    interrupted while taking its lock, fails to release it: ``RuntimeError``); the interrupt is
    then only the error's context, and must still be treated as an interrupt."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number (130 for Ctrl-C)."""
    return 128 + int(getattr(interrupt, "signum", signal.SIGINT))


@contextlib.contextmanager
def interrupts_on_termination() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread.
    Elsewhere than the main thread (where Python cannot set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    for signum in TERMINATION_SIGNALS:
        previous[signum] = signal.signal(signum, raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
