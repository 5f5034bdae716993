"""EXPLAIN shows what is pushed into the CloudWatch scan."""

from __future__ import annotations

import adbc_driver_manager
import pytest

from helpers import iso_ms, run, table, ts_lit
from loader import LAMBDA_GROUP


def explain(conn, text: str) -> str:
    t = run(conn, f"EXPLAIN {text}")
    assert t.num_rows > 0
    return "\n".join(" | ".join(str(v) for v in row.values()) for row in t.to_pylist())


def physical_scan_lines(plan: str) -> list[str]:
    return [line for line in plan.splitlines() if "LogScan" in line]


def test_explain_shows_pushed_time_range(conn, data):
    a, b = data.shared_ts, data.shared_ts_2
    plan = explain(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time BETWEEN {ts_lit(a)} AND {ts_lit(b)}")
    scans = physical_scan_lines(plan)
    assert scans, plan
    scan = scans[0]
    assert LAMBDA_GROUP in scan, scan
    assert iso_ms(a) in scan and iso_ms(b) in scan, scan


def test_explain_shows_pushed_stream(conn, data):
    stream = data.lambda_streams["small"]
    plan = explain(
        conn,
        f"SELECT * FROM {table(LAMBDA_GROUP)} WHERE log_stream = '{stream}' AND time >= {ts_lit(data.shared_ts)}",
    )
    [scan] = physical_scan_lines(plan)
    assert stream in scan, scan
    assert iso_ms(data.shared_ts) in scan, scan


def test_explain_single_stream_table(conn, data):
    plan = explain(conn, f"SELECT * FROM {table(LAMBDA_GROUP, data.big_stream)} WHERE time < {ts_lit(data.shared_ts)}")
    [scan] = physical_scan_lines(plan)
    assert data.big_stream in scan, scan
    # `time < X` is the inclusive bound X - 1 ms.
    assert iso_ms(data.shared_ts - 1) in scan, scan


def test_explain_without_filters_reads_everything(conn):
    plan = explain(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)}")
    [scan] = physical_scan_lines(plan)
    assert "streams=all" in scan, scan


def test_explain_never_runs_a_write(conn, tmp_path):
    target = tmp_path / "explained.csv"
    with pytest.raises(adbc_driver_manager.Error, match="read-only"):
        run(conn, f"EXPLAIN COPY (SELECT 1) TO '{target}'")
    assert not target.exists()
