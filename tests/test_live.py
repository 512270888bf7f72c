"""Live: the rig's real-time path and the driver around it.

- The streaming engine on the FULL heroes rig: ``Rig.process_into`` (the live path) in any
  sequence of block sizes, alternating with ``Rig.process(reset=False)``, reset mid-stream, stereo,
  ducking, lookahead, recorded mics: always the one-call result to float32 rounding; the gates and
  the mix checked against a plain numpy reference; no memory held by the callback.
- ``roomgate.live`` driven through a fake ``sounddevice`` module (no PortAudio, no sound card):
  blocks in, blocks out equal to the offline render, xrun counting, a failing callback reported,
  calibration recorded, saved and reused, and the errors that name what is missing.
"""

from __future__ import annotations

import importlib.abc
import json
import math
import os
import sys
import threading
import time
import tracemalloc
import types
from typing import Any

import numpy as np
import pytest

import roomgate
from roomgate import AudioInputError, ConfigError, MissingDependencyError, load_preset
from roomgate.dsp.convolve import convolve_offline
from roomgate.dsp.gate import Gate
from roomgate.live import LiveEngine, list_devices, run

RATE = 16_000  # the heroes rig at a low rate keeps these tests quick
FIXED = ["mics.mid.gate.threshold_db=-30", "mics.far.gate.threshold_db=-20"]  # no calibration needed


def _crescendo(sample_rate: int = RATE, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A voice-like tone in phrases rising from -40 to -6 dBFS, with gaps; (1, N) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phrase = (t * 3).astype(int)
    level_db = -40 + 34 * phrase / max(1, phrase.max())
    gap = ((t * 3) % 1) > 0.8
    carrier = np.sin(2 * np.pi * 160 * t) + 0.4 * np.sin(2 * np.pi * 320 * t) + 0.05 * rng.standard_normal(t.size)
    return (10 ** (level_db / 20) * carrier * ~gap).astype(np.float32)[np.newaxis]


def _rig(overrides: list[str] | None = None, calibrate_on: np.ndarray | None = None, rate: int = RATE) -> roomgate.Rig:
    rig = load_preset("heroes-1977", overrides or [])
    if calibrate_on is not None:
        rig.calibrate(calibrate_on, rate)
    return rig


def _stream_into(rig: roomgate.Rig, audio: np.ndarray, sizes: list[int], rate: int = RATE,
                 max_block_size: int = 8192) -> np.ndarray:
    """``audio`` through ``Rig.process_into`` in blocks of ``sizes`` (cycled), after start_stream."""
    rig.start_stream(rate, max_block_size, dry_input=audio.shape[0] == 1)
    out = np.zeros((rig.output_channels, audio.shape[1]), np.float32)
    start, turn = 0, 0
    while start < audio.shape[1]:
        n = min(sizes[turn % len(sizes)], audio.shape[1] - start)
        rig.process_into(np.ascontiguousarray(audio[:, start : start + n]), rate, out[:, start : start + n])
        start, turn = start + n, turn + 1
    return out


def _close(streamed: np.ndarray, whole: np.ndarray, what: object) -> None:
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=2e-5 * np.abs(whole).max(), err_msg=repr(what))


# --------------------------------------------------------------------------------------------------
# The streaming engine


@pytest.mark.parametrize("sizes", [[1], [7], [128], [4096]], ids=lambda s: f"blocks-of-{s[0]}")
def test_process_into_in_fixed_block_sizes_equals_one_call(sizes: list[int]) -> None:
    dry = _crescendo(seconds=0.6 if sizes == [1] else 3.0)
    rig = _rig(calibrate_on=dry)
    whole = rig.process(dry, RATE, reset=True)  # one call: the capture by one big FFT
    _close(_stream_into(rig, dry, sizes), whole, sizes)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_block_sequences_mixing_both_paths(seed: int) -> None:
    """Random sizes 1..8192, each block by process_into or by process(reset=False) at random:
    the two paths share one state (the capture hands its pending tail from one to the other)."""
    rng = np.random.default_rng(seed)
    dry = _crescendo(seconds=4.0, seed=seed)
    rig = _rig(calibrate_on=dry)
    whole = rig.process(dry, RATE, reset=True)
    rig.start_stream(RATE, 512)  # blocks above 512 go through the live path in pieces
    out = np.zeros_like(whole)
    start, sizes = 0, []
    while start < dry.shape[1]:
        n = int(min(rng.choice([int(rng.integers(1, 64)), int(rng.integers(64, 1024)), int(rng.integers(1024, 8193))]),
                    dry.shape[1] - start))
        block = np.ascontiguousarray(dry[:, start : start + n])
        if rng.random() < 0.6:
            rig.process_into(block, RATE, out[:, start : start + n])
            sizes.append(n)
        else:
            out[:, start : start + n] = rig.process(block, RATE, reset=False)
            sizes.append(-n)
        start += n
    _close(out, whole, (seed, sizes))


