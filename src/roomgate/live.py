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

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import AudioInputError, ConfigError, MissingDependencyError
from .units import check_sample_rate

if TYPE_CHECKING:
    from .rig import Rig

__all__ = [
    "INSTALL_PORTAUDIO",
    "INSTALL_SOUNDDEVICE",
    "LiveEngine",
    "LiveStats",
    "list_devices",
    "run",
]

INSTALL_PORTAUDIO = (
    "roomgate live needs PortAudio: sudo apt-get install libportaudio2 (Debian/Ubuntu), "
    "brew install portaudio (macOS)"
)
INSTALL_SOUNDDEVICE = ("roomgate live needs the sounddevice package: pip install 'roomgate[live]' "
                       "(from a checkout: pip install -e '.[live]')")
#: Callback times kept for the percentiles of :class:`LiveStats` (the latest this many blocks).
TIMING_HISTORY_BLOCKS = 1 << 16
#: A calibration recording whose peak is below this is taken for a dead input, not a singer.
SILENT_INPUT_DB = -60.0

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
        rig: Rig,
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
    rig: Rig,
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
    selection = _check_run_arguments(rig, input_channel, blocksize, calibrate_s)
    sd = _sounddevice()
    in_info = _query_device(sd, _device_number(input_device), "input")
    out_info = _query_device(sd, _device_number(output_device), "output")
    available_in = int(in_info["max_input_channels"])
    if any(c >= available_in for c in selection):
        raise AudioInputError(
            f"--input-channel {input_channel!r}: input device {in_info.get('name', '?')!r} has {available_in} "
            f"input channel(s), numbered 0 to {available_in - 1}"
        )
    stream_inputs = max(selection) + 1
    output_channels = max(1, min(int(output_channels), int(out_info["max_output_channels"])))
    rate = check_sample_rate(sample_rate if sample_rate is not None else round(float(in_info["default_samplerate"])))
    if calibrate_s is not None:
        recorded = _calibrate_live(rig, sd, in_info, selection, stream_inputs, rate, calibrate_s, calibration_path,
                                   stop, say)
        if not recorded:  # stopped while calibrating: nothing ran
            return LiveStats(rate, blocksize, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, math.nan)
    elif calibration_path is not None:
        rig.load_calibration(calibration_path)
        say(_describe_calibration(rig, f"from {calibration_path}"))
    elif rig.needs_calibration:
        fitted = [f"mics.{m.name}.gate.threshold = {m.gate.threshold.text!r}" for m in rig.config.mics
                  if m.gate and m.gate.threshold.is_relative]
        fitted += [f"mics.{m.name}.gain_db = 'match'" for m in rig.config.mics if m.match_offset_lu is not None]
        raise ConfigError(
            f"{', '.join(fitted)}: fitted to the singer, so going live needs a "
            "calibration first: pass --calibrate SECONDS (sing your loudest line) or --calibration FILE "
            "(saved by an earlier --calibrate)"
        )
    engine = LiveEngine(rig, rate, blocksize, output_channels=output_channels, input_channel=input_channel,
                        input_channels=stream_inputs)
    engine.abort_exception = sd.CallbackAbort
    stream = _open_stream(sd, engine, in_info, out_info, rate, blocksize, stream_inputs, output_channels, latency)
    latency_s = _run_stream(stream, engine, in_info, out_info, input_channel, stop, say)
    if engine.error is not None:
        raise engine.error
    stats = engine.stats(latency_s)
    say(
        f"stopped after {stats.duration_s:.1f} s: {stats.blocks} blocks, {stats.xruns} over/underflow(s), "
        f"callback mean {stats.mean_callback_fraction:.1%}, p99 {stats.p99_callback_fraction:.1%}, "
        f"max {stats.max_callback_fraction:.1%} of the block period"
    )
    return stats


