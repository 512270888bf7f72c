"""The ``roomgate`` command. The only module that prints or exits.

Errors a user can cause (a :class:`~roomgate.errors.RoomgateError`) become one line on stderr and
exit code 2, with no output file left behind; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ..errors import AudioInputError, OutputError, RoomgateError, RoomgateWarning
from . import analyze

DEFAULT_PRESET = "heroes-1977"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(message: str) -> None:
    _say(f"roomgate: {message}")


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    if issubclass(category, RoomgateWarning):
        _say(f"roomgate: note: {message}")
    else:
        _say(f"roomgate: warning: {message}")


# -- shared options ----------------------------------------------------------------------------


def _add_rig_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME|FILE",
                        help=f"a built-in preset (see 'roomgate presets') or a TOML file (default: {DEFAULT_PRESET})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a preset key, mics by name: --set mics.far.distance_m=40ft "
                             "--set room.rt60_s=2.0 (repeatable)")


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", metavar="JSON", help="write the gate timeline report (JSON; with several "
                                                          "inputs, a folder for one report per file)")
    parser.add_argument("--plot", metavar="PNG", help="draw the room, the key level and the gates (PNG; with "
                                                      "several inputs, a folder)")
    parser.add_argument("--subtype", metavar="SUBTYPE",
                        help="output sample format, e.g. PCM_16, PCM_24, FLOAT (default: the input's)")


def _load_rig(args: argparse.Namespace) -> Any:
    from ..rig.rig import load_preset

    return load_preset(args.preset, args.overrides)


# -- commands ------------------------------------------------------------------------------------


def _cmd_presets(args: argparse.Namespace) -> int:
    from ..config.preset import builtin_presets, load_config

    for name, path in sorted(builtin_presets().items()):
        config = load_config(path)
        mics = ", ".join(
            f"{m.name} {m.distance_m:.2f} m" + (" (gated)" if m.gate else "") if m.distance_m is not None else m.name
            for m in config.mics
        )
        print(f"{name}\n  {config.description}\n  mics: {mics}\n")
    return 0


def _render_one(rig: Any, input_path: Path, output_path: Path, subtype: str | None,
                report_path: Path | None, plot_path: Path | None) -> tuple[Any, float]:
    """Render one file, streaming it from disk in blocks (memory does not grow with the take)."""
    from ..io.audio import audio_info, check_sample_rate, downmix_to_mono, read_blocks

    info = audio_info(input_path)
    check_sample_rate(info.sample_rate, f"{input_path}: sample rate")
    notes = []
    if info.channels > 1:
        notes.append(f"{input_path}: {info.channels} channels downmixed to mono (the rig takes one dry voice)")

    def blocks() -> Any:
        for block in _with_progress(read_blocks(input_path), info.frames):
            yield downmix_to_mono(block)

    return _render_stream(rig, blocks, info.sample_rate, output_path, subtype or info.subtype,
                          report_path, plot_path, {"path": str(input_path)}, notes)


def _render_stream(rig: Any, blocks: Any, sample_rate: int, output_path: Path, subtype: str | None,
                   report_path: Path | None, plot_path: Path | None, input_fields: dict[str, Any],
                   notes: Sequence[str] = ()) -> tuple[Any, float]:
    """The two streaming passes of Rig.render_blocks into a scratch file beside the output, then
    the normalised copy into place (atomically), the report and the plot. ``notes`` (a downmix, a
    padding) are printed once the render has succeeded, so an error stays the only line."""
    import tempfile

    from ..io.audio import block_writer, read_blocks

    started = time.perf_counter()
    try:
        handle, scratch_name = tempfile.mkstemp(prefix=f".{output_path.name}.", suffix=".scratch.w64",
                                                dir=output_path.parent)
    except OSError as error:
        raise OutputError(f"{output_path}: cannot write in {str(output_path.parent)!r} ({error.strerror})") from None
    os.close(handle)
    scratch = Path(scratch_name)
    try:
        with block_writer(scratch, sample_rate, rig.output_channels, "FLOAT") as write_scratch:
            render = rig.render_blocks(blocks, sample_rate, write_scratch, progress=_progress)
        gain = 10 ** (render.normalization_db / 20)
        with block_writer(output_path, sample_rate, rig.output_channels, subtype) as write_output:
            for block in read_blocks(scratch):
                write_output(block * gain if gain != 1 else block)
    finally:
        scratch.unlink(missing_ok=True)
    render.report["input"].update(input_fields)
    _write_side_files(render.report, report_path, plot_path)
    for note in notes:
        _say(f"roomgate: note: {note}")
    return render, time.perf_counter() - started


def _with_progress(blocks: Any, total_frames: int, every_s: float = 2.0) -> Any:
    """Pass blocks through, saying how far along a long pass is (at most every ``every_s``)."""
    started = last = time.perf_counter()
    done = 0
    for block in blocks:
        yield block
        done += block.shape[1]
        now = time.perf_counter()
        if now - last >= every_s and done < total_frames:
            _progress(f"{100 * done / total_frames:.0f}% of the pass ({now - started:.0f} s)")
            last = now


def _write_side_files(report: dict[str, Any], report_path: Path | None, plot_path: Path | None) -> None:
    from ..io.report import write_report

    if report_path is not None:
        write_report(report_path, report)
    if plot_path is not None:
        from ..io.plot import plot_report

        plot_report(report, plot_path)


def _finish_outputs(render: Any, output_path: Path, subtype: str | None,
                    report_path: Path | None, plot_path: Path | None) -> None:
    from ..io.audio import write_audio

    write_audio(output_path, render.audio, render.sample_rate, subtype)
    _write_side_files(render.report, report_path, plot_path)


def _print_summary(render: Any, output_path: Path, elapsed_s: float) -> None:
    from ..io.report import format_table, summary_rows

    report = render.report
    print(format_table(summary_rows(report), ("mic", "distance", "trim", "threshold", "open", "first open")))
    normalization = report["output"]["normalization_db"]
    note = ""
    if normalization:
        note = f", normalised {normalization:+.1f} dB to {report['output']['peak_db_before_normalization'] + normalization:.1f} dBFS peak"
    elif report["output"]["peak_db_before_normalization"] is not None and report["output"]["peak_db_before_normalization"] > 0:
        note = f", peak {report['output']['peak_db_before_normalization']:+.1f} dBFS: ABOVE FULL SCALE (set output.normalize=\"peak\")"
    print(f"wrote {output_path} ({report['duration_s']:.1f} s of audio in {elapsed_s:.1f} s{note})")


def _check_output_file(output_path: Path, inputs: Sequence[Path], subtype: str | None = None) -> None:
    """Refuse, before any work, an output that would overwrite an input or cannot be written."""
    from ..io.audio import choose_subtype, same_file

    for input_path in inputs:
        if same_file(output_path, input_path) or output_path.resolve() == input_path.resolve():
            raise OutputError(f"{output_path}: is an input; roomgate never overwrites its input")
    folder = output_path.parent
    if not folder.is_dir():
        raise OutputError(f"{output_path}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{output_path}: the folder {str(folder)!r} is not writable")
    if output_path.is_dir():
        raise OutputError(f"{output_path}: is a folder; with one input, -o names the output file")
    choose_subtype(output_path, subtype)  # a format we can write, and a subtype that exists


def _check_side_file(path: str | None, suffix: str, option: str) -> Path | None:
    if path is None:
        return None
    result = Path(path)
    if not result.parent.is_dir():
        raise OutputError(f"{option} {path}: the folder {str(result.parent)!r} does not exist")
    if not os.access(result.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: the folder {str(result.parent)!r} is not writable")
    if result.is_dir():
        raise OutputError(f"{option} {path}: is a folder; expected a {suffix} file name")
    if result.suffix.lower() != suffix:
        raise OutputError(f"{option} {path}: expected a {suffix} file name")
    return result


def _cmd_render(args: argparse.Namespace) -> int:
    inputs = [Path(p) for p in args.inputs]
    output = Path(args.output)
    rig = _load_rig(args)
    if args.jobs < 1:
        raise RoomgateError(f"--jobs: expected 1 or more worker processes, got {args.jobs}")
    if len(inputs) == 1:
        _check_output_file(output, inputs, args.subtype)
        report = _check_side_file(args.report, ".json", "--report")
        plot = _check_side_file(args.plot, ".png", "--plot")
        render, elapsed_s = _render_one(rig, inputs[0], output, args.subtype, report, plot)
        _print_summary(render, output, elapsed_s)
        return 0
    return _render_batch(args, inputs, output)


def _render_batch(args: argparse.Namespace, inputs: list[Path], output: Path) -> int:
    """Several inputs into a folder, on ``--jobs`` worker processes, with a progress bar; a file
    that fails is reported at the end without stopping the others."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    if not output.is_dir():
        raise OutputError(f"{output}: with {len(inputs)} inputs, -o must be an existing folder")
    side_folders = {}
    for option, value in (("--report", args.report), ("--plot", args.plot)):
        if value is not None and not Path(value).is_dir():
            raise OutputError(f"{option} {value}: with several inputs, expected an existing folder")
        side_folders[option] = None if value is None else Path(value)
    names = [p.name for p in inputs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise OutputError(f"{output}: several inputs are named {', '.join(clashes)}; their outputs would overwrite each other")
    tasks = [
        (args.preset, tuple(args.overrides), str(path), str(output / path.name), args.subtype,
         None if side_folders["--report"] is None else str(side_folders["--report"] / f"{path.stem}.json"),
         None if side_folders["--plot"] is None else str(side_folders["--plot"] / f"{path.stem}.png"),
         [str(p) for p in inputs])
        for path in inputs
    ]
    failures: list[str] = []
    started = time.perf_counter()
    with tqdm(total=len(tasks), unit="file", file=sys.stderr, desc="roomgate", leave=False) as bar:
        if args.jobs == 1:
            results = map(_batch_render, tasks)
        else:
            pool = ProcessPoolExecutor(max_workers=args.jobs)
            results = pool.map(_batch_render, tasks)
        try:
            for input_name, line, ok in results:
                bar.write(line if ok else f"roomgate: error: {line}", file=sys.stderr if not ok else sys.stdout)
                if not ok:
                    failures.append(input_name)
                bar.update(1)
        finally:
            if args.jobs > 1:
                pool.shutdown(cancel_futures=True)
    print(f"rendered {len(inputs) - len(failures)} of {len(inputs)} files in {time.perf_counter() - started:.1f} s "
          f"with {args.jobs} job(s)")
    if failures:
        _say(f"roomgate render: error: {len(failures)} of {len(inputs)} files failed: {', '.join(failures)}")
        return 2
    return 0


def _batch_render(task: tuple[Any, ...]) -> tuple[str, str, bool]:
    """One file of a batch (in a worker process): returns (input, one summary line, succeeded)."""
    preset, overrides, input_name, output_name, subtype, report_name, plot_name, all_inputs = task
    warnings.showwarning = _show_warning  # type: ignore[assignment]
    try:
        from ..rig.rig import load_preset

        target = Path(output_name)
        _check_output_file(target, [Path(p) for p in all_inputs], subtype)
        render, elapsed_s = _render_one(load_preset(preset, overrides), Path(input_name), target, subtype,
                                        None if report_name is None else Path(report_name),
                                        None if plot_name is None else Path(plot_name))
    except RoomgateError as error:
        return input_name, str(error), False
    opened = ", ".join(f"{m['name']} {100 * m['open_fraction']:.0f}%" for m in render.report["mics"] if m["threshold_db"] is not None)
    return input_name, f"{input_name} -> {output_name}: {render.report['duration_s']:.1f} s, open: {opened} ({elapsed_s:.1f} s)", True


def _cmd_mix(args: argparse.Namespace) -> int:
    from ..io.audio import TrackReader, check_sample_rate

    rig = _load_rig(args)
    paths = [Path(p) for p in args.inputs]
    output = Path(args.output)
    _check_output_file(output, paths, args.subtype)
    report_path = _check_side_file(args.report, ".json", "--report")
    plot_path = _check_side_file(args.plot, ".png", "--plot")
    names = rig.mic_names
    from ..io.audio import audio_info

    infos = [audio_info(p) for p in paths]
    channels = sum(i.channels for i in infos)
    if channels != len(names):
        source = f"{paths[0]} holds {channels} channel(s)" if len(paths) == 1 else f"got {len(paths)} files ({channels} channels)"
        raise AudioInputError(
            f"mix: the rig has {len(names)} mics ({', '.join(names)}): expected {len(names)} files "
            f"or one {len(names)}-channel file; {source}"
        )
    for info in infos:
        check_sample_rate(info.sample_rate, f"{info.path}: sample rate")
    rate = infos[0].sample_rate
    reader = TrackReader(paths, rate)
    notes = []
    for info, length in zip(infos, reader.lengths):
        if info.sample_rate != rate:
            notes.append(f"{info.path}: resampled from {info.sample_rate} Hz to {rate} Hz")
        if length < reader.length:
            notes.append(f"{info.path}: {(reader.length - length) / rate:.3f} s shorter than the longest track; "
                         "padded with silence")
    fields: dict[str, Any] = {"paths": [str(p) for p in paths]}
    if args.align:
        fields["alignment"] = _align(rig, next(reader.blocks()), rate)
    blocks = lambda: _with_progress(reader.blocks(), reader.length)  # noqa: E731
    render, elapsed_s = _render_stream(rig, blocks, rate, output, args.subtype or infos[0].subtype,
                                       report_path, plot_path, fields, notes)
    _print_summary(render, output, elapsed_s)
    return 0


def _align(rig: Any, first_block: Any, sample_rate: int) -> dict[str, Any]:
    """Each mic's delay behind the nearest mic (GCC-PHAT on the first block), printed and reported."""
    from ..dsp.align import estimate_delay

    distances = rig.mic_distances_m()
    close = int(distances.argmin())
    speed = _speed_of_sound(rig)
    result: dict[str, Any] = {}
    for index, name in enumerate(rig.mic_names):
        if index == close:
            continue
        delay = estimate_delay(first_block[close], first_block[index], sample_rate)
        implied_m = delay.implied_distance_m(float(distances[close]), speed)
        result[name] = {"delay_ms": round(1000 * delay.delay_s, 3), "implied_distance_m": round(implied_m, 3),
                        "preset_distance_m": round(float(distances[index]), 3), "confidence": round(delay.confidence, 1)}
        print(f"{name}: {1000 * delay.delay_s:.2f} ms behind {rig.mic_names[close]}, about {implied_m:.2f} m from the "
              f"singer (the preset says {distances[index]:.2f} m)")
    return result


def _cmd_ir(args: argparse.Namespace) -> int:
    import numpy as np

    from ..io.audio import check_sample_rate, write_audio

    output = Path(args.output)
    _check_output_file(output, [], args.subtype or "FLOAT")
    rate = check_sample_rate(args.sample_rate, "--sample-rate")
    rig = _load_rig(args)
    irs = rig.impulse_responses(rate, progress=_progress)
    if args.normalize:
        peak = float(np.max(np.abs(irs)))
        if peak > 0:
            irs = irs * np.float32(10 ** (-1 / 20) / peak)
    write_audio(output, irs, rate, args.subtype or "FLOAT")
    for name, distance, row in zip(rig.mic_names, rig.mic_distances_m(), irs):
        peak_db = 20 * np.log10(max(float(np.max(np.abs(row))), 1e-12))
        print(f"{name:>8}  {distance:6.2f} m  direct at {distance / _speed_of_sound(rig) * 1000:6.2f} ms  peak {peak_db:6.1f} dBFS")
    print(f"wrote {output}: {irs.shape[0]} channels (one per mic), {irs.shape[1] / rate:.2f} s at {rate} Hz"
          + (", normalised to -1 dBFS" if args.normalize else ", raw (no trims, no normalisation)"))
    return 0


def _speed_of_sound(rig: Any) -> float:
    from ..acoustics.room import speed_of_sound_m_s

    return speed_of_sound_m_s(rig.config.room.temperature_c, rig.config.room.humidity_pct)


def _cmd_live(args: argparse.Namespace) -> int:
    from .. import live

    if args.list_devices:
        print(live.list_devices())
        return 0
    if args.blocksize < 1:
        raise RoomgateError(f"--blocksize: expected a number of frames >= 1, got {args.blocksize}")
    if args.input_channel < 1:
        raise RoomgateError(f"--input-channel: expected a channel number from 1, got {args.input_channel}")
    rig = _load_rig(args)
    stats = live.run(
        rig,
        input_device=_device(args.input_device),
        output_device=_device(args.output_device),
        input_channel=args.input_channel - 1,
        blocksize=args.blocksize,
        output_channels=args.output_channels,
        calibrate_s=args.calibrate,
        calibration_path=args.calibration,
        on_message=lambda message: print(f"roomgate live: {message}", flush=True),
    )
    print(f"roomgate live: {stats.duration_s:.1f} s, {stats.blocks} blocks of {stats.blocksize}, "
          f"{stats.xruns} xrun(s); callback mean {100 * stats.mean_callback_fraction:.1f}%, "
          f"max {100 * stats.max_callback_fraction:.0f}% of a block")
    return 0


def _device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


def _cmd_studio(args: argparse.Namespace) -> int:
    from ..studio import serve

    serve(host=args.host, port=args.port, open_browser=args.open, preset=args.preset, overrides=args.overrides,
          on_message=lambda url: print(f"roomgate studio: {url}  (Ctrl+C to stop)", flush=True))
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from ..acoustics.room import cache_dir, clear_cache

    folder = cache_dir()
    if args.clear:
        removed = clear_cache()
        print(f"removed {removed} cached room(s) from {folder}")
        return 0
    files = list(folder.glob("*")) if folder.is_dir() else []
    size_mb = sum(f.stat().st_size for f in files if f.is_file()) / 1e6
    print(f"{folder}: {len(files)} file(s), {size_mb:.1f} MB (roomgate cache --clear empties it)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..io.audio import write_audio
    from ..io.report import format_table
    from ..rig.rig import load_preset
    from ..synth.voice import sung_crescendo

    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    sample_rate = 48_000
    _progress("singing the demo phrase (a synthetic voice, soft to a shout)")
    dry = sung_crescendo(sample_rate)
    rig = load_preset(DEFAULT_PRESET, args.overrides)
    started = time.perf_counter()
    render = rig.render(dry, sample_rate, progress=_progress)
    elapsed_s = time.perf_counter() - started
    dry_path, wet_path = folder / "dry.wav", folder / "heroes.wav"
    write_audio(dry_path, dry, sample_rate, "PCM_24")
    _finish_outputs(render, wet_path, "PCM_24", folder / "report.json", folder / "plot.png")
    report = render.report
    print(f"roomgate demo: {report['duration_s']:.1f} s of a synthetic sung crescendo through {rig.config.name}\n")
    rows = []
    for mic in report["mics"]:
        threshold = mic["threshold_db"]
        spans = ", ".join(f"{a:.1f}-{b:.1f}" for a, b in mic["intervals"][:6])
        if len(mic["intervals"]) > 6:
            spans += f", ... ({len(mic['intervals'])} in all)"
        rows.append((mic["name"], f"{mic['distance_m']:.2f} m",
                     "always" if threshold is None else f"{threshold:.1f} dBFS ({mic['threshold']})",
                     f"{100 * mic['open_fraction']:.0f}%", "whole take" if threshold is None else (spans or "never")))
    print(format_table(rows, ("mic", "distance", "opens above", "open", "open during (s)")))
    print(f"\nrendered in {elapsed_s:.1f} s; normalised {report['output']['normalization_db']:+.1f} dB to "
          f"{rig.config.output.peak_db:g} dBFS peak")
    for path in (dry_path, wet_path, folder / "report.json", folder / "plot.png"):
        print(f"wrote {path}")
    return 0


# -- the parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(
        prog="roomgate",
        description="Tony Visconti's gated multi-microphone vocal rig from \"Heroes\" (Hansa, 1977): "
                    "mics at several distances in a large room, the far ones gated to open only as "
                    "the singer gets louder.",
    )
    parser.add_argument("--version", action="version", version=f"roomgate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = commands.add_parser("demo", help="render the built-in sung crescendo through heroes-1977",
                               description="Render a built-in synthetic sung crescendo through the heroes-1977 "
                                           "preset; write the dry and rendered WAVs, the report and the plot.")
    demo.add_argument("-o", "--output", default="roomgate-demo", metavar="DIR", help="folder to write into (default: roomgate-demo)")
    demo.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a key of the heroes-1977 preset (repeatable)")
    demo.set_defaults(run=_cmd_demo)

    render = commands.add_parser("render", help="a dry vocal through the modelled rig",
                                 description="Render dry vocals through the rig: the room captured by each mic, "
                                             "the room mics gated by the singer's level, all mixed. A multichannel "
                                             "input is downmixed to mono first (with a notice).")
    render.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file(s): WAV, FLAC, OGG, AIFF, ...")
    render.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file (one input) or existing folder (several inputs)")
    _add_rig_options(render)
    _add_output_options(render)
    render.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="with several inputs: render N files at once in worker processes (default: 1)")
    render.set_defaults(run=_cmd_render)

    mix = commands.add_parser("mix", help="gate and mix real recorded mics the same way",
                              description="Gate and mix real recordings of the close mic and the room mics, in "
                                          "the rig's mic order (or one multichannel file).")
    mix.add_argument("inputs", nargs="+", metavar="CLOSE ROOM...", help="one file per mic in the rig's order, or one multichannel file")
    mix.add_argument("-o", "--output", required=True, metavar="OUT", help="output file")
    mix.add_argument("--align", action="store_true",
                     help="estimate each room mic's delay behind the close mic and the distance it implies")
    _add_rig_options(mix)
    _add_output_options(mix)
    mix.set_defaults(run=_cmd_mix)

    ir = commands.add_parser("ir", help="export the rig's impulse responses for a DAW",
                             description="Write the rig's raw physical impulse responses, one channel per mic, "
                                         "time zero = the singer sings; no trims or normalisation unless --normalize.")
    _add_rig_options(ir)
    ir.add_argument("-o", "--output", required=True, metavar="IRS.wav", help="output file")
    ir.add_argument("--sample-rate", type=int, default=48_000, metavar="HZ", help="default: 48000")
    ir.add_argument("--normalize", action="store_true", help="scale so the loudest sample is -1 dBFS")
    ir.add_argument("--subtype", default=None, metavar="SUBTYPE", help="default: FLOAT")
    ir.set_defaults(run=_cmd_ir)

    presets = commands.add_parser("presets", help="list the built-in presets", description="List and describe the built-in presets.")
    presets.set_defaults(run=_cmd_presets)

    live_parser = commands.add_parser(
        "live", help="the rig in real time, from a microphone to headphones",
        description="Run the rig in real time from an audio interface (PortAudio through sounddevice: "
                    "pip install 'roomgate[live]'; on Debian/Ubuntu also apt-get install libportaudio2). "
                    "Percentile thresholds need --calibrate SECONDS (sing your loudest line) or a saved "
                    "--calibration file. Ctrl-C stops.")
    _add_rig_options(live_parser)
    live_parser.add_argument("--input-device", metavar="X", help="device number or name (see --list-devices)")
    live_parser.add_argument("--output-device", metavar="Y", help="device number or name")
    live_parser.add_argument("--input-channel", type=int, default=1, metavar="N", help="the close mic's input (from 1)")
    live_parser.add_argument("--output-channels", type=int, choices=(1, 2), default=2, metavar="C",
                             help="1 or 2 (default 2: a mono rig is sent to both)")
    live_parser.add_argument("--blocksize", type=int, default=128, metavar="N", help="frames per block (default 128)")
    live_parser.add_argument("--calibrate", type=float, metavar="SECONDS",
                             help="listen this long to the singer's loudest line first, to fit the thresholds")
    live_parser.add_argument("--calibration", metavar="FILE",
                             help="a calibration JSON: saved after --calibrate, reused without it")
    live_parser.add_argument("--list-devices", action="store_true", help="list the audio devices and exit")
    live_parser.set_defaults(run=_cmd_live)

    studio = commands.add_parser("studio", help="place the mics and set the gates by eye and ear, in a browser",
                                 description="A local web studio over the same rig: the floor plan, the key level "
                                             "with draggable thresholds, play and A/B. It listens on 127.0.0.1 "
                                             "behind a token in the URL it prints. Needs the studio extra: "
                                             "pip install 'roomgate[studio]'.")
    _add_rig_options(studio)
    studio.add_argument("--port", type=int, default=8765, metavar="N", help="default: 8765 (0: any free port)")
    studio.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (this machine only)")
    studio.add_argument("--open", action="store_true", help="open the page in the default browser")
    studio.set_defaults(run=_cmd_studio)

    cache = commands.add_parser("cache", help="show or clear the impulse-response cache",
                                description="Show where simulated rooms are cached, or clear them.")
    cache.add_argument("--clear", action="store_true", help="remove every cached room")
    cache.set_defaults(run=_cmd_cache)
    analyze.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    warnings.showwarning = _show_warning  # type: ignore[assignment]
    try:
        return int(args.run(args))
    except RoomgateError as error:
        _say(f"roomgate {args.command}: error: {error}")
        return 2
    except KeyboardInterrupt:
        _say("roomgate: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
