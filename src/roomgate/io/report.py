"""The report of a render: typed here, written as JSON, declared by ``report.schema.json``.

Every report carries ``schema_version``; the shipped JSON Schema (:func:`schema`) declares every
key. The rig builds a :class:`Report`; the CLI, the plot and the studio read it through these
types (:meth:`Report.from_json` for a report read back from disk), never by raw keys.

The contract keys (``sample_rate``, ``duration_s``, ``mics`` with ``name``, ``distance_m``,
``gain_db``, ``threshold_db``, ``open_fraction``, ``intervals``, and ``timeline`` with ``hop_s``,
``key_db``, ``gain``) are as DESIGN.md lists them; the rest adds what a user needs to read a
render back: where each mic stood, the closing thresholds, the normalisation.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .timeline import TimelineRecorder

if TYPE_CHECKING:
    from .outputs import StagedOutputs

__all__ = [
    "SCHEMA_VERSION", "InputReport", "MicReport", "OutputReport", "Report", "RoomReport", "SingerReport",
    "TimelineReport", "build_report", "read_report", "schema", "write_report",
]

#: Bumped when a key changes meaning or disappears (adding a key keeps the version).
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class MicReport:
    """What one mic did. ``threshold_db`` and ``close_threshold_db`` are ``None`` when ungated."""

    name: str
    distance_m: float | None  # from the singer
    gain_db: float | None  # the trim applied, gate aside
    threshold_db: float | None  # where the gate opens, dBFS of its key detector
    close_threshold_db: float | None = None  # where it starts to close (threshold less hysteresis)
    position_m: list[float] | None = None
    pattern: str | None = None
    threshold: float | str | None = None  # as the preset set it: -30, "p65", "-6 dB re peak"
    key: str | None = None  # the mic (or "dry", "self") whose level opens the gate
    hold_ms: float | None = None  # the gate's hold and release as run ("room" resolved); None ungated
    release_ms: float | None = None
    open_fraction: float = 1.0  # share of the take the gate was open (holding included)
    intervals: list[list[float]] = field(default_factory=list)  # [[start_s, end_s], ...] open

    @property
    def is_gated(self) -> bool:
        return self.threshold_db is not None


@dataclass(frozen=True)
class TimelineReport:
    """Sampled every ``hop_s``: the key's level (dBFS, the frame's highest) and each mic's gain."""

    hop_s: float
    key_db: list[float]
    gain: dict[str, list[float]]


@dataclass(frozen=True)
class InputReport:
    samples: int
    channels: int
    mode: str  # "dry" (one voice through the modelled room) or "multitrack" (recorded mics)
    path: str | None = None  # the file rendered (render)
    paths: list[str] | None = None  # the files mixed (mix)
    name: str | None = None  # the take's name (studio)
    alignment: dict[str, dict[str, float]] | None = None  # mix --estimate-delays: per room mic


@dataclass(frozen=True)
class OutputReport:
    channels: int
    normalization_db: float  # the gain applied to reach the output peak or loudness (0 when not normalising)
    peak_db_before_normalization: float | None  # None for a silent render
    normalize: str | None = None  # "peak", "lufs" or "none" (output.normalize)
    # With normalize = "lufs": the render's integrated loudness (BS.1770) and true peak before the
    # gain; after it, each is its value plus normalization_db. None when silent.
    loudness_lufs_before_normalization: float | None = None
    true_peak_db_before_normalization: float | None = None
    loudness_target_lufs: float | None = None  # output.loudness_lufs (the ceiling may hold the render under it)


@dataclass(frozen=True)
class RoomReport:
    size_m: list[float]
    rt60_s: float | dict[str, float] | None  # None when set by materials or measured IRs


@dataclass(frozen=True)
class SingerReport:
    position_m: list[float]


