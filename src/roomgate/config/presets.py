"""The presets: built-in TOML files in this folder's ``presets/``, or any TOML file by path."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .nesting import loads_toml
from .overrides import apply_overrides
from .parse import parse_config
from .rig_config import RigConfig


def builtin_presets() -> dict[str, Path]:
    """Built-in preset names mapped to their TOML files."""
    folder = resources.files("roomgate.config") / "presets"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def preset_path(name_or_path: str | Path) -> Path:
    """Resolve a built-in preset name or a path to a TOML file."""
    text = str(name_or_path)
    builtins = builtin_presets()
    if text in builtins:
        return builtins[text]
    path = Path(text)
    if path.suffix.lower() == ".toml" or path.exists() or "/" in text or "\\" in text:
        if not path.is_file():
            raise ConfigError(f"preset {text!r}: no such file")
        return path
    raise ConfigError(f"unknown preset {text!r}; built-in presets: {', '.join(sorted(builtins))}")


def read_preset_table(name_or_path: str | Path) -> tuple[dict[str, Any], Path]:
    """The raw TOML table of a preset, and the file it came from."""
    path = preset_path(name_or_path)
    try:
        return loads_toml(path.read_text(encoding="utf-8"), f"preset {str(path)!r}"), path
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"preset {str(path)!r}: broken TOML ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"preset {str(path)!r}: cannot read ({error})") from None


def load_config(name_or_path: str | Path, overrides: Iterable[str] = ()) -> RigConfig:
    """Read, override (``KEY=VALUE`` strings) and validate a preset."""
    table, path = read_preset_table(name_or_path)
    table = apply_overrides(table, overrides)
    return parse_config(table, source=str(path))
