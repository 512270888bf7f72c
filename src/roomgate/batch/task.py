"""The task a worker runs for one file: the library's render job, from a location to a location.

:func:`run_task` is a plain importable function of picklable data (:class:`RenderTask`), so the
same call runs in this process, in a :class:`~concurrent.futures.ProcessPoolExecutor` worker or
on a Dask worker, and returns a small :class:`TaskResult` (never raises for a file's failure).

Each worker process keeps the rigs it has built (per thread, a few settings at a time), so only
its first file pays for building the rig and loading numba's cached kernels and the room's
impulse responses; later files with the same settings start straight away.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import RoomgateError, RoomgateWarning
from . import locations
from .settings import Settings

__all__ = ["RenderTask", "TaskResult", "run_task"]

Status = Literal["done", "skipped", "failed"]
#: Rigs a worker thread keeps built (a batch rarely mixes more settings than this).
_RIGS_KEPT = 4


@dataclass(frozen=True)
class RenderTask:
    """One file to render: where from, where to, with which settings.

    ``skip_if_sha256``: the input digest the journal holds for this output with these settings;
    ``skip_if_outputs``: the (location, sha256) of each output as the journal holds them written.
    When the input still has its digest and every output still has its own, the task is skipped.
    """

    input: str
    output: str
    settings: Settings
    subtype: str | None = None
    report: str | None = None
    plot: str | None = None
    skip_if_sha256: str | None = None
    skip_if_outputs: tuple[tuple[str, str], ...] = ()
    roomgate_version: str = ""

    @property
    def outputs(self) -> list[str]:
        return [location for location in (self.output, self.report, self.plot) if location is not None]


@dataclass(frozen=True)
class TaskResult:
    """What came of one task: ``open_fraction`` maps each mic's name to the fraction of the take
    it was open (empty unless done); ``error`` is one line (None unless failed); ``notes`` are
    lines for the user, each ``"note: ..."`` or ``"warning: ..."`` (warnings raised in the task
    are caught: ``warnings.catch_warnings`` is process-wide, so a worker with several threads
    may file a warning under a neighbour's task)."""

    input: str
    output: str
    status: Status
    seconds: float
    input_sha256: str | None = None
    duration_s: float | None = None
    open_fraction: dict[str, float] = field(default_factory=dict)
    gated_mics: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()
    output_sha256: tuple[tuple[str, str], ...] = ()  # (location, sha256) of each output written


def run_task(task: RenderTask) -> TaskResult:
    """Render one file (in whatever process runs this); a failure comes back as a result."""
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            result = _run(task, started)
        except RoomgateError as error:
            result = _failed(task, started, str(error))
        except OSError as error:  # a filesystem or network failure on the worker
            result = _failed(task, started, f"{task.input}: {error}")
        except Exception as error:  # a bug: keep the batch going, and say so
            result = _failed(task, started, f"{task.input}: internal error (please report it): "
                                            f"{type(error).__name__}: {error}")
    notes = tuple(("note: " if issubclass(w.category, RoomgateWarning) else "warning: ") + str(w.message)
                  for w in caught)
    if notes and result.status == "done":
        result = TaskResult(**{**result.__dict__, "notes": result.notes + notes})
    return result


def _run(task: RenderTask, started: float) -> TaskResult:
    from .. import __version__

    if task.roomgate_version and task.roomgate_version != __version__:
        raise RoomgateError(f"{task.input}: this worker runs roomgate {__version__}, the client "
                            f"{task.roomgate_version}; install the same version on both")
    digest = locations.input_sha256(task.input)
    if task.skip_if_sha256 == digest and _outputs_unchanged(task):
        return TaskResult(task.input, task.output, "skipped", time.perf_counter() - started, digest)
    from ..rig.job import Outputs, render_file

    staged = [locations.StagedOutput(o) if o is not None else None for o in (task.output, task.report, task.plot)]
    try:
        audio, report, plot = staged
        assert audio is not None
        outputs = Outputs(audio.path, task.subtype, None if report is None else report.path,
                          None if plot is None else plot.path)
        with locations.local_input(task.input) as input_path:
            job = render_file(_rig(task.settings), input_path, outputs)
        written = tuple((o.location, locations.input_sha256(str(o.path))) for o in staged if o is not None)
        for output in (report, plot, audio):  # the audio last: it stands for the whole task
            if output is not None:
                output.place()
    finally:
        for output in staged:
            if output is not None:
                output.discard()
    mics = job.render.report.mics
    return TaskResult(task.input, task.output, "done", time.perf_counter() - started, digest,
                      job.render.report.duration_s, {m.name: float(m.open_fraction) for m in mics},
                      tuple(m.name for m in mics if m.is_gated), notes=tuple(f"note: {n}" for n in job.notes),
                      output_sha256=written)


def _outputs_unchanged(task: RenderTask) -> bool:
    """Every output of ``task`` is still what the journal says was written (its sha256: hashing
    an output costs about what reading it does; a size or time check would miss a file rewritten
    with the same length, or copied back with its old time)."""
    recorded = dict(task.skip_if_outputs)
    if set(recorded) != set(task.outputs):
        return False
    return all(locations.exists(o) and locations.input_sha256(o) == recorded[o] for o in task.outputs)


def _failed(task: RenderTask, started: float, error: str) -> TaskResult:
    return TaskResult(task.input, task.output, "failed", time.perf_counter() - started, error=error)


_local = threading.local()


def _rig(settings: Settings) -> Any:
    """This thread's rig for ``settings`` (built on first use; a rig renders one take at a time)."""
    rigs: OrderedDict[str, Any] = getattr(_local, "rigs", None) or OrderedDict()
    _local.rigs = rigs
    if settings.digest not in rigs:
        rigs[settings.digest] = settings.rig()
        while len(rigs) > _RIGS_KEPT:
            rigs.popitem(last=False)
    rigs.move_to_end(settings.digest)
    return rigs[settings.digest]