def test_stereo_ducking_and_lookahead_stream_like_one_call() -> None:
    overrides = ["output.channels=2", "mics.mid.pan=-0.6", "mics.far.pan=0.8", "mics.far.gate.duck_db=-12",
                 "mics.mid.gate.lookahead_ms=3", "mics.far.gate.lookahead_ms=1"]
    dry = _crescendo(seconds=3.0)
    rig = _rig(overrides, calibrate_on=dry)
    whole = rig.process(dry, RATE, reset=True)
    assert whole.shape == (2, dry.shape[1])
    for sizes in ([1, 7, 128, 4096, 333], [64]):
        _close(_stream_into(rig, dry, sizes), whole, sizes)
    assert rig.latency_samples == round(0.003 * RATE)


def test_ducking_lowers_the_mid_mic_while_the_far_one_is_open() -> None:
    dry = _crescendo(seconds=3.0)
    mics = np.ascontiguousarray(convolve_offline(dry, _rig().capture_irs(RATE))[:, : dry.shape[1]])
    plain = _rig(FIXED + ["mics.close.gain_db=-96", "mics.far.gain_db=-96"])  # hear the mid mic only
    ducked = _rig(FIXED + ["mics.close.gain_db=-96", "mics.far.gain_db=-96", "mics.far.gate.duck_db=-12"])
    a, b = plain.process(mics, RATE), ducked.process(mics, RATE)
    loud = slice(int(2.4 * RATE), int(2.6 * RATE))  # the last, loudest phrase: far open
    ratio_db = 20 * np.log10(np.sqrt(np.mean(b[:, loud] ** 2) / np.mean(a[:, loud] ** 2)))
    assert ratio_db == pytest.approx(-12, abs=0.5)
    soft = slice(int(0.1 * RATE), int(0.2 * RATE))  # a soft phrase: far shut, no duck
    np.testing.assert_array_equal(a[:, soft], b[:, soft])


def test_reset_mid_stream_starts_again() -> None:
    dry = _crescendo(seconds=3.0)
    rig = _rig(FIXED)
    half = dry.shape[1] // 2
    first, second = np.ascontiguousarray(dry[:, :half]), np.ascontiguousarray(dry[:, half:])
    rig.start_stream(RATE, 256)
    out = np.zeros((1, dry.shape[1]), np.float32)
    head = out[:, :half]
    for s in range(0, half, 256):
        rig.process_into(first[:, s : s + 256], RATE, head[:, s : s + 256])
    _close(out[:, :half], rig.process(first, RATE, reset=True), "first half")
    rig.reset()  # forget the first half: its tail and the gates' state
    for s in range(0, second.shape[1], 100):
        rig.process_into(second[:, s : s + 100], RATE, out[:, half:][:, s : s + 100])
    _close(out[:, half:], rig.process(second, RATE, reset=True), "after reset")
    # and process(reset=True) in the middle of a live stream restarts it the same way
    rig.start_stream(RATE, 256)
    rig.process_into(first[:, :256], RATE, np.zeros((1, 256), np.float32))
    restarted = rig.process(second, RATE, reset=True)
    _close(restarted, rig.process(second, RATE, reset=True), "process(reset=True)")


def test_recorded_mics_stream_like_one_call() -> None:
    dry = _crescendo(seconds=2.0)
    rig = _rig(FIXED + ["mics.far.gate.key=self", "mics.mid.gate.key_highpass_hz=120"])
    mics = np.ascontiguousarray(convolve_offline(dry, rig.capture_irs(RATE))[:, : dry.shape[1]])
    whole = rig.process(mics, RATE, reset=True)
    _close(_stream_into(rig, mics, [1, 7, 128, 4096]), whole, "multitrack")


def test_at_48_khz() -> None:
    rate = 48_000
    dry = _crescendo(rate, seconds=1.5)
    rig = _rig(calibrate_on=dry, rate=rate)
    whole = rig.process(dry, rate, reset=True)
    rng = np.random.default_rng(48)
    sizes = [int(s) for s in rng.integers(1, 8193, 40)]
    _close(_stream_into(rig, dry, sizes, rate), whole, sizes)
    _close(_stream_into(rig, dry, [128], rate, max_block_size=128), whole, "128")


