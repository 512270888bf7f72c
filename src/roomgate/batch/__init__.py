"""Many files through the rig: on this machine's processes or on a Dask cluster.

The batch layer under ``roomgate render`` (several inputs, ``--jobs``, ``--scheduler``) and
``roomgate batch``:

- :mod:`.manifest`: the manifest (CSV or JSON Lines), every bad row reported by line number;
- :mod:`.settings`: a file's preset and overrides, resolved on the client, shipped as data;
- :mod:`.task`: :func:`run_task`, what a worker runs for one file (the library's render job);
- :mod:`.locations`: paths and fsspec URLs, inputs fetched and outputs placed atomically;
- :mod:`.executors`: this process, a process pool, or Dask, behind one interface;
- :mod:`.journal`: what is finished, so a rerun skips it;
- :mod:`.runner`: :func:`run_batch` ties them together; the summary CSV.

Nothing here imports Dask or fsspec until a batch needs them.
"""

from __future__ import annotations

from .executors import DaskExecutor, Executor, InlineExecutor, ProcessExecutor, make_executor
from .journal import JOURNAL_NAME, Journal
from .manifest import ManifestError, ManifestRow, read_manifest
from .runner import BatchOutcome, run_batch, summary_csv, write_summary
from .settings import Settings, resolve_settings
from .task import RenderTask, TaskResult, run_task

__all__ = [
    "JOURNAL_NAME", "BatchOutcome", "DaskExecutor", "Executor", "InlineExecutor", "Journal", "ManifestError",
    "ManifestRow", "ProcessExecutor", "RenderTask", "Settings", "TaskResult", "make_executor", "read_manifest",
    "resolve_settings", "run_batch", "run_task", "summary_csv", "write_summary",
]
