"""The picture of a render: the room from above, the key level against each gate's threshold, and
when each mic was open. Drawn from the report alone (matplotlib, imported here only, headless)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

# One colour per mic, in rig order: the close mic dark, the room mics warmer as they get farther.
_COLOURS = ["#1f3b57", "#d08a1c", "#b8322a", "#5b8c3a", "#7a4f9a", "#2a8f8f", "#8c6d31", "#555555"]


def plot_report(report: dict[str, Any], path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Draw the report to a PNG at ``path`` (written atomically). Returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from ..io.audio import atomic_output

    mics = report["mics"]
    timeline = report["timeline"]
    hop_s = float(timeline["hop_s"])
    key_db = np.asarray([np.nan if v is None else v for v in timeline["key_db"]], dtype=float)
    times_s = (np.arange(key_db.size) + 1) * hop_s
    colours = {m["name"]: _COLOURS[i % len(_COLOURS)] for i, m in enumerate(mics)}

    figure = plt.figure(figsize=(10.0, 6.6), dpi=100, layout="constrained")
    grid = figure.add_gridspec(3, 2, height_ratios=[1.25, 1.2, 0.75], width_ratios=[1.1, 1.0])
    plan = figure.add_subplot(grid[0, 0])
    table = figure.add_subplot(grid[0, 1])
    level = figure.add_subplot(grid[1, :])
    lanes = figure.add_subplot(grid[2, :], sharex=level)

    # -- floor plan --
    room = report.get("room", {})
    size = room.get("size_m")
    singer = report.get("singer", {}).get("position_m")
    if size and singer:
        plan.add_patch(Rectangle((0, 0), size[0], size[1], facecolor="#f4efe6", edgecolor="#6b5a45", linewidth=1.5))
        for mic in mics:
            position = mic.get("position_m")
            if position is None:
                continue
            plan.plot([singer[0], position[0]], [singer[1], position[1]], color="#bbbbbb", linewidth=0.8, zorder=1)
            plan.plot(position[0], position[1], "o", color=colours[mic["name"]], markersize=7, zorder=3)
            plan.annotate(
                f"{mic['name']}\n{mic['distance_m']:.1f} m", (position[0], position[1]),
                textcoords="offset points", xytext=(0, 9), ha="center", fontsize=8, color=colours[mic["name"]],
            )
        plan.plot(singer[0], singer[1], "*", color="black", markersize=13, zorder=4)
        plan.annotate("singer", (singer[0], singer[1]), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
        plan.set_xlim(-0.5, size[0] + 0.5)
        plan.set_ylim(-0.5, size[1] + 0.5)
        plan.set_aspect("equal")
        rt60 = room.get("rt60_s")
        plan.set_title(
            f"Room {size[0]:g} x {size[1]:g} x {size[2]:g} m" + (f", RT60 {rt60:g} s" if rt60 else ""), fontsize=10
        )
        plan.set_xlabel("m", fontsize=8)
        plan.tick_params(labelsize=7)
    else:
        plan.axis("off")

    # -- summary --
    table.axis("off")
    rows = [["mic", "distance", "trim", "threshold", "open"]]
    for mic in mics:
        threshold = mic.get("threshold_db")
        rows.append([
            mic["name"],
            f"{mic['distance_m']:.2f} m" if mic.get("distance_m") is not None else "-",
            f"{mic['gain_db']:+.1f} dB",
            "always" if threshold is None else f"{threshold:.1f} dBFS",
            f"{100 * mic['open_fraction']:.0f}%",
        ])
    cells = table.table(cellText=rows[1:], colLabels=rows[0], loc="center", cellLoc="center")
    cells.auto_set_font_size(False)
    cells.set_fontsize(9)
    cells.scale(1.0, 1.5)
    for (row, _), cell in cells.get_celld().items():
        cell.set_edgecolor("#dddddd")
        if row > 0:
            cell.get_text().set_color(colours[mics[row - 1]["name"]])
    table.set_title(title or f"{report.get('preset', '')}: {report['duration_s']:.1f} s", fontsize=10)

    # -- key level and thresholds --
    level.plot(times_s, key_db, color="#333333", linewidth=0.7, label="key level (close mic)")
    finite = key_db[np.isfinite(key_db)]
    top = float(finite.max()) + 3 if finite.size else 0.0
    bottom = max(float(np.percentile(finite, 5)) - 10, top - 70) if finite.size else -80.0
    gated = [m for m in mics if m.get("threshold_db") is not None]
    for number, mic in enumerate(gated):
        threshold = mic["threshold_db"]
        colour = colours[mic["name"]]
        level.axhline(threshold, color=colour, linewidth=1.2, linestyle="--")
        # Labels side by side along the line's left end, so close thresholds don't overprint.
        level.annotate(f"{mic['name']} opens", (0.005 + 0.11 * number, threshold), xycoords=("axes fraction", "data"),
                       textcoords="offset points", xytext=(0, 3), fontsize=8, color=colour)
        for start, end in mic["intervals"]:
            level.axvspan(start, end, color=colour, alpha=0.10, linewidth=0)
    level.set_ylim(bottom, top)
    level.set_ylabel("dBFS", fontsize=8)
    level.set_title("Key level against each gate's threshold (shaded: gate open)", fontsize=10)
    level.tick_params(labelsize=7, labelbottom=False)
    level.grid(alpha=0.3)

    # -- open lanes and gain curves --
    names = [m["name"] for m in mics]
    for lane, mic in enumerate(reversed(mics)):
        colour = colours[mic["name"]]
        gain = np.asarray(timeline["gain"].get(mic["name"], []), dtype=float)
        base = lane
        for start, end in mic["intervals"]:
            lanes.add_patch(Rectangle((start, base + 0.1), end - start, 0.8, color=colour, alpha=0.25, linewidth=0))
        if gain.size:
            lanes.plot((np.arange(gain.size) + 1) * hop_s, base + 0.1 + 0.8 * gain, color=colour, linewidth=1.0)
    lanes.set_yticks(np.arange(len(names)) + 0.5, list(reversed(names)), fontsize=8)
    lanes.set_ylim(0, len(names))
    lanes.set_xlim(0, report["duration_s"])
    lanes.set_xlabel("time (s)", fontsize=8)
    lanes.set_title("When each mic was open (band) and its gate's gain (line)", fontsize=10)
    lanes.tick_params(labelsize=7)

    path = Path(path)
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
    return path