@dataclass(frozen=True, kw_only=True)
class Report:
    """A render's report. :meth:`to_json` gives the dict written to disk, in this field order."""

    schema_version: int = SCHEMA_VERSION
    roomgate_version: str = ""
    preset: str
    sample_rate: int
    duration_s: float
    input: InputReport | None = None
    output: OutputReport | None = None
    room: RoomReport | None = None
    singer: SingerReport | None = None
    mics: list[MicReport]
    timeline: TimelineReport

    def mic(self, name: str) -> MicReport:
        return next(m for m in self.mics if m.name == name)

    @property
    def gated_mics(self) -> list[MicReport]:
        return [m for m in self.mics if m.is_gated]

    def with_input(self, **changes: Any) -> Report:
        """A copy whose input part has ``changes`` (a face adds the file it read, for example)."""
        assert self.input is not None
        return replace(self, input=replace(self.input, **changes))

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict (no NaN or infinity: those become null; the timeline is finite by
        construction and long, so it is not walked)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "timeline"}
        return {**_finite(_as_dict(data)), "timeline": _as_dict(self.timeline)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """A report read back (e.g. from a file :func:`write_report` wrote)."""
        parts: dict[str, Any] = {k: v for k, v in data.items() if k in _FIELDS[cls]}
        parts["mics"] = [_build(MicReport, m) for m in data["mics"]]
        parts["timeline"] = _build(TimelineReport, data["timeline"])
        for key, kind in (("input", InputReport), ("output", OutputReport), ("room", RoomReport),
                          ("singer", SingerReport)):
            if data.get(key) is not None:
                parts[key] = _build(kind, data[key])
        return cls(**parts)


def build_report(recorder: TimelineRecorder, mics: Sequence[MicReport], *, preset: str,
                 input: InputReport | None = None, output: OutputReport | None = None,
                 room: RoomReport | None = None, singer: SingerReport | None = None) -> Report:
    """The report of a finished recording: ``mics`` (in the rig's order) get their open fraction
    and intervals from ``recorder``, the timeline its frames."""
    recorder.finish()
    filled = [replace(m, open_fraction=round(recorder.open_fraction(m.name), 6),
                      intervals=recorder.intervals_s(m.name)) for m in mics]
    timeline = TimelineReport(
        hop_s=recorder.hop_s,
        key_db=_rounded(recorder.key_db_frames, 2),
        gain={t.name: _rounded(t.gain_frames, 5) for t in recorder.mics},
    )
    return Report(preset=preset, sample_rate=recorder.sample_rate,
                  duration_s=round(recorder.samples_seen / recorder.sample_rate, 6), mics=filled,
                  timeline=timeline, input=input, output=output, room=room, singer=singer,
                  roomgate_version=_version())


def write_report(path: str | os.PathLike[str], report: Report, *, staged: StagedOutputs | None = None) -> Path:
    """Write the report as JSON, atomically (with ``staged``: placed with a command's other
    outputs). Strict JSON: a NaN or infinity would be a bug, and is refused rather than written."""
    from .audio import atomic_output

    path = Path(path)
    text = json.dumps(report.to_json(), indent=1, allow_nan=False) + "\n"
    with atomic_output(path, staged) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def read_report(path: str | os.PathLike[str]) -> Report:
    """A report file read back."""
    return Report.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every report validates against, shipped with the package."""
    text = (resources.files("roomgate.io") / "report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


# -- helpers ---------------------------------------------------------------------------------------

_FIELDS = {kind: {f.name for f in fields(kind)} for kind in
           (Report, MicReport, TimelineReport, InputReport, OutputReport, RoomReport, SingerReport)}


def _build(kind: Any, data: dict[str, Any]) -> Any:
    return kind(**{k: v for k, v in data.items() if k in _FIELDS[kind]})


def _as_dict(value: Any) -> Any:
    """Dataclasses to dicts in field order, recursively (``dataclasses.asdict`` deep-copies)."""
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _as_dict(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [_as_dict(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_dict(v) for k, v in value.items()}
    return value


def _rounded(chunks: list[np.ndarray], decimals: int) -> list[float]:
    if not chunks:
        return []
    return np.round(np.concatenate(chunks).astype(np.float64), decimals).tolist()


def _finite(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _version() -> str:
    from .. import __version__

    return __version__
