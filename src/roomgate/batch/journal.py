"""The journal of a batch: which outputs are finished, from which input bytes and settings.

A JSON Lines file (``DIR/.roomgate-journal.jsonl`` by default), appended by the client as each
file finishes and flushed to disk (``fsync``) line by line, so a client killed at any moment
loses at most the line it was writing (a torn last line is ignored on reading). One line::

    {"output": "a.wav", "input": "/takes/a.wav", "input_sha256": "...",
     "settings_sha256": "...", "status": "done", "seconds": 1.93,
     "open_fraction": {"close": 1.0, "mid": 0.34, "far": 0.1},
     "outputs": {"a.wav": "<sha256>", "a.json": "<sha256>"}, "finished": "2026-...Z"}

Only finished outputs are recorded; the latest line for an output wins. A rerun skips a file
whose input still has the recorded digest, whose settings digest is unchanged and whose outputs
all still have the sha256 recorded when they were written (the worker checks, as it is the one
that sees the files); an output changed or removed since is rendered again.

While a batch runs it holds an exclusive lock on its journal (``flock``, where the system has
it), so two batches never write into the same folder at once, and what a killed run left in the
``.roomgate-partial`` staging folders can be swept safely.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError
from .locations import local_path
from .task import RenderTask, TaskResult

__all__ = ["JOURNAL_NAME", "Journal", "task_settings_sha256"]

JOURNAL_NAME = ".roomgate-journal.jsonl"


def task_settings_sha256(task: RenderTask) -> str:
    """The settings digest of a task: its rig settings (preset, overrides, roomgate version), the
    output format and the side files asked for."""
    parts = [task.settings.digest, task.subtype or "", task.report or "", task.plot or ""]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


class Journal:
    """The journal file of a batch: read what is done, append what finishes (use as a context
    manager: it holds the lock while open)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self._handle: IO[bytes] | None = None

    def __enter__(self) -> Journal:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a+b")
        except OSError as error:
            raise OutputError(f"{self.path}: cannot write the batch journal ({error.strerror})") from None
        _lock(self._handle, self.path)
        try:
            self._handle.seek(0)
            self.entries, torn_at = _read_entries(self._handle.read(), self.path)
            if torn_at is not None:  # a line a killed run was writing: drop it, so the next one starts clean
                self._handle.truncate(torn_at)
        except BaseException:
            self._handle.close()
            self._handle = None
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()  # releases the lock
            self._handle = None

    def key(self, output: str) -> str:
        """How the journal names an output: a local one relative to the journal's folder (so the
        folder can move, and the batch be rerun from anywhere), a URL as itself."""
        path = local_path(output)
        if path is None:
            return output
        folder = self.path.parent.resolve()
        absolute = path.resolve()
        return absolute.relative_to(folder).as_posix() if absolute.is_relative_to(folder) else str(absolute)

    def done_sha256(self, task: RenderTask) -> str | None:
        """The input digest this output was finished from, with the same settings (else None)."""
        entry = self.entries.get(self.key(task.output))
        if entry is None or entry.get("settings_sha256") != task_settings_sha256(task):
            return None
        digest = entry.get("input_sha256")
        return digest if isinstance(digest, str) else None

    def done_outputs(self, task: RenderTask) -> tuple[tuple[str, str], ...]:
        """(location, sha256) of each of the task's outputs as the journal recorded them written
        (empty for a line from before digests were recorded: such a file is redone)."""
        entry = self.entries.get(self.key(task.output)) or {}
        recorded = entry.get("outputs")
        if not isinstance(recorded, dict):
            return ()
        found = [(o, recorded.get(self.key(o))) for o in task.outputs]
        return tuple((o, d) for o, d in found if isinstance(d, str))

    def entry(self, output: str) -> dict[str, Any] | None:
        return self.entries.get(self.key(output))

    def record(self, task: RenderTask, result: TaskResult) -> None:
        """Append a finished output, on disk before this returns."""
        assert self._handle is not None, "the journal is not open"
        key = self.key(task.output)
        entry: dict[str, Any] = {
            "output": key, "input": task.input, "input_sha256": result.input_sha256,
            "settings_sha256": task_settings_sha256(task), "status": "done", "seconds": round(result.seconds, 3),
            "open_fraction": result.open_fraction,
            "outputs": {self.key(location): digest for location, digest in result.output_sha256},
            "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        self._handle.write((json.dumps(entry) + "\n").encode("utf-8"))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.entries[key] = entry


def _read_entries(data: bytes, path: Path) -> tuple[dict[str, dict[str, Any]], int | None]:
    """The done entries of a journal's bytes (the latest per output), and where a torn last line
    starts (None if there is none). Anything else than journal lines is refused: roomgate never
    appends to a file that is not its journal."""
    entries: dict[str, dict[str, Any]] = {}
    offset = 0
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        if not line.endswith(b"\n") and line.lstrip().startswith(b"{"):
            return entries, offset
        if not line.strip():
            offset += len(line)
            continue  # torn: the run writing it was killed
        entry = _journal_line(line)
        if entry is None:
            raise OutputError(f"{path}: not a roomgate batch journal (line {number} is not a journal entry); "
                              "give another --journal file")
        if entry.get("status") == "done":
            entries[entry["output"]] = entry
        offset += len(line)
    return entries, None


def _journal_line(line: bytes) -> dict[str, Any] | None:
    """One journal line as a dict with ``output`` and ``status``; None if it is not one."""
    try:
        entry = json.loads(line.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("output"), str) or "status" not in entry:
        return None
    return entry


def _lock(handle: IO[bytes], path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; one batch per folder is then the user's care
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OutputError(f"{path}: another roomgate batch is running on this folder (its journal is locked)") from None
