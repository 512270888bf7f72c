"""Audio in and out: read, validate, resample, downmix and write (atomically).

Everything here speaks one layout: ``(channels, samples)`` float32. Files are read with soundfile
(libsndfile: WAV, FLAC, OGG/Vorbis, AIFF, CAF, ...), resampled with soxr, and written through a
temporary file in the destination folder that is renamed into place only when complete, so an
interrupted render never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AudioInputError, OutputError
from ..units import check_sample_rate

# More channels than this in a (channels, samples) array almost always means a transposed
# (samples, channels) array: refuse it rather than guess.
MAX_CHANNELS = 64
# Long takes are read and written in blocks of this many frames (about 22 s at 48 kHz): long
# enough for the room's FFT convolution to be efficient, short enough to keep memory small.
BLOCK_FRAMES = 1 << 20


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, without reading its samples."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str  # libsndfile major format, e.g. "WAV", "FLAC"
    subtype: str  # e.g. "PCM_16", "FLOAT"

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def as_channels_first(audio: object, name: str = "audio", max_channels: int | None = MAX_CHANNELS) -> np.ndarray:
    """Check an array is ``(channels, samples)`` (or 1-D mono) and return it as float32 2-D.

    Shape:
        audio: ``(N,)`` or ``(C, N)``; returns ``(C, N)`` float32 (``(1, N)`` for 1-D input).
        ``max_channels=None`` lifts the channel limit (a file's layout is never ambiguous).

    Raises:
        AudioInputError: not an array of numbers, more than 2 dimensions, more than
            :data:`MAX_CHANNELS` channels (likely ``(samples, channels)``), or non-finite samples.
    """
    array = np.asarray(audio)
    if array.dtype.kind not in "fiu":
        raise AudioInputError(f"{name}: expected an array of numbers, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[np.newaxis, :]
    elif array.ndim != 2:
        raise AudioInputError(
            f"{name}: expected shape (channels, samples), got {array.ndim}-D shape {array.shape}"
        )
    if max_channels is not None and array.shape[0] > max_channels:
        raise AudioInputError(
            f"{name}: expected shape (channels, samples) with at most {max_channels} channels, "
            f"got {array.shape}; if it is (samples, channels), pass audio.T"
        )
    if array.shape[0] == 0:
        raise AudioInputError(f"{name}: expected at least one channel, got shape {array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise AudioInputError(f"{name}: {bad} samples are NaN or infinite; expected finite samples")
    return array


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise AudioInputError(f"{path}: no such file")
    if path.is_dir():
        raise AudioInputError(f"{path}: is a folder; expected an audio file")
    if path.stat().st_size == 0:
        raise AudioInputError(f"{path}: the file is empty; expected audio")


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """Read a file's header: rate, channels, length, format and subtype."""
    import soundfile

    path = Path(path)
    _check_readable(path)
    try:
        with _quiet_stderr():  # libsndfile's decoders may print their own complaints
            info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioInputError(f"{path}: not a readable audio file ({_short(error)})") from None
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a whole audio file.

    Shape:
        returns ``(audio, sample_rate)`` with ``audio`` shaped ``(channels, samples)`` float32.

    Raises:
        AudioInputError naming the file: missing, a folder, empty, not audio, truncated,
        no samples, a rate outside 8-192 kHz, or NaN/Inf samples (refused: a render of them
        would be noise or silence; repair the file first).
    """
    import soundfile

    path = Path(path)
    _check_readable(path)
    try:
        data, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioInputError(f"{path}: not a readable audio file ({_short(error)})") from None
    if data.shape[0] == 0:
        raise AudioInputError(f"{path}: holds no samples; expected at least one")
    try:
        check_sample_rate(sample_rate)
    except AudioInputError as error:
        raise AudioInputError(f"{path}: {error}") from None
    try:
        audio = as_channels_first(data.T, max_channels=None)
    except AudioInputError as error:
        raise AudioInputError(f"{path}: {error}") from None
    return audio, int(sample_rate)


def _next_block(left: int, block_frames: int) -> int:
    """Frames to read next with ``left`` still to come: a block, or all that is left when it is at
    most a quarter block more (a short last block would take the rig's slow small-block path)."""
    return left if 0 < left <= block_frames + block_frames // 4 else block_frames


def read_blocks(path: str | os.PathLike[str], block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Read a file block by block (for takes too long for memory).

    Shape:
        yields ``(channels, n)`` float32 blocks, in order: ``block_frames`` each, the last one
        from a quarter to one and a quarter of that (or the whole file, if shorter).

    Raises:
        AudioInputError naming the file, as :func:`read_audio` (NaN/Inf found in any block).
    """
    import soundfile

    info = audio_info(path)
    if info.frames == 0:
        raise AudioInputError(f"{info.path}: holds no samples; expected at least one")
    try:
        check_sample_rate(info.sample_rate)
    except AudioInputError as error:
        raise AudioInputError(f"{info.path}: {error}") from None
    try:
        with soundfile.SoundFile(str(info.path)) as handle:
            read = 0
            while True:
                data = handle.read(_next_block(info.frames - read, block_frames), dtype="float32", always_2d=True)
                read += data.shape[0]
                if data.shape[0] == 0:
                    return
                try:
                    yield as_channels_first(data.T, max_channels=None)
                except AudioInputError as error:
                    raise AudioInputError(f"{info.path}: {error}") from None
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioInputError(f"{info.path}: not a readable audio file ({_short(error)})") from None


class TrackReader:
    """Several files read in lockstep as one multitrack: each resampled to ``sample_rate`` (soxr,
    streaming) and padded with silence to the longest, so every block has every track.

    Shape:
        :meth:`blocks` yields ``(T, n)`` float32, T = the files' channels added up.
    """

    def __init__(self, paths: list[Path], sample_rate: int, block_frames: int = BLOCK_FRAMES):
        self.infos = [audio_info(p) for p in paths]
        self.sample_rate = sample_rate
        self.block_frames = block_frames
        for info in self.infos:
            if info.frames == 0:
                raise AudioInputError(f"{info.path}: holds no samples; expected at least one")
        self.lengths = [_resampled_length(i.frames, i.sample_rate, sample_rate) for i in self.infos]
        self.length = max(self.lengths)

    @property
    def channels(self) -> int:
        return sum(i.channels for i in self.infos)

    def blocks(self) -> Iterator[np.ndarray]:
        sources = [_ResampledSource(info, self.sample_rate, self.block_frames) for info in self.infos]
        try:
            emitted = 0
            while emitted < self.length:
                n = _next_block(self.length - emitted, self.block_frames)
                yield np.concatenate([source.read(n) for source in sources], axis=0)
                emitted += n
        finally:
            for source in sources:
                source.close()


class _ResampledSource:
    def __init__(self, info: AudioInfo, sample_rate: int, block_frames: int):
        import soundfile

        self.info = info
        self.handle = soundfile.SoundFile(str(info.path))
        self.block_frames = block_frames
        self.buffer = np.zeros((info.channels, 0), np.float32)
        self.done = False
        self.stream = None
        if info.sample_rate != sample_rate:
            import soxr

            self.stream = soxr.ResampleStream(info.sample_rate, sample_rate, info.channels, dtype="float32", quality="VHQ")

    def read(self, n: int) -> np.ndarray:
        while self.buffer.shape[1] < n and not self.done:
            data = self.handle.read(self.block_frames, dtype="float32", always_2d=True)
            self.done = data.shape[0] < self.block_frames
            if self.stream is not None:
                data = self.stream.resample_chunk(data, last=self.done).reshape(-1, self.info.channels)
            try:
                chunk = as_channels_first(np.ascontiguousarray(data.T), max_channels=None) if data.shape[0] else data.T
            except AudioInputError as error:
                raise AudioInputError(f"{self.info.path}: {error}") from None
            self.buffer = np.concatenate([self.buffer, chunk], axis=1)
        block, self.buffer = self.buffer[:, :n], self.buffer[:, n:]
        if block.shape[1] < n:  # shorter than the longest track: silence
            block = np.pad(block, ((0, 0), (0, n - block.shape[1])))
        return block

    def close(self) -> None:
        self.handle.close()


def _resampled_length(frames: int, from_rate: int, to_rate: int) -> int:
    return frames if from_rate == to_rate else int(round(frames * to_rate / from_rate))


def resample(audio: np.ndarray, from_rate_hz: int, to_rate_hz: int) -> np.ndarray:
    """Resample with soxr (very high quality); returns the input itself when the rates match.

    Shape:
        audio: ``(C, N)``; returns ``(C, round(N * to / from))`` float32.
    """
    audio = as_channels_first(audio)
    if from_rate_hz == to_rate_hz:
        return audio
    import soxr

    out = soxr.resample(audio.T, from_rate_hz, to_rate_hz, quality="VHQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).T.reshape(audio.shape[0], -1))


def downmix_to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels (equal weights, so a centred source keeps its level).

    Shape:
        audio: ``(C, N)``; returns ``(1, N)`` float32.
    """
    audio = as_channels_first(audio, max_channels=None)
    if audio.shape[0] == 1:
        return audio
    return audio.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)


def _format_for(path: Path) -> str:
    import soundfile

    extension = path.suffix.lower().lstrip(".")
    aliases = {"aif": "AIFF", "aiff": "AIFF", "oga": "OGG", "opus": "OGG"}
    major = aliases.get(extension, extension.upper())
    if major not in soundfile.available_formats():
        known = ", ".join(sorted(f".{f.lower()}" for f in ("WAV", "FLAC", "OGG", "AIFF", "CAF", "W64")))
        raise OutputError(f"{path}: unknown audio extension {path.suffix!r}; expected one of {known}")
    return major


def choose_subtype(path: str | os.PathLike[str], preferred: str | None) -> str:
    """The subtype to write ``path`` with: ``preferred`` when that format supports it, else the
    format's default (e.g. a Vorbis input rendered to .wav is written as PCM_16)."""
    import soundfile

    major = _format_for(Path(path))
    if preferred:
        preferred = preferred.upper()
        if preferred not in soundfile.available_subtypes():
            known = ", ".join(sorted(soundfile.available_subtypes(major)))
            raise OutputError(f"--subtype: unknown subtype {preferred!r}; for {major} expected one of {known}")
        if soundfile.check_format(major, preferred):
            return preferred
    return soundfile.default_subtype(major)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file lives in the destination folder (same filesystem, so the rename is atomic)
    under a hidden name, and is removed if anything fails, so ``path`` is either the old file,
    absent, or the complete new one: never half-written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{path}: the folder {str(folder)!r} is not writable")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; expected a file name")
    handle, temporary_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        yield temporary
        # mkstemp makes the file private (0600); give it the permissions any new file would have.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def write_audio(
    path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, subtype: str | None = None
) -> Path:
    """Write ``(channels, samples)`` audio atomically; the format follows the extension.

    ``subtype`` is kept when the format supports it (see :func:`choose_subtype`).
    Returns the path written.
    """
    import soundfile

    path = Path(path)
    audio = as_channels_first(audio, name=str(path), max_channels=None)
    with block_writer(path, sample_rate, audio.shape[0], subtype) as write:
        write(audio)
    return path


