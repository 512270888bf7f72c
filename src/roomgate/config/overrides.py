"""``--set KEY=VALUE`` overrides on a raw preset table, mics addressed by name."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .nesting import loads_toml

#: Tables a ``--set`` may create when the preset lacks them.
TOP_LEVEL_TABLES = ("room", "singer", "output")
#: Two spellings of one setting: setting one replaces the other (the studio merges changes alike).
ONE_OF = {"threshold": "threshold_db", "threshold_db": "threshold", "distance_m": "position_m",
          "position_m": "distance_m"}


def parse_override(text: str) -> tuple[str, Any]:
    """``"mics.far.distance_m=40ft"`` -> ``("mics.far.distance_m", "40ft")``.

    The value is read as a TOML value when it is one (``2.0``, ``true``, ``[1, 2, 3]``,
    ``"text"``), else taken as a bare string (``40ft``, ``p60``).
    """
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. room.rt60_s=2.0")
    key, _, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: expected a dotted key such as mics.far.distance_m")
    if raw == "":
        raise ConfigError(f"--set {text!r}: expected a value after '='")
    try:
        value = loads_toml(f"value = {raw}", f"--set {key}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(table: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``table`` with each ``KEY=VALUE`` applied; mics are addressed by name."""
    result = copy.deepcopy(dict(table))
    for text in overrides:
        key, value = parse_override(text)
        parts = key.split(".")
        node: Any = result
        walked: list[str] = []
        for part in parts[:-1]:
            walked.append(part)
            if isinstance(node, list) and walked == ["mics", part]:  # the mics list: an entry by its name
                names = [str(m.get("name")) for m in node if isinstance(m, dict)]
                matches = [m for m in node if isinstance(m, dict) and m.get("name") == part]
                if not matches:
                    raise ConfigError(
                        f"--set {key}: no mic named {part!r}; the mics are {', '.join(names)}"
                    )
                node = matches[0]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {'.'.join(walked[:-1])} is a value, not a table")
            if part not in node:
                if part == "gate" and walked[:-1] and walked[0] == "mics":
                    node[part] = {}
                elif len(walked) == 1 and part in TOP_LEVEL_TABLES:
                    node[part] = {}
                else:
                    raise ConfigError(f"--set {key}: unknown key {'.'.join(walked)!r}")
            node = node[part]
        if isinstance(node, list) and parts[:-1] == ["mics"]:
            raise ConfigError(f"--set {key}: name a mic, e.g. mics.far.distance_m")
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {'.'.join(parts[:-1])} is a value, not a table")
        if parts[0] in ("mics", "room") and parts[-1] == "ir" and isinstance(value, str):
            value = str(Path(value).expanduser().resolve())  # a path typed on the command line: from here
        node[parts[-1]] = value
        # Two spellings of one setting: setting one replaces the other.
        if parts[-1] in ONE_OF:
            node.pop(ONE_OF[parts[-1]], None)
    return result
