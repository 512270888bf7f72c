"""The presets: built-in TOML files in this folder's ``presets/``, the user's own in their preset
folder (:func:`user_preset_dir`), or any TOML file by path.

A name is looked up among the built-in presets first, then in the user's folder (so a user preset
never changes what ``heroes-1977`` means); anything with a ``.toml`` suffix or a slash is a path.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, OutputError
from .nesting import loads_toml
from .overrides import apply_overrides
from .parse import parse_config
from .rig_config import RigConfig


#: Overrides the user's preset folder (tests, or a shared folder of presets).
PRESET_DIR_VARIABLE = "ROOMGATE_PRESET_DIR"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def builtin_presets() -> dict[str, Path]:
    """Built-in preset names mapped to their TOML files."""
    folder = resources.files("roomgate.config") / "presets"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def user_preset_dir() -> Path:
    """The user's preset folder: ``$ROOMGATE_PRESET_DIR``, else ``presets`` in the platform's config
    folder for roomgate (platformdirs: ``~/.config/roomgate/presets`` on Linux,
    ``~/Library/Application Support/roomgate/presets`` on macOS, ``%LOCALAPPDATA%\\roomgate\\presets``
    on Windows). It need not exist."""
    configured = os.environ.get(PRESET_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("roomgate", appauthor=False)) / "presets"


def user_presets() -> dict[str, Path]:
    """The user's presets (``*.toml`` in :func:`user_preset_dir`) by name (the file's stem)."""
    folder = user_preset_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml")) if p.is_file()}


def preset_path(name_or_path: str | Path) -> Path:
    """Resolve a preset name (built-in, then the user's) or a path to a TOML file."""
    text = str(name_or_path)
    builtins = builtin_presets()
    if text in builtins:
        return builtins[text]
    own = user_presets()
    if text in own:
        return own[text]
    path = Path(text)
    if path.suffix.lower() == ".toml" or path.exists() or "/" in text or "\\" in text:
        if path.is_dir():
            raise ConfigError(f"preset {text!r}: is a folder; expected a preset name or a .toml file")
        if not path.is_file():
            raise ConfigError(f"preset {text!r}: no such file")
        return path
    yours = f"; yours (in {user_preset_dir()}): {', '.join(own)}" if own else ""
    raise ConfigError(f"unknown preset {text!r}; built-in presets: {', '.join(sorted(builtins))}{yours}")


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


def preset_toml(table: dict[str, Any], *, name: str | None = None, comments: Iterable[str] = ()) -> str:
    """A preset table as TOML text, renamed to ``name`` when given, after ``comments`` (one ``#``
    line each). Measured IR paths should be absolute first (a relative one is found next to the file)."""
    import tomli_w

    if name is not None:
        table = {"name": _checked_name(name), **{k: v for k, v in table.items() if k != "name"}}
    header = "".join(f"# {line}\n" for line in comments)
    return header + ("\n" if header else "") + tomli_w.dumps(table)


def export_preset(name_or_path: str | Path, destination: str | Path | None = None, *, name: str | None = None,
                  overrides: Iterable[str] = (), replace: bool = False) -> Path:
    """Write a preset to start your own from: to ``destination``, or as ``NAME.toml`` in the user's
    preset folder (where ``--preset NAME`` finds it). Without overrides the file is the preset's own
    text with its comments (only its ``name`` changed); with them it is the overridden table.
    Measured IR paths are made absolute so they are found wherever the copy goes.

    A preset of that name already in the user's folder (perhaps edited since) is replaced only
    with ``replace=True``.

    Raises ConfigError for a bad preset, override or name; OutputError if it cannot be written.
    """
    from ..io.audio import atomic_output

    overrides = list(overrides)
    table, source = read_preset_table(name_or_path)
    new_name = _checked_name(name if name is not None else str(table.get("name", source.stem)))
    if destination is None:
        if name is None:
            raise ConfigError("name: exporting to your preset folder needs a name for the new preset")
        if new_name in builtin_presets():
            raise ConfigError(f"name: {new_name!r} is a built-in preset's name, which --preset finds first; "
                              "choose another")
        destination = user_preset_dir() / f"{new_name}.toml"
        if destination.exists() and not replace:
            raise OutputError(f"{destination}: you already have a preset named {new_name!r}; choose another "
                              "--name, or add --force to replace it")
        try:
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{Path(destination).parent}: cannot make your preset folder "
                              f"({error.strerror or error}); set ROOMGATE_PRESET_DIR or export with -o FILE.toml") from None
    destination = Path(destination)
    if destination.is_dir():
        raise OutputError(f"{destination}: is a folder; expected a .toml file name (e.g. {destination / new_name}.toml)")
    if destination.suffix.lower() != ".toml":
        raise OutputError(f"{destination}: expected a .toml file name")
    if destination.exists() and destination.resolve() == source.resolve():
        raise OutputError(f"{destination}: is the preset itself; roomgate never overwrites its input")
    parse_config(apply_overrides(table, overrides), source=str(source))  # only a valid preset is written
    measured = _has_measured_irs(table)
    if not overrides and not measured:
        text = _renamed_text(source.read_text(encoding="utf-8"), new_name)
    else:
        table = _absolute_irs(apply_overrides(table, overrides), source)
        comments = [f"Exported by roomgate from the preset {str(name_or_path)!r}", *(f"  --set {o}" for o in overrides)]
        text = preset_toml(table, name=new_name, comments=comments)
    with atomic_output(destination) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return destination


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"name: expected letters, digits, '-', '_' or '.' (it names the file too), got {name!r}")
    return name


def _renamed_text(text: str, name: str) -> str:
    """The preset's text with its top-level ``name = ...`` line set to ``name`` (added if missing)."""
    line = f"name = {_toml_string(name)}"
    pattern = re.compile(r'^name\s*=.*$', re.MULTILINE)
    first_table = re.search(r"^\[", text, re.MULTILINE)
    head_end = first_table.start() if first_table else len(text)
    match = pattern.search(text, 0, head_end)
    if match:
        return text[: match.start()] + line + text[match.end() :]
    return line + "\n" + text


def _toml_string(value: str) -> str:
    import tomli_w

    return tomli_w.dumps({"x": value}).split("=", 1)[1].strip()


def _has_measured_irs(table: dict[str, Any]) -> bool:
    room = table.get("room")
    mics = table.get("mics")
    return (isinstance(room, dict) and "ir" in room) or (
        isinstance(mics, list) and any(isinstance(m, dict) and "ir" in m for m in mics))


def _absolute_irs(table: dict[str, Any], source: Path) -> dict[str, Any]:
    def absolute(ir: Any) -> Any:
        if not isinstance(ir, str):
            return ir
        path = Path(ir).expanduser()
        return str(path if path.is_absolute() else (source.parent / path).resolve())

    table = dict(table)
    if isinstance(table.get("room"), dict) and "ir" in table["room"]:
        table["room"] = {**table["room"], "ir": absolute(table["room"]["ir"])}
    if isinstance(table.get("mics"), list):
        table["mics"] = [{**m, "ir": absolute(m["ir"])} if isinstance(m, dict) and "ir" in m else m
                         for m in table["mics"]]
    return table
