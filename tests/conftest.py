"""Shared fixtures: an isolated IR cache, and real singing from tests/data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

TEST_DATA = Path(__file__).resolve().parent / "data"
VOCADITO = TEST_DATA / "vocadito_14.wav"  # Vocadito dataset, CC BY 4.0 (see tests/data/NOTICE.md)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # One cache per test session: rooms computed once are reused by later tests, never the user's.
    monkeypatch.setenv("ROOMGATE_CACHE_DIR", str(_session_cache(tmp_path_factory)))


_CACHE: list[Path] = []


def _session_cache(factory: pytest.TempPathFactory) -> Path:
    if not _CACHE:
        _CACHE.append(factory.mktemp("ir-cache"))
    return _CACHE[0]


@pytest.fixture
def vocadito() -> tuple[np.ndarray, int]:
    """Real a-cappella singing, (1, N) float32 at 44.1 kHz."""
    from roomgate.io.audio import read_audio

    return read_audio(VOCADITO)


# -- every report the suite makes matches the shipped JSON Schema -------------------------------------


def assert_valid_report(data: dict) -> None:
    """Raise (naming the key) unless ``data`` validates against roomgate's report schema."""
    import jsonschema

    from roomgate.io.report import schema

    jsonschema.Draft202012Validator(schema()).validate(data)


@pytest.fixture(scope="session", autouse=True)
def _reports_match_the_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """In this process every Report.to_json() is validated as it is made; at the end, every report
    file any test (or any CLI subprocess) wrote under the session's temporary folders is too."""
    from roomgate.io.report import Report

    made = Report.to_json

    def validated(self: Report) -> dict:
        data = made(self)
        assert_valid_report(data)
        return data

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Report, "to_json", validated)
        yield
    for path in tmp_path_factory.getbasetemp().rglob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "roomgate_version" in data and "timeline" in data:
            assert_valid_report(data)
