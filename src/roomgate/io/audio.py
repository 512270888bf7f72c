"""Audio in and out: read, validate, resample, downmix and write (atomically).

Everything here speaks one layout: ``(channels, samples)`` float32. Files are read with soundfile
(libsndfile: WAV, FLAC, OGG/Vorbis, AIFF, CAF, ...), resampled with soxr, and written through a
temporary file in the destination folder that is renamed into place only when complete, so an
interrupted render never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioFileNotFoundError, AudioInputError, OutputError, RoomgateError
from ..units import check_sample_rate
from .outputs import StagedOutputs, write_error

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
        raise AudioFileNotFoundError(f"{path}: no such file")
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
    formats = soundfile.available_formats()
    major = _EXTENSION_ALIASES.get(extension, extension.upper())
    if major not in formats:
        known = ", ".join(sorted({f".{f.lower()}" for f in formats} | {f".{a}" for a in _EXTENSION_ALIASES}))
        raise OutputError(f"{path}: unknown audio extension {path.suffix!r}; expected one of {known}")
    if extension == "opus" and "OPUS" not in soundfile.available_subtypes("OGG"):
        raise OutputError(f"{path}: this libsndfile ({soundfile.__libsndfile_version__}) cannot write Opus "
                          "(it needs 1.0.29 or later); write .ogg (Vorbis) or .flac")
    return major


#: Extensions that are not a libsndfile format's own name. A .opus file is an Ogg file holding Opus
#: (RFC 7845), never Vorbis.
_EXTENSION_ALIASES = {"aif": "AIFF", "aiff": "AIFF", "oga": "OGG", "opus": "OGG"}
#: The sample rates Opus codes (RFC 6716, section 2); libsndfile refuses any other.
OPUS_SAMPLE_RATES_HZ = (8_000, 12_000, 16_000, 24_000, 48_000)


def _is_opus(path: Path) -> bool:
    return path.suffix.lower() == ".opus"


#: Subtypes that lose information (lossy codecs, companding, ADPCM): a render of an input in one of
#: these is not written back in it when the output's container is an uncompressed one.
LOSSY_SUBTYPES = frozenset({
    "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III", "VORBIS", "OPUS", "GSM610", "ULAW", "ALAW", "IMA_ADPCM",
    "MS_ADPCM", "VOX_ADPCM", "G721_32", "G723_24", "G723_40", "NMS_ADPCM_16", "NMS_ADPCM_24", "NMS_ADPCM_32",
})
#: What a lossy input becomes in an uncompressed container: headroom and resolution to spare.
LOSSLESS_FALLBACK = "PCM_24"


def writable_subtypes(path: str | os.PathLike[str], channels: int = 1) -> list[str]:
    """The subtypes this libsndfile can really write in ``path``'s format (by its extension),
    each tried by opening an in-memory file: libsndfile's own tables list some it cannot write
    (``MPEG_LAYER_III`` in a WAV, for one)."""
    import soundfile

    major = _format_for(Path(path))
    subtypes = ["OPUS"] if _is_opus(Path(path)) else soundfile.available_subtypes(major)
    return [subtype for subtype in subtypes if _can_write(major, subtype, channels)]


@functools.lru_cache(maxsize=None)
def _can_write(major: str, subtype: str, channels: int = 1) -> bool:
    import io

    import soundfile

    try:
        with _quiet_stderr(), soundfile.SoundFile(io.BytesIO(), "w", 8000, channels, subtype, format=major) as handle:
            handle.write(np.zeros((16, channels), np.float32))
        return True
    except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError):
        return False


def choose_subtype(path: str | os.PathLike[str], preferred: str | None = None, *, requested: str | None = None,
                   channels: int = 1) -> str:
    """The subtype to write ``path`` with, always one libsndfile can really write in its format.

    ``requested`` (a user's ``--subtype``) is kept or refused: OutputError names the subtypes the
    format can hold. ``preferred`` (usually the input's subtype) is kept when the format can write it
    and it is lossless or the output is itself a lossy container; otherwise a lossy input gets
    :data:`LOSSLESS_FALLBACK` (PCM_24) where the format holds it, else the format's default. So an MP3
    or Vorbis take rendered to ``.wav`` is written as PCM_24, a FLOAT take to ``.flac`` as PCM_24.
    ``channels``: some subtypes hold mono only (GSM610).
    """
    import soundfile

    path = Path(path)
    major = _format_for(path)
    if requested:
        subtype = requested.upper()
        if _is_opus(path) and subtype != "OPUS":
            raise OutputError(f"--subtype {requested}: a .opus file holds Opus only; for {path.name} expected OPUS "
                              "(or name the output .ogg for Vorbis)")
        if not _can_write(major, subtype, channels):
            known = ", ".join(writable_subtypes(path, channels))
            reason = "unknown subtype" if subtype not in soundfile.available_subtypes() else f"a {major} file cannot hold it"
            raise OutputError(f"--subtype {requested}: {reason}; for {path.name} expected one of {known}")
        return subtype
    if _is_opus(path):
        return "OPUS"
    default = soundfile.default_subtype(major)
    lossy_container = default in LOSSY_SUBTYPES
    if preferred:
        preferred = preferred.upper()
        if _can_write(major, preferred, channels) and (preferred not in LOSSY_SUBTYPES or lossy_container):
            return preferred
    if not lossy_container and _can_write(major, LOSSLESS_FALLBACK, channels):
        return LOSSLESS_FALLBACK
    return default


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], staged: StagedOutputs | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file lives in the destination folder (same filesystem, so the rename is atomic)
    under a hidden name, and is removed if anything fails, so ``path`` is either the old file,
    absent, or the complete new one: never half-written. With ``staged``, the file joins a
    command's other outputs and is placed with them (see :class:`~roomgate.io.outputs.StagedOutputs`).
    An ``OSError`` in the block (a full disk) becomes an OutputError naming ``path``.
    """
    own = StagedOutputs() if staged is None else None
    temporary = (own or staged).stage(path)  # type: ignore[union-attr]
    try:
        yield temporary
    except BaseException as error:
        if own is not None:
            own.discard()
        if isinstance(error, OSError) and not isinstance(error, RoomgateError):
            raise write_error(path, error) from None
        raise
    if own is not None:
        own.place()


def write_audio(
    path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, subtype: str | None = None,
    metadata: dict[str, str] | None = None, *, staged: StagedOutputs | None = None,
) -> Path:
    """Write ``(channels, samples)`` audio atomically; the format follows the extension.

    ``subtype`` is kept when the format can write it (see :func:`choose_subtype`), else the
    nearest the format holds. ``metadata``: text fields libsndfile stores in the file (``title``,
    ``comment``, ``software``, ...; a WAV's INFO chunk). ``staged``: see :func:`atomic_output`.
    Returns the path written.

    Raises:
        OutputError naming the file: it cannot be written, or ``audio`` holds NaN or infinity.
    """
    path = Path(path)
    _refuse_non_finite(path, np.asarray(audio))  # an OutputError: the writer's fault, not the reader's
    audio = as_channels_first(audio, name=str(path), max_channels=None)
    with block_writer(path, sample_rate, audio.shape[0], subtype, metadata, staged=staged) as write:
        write(audio)
    return path


@contextlib.contextmanager
def block_writer(
    path: str | os.PathLike[str], sample_rate: int, channels: int, subtype: str | None = None,
    metadata: dict[str, str] | None = None, *, staged: StagedOutputs | None = None,
) -> Iterator[Callable[[np.ndarray], None]]:
    """Write ``(channels, n)`` blocks to ``path`` atomically: yields a ``write(block)`` function;
    the file appears under its name only when the ``with`` block completes (with ``staged``: when
    the command's outputs are placed together). ``metadata`` as for :func:`write_audio`.

    The last line of defence: a block holding NaN or infinity is refused (OutputError), so no
    non-finite sample is ever written; so is a block of the wrong shape. A failed write (a full
    disk, a file-size limit) is an OutputError naming ``path`` and the reason.
    """
    import soundfile

    path = Path(path)
    major = _format_for(path)
    chosen = choose_subtype(path, subtype, channels=channels)
    if chosen == "OPUS" and int(sample_rate) not in OPUS_SAMPLE_RATES_HZ:
        rates = ", ".join(f"{r // 1000}" for r in OPUS_SAMPLE_RATES_HZ)
        raise OutputError(f"{path}: Opus holds audio at {rates} kHz only, got {int(sample_rate)} Hz; write .ogg "
                          "(Vorbis) or .flac, or resample the input")
    with atomic_output(path, staged) as temporary:
        try:
            handle = soundfile.SoundFile(str(temporary), "w", int(sample_rate), channels, chosen, format=major)
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
            # libsndfile's message names the temporary file: give its reason only.
            reason = getattr(error, "error_string", None) or _short(error)
            raise OutputError(f"{path}: cannot write {major}/{chosen} ({reason})") from None
        written = _FrameWriter(path, handle, channels)
        try:
            _without_peak_chunk(handle)
            _set_metadata(handle, metadata or {})
            yield written
        except BaseException:
            with contextlib.suppress(soundfile.LibsndfileError, RuntimeError, AssertionError):
                handle.close()
            raise
        try:
            handle.close()  # writes the header: a full disk may show only here
        except (soundfile.LibsndfileError, RuntimeError, AssertionError) as error:
            raise write_error(path, error) from None
        written.check_complete(temporary)


class _FrameWriter:
    """``write(block)`` for :func:`block_writer`: refuses non-finite samples, counts the frames
    and turns a failed write into one OutputError line."""

    def __init__(self, path: Path, handle: object, channels: int):
        self.path, self.handle, self.channels, self.frames = path, handle, channels, 0

    def __call__(self, block: np.ndarray) -> None:
        import soundfile

        block = np.asarray(block)
        if block.ndim == 1:
            block = block[np.newaxis, :]
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise OutputError(f"{self.path}: expected blocks shaped ({self.channels}, samples), got {block.shape}")
        _refuse_non_finite(self.path, block)
        try:
            self.handle.write(np.ascontiguousarray(block.T))  # type: ignore[attr-defined]
        except (soundfile.LibsndfileError, RuntimeError, AssertionError, OSError) as error:
            raise write_error(self.path, error) from None
        self.frames += block.shape[1]

    def check_complete(self, temporary: Path) -> None:
        """The file on disk holds every frame written (a full disk may go unreported until here)."""
        import soundfile

        try:
            frames = soundfile.info(str(temporary)).frames
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise write_error(self.path, error) from None
        if frames != self.frames:
            raise write_error(self.path, _ShortFile(f"the file holds {frames} of the {self.frames} frames written"))


def _set_metadata(handle: Any, metadata: dict[str, str]) -> None:
    """Text fields libsndfile keeps in the file (title, comment, software, ...)."""
    import soundfile

    for key, value in metadata.items():
        if key not in soundfile._str_types:
            raise ValueError(f"metadata: unknown field {key!r}; expected one of {sorted(soundfile._str_types)}")
        setattr(handle, key, value)


def _refuse_non_finite(path: Path, audio: np.ndarray) -> None:
    if audio.dtype.kind in "fc" and not np.isfinite(audio).all():
        bad = int(np.count_nonzero(~np.isfinite(audio)))
        raise OutputError(f"{path}: refusing to write {bad} NaN or infinite samples (a bug: please report it)")


class _ShortFile(Exception):
    """A written file came back shorter than what was written to it (no errno to go by)."""

    errno = 0


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


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__
