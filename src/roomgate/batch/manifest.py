"""The manifest of a batch: one row per file, each with its own rig if need be.

A CSV file with a header row, or JSON Lines (one object per line; ``.jsonl`` / ``.ndjson``, or
any file whose first non-blank character is ``{``). The columns (keys):

========== ======================================================================================
``input``  required: the take, a path (relative to the manifest's folder) or a URL
``output`` default ``DIR/<input stem>.<ext>``; a relative path is inside ``DIR`` (no ``..``)
``preset`` default: the command's ``--preset``; a relative file path is found next to the manifest
``set``    ``KEY=VALUE`` overrides separated by ``;`` (in JSON Lines, also a list of strings),
           applied after the command's ``--set`` (a relative ``ir`` path in them is found from
           the working folder, as on the command line)
``report`` a report JSON for this file (relative: inside ``DIR``, no ``..``); empty for none
========== ======================================================================================

Every row is checked before any work starts (the input exists, when it is a local file; the
preset and its overrides are valid; the output's format can be written, is not an input, and
no two rows write the same output), and all the bad rows are reported at once, by line number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RoomgateError
from . import locations
from .settings import Settings, resolve_settings

__all__ = ["COLUMNS", "ManifestError", "ManifestRow", "read_manifest"]

COLUMNS = ("input", "output", "preset", "set", "report")


class ManifestError(ConfigError):
    """Bad rows in a manifest: ``problems`` holds one line per problem, each naming its line."""

    def __init__(self, manifest: Path, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{manifest}: {len(self.problems)} bad row(s): " + "; ".join(self.problems))


@dataclass(frozen=True)
class ManifestRow:
    """One checked row: where from, where to, with which settings."""

    line: int
    input: str
    output: str
    settings: Settings
    report: str | None


def read_manifest(manifest: Path, output_folder: str, *, preset: str, overrides: Sequence[str] = (),
                  subtype: str | None = None, extension: str | None = None) -> list[ManifestRow]:
    """Read and check every row of ``manifest`` (ManifestError lists all the bad rows).

    ``preset`` and ``overrides`` are the defaults a row's ``preset`` and ``set`` start from;
    ``extension`` (``"wav"``) the default output's, else the input's."""
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{manifest}: cannot read the manifest ({error})") from None
    json_lines = manifest.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{")
    raw_rows = _json_rows(text) if json_lines else _csv_rows(text)
    rows: list[ManifestRow] = []
    problems: list[str] = []
    settings_cache: dict[tuple[str, tuple[str, ...]], Settings | ConfigError] = {}
    try:
        numbered = list(raw_rows)
    except ConfigError as error:  # the header
        raise ManifestError(manifest, [str(error)]) from None
    for line, fields in numbered:
        try:
            rows.append(_row(manifest, line, fields, output_folder, preset, overrides, subtype, extension,
                             settings_cache))
        except RoomgateError as error:
            problems.append(f"line {line}: {error}")
    problems += _clashes(rows)
    if not rows and not problems:
        problems.append("line 1: no rows; expected a header and one row per file")
    if problems:
        raise ManifestError(manifest, problems)
    return rows


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader, [])]
    unknown = [name for name in header if name not in COLUMNS]
    if "input" not in header or unknown:
        raise ConfigError(f"line 1: expected a header with the columns {', '.join(COLUMNS)} "
                          f"(input required), got {', '.join(header) or 'nothing'}")
    for cells in reader:
        if len(cells) <= 1 and not "".join(cells).strip():  # a blank line (",,," is a row, with no input)
            continue
        if len(cells) > len(header):
            yield reader.line_num, {"": f"{len(cells)} cells under a header of {len(header)} columns"}
            continue
        yield reader.line_num, dict(zip(header, cells))


def _json_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            fields = json.loads(raw)
        except ValueError as error:
            yield line, {"": f"not a JSON object ({error})"}
            continue
        if not isinstance(fields, dict):
            yield line, {"": f"expected a JSON object, got {type(fields).__name__}"}
            continue
        unknown = sorted(set(fields) - set(COLUMNS))
        if unknown:
            yield line, {"": f"unknown key(s) {', '.join(unknown)}; expected {', '.join(COLUMNS)}"}
            continue
        yield line, fields


def _row(manifest: Path, line: int, fields: dict[str, Any], output_folder: str, preset: str,
         overrides: Sequence[str], subtype: str | None, extension: str | None,
         settings_cache: dict[tuple[str, tuple[str, ...]], Settings | ConfigError]) -> ManifestRow:
    if "" in fields:  # a row the reader could not split into fields
        raise ConfigError(str(fields[""]))
    source = _text(fields, "input")
    if not source:
        raise ConfigError("input: empty; expected a path or URL of an audio file")
    source = locations.join(str(manifest.parent), source)
    local = locations.local_path(source)
    if local is not None and not local.is_file():
        raise ConfigError(f"input {source!r}: no such file")
    row_preset = _text(fields, "preset")
    if row_preset and (manifest.parent / row_preset).is_file():  # a preset file beside the manifest
        row_preset = str(manifest.parent / row_preset)
    row_preset = row_preset or preset
    row_overrides = (*overrides, *_overrides(fields.get("set")))
    settings = _settings(row_preset, row_overrides, settings_cache)
    output = _text(fields, "output")
    if not output:
        output = f"{locations.stem_of(source)}.{extension or _extension_of(source)}"
    output = locations.join(output_folder, _inside("output", output))
    _check_output(output, source, subtype)
    report = _text(fields, "report")
    if report:
        report = locations.join(output_folder, _inside("report", report))
        if not report.lower().endswith(".json"):
            raise ConfigError(f"report {report!r}: expected a .json file name")
    return ManifestRow(line, source, output, settings, report or None)


def _inside(key: str, name: str) -> str:
    """A relative ``output`` / ``report`` stays inside DIR: ``..`` may not climb out of it."""
    if locations.is_url(name) or Path(name).is_absolute():
        return name
    if ".." in Path(name).parts:
        raise ConfigError(f"{key} {name!r}: a relative path is inside DIR and may not contain '..'; "
                          "give an absolute path to write elsewhere")
    return name


def _text(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {value!r}")
    return value.strip()


def _overrides(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    if not isinstance(value, str):
        raise ConfigError(f"set: expected KEY=VALUE overrides separated by ';', got {value!r}")
    return [part.strip() for part in value.split(";") if part.strip()]


def _settings(preset: str, overrides: tuple[str, ...],
              cache: dict[tuple[str, tuple[str, ...]], Settings | ConfigError]) -> Settings:
    key = (preset, overrides)
    if key not in cache:
        try:
            cache[key] = resolve_settings(preset, overrides)
        except ConfigError as error:
            cache[key] = error
    found = cache[key]
    if isinstance(found, ConfigError):
        raise found
    return found


def _extension_of(source: str) -> str:
    name = locations.name_of(source)
    return name.rsplit(".", 1)[-1] if "." in name.lstrip(".") else "wav"


def _check_output(output: str, source: str, subtype: str | None) -> None:
    from ..io.audio import choose_subtype, same_file

    local_output, local_source = locations.local_path(output), locations.local_path(source)
    if local_output is not None and local_source is not None:
        if local_output.resolve() == local_source.resolve() or same_file(local_output, local_source):
            raise ConfigError(f"output {output!r}: is the input; roomgate never overwrites its input")
        if local_output.is_dir():
            raise ConfigError(f"output {output!r}: is a folder; expected a file name")
    choose_subtype(Path(locations.name_of(output)), requested=subtype)  # a format and subtype we can write


def _clashes(rows: Sequence[ManifestRow]) -> list[str]:
    """Two rows writing one file, or a row writing over another row's input."""
    def key(location: str) -> str:
        path = locations.local_path(location)
        return str(path.resolve()) if path is not None else location

    problems = []
    first_line: dict[str, int] = {}
    inputs = {key(row.input): row.line for row in rows}
    for row in rows:
        for kind, target in (("output", row.output), ("report", row.report)):
            if target is None:
                continue
            name = key(target)
            if name in first_line:
                problems.append(f"line {row.line}: {kind} {target!r} is also written by line {first_line[name]}")
            else:
                first_line[name] = row.line
            if name in inputs and kind == "output" and inputs[name] != row.line:
                problems.append(f"line {row.line}: output {target!r} is the input of line {inputs[name]}")
    return problems