def _reference_mix(rig: roomgate.Rig, mics: np.ndarray, sample_rate: int) -> np.ndarray:
    """The gates and the mix written plainly: one Gate.process_with_trace per gated mic; each mic
    and its gain trace delayed by padding so that all line up with the longest lookahead; the
    ducks from the far gates' aligned gains; the trims and pans by numpy."""
    config = rig.config
    n = mics.shape[1]
    gates: list[Gate | None] = []
    gated: list[np.ndarray] = []
    gains: list[np.ndarray | None] = []
    for i, mic in enumerate(config.mics):
        if mic.gate is None:
            gates.append(None), gated.append(mics[i : i + 1]), gains.append(None)
            continue
        gate = Gate(**{**mic.gate.settings, "threshold_db": rig.threshold_db(mic.name)})
        key = {"self": mics[i : i + 1], "dry": mics[:1]}.get(mic.gate.key)
        key = mics[rig.mic_names.index(mic.gate.key)][np.newaxis] if key is None else key
        y, trace = gate.process_with_trace(mics[i : i + 1], sample_rate, key=key)
        gates.append(gate), gated.append(y), gains.append(trace.gain)
    latencies = [0 if g is None else g.latency_samples_at(sample_rate) for g in gates]
    floors = [0.0 if g is None or math.isinf(g.settings.range_db) else 10 ** (g.settings.range_db / 20) for g in gates]
    for i, gate in enumerate(gates):
        delay = max(latencies) - latencies[i]
        gated[i] = np.pad(gated[i], ((0, 0), (delay, 0)))[:, :n]
        if gains[i] is not None:  # before the first sample the gate was shut, at its floor
            gains[i] = np.pad(gains[i], (delay, 0), constant_values=floors[i])[:n]
    distances = rig.mic_distances_m()
    for far, far_gate in enumerate(gates):
        if far_gate is None or config.mics[far].gate.duck_db >= 0:
            continue
        for near, near_gate in enumerate(gates):
            if near_gate is not None and distances[near] < distances[far]:
                openness = np.clip((gains[far] - floors[far]) / (1 - floors[far]), 0, 1)
                duck = 1 - (1 - 10 ** (config.mics[far].gate.duck_db / 20)) * openness
                gated[near] = gated[near] * duck.astype(np.float32)
    angles = (np.array([m.pan for m in config.mics]) + 1) * np.pi / 4
    pans = np.ones((1, len(angles))) if config.output.channels == 1 else np.stack([np.cos(angles), np.sin(angles)])
    out = np.zeros((config.output.channels, n))
    for i, mic in enumerate(config.mics):
        trim = 10 ** (rig.gain_db(mic.name) / 20) * (-1 if mic.invert_polarity else 1)
        out += pans[:, i : i + 1] * trim * gated[i]
    return out


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["mics.far.gate.duck_db=-12", "mics.mid.gate.duck_db=-6"],
        ["output.channels=2", "mics.mid.pan=-1", "mics.far.pan=0.5", "mics.far.invert_polarity=true",
         "mics.mid.gate.lookahead_ms=2.5", "mics.far.gate.duck_db=-9", "mics.far.gate.range_db=-40"],
        ["mics.mid.gate.key=dry", "mics.far.gate.key=self", "mics.far.gate.key_lowpass_hz=2000"],
    ],
    ids=["heroes", "two-ducks", "stereo-lookahead-polarity", "keys"],
)
def test_gates_and_mix_match_a_plain_reference(overrides: list[str]) -> None:
    dry = _crescendo(seconds=3.0)
    rig = _rig(FIXED + overrides)
    mics = np.ascontiguousarray(convolve_offline(dry, rig.capture_irs(RATE))[:, : dry.shape[1]])
    expected = _reference_mix(rig, mics, RATE)
    np.testing.assert_allclose(rig.process(mics, RATE), expected, rtol=0, atol=1e-6 * np.abs(expected).max(),
                               err_msg=repr(overrides))
    _close(_stream_into(rig, mics, [1, 100, 3000]), expected.astype(np.float32), overrides)


