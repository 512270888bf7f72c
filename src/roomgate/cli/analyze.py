"""``roomgate analyze IR.wav [--json]``: the room measures of any impulse response file.

roomgate's own IRs (``roomgate ir``) or a measured hall's: per channel and octave band, T20, T30,
EDT, C50, C80, D50, DRR and the tail's roughness, and per channel the echo density's mixing time
(see :mod:`roomgate.acoustics.measures`). A file that is no impulse response (silent, too short,
not decaying, not audio) is one line naming it, and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


__all__ = ["add_parser", "run"]

_COLUMNS = (  # (field, heading, format)
    ("t20_s", "T20 s", "{:.2f}"),
    ("t30_s", "T30 s", "{:.2f}"),
    ("edt_s", "EDT s", "{:.2f}"),
    ("c50_db", "C50 dB", "{:+.1f}"),
    ("c80_db", "C80 dB", "{:+.1f}"),
    ("d50", "D50", "{:.2f}"),
    ("drr_db", "DRR dB", "{:+.1f}"),
    ("roughness", "rough", "{:.2f}"),
)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``analyze`` on an argparse subparsers object; returns its parser."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "analyze",
        help="room measures of an impulse response file (T30, EDT, C80, DRR, echo density...)",
        description="Measure an impulse response file, roomgate's own (roomgate ir) or a measured hall's: per "
        "channel and octave band T20, T30, EDT (ISO 3382, from the direct sound), C50, C80, D50, DRR and the "
        "tail's roughness (its level's wander re decaying noise: ~1 in a real hall), and the time the echo "
        "density (Abel & Huang) reaches 0.7 and 1 (the mixing time). A noise floor is found and cut off first.",
    )
    parser.add_argument("ir", metavar="IR", help="an impulse response file: WAV, FLAC, AIFF, ... (any channels)")
    parser.add_argument("--json", action="store_true", help="print the measures as JSON instead of tables")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Read, measure and print; an AudioInputError (one line naming the file) reaches the CLI's handler."""
    from ..acoustics.measures import analyze
    from ..io.audio import read_audio

    audio, sample_rate = read_audio(args.ir)
    analysis = analyze(audio, sample_rate, name=str(args.ir))
    if args.json:
        print(json.dumps({"file": str(args.ir), **analysis.to_dict()}, indent=2))
        return 0
    print(
        f"{args.ir}: {len(analysis.channels)} channel(s), {analysis.duration_s:.2f} s at {sample_rate} Hz; "
        "measured from the direct sound (ISO 3382 octave bands)"
    )
    for channel in analysis.to_dict()["channels"]:
        print()
        print(_channel_table(channel))
    return 0


def _cell(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return fmt.format(value)


def _channel_table(channel: dict[str, Any]) -> str:
    """One channel: a heading line, then a row per band (``broadband`` first)."""
    from .common import format_table

    def ms(value: float | None) -> str:
        return "not reached" if value is None else f"{value:.1f} ms"

    title = (
        f"channel {channel['channel'] + 1}: direct sound at {1e3 * channel['direct_sound_s']:.1f} ms; "
        f"echo density 0.7 after {ms(channel['echo_density_07_ms'])}, 1.0 (mixing time) after "
        f"{ms(channel['mixing_time_ms'])}"
    )
    bands = list(channel["t30_s"])  # "broadband", "125", ...
    rows = []
    for band in bands:
        label = band if band == "broadband" else f"{band} Hz"
        rows.append((label, *(_cell(channel[field].get(band), fmt) for field, _, fmt in _COLUMNS)))
    return title + "\n" + format_table(rows, ("band", *(heading for _, heading, _ in _COLUMNS)))
