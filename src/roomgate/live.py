"""Live: the rig in real time, from an audio interface's input to headphones or a PA.

The singer's microphone comes in on one input channel (the dry vocal: the rig's room is
simulated around it), or the rig's real microphones come in on several (one per mic, in the
rig's order); the mix goes out in mono, in stereo, or mono on both sides of a stereo output.

Two threads, as python-sounddevice's examples do it:

- the audio thread runs :meth:`LiveEngine.callback` once per block: it copies the chosen input
  channel into a preallocated buffer, runs :meth:`Rig.process_into` (zero-latency partitioned
  convolution, the gates and the mix, allocating no arrays) and writes ``outdata[:]``. It does no
  I/O, takes no lock and never prints; it counts over- and underflows, times itself, and when
  something raises it keeps the exception, silences the output and aborts the stream;
- the calling thread (:func:`run`) opens the devices, calibrates, reports through ``on_message``
  and waits for Ctrl-C (or a ``stop`` event), then re-raises what the callback raised, if anything.

Percentile thresholds (``"p65"``) need the singer's level before the first note: ``run`` records
``calibrate_s`` seconds first (the singer sings their loudest line), fits the thresholds on it
and can save them (:func:`save_calibration`) for the next session (:func:`load_calibration`).

sounddevice (and PortAudio under it) is imported only inside these functions; nothing here
prints or exits: the command line does that with what these return or raise.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .io.audio import atomic_output, check_sample_rate
from .errors import AudioInputError, ConfigError, MissingDependencyError, OutputError

__all__ = [
    "INSTALL_PORTAUDIO",
    "INSTALL_SOUNDDEVICE",
    "LiveEngine",
    "LiveStats",
    "list_devices",
    "load_calibration",
    "run",
    "save_calibration",
]

INSTALL_PORTAUDIO = (
    "roomgate live needs PortAudio: sudo apt-get install libportaudio2 (Debian/Ubuntu), "
    "brew install portaudio (macOS)"
)
INSTALL_SOUNDDEVICE = "roomgate live needs the sounddevice package: pip install 'roomgate[live]'"
#: Callback times kept for the percentiles of :class:`LiveStats` (the latest this many blocks).
TIMING_HISTORY_BLOCKS = 1 << 16
#: A calibration recording whose peak is below this is taken for a dead input, not a singer.
SILENT_INPUT_DB = -60.0
CALIBRATION_FORMAT = 1

Message = Callable[[str], None]


def _silent(_message: str) -> None:
    pass


def _sounddevice() -> Any:
    """python-sounddevice, or a MissingDependencyError saying what to install."""
    try:
        import sounddevice
    except OSError as error:  # sounddevice is there but PortAudio is not: it raises OSError
        raise MissingDependencyError(INSTALL_PORTAUDIO) from error
    except ImportError as error:
        raise MissingDependencyError(f"{INSTALL_SOUNDDEVICE} ({error})") from error
    return sounddevice


def list_devices() -> str:
    """PortAudio's audio devices, one a line, with their input and output channel counts;
    ``>`` marks the default input, ``<`` the default output."""
    sd = _sounddevice()
    devices = sd.query_devices()
    if len(devices) == 0:
        return "no audio devices: PortAudio finds no sound card (is one connected and enabled?)"
    return f"{devices}\n(> default input, < default output, * both; pass the number or part of the name)"


# --------------------------------------------------------------------------------------------------
# The audio thread's side


@dataclass(frozen=True)
class LiveStats:
    """How a live run went. Fractions are of the block period (``frames / sample_rate``): a
    callback at 1.0 took its whole period, and the output would have dropped out."""

    sample_rate: int
    blocksize: int
    blocks: int  # callbacks run
    frames: int  # samples per channel processed
    xruns: int  # callbacks whose status flagged an input overflow or an output underflow
    input_overflows: int
    output_underflows: int
    late_blocks: int  # callbacks that took longer than their block period
    mean_callback_fraction: float
    p99_callback_fraction: float  # over the latest TIMING_HISTORY_BLOCKS blocks
    max_callback_fraction: float
    latency_s: float  # block + gate lookahead + the devices' own, as reported at the start

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


class LiveEngine:
    """A sounddevice-style callback around :meth:`Rig.process_into`.

    Args:
        rig: the rig, calibrated if its thresholds are relative.
        sample_rate: the stream's rate, Hz.
        blocksize: frames per callback (the buffers are sized for it; a longer callback still
            works, in pieces).
        output_channels: channels of the output stream. A mono rig goes to every one of them
            (the same mix on both sides of headphones); a stereo rig needs at least 2 (the first
            two get it, the others silence).
        input_channel: the input channel (0-based) that carries the singer's mic, or one
            channel per mic of the rig, in its order (the real mics, live).
        input_channels: channels of the input stream; default ``max(input_channel) + 1``.

    Construction starts the rig's stream (:meth:`Rig.start_stream`): the room is simulated and
    every kernel loaded here, not in the first callback. After a run, :attr:`error` holds what
    the callback raised (``None`` if nothing), and :meth:`stats` says how it went.

    Shape:
        the callback's ``indata`` is ``(frames, input_channels)`` and ``outdata``
        ``(frames, output_channels)``, float32, as sounddevice passes them.
    """

    #: Raised by the callback after a failure, to end the stream; :func:`run` sets it to
    #: sounddevice's ``CallbackAbort`` (which stops the stream without printing anything).
    abort_exception: type[BaseException] = RuntimeError

    def __init__(
        self,
        rig: Any,
        sample_rate: int,
        blocksize: int = 128,
        *,
        output_channels: int = 2,
        input_channel: int | Sequence[int] = 0,
        input_channels: int | None = None,
    ):
        self.rig = rig
        self.sample_rate = check_sample_rate(sample_rate)
        if not isinstance(blocksize, int) or not 1 <= blocksize <= 8192:
            raise ConfigError(f"blocksize: expected 1 to 8192 samples, got {blocksize!r}")
        self.blocksize = blocksize
        selection = [input_channel] if isinstance(input_channel, (int, np.integer)) else list(input_channel)
        count = len(rig.mic_names)
        if len(selection) not in (1, count) or any(int(c) < 0 for c in selection):
            raise ConfigError(
                f"input_channel: expected one channel (a dry vocal) or {count} (the mics "
                f"{', '.join(rig.mic_names)}), each >= 0, got {input_channel!r}"
            )
        self.input_selection = tuple(int(c) for c in selection)
        self.input_channels = max(self.input_selection) + 1 if input_channels is None else int(input_channels)
        if self.input_channels <= max(self.input_selection):
            raise ConfigError(
                f"input_channel: channel {max(self.input_selection)} asked of an input stream of "
                f"{self.input_channels} channel(s)"
            )
        self.mix_channels = rig.output_channels
        if not isinstance(output_channels, int) or output_channels < 1:
            raise ConfigError(f"output_channels: expected 1 or more, got {output_channels!r}")
        if self.mix_channels > output_channels:
            raise ConfigError(
                f"output_channels: the preset's output is {self.mix_channels}-channel "
                f"(output.channels), the output has {output_channels}; use a stereo output or "
                "--set output.channels=1"
            )
        self.output_channels = output_channels
        self.latency_samples = rig.start_stream(
            self.sample_rate, blocksize, dry_input=len(self.input_selection) == 1
        )
        self._input = np.zeros((len(self.input_selection), blocksize), np.float32)
        self._mix = np.zeros((self.mix_channels, blocksize), np.float32)
        self._fractions = np.zeros(TIMING_HISTORY_BLOCKS, np.float64)
        self.finished = threading.Event()  # set when the stream ends, or the callback failed
        self.error: BaseException | None = None
        self.reset_stats()

    def reset_stats(self) -> None:
        self.blocks = 0
        self.frames = 0
        self.xruns = 0
        self.input_overflows = 0
        self.output_underflows = 0
        self.late_blocks = 0
        self.busy_s = 0.0
        self.max_fraction = 0.0

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        """One block, in python-sounddevice's ``Stream`` callback signature; writes ``outdata[:]``.

        No I/O, no lock, no array allocated (once the stream runs at ``blocksize``).
        """
        started = _perf_counter()
        if status:
            # Over- and underflows are counted here and reported by the calling thread.
            if status.input_overflow or status.output_underflow:
                self.xruns += 1
            if status.input_overflow:
                self.input_overflows += 1
            if status.output_underflow:
                self.output_underflows += 1
        try:
            if frames == self.blocksize:
                dry, mix = self._input, self._mix
            else:  # PortAudio may hand over another size now and then: views, still no copies
                dry, mix = self._block_buffers(frames)
            for row, channel in enumerate(self.input_selection):
                np.copyto(dry[row], indata[:, channel])
            if self.mix_channels == self.output_channels:
                self.rig.process_into(dry, self.sample_rate, outdata.T)
            else:
                self.rig.process_into(dry, self.sample_rate, mix)
                if self.mix_channels == 1:  # mono on every output channel
                    np.copyto(outdata, mix.T)
                else:
                    np.copyto(outdata[:, : self.mix_channels], mix.T)
                    outdata[:, self.mix_channels :] = 0.0
        except BaseException as error:
            # Kept for the calling thread to re-raise; the stream ends on silence.
            self.error = error
            outdata.fill(0.0)
            self.finished.set()
            raise self.abort_exception(f"the live callback raised {type(error).__name__}") from error
        elapsed_s = _perf_counter() - started
        fraction = elapsed_s * self.sample_rate / frames if frames else 0.0
        self._fractions[self.blocks % TIMING_HISTORY_BLOCKS] = fraction
        self.blocks += 1
        self.frames += frames
        self.busy_s += elapsed_s
        if fraction > self.max_fraction:
            self.max_fraction = fraction
        if fraction > 1.0:
            self.late_blocks += 1

    def _block_buffers(self, frames: int) -> tuple[np.ndarray, np.ndarray]:
        if frames <= self.blocksize:
            return self._input[:, :frames], self._mix[:, :frames]
        return (np.zeros((len(self.input_selection), frames), np.float32),
                np.zeros((self.mix_channels, frames), np.float32))

    def stats(self, latency_s: float = math.nan) -> LiveStats:
        """The counters so far as a :class:`LiveStats`."""
        kept = self._fractions[: min(self.blocks, TIMING_HISTORY_BLOCKS)]
        return LiveStats(
            sample_rate=self.sample_rate,
            blocksize=self.blocksize,
            blocks=self.blocks,
            frames=self.frames,
            xruns=self.xruns,
            input_overflows=self.input_overflows,
            output_underflows=self.output_underflows,
            late_blocks=self.late_blocks,
            mean_callback_fraction=self.busy_s * self.sample_rate / self.frames if self.frames else 0.0,
            p99_callback_fraction=float(np.percentile(kept, 99)) if kept.size else 0.0,
            max_callback_fraction=self.max_fraction,
            latency_s=latency_s,
        )


_perf_counter = time.perf_counter


# --------------------------------------------------------------------------------------------------
# Calibration files


def save_calibration(path: str | Path, rig: Any, *, sample_rate: int | None = None,
                     recorded_s: float | None = None) -> Path:
    """Write the rig's calibration (absolute thresholds, matched trims) as JSON, atomically.

    The file names the preset and each mic's relative threshold, so that
    :func:`load_calibration` can refuse it for another rig. Returns the path.
    """
    if rig.calibration is None:
        raise ConfigError("calibration: the rig is not calibrated; nothing to save")
    path = Path(path).expanduser()
    data = {
        "roomgate_calibration": CALIBRATION_FORMAT,
        "preset": rig.config.name,
        "thresholds": {m.name: m.gate.threshold for m in rig.gated_mics if m.gate is not None},
        "thresholds_db": {k: round(float(v), 4) for k, v in rig.calibration.thresholds_db.items()},
        "gains_db": {k: round(float(v), 4) for k, v in getattr(rig.calibration, "gains_db", {}).items()},
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


def load_calibration(path: str | Path, rig: Any) -> Any:
    """Read a calibration saved by :func:`save_calibration` and set it on the rig.

    Raises ConfigError, naming the file, when it cannot be read, is for another preset, or was
    fitted for other relative thresholds than the rig's. Returns the
    :class:`~roomgate.rig.rig.Calibration` set.
    """
    from .rig.rig import Calibration

    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the calibration file: {error.strerror or error}") from error
    except ValueError as error:
        raise ConfigError(f"{path}: not a calibration file (invalid JSON: {error})") from error
    if not isinstance(data, dict) or data.get("roomgate_calibration") != CALIBRATION_FORMAT:
        raise ConfigError(f"{path}: not a roomgate calibration file (expected the key 'roomgate_calibration': "
                          f"{CALIBRATION_FORMAT})")
    if data.get("preset") != rig.config.name:
        raise ConfigError(f"{path}: a calibration of preset {data.get('preset')!r}, not {rig.config.name!r}; "
                          "calibrate again (--calibrate SECONDS)")
    thresholds = data.get("thresholds_db")
    gains = data.get("gains_db", {})
    if not isinstance(thresholds, dict) or not isinstance(gains, dict):
        raise ConfigError(f"{path}: expected 'thresholds_db' and 'gains_db' objects of mic name -> dB")
    saved_specs = data.get("thresholds", {})
    for mic in rig.gated_mics:
        spec = mic.gate.threshold
        if not isinstance(spec, str):
            continue
        if mic.name not in thresholds:
            raise ConfigError(f"{path}: no threshold for mics.{mic.name}; calibrate again (--calibrate SECONDS)")
        if saved_specs.get(mic.name) != spec:
            raise ConfigError(
                f"{path}: mics.{mic.name}.gate.threshold is {spec!r} but the file was fitted for "
                f"{saved_specs.get(mic.name)!r}; calibrate again (--calibrate SECONDS)"
            )
    try:
        values = {str(k): float(v) for k, v in thresholds.items()}
        trims = {str(k): float(v) for k, v in gains.items()}
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}: thresholds and gains must be numbers of dB ({error})") from error
    if not all(math.isfinite(v) for v in [*values.values(), *trims.values()]):
        raise ConfigError(f"{path}: thresholds and gains must be finite numbers of dB")
    calibration = Calibration(thresholds_db=values, gains_db=trims)
    rig.calibration = calibration
    rig.reset()
    return calibration


# --------------------------------------------------------------------------------------------------
# The calling thread's side


def _device_number(device: int | str | None) -> int | str | None:
    """A device given as digits on the command line is a device number."""
    if isinstance(device, str) and device.strip().isdigit():
        return int(device)
    return device


def _query_device(sd: Any, device: int | str | None, kind: str) -> dict[str, Any]:
    """sounddevice's description of a device, or an error naming what is missing."""
    try:
        return dict(sd.query_devices(device, kind))
    except (ValueError, sd.PortAudioError) as error:
        if device is None:
            found = len(sd.query_devices())
            raise MissingDependencyError(
                f"roomgate live needs an audio {kind} device: PortAudio finds no default {kind} "
                f"({found} device(s) in all); connect one, or choose one with --{kind}-device "
                "(see --list-devices)"
            ) from error
        raise AudioInputError(f"--{kind}-device {device!r}: {error} (see --list-devices)") from error