def test_gate_process_into_matches_process_with_trace() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(RATE * 2) / RATE
    audio = (np.sin(2 * np.pi * 220 * t) * np.where((t * 3) % 1 < 0.5, 0.5, 0.01)).astype(np.float32)[np.newaxis]
    key = np.ascontiguousarray(np.vstack([audio, 0.5 * audio]))
    for settings in (dict(threshold_db=-20, detector="rms", detector_ms=50, hold_ms=50),
                     dict(threshold_db=-20, lookahead_ms=3, key_highpass_hz=100, range_db=-40),
                     dict(threshold_db=-20, ratio=2, knee_db=6, lookahead_ms=0.5)):
        expected, trace = Gate(**settings).process_with_trace(audio, RATE, key=key)
        gate = Gate(**settings)
        out = np.zeros_like(audio)
        gains, opened, levels = np.zeros(audio.shape[1], np.float32), np.zeros(audio.shape[1], bool), np.zeros(audio.shape[1], np.float32)
        start = 0
        while start < audio.shape[1]:
            n = int(min(rng.integers(1, 3000), audio.shape[1] - start))
            part = slice(start, start + n)
            block_out = np.zeros((1, n), np.float32)
            gate.process_into(np.ascontiguousarray(audio[:, part]), RATE, block_out,
                              key=np.ascontiguousarray(key[:, part]), trace=(gains[part], opened[part], levels[part]))
            out[:, part] = block_out
            start += n
        np.testing.assert_array_equal(out, expected, err_msg=repr(settings))
        np.testing.assert_array_equal(gains, trace.gain)
        np.testing.assert_array_equal(opened, trace.is_open)
        np.testing.assert_array_equal(levels, trace.key_db)


def test_gate_process_into_refuses_nan_and_keeps_its_state() -> None:
    audio = (0.5 * np.sin(np.arange(4000) / 5)).astype(np.float32)[np.newaxis]
    gate, twin = Gate(threshold_db=-20), Gate(threshold_db=-20)
    out = np.zeros((1, 2000), np.float32)
    gate.process_into(np.ascontiguousarray(audio[:, :2000]), RATE, out)
    twin.process_into(np.ascontiguousarray(audio[:, :2000]), RATE, out)
    bad = np.ascontiguousarray(audio[:, 2000:]).copy()
    bad[0, 10] = np.nan
    with pytest.raises(AudioInputError, match="finite"):
        gate.process_into(bad, RATE, np.zeros((1, 2000), np.float32))
    with pytest.raises(AudioInputError, match=r"out: .*\(1, 2000\)"):
        gate.process_into(audio[:, 2000:], RATE, np.zeros((2, 2000), np.float32))
    a, b = np.zeros((1, 2000), np.float32), np.zeros((1, 2000), np.float32)
    gate.process_into(np.ascontiguousarray(audio[:, 2000:]), RATE, a)
    twin.process_into(np.ascontiguousarray(audio[:, 2000:]), RATE, b)
    np.testing.assert_array_equal(a, b)


def test_non_finite_input_in_the_live_path_raises() -> None:
    rig = _rig(FIXED)
    rig.start_stream(RATE, 128)
    block = np.zeros((1, 128), np.float32)
    block[0, 5] = np.inf
    with pytest.raises(AudioInputError, match="finite"):
        rig.process_into(block, RATE, np.zeros((1, 128), np.float32))


def test_process_into_checks_its_arguments() -> None:
    rig = _rig(FIXED)
    with pytest.raises(AudioInputError, match=r"out: .*\(1, 64\)"):
        rig.process_into(np.zeros((1, 64), np.float32), RATE, np.zeros((2, 64), np.float32))
    with pytest.raises(AudioInputError, match=r"\(2, 64\)"):
        rig.process_into(np.zeros((2, 64), np.float32), RATE, np.zeros((1, 64), np.float32))
    with pytest.raises(AudioInputError, match="streaming at 16000 Hz"):
        rig.process_into(np.zeros((1, 64), np.float32), 48_000, np.zeros((1, 64), np.float32))
    with pytest.raises(ConfigError, match="calibrate"):
        _rig().start_stream(RATE)


def test_the_live_callback_allocates_nothing() -> None:
    rig = _rig(FIXED + ["mics.far.gate.duck_db=-12", "mics.mid.gate.lookahead_ms=2"])
    engine = LiveEngine(rig, RATE, 128, output_channels=2)
    song = _crescendo(seconds=2.0)[0]
    frames = np.ascontiguousarray(np.resize(song, 400 * 128).reshape(400, 128, 1))
    outdata = np.zeros((128, 2), np.float32)
    for i in range(50):
        engine.callback(frames[i], outdata, 128, None, None)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(50, 400):
        engine.callback(frames[i], outdata, 128, None, None)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current - before < 1024, f"the callback held {current - before} bytes"
    assert peak - before < 8192, f"the callback allocated up to {peak - before} bytes at once"


# --------------------------------------------------------------------------------------------------
# The driver, through a fake sounddevice


