"""The rig's settings as the page changes them: ``KEY=VALUE`` changes checked and merged, and a
preset saved as, or opened from, TOML text.

The studio reads no file a request names: a change or an opened preset that names a measured IR
file is refused (such a preset reaches the studio only as the one it starts with)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import RigConfig, parse_config, parse_override
from ..config.overrides import ONE_OF
from ..errors import RoomgateError
from .errors import HTTPError

__all__ = ["MAX_CHANGES", "MAX_PRESET_CHARS", "check_changes", "check_no_new_files", "merge_overrides",
           "preset_file_text", "preset_name", "read_preset_text"]

MAX_CHANGES = 100  # settings changes in one request (the page sends a few at a time)
MAX_PRESET_CHARS = 256 * 1024  # a preset opened from disk


def merge_overrides(existing: Sequence[str], changes: Sequence[str]) -> list[str]:
    """``existing`` then ``changes``, each setting kept once, at its latest place.

    Linear: each text is parsed once, and the settings are kept by key in insertion order."""
    merged: dict[str, str] = {}
    for text in [*existing, *changes]:
        key, _ = parse_override(text)
        stem, _, leaf = key.rpartition(".")
        merged.pop(key, None)
        if leaf in ONE_OF:  # two spellings of one setting: a change to one makes the other moot
            merged.pop(f"{stem}.{ONE_OF[leaf]}", None)
        merged[key] = text.strip()
    return list(merged.values())


def check_changes(changes: Sequence[Any]) -> None:
    """At most :data:`MAX_CHANGES` ``KEY=VALUE`` strings, each one line of text that a preset file
    can hold (no control characters, no lone surrogates); else 400."""
    if len(changes) > MAX_CHANGES:
        raise HTTPError(400, f"set: expected at most {MAX_CHANGES} changes in one request, got {len(changes)}")
    for text in changes:
        if not isinstance(text, str) or any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
            shown = repr(text) if len(repr(text)) <= 200 else repr(text)[:200] + "..."
            raise HTTPError(400, f"set: expected KEY=VALUE strings on one line without control characters, got {shown}")


def _measured_ir_files(table: dict[str, Any]) -> set[tuple[str, str]]:
    """The measured impulse response files a preset table names, as (key, path) pairs."""
    found: set[tuple[str, str]] = set()
    room = table.get("room")
    if isinstance(room, dict) and "ir" in room:
        found.add(("room.ir", repr(room["ir"])))
    mics = table.get("mics")
    for mic in mics if isinstance(mics, list) else []:
        if isinstance(mic, dict) and "ir" in mic:
            found.add((f"mics.{mic.get('name')}.ir", repr(mic["ir"])))
    return found


def check_no_new_files(base_table: dict[str, Any], table: dict[str, Any]) -> None:
    """A request may not name a file for the server to read (it would tell whether any file exists,
    and read any audio file into a render): 400 for an IR file the starting preset did not name."""
    new = sorted(_measured_ir_files(table) - _measured_ir_files(base_table))
    if new:
        raise HTTPError(400, f"{new[0][0]}: the studio reads no file a request names; a measured IR reaches it "
                             "only in the preset it starts with (roomgate studio --preset FILE)")


def preset_name(name: str) -> str:
    """A preset name the user typed: one line of 1 to 80 characters (HTTPError 400 otherwise)."""
    text = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(text) <= 80 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise HTTPError(400, f"name: expected a preset name of 1 to 80 characters on one line, got {name!r}")
    return text



def preset_file_text(table: dict[str, Any], overrides: Sequence[str], from_preset: str, preset_dir: Path,
                     name: str | None = None) -> str:
    """A preset file holding ``table`` (the preset ``from_preset`` with ``overrides`` applied, listed in
    its opening comment), called ``name`` when given (the name the user typed). Measured IR paths
    relative to ``preset_dir`` are made absolute, so that the file works wherever it is saved."""
    import tomli_w

    if name is not None:
        table["name"] = preset_name(name)
    for mic in table.get("mics", []):
        ir = mic.get("ir") if isinstance(mic, dict) else None
        if isinstance(ir, str):  # keep a measured IR findable wherever the file is saved
            ir_path = Path(ir).expanduser()
            mic["ir"] = str(ir_path if ir_path.is_absolute() else (preset_dir / ir_path).resolve())
    lines = [_comment(f"# Saved by roomgate studio from the preset {from_preset!r}")]
    lines += [_comment(f"#   --set {text}") for text in overrides] or ["#   (no changes)"]
    lines.append("# Use it with: roomgate render INPUT -o OUT --preset THIS_FILE.toml")
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(table)


def read_preset_text(file_name: str, text: str) -> tuple[str, dict[str, Any], RigConfig]:
    """A preset file the page read from disk, as ``(its file name, its table, its config)``; HTTPError
    413 for a text over :data:`MAX_PRESET_CHARS`, 400 for broken TOML, a bad setting or a measured
    IR file (the studio does not read it: render such a preset with ``roomgate render --preset``)."""
    import tomllib

    name = (file_name.replace("\\", "/").rsplit("/", 1)[-1] or "preset.toml")[:120]
    if len(text) > MAX_PRESET_CHARS:
        raise HTTPError(413, f"{name}: {len(text)} characters; expected a preset of at most {MAX_PRESET_CHARS}")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise HTTPError(400, f"{name}: broken TOML ({error})") from None
    files = sorted(_measured_ir_files(table))
    if files:
        raise HTTPError(400, f"{name}: {files[0][0]} names a measured IR file, which the studio does not read; "
                             "render this preset with: roomgate render INPUT -o OUT --preset FILE")
    try:
        config = parse_config(table, source=name)
    except RoomgateError as error:
        raise HTTPError(400, f"{name}: {error}") from None
    return name, table, config


def _comment(text: str) -> str:
    """A TOML comment line: characters a comment may not hold (control characters) escaped."""
    return "".join(c if c.isprintable() or c == "\t" else f"\\u{ord(c):04x}" for c in text)
