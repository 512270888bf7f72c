"""The studio's server: a Starlette app over one :class:`~roomgate.rig.rig.Rig`, and :func:`serve`.

One user, one session, on this machine. The state (the take, the rig's settings, the renders)
lives in a :class:`Studio`; files live in a private folder and are addressed only by ids the
server makes (``t-<hex>`` for a take's dry audio, ``r-<hex>`` for a render, ``o-<hex>`` for a
render with every gate open).

API (JSON unless noted; every ``/api`` request needs the token, as the header
``X-Roomgate-Token`` or ``?token=``):

======  ======================  ==========================================================
GET     /                       the page (``?token=`` required)
GET     /static/{name}          the page's script and style sheet
GET     /api/state              rig, take, last render (with its report), built-in presets, monitor
GET     /api/rig                the rig: room, singer, mics (positions, distances, gains, gates)
POST    /api/settings           ``{"set": ["mics.far.distance_m=12", ...]}`` -> the rig; 400 names the key
POST    /api/settings/undo      drop the last change -> the rig
POST    /api/prefetch           ``{"set": [...]}``: prepare those changes' IRs and captures in the background
POST    /api/settings/reset     back to the starting rig, or ``{"preset": NAME}`` a built-in -> the rig
POST    /api/preset             ``{"name": FILE, "text": TOML}``: a preset read from disk by the page -> the rig
POST    /api/monitor            ``{"solo": [mic, ...], "mute": [...]}``: what B and C let through -> the monitor
POST    /api/take               multipart ``file``: an audio file (mono or downmixed) -> the take
POST    /api/take/demo          ``{"sample_rate": 48000}``: the built-in sung crescendo -> the take
POST    /api/render             ``{"since": RENDER}`` optional: render the take -> report (rows unchanged
                                since RENDER as null, listed in ``unchanged``), rig, audio and levels URLs
GET     /api/levels/{render}    A (dry), B (the render), C (every gate open): meters, loudness, matching
                                gains, audio URLs (measured when first asked for)
GET     /api/hall               each mic's IR (envelope, decay) and room measures; ``?have=DIGEST,...``
                                leaves out those the page holds
GET     /api/report             the last render's report
GET     /api/audio/{id}         WAV (32-bit float); ids: a take's, a render's or a C's, or ``dry`` /
                                ``render`` for the current ones; ``?download=1`` as attachment;
                                ``?raw=1`` the latest render's mix before normalisation (the page
                                plays it at the render's ``normalization_db``), ``&since=RENDER`` as
                                the samples changed since RENDER (:func:`audio_patch`) when worth it
GET     /api/preset.toml        the rig as a preset file (loadable by ``roomgate render --preset``);
                                ``?name=`` the name it carries
======  ======================  ==========================================================
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..config.nesting import MAX_NESTING, check_nesting
from ..config import RigConfig, apply_overrides, builtin_presets, parse_config, read_preset_table
from ..errors import AudioInputError, ConfigError, OutputError, RoomgateError
from ..interrupts import interrupts_on_termination
from ..io.report import Report
from ..rig import Rig
from .capture import CaptureCache
from .hall import HallCache
from .levels import LevelsWorker
from .renderer import Monitor, Outcome, Renderer
from .errors import HTTPError
from .rig_view import describe_rig
from .settings import check_changes, check_no_new_files, merge_overrides, preset_file_text, preset_name, read_preset_text
from .takes import Take, copy_as_mono_wav, read_take
from .wire import PATCH_MEDIA_TYPE, audio_patch, float_wav_bytes, report_json

TOKEN_HEADER = "X-Roomgate-Token"
ALLOWED_HOSTNAMES = ("127.0.0.1", "localhost", "[::1]")
# Takes up to this long are kept in memory and re-rendered on the fast path (the captured mics
# kept, the gates and the mix run again); longer ones stream from disk through the render job.
MEMORY_TAKE_S = 6 * 60.0
KEPT_RENDERS = 4  # older renders are deleted (their ids then answer 404)
KEPT_OPEN_VERSIONS = 2  # C renders (every gate open) kept, for the settings they depend on
DEMO_VOICES_KEPT = 2  # demo voices kept in memory, by sample rate (one is ~10 MB at 48 kHz)
_ID = re.compile(r"^[tro]-[0-9a-f]{16}$")  # a take, a render, a render with every gate open
_STATIC = {
    "studio.js": "text/javascript; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
}
_AUDIO_EXTENSIONS = {"wav", "wave", "flac", "ogg", "oga", "opus", "aif", "aiff", "aifc", "caf", "w64", "mp3", "rf64"}
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the token is in the page's URL: never send it on
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'none'",
    ),
    (b"cache-control", b"no-store"),
]


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
        take_id = _new_id("t")
        path = self.workdir / f"{take_id}.wav"
        rate, samples = copy_as_mono_wav(stored, path, name)
        notes = [f"{samples / rate / 60:.1f} min: longer than {self.memory_take_s / 60:g} min, so each change "
                 "renders the whole take from disk; solo, mute and C (every gate open) need a shorter take"]
        if channels > 1:
            notes.insert(0, f"{channels} channels downmixed to mono (the rig takes one dry voice)")
        return self._install_take(Take(take_id, name, None, rate, path, notes, samples))

    def _set_take(self, name: str, audio: np.ndarray, sample_rate: int, notes: list[str]) -> dict[str, Any]:
        from ..io.audio import write_audio

        take_id = _new_id("t")
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
            render_id = _new_id("r")
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
        with self.lock:
            if self.take is None or self.take.id != take.id:  # a new take arrived meanwhile
                self._delete_files([path])
                raise HTTPError(409, "the take changed while rendering; render again")
            previous = self.renders.get(since) if since else None
            for index, older in enumerate(reversed(self.renders.values())):
                if index:  # the render before this one keeps its samples: the page holds it
                    older.samples = None
            self.renders[render_id] = entry
            dropped = []
            while len(self.renders) > KEPT_RENDERS:
                dropped.append(self.renders.popitem(last=False)[1])
        self._delete_files([old.path for old in dropped])
        self.levels.submit(render_id, lambda: self._measure_levels(entry, outcome, take, rig, monitor))
        described = entry.describe()
        if previous is not None:
            _drop_unchanged_rows(described, previous.report)
        return described

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
        open_id = _new_id("o")
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
            stem = _safe_stem(take.name if take else "take")
            if take is not None and audio_id == take.id:
                return take.path, f"{stem}-dry.wav"
            opened = next((v for v in self._open_versions.values() if v.id == audio_id), None)
            if opened is not None:
                return opened.path, f"{stem}-{_safe_stem(self.preset_name)}-gates-open.wav"
            render = self.renders.get(audio_id)
            if render is None:
                raise HTTPError(404, "no such audio (renders older than the last few are deleted)")
            name = f"{stem}-{_safe_stem(self.preset_name)}.wav"
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


def _new_id(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(8)}"


def _safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).stem).strip("-.") or "take"
    return stem[:60]


# -- HTTP ----------------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def _endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Turn the errors a user can cause into JSON answers: HTTPError as is, RoomgateError as 400."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except HTTPError as error:
            return _error(error.status, error.message)
        except RoomgateError as error:
            return _error(400, str(error))

    wrapped.__name__ = handler.__name__
    return wrapped


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 1024 * 1024:
        raise HTTPError(413, "request body: expected at most 1 MB of JSON")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HTTPError(400, f"request body: expected JSON ({error})") from None
    except RecursionError:
        raise HTTPError(400, f"request body: nested more than {MAX_NESTING} levels deep") from None
    check_nesting(body, "request body")  # a ConfigError: 400
    if not isinstance(body, dict):
        raise HTTPError(400, f"request body: expected a JSON object, got {type(body).__name__}")
    return body


def create_app(
    token: str,
    workdir: Path,
    *,
    port: int | None = None,
    preset: str | Path = "heroes-1977",
    overrides: Sequence[str] = (),
    max_upload_bytes: int = 200 * 1024 * 1024,
) -> Any:
    """See :func:`roomgate.studio.create_app`."""
    if not token:
        raise ValueError("token: expected a non-empty secret")
    # The session's files go in a folder of their own, readable by this user only.
    private = Path(tempfile.mkdtemp(prefix="session-", dir=workdir))
    os.chmod(private, 0o700)
    studio = Studio(private, preset, overrides, max_upload_bytes)
    static = resources.files("roomgate.studio") / "static"

    async def index(request: Request) -> Response:
        html = (static / "index.html").read_text(encoding="utf-8")
        return Response(html, media_type="text/html; charset=utf-8")

    async def static_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:  # a fixed list: no path from the request reaches the file system
            return PlainTextResponse("not found", status_code=404)
        return Response((static / name).read_bytes(), media_type=_STATIC[name])

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask for one even on the 403 page

    @_endpoint
    async def get_state(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(studio.state))

    @_endpoint
    async def get_rig(request: Request) -> Response:
        return JSONResponse(studio.describe_rig())

    @_endpoint
    async def post_settings(request: Request) -> Response:
        body = await _json_body(request)
        changes = body.get("set", [])
        if isinstance(changes, str):
            changes = [changes]
        if not isinstance(changes, list):
            raise HTTPError(400, f"set: expected a list of KEY=VALUE strings, got {changes!r}")
        return JSONResponse(await run_in_threadpool(studio.change, changes))

    @_endpoint
    async def post_prefetch(request: Request) -> Response:
        body = await _json_body(request)
        changes = body.get("set", [])
        if not isinstance(changes, list):
            raise HTTPError(400, f"set: expected a list of KEY=VALUE strings, got {changes!r}")
        return JSONResponse(await run_in_threadpool(studio.prefetch, changes))

    @_endpoint
    async def post_undo(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(studio.undo))

    @_endpoint
    async def post_reset(request: Request) -> Response:
        body = await _json_body(request)
        preset = body.get("preset")
        if preset is not None and not isinstance(preset, str):
            raise HTTPError(400, f"preset: expected a built-in preset name, got {preset!r}")
        return JSONResponse(await run_in_threadpool(studio.reset, preset))

    @_endpoint
    async def post_demo(request: Request) -> Response:
        body = await _json_body(request)
        rate = body.get("sample_rate", 48_000)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise HTTPError(400, f"sample_rate: expected a number of Hz, got {rate!r}")
        return JSONResponse(await run_in_threadpool(studio.load_demo, rate))

    @_endpoint
    async def post_take(request: Request) -> Response:
        limit = studio.max_upload_bytes
        too_large = HTTPError(413, f"upload: larger than the limit of {_megabytes(limit)}")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise HTTPError(400, "upload: expected multipart/form-data with the audio file in the field 'file'")
        received = 0

        async def counting_receive() -> Any:
            nonlocal received
            message = await request.receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        counted = Request(request.scope, counting_receive)
        try:
            form = await counted.form(max_files=1, max_fields=8)
        except _TooLarge:
            raise too_large from None
        except Exception as error:  # noqa: BLE001 - a malformed multipart body
            if type(error).__name__ in ("MultiPartException", "HTTPException"):
                detail = getattr(error, "message", None) or getattr(error, "detail", error)
                raise HTTPError(400, f"upload: {detail}") from None
            raise
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPError(400, "upload: expected the audio file in the multipart field 'file'")
            name = (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:120] or "upload"
            extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            suffix = f".{extension}" if extension in _AUDIO_EXTENSIONS else ""
            stored = studio.workdir / f"{_new_id('u')}{suffix}"
            with open(stored, "wb") as handle:
                while chunk := await upload.read(1 << 20):
                    handle.write(chunk)
        finally:
            await form.close()
        return JSONResponse(await run_in_threadpool(studio.load_upload, name, stored))

    @_endpoint
    async def post_render(request: Request) -> Response:
        since = (await _json_body(request)).get("since")
        return JSONResponse(await run_in_threadpool(studio.render, since if isinstance(since, str) else None))

    @_endpoint
    async def post_preset(request: Request) -> Response:
        body = await _json_body(request)
        name, text = body.get("name", "preset.toml"), body.get("text")
        if not isinstance(name, str) or not isinstance(text, str):
            raise HTTPError(400, "preset: expected {\"name\": FILE NAME, \"text\": the preset's TOML}")
        return JSONResponse(await run_in_threadpool(studio.open_preset, name, text))

    @_endpoint
    async def get_hall(request: Request) -> Response:
        have = {d for d in request.query_params.get("have", "").split(",") if d}
        return JSONResponse(await run_in_threadpool(studio.hall, have))

    @_endpoint
    async def post_monitor(request: Request) -> Response:
        body = await _json_body(request)
        return JSONResponse(await run_in_threadpool(studio.set_monitor, body.get("solo", []), body.get("mute", [])))

    @_endpoint
    async def get_levels(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(studio.levels_of, request.path_params["render_id"]))

    @_endpoint
    async def get_report(request: Request) -> Response:
        last = studio.last_render
        if last is None:
            raise HTTPError(404, "nothing rendered yet")
        return JSONResponse(report_json(last.report))

    @_endpoint
    async def get_audio(request: Request) -> Response:
        download = request.query_params.get("download") in ("1", "true", "yes")
        raw = request.query_params.get("raw") in ("1", "true", "yes") and not download
        since = request.query_params.get("since")
        if since and raw:
            patch = await run_in_threadpool(studio.audio_patch, request.path_params["audio_id"], since)
            if patch is not None:
                return Response(patch, media_type=PATCH_MEDIA_TYPE)
        if raw:
            return Response(await run_in_threadpool(studio.raw_audio, request.path_params["audio_id"]),
                            media_type="audio/wav")
        path, download_name = await run_in_threadpool(studio.audio_file, request.path_params["audio_id"])
        if not path.is_file():
            raise HTTPError(404, "no such audio")
        if request.query_params.get("download") in ("1", "true", "yes"):
            return FileResponse(path, media_type="audio/wav", filename=download_name)
        return FileResponse(path, media_type="audio/wav")

    @_endpoint
    async def get_preset(request: Request) -> Response:
        typed = request.query_params.get("name")
        text = await run_in_threadpool(studio.preset_toml, typed)
        name = (_safe_stem(preset_name(typed)) + ".toml") if typed is not None else _safe_stem(studio.preset_name) + "-studio.toml"
        return Response(text, media_type="application/toml; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", static_file, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/api/state", get_state, methods=["GET"]),
        Route("/api/rig", get_rig, methods=["GET"]),
        Route("/api/settings", post_settings, methods=["POST"]),
        Route("/api/settings/undo", post_undo, methods=["POST"]),
        Route("/api/prefetch", post_prefetch, methods=["POST"]),
        Route("/api/settings/reset", post_reset, methods=["POST"]),
        Route("/api/take", post_take, methods=["POST"]),
        Route("/api/take/demo", post_demo, methods=["POST"]),
        Route("/api/render", post_render, methods=["POST"]),
        Route("/api/monitor", post_monitor, methods=["POST"]),
        Route("/api/preset", post_preset, methods=["POST"]),
        Route("/api/hall", get_hall, methods=["GET"]),
        Route("/api/levels/{render_id}", get_levels, methods=["GET"]),
        Route("/api/report", get_report, methods=["GET"]),
        Route("/api/audio/{audio_id}", get_audio, methods=["GET"]),
        Route("/api/preset.toml", get_preset, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.studio = studio
    return _Guard(app, token, port, studio)


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.0f} MB" if count >= 1e6 else f"{count} bytes"


class _Guard:
    """ASGI middleware: the Host header must name this machine (against DNS rebinding), and every
    request but the page's static files must carry the token. Adds security headers."""

    def __init__(self, app: Any, token: str, port: int | None, studio: Studio):
        self.app = app
        self.token = token
        self.port = port
        self.studio = studio  # for tests and embedding

    def _host_ok(self, host: str) -> bool:
        host = host.strip().lower()
        if host.startswith("["):
            name, _, rest = host.partition("]")
            name += "]"
            port = rest[1:] if rest.startswith(":") else ""
        else:
            name, _, port = host.partition(":")
        if name not in ALLOWED_HOSTNAMES:
            return False
        if self.port is None or port == "":
            return self.port is None
        return port == str(self.port)

    def _token_ok(self, headers: Headers, query: str) -> bool:
        given = headers.get(TOKEN_HEADER.lower())
        if given is None:
            given = (parse_qs(query).get("token") or [""])[0]
        return secrets.compare_digest(given.encode("utf-8", "replace"), self.token.encode("utf-8"))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        headers = Headers(scope=scope)

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
            await send(message)

        path = scope.get("path", "")
        query = scope.get("query_string", b"").decode("latin-1")
        if not self._host_ok(headers.get("host", "")):
            response: Response = PlainTextResponse(
                "403: this studio answers only to 127.0.0.1 or localhost (the Host header named "
                f"{headers.get('host', '')!r})", status_code=403)
        elif path.startswith("/static/") or path == "/favicon.ico" or self._token_ok(headers, query):
            await self.app(scope, receive, send_with_headers)
            return
        elif path.startswith("/api/"):
            response = _error(403, "missing or wrong token: open the URL that 'roomgate studio' printed")
        else:
            response = PlainTextResponse(
                "403: missing or wrong token. Open the URL that 'roomgate studio' printed "
                "(it ends in ?token=...).", status_code=403)
        await response(scope, receive, send_with_headers)


