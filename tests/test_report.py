"""The report's timeline: any block sizes give the same frames and intervals; the plot draws it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from roomgate.io.report import MicReport, Report, RoomReport, SingerReport, build_report, write_report
from roomgate.io.timeline import TimelineRecorder

RATE = 1_000


def _signals(n: int = 5_000, seed: int = 1):
    rng = np.random.default_rng(seed)
    key_db = rng.uniform(-60, 0, n).astype(np.float32)
    opened = np.repeat(rng.random(n // 250) > 0.5, 250)
    gain = np.where(opened, 1.0, 0.1).astype(np.float32)
    return key_db, gain, opened


def _record(block_sizes: list[int]) -> Report:
    key_db, gain, opened = _signals()
    recorder = TimelineRecorder(RATE, ["close", "far"], [False, True], hop_s=0.01)
    start, turn = 0, 0
    while start < key_db.size:
        size = block_sizes[turn % len(block_sizes)]
        stop = start + size
        recorder.add(key_db[start:stop], [None, gain[start:stop]], [None, opened[start:stop]])
        start, turn = stop, turn + 1
    mics = [MicReport(name="close", distance_m=0.2, gain_db=0.0, threshold_db=None),
            MicReport(name="far", distance_m=15.0, gain_db=6.0, threshold_db=-20.0)]
    return build_report(recorder, mics, preset="test")


@pytest.mark.parametrize("block_sizes", [[1], [7], [128], [4096], [3, 1000, 17]])
def test_any_block_sizes_give_the_same_report(block_sizes: list[int]) -> None:
    assert _record(block_sizes) == _record([10**9])


def test_intervals_and_fractions_match_the_open_flags() -> None:
    key_db, gain, opened = _signals()
    report = _record([10**9]).to_json()
    far = report["mics"][1]
    assert far["open_fraction"] == pytest.approx(opened.mean())
    rebuilt = np.zeros_like(opened)
    for start_s, end_s in far["intervals"]:
        rebuilt[round(start_s * RATE) : round(end_s * RATE)] = True
    np.testing.assert_array_equal(rebuilt, opened)
    assert report["mics"][0]["intervals"] == [[0.0, 5.0]]
    timeline = report["timeline"]
    assert len(timeline["key_db"]) == 500
    frame_max = key_db.reshape(500, 10).max(axis=1)
    np.testing.assert_allclose(timeline["key_db"], np.round(frame_max, 2), atol=0.006)


def test_report_is_json_and_plot_draws(tmp_path) -> None:
    data = _record([10**9]).to_json()
    data["room"] = {"size_m": [19, 14, 7], "rt60_s": 1.5}
    data["singer"] = {"position_m": [2.5, 7, 1.7]}
    data["mics"][0]["position_m"] = [2.7, 7, 1.7]
    data["mics"][1]["position_m"] = [17.5, 7, 1.7]
    report = Report.from_json(data)
    assert report.room == RoomReport([19, 14, 7], 1.5) and report.singer == SingerReport([2.5, 7, 1.7])
    path = write_report(tmp_path / "r.json", report)
    assert json.loads(path.read_text())["duration_s"] == 5.0
    from roomgate.io.plot import plot_report

    png = plot_report(report, tmp_path / "p.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000


def test_reports_declare_their_schema_and_round_trip(tmp_path) -> None:
    import jsonschema

    from roomgate.io.report import SCHEMA_VERSION, read_report, schema
    from tests.conftest import assert_valid_report

    report = _record([10**9])
    data = report.to_json()
    assert data["schema_version"] == SCHEMA_VERSION and schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert read_report(write_report(tmp_path / "r.json", report)) == Report.from_json(data)
    for broken in ({k: v for k, v in data.items() if k != "mics"}, {**data, "sample_rate": "fast"},
                   {**data, "surprise": 1}, {**data, "mics": [{**data["mics"][0], "open_fraction": 2}]}):
        with pytest.raises(jsonschema.ValidationError):
            assert_valid_report(broken)
