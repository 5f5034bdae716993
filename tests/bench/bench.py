"""logflight's benchmarks (docs/benchmarks.md): each prints logflight's figure,
its baseline measured in the same run, and the ratio against the target.

    bash tests/bench.sh                 # every benchmark
    bash tests/bench.sh transfer memory # some of them

Run through tests/bench.sh, which builds the release binaries and sets up the
Python environment. Results are also written as JSON to target/bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import warnings  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.compute  # noqa: E402,F401
import pyarrow.flight as flight  # noqa: E402

from conftest import start_moto  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from loader import logs_client  # noqa: E402
from servers import child_env, exe, free_port, running, scrape, start_serve, stop  # noqa: E402

# Flight SQL has no transactions; the ADBC DB-API wrapper warns on every connect.
warnings.filterwarnings("ignore", "Cannot disable autocommit")

OUT = ROOT / "target" / "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = 10_000  # events per FilterLogEvents / GetLogEvents page
MINUTE_MS = 60_000

# The moto dataset: 20 streams, each its own 25-minute window (disjoint spans),
# so time ranges and stream choices have something to prune.
STREAMS = 20
PER_STREAM = 10_000
GROUP = "/bench/app"
EMPTY_GROUP = "/bench/empty"
BIG_GROUP = "/bench/big"  # 1M events, for time to first row
BIG_EVENTS = 1_000_000

# CloudWatch-like TPS per API, enforced by the proxy and given to logflight's pacer
# (quota and archive benchmarks); and a pacing high enough never to wait on moto.
QUOTA_TPS = {"FilterLogEvents": 2.0, "GetLogEvents": 4.0, "DescribeLogStreams": 10.0, "DescribeLogGroups": 4.0}
UNPACED = "FilterLogEvents=1000,GetLogEvents=1000,DescribeLogStreams=1000,DescribeLogGroups=1000"

RESULTS: dict[str, dict] = {}


def tps_arg(tps: dict[str, float]) -> str:
    """The `--api-tps` value of a {operation: TPS} map."""
    return ",".join(f"{k}={v:g}" for k, v in tps.items())


def log(msg: str) -> None:
    print(msg, flush=True)


def report(name: str, **figures) -> None:
    RESULTS[name] = figures
    log(f"  -> {json.dumps(figures)}")


# Process measurements --------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """user + sys CPU seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class RssSampler:
    """Samples a process's resident set every 20 ms (the peak of one query, when the
    process-lifetime peak VmHWM would include earlier queries)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self.peak = rss_mb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def pull(uri: str, sql: str) -> tuple[int, float, float]:
    """Streams a query's result with pyarrow.flight (SQL text as the ticket), dropping
    batches; returns (rows, seconds to the first batch, seconds in all)."""
    client = flight.connect(uri)
    start = time.perf_counter()
    reader = client.do_get(flight.Ticket(sql.encode()))
    rows, first = 0, None
    for chunk in reader:
        if first is None:
            first = time.perf_counter() - start
        rows += chunk.data.num_rows
    total = time.perf_counter() - start
    client.close()
    return rows, first if first is not None else total, total


def read_cpu(srv, sql: str, want: int) -> float:
    """The server's CPU seconds (user+sys) to stream one query's result to a pyarrow client."""
    c0 = cpu_seconds(srv.proc.pid)
    rows, _, _ = pull(srv.uri, sql)
    assert rows == want, rows
    return cpu_seconds(srv.proc.pid) - c0


def pull_adbc(uri: str, sql: str) -> tuple[int, float]:
    import adbc_driver_flightsql.dbapi as dbapi

    with dbapi.connect(uri) as conn:
        cur = conn.cursor()
        start = time.perf_counter()
        cur.execute(sql)
        rows = sum(b.num_rows for b in cur.fetch_record_batch())
        total = time.perf_counter() - start
        cur.close()
    return rows, total


def serve(name: str, *args: str):
    return start_serve(OUT / f"{name}.log", *args)


# Data --------------------------------------------------------------------------------


def put_events(client, group: str, stream: str, events: list[dict]) -> None:
    """PutLogEvents of `events` (in time order), a page at a time."""
    for k in range(0, len(events), PAGE):
        client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[k : k + PAGE])


def load_moto(endpoint: str) -> dict:
    """Loads the benchmark groups; returns {stream: (first_ms, last_ms)} of GROUP."""
    client = logs_client(endpoint)
    base = int(time.time() * 1000) - 10 * 3_600_000
    rng = random.Random(4)
    spans = {}
    client.create_log_group(logGroupName=EMPTY_GROUP)
    client.create_log_group(logGroupName=GROUP)
    window = 25 * MINUTE_MS
    for s in range(STREAMS):
        name = f"app-{s:02d}"
        client.create_log_stream(logGroupName=GROUP, logStreamName=name)
        start = base + s * window
        step = window // PER_STREAM
        events = [
            {
                "timestamp": start + i * step,
                "message": f"{['INFO', 'WARN', 'ERROR'][rng.randrange(3)]} request_id={rng.getrandbits(64):016x} "
                f"path=/api/orders/{rng.randrange(10_000)} status={rng.choice([200, 200, 404, 500])} "
                f"latency_ms={rng.randrange(900)}",
            }
            for i in range(PER_STREAM)
        ]
        put_events(client, GROUP, name, events)
        spans[name] = (start, start + (PER_STREAM - 1) * step)
    return spans


def load_big(endpoint: str) -> None:
    client = logs_client(endpoint)
    client.create_log_group(logGroupName=BIG_GROUP)
    base = int(time.time() * 1000) - 12 * 3_600_000
    streams = 10
    per = BIG_EVENTS // streams
    for s in range(streams):
        name = f"big-{s}"
        client.create_log_stream(logGroupName=BIG_GROUP, logStreamName=name)
        for k in range(0, per, PAGE):
            events = [{"timestamp": base + (k + i) * 40 + s, "message": f"event {k + i} of {name}"} for i in range(PAGE)]
            client.put_log_events(logGroupName=BIG_GROUP, logStreamName=name, logEvents=events)


# Benchmarks --------------------------------------------------------------------------


def bench_overhead(ctx) -> None:
    """1. CPU per event: logflight streaming SELECT * to a client vs a bare aws-sdk loop."""
    log("\n[overhead] CPU time per event, logflight vs bare aws-sdk FilterLogEvents loop")
    events = STREAMS * PER_STREAM
    base_runs, lf_runs = [], []
    srv = serve("overhead", "--source", "cloudwatch", "--endpoint-url", ctx.moto, "--region", "us-east-1",
                "--api-tps", UNPACED)
    def baseline_cpu(group: str, want: int) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([str(ctx.baseline), ctx.moto, group], capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert int(out.stdout.split()[0]) == want, out.stdout
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    # The baseline is a process of its own: its start-up (runtime, SDK config)
    # is measured on an empty group and taken off, so only reading is compared.
    startup = sum(baseline_cpu(EMPTY_GROUP, 0) for _ in range(12)) / 12
    try:
        for _ in range(12):
            base_runs.append(baseline_cpu(GROUP, events) - startup)

            lf_runs.append(read_cpu(srv, f'SELECT * FROM "{GROUP}".all_log_streams', events))
    finally:
        stop(srv.proc)
    # CPU times tick at 10 ms (about 5% of one run): compare totals over the runs.
    base, lf = sum(base_runs) / len(base_runs), sum(lf_runs) / len(lf_runs)
    report(
        "overhead",
        events=events,
        runs=len(lf_runs),
        baseline_startup_ms=round(startup * 1000, 1),
        baseline_cpu_us_per_event=round(base / events * 1e6, 3),
        logflight_cpu_us_per_event=round(lf / events * 1e6, 3),
        ratio=round(lf / base, 3),
        target="<= 1.15",
    )


def bench_transfer(ctx) -> None:
    """2. Rows/s of a 10M-row result: logflight vs a pyarrow.flight (C++) server."""
    n = ctx.rows
    log(f"\n[transfer] {n:,} rows x 5 columns to a pyarrow.flight client")
    sql = 'SELECT * FROM "/synthetic/app".all_log_streams'
    figures = {"rows": n}
    # The baseline serves the same rows: the first 1M of the result, 10 times over.
    srv = serve("transfer", "--source", "synthetic", "--synthetic-events", str(n))
    try:
        sample_rows = min(n, 1_000_000)
        client = flight.connect(srv.uri)
        sample = client.do_get(flight.Ticket(f"{sql} LIMIT {sample_rows}".encode())).read_all()
        client.close()
        ipc = OUT / "transfer-sample.arrow"
        with pa.OSFile(str(ipc), "wb") as f, pa.ipc.new_file(f, sample.schema) as w:
            w.write_table(sample)
        del sample
        port, floor_port = free_port(), free_port()
        arrow_srv = subprocess.Popen(
            [sys.executable, str(HERE / "arrow_server.py"), str(ipc), str(port), str(n)],
            stdout=subprocess.PIPE, text=True,
        )
        # The floor: a bare Rust arrow-flight server on tonic sending the same
        # rows, encoded per request ("encode") or once at start ("pre").
        floor_srv = subprocess.Popen(
            [str(ctx.floor), str(ipc), str(floor_port), str(n)], stdout=subprocess.PIPE, text=True,
        )
        floor_uri = f"grpc://127.0.0.1:{floor_port}"
        try:
            assert arrow_srv.stdout.readline().strip() == "ready"
            assert floor_srv.stdout.readline().strip() == "ready"
            best = {}
            runs = (
                ("logflight", srv.uri, sql),
                ("pyarrow_flight", f"grpc://127.0.0.1:{port}", sql),
                ("rust_flight_encode", floor_uri, "encode"),
                ("rust_flight_pre", floor_uri, "pre"),
            )
            for _ in range(3):
                for label, uri, ticket in runs:
                    rows, _, secs = pull(uri, ticket)
                    assert rows == n, (label, rows)
                    best[label] = min(best.get(label, 1e9), secs)
            rows, secs = pull_adbc(srv.uri, sql)
            assert rows == n
            figures["logflight_adbc_rows_per_s"] = round(n / secs)
        finally:
            for p in (arrow_srv, floor_srv):
                p.terminate()
                p.wait()
        for label, _, _ in runs:
            figures[f"{label}_rows_per_s"] = round(n / best[label])
        figures["ratio"] = round(best["pyarrow_flight"] / best["logflight"], 3)
        figures["floor_encode_ratio"] = round(best["pyarrow_flight"] / best["rust_flight_encode"], 3)
        figures["floor_pre_ratio"] = round(best["pyarrow_flight"] / best["rust_flight_pre"], 3)
        figures["target"] = ">= 1.0"
    finally:
        stop(srv.proc)
    for codec in ("lz4", "zstd"):
        srv = serve(f"transfer-{codec}", "--source", "synthetic", "--synthetic-events", str(n), "--ipc-compression", codec)
        try:
            rows, _, secs = pull(srv.uri, sql)
            assert rows == n
            figures[f"logflight_{codec}_rows_per_s"] = round(n / secs)
        finally:
            stop(srv.proc)
    report("transfer", **figures)


def bench_memory(ctx) -> None:
    """4. Peak RSS of the server while streaming 1M and 10M rows."""
    log("\n[memory] server peak RSS while streaming a result")
    figures = {}
    for n in (1_000_000, ctx.rows):
        srv = serve(f"memory-{n}", "--source", "synthetic", "--synthetic-events", str(n))
        try:
            idle = rss_mb(srv.proc.pid)
            with RssSampler(srv.proc.pid) as s:
                rows, _, _ = pull(srv.uri, 'SELECT * FROM "/synthetic/app".all_log_streams')
            assert rows == n
            figures["idle_rss_mb"] = round(idle, 1)
            figures[f"peak_rss_mb_{n}"] = round(max(s.peak, peak_rss_mb(srv.proc.pid)), 1)
        finally:
            stop(srv.proc)
    small, big = figures["peak_rss_mb_1000000"], figures[f"peak_rss_mb_{ctx.rows}"]
    figures["growth_ratio"] = round(big / small, 3)
    figures["target"] = f"<= 256 MB, {ctx.rows:,} within 20% of 1M"
    report("memory", **figures)


def bench_latency(ctx) -> None:
    """5. Time to first row of LIMIT 10 on a 1M-event group; time from start to serving."""
    log("\n[latency] time to first row, API calls, start-up time")
    proxy = FaultProxy(ctx.moto, seed=0)
    proxy.start()
    srv = serve("latency", "--source", "cloudwatch", "--endpoint-url", proxy.url, "--region", "us-east-1")
    figures = {}
    try:
        client = logs_client(ctx.moto)
        # One moto round trip of the same request, the unit of the target.
        trips = []
        for _ in range(5):
            t = time.perf_counter()
            client.filter_log_events(logGroupName=BIG_GROUP, limit=10)
            trips.append(time.perf_counter() - t)
        pull(srv.uri, f'SELECT * FROM "{BIG_GROUP}".all_log_streams WHERE false')  # warm the name cache
        firsts, calls = [], []
        for _ in range(5):
            proxy.reset_stats()
            rows, first, _ = pull(srv.uri, f'SELECT * FROM "{BIG_GROUP}".all_log_streams LIMIT 10')
            assert rows == 10
            firsts.append(first)
            calls.append(len(proxy.requests("FilterLogEvents", "GetLogEvents", "DescribeLogStreams")))
        figures.update(
            moto_round_trip_ms=round(min(trips) * 1000, 1),
            first_row_ms=round(min(firsts) * 1000, 1),
            first_row_in_round_trips=round(min(firsts) / min(trips), 2),
            api_calls=max(calls),
            target_round_trips="<= 2",
        )
    finally:
        stop(srv.proc)
        proxy.stop()
    for source in ("demo", "cloudwatch"):
        extra = ["--endpoint-url", ctx.moto, "--region", "us-east-1"] if source == "cloudwatch" else []
        t = time.perf_counter()
        srv = serve(f"startup-{source}", "--source", source, *extra)
        figures[f"start_to_serving_ms_{source}"] = round((time.perf_counter() - t) * 1000, 1)
        stop(srv.proc)
    figures["target_start"] = "<= 1000 ms"
    report("latency", **figures)


def bench_quota(ctx) -> None:
    """3. A full scan through a proxy enforcing CloudWatch-like quotas."""
    tps = QUOTA_TPS
    log(f"\n[quota] full scan of a {STREAMS}-stream group through a proxy enforcing {tps}")
    proxy = FaultProxy(ctx.moto, seed=0, rate_limits=tps)
    proxy.start()
    api_tps = tps_arg(tps)
    srv = serve("quota", "--source", "cloudwatch", "--endpoint-url", proxy.url, "--region", "us-east-1",
                "--api-tps", api_tps)
    events = STREAMS * PER_STREAM
    figures = {"quota": tps}
    try:
        pull(srv.uri, f'SELECT * FROM "{GROUP}".all_log_streams WHERE false')
        proxy.reset_stats()
        rows, _, secs = pull(srv.uri, f'SELECT * FROM "{GROUP}".all_log_streams')
        assert rows == events, rows
        reads = proxy.requests("FilterLogEvents")
        stats = proxy.stats()["operations"].get("FilterLogEvents", {})
        # What the quota allows: full pages at the FilterLogEvents rate.
        allowed = tps["FilterLogEvents"] * PAGE
        figures.update(
            events=events,
            seconds=round(secs, 2),
            events_per_s=round(events / secs),
            allowed_events_per_s=round(allowed),
            share_of_quota=round(events / secs / allowed, 3),
            filter_calls=len(reads),
            calls_per_s=round(len(reads) / secs, 2),
            throttled=stats.get("rate_limited", 0),
            failed_queries=0,
            target=">= 0.90 of the quota, 0 failed",
        )
    finally:
        stop(srv.proc)
        proxy.stop()
    report("quota", **figures)


# The headline: a month of a 10-million-event group (the synthetic source, one event every
# 259 ms across 20 streams, from 2026-01-01).
HEADLINE_EVENTS = 10_000_000
HEADLINE_STEP_MS = 259
SYNTHETIC_GROUP = "/synthetic/app"


def run_archive(root: Path, *source: str) -> dict:
    """One `logflight archive run` as a child (taking the whole quota it is given); its wall
    time, CPU, peak RSS (rusage) and the API calls its summary line counts."""
    cmd = [exe(), "archive", "run", "--archive-root", str(root), *source, "--quota-share", "1"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=child_env())
    # The peak RSS from the child's own high-water mark, polled: rusage's ru_maxrss of a
    # child starts at its parent's RSS at fork (Linux keeps it across exec), and this
    # Python process holds hundreds of MB of Arrow tables by then.
    peak, done = [0.0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], peak_rss_mb(proc.pid))
            except (OSError, RuntimeError):
                pass  # exiting: no VmHWM in a zombie's status
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out = proc.stdout.read().decode()  # to its end: the child has exited
    done.set()
    watcher.join()
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"archive run failed:\n{out}")
    calls = int(re.search(r"([\d,]+) API calls?,", out).group(1).replace(",", ""))
    return {"seconds": secs, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak[0], "api_calls": calls}


def cloudwatch_args(endpoint: str, group: str, api_tps: str) -> list[str]:
    return ["--source", "cloudwatch", "--endpoint-url", endpoint, "--region", "us-east-1",
            "--groups", group, "--api-tps", api_tps]


def synthetic_args(events: int, step_ms: int = 10) -> list[str]:
    return ["--source", "synthetic", "--synthetic-events", str(events), "--synthetic-streams", str(STREAMS),
            "--synthetic-step-ms", str(step_ms), "--groups", SYNTHETIC_GROUP, "--api-tps", UNPACED]


def explain_metrics(uri: str, sql: str) -> tuple[dict[str, int], str]:
    """The scan metrics (api_calls, events_fetched, bytes_fetched, pages) summed over the
    plan's LogScans, from EXPLAIN ANALYZE, and the plan's text; DataFusion prints counts
    as 1.00 K, 2.50 M."""
    import adbc_driver_flightsql.dbapi as dbapi

    with dbapi.connect(uri) as conn:
        cur = conn.cursor()
        cur.execute("EXPLAIN ANALYZE " + sql)
        text = "\n".join(str(v) for row in cur.fetchall() for v in row)
        cur.close()
    scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}
    sums = {}
    for name in ("api_calls", "events_fetched", "bytes_fetched", "pages", "insights_queries",
                 "insights_records_matched", "insights_records_scanned", "insights_bytes_scanned"):
        found = re.findall(rf"\b{name}=([\d.]+)\s?([KMB]?)", text)
        sums[name] = round(sum(float(n) * scale[unit] for n, unit in found))
    return sums, text


def explain_api_calls(uri: str, sql: str) -> int:
    """The API calls (pages) the plan's scans made, from EXPLAIN ANALYZE."""
    return explain_metrics(uri, sql)[0]["api_calls"]


