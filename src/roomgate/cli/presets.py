"""``roomgate presets`` and ``roomgate cache``: what is built in, and what is kept on disk."""

from __future__ import annotations

import argparse
from typing import Any


def add_parsers(commands: Any) -> None:
    presets = commands.add_parser("presets", help="list the built-in presets", description="List and describe the built-in presets.")
    presets.set_defaults(run=run_presets)
    cache = commands.add_parser("cache", help="show or clear the impulse-response cache",
                                description="Show where simulated rooms are cached, or clear them.")
    cache.add_argument("--clear", action="store_true", help="remove every cached room")
    cache.set_defaults(run=run_cache)


def run_presets(args: argparse.Namespace) -> int:
    from ..config import builtin_presets, load_config

    for name, path in sorted(builtin_presets().items()):
        config = load_config(path)
        mics = ", ".join(f"{m.name} {m.distance_m:.2f} m" + (" (gated)" if m.gate else "") for m in config.mics)
        print(f"{name}\n  {config.description}\n  mics: {mics}\n")
    return 0


def run_cache(args: argparse.Namespace) -> int:
    from ..acoustics.cache import cache_usage, clear_cache

    usage = cache_usage()
    if args.clear:
        removed = clear_cache()
        print(f"removed {removed} cached room file(s) from {usage.folder}")
        return 0
    print(f"{usage.folder}: {usage.files} file(s), {usage.size_bytes / 1e6:.1f} MB of at most "
          f"{usage.limit_bytes / 1e6:.0f} MB (ROOMGATE_CACHE_MAX_MB; the least recently used go first); "
          "roomgate cache --clear empties it")
    return 0
