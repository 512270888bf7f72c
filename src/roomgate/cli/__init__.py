"""The ``roomgate`` command. The only package that prints or exits.

Each command lives in a module of its own (``add_parser`` and ``run``), built on the library's
public API. Errors a user can cause (a :class:`~roomgate.errors.RoomgateError`) become one line on
stderr and exit code 2, with no output file left behind; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from ..errors import RoomgateError
from . import analyze, demo, ir, live, mix, presets, render, studio
from .common import say, show_warning

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
        return int(args.run(args))
    except RoomgateError as error:
        say(f"roomgate {args.command}: error: {error}")
        return 2
    except KeyboardInterrupt:
        say("roomgate: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
