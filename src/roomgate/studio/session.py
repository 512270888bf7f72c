"""The studio's session: one user's rig, take and renders, and the private folder their files live in.

A :class:`Studio` holds the preset and the changes made to it (with Undo), the take, the last few
renders (B) and the versions with every gate open (C), the monitor (solo, mute), the demo voices
and the hall panel's measures. Its files are named only by ids it makes (``t-<hex>`` for a take's
dry audio, ``r-<hex>`` for a render, ``o-<hex>`` for a render with every gate open). It speaks in
JSON-ready dicts and :class:`~.errors.HTTPError`; the HTTP layer (:mod:`.api`) only translates.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RigConfig, apply_overrides, builtin_presets, parse_config, read_preset_table
from ..errors import AudioInputError, RoomgateError
from ..io.report import Report
from ..rig import Rig
from .capture import CaptureCache
from .errors import HTTPError
from .hall import HallCache
from .levels import LevelsWorker
from .renderer import Monitor, Outcome, Renderer
from .rig_view import describe_rig
from .settings import check_changes, check_no_new_files, merge_overrides, preset_file_text, read_preset_text
from .takes import Take, copy_as_mono_wav, read_take
from .wire import audio_patch, float_wav_bytes, report_json

__all__ = ["Studio", "new_id", "safe_stem"]

# Takes up to this long are kept in memory and re-rendered on the fast path (the captured mics
# kept, the gates and the mix run again); longer ones stream from disk through the render job.
MEMORY_TAKE_S = 6 * 60.0
KEPT_RENDERS = 4  # older renders are deleted (their ids then answer 404)
KEPT_OPEN_VERSIONS = 2  # C renders (every gate open) kept, for the settings they depend on
DEMO_VOICES_KEPT = 2  # demo voices kept in memory, by sample rate (one is ~10 MB at 48 kHz)
_ID = re.compile(r"^[tro]-[0-9a-f]{16}$")  # a take, a render, a render with every gate open


@dataclass
class RenderResult:
    id: str
    take_id: str
    path: Path
    report: Report = field(repr=False)
    rig: dict[str, Any] = field(repr=False)
    elapsed_s: float
    irs_s: float  # of which getting the IRs (the acoustics layer simulates only mics it has not cached)
    convolved_mics: list[str] = field(default_factory=list)
    monitor: Monitor = field(default_factory=Monitor)
    # The mix before normalisation (C, n), kept for the last two renders: the page plays it at
    # ``normalization_db`` and is sent the samples that change from one render to the next.
    samples: np.ndarray | None = field(default=None, repr=False)
    play_gain: float = 1.0  # the normalisation, linear, as float32 applies it (1: the WAV is what is played)
    written: Future[Any] | None = field(default=None, repr=False)  # the file, written in the background

    def describe(self, include_report: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "take_id": self.take_id,
            "audio_url": f"/api/audio/{self.id}",
            "levels_url": f"/api/levels/{self.id}",
            "elapsed_s": round(self.elapsed_s, 4),
            "irs_s": round(self.irs_s, 4),
            "convolved_mics": list(self.convolved_mics),
            "monitor": self.monitor.to_json(),
            "raw_audio_url": f"/api/audio/{self.id}?raw=1" if self.samples is not None else None,
            "play_gain": self.play_gain,
            "rig": self.rig,
        }
        if include_report:
            out["report"] = report_json(self.report)
        return out


@dataclass
class OpenVersion:
    """C, the take through the rig with every gate open: its file and meters."""

    id: str
    path: Path
    levels: dict[str, Any] = field(repr=False)


class LRUCache:
    """Arrays by key; the least recently used is dropped once there are more than ``max_items``."""

    def __init__(self, max_items: int):
        self.max_items = max_items
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def put(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)


class Studio:
    """One user's session: the preset and its changes, the take, the renders, the files."""

    def __init__(
        self,
        workdir: Path,
        preset: str | Path = "heroes-1977",
        overrides: Sequence[str] = (),
        max_upload_bytes: int = 200 * 1024 * 1024,
    ):
        self.workdir = Path(workdir)
        self.max_upload_bytes = int(max_upload_bytes)
        self.lock = threading.RLock()  # guards the fields below
        self.render_lock = threading.Lock()  # one render at a time
        self._prefetch_lock = threading.Lock()
        self._prefetch_next: tuple[Any, Take] | None = None
        self._prefetch_running = False
        self._demo_voices = LRUCache(DEMO_VOICES_KEPT)
        self.take: Take | None = None
        self.renders: OrderedDict[str, RenderResult] = OrderedDict()
        self.renderer = Renderer()
        self.monitor = Monitor()
        self.levels = LevelsWorker()
        self.memory_take_s = MEMORY_TAKE_S
        self.hall_cache = HallCache()
        self._open_versions: OrderedDict[str, OpenVersion] = OrderedDict()  # C renders by what they depend on
        # Render files are written (and old ones deleted) in order on this thread, behind the
        # renders: the page plays each render's mix from memory (see RenderResult.samples).
        self._files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roomgate-studio-files")
        self._start = (preset, list(overrides))
        self._load_preset(preset, overrides)

    # -- settings ------------------------------------------------------------------------------

    def _load_preset(self, preset: str | Path, overrides: Sequence[str]) -> None:
        """Start from a preset: its table with ``overrides`` baked in (they are not listed as
        changes, and Undo stops there)."""
        table, path = read_preset_table(preset)
        table = apply_overrides(table, merge_overrides([], overrides))
        self._start_from(table, path, parse_config(table, source=str(path)))

    def _start_from(self, table: dict[str, Any], path: Path, config: RigConfig) -> None:
        """Make ``table`` (read from ``path``, parsed as ``config``) the preset, with no changes."""
        with self.lock:
            self.preset_name = str(table.get("name", path.stem))
            self.base_table, self.preset_path = table, path
            self.overrides: list[str] = []
            self.rig = Rig(config)

    def _apply(self, overrides: list[str]) -> dict[str, Any]:
        config = parse_config(self._table_with(overrides), source=str(self.preset_path))
        self.overrides = overrides
        self.rig = Rig(config)
        return self.describe_rig()

    def _table_with(self, overrides: list[str]) -> dict[str, Any]:
        """The preset's table with ``overrides`` applied; a change may not name a file to read."""
        table = apply_overrides(self.base_table, overrides)
        check_no_new_files(self.base_table, table)
        return table

    def change(self, changes: Sequence[str]) -> dict[str, Any]:
        """Apply ``KEY=VALUE`` changes (all or none); a later value for a key replaces the earlier."""
        check_changes(changes)
        with self.lock:
            return self._apply(merge_overrides(self.overrides, changes))

    def undo(self) -> dict[str, Any]:
        with self.lock:
            if not self.overrides:
                return self.describe_rig()
            return self._apply(self.overrides[:-1])

    def reset(self, preset: str | None = None) -> dict[str, Any]:
        """Back to the rig the studio started with, or to a built-in preset by name."""
        if preset is None:
            self._load_preset(*self._start)
            return self.describe_rig()
        if preset not in builtin_presets():  # never a path: the API reads no file it is named
            names = ", ".join(sorted(builtin_presets()))
            raise HTTPError(400, f"preset: expected a built-in preset ({names}), got {preset!r}")
        self._load_preset(preset, ())
        return self.describe_rig()

    def describe_rig(self) -> dict[str, Any]:
        with self.lock:
            return describe_rig(self.rig, self.overrides, self.preset_name)

    def preset_toml(self, name: str | None = None) -> str:
        """The rig as a preset file: the preset's table with the changes applied, called ``name``
        when given (the name the user typed)."""
        with self.lock:
            table = apply_overrides(self.base_table, self.overrides)
            overrides, from_preset, preset_path = list(self.overrides), self.preset_name, self.preset_path
        return preset_file_text(table, overrides, from_preset, preset_path.parent, name)

    def open_preset(self, file_name: str, text: str) -> dict[str, Any]:
        """Start again from a preset file the page read from disk (its TOML text) -> the rig.

        The studio reads no file a request names, so a preset naming measured IR files is
        refused (render it with ``roomgate render --preset``)."""
        name, table, config = read_preset_text(file_name, text)
        with self.lock:
            self._start_from(table, Path(name), config)
            return self.describe_rig()

    def hall(self, have: set[str]) -> dict[str, Any]:
        """The hall panel's data for the rig's mics at the take's sample rate (see :mod:`.hall`)."""
        with self.lock:
            take, rig = self.take, self.rig
        if take is None:
            raise HTTPError(409, "no take loaded: the hall is measured at the take's sample rate")
        rate = take.sample_rate
        irs = rig.impulse_responses(rate)
        return self.hall_cache.describe(rig.mic_names, [m.distance_m for m in rig.config.mics], irs, rate, have)

    # -- takes ---------------------------------------------------------------------------------

    def load_demo(self, sample_rate: float) -> dict[str, Any]:
        from ..synth.voice import sung_crescendo
        from ..units import check_sample_rate

        try:
            rate = check_sample_rate(sample_rate)
        except AudioInputError as error:
            raise HTTPError(400, str(error)) from None
        voice = self._demo_voices.get(str(rate))
        if voice is None:
            voice = sung_crescendo(rate)
            self._demo_voices.put(str(rate), voice)
        return self._set_take("demo voice (sung crescendo)", voice, rate, [])

    def load_upload(self, name: str, stored: Path) -> dict[str, Any]:
        """Check an uploaded file is audio (400 naming the problem) and make it the take. Its header
        is read first: a take longer than :attr:`memory_take_s` stays on disk and renders through
        the streaming job; a shorter one is decoded block by block (:func:`read_take`)."""
        from ..io.audio import audio_info

        try:
            if stored.stat().st_size == 0:
                raise HTTPError(400, f"{name}: the file is empty; expected audio")
            try:
                info = audio_info(stored)
                if info.duration_s > self.memory_take_s:
                    return self._set_long_take(name, stored, info.channels)
                audio, sample_rate, channels = read_take(stored, name, self.memory_take_s)
            except AudioInputError as error:  # name the user's file, not our private path
                raise HTTPError(400, str(error).replace(str(stored), name)) from None
        finally:
            stored.unlink(missing_ok=True)
        notes = []
        if channels > 1:
            notes.append(f"{channels} channels downmixed to mono (the rig takes one dry voice)")
        return self._set_take(name, audio, sample_rate, notes)

    def _set_long_take(self, name: str, stored: Path, channels: int) -> dict[str, Any]:
        """A long take: its dry audio copied to a mono float WAV for listening and rendering."""
        take_id = new_id("t")
        path = self.workdir / f"{take_id}.wav"
        rate, samples = copy_as_mono_wav(stored, path, name)
        notes = [f"{samples / rate / 60:.1f} min: longer than {self.memory_take_s / 60:g} min, so each change "
                 "renders the whole take from disk; solo, mute and C (every gate open) need a shorter take"]
        if channels > 1:
            notes.insert(0, f"{channels} channels downmixed to mono (the rig takes one dry voice)")
        return self._install_take(Take(take_id, name, None, rate, path, notes, samples))

    def _set_take(self, name: str, audio: np.ndarray, sample_rate: int, notes: list[str]) -> dict[str, Any]:
        from ..io.audio import write_audio

        take_id = new_id("t")
        path = self.workdir / f"{take_id}.wav"
        write_audio(path, audio, sample_rate, "FLOAT")
        take = Take(take_id, name, audio, sample_rate, path, notes, audio.shape[1], CaptureCache(audio))
        return self._install_take(take)

    def _install_take(self, take: Take) -> dict[str, Any]:
        """Make ``take`` the take; the old one's files go."""
        with self.lock:
            old = self.take
            self.take = take
            renders = list(self.renders.values())
            self.renders.clear()
            opened = list(self._open_versions.values())
            self._open_versions.clear()
        self._delete_files([item.path for item in ([old] if old else []) + renders + opened])
        return take.describe()

    def _delete_files(self, paths: Sequence[Path]) -> None:
        """Delete files after any write of them still queued."""
        for path in paths:
            self._files.submit(path.unlink, missing_ok=True)

    def flush_files(self) -> None:
        """Wait for the queued file writes and deletions."""
        self._files.submit(lambda: None).result()

    # -- rendering -----------------------------------------------------------------------------

    def prefetch(self, changes: Sequence[str]) -> dict[str, Any]:
        """Prepare, in the background, what a render after ``changes`` will need: the moved mic's
        IR (simulated and cached by the acoustics layer) and its capture of the take (the page
        asks while a mic is being dragged, so that only the gates and the mix are left when it is
        let go). Changes nothing; an invalid change is a 400 as for :meth:`change`. The latest
        request wins."""
        check_changes(changes)
        with self.lock:
            take = self.take
            overrides = merge_overrides(self.overrides, changes)
        config = parse_config(self._table_with(overrides), source=str(self.preset_path))
        if take is None:
            return {"queued": False}
        with self._prefetch_lock:
            self._prefetch_next = (config, take)
            if self._prefetch_running:
                return {"queued": True}
            self._prefetch_running = True
        threading.Thread(target=self._prefetch_worker, name="roomgate-studio-prefetch", daemon=True).start()
        return {"queued": True}

    def _prefetch_worker(self) -> None:
        while True:
            with self._prefetch_lock:
                job, self._prefetch_next = self._prefetch_next, None
                if job is None:
                    self._prefetch_running = False
                    return
            config, take = job
            try:  # the acoustics layer simulates (and caches) the moved mic's IR; then its capture
                irs = Rig(config).capture_irs(take.sample_rate)
                if take.capture is not None:
                    take.capture.prefetch(irs)
            except RoomgateError:
                pass  # the render will say what is wrong

    def render(self, since: str | None = None) -> dict[str, Any]:
        """Render the take through the rig as the monitor hears it -> the render's description.

        An in-memory take runs the fast path (:class:`Renderer`: kept captures, the gates and the
        mix); a long one the streaming render job. Its levels (the A/B/C meters and matching
        gains) are measured when the page asks for them (:meth:`levels_of`). With ``since`` naming the
        render the page holds, timeline rows that did not change are sent as null (listed in
        ``unchanged``).
        """
        with self.lock:
            take, rig, monitor = self.take, self.rig, self.monitor.restricted_to(self.rig.mic_names)
        if take is None:
            raise HTTPError(409, "no take loaded: load the demo voice or upload an audio file first")
        with self.render_lock:
            started = time.perf_counter()
            rig.capture_irs(take.sample_rate)  # (simulated by the acoustics layer where not cached)
            irs_s = time.perf_counter() - started
            render_id = new_id("r")
            path = self.workdir / f"{render_id}.wav"
            if take.audio is None:
                outcome = self._render_long(take, rig, path)
            else:
                outcome = self.renderer.render(rig, take.audio, take.sample_rate, take.capture, monitor)
            elapsed_s = time.perf_counter() - started
            report = outcome.render.report.with_input(name=take.name)
            with self.lock:
                overrides, preset_name = list(self.overrides), self.preset_name
            entry = RenderResult(render_id, take.id, path, report, describe_rig(rig, overrides, preset_name),
                                 elapsed_s, irs_s, outcome.convolved, monitor)
            if not take.streaming:  # the WAV and its file are made behind: the page plays ``samples``
                entry.written = self._files.submit(_write_render, entry, outcome.render.audio, take.sample_rate)
                entry.samples = outcome.raw
                if outcome.raw is not None:
                    entry.play_gain = float(np.float32(10 ** (outcome.render.normalization_db / 20)))
        previous = self._keep_render(entry, take, since)
        self.levels.submit(render_id, lambda: self._measure_levels(entry, outcome, take, rig, monitor))
        described = entry.describe()
        if previous is not None:
            _drop_unchanged_rows(described, previous.report)
        return described

    def _keep_render(self, entry: RenderResult, take: Take, since: str | None) -> RenderResult | None:
        """Make ``entry`` (a render of ``take``) the latest render -> the render ``since`` names, if
        still kept. 409 when the take changed while it rendered. Of the older renders, only the one
        before keeps its samples (the page holds it), and only the last :data:`KEPT_RENDERS` their files."""
        with self.lock:
            if self.take is None or self.take.id != take.id:  # a new take arrived meanwhile
                self._delete_files([entry.path])
                raise HTTPError(409, "the take changed while rendering; render again")
            previous = self.renders.get(since) if since else None
            for index, older in enumerate(reversed(self.renders.values())):
                if index:  # the render before this one keeps its samples: the page holds it
                    older.samples = None
            self.renders[entry.id] = entry
            dropped = []
            while len(self.renders) > KEPT_RENDERS:
                dropped.append(self.renders.popitem(last=False)[1])
        self._delete_files([old.path for old in dropped])
        return previous

    def _render_long(self, take: Take, rig: Rig, path: Path) -> Outcome:
        """A long take through the streaming render job (from its file on disk into ``path``)."""
        from ..rig.job import Outputs, render_file

        if self.monitor.restricted_to(rig.mic_names) != Monitor():
            raise HTTPError(409, f"solo and mute need a take of at most {self.memory_take_s / 60:g} min; "
                                 "clear them to render this one")
        result = render_file(rig, take.path, Outputs(path, "FLOAT"))
        return Outcome(result.render, list(rig.mic_names), None, rig.calibration)

    def set_monitor(self, solo: Sequence[str], mute: Sequence[str]) -> dict[str, Any]:
        """Solo or mute mics (names of the rig's mics) -> the monitor; the next render hears it."""
        with self.lock:
            names = self.rig.mic_names
            for what, given in (("solo", solo), ("mute", mute)):
                if not isinstance(given, list) or not all(isinstance(n, str) for n in given):
                    raise HTTPError(400, f"{what}: expected a list of mic names, got {given!r}")
                unknown = [n for n in given if n not in names]
                if unknown:
                    raise HTTPError(400, f"{what}: no mic named {unknown[0]!r}; the mics are {', '.join(names)}")
            self.monitor = Monitor(tuple(n for n in names if n in solo), tuple(n for n in names if n in mute))
            return self.monitor.to_json()

    def levels_of(self, render_id: str) -> dict[str, Any]:
        """The A/B/C levels of a render (measured now, the first time they are asked for)."""
        if not _ID.match(render_id) or not render_id.startswith("r-"):
            raise HTTPError(404, "no such render")
        result = self.levels.get(render_id)
        if result is None:
            raise HTTPError(404, "no levels for this render (a later render replaced it); ask for the latest")
        if "error" in result:
            raise HTTPError(500, result["error"])
        return result

    def _measure_levels(self, entry: RenderResult, outcome: Outcome, take: Take, rig: Rig,
                        monitor: Monitor) -> dict[str, Any]:
        """A (the dry take), B (this render) and C (every gate open): meters, integrated loudness
        and the gains that bring A and C to B's loudness."""
        from .levels import file_levels, signal_levels
        from .meters import match_gains_db

        if take.dry_levels is None:
            dry = file_levels(take.path) if take.audio is None else signal_levels(take.audio, take.sample_rate)
            take.dry_levels = dry.to_json()
        rig_levels = (file_levels(entry.path) if take.audio is None
                      else signal_levels(outcome.render.audio, take.sample_rate)).to_json()
        opened = self._open_version(take, rig, outcome, monitor)
        reference = rig_levels["integrated_lufs"]
        loudness = {"dry": take.dry_levels["integrated_lufs"]}
        if opened is not None:
            loudness["open"] = opened.levels["integrated_lufs"]
        gains = match_gains_db(_lufs(reference), {k: _lufs(v) for k, v in loudness.items()})
        versions: dict[str, Any] = {
            "dry": {"id": take.id, "audio_url": f"/api/audio/{take.id}", "gain_db": gains["dry"],
                    "levels": take.dry_levels},
            "rig": {"id": entry.id, "audio_url": f"/api/audio/{entry.id}", "gain_db": 0.0, "levels": rig_levels},
            "open": None if opened is None else {"id": opened.id, "audio_url": f"/api/audio/{opened.id}",
                                                 "gain_db": gains["open"], "levels": opened.levels},
        }
        return {"render_id": entry.id, "versions": versions}

    def _open_version(self, take: Take, rig: Rig, outcome: Outcome, monitor: Monitor) -> OpenVersion | None:
        """C for this render: made when what it depends on (the capture, the trims, pans and
        output, the monitor) changed, else the one made before."""
        from ..io.audio import write_audio
        from .levels import signal_levels

        if outcome.captured is None:
            return None
        key = json.dumps([take.id, outcome.digests, outcome.captured.shape[1],
                          [[m.name, m.gain_db, m.match_offset_lu, m.pan, m.invert_polarity] for m in rig.config.mics],
                          dataclasses.asdict(rig.config.output), monitor.to_json(),
                          outcome.calibration.gains_db if outcome.calibration else None])
        with self.lock:
            found = self._open_versions.get(key)
        if found is not None:
            return found
        render = self.renderer.render_open(rig, outcome, take.sample_rate, monitor)
        assert render is not None
        open_id = new_id("o")
        path = self.workdir / f"{open_id}.wav"
        write_audio(path, render.audio, take.sample_rate, "FLOAT")
        version = OpenVersion(open_id, path, signal_levels(render.audio, take.sample_rate).to_json())
        with self.lock:
            if self.take is not take:  # the take changed meanwhile
                path.unlink(missing_ok=True)
                return None
            self._open_versions[key] = version
            dropped = []
            while len(self._open_versions) > KEPT_OPEN_VERSIONS:
                dropped.append(self._open_versions.popitem(last=False)[1])
        for old in dropped:
            old.path.unlink(missing_ok=True)
        return version

    @property
    def last_render(self) -> RenderResult | None:
        with self.lock:
            return next(reversed(self.renders.values())) if self.renders else None

    def audio_patch(self, audio_id: str, since: str) -> bytes | None:
        """The latest render's mix before normalisation as a patch to the render ``since`` the
        page holds (see :func:`audio_patch`), or None when that is not worth it or not possible."""
        with self.lock:
            last = self.last_render
            before = self.renders.get(since)
        if last is None or audio_id != last.id or before is None or last.samples is None or before.samples is None:
            return None
        return audio_patch(before.samples, last.samples, self.take.sample_rate if self.take else 0)

    def raw_audio(self, audio_id: str) -> bytes:
        """The latest render's mix before normalisation, as a float WAV (404 for another)."""
        with self.lock:
            last = self.last_render
            samples = last.samples if last is not None and audio_id == last.id else None
        if samples is None:
            raise HTTPError(404, "no unnormalised mix for this render (only the latest has one; ask for its WAV)")
        return float_wav_bytes(samples, self.take.sample_rate if self.take else 0)

    def audio_file(self, audio_id: str) -> tuple[Path, str]:
        """The file behind an id the server gave out, and a name for downloading it."""
        with self.lock:
            take = self.take
            if audio_id == "dry":
                audio_id = take.id if take else ""
            elif audio_id == "render":
                last = self.last_render
                audio_id = last.id if last else ""
            if not _ID.match(audio_id):
                raise HTTPError(404, "no such audio")
            stem = safe_stem(take.name if take else "take")
            if take is not None and audio_id == take.id:
                return take.path, f"{stem}-dry.wav"
            opened = next((v for v in self._open_versions.values() if v.id == audio_id), None)
            if opened is not None:
                return opened.path, f"{stem}-{safe_stem(self.preset_name)}-gates-open.wav"
            render = self.renders.get(audio_id)
            if render is None:
                raise HTTPError(404, "no such audio (renders older than the last few are deleted)")
            name = f"{stem}-{safe_stem(self.preset_name)}.wav"
        if render.written is not None:  # (written behind the render, outside the lock)
            render.written.result()
        return render.path, name

    def state(self) -> dict[str, Any]:
        last = self.last_render
        with self.lock:
            take = self.take
        return {
            "rig": self.describe_rig(),
            "take": take.describe() if take else None,
            "render": last.describe() if last else None,
            "presets": sorted(builtin_presets()),
            "max_upload_bytes": self.max_upload_bytes,
            "monitor": self.monitor.to_json(),
        }


def _write_render(entry: RenderResult, audio: np.ndarray, sample_rate: int) -> None:
    """The render's WAV written to its (private) file, named by an id given out with it."""
    entry.path.write_bytes(float_wav_bytes(audio, sample_rate))


def _lufs(value: float | None) -> float:
    return -math.inf if value is None else float(value)


def _drop_unchanged_rows(described: dict[str, Any], previous: Report) -> None:
    """Null the timeline rows of a render's description that equal ``previous``'s (the page
    keeps them), and list them under ``unchanged``: ``key_db`` and ``gain.<mic>``."""
    timeline = described["report"]["timeline"]
    before = previous.timeline
    if before.hop_s != timeline["hop_s"]:
        return
    unchanged = []
    if timeline["key_db"] == before.key_db:
        timeline["key_db"] = None
        unchanged.append("key_db")
    for name, gains in timeline["gain"].items():
        if before.gain.get(name) == gains:
            timeline["gain"][name] = None
            unchanged.append(f"gain.{name}")
    described["unchanged"] = unchanged


def new_id(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(8)}"


def safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).stem).strip("-.") or "take"
    return stem[:60]