def _check_run_arguments(rig: Rig, input_channel: int | Sequence[int], blocksize: int,
                         calibrate_s: float | None) -> list[int]:
    """Checked before anything is opened or recorded (nobody should sing for nothing); returns
    the input channels, 0-based."""
    if not isinstance(blocksize, int) or not 1 <= blocksize <= 8192:
        raise ConfigError(f"blocksize: expected 1 to 8192 samples, got {blocksize!r}")
    if not (isinstance(input_channel, (int, np.integer)) or len(list(input_channel)) == len(rig.mic_names)):
        raise ConfigError(
            f"input_channel: expected one channel (a dry vocal) or {len(rig.mic_names)} (the mics "
            f"{', '.join(rig.mic_names)}), got {input_channel!r}"
        )
    if calibrate_s is not None and not (isinstance(calibrate_s, (int, float)) and 0 < calibrate_s <= 600):
        raise ConfigError(f"calibrate_s: expected 0 to 600 seconds, got {calibrate_s!r}")
    return [int(input_channel)] if isinstance(input_channel, (int, np.integer)) else [int(c) for c in input_channel]


def _calibrate_live(rig: Rig, sd: Any, in_info: dict[str, Any], selection: list[int], stream_inputs: int,
                    rate: int, calibrate_s: float, calibration_path: str | Path | None,
                    stop: threading.Event | None, say: Message) -> bool:
    """Record the singer's loudest line, calibrate on it (and save it); False if stopped meanwhile."""
    in_name = in_info.get("name", "?")
    channel = selection[0] if len(selection) == 1 else selection
    say(f"calibration: sing your loudest line now, for {calibrate_s:g} s (input {in_name!r}, channel {channel})")
    recording = _record(sd, in_info["index"], selection, stream_inputs, rate, calibrate_s, stop)
    if stop is not None and stop.is_set():
        return False
    peak = float(np.max(np.abs(recording))) if recording.size else 0.0
    peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
    if peak_db < SILENT_INPUT_DB:
        raise AudioInputError(
            f"calibration: the input {in_name!r} channel {channel} was silent (peak "
            f"{peak_db:.1f} dBFS over {calibrate_s:g} s); check the channel and the input gain"
        )
    rig.calibrate(recording, rate)
    say(_describe_calibration(rig, f"fitted on {recording.shape[1] / rate:.1f} s, peak {peak_db:.1f} dBFS"))
    if calibration_path is not None:
        saved = rig.save_calibration(calibration_path, sample_rate=rate, recorded_s=recording.shape[1] / rate)
        say(f"calibration saved to {saved}")
    return True


def _open_stream(sd: Any, engine: LiveEngine, in_info: dict[str, Any], out_info: dict[str, Any], rate: int,
                 blocksize: int, stream_inputs: int, output_channels: int, latency: str | float) -> Any:
    try:
        return sd.Stream(
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
            f"cannot open the audio stream (input {in_info.get('name', '?')!r}, output "
            f"{out_info.get('name', '?')!r}, {rate} Hz, blocks of {blocksize}): {error}"
        ) from error


def _run_stream(stream: Any, engine: LiveEngine, in_info: dict[str, Any], out_info: dict[str, Any],
                input_channel: int | Sequence[int], stop: threading.Event | None, say: Message) -> float:
    """Run until Ctrl-C, ``stop`` or the stream's end, telling of dropouts; returns the latency (s)."""
    with stream:
        device_in_s, device_out_s = _pair(stream.latency)
        block_s = engine.blocksize / engine.sample_rate
        lookahead_s = engine.latency_samples / engine.sample_rate
        latency_s = block_s + lookahead_s + device_in_s + device_out_s
        say(
            f"live at {engine.sample_rate} Hz: {in_info.get('name', '?')!r} channel {input_channel} -> "
            f"{out_info.get('name', '?')!r} ({engine.output_channels} channel(s)); latency {latency_s * 1e3:.1f} ms "
            f"= block {block_s * 1e3:.1f} ms + gate lookahead {lookahead_s * 1e3:.1f} ms + device "
            f"{device_in_s * 1e3:.1f} in + {device_out_s * 1e3:.1f} out; Ctrl-C to stop"
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
    return latency_s


def _pair(latency: Any) -> tuple[float, float]:
    """A duplex stream's ``(input, output)`` latency in seconds (one number counts as both)."""
    if isinstance(latency, (tuple, list)):
        return float(latency[0]), float(latency[1])
    return float(latency), float(latency)


def _describe_calibration(rig: Rig, how: str) -> str:
    assert rig.calibration is not None
    parts = [f"{name} {value:.1f} dBFS" for name, value in rig.calibration.thresholds_db.items()]
    return f"calibration ({how}): thresholds {', '.join(parts) or 'none'}"
