"""The picture of a render: the room from above, the key level against each gate's opening and
closing thresholds, and when each mic was open. Drawn from the report alone (matplotlib, imported
here only, headless)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .report import MicReport, Report

if TYPE_CHECKING:
    from .outputs import StagedOutputs

# One colour per mic, in rig order: the close mic dark, the room mics warmer as they get farther.
_COLOURS = ["#1f3b57", "#d08a1c", "#b8322a", "#5b8c3a", "#7a4f9a", "#2a8f8f", "#8c6d31", "#555555"]
#: The file formats a plot may be written in, by file name suffix.
PLOT_FORMATS = ("png", "svg", "pdf")


def plot_report(report: Report, path: str | os.PathLike[str], *, title: str | None = None,
                staged: StagedOutputs | None = None) -> Path:
    """Draw the report to ``path`` (PNG, SVG or PDF by its suffix; written atomically; with
    ``staged``, placed with a command's other outputs)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from .audio import atomic_output

    path = Path(path)
    file_format = path.suffix.lower().lstrip(".")
    if file_format not in PLOT_FORMATS:
        file_format = "png"
    colours = {m.name: _COLOURS[i % len(_COLOURS)] for i, m in enumerate(report.mics)}
    figure = plt.figure(figsize=(10.0, 6.6), dpi=100, layout="constrained")
    grid = figure.add_gridspec(3, 2, height_ratios=[1.25, 1.2, 0.75], width_ratios=[1.1, 1.0])
    level = figure.add_subplot(grid[1, :])
    _draw_plan(figure.add_subplot(grid[0, 0]), report, colours)
    _draw_table(figure.add_subplot(grid[0, 1]), report, colours, title)
    _draw_levels(level, report, colours)
    _draw_lanes(figure.add_subplot(grid[2, :], sharex=level), report, colours)
    try:
        with atomic_output(path, staged) as temporary:
            figure.savefig(temporary, format=file_format)
    finally:
        plt.close(figure)
    return path


def _draw_plan(plan: Any, report: Report, colours: dict[str, str]) -> None:
    """The floor plan: the room, the singer, each mic and the line to it."""
    from matplotlib.patches import Rectangle

    if report.room is None or report.singer is None:
        plan.axis("off")
        return
    size, singer = report.room.size_m, report.singer.position_m
    plan.add_patch(Rectangle((0, 0), size[0], size[1], facecolor="#f4efe6", edgecolor="#6b5a45", linewidth=1.5))
    for mic in report.mics:
        if mic.position_m is None:
            continue
        x, y = mic.position_m[0], mic.position_m[1]
        plan.plot([singer[0], x], [singer[1], y], color="#bbbbbb", linewidth=0.8, zorder=1)
        plan.plot(x, y, "o", color=colours[mic.name], markersize=7, zorder=3)
        plan.annotate(f"{mic.name}\n{mic.distance_m:.1f} m", (x, y), textcoords="offset points", xytext=(0, 9),
                      ha="center", fontsize=8, color=colours[mic.name])
    plan.plot(singer[0], singer[1], "*", color="black", markersize=13, zorder=4)
    plan.annotate("singer", (singer[0], singer[1]), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
    plan.set_xlim(-0.5, size[0] + 0.5)
    plan.set_ylim(-0.5, size[1] + 0.5)
    plan.set_aspect("equal")
    rt60 = report.room.rt60_s
    rt60_text = f", RT60 {rt60:g} s" if isinstance(rt60, (int, float)) else ""
    plan.set_title(f"Room {size[0]:g} x {size[1]:g} x {size[2]:g} m{rt60_text}", fontsize=10)
    plan.set_xlabel("m", fontsize=8)
    plan.tick_params(labelsize=7)


def _draw_table(table: Any, report: Report, colours: dict[str, str], title: str | None) -> None:
    """What each mic did, as a table in the mics' colours."""
    table.axis("off")
    rows = [[mic.name,
             f"{mic.distance_m:.2f} m" if mic.distance_m is not None else "-",
             f"{mic.gain_db:+.1f} dB" if mic.gain_db is not None else "-",
             "always" if mic.threshold_db is None else f"{mic.threshold_db:.1f} dBFS",
             "-" if mic.close_threshold_db is None else f"{mic.close_threshold_db:.1f} dBFS",
             f"{100 * mic.open_fraction:.0f}%"] for mic in report.mics]
    cells = table.table(cellText=rows, colLabels=["mic", "distance", "trim", "opens above", "closes below", "open"],
                        loc="center", cellLoc="center")
    cells.auto_set_font_size(False)
    cells.set_fontsize(9)
    cells.auto_set_column_width(list(range(len(rows[0]))))  # each column as wide as its text
    cells.scale(1.0, 1.5)
    for (row, _), cell in cells.get_celld().items():
        cell.set_edgecolor("#dddddd")
        if row > 0:
            cell.get_text().set_color(colours[report.mics[row - 1].name])
    table.set_title(title or f"{report.preset}: {report.duration_s:.1f} s", fontsize=10)


def _draw_levels(level: Any, report: Report, colours: dict[str, str]) -> None:
    """The key's level, each gate's opening (dashed) and closing (dotted) threshold, open spans."""
    hop_s = report.timeline.hop_s
    key_db = np.asarray([np.nan if v is None else v for v in report.timeline.key_db], dtype=float)
    level.plot((np.arange(key_db.size) + 1) * hop_s, key_db, color="#333333", linewidth=0.7)
    finite = key_db[np.isfinite(key_db)]
    top = float(finite.max()) + 3 if finite.size else 0.0
    bottom = max(float(np.percentile(finite, 5)) - 10, top - 70) if finite.size else -80.0
    labels = [label for mic in report.gated_mics for label in _draw_thresholds(level, mic, colours[mic.name])]
    level.set_ylim(bottom, top)
    _label_thresholds(level, labels, bottom, top)
    level.set_ylabel("dBFS", fontsize=8)
    level.set_title("Key level: each gate opens above its dashed line and, after its hold, closes below its "
                    "dotted one (shaded: open)", fontsize=10)
    level.tick_params(labelsize=7, labelbottom=False)
    level.grid(alpha=0.3)


def _draw_thresholds(level: Any, mic: MicReport, colour: str) -> list[tuple[float, str, str]]:
    """A gate's opening (dashed) and closing (dotted) lines and its open spans; returns the lines'
    labels ``(dBFS, text, colour)`` for :func:`_label_thresholds`."""
    assert mic.threshold_db is not None
    level.axhline(mic.threshold_db, color=colour, linewidth=1.2, linestyle="--")
    labels = [(mic.threshold_db, f"{mic.name} opens {mic.threshold_db:.0f}", colour)]
    if mic.close_threshold_db is not None and mic.close_threshold_db != mic.threshold_db:
        level.axhline(mic.close_threshold_db, color=colour, linewidth=0.9, linestyle=":")
        labels.append((mic.close_threshold_db, f"{mic.name} closes {mic.close_threshold_db:.0f}", colour))
    for start, end in mic.intervals:
        level.axvspan(start, end, color=colour, alpha=0.10, linewidth=0)
    return labels


def _label_thresholds(level: Any, labels: list[tuple[float, str, str]], bottom: float, top: float) -> None:
    """Each threshold named in the right margin at its level, nudged apart so that none overprints
    another (thresholds a few dB apart are common: a gate's hysteresis, two staged gates)."""
    gap_db = (top - bottom) / 9  # about one line of 7-point text at this panel's height
    placed: list[float] = []
    for value, text, colour in sorted(labels, key=lambda label: -label[0]):
        y = min(value, placed[-1] - gap_db) if placed else value
        placed.append(y)
        level.annotate(text, xy=(1.0, value), xytext=(1.01, y), xycoords=("axes fraction", "data"),
                       textcoords=("axes fraction", "data"), fontsize=7, color=colour, va="center",
                       arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.6}, annotation_clip=False)


def _draw_lanes(lanes: Any, report: Report, colours: dict[str, str]) -> None:
    """A lane per mic: when it was open (band) and its gate's gain (line)."""
    from matplotlib.patches import Rectangle

    hop_s = report.timeline.hop_s
    names = [m.name for m in report.mics]
    for lane, mic in enumerate(reversed(report.mics)):
        colour = colours[mic.name]
        gain = np.asarray(report.timeline.gain.get(mic.name, []), dtype=float)
        for start, end in mic.intervals:
            lanes.add_patch(Rectangle((start, lane + 0.1), end - start, 0.8, color=colour, alpha=0.25, linewidth=0))
        if gain.size:
            lanes.plot((np.arange(gain.size) + 1) * hop_s, lane + 0.1 + 0.8 * gain, color=colour, linewidth=1.0)
    lanes.set_yticks(np.arange(len(names)) + 0.5, list(reversed(names)), fontsize=8)
    lanes.set_ylim(0, len(names))
    lanes.set_xlim(0, report.duration_s)
    lanes.set_xlabel("time (s)", fontsize=8)
    lanes.set_title("When each mic was open (band) and its gate's gain (line)", fontsize=10)
    lanes.tick_params(labelsize=7)