class _Flags:
    """sounddevice.CallbackFlags, the two flags live reads."""

    def __init__(self, input_overflow: bool = False, output_underflow: bool = False):
        self.input_overflow = input_overflow
        self.output_underflow = output_underflow

    def __bool__(self) -> bool:
        return self.input_overflow or self.output_underflow


class _FakeSoundDevice(types.ModuleType):
    """Enough of python-sounddevice for roomgate.live: devices, a duplex Stream and an
    InputStream that call their callback from the calling thread over a prepared signal."""

    class PortAudioError(Exception):
        pass

    class CallbackStop(Exception):
        pass

    class CallbackAbort(Exception):
        pass

    def __init__(self, devices: list[dict[str, Any]] | None = None, default: tuple[int, int] = (0, 1)):
        super().__init__("sounddevice")
        self.devices = devices if devices is not None else [
            _device(0, "Fake USB Interface", 2, 0, 16000.0),
            _device(1, "Fake Headphones", 0, 2, 16000.0),
            _device(2, "Fake Mono Speaker", 0, 1, 16000.0),
            _device(3, "Fake Multitrack", 8, 8, 16000.0),
        ]
        self.default = default
        self.live_input = np.zeros((0, 1), np.float32)  # what the duplex stream's input delivers
        self.recital = np.zeros((0, 1), np.float32)  # what an InputStream delivers (calibration)
        self.statuses: dict[int, _Flags] = {}
        self.opened: list[dict[str, Any]] = []
        self.output = np.zeros((0, 0), np.float32)
        self.Stream = self._stream_class(duplex=True)
        self.InputStream = self._stream_class(duplex=False)

    def query_devices(self, device: Any = None, kind: str | None = None) -> Any:
        if device is None and kind is None:
            return _DeviceList(self.devices)
        if device is None:
            index = self.default[0 if kind == "input" else 1]
            if index < 0:
                raise self.PortAudioError(f"Error querying device {index}")
            device = index
        if isinstance(device, int):
            if not 0 <= device < len(self.devices):
                raise self.PortAudioError(f"Error querying device {device}")
            info = self.devices[device]
        else:
            matches = [d for d in self.devices if device.lower() in d["name"].lower()
                       and (kind is None or d[f"max_{kind}_channels"] > 0)]
            if not matches:
                raise ValueError(f"No {kind} device matching {device!r}")
            info = matches[0]
        if kind and info[f"max_{kind}_channels"] < 1:
            raise ValueError(f"Not an {kind} device: {info['name']!r}")
        return dict(info)

    def _stream_class(self, duplex: bool) -> type:
        fake = self

        class Stream:
            def __init__(self, **kwargs: Any):
                self.kwargs = kwargs
                self.latency = (0.004, 0.008) if duplex else 0.004
                fake.opened.append({"duplex": duplex, **kwargs})

            def __enter__(self) -> "Stream":
                self._run()
                return self

            def __exit__(self, *exc: Any) -> None:
                pass

            def _run(self) -> None:
                callback, channels = self.kwargs["callback"], self.kwargs["channels"]
                n_in = channels[0] if duplex else channels
                source = fake.live_input if duplex else fake.recital
                assert source.shape[1] == n_in, (source.shape, n_in)
                block = self.kwargs.get("blocksize") or 256
                outputs = []
                for index, start in enumerate(range(0, source.shape[0], block)):
                    indata = np.ascontiguousarray(source[start : start + block])
                    frames = indata.shape[0]
                    status = fake.statuses.get(index, _Flags())
                    try:
                        if duplex:
                            outdata = np.full((frames, channels[1]), np.nan, np.float32)
                            try:
                                callback(indata, outdata, frames, None, status)
                            finally:
                                outputs.append(outdata)
                        else:
                            callback(indata, frames, None, status)
                    except (fake.CallbackStop, fake.CallbackAbort):
                        break
                if duplex:
                    fake.output = np.concatenate(outputs) if outputs else np.zeros((0, channels[1]), np.float32)
                finished = self.kwargs.get("finished_callback")
                if finished is not None:
                    finished()

        return Stream


class _DeviceList(list):
    def __str__(self) -> str:
        return "\n".join(f"  {d['index']} {d['name']}, Fake API ({d['max_input_channels']} in, "
                         f"{d['max_output_channels']} out)" for d in self)


def _device(index: int, name: str, inputs: int, outputs: int, rate: float) -> dict[str, Any]:
    return {"name": name, "index": index, "hostapi": 0, "max_input_channels": inputs,
            "max_output_channels": outputs, "default_samplerate": rate,
            "default_low_input_latency": 0.004, "default_low_output_latency": 0.008}


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> _FakeSoundDevice:
    fake = _FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    return fake


