"""Where a command's files go: staged beside their final names, placed together, never half-written.

- :class:`StagedOutputs`: a command's outputs (the audio, its report, its plot) are each written to
  a hidden temporary file beside its final name, and renamed into place together once every one
  is complete; when any fails (an error, Ctrl-C, SIGTERM) none is placed and no temporary stays.
- :class:`Scratch`: audio parked on disk between the two passes of a render, in a file that has no
  name from the moment it is opened (``O_TMPFILE``, or unlinked at once), so that even SIGKILL
  leaves nothing behind.
- :func:`write_error`: a failed write (disk full, a file-size limit, a quota) as one
  :class:`~roomgate.errors.OutputError` line that names the file and the reason.
"""

from __future__ import annotations

import errno
import os
import resource
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from ..errors import OutputError, RoomgateError

__all__ = ["Scratch", "StagedOutputs", "write_error"]

# What errno values mean to someone writing a file, in words that say what to do.
_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "larger than the file-size limit (ulimit -f)",
    errno.EDQUOT: "over the disk quota",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "input/output error on the device",
}


def write_error(path: str | os.PathLike[str], error: BaseException) -> OutputError:
    """``error`` (raised while writing ``path``) as one line naming the file and the reason.

    libsndfile reports a failed write as "System error" without the cause; the cause is then
    found from the C library's errno, the free space and the file-size limit.
    """
    if isinstance(error, OutputError):
        return error
    return OutputError(f"{path}: cannot write ({_reason(Path(path), error)})")


def _reason(path: Path, error: BaseException) -> str:
    code = getattr(error, "errno", None)
    if code is None:
        code = _c_errno()
    if code in _REASONS:
        return _REASONS[code]
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror.lower()
    else:
        lines = str(error).strip().splitlines()
        text = lines[-1] if lines else type(error).__name__
    cause = _likely_cause(path)
    if cause is None:
        return text
    return cause if text.rstrip(".").lower() in ("system error", "") else f"{text}; {cause}"


def _likely_cause(path: Path) -> str | None:
    """Why a write may have failed when nothing said why: the disk's free space, ``ulimit -f``."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        space = os.statvfs(folder)
        if space.f_bavail * space.f_frsize < 1 << 16:
            return _REASONS[errno.ENOSPC]
    except OSError:
        pass
    if resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY:
        return "the disk may be full, or the file larger than the file-size limit (ulimit -f)"
    return None


def _c_errno() -> int | None:
    """errno as the last C call (libsndfile's write) left it."""
    try:
        import soundfile

        return int(soundfile._ffi.errno) or None
    except (ImportError, AttributeError):
        return None


class StagedOutputs:
    """A command's output files, placed together when all are written.

    Usage::

        with StagedOutputs() as staged:
            write_audio_to(staged.stage("out.wav"))   # each returns a hidden temporary path
            write_report_to(staged.stage("out.json"))
        # here both are in place, in the order staged; if the block raised, neither is

    Each temporary lives in its final file's folder (the same file system, so the rename is
    atomic) under a hidden name (``.out.wav.XXXX.part``). A file is either the old one, absent, or
    the complete new one; the placed files get the permissions any new file would (the umask).
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (temporary, final)

    def stage(self, path: str | os.PathLike[str]) -> Path:
        """A new hidden temporary file beside ``path``, to be renamed onto it by :meth:`place`."""
        path = Path(path)
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"{path}: the folder {str(folder)!r} does not exist")
        if not os.access(folder, os.W_OK):
            raise OutputError(f"{path}: the folder {str(folder)!r} is not writable")
        if path.is_dir():
            raise OutputError(f"{path}: is a folder; expected a file name")
        try:
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        except OSError as error:
            raise write_error(path, error) from None
        os.close(handle)
        self._pending.append((Path(name), path))
        return Path(name)

    def place(self) -> list[Path]:
        """Rename every staged file onto its final name, in order; returns the final paths.
        If one rename fails (or is interrupted), the ones already placed are removed too."""
        placed: list[Path] = []
        mode = 0o666 & ~_umask()  # mkstemp made the files private (0600)
        try:
            for temporary, path in self._pending:
                os.chmod(temporary, mode)
                os.replace(temporary, path)
                placed.append(path)
        except BaseException as error:
            for path in placed:
                path.unlink(missing_ok=True)
            self.discard()
            if isinstance(error, OSError) and not isinstance(error, RoomgateError):
                raise write_error(path, error) from None
            raise
        self._pending.clear()
        return placed

    def discard(self) -> None:
        """Remove every staged temporary; nothing is placed."""
        for temporary, _ in self._pending:
            temporary.unlink(missing_ok=True)
        self._pending.clear()

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.place()
        else:
            self.discard()


class Scratch:
    """``(channels, n)`` float32 blocks parked on disk and read back in order.

    The file is created in ``folder`` (the output's, so that the output's disk is the one whose
    space is used) with no name: ``O_TMPFILE`` where the file system has it, else unlinked right
    after it is made. It disappears when closed or when the process ends, however it ends.
    ``owner`` is the output file the scratch serves; write errors name it.
    """

    def __init__(self, folder: str | os.PathLike[str], channels: int, owner: str | os.PathLike[str]):
        self.owner = Path(owner)
        self.channels = int(channels)
        self.frames = 0
        try:
            self._file: IO[bytes] = tempfile.TemporaryFile(dir=folder)
        except OSError as error:
            raise write_error(self.owner, error) from None

    def write(self, block: np.ndarray) -> None:
        """Append a ``(channels, n)`` block."""
        frames = np.ascontiguousarray(np.asarray(block, dtype=np.float32).T)
        if frames.shape[1:] != (self.channels,):
            raise ValueError(f"scratch: expected blocks of {self.channels} channels, got shape {block.shape}")
        try:
            self._file.write(frames.data)
        except OSError as error:
            raise write_error(self.owner, error) from None
        self.frames += frames.shape[0]

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        """The blocks written so far, read back in ``(channels, <= block_frames)`` pieces."""
        frame_bytes = 4 * self.channels
        try:
            self._file.flush()
            self._file.seek(0)
        except OSError as error:
            raise write_error(self.owner, error) from None
        remaining = self.frames
        while remaining > 0:
            count = min(block_frames, remaining)
            data = self._file.read(count * frame_bytes)
            if len(data) != count * frame_bytes:
                raise OutputError(f"{self.owner}: the render's scratch file came back short "
                                  f"({len(data) // frame_bytes} of {count} frames)")
            remaining -= count
            yield np.frombuffer(data, dtype=np.float32).reshape(count, self.channels).T

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
