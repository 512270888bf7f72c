"""Calibration: the rig's relative settings fixed on one performance, and calibration files.

Two kinds of setting are fitted to the take rather than written in the preset:

- relative thresholds (``"p65"``, ``"-6 dB re peak"``): resolved on the statistics of each gate's
  key, measured with that gate's own detector;
- matched trims (``gain_db = "match -6"``): each mic's loudness (BS.1770) over the passages where
  its gate is open, matched to the nearest mic's, plus the offset.

:func:`calibrate` streams the take (a callable giving its blocks, once per pass) and keeps only
frame levels and a bounded amount of open material, so memory stays small. Gates that hear the
same key through the same detector share one probe; a probe runs on numpy
(:mod:`~roomgate.dsp.gate_vector`) when it covers the gate, so calibrating loads no numba. A
live stream cannot see the whole take first: :func:`save_calibration` keeps a calibration in a
JSON file and :func:`load_calibration` reads it back for the same preset.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import AbsoluteThreshold, RigConfig
from ..dsp.levels import FrameLevels, KeyStatistics, OpenLoudness, key_statistics
from ..errors import AudioInputError, ConfigError, OutputError
from .gates import build_gate

if TYPE_CHECKING:
    from ..dsp.gate import Gate

__all__ = ["CALIBRATION_FORMAT", "Calibration", "calibrate", "load_calibration", "save_calibration"]

#: The ``roomgate_calibration`` value of a calibration file this version writes and reads.
CALIBRATION_FORMAT = 1

Blocks = Callable[[], Iterable[np.ndarray]]
CaptureIrs = Callable[[], np.ndarray]


@dataclass(frozen=True)
class Calibration:
    """The absolute values chosen for one take."""

    thresholds_db: dict[str, float]  # gated mic name -> threshold, dBFS of its key detector
    gains_db: dict[str, float] = field(default_factory=dict)  # mics with gain_db = "match" -> trim
    key_statistics: dict[str, KeyStatistics] = field(repr=False, default_factory=dict)


def calibrate(config: RigConfig, blocks: Blocks, sample_rate: int, capture_irs: CaptureIrs, *,
              captured: np.ndarray | None = None) -> Calibration:
    """Fix ``config``'s relative thresholds and matched trims on a take.

    ``blocks()`` yields the take's consecutive ``(1, n)`` dry or ``(M, n)`` multitrack blocks,
    each time it is called (one pass for the thresholds, one more for matched trims);
    ``capture_irs()`` gives the rig's ``(M, L)`` capture IRs, asked for only for a dry take.
    ``captured``: for a dry take, its mics' signals ``(M, >= N)`` already captured (then nothing
    is convolved again). Absolute thresholds pass through unchanged.
    """
    thresholds, statistics = _fit_thresholds(config, blocks, sample_rate, capture_irs, captured)
    gains = {}
    if any(m.match_offset_lu is not None for m in config.mics):
        gains = _match_gains(config, thresholds, blocks, sample_rate, capture_irs, captured)
    return Calibration(thresholds, gains, statistics)


def _detector_of(gate: Gate, key_index: int | None) -> tuple[Any, ...]:
    """What a probe's key levels depend on: the key, and the detector's settings (an rms level
    only on the detector and the key filters; a peak one also on when the probe opens, since it
    reads the opening sample, so on every setting)."""
    s = gate.settings
    if s.detector == "rms":
        return key_index, s.detector, s.detector_ms, s.key_highpass_hz, s.key_lowpass_hz
    return key_index, *dataclasses.astuple(s)


def _fit_thresholds(config: RigConfig, blocks: Blocks, sample_rate: int, capture_irs: CaptureIrs,
                    captured: np.ndarray | None = None) -> tuple[dict[str, float], dict[str, KeyStatistics]]:
    """One pass: each relative gate's key level through the gate's own detector, frame by frame
    (one probe for the gates that hear the same key alike: the rig's mid and far)."""
    from ..dsp.convolve import BlockConvolver

    relative = [(i, m) for i, m in enumerate(config.mics) if m.gate and m.gate.threshold.is_relative]
    thresholds = {m.name: m.gate.threshold.level_db for m in config.mics
                  if m.gate and isinstance(m.gate.threshold, AbsoluteThreshold)}
    # Only the mics that key a relative gate are captured ("dry" keys need none).
    needed = sorted({k for i, _ in relative if (k := config.key_index(i)) is not None})
    detectors: dict[str, tuple[Any, ...]] = {}
    probes: dict[tuple[Any, ...], Gate] = {}
    for index, mic in relative:
        probe = build_gate(mic.gate, 0.0, lookahead=False)  # type: ignore[arg-type]
        detectors[mic.name] = _detector_of(probe, config.key_index(index))
        probes.setdefault(detectors[mic.name], probe)
    levels = {detector: FrameLevels(sample_rate) for detector in probes}
    capture = None
    done = 0
    for block in blocks() if relative else ():
        n = block.shape[1]
        keys = None  # the needed mics, captured here (a dry take not captured yet)
        if block.shape[0] == 1 and captured is None and needed:
            if capture is None:
                capture = BlockConvolver(capture_irs()[needed])
            keys = capture.process(block)
        for detector, probe in probes.items():
            key_mic = detector[0]
            if key_mic is None:  # keyed by the dry voice
                key = block[:1]
            elif keys is not None:
                key = keys[needed.index(key_mic)][np.newaxis]
            elif block.shape[0] != 1:  # a multitrack: the recorded mic
                key = block[key_mic : key_mic + 1]
            else:
                assert captured is not None
                key = captured[key_mic : key_mic + 1, done : done + n]
            _probe_levels(probe, key, sample_rate, done == 0, levels[detector])
        done += n
    statistics = {mic.name: key_statistics(levels[detectors[mic.name]].frames_db()) for _, mic in relative}
    for _, mic in relative:
        assert mic.gate is not None
        thresholds[mic.name] = mic.gate.threshold.resolve_db(statistics[mic.name], f"mics.{mic.name}.gate.threshold")
    return thresholds, statistics


#: Probes run on numpy in pieces of this many samples (their traces stay small).
PROBE_PIECE = 1 << 17


def _probe_trace(probe: Gate, key: np.ndarray, sample_rate: int, reset: bool, opened: bool) -> Iterator[np.ndarray]:
    """The key levels (dBFS, or with ``opened`` the open flags) ``probe`` traces on ``key``
    ``(1, n)``, piece by piece: on numpy when it covers the probe, else the compiled gate."""
    from ..dsp import gate_vector

    if not gate_vector.supports(probe):
        trace = probe.process_with_trace(key, sample_rate, key=key, reset=reset)[1]
        yield trace.is_open if opened else trace.key_db
        return
    if reset:
        probe.reset()
    piece = min(key.shape[1], PROBE_PIECE)
    out = np.empty(piece, np.bool_ if opened else np.float32)
    for start in range(0, key.shape[1], piece):
        part = key[:, start : start + piece]
        n = part.shape[1]
        wanted = (None, out, None) if opened else (None, None, out)
        # checked: the take was (Rig._check_input), and a capture of finite audio is finite
        if gate_vector.process_block(probe, part, part, None, wanted, float(sample_rate), checked=True) >= 0:
            raise AudioInputError("audio: expected finite samples, got a NaN or an infinity")
        yield out[:n]


def _probe_levels(probe: Gate, key: np.ndarray, sample_rate: int, reset: bool, levels: FrameLevels) -> None:
    """Feed ``levels`` with the key level ``probe``'s detector reads on ``key`` ``(1, n)``."""
    for part in _probe_trace(probe, key, sample_rate, reset, opened=False):
        levels.add(part)


def _match_gains(config: RigConfig, thresholds_db: dict[str, float], blocks: Blocks, sample_rate: int,
                 capture_irs: CaptureIrs, captured: np.ndarray | None = None) -> dict[str, float]:
    """Trims for ``gain_db = "match"`` mics: each mic's loudness matched to the nearest mic's over
    the passages where its own gate is open (a pass with the calibrated gates)."""
    from ..dsp.convolve import BlockConvolver

    close = config.nearest_mic_index
    matched = [(i, m) for i, m in enumerate(config.mics) if m.match_offset_lu is not None and i != close]
    gates = {i: build_gate(m.gate, thresholds_db[m.name], lookahead=False) for i, m in matched if m.gate}
    collectors = {i: OpenLoudness(sample_rate) for i, _ in matched}
    capture = None
    done = 0
    for block in blocks():
        if block.shape[0] != 1:
            mics = block
        elif captured is not None:
            mics = captured[:, done : done + block.shape[1]]
        else:
            if capture is None:
                capture = BlockConvolver(capture_irs())
            mics = capture.process(block)
        for index, _ in matched:
            if index in gates:
                key_index = config.key_index(index)
                key = block[:1] if key_index is None else mics[key_index : key_index + 1]
                pieces = [p.copy() for p in _probe_trace(gates[index], key, sample_rate, done == 0, opened=True)]
                is_open = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
            else:  # an ungated mic is always open
                is_open = np.ones(mics.shape[1], dtype=bool)
            collectors[index].add(mics[index], mics[close], is_open)
        done += block.shape[1]
    gains = {m.name: collectors[i].trim_db(m.match_offset_lu, f"mics.{m.name}.gain_db")[0]  # type: ignore[arg-type]
             for i, m in matched}
    nearest = config.mics[close]
    if nearest.match_offset_lu is not None:  # matched to itself: the offset is the trim
        gains[nearest.name] = float(nearest.match_offset_lu)
    return gains


# -- calibration files -----------------------------------------------------------------------------


def save_calibration(path: str | Path, config: RigConfig, calibration: Calibration, *,
                     sample_rate: int | None = None, recorded_s: float | None = None) -> Path:
    """Write ``calibration`` (absolute thresholds, matched trims) as JSON, atomically.

    The file names the preset and each mic's relative threshold, so that :func:`load_calibration`
    can refuse it for another rig. Returns the path.
    """
    from ..io.audio import atomic_output

    path = Path(path).expanduser()
    data = {
        "roomgate_calibration": CALIBRATION_FORMAT,
        "preset": config.name,
        "thresholds": {m.name: m.gate.threshold.text for m in config.mics if m.gate is not None},
        "thresholds_db": {k: round(float(v), 4) for k, v in calibration.thresholds_db.items()},
        "gains_db": {k: round(float(v), 4) for k, v in calibration.gains_db.items()},
        "sample_rate": sample_rate,
        "recorded_s": recorded_s,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        with atomic_output(path) as temporary:  # never a half-written file; ordinary permissions
            temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(f"{path}: cannot write the calibration: {error.strerror or error}") from error
    return path


def load_calibration(path: str | Path, config: RigConfig) -> Calibration:
    """A calibration saved by :func:`save_calibration`, checked against ``config``.

    Raises ConfigError, naming the file, when it cannot be read, is for another preset, or was
    fitted for other relative thresholds than the rig's.
    """
    path = Path(path).expanduser()
    data = _read_calibration_file(path)
    if data.get("preset") != config.name:
        raise ConfigError(f"{path}: a calibration of preset {data.get('preset')!r}, not {config.name!r}; "
                          "calibrate again (--calibrate SECONDS)")
    thresholds, gains = data.get("thresholds_db"), data.get("gains_db", {})
    if not isinstance(thresholds, dict) or not isinstance(gains, dict):
        raise ConfigError(f"{path}: expected 'thresholds_db' and 'gains_db' objects of mic name -> dB")
    saved_forms = data.get("thresholds", {})
    for mic in config.mics:
        if mic.gate is None or not mic.gate.threshold.is_relative:
            continue
        if mic.name not in thresholds:
            raise ConfigError(f"{path}: no threshold for mics.{mic.name}; calibrate again (--calibrate SECONDS)")
        if saved_forms.get(mic.name) != mic.gate.threshold.text:
            raise ConfigError(
                f"{path}: mics.{mic.name}.gate.threshold is {mic.gate.threshold.text!r} but the file was fitted "
                f"for {saved_forms.get(mic.name)!r}; calibrate again (--calibrate SECONDS)"
            )
    try:
        values = {str(k): float(v) for k, v in thresholds.items()}
        trims = {str(k): float(v) for k, v in gains.items()}
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}: thresholds and gains must be numbers of dB ({error})") from error
    if not all(math.isfinite(v) for v in [*values.values(), *trims.values()]):
        raise ConfigError(f"{path}: thresholds and gains must be finite numbers of dB")
    return Calibration(thresholds_db=values, gains_db=trims)


def _read_calibration_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the calibration file: {error.strerror or error}") from error
    except ValueError as error:
        raise ConfigError(f"{path}: not a calibration file (invalid JSON: {error})") from error
    if not isinstance(data, dict) or data.get("roomgate_calibration") != CALIBRATION_FORMAT:
        raise ConfigError(f"{path}: not a roomgate calibration file (expected the key 'roomgate_calibration': "
                          f"{CALIBRATION_FORMAT})")
    return data