# -- serving -------------------------------------------------------------------------------------


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = False,
    on_message: Callable[[str], None] | None = None,
    preset: str | Path = "heroes-1977",
    overrides: Sequence[str] = (),
    max_upload_bytes: int = 200 * 1024 * 1024,
    stop_event: threading.Event | None = None,
) -> None:
    """See :func:`roomgate.studio.serve`."""
    import uvicorn

    shown = _url_host(host, port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every JSON answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    except OSError as error:
        sock.close()
        hint = "; pass --port 0 for a free port" if port else ""
        raise OutputError(f"{host}:{port}: cannot listen ({error.strerror or error}){hint}") from None
    actual_port = int(sock.getsockname()[1])
    workdir = Path(tempfile.mkdtemp(prefix="roomgate-studio-"))
    os.chmod(workdir, 0o700)
    try:
        token = secrets.token_urlsafe(24)
        app = create_app(token, workdir, port=actual_port, preset=preset, overrides=overrides,
                         max_upload_bytes=max_upload_bytes)
        url = f"http://{shown}:{actual_port}/?token={token}"
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", ws="none", timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        if stop_event is not None:
            def watch() -> None:
                stop_event.wait()
                server.should_exit = True

            threading.Thread(target=watch, name="roomgate-studio-stop", daemon=True).start()
        if on_message is not None:
            on_message(url)
        if open_browser:
            import webbrowser

            threading.Timer(0.3, webbrowser.open, [url]).start()
        # uvicorn stops gracefully on Ctrl+C and SIGTERM (when on the main thread), then raises the
        # signal again: handled as an interrupt, so that the session's files are removed below.
        with interrupts_on_termination(), _hangup_stops(server), contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _url_host(host: str, port: int) -> str:
    """The host for the printed URL. Refuses a port out of range, and an address whose requests the
    Host check would all refuse; warns that a wildcard address listens on every interface."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port: expected a port from 0 to 65535 (0: any free port), got {port!r}")
    name = host.strip().lower()
    if name in ("0.0.0.0", "", "::", "[::]"):
        warnings.warn(f"--host {host or '0.0.0.0'!s}: listening on every network interface, but the studio answers "
                      "only requests addressed to 127.0.0.1 or localhost: other machines get 403 (reach it "
                      "through an SSH tunnel instead)", UserWarning, stacklevel=3)
        return "[::1]" if ":" in name else "127.0.0.1"
    if name in ("127.0.0.1", "localhost"):
        return name
    if name in ("::1", "[::1]"):
        return "[::1]"
    raise ConfigError(f"host {host!r}: the studio answers only requests addressed to 127.0.0.1 or localhost "
                      "(its Host check, against DNS rebinding), so it would refuse every request made to this "
                      "address; listen on 127.0.0.1 and reach it through an SSH tunnel")


@contextlib.contextmanager
def _hangup_stops(server: Any) -> Iterator[None]:
    """SIGHUP (the terminal closed) stops the server as SIGTERM does: gracefully, then cleaned up."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        yield
        return
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: server.handle_exit(signal.SIGTERM, frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)