def archive_queries(uri: str, lf_table: str, parts: list[str], tag: str, figures: dict, runs: int = 5) -> None:
    """The benchmark's queries over archived Parquet: logflight (ADBC, end to end) against
    DuckDB in process over the same files, rows checked equal; best of `runs`."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW a AS SELECT * FROM read_parquet({parts!r})")
    events, lo, hi = con.sql("SELECT count(*), min(time), max(time) FROM a").fetchall()[0]
    mid = (lo + (hi - lo) / 2).strftime("%Y-%m-%d %H:%M:%S")
    queries = {
        "range_and_filter": "SELECT log_stream, time, message FROM {t} "
                            f"WHERE time >= TIMESTAMP '{mid}' AND message LIKE '%status=500%'",
        "group_by": "SELECT log_stream, count(*) AS n FROM {t} GROUP BY log_stream",
    }
    for name, text in queries.items():
        lf_times, duck_times = [], []
        for _ in range(runs):
            rows, secs = pull_adbc(uri, text.format(t=lf_table))
            lf_times.append(secs)
            t = time.perf_counter()
            duck_rows = con.sql(text.format(t="a")).to_arrow_table().num_rows
            duck_times.append(time.perf_counter() - t)
            assert rows == duck_rows, (name, rows, duck_rows)
        figures[f"{tag}_{name}_rows"] = rows
        figures[f"{tag}_{name}_logflight_events_per_s"] = round(events / min(lf_times))
        figures[f"{tag}_{name}_duckdb_events_per_s"] = round(events / min(duck_times))
        figures[f"{tag}_{name}_ratio"] = round(min(duck_times) / min(lf_times), 3)


def archive_transfer(uri: str, lf_table: str, parts: list[str], work: Path, tag: str, figures: dict) -> None:
    """SELECT * of an archived group to a pyarrow.flight client, against the transfer
    benchmark's pyarrow.flight server holding the same Parquet rows in memory."""
    import pyarrow.dataset as ds

    table = ds.dataset(parts, format="parquet").to_table()
    events = table.num_rows
    ipc, port = work / f"{tag}.arrow", free_port()
    with pa.OSFile(str(ipc), "wb") as f, pa.ipc.new_file(f, table.schema) as w:
        w.write_table(table)
    del table
    floor = subprocess.Popen([sys.executable, str(HERE / "arrow_server.py"), str(ipc), str(port), str(events)],
                             stdout=subprocess.PIPE, text=True)
    assert floor.stdout.readline().strip() == "ready"
    try:
        lf, py = [], []
        for _ in range(3):
            rows, _, secs = pull(uri, f"SELECT * FROM {lf_table}")
            assert rows == events, (rows, events)
            lf.append(secs)
            rows, _, secs = pull(f"grpc://127.0.0.1:{port}", "all")
            assert rows == events
            py.append(secs)
    finally:
        floor.terminate()
        floor.wait()
        ipc.unlink()
    figures.update({
        f"{tag}_transfer_rows": events,
        f"{tag}_transfer_logflight_rows_per_s": round(events / min(lf)),
        f"{tag}_transfer_pyarrow_flight_rows_per_s": round(events / min(py)),
        f"{tag}_transfer_ratio": round(min(py) / min(lf), 3),
    })


