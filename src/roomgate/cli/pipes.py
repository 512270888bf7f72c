"""``-`` as a file: audio from stdin, a WAV to stdout, so roomgate sits in a shell pipeline
(``sox take.flac -t wav - | roomgate render - -o - | sox -t wav - out.mp3``).

A render reads its take twice (the thresholds are fitted to it first) and a WAV header holds the
length, so neither end can be streamed: stdin is spooled to a temporary file first, and the output
is rendered to one and then copied to stdout. While the audio goes to stdout, everything the
command would print there goes to stderr.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import AudioInputError, OutputError, RoomgateError

#: How the command names a pipe in its messages.
STDIN_NAME = "stdin"
STDOUT_NAME = "stdout"


@contextlib.contextmanager
def piped_input(text: str) -> Iterator[Path]:
    """The input's path: ``text`` itself, or for ``-`` a temporary copy of stdin (removed after).
    Errors about the copy name ``stdin``, not the temporary file."""
    if text != "-":
        yield Path(text)
        return
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        raise AudioInputError("-: stdin is a terminal; pipe audio into it, e.g. sox take.flac -t wav - | "
                              "roomgate render - -o out.wav")
    with tempfile.TemporaryDirectory(prefix="roomgate-stdin-") as folder:
        path = Path(folder) / STDIN_NAME
        with open(path, "wb") as handle:
            shutil.copyfileobj(stdin.buffer, handle, 1 << 20)
        if path.stat().st_size == 0:
            raise AudioInputError("-: stdin held no data; expected audio (WAV, FLAC, ...)")
        try:
            yield path
        except RoomgateError as error:
            raise type(error)(str(error).replace(str(path), STDIN_NAME)) from None


@contextlib.contextmanager
def piped_output(text: str) -> Iterator[tuple[Path, str]]:
    """``(path to write, name to show)``: ``text`` itself, or for ``-`` a temporary WAV that is
    copied to stdout once the body has written it (stdout's prints go to stderr meanwhile)."""
    if text != "-":
        yield Path(text), text
        return
    stdout = sys.stdout
    if stdout is None or stdout.isatty():
        raise OutputError("-o -: stdout is a terminal; pipe it on (roomgate render IN -o - | sox -t wav - out.flac) "
                          "or name an output file")
    with tempfile.TemporaryDirectory(prefix="roomgate-stdout-") as folder:
        path = Path(folder) / f"{STDOUT_NAME}.wav"
        with contextlib.redirect_stdout(sys.stderr):
            yield path, f"{STDOUT_NAME} (WAV)"
        try:
            stdout.flush()
            with open(path, "rb") as handle:
                shutil.copyfileobj(handle, stdout.buffer, 1 << 20)
            stdout.buffer.flush()
        except BrokenPipeError:
            raise OutputError("-o -: the pipe closed before all the audio was written") from None
        except OSError as error:
            raise OutputError(f"-o -: cannot write the audio to stdout ({error.strerror or error})") from None
