"""A file's rig settings, resolved once on the client and shipped to the workers as data.

The client reads the preset (a built-in name or a TOML file it can see), applies the ``--set``
overrides (relative measured-IR paths resolve against the client's working folder, as they do
for a local render) and validates the result; a worker gets the resolved table, so it needs
neither the preset file nor the client's working folder. The digest of the table, the output
format and roomgate's version is the journal's *settings digest*: a rerun redoes a file whose
digest changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Settings", "resolve_settings"]


@dataclass(frozen=True)
class Settings:
    """A validated preset table with its overrides applied, ready to build a :class:`~roomgate.rig.Rig`."""

    table: dict[str, Any]
    source: str  # the preset file: relative measured-IR paths in it are found next to it
    digest: str  # sha256 of the table and roomgate's version (hex)

    def rig(self) -> Any:
        from ..config.parse import parse_config
        from ..rig import Rig

        return Rig(parse_config(self.table, source=self.source))

    def files_read(self) -> list[tuple[str, str]]:
        """(path, role) of every file these settings read: the preset file, the measured IRs
        (``mics.NAME.ir``, ``room.ir``). No output of a batch may be one of them."""
        from ..config.parse import parse_config

        config = parse_config(self.table, source=self.source)
        files = [(str(m.ir), f"mics.{m.name}.ir") for m in config.mics if m.ir is not None]
        if config.room_ir is not None:
            files.append((str(config.room_ir), "room.ir"))
        if self.source not in ("", "<memory>"):
            files.append((self.source, "the preset"))
        return files


def resolve_settings(preset: str, overrides: Sequence[str]) -> Settings:
    """Read ``preset``, apply ``overrides`` (``KEY=VALUE``) and validate: a ConfigError names the key."""
    from .. import __version__
    from ..config.overrides import apply_overrides
    from ..config.parse import parse_config
    from ..config.presets import read_preset_table

    table, path = read_preset_table(preset)
    table = apply_overrides(table, overrides)
    parse_config(table, source=str(path))  # validate now, before any work
    canonical = json.dumps({"preset": table, "roomgate": __version__}, sort_keys=True, default=str)
    return Settings(table, str(path), hashlib.sha256(canonical.encode("utf-8")).hexdigest())
