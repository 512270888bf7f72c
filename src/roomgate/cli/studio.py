"""``roomgate studio``: the browser studio on 127.0.0.1, behind a token in the URL it prints."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import RoomgateError
from .common import add_rig_options


def add_parser(commands: Any) -> None:
    studio = commands.add_parser("studio", help="place the mics and set the gates by eye and ear, in a browser",
                                 description="A local web studio over the same rig: the floor plan, the key level "
                                             "with draggable thresholds, play and A/B. It listens on 127.0.0.1 "
                                             "behind a token in the URL it prints. Needs the studio extra: "
                                             "pip install 'roomgate[studio]'.")
    add_rig_options(studio)
    studio.add_argument("--port", type=int, default=8765, metavar="N", help="default: 8765 (0: any free port)")
    studio.add_argument("--host", default="127.0.0.1",
                        help="default: 127.0.0.1 (this machine only). The studio answers only requests addressed "
                             "to 127.0.0.1 or localhost; 0.0.0.0 listens everywhere (with a warning) but other "
                             "machines are still refused: reach it through an SSH tunnel")
    studio.add_argument("--open", action="store_true", help="open the page in the default browser")
    studio.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..studio import serve

    if not 0 <= args.port <= 65535:
        raise RoomgateError(f"--port: expected a port from 0 to 65535 (0: any free port), got {args.port}")
    serve(host=args.host, port=args.port, open_browser=args.open, preset=args.preset, overrides=args.overrides,
          on_message=lambda url: print(f"roomgate studio: {url}  (Ctrl+C to stop)", flush=True))
    return 0
