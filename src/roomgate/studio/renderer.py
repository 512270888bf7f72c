"""The studio's renders of one take: the rig as heard (B), the rig with every gate open (C), and
the meters and loudness that level-match them with the dry take (A).

:class:`Renderer` runs the fast path: the take's captured mic signals come from its
:class:`~roomgate.studio.capture.CaptureCache`, and only the gates and the mix run
(:meth:`~roomgate.rig.Rig.render_captured`), with the calibration (relative thresholds fitted on
the take) reused while the keys and detectors stay the same. A gate keyed by the dry input needs
the dry signal, which a capture does not hold: such a rig renders by :meth:`Rig.render`.

Solo and mute are the monitor's, not the rig's: a muted mic is left out of the mix (its gate
still keys and ducks the others), and the monitored mix keeps the full mix's normalisation, so
a soloed room mic is heard at the level it has in the mix.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
import numpy as np

from ..rig import Rig
from ..rig.calibration import Calibration
from ..rig.rig import Render
from .capture import CaptureCache, calibration_key

__all__ = ["Monitor", "Outcome", "Renderer", "open_rig"]

#: Calibrations kept per session (each is a few numbers and the key statistics).
KEPT_CALIBRATIONS = 16


@dataclass(frozen=True)
class Monitor:
    """What is heard: the soloed mics (all others muted) or else the muted ones."""

    solo: tuple[str, ...] = ()
    mute: tuple[str, ...] = ()

    def muted(self, names: Sequence[str]) -> list[str]:
        """The mics left out of the mix, in ``names``' order."""
        if self.solo:
            return [n for n in names if n not in self.solo]
        return [n for n in names if n in self.mute]

    def restricted_to(self, names: Sequence[str]) -> Monitor:
        """Without the mics ``names`` lacks (after a preset with other mics was loaded)."""
        return Monitor(tuple(n for n in self.solo if n in names), tuple(n for n in self.mute if n in names))

    def to_json(self) -> dict[str, list[str]]:
        return {"solo": list(self.solo), "mute": list(self.mute)}


@dataclass
class Outcome:
    """A render of the take and how it was made."""

    render: Render  # normalised as Rig.render normalises (the monitored mix at the full mix's gain)
    convolved: list[str]  # mics whose capture was computed anew for this render
    captured: np.ndarray | None  # (M, N + tail) the capture it used (None: the slow path)
    calibration: Calibration | None
    # The mix before normalisation (the fast path only): a re-gated render differs from the one
    # before only where a gate's gain moved, even when the normalisation changed.
    raw: np.ndarray | None = None
    digests: tuple[str, ...] = ()  # the capture's IR rows (with the take, what the capture is)


def open_rig(rig: Rig) -> Rig:
    """The rig with every gate removed: the room without the staging (the studio's C)."""
    mics = tuple(dataclasses.replace(m, gate=None) for m in rig.config.mics)
    return Rig(dataclasses.replace(rig.config, mics=mics))


class Renderer:
    """The session's render machinery: calibrations and full-mix normalisations kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calibrations: OrderedDict[str, Calibration | None] = OrderedDict()

    def render(self, rig: Rig, dry: np.ndarray, sample_rate: int, capture: CaptureCache | None,
               monitor: Monitor) -> Outcome:
        """The take through ``rig`` as the monitor hears it. Shape: dry ``(1, N)``."""
        muted = monitor.muted(rig.mic_names)
        if capture is None or _dry_keyed(rig):
            render = rig.render(dry, sample_rate)
            if muted:  # no capture to re-mix: the slow path renders the monitored mix alone
                render = self._monitored_slow(rig, dry, sample_rate, render, muted)
            return Outcome(render, list(rig.mic_names), None, rig.calibration)
        irs = rig.capture_irs(sample_rate)
        captured, new, digests = capture.captured(irs, rig.tail_samples(sample_rate))
        key = calibration_key(rig.config, digests)
        with self._lock:
            calibration = self._calibrations.get(key)
        render = rig.render_captured(captured, sample_rate, dry.shape[1], calibration=calibration, normalize=False)
        calibration = rig.calibration
        with self._lock:
            self._calibrations[key] = calibration
            self._calibrations.move_to_end(key)
            while len(self._calibrations) > KEPT_CALIBRATIONS:
                self._calibrations.popitem(last=False)
        full_db = render.normalization_db
        if muted:
            render = rig.render_captured(captured, sample_rate, dry.shape[1], calibration=calibration, muted=muted,
                                         normalize=False)
        raw = render.audio
        normalized = dataclasses.replace(render, audio=raw, normalization_db=0.0)
        return Outcome(_renormalized(normalized, full_db), [rig.mic_names[i] for i in new], captured, calibration, raw,
                       digests)

    def render_open(self, rig: Rig, outcome: Outcome, sample_rate: int, monitor: Monitor) -> Render | None:
        """C: the same capture with every gate open, as the monitor hears it (None on the slow
        path, which has no capture to re-mix)."""
        if outcome.captured is None:
            return None
        opened = open_rig(rig)
        return opened.render_captured(outcome.captured, sample_rate, outcome.render.input_samples,
                                      calibration=outcome.calibration, muted=monitor.muted(rig.mic_names))

    @staticmethod
    def _monitored_slow(rig: Rig, dry: np.ndarray, sample_rate: int, full: Render, muted: list[str]) -> Render:
        """The monitored mix without a capture: the take rendered again with the muted mics'
        trims at -300 dB (inaudible; their gates still run and key), at the full mix's
        normalisation. Only for rigs the fast path cannot render (a gate keyed by the dry take)."""
        quiet = tuple(dataclasses.replace(m, gain_db=-300.0, match_offset_lu=None) if m.name in muted else m
                      for m in rig.config.mics)
        monitored = Rig(dataclasses.replace(rig.config, mics=quiet))
        if rig.calibration is not None:
            monitored.calibration = rig.calibration
        render = monitored.render(dry, sample_rate)
        return _renormalized(render, full.normalization_db)


def _renormalized(render: Render, normalization_db: float) -> Render:
    """``render`` at another normalisation gain (the full mix's), its report saying so."""
    change_db = normalization_db - render.normalization_db
    audio = render.audio
    if change_db:  # (a float32 product, as Rig.render's: the same samples)
        audio = audio * np.float32(10 ** (change_db / 20))
    report = render.report
    if report.output is not None:
        report = dataclasses.replace(report, output=dataclasses.replace(report.output,
                                                                         normalization_db=round(normalization_db, 3)))
    return dataclasses.replace(render, audio=audio, normalization_db=normalization_db, report=report)


def _dry_keyed(rig: Rig) -> bool:
    config = rig.config
    return any(m.gate is not None and config.key_index(i) is None for i, m in enumerate(config.mics))
