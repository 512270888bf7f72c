"""The ``roomgate`` command. The only package that prints or exits.

Each command lives in a module of its own (``add_parser`` and ``run``), built on the library's
public API. Errors a user can cause (a :class:`~roomgate.errors.RoomgateError`) become one line on
stderr and exit code 2, with no output file left behind; anything else is a bug and keeps its
traceback. Ctrl-C, SIGTERM and SIGHUP stop a command the same way (exit 128 + the signal's
number), removing what it had not finished.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from ..errors import RoomgateError
from ..interrupts import Interrupted, exit_code, interrupt_behind, interrupts_on_termination
from . import analyze, batch, demo, ir, live, mix, presets, render, studio
from .common import command_scope, say, show_warning

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(
        prog="roomgate",
        description="Tony Visconti's gated multi-microphone vocal rig from \"Heroes\" (Hansa, 1977): "
                    "mics at several distances in a large room, the far ones gated to open only as "
                    "the singer gets louder.",
    )
    parser.add_argument("--version", action="version", version=f"roomgate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo.add_parser(commands)
    render.add_parser(commands)
    batch.add_parser(commands)
    mix.add_parser(commands)
    ir.add_parser(commands)
    presets.add_parsers(commands)
    live.add_parser(commands)
    studio.add_parser(commands)
    analyze.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    warnings.showwarning = show_warning
    try:
        # SIGTERM and SIGHUP clean up as Ctrl-C does; a failing stdout is one line; a failed
        # command removes the folders it made and left empty.
        with interrupts_on_termination(), command_scope():
            return int(args.run(args))
    except RoomgateError as error:
        say(f"roomgate {args.command}: error: {_one_line(str(error))}")
        return 2
    except KeyboardInterrupt as interrupt:
        return _interrupted(interrupt)
    except Exception as error:  # an error raised while the interrupt unwound a library: still an interrupt
        behind = interrupt_behind(error)
        if behind is None:
            raise
        return _interrupted(behind)


def _interrupted(interrupt: KeyboardInterrupt) -> int:
    say(f"roomgate: interrupted ({interrupt})" if isinstance(interrupt, Interrupted) else "roomgate: interrupted")
    return exit_code(interrupt)


def _one_line(message: str) -> str:
    """An error message as one line (a message quoting a user's value may hold a line break)."""
    return " ".join(message.split("\n"))


if __name__ == "__main__":
    sys.exit(main())