def data_parts(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*.parquet") if "_logflight" not in p.parts]


def bench_archive(ctx) -> None:
    """8. The archive (issue 13): copy speed against the quota, memory against group size,
    CPU against a plain read, and queries over the Parquet against DuckDB and pyarrow.flight."""
    import shutil
    import tempfile

    log("\n[archive] logflight archive run, then queries over logflight$archive")
    events = STREAMS * PER_STREAM
    figures: dict = {}
    work = Path(tempfile.mkdtemp(prefix="lf-bench-archive-"))
    tps = QUOTA_TPS
    try:
        # 1. Speed against the quota: through a proxy enforcing it, as the quota bench.
        proxy = FaultProxy(ctx.moto, seed=0, rate_limits=tps)
        proxy.start()
        try:
            run = run_archive(work / "paced", *cloudwatch_args(proxy.url, GROUP, tps_arg(tps)))
            reads = proxy.requests("FilterLogEvents")
            stats = proxy.stats()["operations"].get("FilterLogEvents", {})
        finally:
            proxy.stop()
        allowed = tps["FilterLogEvents"] * PAGE
        figures.update(
            quota=tps, events=events, seconds=round(run["seconds"], 2),
            events_per_s=round(events / run["seconds"]), allowed_events_per_s=round(allowed),
            share_of_quota=round(events / run["seconds"] / allowed, 3),
            filter_calls=len(reads), ideal_filter_calls=-(-events // PAGE),
            calls_per_s=round(len(reads) / run["seconds"], 2), throttled=stats.get("rate_limited", 0),
            target_share=">= 0.90",
        )

        # 2. CPU per event against a plain read of the same events (moto, unpaced): archive
        # runs and reads by a warm `serve` taken in turn, so that the machine's drift touches
        # both alike, and the least of each (what noise cannot lower) compared.
        srv = serve("archive-read", "--source", "cloudwatch", "--endpoint-url", ctx.moto, "--region", "us-east-1",
                    "--api-tps", UNPACED)
        archive_cpu, read_cpu_s = [], []
        try:
            read_cpu(srv, f'SELECT * FROM "{GROUP}".all_log_streams', events)  # warm the server
            for k in range(5):
                shutil.rmtree(work / "big", ignore_errors=True)
                archive_cpu.append(run_archive(work / "big", *cloudwatch_args(ctx.moto, GROUP, UNPACED))["cpu"])
                read_cpu_s.append(read_cpu(srv, f'SELECT * FROM "{GROUP}".all_log_streams', events))
        finally:
            stop(srv.proc)
        figures.update(
            archive_cpu_us_per_event=round(min(archive_cpu) / events * 1e6, 3),
            read_cpu_us_per_event=round(min(read_cpu_s) / events * 1e6, 3),
            cpu_ratio=round(min(archive_cpu) / min(read_cpu_s), 3),
            cpu_ratio_median=round(sorted(archive_cpu)[2] / sorted(read_cpu_s)[2], 3),
            target_cpu="<= 1.2",
        )
        # Memory against group size: the synthetic source computes its events as they are
        # read, so the archive run's peak RSS is the archive's own, at 200k, 2M and 10M events.
        sizes = {}
        for n in (200_000, 2_000_000, HEADLINE_EVENTS):
            step = HEADLINE_STEP_MS if n == HEADLINE_EVENTS else 10
            sizes[n] = run_archive(work / f"synthetic-{n}", *synthetic_args(n, step))
            figures[f"peak_rss_mb_{n}"] = round(sizes[n]["peak_rss_mb"], 1)
            figures[f"synthetic_events_per_s_{n}"] = round(n / sizes[n]["seconds"])
        figures["rss_growth_2m_to_10m"] = round(sizes[HEADLINE_EVENTS]["peak_rss_mb"] / sizes[2_000_000]["peak_rss_mb"], 3)
        figures["target_memory"] = "flat (peak RSS independent of group size)"

        # 3 and 4. Queries over the archived Parquet against DuckDB over the same files, and
        # SELECT * against a pyarrow.flight server holding the same rows: over the moto group
        # (200k events, where a query's fixed cost shows) and the 10M-event synthetic month.
        small = work / "big"
        srv = serve("archive-query", "--source", "cloudwatch", "--endpoint-url", ctx.moto, "--region", "us-east-1",
                    "--archive-root", str(small))
        try:
            table = f'"logflight$archive"."{GROUP}"'
            archive_queries(srv.uri, table, data_parts(small), "small", figures)
            archive_transfer(srv.uri, table, data_parts(small), work, "small", figures)
        finally:
            stop(srv.proc)
        large = work / f"synthetic-{HEADLINE_EVENTS}"
        srv = serve("archive-query-large", "--source", "synthetic", "--synthetic-events", str(HEADLINE_EVENTS),
                    "--synthetic-streams", str(STREAMS), "--synthetic-step-ms", str(HEADLINE_STEP_MS),
                    "--archive-root", str(large))
        try:
            table = f'"logflight$archive"."{SYNTHETIC_GROUP}"'
            archive_queries(srv.uri, table, data_parts(large), "large", figures, runs=3)
            archive_transfer(srv.uri, table, data_parts(large), work, "large", figures)
        finally:
            stop(srv.proc)
        figures["target_queries"] = ">= 1.0"

        # 5. The headline: one audit question over the month of the 10M-event group, through
        # the API (the synthetic source, which answers at once, so the time the quota imposes
        # is the calls at FilterLogEvents' published 5 TPS) and from the archive run above.
        question = ("SELECT log_stream, count(*) AS errors FROM {t} "
                    "WHERE time >= TIMESTAMP '2026-01-01 00:00:00' AND time < TIMESTAMP '2026-02-01 00:00:00' "
                    "AND message LIKE '%status=500%' GROUP BY log_stream ORDER BY log_stream")
        base = ["--source", "synthetic", "--synthetic-events", str(HEADLINE_EVENTS), "--synthetic-streams",
                str(STREAMS), "--synthetic-step-ms", str(HEADLINE_STEP_MS)]
        live = serve("headline-live", *base)
        try:
            api_rows, api_secs = pull_adbc(live.uri, question.format(t=f'"{SYNTHETIC_GROUP}".all_log_streams'))
            api_calls = explain_api_calls(live.uri, question.format(t=f'"{SYNTHETIC_GROUP}".all_log_streams'))
        finally:
            stop(live.proc)
        archived = serve("headline-archive", *base, "--archive-root", str(work / f"synthetic-{HEADLINE_EVENTS}"))
        try:
            table = f'"logflight$archive"."{SYNTHETIC_GROUP}"'
            times = []
            for _ in range(3):
                rows, secs = pull_adbc(archived.uri, question.format(t=table))
                assert rows == api_rows, (rows, api_rows)
                times.append(secs)
            archive_calls = explain_api_calls(archived.uri, question.format(t=table))
        finally:
            stop(archived.proc)
        headline = sizes[HEADLINE_EVENTS]
        figures.update(
            headline_events=HEADLINE_EVENTS,
            headline_api_calls=api_calls,
            headline_api_seconds_at_quota=round(api_calls / 5.0, 1),
            headline_api_seconds_measured_synthetic=round(api_secs, 2),
            headline_archive_seconds=round(min(times), 3),
            headline_archive_api_calls=archive_calls,
            headline_archiving_seconds=round(headline["seconds"], 1),
            headline_archiving_calls=headline["api_calls"],
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("archive", **figures)


def athena_model(spans: dict, streams: list[str], lo: int | None, hi: int | None, table: str | None):
    """API calls and events fetched by the Athena CloudWatch connector's strategy
    (../shared/REFERENCE.md section 2, from its source): list every stream of the group
    (for a stream table, the streams whose name starts with the lower-cased table name),
    keep the streams a `log_stream` equality selects, then one split per stream reading
    GetLogEvents with only the time range pushed (endTime exclusive), page by page until
    the forward token repeats (one more call per stream). No LIMIT, no filter pattern, no
    pruning of streams by time."""
    listed = [s for s in spans if table is None or s.lower().startswith(table.lower())]
    read = listed if table is not None else [s for s in listed if s in streams]
    calls = max(1, -(-len(listed) // 50))  # DescribeLogStreams pages
    events = 0
    for s in read:
        first, last = spans[s]
        n = sum(1 for t in stream_times(first, last) if (lo is None or t >= lo) and (hi is None or t < hi))
        events += n
        calls += -(-n // PAGE) + 1
    return calls, events


def stream_times(first: int, last: int):
    step = (last - first) // (PER_STREAM - 1)
    return range(first, last + 1, step)


def bench_athena(ctx) -> None:
    """6. API calls and events fetched per query: logflight (measured) vs the Athena model."""
    log("\n[athena] API calls and events fetched per query, logflight vs the Athena connector's plan")
    spans = ctx.spans
    names = sorted(spans)
    one = names[7]
    first7, last7 = spans[one]
    mid = (first7 + last7) // 2
    proxy = FaultProxy(ctx.moto, seed=0)
    proxy.start()
    metrics_port = free_port()
    srv = serve("athena", "--source", "cloudwatch", "--endpoint-url", proxy.url, "--region", "us-east-1",
                "--metrics-listen", f"127.0.0.1:{metrics_port}",
                "--api-tps", UNPACED)
    ts = lambda ms: f"to_timestamp_millis({ms})"  # noqa: E731
    queries = [
        ("whole group", f'SELECT count(*) FROM "{GROUP}".all_log_streams', None, None, names, None),
        ("10-minute range", f'SELECT count(*) FROM "{GROUP}".all_log_streams WHERE time >= {ts(mid)} AND time < {ts(mid + 10 * MINUTE_MS)}',
         mid, mid + 10 * MINUTE_MS, names, None),
        ("one stream (table)", f'SELECT count(*) FROM "{GROUP}"."{one}"', None, None, [one], one),
        ("one stream (WHERE)", f"SELECT count(*) FROM \"{GROUP}\".all_log_streams WHERE log_stream = '{one}'", None, None, [one], None),
        ("LIMIT 10", f'SELECT * FROM "{GROUP}".all_log_streams LIMIT 10', None, None, names, None),
        ("message filter", f"SELECT count(*) FROM \"{GROUP}\".all_log_streams WHERE message LIKE '%ERROR%'", None, None, names, None),
        ("range + filter + LIMIT", f"SELECT * FROM \"{GROUP}\".all_log_streams WHERE time >= {ts(mid)} AND message LIKE '%ERROR%' LIMIT 20",
         mid, None, names, None),
    ]
    rows_out = []
    try:
        pull(srv.uri, f'SELECT * FROM "{GROUP}".all_log_streams WHERE false')
        pull(srv.uri, f'SELECT * FROM "{GROUP}"."{one}" WHERE false')
        for label, sql, lo, hi, streams, prefix in queries:
            before = scrape(metrics_port)
            proxy.reset_stats()
            pull(srv.uri, sql)
            after = scrape(metrics_port)
            calls = len(proxy.requests())
            key = 'logflight_events_scanned_total{catalog="cloudwatch"}'
            fetched = int(after.get(key, 0) - before.get(key, 0))
            a_calls, a_events = athena_model(spans, streams, lo, hi, prefix)
            rows_out.append({"query": label, "logflight_calls": calls, "logflight_events": fetched,
                             "athena_calls": a_calls, "athena_events": a_events})
            log(f"  {label:24s} logflight {calls:4d} calls {fetched:8,d} events | athena model {a_calls:4d} calls {a_events:8,d} events")
    finally:
        stop(srv.proc)
        proxy.stop()
    report("athena", queries=rows_out)


def bench_growth(ctx) -> None:
    """7. Events/s and peak RSS as the result (10^4..10^7 events) and the stream count grow."""
    log("\n[growth] events/s and peak RSS by events and by streams (synthetic source)")
    table = []
    for events, streams in [(10_000, 10), (100_000, 10), (1_000_000, 10), (10_000_000, 10), (1_000_000, 100), (1_000_000, 1000)]:
        srv = serve(f"growth-{events}-{streams}", "--source", "synthetic", "--synthetic-events", str(events),
                    "--synthetic-streams", str(streams))
        try:
            with RssSampler(srv.proc.pid) as s:
                rows, _, secs = pull(srv.uri, 'SELECT * FROM "/synthetic/app".all_log_streams')
            assert rows == events
            table.append({"events": events, "streams": streams, "events_per_s": round(events / secs),
                          "peak_rss_mb": round(s.peak, 1)})
            log(f"  {events:>9,d} events {streams:>5d} streams: {events / secs:>12,.0f} events/s, peak RSS {s.peak:.1f} MB")
        finally:
            stop(srv.proc)
    report("growth", table=table)
    plot_growth(table)


def plot_growth(table: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    by_events = [r for r in table if r["streams"] == 10]
    by_streams = [r for r in table if r["events"] == 1_000_000]
    for ax, rows, key, label in ((axes[0], by_events, "events", "events in result (10 streams)"),
                                 (axes[1], by_streams, "streams", "streams (1M events)")):
        xs = [r[key] for r in rows]
        ax.plot(xs, [r["events_per_s"] / 1e6 for r in rows], "o-", color="tab:blue")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("million events/s", color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(xs, [r["peak_rss_mb"] for r in rows], "s--", color="tab:red")
        ax2.set_ylabel("server peak RSS (MB)", color="tab:red")
        ax2.set_ylim(bottom=0)
        ax.set_ylim(bottom=0)
    fig.suptitle("logflight: throughput and memory as results grow")
    fig.tight_layout()
    path = ROOT / "docs" / "benchmarks-growth.png"
    fig.savefig(path, dpi=100)
    log(f"  plot: {path.relative_to(ROOT)}")


# Typed tables (cloudtrail_events) ---------------------------------------------------

TRAIL_GROUP = "/bench/cloudtrail"  # a name with "cloudtrail": the group gets cloudtrail_events
TRAIL_EVENTS = 30_000
TRAIL_HOURS = 10
DEMO_TRAIL = "/aws/cloudtrail/management"


def load_trail(endpoint: str) -> tuple[list[dict], int]:
    """Loads TRAIL_EVENTS CloudTrail records (tests/bench/cloudtrail_gen.py) into moto, one
    stream per account and region, PutLogEvents batches under CloudWatch's 1 MB; returns the
    records and the end of their span (ms)."""
    import cloudtrail_gen

    client = logs_client(endpoint)
    client.create_log_group(logGroupName=TRAIL_GROUP)
    end = int(time.time() * 1000) - 10 * MINUTE_MS
    records = []
    for stream, events in cloudtrail_gen.generate(TRAIL_EVENTS, end, TRAIL_HOURS).items():
        client.create_log_stream(logGroupName=TRAIL_GROUP, logStreamName=stream)
        batch, size = [], 0
        for e in events:
            records.append(e["record"])
            if batch and (size + len(e["message"]) + 26 > 900_000 or len(batch) == PAGE):
                client.put_log_events(logGroupName=TRAIL_GROUP, logStreamName=stream, logEvents=batch)
                batch, size = [], 0
            batch.append({"timestamp": e["timestamp"], "message": e["message"]})
            size += len(e["message"]) + 26
        if batch:
            client.put_log_events(logGroupName=TRAIL_GROUP, logStreamName=stream, logEvents=batch)
    return records, end


def trail_questions(last_hour: str) -> list[tuple[str, str, object]]:
    """The selective CloudTrail questions: (label, WHERE clause, predicate on a record)."""
    cut = last_hour.replace("T", " ").rstrip("Z")
    return [
        ("eventname = 'ConsoleLogin'", "eventname = 'ConsoleLogin'", lambda r: r["eventName"] == "ConsoleLogin"),
        ("useridentity.type = 'Root'", "useridentity.type = 'Root'", lambda r: r["userIdentity"]["type"] == "Root"),
        ("errorcode = 'AccessDenied'", "errorcode = 'AccessDenied'", lambda r: r.get("errorCode") == "AccessDenied"),
        ("readonly = false AND eventsource = 'iam.amazonaws.com'",
         "readonly = false AND eventsource = 'iam.amazonaws.com'",
         lambda r: r.get("readOnly") is False and r["eventSource"] == "iam.amazonaws.com"),
        ("eventtime in the last hour", f"eventtime >= TIMESTAMP '{cut}'", lambda r: r["eventTime"] >= last_hour),
    ]


def count_of(uri: str, sql: str) -> int:
    client = flight.connect(uri)
    table = client.do_get(flight.Ticket(sql.encode())).read_all()
    client.close()
    return table.column(0)[0].as_py()


def pushdown_rows(uri_on: str, uri_off: str, table: str, questions, expected=None) -> list[dict]:
    """Per question: the scan metrics with pushdown on and off (EXPLAIN ANALYZE), and the
    answer (count(*)) checked: against `expected` when given, else equal on both."""
    out = []
    for label, where, _ in questions:
        sql = f"SELECT count(*) FROM {table} WHERE {where}"
        on, plan = explain_metrics(uri_on, sql)
        off, _ = explain_metrics(uri_off, sql)
        n_on = count_of(uri_on, sql)
        if expected is not None:  # moto: a full read each, so the answer is checked once
            assert n_on == expected[label], (label, n_on, expected[label])
        else:
            n_off = count_of(uri_off, sql)
            assert n_on == n_off, (label, n_on, n_off)
        pattern = re.search(r'filter_pattern="((?:[^"\\]|\\.)*)"', plan)
        time_range = re.search(r"LogScan:.*?, time=(.*?), (?:filter_pattern|projection|limit)", plan)
        row = {"question": label, "rows": n_on,
               "events_on": on["events_fetched"], "events_off": off["events_fetched"],
               "calls_on": on["api_calls"], "calls_off": off["api_calls"],
               "bytes_on": on["bytes_fetched"], "bytes_off": off["bytes_fetched"],
               # FilterLogEvents returns at most 1 MB of events per call: the fewest calls
               # CloudWatch would need for these bytes (a bound, not a count).
               "min_calls_1mb_on": max(on["api_calls"], -(-on["bytes_fetched"] // 1_048_576)),
               "min_calls_1mb_off": max(off["api_calls"], -(-off["bytes_fetched"] // 1_048_576)),
               "events_ratio": round(on["events_fetched"] / max(off["events_fetched"], 1), 4),
               "calls_ratio": round(on["api_calls"] / max(off["api_calls"], 1), 3),
               "pushed_pattern": pattern.group(1).replace('\\"', '"') if pattern else None,
               "pushed_time": time_range.group(1) if time_range else None}
        out.append(row)
        log(f"  {label:55s} {n_on:5d} rows | events {row['events_on']:>7,d} on / {row['events_off']:>7,d} off"
            f" | calls {row['calls_on']:3d} / {row['calls_off']:3d}"
            f" | 1 MB-page bound {row['min_calls_1mb_on']:3d} / {row['min_calls_1mb_off']:3d}")
    return out


def bench_typed(ctx) -> None:
    """9. Typed tables: server CPU per event decoding CloudTrail (cloudtrail_events vs
    all_log_streams, moto), and events fetched and API calls of selective questions with
    pushdown on vs off (the demo source, which honours JSON patterns, and moto, which doesn't)."""
    log("\n[typed] cloudtrail_events: decode CPU per event, and what pushdown saves")
    t = time.perf_counter()
    records, end = load_trail(ctx.moto)
    n = len(records)
    sizes = sorted(len(json.dumps(r, separators=(",", ":"))) for r in records)
    log(f"  {n:,} CloudTrail records loaded into moto in {time.perf_counter() - t:.0f} s "
        f"(median {sizes[n // 2]} B, {sum(sizes) / n / 1024:.2f} KiB mean)")
    figures: dict = {"events": n, "record_bytes_median": sizes[n // 2], "record_bytes_mean": round(sum(sizes) / n)}

    # 1. CPU per event: the same events read from the same moto by one warm server, typed
    # and untyped reads taken in turn so that the machine's drift touches all alike.
    typed, raw = f'"{TRAIL_GROUP}".cloudtrail_events', f'"{TRAIL_GROUP}".all_log_streams'
    reads = {
        "typed_all": f"SELECT * FROM {typed}",
        "untyped_all": f"SELECT * FROM {raw}",
        "typed_narrow": f"SELECT eventname, useridentity.arn FROM {typed}",
        "untyped_narrow": f"SELECT message FROM {raw}",
    }
    runs = 9  # CPU time ticks at 10 ms: about 2% of an untyped read
    cpu = {k: [] for k in reads}
    srv = serve("typed-cpu", "--source", "cloudwatch", "--endpoint-url", ctx.moto, "--region", "us-east-1",
                "--api-tps", UNPACED)
    try:
        for sql in reads.values():
            read_cpu(srv, sql, n)  # warm the server and the name cache
        for _ in range(runs):
            for k, sql in reads.items():
                cpu[k].append(read_cpu(srv, sql, n))
    finally:
        stop(srv.proc)
    for k, v in cpu.items():
        figures[f"{k}_cpu_us_per_event"] = round(min(v) / n * 1e6, 3)
        figures[f"{k}_cpu_us_per_event_median"] = round(sorted(v)[runs // 2] / n * 1e6, 3)
    for kind in ("all", "narrow"):
        a, b = cpu[f"typed_{kind}"], cpu[f"untyped_{kind}"]
        figures[f"{kind}_ratio"] = round(min(a) / min(b), 3)
        figures[f"{kind}_ratio_median"] = round(sorted(a)[runs // 2] / sorted(b)[runs // 2], 3)
        figures[f"{kind}_added_cpu_us_per_event"] = round((min(a) - min(b)) / n * 1e6, 3)
        log(f"  SELECT {kind}: typed {min(a) / n * 1e6:.2f} us/event, untyped {min(b) / n * 1e6:.2f} us/event, "
            f"ratio {figures[f'{kind}_ratio']} (median {figures[f'{kind}_ratio_median']})")

    # 2. Selective questions, pushdown on vs off. The demo source's CloudTrail group honours
    # JSON filter patterns as CloudWatch does, so its events fetched are what CloudWatch
    # would send; both servers start in the same minute, so they hold the same records.
    log(f"  demo source, {DEMO_TRAIL}:")
    for _ in range(3):
        on = serve("typed-demo-on", "--source", "demo")
        off = serve("typed-demo-off", "--source", "demo", "--pushdown", "false")
        probe = f'SELECT count(*), max(time) FROM "{DEMO_TRAIL}".all_log_streams'
        client_on, client_off = flight.connect(on.uri), flight.connect(off.uri)
        same = (client_on.do_get(flight.Ticket(probe.encode())).read_all().to_pylist()
                == client_off.do_get(flight.Ticket(probe.encode())).read_all().to_pylist())
        client_on.close()
        client_off.close()
        if same:
            break
        stop(on.proc)
        stop(off.proc)
    else:
        raise RuntimeError("the two demo servers never started in the same minute")
    try:
        demo_events = count_of(on.uri, f'SELECT count(*) FROM "{DEMO_TRAIL}".all_log_streams')
        last = count_of(on.uri, f'SELECT max(eventtime) FROM "{DEMO_TRAIL}".cloudtrail_events')
        cut = (last - __import__("datetime").timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        demo = pushdown_rows(on.uri, off.uri, f'"{DEMO_TRAIL}".cloudtrail_events', trail_questions(cut))
    finally:
        stop(on.proc)
        stop(off.proc)
    figures["demo_group_events"] = demo_events
    figures["demo"] = demo

    # 3. The same questions on the moto group: moto returns every event for a pattern
    # starting with "{", so only the time range pushed for eventtime can save anything here;
    # the answers are checked against the generated records.
    log(f"  moto, {TRAIL_GROUP} (JSON patterns ignored by moto):")
    cut = (end - 3_600_000) // 1000
    cut_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cut))
    questions = trail_questions(cut_iso)
    expected = {label: sum(1 for r in records if pred(r)) for label, _, pred in questions}
    args = ["--source", "cloudwatch", "--endpoint-url", ctx.moto, "--region", "us-east-1", "--api-tps", UNPACED]
    on, off = serve("typed-moto-on", *args), serve("typed-moto-off", *args, "--pushdown", "false")
    try:
        figures["moto"] = pushdown_rows(on.uri, off.uri, f'"{TRAIL_GROUP}".cloudtrail_events', questions, expected)
    finally:
        stop(on.proc)
        stop(off.proc)
    report("typed", **figures)


def fakecloud_found() -> str | None:
    """fakecloud's binary (FAKECLOUD_BIN, PATH or ~/.cargo/bin), if installed."""
    import shutil

    found = os.environ.get("FAKECLOUD_BIN") or shutil.which("fakecloud") or str(Path.home() / ".cargo/bin/fakecloud")
    return found if Path(found).is_file() else None


def fakecloud_exe() -> str:
    """fakecloud's binary, or a clear stop."""
    found = fakecloud_found()
    if found is None:
        raise SystemExit("the insights benchmark needs fakecloud, a CloudWatch emulator that runs Logs Insights "
                         "(AGPL-3.0, run as a separate process): cargo install fakecloud --version 0.51.0 --locked "
                         "(over an hour on 2 cores), or set FAKECLOUD_BIN")
    return found


INSIGHTS_GROUP = "/bench/insights"
INSIGHTS_DAYS = 13  # CloudWatch refuses events more than 14 days old
INSIGHTS_EVENTS = 200_000


def bench_insights(ctx) -> None:
    """The same two weeks' aggregation as a scan (FilterLogEvents at the published 5 TPS)
    and as one Logs Insights query, against fakecloud: time, API calls, events or records
    read and bytes of each. fakecloud's own speed is not AWS's, so the API calls and bytes
    are the figures that carry over; the time shows the pacing's share. The scan reads
    every event (`--pushdown false`): fakecloud's FilterLogEvents returns nothing for the
    `%term%` pattern a scan would send for the LIKE (on AWS that scan would fetch only the
    events holding the term, about a third here)."""
    log(f"\n[insights] {INSIGHTS_EVENTS:,} events over {INSIGHTS_DAYS} days, counts per stream as a scan and through Logs Insights")
    port = free_port()
    fc_log = OUT / "fakecloud.log"
    with open(fc_log, "wb") as out:
        proc = subprocess.Popen([fakecloud_exe(), "--addr", f"127.0.0.1:{port}", "--log-level", "warn"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        time.sleep(1)
        client = logs_client(endpoint)
        client.create_log_group(logGroupName=INSIGHTS_GROUP)
        rng = random.Random(5)
        now_ms = int(time.time()) * 1000
        start = now_ms - INSIGHTS_DAYS * 86_400_000
        for s in range(4):
            stream = f"app-{s}"
            client.create_log_stream(logGroupName=INSIGHTS_GROUP, logStreamName=stream)
            n = INSIGHTS_EVENTS // 4
            times = sorted(rng.randint(start, now_ms - 60_000) for _ in range(n))
            events = [{"timestamp": t, "message": f"{rng.choice(['GET', 'POST', 'ERROR'])} /orders/{i} {rng.randint(100, 999)}ms"}
                      for i, t in enumerate(times)]
            put_events(client, INSIGHTS_GROUP, stream, events)
        since = f"TIMESTAMP '{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start / 1000 - 3600))}.250Z'"
        table = f'"{INSIGHTS_GROUP}".all_log_streams'
        # By stream, not by day: fakecloud 0.51 has no bin() (docs/insights-pushdown.md).
        questions = {
            "per_stream": f"SELECT log_stream, count(*) AS n FROM {table} WHERE time >= {since} GROUP BY 1",
            "errors_per_stream": f"SELECT log_stream, count(*) AS n FROM {table} "
                                 f"WHERE time >= {since} AND message LIKE 'ERROR%' GROUP BY 1",
        }
        args = ["--source", "cloudwatch", "--endpoint-url", endpoint, "--region", "us-east-1",
                "--insights-range-end", "second"]
        figures = {"events": INSIGHTS_EVENTS, "days": INSIGHTS_DAYS}
        import adbc_driver_flightsql.dbapi as dbapi

        with running(serve("insights-on", *args, "--insights-pushdown", "exact")) as on, \
                running(serve("insights-off", *args, "--insights-pushdown", "off", "--pushdown", "false")) as off:
            for name, sql in questions.items():
                answers = {}
                for tag, srv in (("insights", on), ("scan", off)):
                    seconds = []
                    for _ in range(3):
                        with dbapi.connect(srv.uri) as conn:
                            cur = conn.cursor()
                            t = time.perf_counter()
                            cur.execute(sql)
                            answers[tag] = sorted(cur.fetchall())
                            seconds.append(time.perf_counter() - t)
                            cur.close()
                    metrics, text = explain_metrics(srv.uri, sql)
                    assert ("InsightsAggregate" in text) == (tag == "insights"), text
                    figures[f"{name}_{tag}_s"] = round(min(seconds), 3)
                    figures[f"{name}_{tag}_metrics"] = metrics
                if answers["insights"] != answers["scan"]:
                    raise SystemExit(f"{name}: the pushed answer differs from the scan's")
                ratio = figures[f"{name}_scan_s"] / figures[f"{name}_insights_s"]
                figures[f"{name}_speedup"] = round(ratio, 2)
                log(f"  {name}: scan {figures[f'{name}_scan_s']} s, {figures[f'{name}_scan_metrics']}; "
                    f"insights {figures[f'{name}_insights_s']} s, {figures[f'{name}_insights_metrics']}; {ratio:.1f}x")
        report("insights", **figures)
    finally:
        stop(proc)


# A cluster of nodes (issue 17) -------------------------------------------------------

CLUSTER_NODES = 3
# Four other accounts (reached through sts:AssumeRole, which moto honours) in three
# regions: twelve catalogs, each one account and region with quotas of its own.
CLUSTER_ACCOUNTS = ["111111111111", "222222222222", "333333333333", "444444444444"]
CLUSTER_REGIONS = {"use1": "us-east-1", "euw1": "eu-west-1", "apse2": "ap-southeast-2"}
CLUSTER_GROUP = "/bench/orders"
CLUSTER_STREAMS = 4
CLUSTER_EVENTS = 60_000  # per catalog: the query's 4 time slices read 15,000 events each, 2 pages
CLUSTER_SPAN_MS = 8 * 3_600_000
CLUSTER_STATUSES = [200, 200, 200, 201, 404, 500, 503]
# FilterLogEvents and GetLogEvents calls per second per account and region, on every node.
# AWS allows 5 FilterLogEvents a second per account and region, each answered by AWS on its
# own; here one moto process answers all twelve, about 20 pages of 10,000 events a second in
# all (the unpaced runs). At 0.5 a second per catalog the twelve ask it for 6 pages a second,
# well within that, so the time is the quota's, as on AWS, not moto's.
CLUSTER_READ_TPS = 0.5
CLUSTER_ARCHIVE_EVENTS = 5_000_000  # at HEADLINE_STEP_MS: 15 days, one part file a day
CLUSTER_CAVEAT = (f"this machine has {os.cpu_count()} cores, which the {CLUSTER_NODES} nodes share with moto and the "
                  "client: here a cluster adds processes, not CPU, so CPU-bound work cannot speed up")


def cluster_catalogs() -> list[tuple[str, str, str]]:
    """(catalog, region, account) of every account and region."""
    return [(f"a{account[0]}_{short}", region, account)
            for account in CLUSTER_ACCOUNTS for short, region in CLUSTER_REGIONS.items()]


def cluster_role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/LogReader"


def assumed(endpoint: str, account: str) -> dict:
    """moto credentials of `account`, through sts:AssumeRole."""
    import boto3

    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    c = sts.assume_role(RoleArn=cluster_role(account), RoleSessionName="bench-loader")["Credentials"]
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"]}


def load_cluster(endpoint: str) -> tuple[dict, int, int]:
    """CLUSTER_EVENTS events in CLUSTER_STREAMS streams of CLUSTER_GROUP, in every account and
    region, evenly over CLUSTER_SPAN_MS; returns {catalog: {(stream, status): events}} and the
    span [start, end) in ms."""
    end = (int(time.time() * 1000) // MINUTE_MS - 60) * MINUTE_MS
    start = end - CLUSTER_SPAN_MS
    per = CLUSTER_EVENTS // CLUSTER_STREAMS
    step = CLUSTER_SPAN_MS // per
    credentials: dict[str, dict] = {}
    expected: dict[str, dict] = {}
    for k, (name, region, account) in enumerate(cluster_catalogs()):
        if account not in credentials:
            credentials[account] = assumed(endpoint, account)
        client = logs_client(endpoint, region=region, credentials=credentials[account])
        client.create_log_group(logGroupName=CLUSTER_GROUP)
        rng = random.Random(100 + k)
        counts: dict[tuple[str, str], int] = {}
        for s in range(CLUSTER_STREAMS):
            stream = f"web-{s}"
            client.create_log_stream(logGroupName=CLUSTER_GROUP, logStreamName=stream)
            events = []
            for i in range(per):
                status = rng.choice(CLUSTER_STATUSES)
                counts[(stream, str(status))] = counts.get((stream, str(status)), 0) + 1
                events.append({"timestamp": start + i * step + s,
                               "message": f"{['INFO', 'WARN', 'ERROR'][rng.randrange(3)]} user=u{rng.randrange(50)} "
                                          f"path=/api/orders/{rng.randrange(10_000)} status={status} "
                                          f"latency_ms={rng.randrange(900)}"})
            put_events(client, CLUSTER_GROUP, stream, events)
        expected[name] = counts
    return expected, start, end


def cluster_config(endpoint: str, nodes: list[str] | None = None) -> str:
    text = f'endpoint_url = "{endpoint}"\nregion = "us-east-1"\n'
    for name, region, account in cluster_catalogs():
        text += f'\n[[catalogs]]\nname = "{name}"\nregion = "{region}"\nrole_arn = "{cluster_role(account)}"\n'
    if nodes:
        text += "\n[cluster]\nnodes = [" + ", ".join(f'"{n}"' for n in nodes) + "]\n"
    return text


def cluster_statements(start: int, end: int) -> dict[str, str]:
    """The two statements over every catalog: a UNION ALL of each one's all_log_streams."""
    span = f"time >= to_timestamp_millis({start}) AND time < to_timestamp_millis({end})"

    def union(select: str, where: str) -> str:
        return " UNION ALL ".join(
            f"SELECT '{name}' AS catalog, {select} FROM {name}.\"{CLUSTER_GROUP}\".all_log_streams WHERE {where}"
            for name, _, _ in cluster_catalogs())

    status = "split_part(split_part(message, 'status=', 2), ' ', 1) AS status"
    return {
        "group_by": f"SELECT catalog, log_stream, status, count(*) AS n FROM ({union(f'log_stream, {status}', span)}) "
                    "GROUP BY catalog, log_stream, status ORDER BY catalog, log_stream, status",
        "like_count": f"SELECT catalog, count(*) AS n FROM ({union('message', span + ' AND message LIKE ' + repr('%status=500%'))}) "
                      "GROUP BY catalog ORDER BY catalog",
    }


def cluster_expected(expected: dict) -> dict[str, list[tuple]]:
    """What each statement must answer, from the loaded events."""
    return {
        "group_by": sorted((c, stream, status, n) for c, counts in expected.items()
                           for (stream, status), n in counts.items()),
        "like_count": sorted((c, sum(n for (_, status), n in counts.items() if status == "500"))
                             for c, counts in expected.items()),
    }


class RecordingProxy(FaultProxy):
    """A FaultProxy injecting nothing that also notes, for every read call (FilterLogEvents,
    GetLogEvents), when it arrived and the access key and region it was signed with: the
    calls per second each account and region received, as CloudWatch would count them."""

    READS = ("FilterLogEvents", "GetLogEvents")

    def __init__(self, upstream: str):
        super().__init__(upstream, seed=0)
        self.calls: list[tuple[float, str, str, str]] = []  # (monotonic s, API, access key, region)

    def _serve(self, method, path, headers, body):
        operation = (headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
        if operation in self.READS:
            signed = re.search(r"Credential=([^/,]+)/\d{8}/([^/,]+)/", headers.get("Authorization") or "")
            key, region = signed.groups() if signed else ("?", "?")
            with self._lock:
                self.calls.append((time.monotonic(), operation, key, region))
        return super()._serve(method, path, headers, body)


class CallCatalogs:
    """The catalog (account and region) of a call, from its access key: moto tells the
    account of any key it issued (sts:GetCallerIdentity; it checks no signature)."""

    def __init__(self, moto: str):
        self.moto, self.accounts = moto, {}
        self.names = {(account, region): name for name, region, account in cluster_catalogs()}

    def __call__(self, key: str, region: str) -> str:
        import boto3

        if key not in self.accounts:
            sts = boto3.client("sts", endpoint_url=self.moto, region_name="us-east-1",
                               aws_access_key_id=key, aws_secret_access_key="unused")
            self.accounts[key] = sts.get_caller_identity()["Account"]
        return self.names.get((self.accounts[key], region), f"{self.accounts[key]}/{region}")


def call_rates(calls, lo: float, hi: float, catalog_of) -> dict[str, dict]:
    """Per catalog and read API, the calls that arrived in [lo, hi]: how many, the most in
    any one second (a window starting at each call), the shortest gap between two, the mean
    rate from its first call to its last, and how many different access keys (callers) made
    them."""
    import bisect

    times: dict[tuple[str, str], list[float]] = {}
    keys: dict[tuple[str, str], set] = {}
    for t, api, key, region in calls:
        if lo <= t <= hi:
            c = (catalog_of(key, region), api)
            times.setdefault(c, []).append(t)
            keys.setdefault(c, set()).add(key)
    out = {}
    for (catalog, api), ts in sorted(times.items()):
        ts.sort()
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        out[f"{catalog} {api}"] = {
            "calls": len(ts),
            "max_in_1s": max(bisect.bisect_left(ts, t + 1.0) - i for i, t in enumerate(ts)),
            "min_gap_s": round(min(gaps), 3) if gaps else None,
            "mean_per_s": round((len(ts) - 1) / (ts[-1] - ts[0]), 3) if len(ts) > 1 and ts[-1] > ts[0] else None,
            "callers": len(keys[(catalog, api)]),
        }
    return out


API_CALLS_SERIES = re.compile(r'^logflight_api_calls_total\{catalog="([^"]+)",api="([^"]+)",outcome="([^"]+)"\}$')


def api_calls(srv) -> dict[tuple[str, str, str], float]:
    """logflight_api_calls_total of a node, {(catalog, api, outcome): calls}."""
    return {m.groups(): v for k, v in scrape(srv.metrics_port).items() if (m := API_CALLS_SERIES.match(k))}


def calls_between(before: dict, after: dict) -> dict[tuple[str, str, str], int]:
    return {k: int(v - before.get(k, 0)) for k, v in after.items() if v - before.get(k, 0) > 0}


def table_rows(uri: str, sql: str) -> tuple[list[tuple], float]:
    """A statement's rows (pyarrow.flight, the SQL as the ticket) and its seconds end to end."""
    client = flight.connect(uri)
    start = time.perf_counter()
    table = client.do_get(flight.Ticket(sql.encode())).read_all()
    secs = time.perf_counter() - start
    client.close()
    return [tuple(r.values()) for r in table.to_pylist()], secs


def start_cluster_nodes(tag: str, *args: str, config_for=None, metrics: bool = False) -> list:
    """CLUSTER_NODES `serve` nodes on loopback: the node list from the config file's
    [cluster] table when `config_for(nodes)` gives the config's path, else --cluster-nodes."""
    ports = [free_port() for _ in range(CLUSTER_NODES)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    listing = ["--config", str(config_for(urls))] if config_for else ["--cluster-nodes", ",".join(urls)]
    nodes = []
    try:
        for i, p in enumerate(ports):
            nodes.append(start_serve(OUT / f"{tag}-node{i}.log", *listing, *args,
                                     "--cluster-listen", f"127.0.0.1:{p}", metrics=metrics))
    except BaseException:
        for n in nodes:
            stop(n.proc)
        raise
    return nodes


def cluster_scan(ctx, figures: dict) -> None:
    """Part 1: twelve account-regions scanned by one node, then by a cluster of three."""
    import tempfile

    catalogs = cluster_catalogs()
    t = time.perf_counter()
    expected, start, end = load_cluster(ctx.moto)
    total = CLUSTER_EVENTS * len(catalogs)
    log(f"  {len(catalogs)} account-regions x {CLUSTER_EVENTS:,} events ({total:,}) loaded into moto in "
        f"{time.perf_counter() - t:.0f} s")
    want = cluster_expected(expected)
    statements = cluster_statements(start, end)
    # A statement over the last minute of the span only: every node assumes its roles
    # and lists the groups (the coordinator) before anything is timed.
    warm = cluster_statements(end - MINUTE_MS, end)["like_count"]
    work = Path(tempfile.mkdtemp(prefix="lf-bench-cluster-"))
    proxy = RecordingProxy(ctx.moto)
    proxy.start()
    catalog_of = CallCatalogs(ctx.moto)
    tps = CLUSTER_READ_TPS
    paced = f"GetLogEvents={tps:g},FilterLogEvents={tps:g}"
    single_config, cluster_cfg = work / "single.toml", work / "cluster.toml"
    single_config.write_text(cluster_config(proxy.url))

    def config_for(urls: list[str]) -> Path:
        cluster_cfg.write_text(cluster_config(proxy.url, urls))
        return cluster_cfg

    runs = []
    try:
        for pacing, api_tps in (("paced", paced), ("unpaced", UNPACED)):
            single = start_serve(OUT / f"cluster-{pacing}-single.log", "--config", str(single_config),
                                 "--api-tps", api_tps, metrics=True)
            try:
                nodes = start_cluster_nodes(f"cluster-{pacing}", "--api-tps", api_tps, config_for=config_for, metrics=True)
            except BaseException:
                stop(single.proc)
                raise
            try:
                for srv in (single, nodes[0]):
                    table_rows(srv.uri, warm)
                time.sleep(1 / tps if pacing == "paced" else 0)  # the warm-up's pacer slots pass
                for name, sql in statements.items():
                    for mode, entry, members in (("single", single, [single]), ("cluster", nodes[0], nodes)):
                        before = [api_calls(n) for n in members]
                        lo = time.monotonic()
                        rows, secs = table_rows(entry.uri, sql)
                        hi = time.monotonic()
                        after = [api_calls(n) for n in members]
                        if rows != want[name]:
                            raise SystemExit(f"cluster: {name} through the {mode} ({pacing}) differs from the loaded "
                                             f"events: {rows[:5]} ... against {want[name][:5]} ...")
                        per_node = [calls_between(b, a) for b, a in zip(before, after)]
                        rates = call_rates(proxy.calls, lo, hi, catalog_of)
                        readers = {c: [i for i, calls in enumerate(per_node)
                                       if any(k[0] == c and k[1] in RecordingProxy.READS for k in calls)]
                                   for c, _, _ in catalogs}
                        run = {
                            "pacing": pacing, "statement": name, "mode": mode, "seconds": round(secs, 2),
                            "events_per_s": round(total / secs), "rows": len(rows),
                            "api_calls_per_node": [
                                {api: sum(n for (_, a, _), n in calls.items() if a == api)
                                 for api in sorted({a for _, a, _ in calls})} for calls in per_node],
                            "not_ok_calls": sum(n for calls in per_node for (_, _, o), n in calls.items() if o != "ok"),
                            "catalogs_per_node": [sum(1 for r in readers.values() if r == [i]) for i in range(len(members))],
                            "catalogs_read_by_one_node": all(len(r) == 1 for r in readers.values()),
                            "read_calls_at_moto": sum(r["calls"] for r in rates.values()),
                            "max_calls_in_1s_per_catalog": max(r["max_in_1s"] for r in rates.values()),
                            "min_gap_s_per_catalog": min(r["min_gap_s"] for r in rates.values()
                                                         if r["min_gap_s"] is not None),
                            "max_mean_calls_per_s_per_catalog": max(r["mean_per_s"] for r in rates.values()
                                                                    if r["mean_per_s"] is not None),
                            "max_callers_per_catalog": max(r["callers"] for r in rates.values()),
                            "catalogs_called": len(rates),
                        }
                        runs.append(run)
                        log(f"  {pacing:8s} {name:10s} {mode:7s} {secs:6.2f} s {total / secs:>9,.0f} events/s | "
                            f"API calls per node {run['api_calls_per_node']} | catalogs per node "
                            f"{run['catalogs_per_node']} | per catalog at moto: max {run['max_calls_in_1s_per_catalog']} "
                            f"calls in 1 s, min gap {run['min_gap_s_per_catalog']} s, mean rate <= "
                            f"{run['max_mean_calls_per_s_per_catalog']}/s, {run['max_callers_per_catalog']} caller(s)")
                        if mode == "cluster" and not run["catalogs_read_by_one_node"]:
                            raise SystemExit(f"cluster: an account-region was read by several nodes: {readers}")
            finally:
                for n in (single, *nodes):
                    stop(n.proc)
    finally:
        proxy.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    for pacing in ("paced", "unpaced"):
        for name in statements:
            s, c = ({r["mode"]: r for r in runs if r["pacing"] == pacing and r["statement"] == name}[m]
                    for m in ("single", "cluster"))
            figures[f"{pacing}_{name}_speedup"] = round(s["seconds"] / c["seconds"], 3)
            log(f"  {pacing} {name}: single {s['seconds']} s, cluster {c['seconds']} s, "
                f"cluster speed-up {s['seconds'] / c['seconds']:.2f}x (answers identical and equal to the loaded events)")
    figures.update(catalogs=len(catalogs), events_per_catalog=CLUSTER_EVENTS, events=total,
                   read_tps_per_catalog=tps, scan_runs=runs)


def cluster_archive(ctx, figures: dict) -> None:
    """Part 2: an aggregation over a few million archived rows, one node against three."""
    import shutil
    import tempfile

    n = CLUSTER_ARCHIVE_EVENTS
    work = Path(tempfile.mkdtemp(prefix="lf-bench-cluster-archive-"))
    root = work / "archive"
    source = ["--source", "synthetic", "--synthetic-events", str(n), "--synthetic-streams", str(STREAMS),
              "--synthetic-step-ms", str(HEADLINE_STEP_MS)]
    try:
        made = run_archive(root, *source, "--groups", SYNTHETIC_GROUP, "--api-tps", UNPACED)
        parts = data_parts(root)
        log(f"  archived {n:,} synthetic events in {made['seconds']:.1f} s: {len(parts)} part files")
        table = f'"logflight$archive"."{SYNTHETIC_GROUP}"'
        questions = {
            "group_by": f"SELECT log_stream, count(*) AS n FROM {table} GROUP BY log_stream ORDER BY log_stream",
            "like_per_stream": f"SELECT log_stream, count(*) AS n FROM {table} WHERE message LIKE '%status=500%' "
                               "GROUP BY log_stream ORDER BY log_stream",
        }
        args = [*source, "--archive-root", str(root)]
        single = serve("cluster-archive-single", *args)
        try:
            nodes = start_cluster_nodes("cluster-archive", *args)
        except BaseException:
            stop(single.proc)
            raise
        try:
            for name, sql in questions.items():
                times: dict[str, list[float]] = {"single": [], "cluster": []}
                answers = {}
                for _ in range(5):  # taken in turn, so that the machine's drift touches both
                    for mode, srv in (("single", single), ("cluster", nodes[0])):
                        rows, secs = table_rows(srv.uri, sql)
                        times[mode].append(secs)
                        if answers.setdefault(mode, rows) != rows:
                            raise SystemExit(f"cluster archive: {name} through the {mode} changed between runs")
                if answers["single"] != answers["cluster"]:
                    raise SystemExit(f"cluster archive: {name}: the cluster's answer differs from the single node's")
                if name == "group_by" and sum(r[1] for r in answers["single"]) != n:
                    raise SystemExit(f"cluster archive: {sum(r[1] for r in answers['single'])} rows, not {n}")
                s, c = min(times["single"]), min(times["cluster"])
                figures.update({
                    f"archive_{name}_rows_matched": sum(r[1] for r in answers["single"]),
                    f"archive_{name}_single_s": round(s, 3),
                    f"archive_{name}_cluster_s": round(c, 3),
                    f"archive_{name}_single_median_s": round(sorted(times["single"])[2], 3),
                    f"archive_{name}_cluster_median_s": round(sorted(times["cluster"])[2], 3),
                    f"archive_{name}_speedup": round(s / c, 3),
                })
                log(f"  archive {name}: single {s:.3f} s ({n / s / 1e6:.1f} M rows/s), cluster {c:.3f} s "
                    f"({n / c / 1e6:.1f} M rows/s), speed-up {s / c:.2f}x (least of 5; answers identical)")
            # Which node read how many rows (ArchiveScan's rows_read[node], DataFusion's 1.5 M form).
            explain, _ = table_rows(nodes[0].uri, "EXPLAIN ANALYZE " + questions["group_by"])
            plan = "\n".join(str(v) for row in explain for v in row)
            (OUT / "cluster-archive-explain.txt").write_text(plan)
            scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}
            figures["archive_rows_read_per_node"] = {
                node: round(float(v) * scale[unit])
                for node, v, unit in re.findall(r"rows_read\[([0-9.:]+)\]=([\d.]+)\s?([KMB]?)", plan)}
            log(f"  archive rows read per node (EXPLAIN ANALYZE): {figures['archive_rows_read_per_node']}")
        finally:
            for srv in (single, *nodes):
                stop(srv.proc)
        figures.update(archive_events=n, archive_parts=len(parts), archive_seconds_to_build=round(made["seconds"], 1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_cluster(ctx) -> None:
    """11. A cluster of three nodes against one: twelve account-regions scanned under a
    per-account quota (each read by its owner only), and an aggregation over an archive."""
    log(f"\n[cluster] {CLUSTER_NODES} nodes (query through one) against a single node; {CLUSTER_CAVEAT}")
    figures: dict = {"nodes": CLUSTER_NODES, "cores": os.cpu_count(), "caveat": CLUSTER_CAVEAT}
    cluster_scan(ctx, figures)
    cluster_archive(ctx, figures)
    report("cluster", **figures)


BENCHES = {
    "overhead": bench_overhead,
    "transfer": bench_transfer,
    "quota": bench_quota,
    "memory": bench_memory,
    "latency": bench_latency,
    "athena": bench_athena,
    "growth": bench_growth,
    "archive": bench_archive,
    "typed": bench_typed,
    "insights": bench_insights,
    "cluster": bench_cluster,
}
NEEDS_MOTO = {"overhead", "quota", "latency", "athena", "archive", "typed", "cluster"}
NEEDS_APP_GROUP = NEEDS_MOTO - {"typed", "cluster"}  # typed and cluster load groups of their own


class Context:
    moto: str
    spans: dict
    baseline: Path
    floor: Path
    rows: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benches", nargs="*", metavar="BENCH", help="some of " + ", ".join(BENCHES) + " (default: all)")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the transfer and memory runs")
    args = parser.parse_args()
    # Everything by default; the insights benchmark only where fakecloud is installed.
    default = [b for b in BENCHES if b != "insights" or fakecloud_found()]
    chosen = args.benches or default
    unknown = [b for b in chosen if b not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    OUT.mkdir(parents=True, exist_ok=True)
    ctx = Context()
    ctx.rows = args.rows
    ctx.baseline = Path(os.environ.get("LOGFLIGHT_BENCH_BASELINE", ROOT / "target" / "release" / "logflight-sdk-baseline"))
    ctx.floor = Path(os.environ.get("LOGFLIGHT_BENCH_FLOOR", ROOT / "target" / "release" / "logflight-flight-floor"))
    log(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, {platform.platform()}")
    log(f"logflight: {os.environ.get('LOGFLIGHT_BIN')}")
    moto_proc = None
    try:
        if NEEDS_MOTO & set(chosen):
            moto_proc, ctx.moto = start_moto(OUT / "moto.log")
            t = time.perf_counter()
            if NEEDS_APP_GROUP & set(chosen):
                ctx.spans = load_moto(ctx.moto)
            if "latency" in chosen:
                load_big(ctx.moto)
            log(f"moto loaded in {time.perf_counter() - t:.0f} s")
        for name in chosen:
            BENCHES[name](ctx)
    finally:
        if moto_proc is not None:
            stop(moto_proc)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = OUT / f"results-{stamp}.json"
        path.write_text(json.dumps(RESULTS, indent=2))
        log(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
