"""``roomgate presets`` and ``roomgate cache``: what is built in, and what is kept on disk."""

from __future__ import annotations

import argparse
from typing import Any



def add_parsers(commands: Any) -> None:
    presets = commands.add_parser(
        "presets", help="list the presets, or export one to start your own from",
        description="List and describe the built-in presets and your own (TOML files in your preset folder, "
                    "which --preset NAME finds too). --export copies a preset, with its comments, to start "
                    "your own from: roomgate presets --export heroes-1977 --name my-hall (into your preset "
                    "folder), or -o my.toml (anywhere).")
    presets.add_argument("--export", metavar="PRESET", help="a preset (name or file) to copy")
    presets.add_argument("-o", "--output", metavar="FILE.toml",
                         help="where --export writes (default: NAME.toml in your preset folder)")
    presets.add_argument("--name", help="the exported preset's name (default: the original's)")
    presets.add_argument("--force", action="store_true",
                         help="with --export --name: replace a preset of that name in your preset folder")
    presets.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                         help="with --export: change a key in the copy (repeatable; the comments are then lost)")
    presets.set_defaults(run=run_presets)
    cache = commands.add_parser("cache", help="show or clear the impulse-response cache",
                                description="Show where simulated rooms are cached, or clear them.")
    cache.add_argument("--clear", action="store_true", help="remove every cached room")
    cache.set_defaults(run=run_cache)


def run_presets(args: argparse.Namespace) -> int:
    from ..config import builtin_presets, export_preset, load_config, user_preset_dir, user_presets
    from ..errors import ConfigError

    if args.export is not None:
        written = export_preset(args.export, args.output, name=args.name, overrides=args.overrides,
                                replace=args.force)
        print(f"wrote {written}; use it with: roomgate render IN -o OUT --preset "
              f"{written.stem if args.output is None else written}")
        return 0
    if args.output or args.name or args.overrides or args.force:
        raise ConfigError("-o, --name, --set and --force go with --export PRESET")
    builtins = builtin_presets()
    for name, path in sorted(builtins.items()):
        _describe(name, load_config(path))
    own = user_presets()
    print(f"your presets, in {user_preset_dir()}:" + ("" if own else " none yet (roomgate presets --export "
                                                                    "heroes-1977 --name my-hall starts one)"))
    for name, path in own.items():
        if name in builtins:
            print(f"{name}\n  ({path}: hidden by the built-in preset of the same name; rename the file)\n")
            continue
        try:
            _describe(name, load_config(path))
        except ConfigError as error:
            print(f"{name}\n  cannot be used: {error}\n")
    return 0


def _describe(name: str, config: Any) -> None:
    mics = ", ".join(f"{m.name} {m.distance_m:.2f} m" + (" (gated)" if m.gate else "") for m in config.mics)
    print(f"{name}\n  {config.description}\n  mics: {mics}\n")


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
