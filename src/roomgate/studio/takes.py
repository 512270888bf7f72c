"""The take: the dry vocal the rig hears, and an uploaded file read as one, checked (audio within
full scale, no longer than its header says) and downmixed to mono block by block, so that memory
holds only the mono take (or, for a long take copied to disk, one block)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..rig.rig import MAX_INPUT_PEAK
from .capture import CaptureCache
from .errors import HTTPError

__all__ = ["Take", "copy_as_mono_wav", "read_take"]


@dataclass
class Take:
    """The audio the rig hears: ``(1, N)`` float32, a dry vocal; ``None`` for a long take, which
    stays on disk (``path``) and renders through the streaming render job."""

    id: str
    name: str
    audio: np.ndarray | None = field(repr=False)
    sample_rate: int
    path: Path  # the dry audio as a float WAV, for listening
    notes: list[str] = field(default_factory=list)
    samples: int = 0
    capture: CaptureCache | None = field(default=None, repr=False)  # the mics' signals, kept
    dry_levels: dict[str, Any] | None = field(default=None, repr=False)  # its meters, once measured

    @property
    def streaming(self) -> bool:
        return self.audio is None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "sample_rate": self.sample_rate,
            "samples": self.samples,
            "duration_s": round(self.samples / self.sample_rate, 6),
            "audio_url": f"/api/audio/{self.id}",
            "notes": list(self.notes),
            "streaming": self.streaming,
        }


def read_take(stored: Path, name: str, max_s: float) -> tuple[np.ndarray, int, int]:
    """An uploaded file of at most ``max_s`` (by its header) as a mono take: ``((1, N) float32,
    sample rate, channels in the file)``. Blocks are downmixed as they are read, so memory holds
    only the mono take; a file longer than its header said is refused as soon as it passes
    ``max_s`` (the caller sends longer takes down the streaming path before decoding a sample)."""
    from ..io.audio import audio_info, downmix_to_mono, read_blocks
    from ..units import check_sample_rate

    info = audio_info(stored)
    check_sample_rate(info.sample_rate, f"{stored}: sample rate")
    limit = int(max_s * info.sample_rate)
    pieces: list[np.ndarray] = []
    frames = 0
    for block in read_blocks(stored):
        frames += block.shape[1]
        if frames > limit:
            pieces.clear()  # free what was decoded before answering
            raise HTTPError(400, f"{name}: longer than its header says ({info.duration_s / 60:.1f} min)")
        _check_peak(block, name, pieces)
        pieces.append(downmix_to_mono(block))
    audio = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=1)
    return audio, info.sample_rate, info.channels


def copy_as_mono_wav(stored: Path, path: Path, name: str) -> tuple[int, int]:
    """A long take's dry audio copied, block by block, from ``stored`` to ``path`` as a mono float
    WAV (memory does not grow with its length) -> ``(sample rate, samples)``."""
    from ..io.audio import audio_info, block_writer, downmix_to_mono, read_blocks
    from ..units import check_sample_rate

    rate = check_sample_rate(audio_info(stored).sample_rate, f"{name}: sample rate")
    samples = 0
    with block_writer(path, rate, 1, "FLOAT") as write:
        for block in read_blocks(stored):  # (NaN or infinity: AudioInputError, naming the file)
            _check_peak(block, name)
            write(downmix_to_mono(block))
            samples += block.shape[1]
    return rate, samples


def _check_peak(block: np.ndarray, name: str, pieces: list[np.ndarray] | None = None) -> None:
    """400 for samples beyond :data:`MAX_INPUT_PEAK` (not audio), freeing ``pieces`` first."""
    peak = float(np.max(np.abs(block))) if block.size else 0.0
    if peak > MAX_INPUT_PEAK:
        if pieces is not None:
            pieces.clear()
        raise HTTPError(400, f"{name}: peak {peak:.3g}; expected samples within +-{MAX_INPUT_PEAK:g} (full scale is 1)")

