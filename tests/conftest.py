"""Shared fixtures: an isolated IR cache, the real singing from ../shared (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VOCADITO = SHARED_DATA / "vocadito_14.wav"  # Vocadito dataset, CC BY 4.0 (see shared/data/NOTICE.md)


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
    if not VOCADITO.is_file():
        pytest.skip("../shared/data/vocadito_14.wav is absent")
    from roomgate.io.audio import read_audio

    return read_audio(VOCADITO)
