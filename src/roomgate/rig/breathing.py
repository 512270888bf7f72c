"""Measure how a rig's gates breathe with its room (issue 13), through the public API only.

:func:`measure_rig` builds the issue's take from a dry vocal (:func:`roomgate.dsp.breathing.build_take`),
renders it with the preset (``output.normalize = "none"``), builds the ungated rig (the rig's
capture IRs convolved with the take, each mic times ``10 ** (gain_db / 20)`` from the report, one
overall scale fitted where all gates are open), reads each gate's per-sample gain (the same rig
fed, as a multitrack, the close mic and a unit signal on one room mic at a time), and returns the
five measures of :mod:`roomgate.dsp.breathing` as :class:`BreathingFigures`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..dsp import breathing as measures
from ..io.report import Report

__all__ = ["BEFORE_OVERRIDES", "BreathingFigures", "BreathingRun", "figures", "measure_rig",
           "room_overrides", "run_take", "sung_phrases"]

#: heroes-1977's gates before issue 13, as ``--set`` overrides: a linear release of 400 ms (mid)
#: and 600 ms (far), 250 ms hold, 6 dB hysteresis.
BEFORE_OVERRIDES = [f"mics.{mic}.gate.{key}={value}" for mic in ("mid", "far") for key, value in (
    ("release_curve", '"linear"'), ("hysteresis_db", 6), ("hold_ms", 250))] + [
    "mics.mid.gate.release_ms=400", "mics.far.gate.release_ms=600"]


def room_overrides(rt60_s: float) -> list[str]:
    """``--set`` overrides for a room of ``rt60_s``: heroes-1977's gates follow it by themselves
    (their hold and release are ``"room"``: :func:`roomgate.dsp.gate.room_hold_release_ms`)."""
    return [f"room.rt60_s={rt60_s:g}"]


@dataclass
class BreathingRun:
    """One take through a rig, gated and ungated, with what the measures need.

    Attributes:
        take: ``(1, T)`` the dry take; ``layout`` where its sections are.
        gated: ``(T + tail,)`` the rig's output (mono: the first channel).
        ungated: ``(T + tail,)`` the ungated rig's output, scaled to the gated one.
        mics: ``(M, T + tail)`` the ungated mic signals, trims and that scale applied.
        gains: ``(M, T + tail)`` each mic's gain per sample (ones for an ungated mic).
        names: the mics' names; ``gated_names`` those with a gate.
        report: the render's report.
    """

    take: np.ndarray
    layout: measures.TakeLayout
    gated: np.ndarray
    ungated: np.ndarray
    mics: np.ndarray
    gains: np.ndarray
    names: list[str]
    gated_names: list[str]
    report: Report
    scale: float  # the fitted overall scale of the ungated rig (1 when the build is right)


@dataclass
class BreathingFigures:
    """The five measures of :mod:`roomgate.dsp.breathing` for one rig and take."""

    ring_out_db: float  # gated - ungated at t30 (>= -3 passes)
    t30_s: float  # when the ungated output had fallen 30 dB
    dips: dict[str, int] = field(default_factory=dict)  # per gate, loudest section (<= 2)
    soft_open: dict[str, float] = field(default_factory=dict)  # per gate, softest section
    after_db: dict[str, float] = field(default_factory=dict)  # per gate, 2.5 s after (<= -20)
    click_db: float = math.nan  # added / own HF energy, worst window (<= -12)

    def passes(self, soft_open_most: dict[str, float] | None = None) -> dict[str, bool]:
        """Each measure against the issue's limits (soft_open: mid 0.10, far 0.05 by default)."""
        most = soft_open_most or {"mid": 0.10, "far": 0.05}
        return {
            "rings out": self.ring_out_db >= -3.0,
            "no sagging": all(v <= 2 for v in self.dips.values()),
            "still staged": all(v <= most.get(k, 0.10) for k, v in self.soft_open.items()),
            "still a gate": all(v <= -20.0 for v in self.after_db.values()),
            "still clean": self.click_db <= -12.0,
        }

    def row(self) -> str:
        """One line: the five figures."""
        dips = " ".join(f"{k} {v}" for k, v in self.dips.items())
        soft = " ".join(f"{k} {v:.0%}" for k, v in self.soft_open.items())
        after = " ".join(f"{k} {v:.0f}" for k, v in self.after_db.items())
        return (f"ring-out {self.ring_out_db:+.1f} dB (t30 {self.t30_s:.2f} s) | dips {dips} | "
                f"soft open {soft} | after 2.5 s {after} dB | click {self.click_db:.1f} dB")


