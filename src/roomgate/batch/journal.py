"""The journal of a batch: which outputs are finished, from which input bytes and settings.

A JSON Lines file (``DIR/.roomgate-journal.jsonl`` by default), appended by the client as each
file finishes and flushed to disk (``fsync``) line by line, so a client killed at any moment
loses at most the line it was writing (a torn last line is ignored on reading). One line::

    {"output": "a.wav", "input": "/takes/a.wav", "input_sha256": "...",
     "settings_sha256": "...", "status": "done", "seconds": 1.93,
     "open_fraction": {"close": 1.0, "mid": 0.34, "far": 0.1}, "finished": "2026-...Z"}

Only finished outputs are recorded; the latest line for an output wins. A rerun skips a file
whose input still has the recorded digest, whose settings digest is unchanged and whose outputs
all exist (the worker checks, as it is the one that sees the files).

While a batch runs it holds an exclusive lock on its journal (``flock``, where the system has
it), so two batches never write into the same folder at once, and what a killed run left in the
``.roomgate-partial`` staging folders can be swept safely.
"""

from __future__ import annotations

import contextlib
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
        self._handle: IO[str] | None = None

    def __enter__(self) -> Journal:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a+", encoding="utf-8")
        except OSError as error:
            raise OutputError(f"{self.path}: cannot write the batch journal ({error.strerror})") from None
        _lock(self._handle, self.path)
        self._handle.seek(0)
        for line in self._handle:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("status") == "done" and isinstance(entry.get("output"), str):
                    self.entries[entry["output"]] = entry
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
            "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        self._handle.write(json.dumps(entry) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.entries[key] = entry


def _lock(handle: IO[str], path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; one batch per folder is then the user's care
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OutputError(f"{path}: another roomgate batch is running on this folder (its journal is locked)") from None