def test_run_streams_the_chosen_channel_like_the_offline_rig(fake_sd: _FakeSoundDevice) -> None:
    dry = _crescendo(seconds=2.0)
    noise = 0.3 * np.random.default_rng(0).standard_normal(dry.shape[1]).astype(np.float32)
    fake_sd.live_input = np.stack([noise, dry[0]], axis=1)  # the singer on channel 1
    messages: list[str] = []
    stats = run(_rig(FIXED), input_channel=1, blocksize=128, on_message=messages.append)
    expected = _rig(FIXED).process(dry, RATE)[0]
    assert fake_sd.output.shape == (dry.shape[1], 2)
    for side in (0, 1):  # the mono mix on both sides of the headphones
        _close(fake_sd.output[:, side], expected, side)
    opened = fake_sd.opened[-1]
    assert opened["channels"] == (2, 2) and opened["samplerate"] == RATE and opened["blocksize"] == 128
    assert opened["device"] == (0, 1) and opened["dtype"] == "float32"
    assert stats.blocks == math.ceil(dry.shape[1] / 128) and stats.frames == dry.shape[1]
    assert stats.xruns == 0 and stats.late_blocks <= stats.blocks
    assert 0 < stats.mean_callback_fraction <= stats.max_callback_fraction
    latency = next(m for m in messages if "latency" in m)
    assert "block 8.0 ms" in latency and "4.0 in" in latency and "8.0 out" in latency
    assert stats.latency_s == pytest.approx(0.008 + 0.004 + 0.008)


def test_run_mono_device_and_stereo_preset(fake_sd: _FakeSoundDevice) -> None:
    dry = _crescendo(seconds=1.0)
    fake_sd.live_input = np.ascontiguousarray(dry.T)
    run(_rig(FIXED), output_device="mono speaker", blocksize=64)
    assert fake_sd.output.shape == (dry.shape[1], 1)
    _close(fake_sd.output[:, 0], _rig(FIXED).process(dry, RATE)[0], "mono")
    stereo = FIXED + ["output.channels=2", "mics.mid.pan=-1", "mics.far.pan=1"]
    run(_rig(stereo), output_device=1, blocksize=64)
    _close(fake_sd.output.T, _rig(stereo).process(dry, RATE), "stereo")
    with pytest.raises(ConfigError, match="output.channels=1"):
        run(_rig(stereo), output_device="mono speaker")


def test_run_the_real_mics_live(fake_sd: _FakeSoundDevice) -> None:
    dry = _crescendo(seconds=1.0)
    rig = _rig(FIXED)
    mics = convolve_offline(dry, rig.capture_irs(RATE))[:, : dry.shape[1]]
    fake_sd.live_input = np.zeros((dry.shape[1], 6), np.float32)
    fake_sd.live_input[:, [5, 3, 4]] = mics.T  # close, mid, far on inputs 5, 3, 4
    run(rig, input_device="multitrack", output_device="headphones", input_channel=[5, 3, 4], blocksize=100)
    assert fake_sd.opened[-1]["channels"] == (6, 2)
    _close(fake_sd.output[:, 0], _rig(FIXED).process(np.ascontiguousarray(mics), RATE)[0], "multitrack")


def test_xruns_are_counted(fake_sd: _FakeSoundDevice) -> None:
    fake_sd.live_input = np.ascontiguousarray(_crescendo(seconds=1.0).T)
    fake_sd.statuses = {3: _Flags(input_overflow=True), 7: _Flags(output_underflow=True),
                        9: _Flags(True, True)}
    stats = run(_rig(FIXED), blocksize=128)
    assert (stats.xruns, stats.input_overflows, stats.output_underflows) == (3, 2, 2)


def test_a_failing_callback_stops_the_stream_and_is_reraised(fake_sd: _FakeSoundDevice) -> None:
    dry = _crescendo(seconds=1.0)
    fake_sd.live_input = np.ascontiguousarray(dry.T).copy()
    fake_sd.live_input[1000, 0] = np.nan  # in block 7 of 128
    with pytest.raises(AudioInputError, match="finite"):
        run(_rig(FIXED), blocksize=128)
    assert fake_sd.output.shape[0] == 8 * 128  # the stream stopped there
    assert not np.any(fake_sd.output[7 * 128 :])  # on silence, not on garbage

    rig = _rig(FIXED)
    calls = [0]
    real = rig.process_into

    def flaky(*args: Any) -> Any:
        calls[0] += 1
        if calls[0] == 5:
            raise ZeroDivisionError("a bug in the audio thread")
        return real(*args)

    rig.process_into = flaky  # type: ignore[method-assign]
    with pytest.raises(ZeroDivisionError, match="a bug"):
        run(rig, blocksize=128)
    assert calls[0] == 5


