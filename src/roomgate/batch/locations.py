"""Where a batch reads and writes: plain paths, ``file://`` URLs and any fsspec URL.

A *location* is a string: a plain path (``takes/a.wav``), a ``file://`` URL, or any URL fsspec
knows (``s3://bucket/a.wav``, ``gs://...``, ``memory://...``). Plain paths and ``file://`` URLs
are handled without fsspec, so ``render --jobs`` needs no extra; every other URL needs the
``dask`` extra (which brings fsspec) plus the filesystem's own package (s3fs, gcsfs, ...).

Outputs are *staged* and then *placed*, so that a task killed at any moment leaves no
half-written output under its final name:

* a local output is rendered into ``<its folder>/.roomgate-partial/<token>/`` (the same
  filesystem) and moved into place with ``os.replace``: atomic on POSIX filesystems, including
  NFS and Lustre for readers that see the folder;
* a remote output is rendered into a local temporary folder, uploaded to
  ``<its folder>/.roomgate-partial/<token>/<name>`` and moved into place with the filesystem's
  ``mv``: a rename where the filesystem has one (SFTP, HDFS, a mounted share), and on object
  stores (S3, GCS, Azure) a server-side copy and delete; an object store only ever shows an
  object once it is complete, so the final key holds either the old object or the whole new one.

What a killed task leaves is only ever inside a ``.roomgate-partial`` folder, which the next run
of the batch on that folder removes (:func:`remove_stale_staging`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..errors import AudioInputError, MissingDependencyError, OutputError

__all__ = ["STAGING_FOLDER", "StagedOutput", "exists", "input_sha256", "is_url", "join", "local_input",
           "local_path", "name_of", "parent_of", "remove_stale_staging", "stem_of"]

#: The hidden folder, beside each output, where outputs are written before they are placed.
STAGING_FOLDER = ".roomgate-partial"
_CHUNK_BYTES = 1 << 20
INSTALL_FSSPEC = "URLs other than file:// need the 'dask' extra (fsspec): pip install 'roomgate[dask]'"


def is_url(location: str) -> bool:
    return "://" in location or "::" in location


def local_path(location: str) -> Path | None:
    """The local path a plain path or a ``file://`` URL names; None for any other URL."""
    if not is_url(location):
        return Path(location).expanduser()
    parsed = urlparse(location)
    if parsed.scheme == "file" and "::" not in location:
        return Path(unquote(parsed.path))
    return None


def _filesystem(location: str) -> tuple[Any, str]:
    """fsspec's filesystem for a URL, and the path inside it."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise MissingDependencyError(f"{location}: {INSTALL_FSSPEC}") from None
    try:
        return url_to_fs(location)
    except ImportError as error:  # the filesystem's own package (s3fs, gcsfs...) is missing
        raise MissingDependencyError(f"{location}: {error}") from None
    except ValueError as error:
        raise OutputError(f"{location}: not a URL fsspec knows ({error})") from None


def name_of(location: str) -> str:
    """The file name: ``s3://b/takes/a.wav`` -> ``a.wav``."""
    path = local_path(location)
    return path.name if path is not None else location.rstrip("/").rsplit("/", 1)[-1]


def stem_of(location: str) -> str:
    name = name_of(location)
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


def parent_of(location: str) -> str:
    path = local_path(location)
    if path is not None:
        return str(path.parent)
    return location.rstrip("/").rsplit("/", 1)[0]


def join(folder: str, name: str) -> str:
    """``name`` inside ``folder`` (a path or a URL); an absolute path or a URL ``name`` stays itself."""
    if is_url(name) or Path(name).is_absolute():
        return name
    path = local_path(folder)
    if path is not None and not is_url(folder):
        return str(path / name)
    return folder.rstrip("/") + "/" + name


def exists(location: str) -> bool:
    path = local_path(location)
    if path is not None:
        return path.is_file()
    fs, inner = _filesystem(location)
    return bool(fs.exists(inner))