def sung_phrases(sample_rate: int, seed: int = 3) -> np.ndarray:
    """A synthetic sung line for the measures: three phrases 1 s apart; inside each, notes with
    50-300 ms gaps whose effort falls and rises (loud notes, then softer ones, 8-10 dB down), as a
    sung line does. About 15 s.

    Shape: returns ``(N,)`` float32, peak at -1 dBFS.
    """
    from ..synth.voice import Note as N, Rest as R, sing

    score: list[N | R] = [
        N("A3", 0.45, "a", 0.75, onset="h"), R(0.08, 0.1), N("B3", 0.35, "e", 0.6), R(0.25, 0.2),
        N("D4", 0.6, "o", 0.8, onset="l"), R(0.15, 0.1), N("C#4", 0.4, "a", 0.45, onset="t"),
        R(0.3, 0.2), N("A3", 0.5, "e", 0.4), R(0.2, 0.1), N("B3", 0.8, "a", 0.7, 0.5),
        R(1.0, 0.5),
        N("F#3", 0.4, "e", 0.5, onset="y"), R(0.05, 0.1), N("A3", 0.5, "a", 0.75), R(0.2, 0.2),
        N("B3", 0.3, "i", 0.4, onset="s"), R(0.12, 0.1), N("D4", 0.7, "o", 0.8, onset="w"),
        R(0.28, 0.2), N("C#4", 0.4, "e", 0.45), R(0.3, 0.2), N("E4", 0.9, "a", 0.8, 0.6),
        R(1.0, 0.5),
        N("D4", 0.5, "a", 0.8, onset="m"), R(0.1, 0.1), N("E4", 0.4, "e", 0.5), R(0.3, 0.2),
        N("F#4", 0.6, "a", 0.85, onset="h"), R(0.06, 0.1), N("E4", 0.35, "o", 0.45),
        R(0.18, 0.2), N("C#4", 0.5, "o", 0.4), R(0.25, 0.2), N("D4", 1.2, "a", 0.8, 0.6),
    ]
    return sing(score, sample_rate, seed=seed, peak_dbfs=-1.0, lead_s=0.05, tail_s=0.05)[0]


def _convolve(take: np.ndarray, irs: np.ndarray, length: int) -> np.ndarray:
    from scipy.signal import fftconvolve  # lazily

    out = fftconvolve(take.astype(np.float64), irs.astype(np.float64), axes=-1)[:, :length]
    if out.shape[1] < length:
        out = np.pad(out, ((0, 0), (0, length - out.shape[1])))
    return out


def run_take(vocal: np.ndarray, sample_rate: int, preset: str = "heroes-1977",
             overrides: Sequence[str] = ()) -> BreathingRun:
    """Render the issue's take through the preset, gated and ungated (see the module docstring).

    Shape: vocal ``(N,)`` or ``(1, N)`` dry mono at ``sample_rate``.
    """
    from . import load_preset  # the public API only: rig/ is refactored under this module

    take, layout = measures.build_take(vocal, sample_rate)
    rig = load_preset(preset, [*overrides, 'output.normalize="none"'])
    render = rig.render(take, sample_rate)
    gated = np.asarray(render.audio[0], dtype=np.float64)
    length = gated.shape[0]
    report = render.report
    names = [m.name for m in report.mics]
    gated_names = [m.name for m in report.gated_mics]
    trims = np.array([10 ** ((m.gain_db or 0.0) / 20) for m in report.mics])
    mics = _convolve(take, rig.capture_irs(sample_rate), length) * trims[:, np.newaxis]

    # Per-sample gains: the rig (calibrated on the take by the render) fed its own close mic as
    # the key track and a unit signal on one gated mic; the mix less the close mic's share is
    # that mic's trim times its gain.
    close = int(np.argmin([m.distance_m or 0.0 for m in report.mics]))
    tracks = np.zeros((len(names), length), np.float32)
    tracks[close] = mics[close] / trims[close]
    base = rig.process(tracks, sample_rate, reset=True)[0].astype(np.float64)
    gains = np.ones_like(mics)
    for i, name in enumerate(names):
        if name in gated_names:
            tracks[i] = 1.0
            gains[i] = (rig.process(tracks, sample_rate, reset=True)[0] - base) / trims[i]
            tracks[i] = 0.0
    # One overall scale, fitted (least squares) where every gate is open.
    ungated = mics.sum(axis=0)
    all_open = np.all(gains > 0.999, axis=0)
    scale = 1.0
    if all_open.any():
        u = ungated[all_open]
        scale = float(np.dot(gated[all_open], u) / max(float(np.dot(u, u)), 1e-30))
    return BreathingRun(take, layout, gated, ungated * scale, mics * scale, gains, names,
                        gated_names, report, scale)


def figures(run: BreathingRun) -> BreathingFigures:
    """The five measures of one :class:`BreathingRun`."""
    sr = run.layout.sample_rate
    loud_start, loud_stop, _ = run.layout.loudest()
    soft_start, soft_stop, _ = run.layout.softest()
    dry = run.take[0]
    first, end = measures.sung_span(dry, sr, loud_start, loud_stop)
    ring, t30 = measures.ring_out_db(run.gated, run.ungated, sr, end)
    out = BreathingFigures(ring, t30)
    for i, name in enumerate(run.names):
        if name in run.gated_names:
            out.dips[name] = measures.count_dips(run.gains[i], first, end)
            out.soft_open[name] = measures.open_fraction(run.gains[i], soft_start, soft_stop)
            out.after_db[name] = measures.gain_db_after(run.gains[i], sr, end)
    out.click_db = measures.click_margin_db(run.mics, run.gains, sr)
    return out


def measure_rig(vocal: np.ndarray, sample_rate: int, preset: str = "heroes-1977",
                overrides: Sequence[str] = ()) -> BreathingFigures:
    """The five figures for ``vocal`` through ``preset`` (with ``--set``-style ``overrides``)."""
    return figures(run_take(vocal, sample_rate, preset, overrides))