def test_a_failing_engine_callback_raises_the_abort_exception() -> None:
    engine = LiveEngine(_rig(FIXED), RATE, 64, output_channels=1)
    engine.abort_exception = _FakeSoundDevice.CallbackAbort
    indata = np.zeros((64, 1), np.float32)
    indata[3] = np.nan
    outdata = np.ones((64, 1), np.float32)
    with pytest.raises(_FakeSoundDevice.CallbackAbort) as raised:
        engine.callback(indata, outdata, 64, None, _Flags())
    assert isinstance(engine.error, AudioInputError) and raised.value.__cause__ is engine.error
    assert engine.finished.is_set() and not outdata.any()


class _ThreadedStream:
    """A duplex stream that calls back from its own thread until closed, as PortAudio does; with
    ``ctrl_c_after`` blocks it then presses Ctrl-C (a KeyboardInterrupt in the main thread)."""

    ctrl_c_after: int | None = None

    def __init__(self, **kwargs: Any):
        self.kwargs, self.latency = kwargs, (0.001, 0.001)
        self.running = threading.Event()

    def __enter__(self) -> "_ThreadedStream":
        self.running.set()
        self.thread = threading.Thread(target=self._loop)
        self.thread.start()
        return self

    def _loop(self) -> None:
        import _thread

        block, blocks = self.kwargs["blocksize"], 0
        while self.running.is_set():
            outdata = np.zeros((block, 2), np.float32)
            self.kwargs["callback"](np.zeros((block, 1), np.float32), outdata, block, None, _Flags())
            blocks += 1
            if blocks == self.ctrl_c_after:
                time.sleep(0.2)  # the main thread is waiting in run()'s loop by now
                _thread.interrupt_main()
            time.sleep(block / RATE / 4)

    def __exit__(self, *exc: Any) -> None:
        self.running.clear()
        self.thread.join()


def test_stop_event_ends_a_threaded_stream(fake_sd: _FakeSoundDevice) -> None:
    fake_sd.Stream = _ThreadedStream
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    stats = run(_rig(FIXED), blocksize=64, stop=stop)
    assert stop.is_set() and stats.blocks > 10 and stats.xruns == 0


def test_ctrl_c_ends_the_run_and_returns_the_stats(fake_sd: _FakeSoundDevice) -> None:
    class CtrlC(_ThreadedStream):
        ctrl_c_after = 20

    fake_sd.Stream = CtrlC
    messages: list[str] = []
    try:
        stats = run(_rig(FIXED), blocksize=64, on_message=messages.append)
    except KeyboardInterrupt:  # pragma: no cover - would mean run() let Ctrl-C through
        pytest.fail("run() let the KeyboardInterrupt through")
    assert stats.blocks >= 20 and any(m.startswith("stopped after") for m in messages)


def test_options_are_checked_before_anything_opens(fake_sd: _FakeSoundDevice) -> None:
    for options, message in (({"blocksize": 0}, "blocksize"), ({"calibrate_s": 0}, "calibrate_s"),
                             ({"input_channel": [0, 1]}, "input_channel")):
        with pytest.raises(ConfigError, match=message):
            run(_rig(), **options)
    assert fake_sd.opened == []


def test_relative_thresholds_need_a_calibration(fake_sd: _FakeSoundDevice) -> None:
    with pytest.raises(ConfigError, match=r"--calibrate SECONDS.*--calibration FILE") as raised:
        run(_rig())
    assert "p65" in str(raised.value)