@contextlib.contextmanager
def block_writer(
    path: str | os.PathLike[str], sample_rate: int, channels: int, subtype: str | None = None
) -> Iterator[Callable[[np.ndarray], None]]:
    """Write ``(channels, n)`` blocks to ``path`` atomically: yields a ``write(block)`` function;
    the file appears under its name only when the ``with`` block completes."""
    import soundfile

    path = Path(path)
    major = _format_for(path)
    chosen = choose_subtype(path, subtype)
    with atomic_output(path) as temporary:
        try:
            handle = soundfile.SoundFile(str(temporary), "w", int(sample_rate), channels, chosen, format=major)
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
            raise OutputError(f"{path}: cannot write {major}/{chosen} ({_short(error)})") from None
        with handle:
            _without_peak_chunk(handle)
            yield lambda block: handle.write(np.ascontiguousarray(block.T))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when two paths name the same file (following links), so an input is never overwritten."""
    a, b = Path(a), Path(b)
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C libraries write there directly) for the block."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _without_peak_chunk(handle: object) -> None:
    """Ask libsndfile not to write a PEAK chunk: it holds a timestamp, so the same render would
    give different bytes each time (SFC_SET_ADD_PEAK_CHUNK = 0x1050)."""
    import soundfile

    try:
        soundfile._snd.sf_command(handle._file, 0x1050, soundfile._ffi.NULL, 0)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # another soundfile build: a PEAK chunk is harmless
        pass


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__
