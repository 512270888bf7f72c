"""``roomgate ir``: the rig's impulse responses, one channel per mic, for a convolution reverb."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_rig_options, check_output_file, files_read, load_rig, progress


def add_parser(commands: Any) -> None:
    ir = commands.add_parser("ir", help="export the rig's impulse responses for a DAW",
                             description="Write the rig's raw physical impulse responses, one channel per mic, "
                                         "time zero = the singer sings; no trims or normalisation unless --normalize.")
    add_rig_options(ir)
    ir.add_argument("-o", "--output", required=True, metavar="IRS.wav", help="output file")
    ir.add_argument("--sample-rate", type=int, default=48_000, metavar="HZ", help="default: 48000")
    ir.add_argument("--normalize", action="store_true", help="scale so the loudest sample is -1 dBFS")
    ir.add_argument("--subtype", default=None, metavar="SUBTYPE", help="default: FLOAT")
    ir.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..io.audio import write_audio
    from ..rig.normalize import normalization_gain_db
    from ..units import check_sample_rate

    output = Path(args.output)
    check_output_file(output, [], args.subtype or "FLOAT")
    rate = check_sample_rate(args.sample_rate, "--sample-rate")
    rig = load_rig(args)
    check_output_file(output, files_read(rig=rig), args.subtype or "FLOAT")  # not a measured IR it reads
    irs = rig.impulse_responses(rate, progress=progress)
    gain_db = 0.0
    if args.normalize:  # the render's rule: IRs of subnormal numbers are silence, not a +700 dB gain
        peak = float(np.max(np.abs(irs)))
        gain_db = normalization_gain_db(20 * np.log10(peak) if peak > 0 else -np.inf, -1.0)
        irs = irs * np.float32(10 ** (gain_db / 20)) if gain_db else irs
    write_audio(output, irs, rate, args.subtype or "FLOAT")
    speed_m_s = rig.config.room.speed_of_sound_m_s
    for mic, row in zip(rig.config.mics, irs):
        peak_db = 20 * np.log10(max(float(np.max(np.abs(row))), 1e-12))
        print(f"{mic.name:>8}  {mic.distance_m:6.2f} m  direct at {mic.distance_m / speed_m_s * 1000:6.2f} ms  "
              f"peak {peak_db:6.1f} dBFS")
    print(f"wrote {output}: {irs.shape[0]} channels (one per mic), {irs.shape[1] / rate:.2f} s at {rate} Hz"
          + (", normalised to -1 dBFS" if args.normalize and gain_db else ", raw (no trims, no normalisation)"))
    return 0