def input_sha256(location: str) -> str:
    """The sha256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with _open_input(location) as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _open_input(location: str) -> Iterator[Any]:
    path = local_path(location)
    try:
        if path is not None:
            with open(path, "rb") as handle:
                yield handle
        else:
            fs, inner = _filesystem(location)
            with fs.open(inner, "rb") as handle:
                yield handle
    except FileNotFoundError:
        raise AudioInputError(f"{location}: no such file") from None
    except IsADirectoryError:
        raise AudioInputError(f"{location}: is a folder; expected an audio file") from None
    except PermissionError:
        raise AudioInputError(f"{location}: not readable (permission denied)") from None


@contextlib.contextmanager
def local_input(location: str) -> Iterator[Path]:
    """A local path holding the input: the file itself, or a temporary download of a URL."""
    path = local_path(location)
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="roomgate-input-") as folder:
        copy = Path(folder) / name_of(location)
        with _open_input(location) as source, open(copy, "wb") as target:
            shutil.copyfileobj(source, target, _CHUNK_BYTES)
        yield copy


class StagedOutput:
    """One output written under a temporary name, then placed (see the module's docstring).

    ``path`` is the local file to write; :meth:`place` moves it to ``location``; :meth:`discard`
    removes what is left (call it in a ``finally``)."""

    def __init__(self, location: str, token: str | None = None) -> None:
        self.location = location
        self.token = token or uuid.uuid4().hex
        final = local_path(location)
        self._final = final
        if final is not None:
            self._folder = final.parent / STAGING_FOLDER / self.token
            self._scratch: tempfile.TemporaryDirectory[str] | None = None
        else:
            self._scratch = tempfile.TemporaryDirectory(prefix="roomgate-output-")
            self._folder = Path(self._scratch.name)
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{location}: cannot write in {str(self._folder.parent.parent)!r} "
                              f"({error.strerror})") from None
        self.path = self._folder / name_of(location)

    def place(self) -> None:
        if self._final is not None:
            os.replace(self.path, self._final)
            return
        fs, inner = _filesystem(self.location)
        parent = inner.rstrip("/").rsplit("/", 1)[0]
        staged = f"{parent}/{STAGING_FOLDER}/{self.token}/{name_of(self.location)}"
        with contextlib.suppress(OSError, NotImplementedError):
            fs.makedirs(parent, exist_ok=True)  # object stores have no folders
        fs.put_file(str(self.path), staged)
        fs.mv(staged, inner)
        with contextlib.suppress(OSError, NotImplementedError):
            fs.rm(f"{parent}/{STAGING_FOLDER}/{self.token}", recursive=True)

    def discard(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
        else:
            shutil.rmtree(self._folder, ignore_errors=True)


def remove_stale_staging(folder: str) -> None:
    """Remove a ``.roomgate-partial`` folder left in ``folder`` by a killed run (call only while
    no task writes there: the batch holds its journal's lock)."""
    path = local_path(folder)
    if path is not None:
        shutil.rmtree(path / STAGING_FOLDER, ignore_errors=True)
        return
    fs, inner = _filesystem(folder)
    with contextlib.suppress(OSError, NotImplementedError):
        if fs.exists(f"{inner.rstrip('/')}/{STAGING_FOLDER}"):
            fs.rm(f"{inner.rstrip('/')}/{STAGING_FOLDER}", recursive=True)


def remove_empty_staging(folder: str) -> None:
    """Remove ``folder``'s ``.roomgate-partial`` once the run is over, if nothing is left in it."""
    path = local_path(folder)
    with contextlib.suppress(OSError, NotImplementedError):
        if path is not None:
            (path / STAGING_FOLDER).rmdir()
        else:
            fs, inner = _filesystem(folder)
            fs.rmdir(f"{inner.rstrip('/')}/{STAGING_FOLDER}")  # object stores have no folders: nothing to do
