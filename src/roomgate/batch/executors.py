"""Where the tasks run, behind one interface: this process, local worker processes, or Dask.

An executor is a context manager whose :meth:`~Executor.results` submits every task and yields
a :class:`~roomgate.batch.task.TaskResult` for each as it finishes (in the order they finish).
A task that cannot even run (a worker process died, the cluster lost it) comes back as a
failed result, so the batch always accounts for every file. Leaving the ``with`` block early
(an error, Ctrl-C) cancels what has not started.

* :class:`InlineExecutor`: one file after another, in this process (``--jobs 1``);
* :class:`ProcessExecutor`: a pool of N worker processes on this machine (``--jobs N``);
* :class:`DaskExecutor`: a Dask cluster (``--scheduler ADDRESS``): a running scheduler
  (``tcp://host:8786``), a scheduler file written by ``dask scheduler --scheduler-file``, or
  ``local:N``, a :class:`distributed.LocalCluster` of N single-threaded worker processes on
  this machine, started and stopped with the batch.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from ..errors import ConfigError, MissingDependencyError, RoomgateError
from .task import RenderTask, TaskResult, run_task

__all__ = ["DaskExecutor", "Executor", "InlineExecutor", "ProcessExecutor", "make_executor"]

INSTALL_DASK = "--scheduler needs the 'dask' extra (dask.distributed and fsspec): pip install 'roomgate[dask]'"
#: How long to wait for a running scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 30


class Executor(Protocol):
    #: How the batch ran, for the closing line: "2 job(s)", "local:2"...
    description: str

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def results(self, tasks: Sequence[RenderTask]) -> Iterator[TaskResult]: ...


def _lost(task: RenderTask, reason: str) -> TaskResult:
    return TaskResult(task.input, task.output, "failed", 0.0, error=f"{task.input}: {reason}")


class InlineExecutor:
    description = "1 job(s)"

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def results(self, tasks: Sequence[RenderTask]) -> Iterator[TaskResult]:
        for task in tasks:
            yield run_task(task)


class ProcessExecutor:
    """N worker processes of :mod:`concurrent.futures`; each keeps its rigs and kernels warm.

    Ctrl-C (which a terminal sends to every process of the group) is for the client: the workers
    ignore it, and the client then cancels the files not started and stops each worker with SIGTERM;
    a worker rendering a file unwinds (its staged outputs removed) and ends, so no unfinished output
    is placed and no worker takes another file."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.description = f"{jobs} job(s)"
        self._pool: Any = None

    def __enter__(self) -> ProcessExecutor:
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(max_workers=self.jobs, initializer=_start_worker)
        return self

    def __exit__(self, *exc: object) -> None:
        from ..interrupts import interrupt_behind

        if interrupt_behind(exc[1]) is not None:  # type: ignore[arg-type]
            _stop_workers(self._pool)
        self._pool.shutdown(wait=exc[0] is None, cancel_futures=True)

    def results(self, tasks: Sequence[RenderTask]) -> Iterator[TaskResult]:
        from concurrent.futures import as_completed

        futures = {self._pool.submit(_run_in_worker, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # the worker process died (BrokenProcessPool), say
                yield _lost(futures[future], f"its worker process failed ({type(error).__name__}: {error})")


# -- a batch's worker processes: Ctrl-C stops the batch at once ---------------------------------------

_worker = {"rendering": False}


def _start_worker() -> None:
    """A worker's first step: SIGINT is the client's; SIGTERM/SIGHUP end the worker (mid-file: by
    unwinding the render, so that its outputs are removed)."""
    from ..interrupts import TERMINATION_SIGNALS

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in TERMINATION_SIGNALS:
        signal.signal(signum, _worker_signalled)


def _worker_signalled(signum: int, frame: FrameType | None) -> None:
    from ..interrupts import raise_interrupted

    if not _worker["rendering"]:
        os._exit(128 + signum)
    raise_interrupted(signum, frame)


def _run_in_worker(task: RenderTask) -> TaskResult:
    """:func:`run_task` in a worker process; interrupted, the worker ends rather than take another file."""
    from ..interrupts import exit_code

    _worker["rendering"] = True
    try:
        return run_task(task)
    except KeyboardInterrupt as interrupt:  # the file's staged outputs are gone: end here
        os._exit(exit_code(interrupt))
    finally:
        _worker["rendering"] = False


def _stop_workers(pool: Any) -> None:
    """Drop the files not started and interrupt the workers' renders; wait until they have cleaned up."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # the executor's own worker list
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=60)
        if process.is_alive():  # pragma: no cover - a worker stuck in C code for a minute
            process.kill()


class DaskExecutor:
    """The tasks as Dask futures, gathered as they complete."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.description = address
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> DaskExecutor:
        from distributed import Client

        workers = local_workers(self.address)
        try:
            if workers is not None:
                self._cluster = start_local_cluster(workers)
                self._client = Client(self._cluster)
            elif self.address.endswith(".json") and "://" not in self.address:
                self._client = Client(scheduler_file=self.address, timeout=CONNECT_TIMEOUT_S)
            else:
                self._client = Client(self.address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as error:
            self.__exit__(type(error), error, None)
            raise RoomgateError(f"--scheduler {self.address}: cannot reach the scheduler "
                              f"({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        import contextlib

        for part in (self._client, self._cluster):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.close()
        self._client = self._cluster = None

    def results(self, tasks: Sequence[RenderTask]) -> Iterator[TaskResult]:
        import uuid

        from distributed import as_completed

        batch = uuid.uuid4().hex[:8]
        futures = {}
        for index, task in enumerate(tasks):
            key = f"roomgate-render-{batch}-{index}"  # the dashboard lists tasks under this name
            futures[self._client.submit(run_task, task, key=key, pure=False)] = task
        try:
            for future in as_completed(futures):
                task = futures.pop(future)
                try:
                    yield future.result()
                except Exception as error:  # KilledWorker, a lost worker, ...
                    yield _lost(task, f"the cluster could not run it ({type(error).__name__}: {error})")
                future.release()
        finally:
            if futures:
                self._client.cancel(list(futures))


#: Dask's housekeeping, every 20 ms (is the event loop blocked?), 100 ms (memory, for spilling)
#: and 500 ms (the dashboard's system monitor) by default: renders need none of it that often.
QUIETER_CLOCKS = {"distributed.admin.tick.interval": "1s", "distributed.worker.memory.monitor-interval": "1s",
                  "distributed.admin.system-monitor.interval": "5s"}
#: What a LocalCluster's fork server imports once, so that each worker it forks starts with them:
#: what a file render imports, no more (a render loads neither numba nor scipy: importing numba
#: alone took 1.7 s, on the path of every cluster's start).
WORKER_PRELOAD = ("distributed", "numpy", "soundfile", "roomgate.batch.task", "roomgate.rig.job")


def start_local_cluster(workers: int) -> Any:
    """A LocalCluster for roomgate on loopback: ``workers`` single-threaded worker processes (a
    render keeps a core busy, and a rig renders one take at a time), no dashboard.

    Three departures from Dask's defaults, each measured on this job:

    * the workers are forked from a fork server that has imported Dask, numpy and the render
      job once (:data:`WORKER_PRELOAD`), where Dask spawns fresh interpreters that each
      import them; on 2 workers, starting, warming and stopping the cluster took 7 s instead of
      10 to 13 s (where ``forkserver`` exists: not on Windows);
    * Dask starts workers with ``MALLOC_TRIM_THRESHOLD_`` set, so that they hand memory back to
      the system sooner. Setting it also stops glibc from raising its mmap threshold, so every
      large array a render allocates is a fresh ``mmap`` paid for in page faults: the same render
      ran 2 to 4 times slower. These workers start without it (the other variables Dask sets, one
      thread for OpenMP, MKL and OpenBLAS, stay);
    * no statistical profiler (a thread sampling each worker's stack every 10 ms, for a dashboard
      these clusters do not have), and slower housekeeping clocks (:data:`QUIETER_CLOCKS`): an
      idle cluster of 2 used 1.3 s of CPU every 20 s, 0.26 s with them; on 2 cores that CPU is
      taken from the renders.
    """
    import multiprocessing

    import dask
    from distributed import LocalCluster

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    settings = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                "distributed.worker.profile.enabled": False,
                "distributed.worker.multiprocessing-method": method, **QUIETER_CLOCKS}
    with dask.config.set(settings):
        if method == "forkserver":
            from distributed.utils import get_mp_context

            get_mp_context().set_forkserver_preload(list(WORKER_PRELOAD))  # after Dask sets its own list
        # No dashboard; the scheduler's small HTTP server (health, metrics) on any free loopback
        # port rather than 8787, which another cluster may hold.
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                            dashboard_address=None, silence_logs=logging.ERROR,
                            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})


def local_workers(address: str) -> int | None:
    """N for ``local:N``; None for any other address (ConfigError for a malformed ``local:``)."""
    if not address.startswith("local:"):
        return None
    count = address.removeprefix("local:")
    if not count.isdigit() or int(count) < 1:
        raise ConfigError(f"--scheduler {address}: expected local:N with N worker processes, 1 or more")
    return int(count)


def check_scheduler_address(address: str) -> None:
    """Refuse, before any work, an address that names no scheduler, or a missing Dask."""
    try:
        import distributed  # noqa: F401 - needed next anyway
        import fsspec  # noqa: F401
    except ImportError as error:
        raise MissingDependencyError(f"{INSTALL_DASK} ({error.name or error} is missing)") from None
    if local_workers(address) is not None or "://" in address:
        return
    if address.endswith(".json"):
        if not Path(address).is_file():
            raise ConfigError(f"--scheduler {address}: no such scheduler file")
        return
    raise ConfigError(f"--scheduler {address}: expected a scheduler address (tcp://HOST:8786), "
                      "a scheduler file (.json) or local:N")


def make_executor(jobs: int = 1, scheduler: str | None = None) -> Executor:
    """The executor for ``--jobs N`` or ``--scheduler ADDRESS`` (checked; not yet started)."""
    if scheduler is not None:
        check_scheduler_address(scheduler)
        return DaskExecutor(scheduler)
    if jobs < 1:
        raise ConfigError(f"--jobs: expected 1 or more worker processes, got {jobs}")
    return InlineExecutor() if jobs == 1 else ProcessExecutor(jobs)
