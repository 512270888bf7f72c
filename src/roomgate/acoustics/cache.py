"""The impulse-response cache: one entry per simulated mic row, on disk and in memory.

A row depends only on the room, the singer, that mic and the sample rate, so each is cached on its
own, keyed by a SHA-256 of the full description of what was simulated (every input, the algorithm's
version and the libraries' versions): moving one mic re-simulates that mic only.

* **On disk** (:func:`cache_dir`): one ``.npz`` per row, written atomically (a temp file renamed
  over the entry); a corrupt or partial entry is recomputed with a warning, never trusted. The
  folder is kept under :func:`max_disk_bytes` (500 MB by default): past it the least recently
  used entries go.
* **In memory**: a bounded LRU (:data:`MEMORY_CACHE_BYTES`) shared by every thread of the process.
* **In flight**: when two threads ask for the same row, one simulates it and the other waits for
  it (:func:`fetch_rows`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import RoomgateWarning

__all__ = ["DEFAULT_MAX_MB", "MEMORY_CACHE_BYTES", "CacheUsage", "cache_dir", "cache_usage", "clear_cache",
           "clear_memory_cache", "digest", "fetch_rows", "max_disk_bytes"]

#: The in-memory LRU keeps rows up to this many bytes (a 2.5 s hall at 48 kHz is about 0.7 MB a row).
MEMORY_CACHE_BYTES = 256 * 2**20
CACHE_PREFIX = "room-ir-"
#: The disk cache's default size limit, MB (``ROOMGATE_CACHE_MAX_MB`` sets another).
DEFAULT_MAX_MB = 500.0


def cache_dir() -> pathlib.Path:
    """Where simulated IRs are kept: ``$ROOMGATE_CACHE_DIR``, else the platform's user cache folder
    (platformdirs: ``~/.cache/roomgate`` or ``$XDG_CACHE_HOME/roomgate`` on Linux,
    ``~/Library/Caches/roomgate`` on macOS, ``%LOCALAPPDATA%\\roomgate\\Cache`` on Windows)."""
    explicit = os.environ.get("ROOMGATE_CACHE_DIR")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    import platformdirs

    return pathlib.Path(platformdirs.user_cache_dir("roomgate", appauthor=False))


def max_disk_bytes() -> int:
    """The disk cache's size limit: ``$ROOMGATE_CACHE_MAX_MB`` megabytes (default
    :data:`DEFAULT_MAX_MB`); past it the least recently used entries are removed."""
    text = os.environ.get("ROOMGATE_CACHE_MAX_MB", "")
    try:
        megabytes = float(text) if text.strip() else DEFAULT_MAX_MB
    except ValueError:
        megabytes = math.nan
    if not megabytes >= 0 or math.isinf(megabytes):  # NaN, negative, infinite: not a size
        warnings.warn(f"ROOMGATE_CACHE_MAX_MB={text!r} is not a number of megabytes >= 0; using "
                      f"{DEFAULT_MAX_MB:g}", RoomgateWarning, stacklevel=2)
        megabytes = DEFAULT_MAX_MB
    return int(megabytes * 1e6)


@dataclass(frozen=True)
class CacheUsage:
    folder: pathlib.Path
    files: int
    size_bytes: int
    limit_bytes: int


def cache_usage() -> CacheUsage:
    """What the disk cache holds now, and its limit."""
    entries = _entries()
    return CacheUsage(cache_dir(), len(entries), sum(size for _, size, _ in entries), max_disk_bytes())


def _entries() -> list[tuple[pathlib.Path, int, float]]:
    """(path, size in bytes, last use as mtime) of every cache file, oldest use first."""
    folder = cache_dir()
    found = []
    for path in folder.glob(f"{CACHE_PREFIX}*") if folder.is_dir() else ():
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append((path, stat.st_size, stat.st_mtime))
    return sorted(found, key=lambda entry: entry[2])


def _evict_beyond_limit() -> None:
    """Remove the least recently used entries until the cache fits its limit."""
    entries = _entries()
    total, limit = sum(size for _, size, _ in entries), max_disk_bytes()
    for path, size, _ in entries:
        if total <= limit:
            break
        try:
            path.unlink()
            total -= size
        except FileNotFoundError:
            pass


def digest(payload: object) -> str:
    """SHA-256 (hex) of ``payload`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _MemoryCache:
    """A thread-safe LRU of read-only rows, bounded in bytes, with in-flight claims."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self.bytes = 0
        self.pending: dict[str, threading.Event] = {}

    def get_locked(self, key: str) -> np.ndarray | None:
        row = self.rows.get(key)
        if row is not None:
            self.rows.move_to_end(key)
        return row

    def put(self, key: str, row: np.ndarray) -> None:
        with self.lock:
            if key in self.rows:
                self.bytes -= self.rows.pop(key).nbytes
            self.rows[key] = row
            self.bytes += row.nbytes
            while self.bytes > self.max_bytes and len(self.rows) > 1:
                _, dropped = self.rows.popitem(last=False)
                self.bytes -= dropped.nbytes

    def clear(self) -> None:
        with self.lock:
            self.rows.clear()
            self.bytes = 0


_MEMORY = _MemoryCache(MEMORY_CACHE_BYTES)


def clear_memory_cache() -> None:
    """Forget the rows kept in memory (the files on disk stay)."""
    _MEMORY.clear()


def clear_cache() -> int:
    """Remove every cached IR from disk (and any temp file a crash left) and from memory; returns
    how many files were removed."""
    clear_memory_cache()
    folder = cache_dir()
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.glob(f"{CACHE_PREFIX}*"):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _entry_path(key: str) -> pathlib.Path:
    return cache_dir() / f"{CACHE_PREFIX}{key}.npz"


def _load(key: str) -> np.ndarray | None:
    """The cached row, or None (with a warning) when the entry is corrupt or partial."""
    path = _entry_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as entry:  # a zip: its CRC catches flipped bytes
            stored_key = str(entry["key"])
            row = np.array(entry["ir"])
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - any unreadable entry is recomputed, never trusted
        reason = f"{type(error).__name__}: {error}"
    else:
        sound = row.dtype == np.float32 and row.ndim == 1 and np.all(np.isfinite(row))
        if stored_key == key and sound:
            _touch(path)
            return row
        reason = f"holds {row.dtype} {row.shape}" + (" for another key" if stored_key != key else "")
    warnings.warn(f"IR cache entry {path} is corrupt or partial ({reason}); recomputing it", RoomgateWarning, stacklevel=4)
    return None


def _store(key: str, row: np.ndarray) -> None:
    """Write atomically: a temp file in the same folder, renamed over the entry when complete."""
    path = _entry_path(key)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f"{CACHE_PREFIX}tmp-", suffix=".npz", delete=False) as tmp:
            tmp_name = tmp.name
            np.savez(tmp, key=np.array(key), ir=row)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        _evict_beyond_limit()
    except OSError as error:
        warnings.warn(f"could not write the IR cache entry {path} ({error}); continuing without it", RoomgateWarning, stacklevel=4)
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def _touch(path: pathlib.Path) -> None:
    """Mark an entry used now (its mtime: atime is often not kept), for the LRU eviction."""
    try:
        os.utime(path)
    except OSError:
        pass


def fetch_rows(
    keys: Sequence[str], compute: Callable[[list[str]], dict[str, np.ndarray]], use_cache: bool = True
) -> dict[str, np.ndarray]:
    """The row for each key, from memory, from disk, or from ``compute`` (then cached).

    ``compute(missing_keys)`` simulates the rows no cache holds, all in one call, and returns
    ``{key: float32 row}``. A key another thread is computing is waited for, not computed twice.
    With ``use_cache=False`` nothing is read or written: ``compute`` gets every key. The rows
    returned are read-only.
    """
    wanted = list(dict.fromkeys(keys))
    if not use_cache:
        return {key: _read_only(row) for key, row in compute(wanted).items()}
    found: dict[str, np.ndarray] = {}
    while len(found) < len(wanted):
        mine: list[str] = []
        waits: list[threading.Event] = []
        with _MEMORY.lock:
            for key in wanted:
                if key in found:
                    continue
                row = _MEMORY.get_locked(key)
                if row is not None:
                    found[key] = row
                elif key in _MEMORY.pending:
                    waits.append(_MEMORY.pending[key])
                else:
                    _MEMORY.pending[key] = threading.Event()
                    mine.append(key)
        if mine:
            _resolve_claimed(mine, compute, found)
        for event in waits:
            event.wait()  # the other thread's rows are then in memory (or it failed: claim them next round)
    return {key: found[key] for key in wanted}


def _resolve_claimed(
    mine: list[str], compute: Callable[[list[str]], dict[str, np.ndarray]], found: dict[str, np.ndarray]
) -> None:
    """Fill ``found`` for the keys this thread claimed (disk, else ``compute``); always release them."""
    try:
        missing = []
        for key in mine:
            row = _load(key)
            if row is None:
                missing.append(key)
            else:
                found[key] = _read_only(row)
                _MEMORY.put(key, found[key])
        if missing:
            for key, row in compute(missing).items():
                found[key] = _read_only(row)
                _store(key, found[key])
                _MEMORY.put(key, found[key])
    finally:
        with _MEMORY.lock:
            for key in mine:
                _MEMORY.pending.pop(key).set()


def _read_only(row: np.ndarray) -> np.ndarray:
    row = np.ascontiguousarray(row, dtype=np.float32)
    row.setflags(write=False)
    return row
