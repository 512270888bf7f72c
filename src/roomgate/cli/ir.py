"""``roomgate ir``: the rig's impulse responses, one channel per mic, for a convolution reverb."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from .. import __version__
from .common import add_quiet_option, add_rig_options, check_output_file, files_read, load_rig, progress, set_quiet


def add_parser(commands: Any) -> None:
    ir = commands.add_parser("ir", help="export the rig's impulse responses for a DAW",
                             description="Write the rig's raw physical impulse responses, one channel per mic, "
                                         "time zero = the singer sings; no trims or normalisation unless --normalize. "
                                         "The close mic's raw IR peaks well above full scale (it is 0.23 m away), "
                                         "so a fixed-point file (PCM_16, PCM_24, FLAC...) gets all its channels "
                                         "scaled together by one gain, said and stored in the file's comment, "
                                         "and keeps the balance between the mics.")
    add_rig_options(ir)
    ir.add_argument("-o", "--output", required=True, metavar="IRS.wav", help="output file")
    ir.add_argument("--sample-rate", type=int, default=48_000, metavar="HZ", help="default: 48000")
    ir.add_argument("--normalize", action="store_true", help="scale so the loudest sample is -1 dBFS")
    ir.add_argument("--subtype", default=None, metavar="SUBTYPE",
                    help="default: FLOAT (or PCM_24 where the format holds no float, as FLAC)")
    add_quiet_option(ir)
    ir.set_defaults(run=run)


#: Where the loudest sample lands when the IRs are scaled (``--normalize``, or to fit fixed point).
HEADROOM_PEAK_DB = -1.0
_FLOATING_POINT = ("FLOAT", "DOUBLE")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..io.audio import choose_subtype, write_audio
    from ..rig.normalize import normalization_gain_db
    from ..units import check_sample_rate

    set_quiet(args.quiet)
    output = Path(args.output)
    rate = check_sample_rate(args.sample_rate, "--sample-rate")
    rig = load_rig(args)
    channels = len(rig.config.mics)
    check_output_file(output, files_read(rig=rig), args.subtype, channels)  # not a measured IR it reads
    subtype = choose_subtype(output, "FLOAT", requested=args.subtype, channels=channels)
    irs = rig.impulse_responses(rate, progress=progress)
    peak = float(np.max(np.abs(irs)))
    scale_db = 0.0
    if args.normalize or (subtype not in _FLOATING_POINT and peak >= 1.0):
        # The render's rule: IRs of subnormal numbers are silence (a note), never a +700 dB gain.
        scale_db = normalization_gain_db(20 * math.log10(peak) if peak > 0 else -math.inf, HEADROOM_PEAK_DB)
        irs = irs * np.float32(10 ** (scale_db / 20)) if scale_db else irs
    metadata = {"software": f"roomgate {__version__}", "comment": _comment(rig, rate, scale_db, args.normalize)}
    write_audio(output, irs, rate, subtype, metadata)
    speed_m_s = rig.config.room.speed_of_sound_m_s
    for mic, row in zip(rig.config.mics, irs):
        peak_db = 20 * np.log10(max(float(np.max(np.abs(row))), 1e-12))
        print(f"{mic.name:>8}  {mic.distance_m:6.2f} m  direct at {mic.distance_m / speed_m_s * 1000:6.2f} ms  "
              f"peak {peak_db:6.1f} dBFS")
    if args.normalize and scale_db:
        how = f", normalised to {HEADROOM_PEAK_DB:g} dBFS ({scale_db:+.1f} dB)"
    elif args.normalize:
        how = ", not normalised (silence)"
    elif scale_db:
        how = (f", scaled {scale_db:+.1f} dB (all channels together: the balance between the mics is kept) "
               f"because {subtype} cannot hold the raw peak of {20 * math.log10(peak):+.1f} dBFS; the gain is in "
               f"the file's comment")
    else:
        how = ", raw (no trims, no normalisation)"
    print(f"wrote {output}: {irs.shape[0]} channels (one per mic), {irs.shape[1] / rate:.2f} s at {rate} Hz, "
          f"{subtype}{how}")
    return 0


def _comment(rig: Any, rate: int, scale_db: float, normalized: bool) -> str:
    """The file's comment: what its channels are and the gain applied to all of them."""
    mics = ", ".join(f"{m.name} {m.distance_m:.2f} m" for m in rig.config.mics)
    why = "normalised" if normalized else "to fit the sample format"
    gain = f"all channels scaled {scale_db:+.2f} dB ({why})" if scale_db else "raw, no gain applied"
    return f"roomgate impulse responses of {rig.config.name} at {rate} Hz, one channel per mic ({mics}); {gain}"
