"""Shared fixtures: an isolated IR cache, and real singing from tests/data."""

from __future__ import annotations

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
