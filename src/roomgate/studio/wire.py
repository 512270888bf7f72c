"""What the studio sends the page as bytes: a render as a float WAV, as a patch of the samples
that changed since the render the page holds, and the report as JSON (quickly, for long takes)."""

from __future__ import annotations

import dataclasses
import json
import struct
from typing import Any

import numpy as np

from ..io.report import Report, TimelineReport

__all__ = ["PATCH_MAGIC", "PATCH_MEDIA_TYPE", "audio_patch", "float_wav_bytes", "report_json"]

PATCH_MAGIC = b"RGPATCH1"  # a render sent as the samples that changed since the one the page holds
PATCH_MEDIA_TYPE = "application/x-roomgate-patch"


def report_json(report: Report) -> dict[str, Any]:
    """``report.to_json()`` without walking the timeline's long lists (they are plain lists of
    finite floats already): the same dict, a few times faster for a long take."""
    empty = dataclasses.replace(report, timeline=TimelineReport(report.timeline.hop_s, [], {}))
    data = empty.to_json()
    timeline = report.timeline
    data["timeline"] = {"hop_s": timeline.hop_s, "key_db": list(timeline.key_db),
                        "gain": {name: list(values) for name, values in timeline.gain.items()}}
    return data


def audio_patch(before: np.ndarray, after: np.ndarray, sample_rate: int, *, gap_samples: int = 512,
                max_share: float = 0.6) -> bytes | None:
    """``after`` as the runs of samples where it differs from ``before``, for a page that holds
    ``before``: a re-gated render differs only where a changed gate's gain did. None when the shapes
    differ or the runs would cover more than ``max_share`` of the samples (send the whole WAV).

    The format (little-endian): ``b"RGPATCH1"``, a uint32 byte count, that many bytes of JSON
    ``{"frames", "channels", "sample_rate", "runs": [[start, length], ...]}`` padded with spaces to
    a multiple of 4, then for each run and each channel its float32 samples. Runs closer than
    ``gap_samples`` are joined (the samples between are sent as they are).

    Shape: before, after ``(C, n)`` float32.
    """
    if before.shape != after.shape or after.ndim != 2 or after.shape[1] == 0:
        return None
    changed = np.any(before != after, axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], changed, [False])).astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    if starts.size:
        keep = np.concatenate(([True], starts[1:] - ends[:-1] >= gap_samples))  # the runs that start anew
        starts, ends = starts[keep], np.concatenate((ends[:-1][keep[1:]], ends[-1:]))
    if int(np.sum(ends - starts)) > max_share * after.shape[1]:
        return None
    runs = [[int(a), int(b - a)] for a, b in zip(starts, ends)]
    header = json.dumps({"frames": after.shape[1], "channels": after.shape[0], "sample_rate": sample_rate,
                         "runs": runs}).encode("utf-8")
    header += b" " * (-len(header) % 4)
    data = [np.ascontiguousarray(after[:, a:b], dtype="<f4").tobytes() for a, b in zip(starts, ends)]
    return b"".join([PATCH_MAGIC, struct.pack("<I", len(header)), header, *data])


def float_wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A ``(C, N)`` signal as the bytes of a 32-bit float WAV file (WAVE_FORMAT_IEEE_FLOAT, with the
    fact chunk non-PCM formats carry), as soundfile writes it, without a temporary file."""
    channels, frames = audio.shape
    data = np.ascontiguousarray(audio.T, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, channels, sample_rate, sample_rate * channels * 4, channels * 4, 32, 0)
    chunks = [b"fmt ", struct.pack("<I", len(fmt)), fmt, b"fact", struct.pack("<II", 4, frames),
              b"data", struct.pack("<I", len(data))]
    header = b"".join(chunks)
    return b"".join([b"RIFF", struct.pack("<I", 4 + len(header) + len(data)), b"WAVE", header, data])

