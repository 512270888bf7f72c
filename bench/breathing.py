"""How the gates breathe with the room (issue 13): the five figures, before and after, side by side.

    .venv/bin/python bench/breathing.py [--rate 44100] [--rt60 1.5 2.5] [--take vocadito phrases]

The take (roomgate.dsp.breathing.build_take): the vocal at -20, -10 and 0 dB with 1 s pauses,
rendered through heroes-1977 with output.normalize = "none", and compared with the same rig ungated
(roomgate.rig.breathing). "before" is the rig as it was: a linear release of 400 ms (mid) / 600 ms
(far), 250 ms hold, 6 dB hysteresis; "after" is the preset as it is, with hold and release derived
from the room (hold 0.4 x RT60, release = the 80 dB range at 60 dB per RT60). Limits: ring-out
>= -3 dB, dips <= 2 per gate, soft open <= 10 % (mid) and 5 % (far), 2.5 s after <= -20 dB,
click <= -12 dB.
"""

from __future__ import annotations

import argparse

import numpy as np

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=44100, help="sample rate, Hz (default 44100)")
    parser.add_argument("--rt60", type=float, nargs="+", default=[1.5, 2.5])
    parser.add_argument("--take", nargs="+", default=["vocadito", "phrases"],
                        choices=["vocadito", "phrases"])
    args = parser.parse_args()

    import soxr

    from roomgate.rig.breathing import BEFORE_OVERRIDES, measure_rig, room_overrides, sung_phrases
    from roomgate.io.audio import read_audio

    takes = {}
    if "vocadito" in args.take:
        audio, rate = read_audio("tests/data/vocadito_14.wav")
        voice = audio[0] if rate == args.rate else soxr.resample(audio[0], rate, args.rate)
        takes["vocadito_14"] = np.asarray(voice, np.float32)
    if "phrases" in args.take:
        takes["sung phrases"] = sung_phrases(args.rate)
    print(f"breathing: heroes-1977 at {args.rate} Hz, output.normalize none")
    for name, vocal in takes.items():
        for rt60_s in args.rt60:
            for label, overrides in (("before", [f"room.rt60_s={rt60_s}", *BEFORE_OVERRIDES]),
                                     ("after", room_overrides(rt60_s))):
                figures = measure_rig(vocal, args.rate, overrides=overrides)
                failed = [k for k, ok in figures.passes().items() if not ok]
                verdict = "all pass" if not failed else "FAILS " + ", ".join(failed)
                print(f"  {name:12s} RT60 {rt60_s:.1f} s {label:6s} {figures.row()}  [{verdict}]",
                      flush=True)


if __name__ == "__main__":
    main()
