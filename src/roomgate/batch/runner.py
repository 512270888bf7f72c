"""Running a batch: the tasks through an executor, the journal kept, the summary written.

:func:`run_batch` is what ``roomgate render`` (several inputs, or ``--scheduler``) and
``roomgate batch`` share. It prints nothing: the face passes ``on_result`` to show progress.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import locations
from .executors import Executor
from .journal import Journal
from .task import RenderTask, TaskResult

__all__ = ["BatchOutcome", "run_batch", "summary_csv", "write_summary"]

SUMMARY_NAME = "batch-summary.csv"


@dataclass
class BatchOutcome:
    """Every task's result, in the tasks' order, and the wall time of the run."""

    results: list[TaskResult]
    elapsed_s: float

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "failed"]


def run_batch(tasks: Sequence[RenderTask], executor: Executor, *, journal: Journal | None = None,
              force: bool = False, on_result: Callable[[TaskResult], None] | None = None) -> BatchOutcome:
    """Run every task; with a ``journal`` (open), skip what it holds as done and unchanged (unless
    ``force``) and record each file as it finishes. Every task gets a result, failed or not."""
    started = time.perf_counter()
    folders = sorted({locations.parent_of(o) for task in tasks for o in task.outputs})
    if journal is not None:
        for folder in folders:  # what a killed run left half-written (we hold the journal's lock)
            locations.remove_stale_staging(folder)
        if not force:
            tasks = [dataclasses.replace(t, skip_if_sha256=journal.done_sha256(t),
                                         skip_if_outputs=journal.done_outputs(t)) for t in tasks]
    order = {(task.input, task.output): index for index, task in enumerate(tasks)}
    results: list[TaskResult | None] = [None] * len(tasks)
    try:
        with executor:
            for result in executor.results(tasks):
                index = order[(result.input, result.output)]
                if journal is not None:
                    if result.status == "done":
                        journal.record(tasks[index], result)
                    elif result.status == "skipped":
                        result = _with_journal_figures(result, journal)
                results[index] = result
                if on_result is not None:
                    on_result(result)
    finally:
        for folder in folders:
            locations.remove_empty_staging(folder)
    return BatchOutcome([r for r in results if r is not None], time.perf_counter() - started)


def _with_journal_figures(result: TaskResult, journal: Journal) -> TaskResult:
    """A skipped file's open fractions, from the run that rendered it."""
    entry = journal.entry(result.output) or {}
    fractions = entry.get("open_fraction")
    if not isinstance(fractions, dict):
        return result
    return dataclasses.replace(result, open_fraction={str(k): float(v) for k, v in fractions.items()})


def summary_csv(results: Sequence[TaskResult]) -> str:
    """The summary table: input, output, status, seconds, then ``open_<mic>`` for every mic any
    file has (a fraction of the take, empty where a file has no such mic), then the error."""
    mics: list[str] = []
    for result in results:
        mics += [m for m in result.open_fraction if m not in mics]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["input", "output", "status", "seconds", *(f"open_{m}" for m in mics), "error"])
    for r in results:
        fractions = [f"{r.open_fraction[m]:.4f}" if m in r.open_fraction else "" for m in mics]
        writer.writerow([r.input, r.output, r.status, f"{r.seconds:.2f}", *fractions, r.error or ""])
    return buffer.getvalue()


def write_summary(location: str, results: Sequence[TaskResult]) -> None:
    """Write :func:`summary_csv` to ``location`` (a path or URL), placed atomically."""
    staged = locations.StagedOutput(location)
    try:
        staged.path.write_text(summary_csv(results), encoding="utf-8")
        staged.place()
    finally:
        staged.discard()
    locations.remove_empty_staging(locations.parent_of(location))