def _record(sd: Any, device: int, channels: Sequence[int], stream_channels: int, sample_rate: int,
            seconds: float, stop: threading.Event | None) -> np.ndarray:
    """``seconds`` of the chosen input channels, ``(len(channels), N)`` float32 (shorter if
    ``stop`` was set)."""
    total = int(round(seconds * sample_rate))
    recording = np.zeros((total, len(channels)), np.float32)
    filled = [0]
    done = threading.Event()

    def take(indata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        # Into the preallocated recording: no allocation, no I/O, in the audio thread.
        start = filled[0]
        count = min(frames, total - start)
        for row, channel in enumerate(channels):
            recording[start : start + count, row] = indata[:count, channel]
        filled[0] = start + count
        if filled[0] >= total:
            done.set()
            raise sd.CallbackStop

    try:
        stream = sd.InputStream(device=device, channels=stream_channels, samplerate=sample_rate,
                                dtype="float32", callback=take, finished_callback=done.set)
    except (ValueError, sd.PortAudioError) as error:
        raise AudioInputError(f"cannot record the calibration (input device {device}, {stream_channels} "
                              f"channel(s), {sample_rate} Hz): {error}") from error
    with stream:
        while not done.wait(0.1):
            if stop is not None and stop.is_set():
                break
    return np.ascontiguousarray(recording[: filled[0]].T)


def run(
    rig: Any,
    *,
    input_device: int | str | None = None,
    output_device: int | str | None = None,
    input_channel: int | Sequence[int] = 0,
    blocksize: int = 128,
    sample_rate: int | None = None,
    output_channels: int = 2,
    calibrate_s: float | None = None,
    calibration_path: str | Path | None = None,
    on_message: Message | None = None,
    stop: threading.Event | None = None,
    latency: str | float = "low",
) -> LiveStats:
    """Run the rig live until Ctrl-C (KeyboardInterrupt) or until ``stop`` is set.

    Args:
        rig: the rig (from :func:`roomgate.load_preset`).
        input_device, output_device: a device number or part of its name (see
            :func:`list_devices`); None = the system's default.
        input_channel: the input channel (0-based) of the singer's mic, or one per mic of the
            rig in its order (the real mics, live).
        blocksize: frames per callback; the latency grows with it, the risk of dropouts falls.
        sample_rate: Hz; None = the input device's default rate.
        output_channels: 2 sends a mono rig to both sides of a stereo output (as headphones
            want); 1 opens a single output channel. Capped at what the output device has.
        calibrate_s: record this many seconds first (the singer sings their loudest line) and
            fit the relative thresholds (``"p65"``) on it.
        calibration_path: with ``calibrate_s``, save the calibration there; without, read it
            from there (a previous session's).
        on_message: receives the progress and the reports, one line each (never printed here).
        stop: an event another thread sets to end the run (a GUI, a test).
        latency: PortAudio's suggested latency: ``"low"``, ``"high"`` or seconds.

    Returns:
        :class:`LiveStats`.

    Raises:
        MissingDependencyError: sounddevice or PortAudio missing, or no input/output device.
        ConfigError: relative thresholds without ``calibrate_s`` or ``calibration_path``; a bad
            calibration file; a stereo preset for a mono output.
        AudioInputError: a device or channel that does not exist, a stream PortAudio cannot
            open, a silent calibration recording.
        Whatever the audio callback raised, re-raised here once the stream is closed.
        Ctrl-C while the calibration records is a KeyboardInterrupt, as anywhere.
    """
    say = on_message or _silent
    # Checked before anything is opened or recorded: nobody should sing for nothing.
    if not isinstance(blocksize, int) or not 1 <= blocksize <= 8192:
        raise ConfigError(f"blocksize: expected 1 to 8192 samples, got {blocksize!r}")
    if not (isinstance(input_channel, (int, np.integer)) or len(list(input_channel)) == len(rig.mic_names)):
        raise ConfigError(
            f"input_channel: expected one channel (a dry vocal) or {len(rig.mic_names)} (the mics "
            f"{', '.join(rig.mic_names)}), got {input_channel!r}"
        )
    if calibrate_s is not None and not (isinstance(calibrate_s, (int, float)) and 0 < calibrate_s <= 600):
        raise ConfigError(f"calibrate_s: expected 0 to 600 seconds, got {calibrate_s!r}")
    sd = _sounddevice()
    in_info = _query_device(sd, _device_number(input_device), "input")
    out_info = _query_device(sd, _device_number(output_device), "output")
    in_name, out_name = in_info.get("name", "?"), out_info.get("name", "?")
    selection = [input_channel] if isinstance(input_channel, (int, np.integer)) else list(input_channel)
    available_in = int(in_info["max_input_channels"])
    if any(int(c) >= available_in for c in selection):
        raise AudioInputError(
            f"--input-channel {input_channel!r}: input device {in_name!r} has {available_in} input "
            f"channel(s), numbered 0 to {available_in - 1}"
        )
    stream_inputs = max(int(c) for c in selection) + 1
    output_channels = max(1, min(int(output_channels), int(out_info["max_output_channels"])))
    rate = check_sample_rate(sample_rate if sample_rate is not None else round(float(in_info["default_samplerate"])))

    if calibrate_s is not None:
        say(f"calibration: sing your loudest line now, for {calibrate_s:g} s (input {in_name!r}, "
            f"channel {input_channel})")
        recording = _record(sd, in_info["index"], [int(c) for c in selection], stream_inputs, rate,
                            calibrate_s, stop)
        if stop is not None and stop.is_set():  # stopped while calibrating: nothing ran
            return LiveStats(rate, blocksize, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, math.nan)
        peak = float(np.max(np.abs(recording))) if recording.size else 0.0
        peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
        if peak_db < SILENT_INPUT_DB:
            raise AudioInputError(
                f"calibration: the input {in_name!r} channel {input_channel} was silent (peak "
                f"{peak_db:.1f} dBFS over {calibrate_s:g} s); check the channel and the input gain"
            )
        rig.calibrate(recording, rate)
        say(_describe_calibration(rig, f"fitted on {recording.shape[1] / rate:.1f} s, peak {peak_db:.1f} dBFS"))
        if calibration_path is not None:
            saved = save_calibration(calibration_path, rig, sample_rate=rate, recorded_s=recording.shape[1] / rate)
            say(f"calibration saved to {saved}")
    elif calibration_path is not None:
        load_calibration(calibration_path, rig)
        say(_describe_calibration(rig, f"from {calibration_path}"))
    elif rig.needs_calibration:
        relative = [f"mics.{m.name}.gate.threshold = {m.gate.threshold!r}" for m in rig.gated_mics
                    if m.gate is not None and isinstance(m.gate.threshold, str)]
        raise ConfigError(
            f"{', '.join(relative) or 'the preset'}: fitted to the singer, so going live needs a "
            "calibration first: pass --calibrate SECONDS (sing your loudest line) or --calibration FILE "
            "(saved by an earlier --calibrate)"
        )

    engine = LiveEngine(rig, rate, blocksize, output_channels=output_channels, input_channel=input_channel,
                        input_channels=stream_inputs)
    engine.abort_exception = sd.CallbackAbort
    try:
        stream = sd.Stream(
            device=(in_info["index"], out_info["index"]),
            samplerate=rate,
            blocksize=blocksize,
            dtype="float32",
            channels=(stream_inputs, output_channels),
            latency=latency,
            callback=engine.callback,
            finished_callback=engine.finished.set,
        )
    except (ValueError, sd.PortAudioError) as error:
        raise AudioInputError(
            f"cannot open the audio stream (input {in_name!r}, output {out_name!r}, {rate} Hz, blocks of "
            f"{blocksize}): {error}"
        ) from error
    latency_s = 0.0
    with stream:
        device_in_s, device_out_s = _pair(stream.latency)
        block_s = blocksize / rate
        lookahead_s = engine.latency_samples / rate
        latency_s = block_s + lookahead_s + device_in_s + device_out_s
        say(
            f"live at {rate} Hz: {in_name!r} channel {input_channel} -> {out_name!r} "
            f"({output_channels} channel(s)); latency {latency_s * 1e3:.1f} ms = block {block_s * 1e3:.1f} ms "
            f"+ gate lookahead {lookahead_s * 1e3:.1f} ms + device {device_in_s * 1e3:.1f} in "
            f"+ {device_out_s * 1e3:.1f} out; Ctrl-C to stop"
        )
        reported = 0
        try:
            while not engine.finished.wait(0.1):
                if stop is not None and stop.is_set():
                    break
                if engine.xruns > reported:  # told from here: the callback never does I/O
                    reported = engine.xruns
                    say(f"dropout: {engine.xruns} over/underflow(s) so far "
                        f"(a larger --blocksize or a quieter machine helps)")
        except KeyboardInterrupt:
            pass
    if engine.error is not None:
        raise engine.error
    stats = engine.stats(latency_s)
    say(
        f"stopped after {stats.duration_s:.1f} s: {stats.blocks} blocks, {stats.xruns} over/underflow(s), "
        f"callback mean {stats.mean_callback_fraction:.1%}, p99 {stats.p99_callback_fraction:.1%}, "
        f"max {stats.max_callback_fraction:.1%} of the block period"
    )
    return stats


def _pair(latency: Any) -> tuple[float, float]:
    """A duplex stream's ``(input, output)`` latency in seconds (one number counts as both)."""
    if isinstance(latency, (tuple, list)):
        return float(latency[0]), float(latency[1])
    return float(latency), float(latency)


def _describe_calibration(rig: Any, how: str) -> str:
    parts = [f"{name} {value:.1f} dBFS" for name, value in rig.calibration.thresholds_db.items()]
    return f"calibration ({how}): thresholds {', '.join(parts) or 'none'}"