def test_calibrate_then_save_then_reuse(fake_sd: _FakeSoundDevice, tmp_path: Any) -> None:
    recital = _crescendo(seconds=3.0, seed=4)
    fake_sd.recital = np.stack([np.zeros(recital.shape[1], np.float32), recital[0]], axis=1)
    path = tmp_path / "singer.json"
    fake_sd.live_input = np.zeros((4096, 2), np.float32)
    messages: list[str] = []
    rig = _rig()
    run(rig, input_channel=1, calibrate_s=3.0, calibration_path=path, on_message=messages.append)
    assert any("sing your loudest line" in m for m in messages) and any(str(path) in m for m in messages)
    expected = _rig(calibrate_on=recital).calibration.thresholds_db
    assert rig.calibration.thresholds_db == pytest.approx(expected)
    saved = json.loads(path.read_text())
    assert saved["preset"] == "heroes-1977" and saved["thresholds"] == {"mid": "p65", "far": "p90"}
    assert saved["thresholds_db"] == pytest.approx(expected, abs=1e-3)
    recording = fake_sd.opened[0]
    assert recording["duplex"] is False and recording["channels"] == 2 and recording["samplerate"] == RATE

    # The next session reads the file instead of asking the singer again.
    dry = _crescendo(seconds=1.5, seed=9)
    fake_sd.live_input = np.stack([np.zeros(dry.shape[1], np.float32), dry[0]], axis=1)
    fresh = _rig()
    run(fresh, input_channel=1, calibration_path=path)
    assert fresh.calibration.thresholds_db == pytest.approx(expected, abs=1e-3)
    offline = _rig()
    offline.calibration = roomgate.Calibration(thresholds_db=saved["thresholds_db"])
    _close(fake_sd.output[:, 0], offline.process(dry, RATE, reset=False)[0], "calibrated from the file")


def test_calibration_files_are_checked(tmp_path: Any) -> None:
    rig = _rig(calibrate_on=_crescendo())
    path = rig.save_calibration(tmp_path / "c.json", sample_rate=RATE)
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's 0600
    assert _rig().load_calibration(path).thresholds_db == pytest.approx(rig.calibration.thresholds_db, abs=1e-3)
    with pytest.raises(ConfigError, match=r"mics.mid.gate.threshold is 'p50'.*'p65'"):
        _rig(["mics.mid.gate.threshold=p50"]).load_calibration(path)
    other = json.loads(path.read_text())
    other["preset"] = "somewhere-else"
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="other.json: a calibration of preset 'somewhere-else'"):
        _rig().load_calibration(tmp_path / "other.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ConfigError, match="junk.json: not a calibration file"):
        _rig().load_calibration(tmp_path / "junk.json")
    with pytest.raises(ConfigError, match="missing.json: cannot read"):
        _rig().load_calibration(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="not calibrated"):
        _rig().save_calibration(tmp_path / "x.json")


def test_a_silent_calibration_is_refused(fake_sd: _FakeSoundDevice) -> None:
    fake_sd.recital = np.zeros((RATE, 1), np.float32)
    with pytest.raises(AudioInputError, match="silent"):
        run(_rig(), calibrate_s=1.0)


def test_devices_that_do_not_exist_are_named(fake_sd: _FakeSoundDevice) -> None:
    with pytest.raises(AudioInputError, match="--input-device 'nowhere'"):
        run(_rig(FIXED), input_device="nowhere")
    with pytest.raises(AudioInputError, match="--output-device 9"):
        run(_rig(FIXED), output_device="9")
    with pytest.raises(AudioInputError, match=r"--input-channel 2: .*'Fake USB Interface' has 2 input channel"):
        run(_rig(FIXED), input_channel=2)
    fake_sd.default = (-1, 1)  # a machine without a microphone
    with pytest.raises(MissingDependencyError, match="needs an audio input device"):
        run(_rig(FIXED))


def test_list_devices(fake_sd: _FakeSoundDevice) -> None:
    listing = list_devices()
    assert "Fake USB Interface" in listing and "Fake Headphones" in listing
    fake_sd.devices = []
    assert "no audio devices" in list_devices()


class _RefuseImport(importlib.abc.MetaPathFinder):
    """Makes ``import sounddevice`` fail as it does without PortAudio (OSError), or without
    the package (ModuleNotFoundError)."""

    def __init__(self, error: Exception):
        self.error = error

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "sounddevice":
            raise self.error
        return None


@pytest.mark.parametrize(
    "error, expected",
    [
        (OSError("PortAudio library not found"), r"PortAudio: sudo apt-get install libportaudio2 .*brew install portaudio"),
        (ModuleNotFoundError("No module named 'sounddevice'"), r"pip install 'roomgate\[live\]'"),
    ],
    ids=["no-portaudio", "no-sounddevice"],
)
def test_missing_pieces_are_named(monkeypatch: pytest.MonkeyPatch, error: Exception, expected: str) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_RefuseImport(error), *sys.meta_path])
    with pytest.raises(MissingDependencyError, match=expected):
        list_devices()
    with pytest.raises(MissingDependencyError, match=expected):
        run(_rig(FIXED))


def test_importing_live_does_not_import_sounddevice() -> None:
    import subprocess

    code = "import sys, roomgate.live; print('sounddevice' in sys.modules, 'numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
