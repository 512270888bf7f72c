"""``roomgate mix``: real recorded mics gated and mixed the same way."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .common import (
    PLOT_SUFFIXES,
    add_output_options,
    add_rig_options,
    check_output_file,
    check_side_file,
    check_stems_folder,
    files_read,
    load_rig,
    output_in_folder,
    pass_progress,
    print_stems,
    print_summary,
    progress,
    render_passes,
    say,
    set_quiet,
)

ALIGN_HELP = ("estimate each room mic's delay behind the close mic (GCC-PHAT over the take's loudest passages), "
              "then move each room track so its delay is the one its preset distance implies (distance / speed "
              "of sound): tracks from recorders that started at different times line up as the mics stood. A "
              "mic without a reliable estimate is left as it is, with a note")
ESTIMATE_HELP = ("only report each room mic's delay behind the close mic, how sure the estimate is, and the "
                 "distance it implies (GCC-PHAT over the take's loudest passages); the tracks are not moved")


def add_parser(commands: Any) -> None:
    mix = commands.add_parser("mix", help="gate and mix real recorded mics the same way",
                              description="Gate and mix real recordings of the close mic and the room mics, in "
                                          "the rig's mic order (one file per mic, or one multichannel file).")
    mix.add_argument("close", metavar="CLOSE", help="the close mic's file (or one multichannel file: the whole rig)")
    mix.add_argument("rooms", nargs="*", metavar="ROOM", help="each room mic's file, in the rig's order")
    mix.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="output file (or a folder, a name ending in '/': OUT/<CLOSE's name>)")
    delays = mix.add_mutually_exclusive_group()
    delays.add_argument("--estimate-delays", action="store_true", help=ESTIMATE_HELP)
    delays.add_argument("--align", action="store_true", help=ALIGN_HELP)
    add_rig_options(mix)
    add_output_options(mix, batch=False)
    mix.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..io.audio import TrackReader, audio_info
    from ..rig.job import Outputs, mix_files

    set_quiet(args.quiet)
    rig = load_rig(args)
    paths = [Path(args.close), *(Path(p) for p in args.rooms)]
    output = output_in_folder(args.output, paths[0])
    read = files_read(paths, rig)  # the tracks, measured IRs, the preset: no output may be one
    check_output_file(output, read, args.subtype, rig.output_channels)
    outputs = Outputs(output, args.subtype, check_side_file(args.report, ".json", "--report", read),
                      check_side_file(args.plot, PLOT_SUFFIXES, "--plot", read),
                      check_stems_folder(args.stems, rig, output, read))
    infos = [audio_info(p) for p in paths]
    frames = max(round(i.frames * infos[0].sample_rate / i.sample_rate) for i in infos)
    estimating = args.estimate_delays or args.align
    passes = (["finding the loudest passages", "reading them"] if estimating else []) + render_passes(rig)
    alignment: dict[str, Any] = {}
    shifts: list[int] | None = None
    with pass_progress(frames, infos[0].sample_rate, passes) as frames_done:
        if estimating and len(rig.mic_names) == sum(i.channels for i in infos):
            reader = TrackReader(paths, infos[0].sample_rate)
            alignment, shifts = _estimate(rig, _counted(reader.blocks, frames_done), reader.sample_rate, args.align)
        result = mix_files(rig, paths, outputs, progress=progress, frames_done=frames_done,
                           before_render=lambda reader, rate: {"alignment": alignment} if alignment else {},
                           track_shifts=shifts if args.align else None)
    for note in result.notes:
        say(f"roomgate: note: {note}")
    print_summary(result.render.report, output, result.elapsed_s)
    if outputs.stems_dir is not None:
        print_stems(outputs.stems_dir, rig)
    return 0


def _counted(blocks: Callable[[], Any], frames_done: Callable[[int], None]) -> Callable[[], Iterator[Any]]:
    def counted() -> Iterator[Any]:
        for block in blocks():
            frames_done(block.shape[1])
            yield block
    return counted


def _estimate(rig: Any, blocks: Callable[[], Any], sample_rate: int, align: bool) -> tuple[dict[str, Any], list[int]]:
    """Each mic's delay behind the nearest mic over the take's loudest passages, printed; and the
    shift (samples) that gives each room track the delay its preset distance implies (0 where the
    estimate is not reliable). Returns (the report's alignment part, the shifts)."""
    from ..dsp.align import loudest_passages, estimate_take_delays

    config = rig.config
    close = config.nearest_mic_index
    speed = config.room.speed_of_sound_m_s
    passages = loudest_passages(blocks, close, sample_rate)
    delays = estimate_take_delays(passages, close, sample_rate)
    reference = config.mics[close]
    result: dict[str, Any] = {}
    shifts = [0] * len(config.mics)
    if not passages:
        say(f"roomgate: note: {reference.name} is silent: no delay can be estimated; the tracks are left as they are")
        return {}, shifts
    for index, (mic, delay) in enumerate(zip(config.mics, delays)):
        if index == close:
            continue
        expected_s = (mic.distance_m - reference.distance_m) / speed
        entry: dict[str, Any] = {"reliable": delay.reliable, "peak_to_sidelobe": round(delay.peak_to_sidelobe, 1),
                                 "preset_distance_m": round(mic.distance_m, 3), "passages": delay.passages}
        sureness = f"peak-to-sidelobe {delay.peak_to_sidelobe:.1f}"
        if delay.delay_s is None:
            entry.update(delay_ms=None, implied_distance_m=None)
            why = (f"the take holds {1000 * delay.signal_s:.1f} ms of {reference.name}, under the {_shortest_ms():g} ms "
                   "an estimate needs" if delay.too_short else
                   f"{sureness}, under {_minimum():g}: the tracks may not hold the same performance")
            print(f"{mic.name}: no reliable delay behind {reference.name} ({why})" + ("; left as it is" if align else ""))
        else:
            implied_m = delay.implied_distance_m(reference.distance_m, speed)
            entry.update(delay_ms=round(1000 * delay.delay_s, 3), implied_distance_m=round(implied_m or 0.0, 3))
            line = (f"{mic.name}: {1000 * delay.delay_s:.2f} ms behind {reference.name} ({sureness}), about "
                    f"{implied_m:.2f} m from the singer (the preset says {mic.distance_m:.2f} m)")
            if align:
                shifts[index] = int(round((expected_s - delay.delay_s) * sample_rate))
                entry["shift_ms"] = round(1000 * shifts[index] / sample_rate, 3)
                line += f"; moved {1000 * shifts[index] / sample_rate:+.2f} ms to {1000 * expected_s:.2f} ms"
            print(line)
        result[mic.name] = entry
    return result, shifts


def _minimum() -> float:
    from ..dsp.align import MIN_PEAK_TO_SIDELOBE

    return MIN_PEAK_TO_SIDELOBE


def _shortest_ms() -> float:
    from ..dsp.align import MIN_SIGNAL_S

    return 1000 * MIN_SIGNAL_S
