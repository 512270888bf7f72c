"""The entry point: the impulse response from the singer to each mic, simulated or measured.

:func:`impulse_responses` validates the room, the singer and the mics, takes each simulated mic's
row from the cache (:mod:`.cache`) or simulates the rows it lacks together (:mod:`.simulate`),
reads measured mics' files (:mod:`.measured`), and stacks the rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ..units import check_sample_rate
from . import cache, simulate
from .measured import read_mic_ir
from .room import (
    Microphone,
    Room,
    Singer,
    as_singer,
    materials_by_wall,
    mic_axis,
    rt60_table,
    singer_facing,
    size_text,
    validate,
)

__all__ = ["ALGORITHM_VERSION", "PROGRESS_AFTER_S", "impulse_responses", "pad_rows"]

#: Bump when anything changes what impulse_responses() computes: invalidates every cache entry.
#: 1: ISM + smoothed noise tail spliced in at 2 sqrt(V) ms. 2: scattering, a diffuse field from
#: the first reflection on, an unsmoothed tail, the singer's directivity, per-row cache entries.
ALGORITHM_VERSION = 2
#: Call progress() when a simulation is expected to take longer than this (s).
PROGRESS_AFTER_S = 1.0


@functools.lru_cache(maxsize=1)
def _library_versions() -> dict[str, str]:
    from .. import __version__

    return {"roomgate": __version__, "numpy": np.__version__, "pyroomacoustics": _pyroomacoustics_version()}


def _pyroomacoustics_version() -> str:
    """pyroomacoustics' version without importing it (~1.5 s) nor importlib.metadata (~40-130 ms:
    it parses e-mail headers): the name of its one ``.dist-info`` folder beside the package, as
    pip installs it; importlib.metadata for any other install."""
    import importlib.util
    import os
    import pathlib

    spec = importlib.util.find_spec("pyroomacoustics")
    if spec is not None and spec.origin:
        folder = pathlib.Path(spec.origin).parent.parent
        prefix, suffix = "pyroomacoustics-", ".dist-info"
        with os.scandir(folder) as entries:
            found = [e.name[len(prefix) : -len(suffix)] for e in entries
                     if e.name.startswith(prefix) and e.name.endswith(suffix)]
        if len(found) == 1:
            return found[0]
    from importlib import metadata

    try:
        return metadata.version("pyroomacoustics")
    except metadata.PackageNotFoundError:  # pragma: no cover - an odd install: ask the module
        import pyroomacoustics

        return str(pyroomacoustics.__version__)


def _floats(values: Iterable[float]) -> list[float]:
    return [float(v) for v in values]


def room_description(room: Room) -> dict[str, object]:
    """Everything about ``room`` that changes its IRs, as JSON-ready values."""
    table = rt60_table(room.rt60_s)
    rt60: object = None
    if table is not None:
        rt60 = {f"{k:g}": v for k, v in sorted(table.items())}
    elif room.rt60_s is not None:
        rt60 = float(room.rt60_s)  # type: ignore[arg-type]
    return {
        "size_m": _floats(room.size_m),
        "rt60_s": rt60,
        "materials": None if room.materials is None else materials_by_wall(room.materials),
        "air_absorption": bool(room.air_absorption),
        "temperature_c": float(room.temperature_c),
        "humidity_pct": float(room.humidity_pct),
    }


def _mic_description(mic: Microphone, source: np.ndarray) -> dict[str, object]:
    # The mic's name is left out: renaming a mic changes neither its IR nor its noise seed.
    return {
        "position_m": _floats(mic.position_m),
        "pattern": mic.pattern,
        "axis": _floats(mic_axis(mic, source)) if mic.pattern != "omni" else None,
    }


def pad_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Stack 1-D rows into ``(M, max L)`` float32, zero-padding the shorter ones."""
    out = np.zeros((len(rows), max((r.shape[0] for r in rows), default=0)), dtype=np.float32)
    for i, row in enumerate(rows):
        out[i, : row.shape[0]] = row
    return out


def impulse_responses(
    room: Room,
    singer: Singer | Sequence[float],
    mics: Sequence[Microphone],
    sample_rate: int,
    *,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """The impulse response from the singer to each mic.

    ``singer`` is a :class:`Singer` (or a bare position: a :class:`Singer` there with the defaults,
    a voice facing the middle of the room).

    Shape:
        returns ``(M, L)`` float32, a row per mic in ``mics``' order, ``L`` the longest row
        (shorter ones zero-padded). Time zero is the singing: a mic ``d`` metres away hears the
        direct sound at sample ``round(d / c * sample_rate)`` with amplitude ``1 / d`` (omni, in
        front of the singer).

    Each simulated row comes from the cache (memory, then disk) when one exists for exactly these
    inputs; the rows missing are simulated together, once even when several threads ask at once.
    ``progress`` is called with a message when a simulation is expected to take over
    :data:`PROGRESS_AFTER_S`. Raises :class:`ConfigError` naming the key (see :func:`.room.validate`)
    and :class:`AudioInputError` naming a measured IR file that cannot be used.
    """
    sample_rate = check_sample_rate(sample_rate)
    singer = as_singer(singer)
    validate(room, singer, mics)
    source = np.asarray(singer.position_m, dtype=np.float64)
    rows: dict[str, np.ndarray] = {}
    simulated = [m for m in mics if m.ir_path is None]
    if simulated:
        room_part = room_description(room)
        singer_part = {
            "position_m": _floats(source),
            "facing": _floats(singer_facing(singer, room)),
            "directivity": singer.directivity,
        }
        mic_parts = [_mic_description(m, source) for m in simulated]
        keys = [
            cache.digest({
                "algorithm": ALGORITHM_VERSION, "versions": _library_versions(), "sample_rate": sample_rate,
                "room": room_part, "singer": singer_part, "mic": part,
            })
            for part in mic_parts
        ]  # fmt: skip
        # Seeds: the images' nudges are the room's own (the same at every rate and for every mic);
        # the noise is each mic's, and the same whichever way the singer faces or radiates.
        image_seed = int(cache.digest({"room": room_part, "singer_m": singer_part["position_m"]})[:16], 16)
        noise_seeds = {
            key: int(cache.digest({"room": room_part, "singer_m": singer_part["position_m"], "mic": part,
                                   "sample_rate": sample_rate})[:16], 16)
            for key, part in zip(keys, mic_parts)
        }  # fmt: skip
        mic_by_key = dict(zip(keys, simulated))

        def compute(missing: list[str]) -> dict[str, np.ndarray]:
            if progress is not None:
                estimate_s = simulate.estimated_seconds(room, len(missing), sample_rate)
                if estimate_s > PROGRESS_AFTER_S:
                    progress(
                        f"simulating the {size_text(room)} room for {len(missing)} mic(s) at "
                        f"{sample_rate} Hz (about {estimate_s:.0f} s; cached afterwards)"
                    )
            computed = simulate.simulate(
                room, singer, [mic_by_key[k] for k in missing], sample_rate, image_seed, [noise_seeds[k] for k in missing]
            )
            return dict(zip(missing, computed))

        by_key = cache.fetch_rows(keys, compute, use_cache)
        for mic, key in zip(simulated, keys):
            rows[mic.name] = by_key[key]
    for mic in mics:
        if mic.ir_path is not None:
            rows[mic.name] = read_mic_ir(mic, sample_rate)
    return pad_rows([rows[mic.name] for mic in mics])
