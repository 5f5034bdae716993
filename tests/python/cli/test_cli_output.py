"""`logflight query`'s output: pipes closed early, streaming, values in each format,
the statement from a file or stdin, tables cut to a terminal.

Every test runs the real binary on the demo or synthetic source (no AWS, no moto).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pytest

from helpers import drain_pty
from servers import child_env, exe

META = '"logflight$meta".log_groups'
# Big enough that the whole result takes many seconds to print in a debug build.
SYNTHETIC = ["--source", "synthetic", "--synthetic-events", "5000000"]
ALL_SYNTHETIC = 'SELECT * FROM "/synthetic/app".all_log_streams'


def env() -> dict[str, str]:
    e = child_env()
    e.pop("COLUMNS", None)
    return e


def query(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [exe(), "query", *args], input=stdin, capture_output=True, text=True, timeout=120, env=env(),
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def demo(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    done = query("--source", "demo", *args, stdin=stdin)
    return done


# Pipes -----------------------------------------------------------------------------


def read_first_line_and_close(proc: subprocess.Popen) -> tuple[bytes, float]:
    """What `| head -1` does: read one line, close the pipe; return it and when it closed."""
    line = proc.stdout.readline()
    proc.stdout.close()
    return line, time.monotonic()


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_a_reader_that_leaves_ends_the_query_quietly(fmt):
    """`logflight query ... | head -1`: exit 0, nothing on stderr, and the query stops
    rather than computing the whole result."""
    proc = subprocess.Popen(
        [exe(), "query", *SYNTHETIC, "--format", fmt, ALL_SYNTHETIC],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
    )
    line, closed = read_first_line_and_close(proc)
    err = proc.stderr.read()
    code = proc.wait(timeout=120)
    took = time.monotonic() - closed
    assert line, err
    assert code == 0, err.decode(errors="replace")
    assert err == b"", err
    assert took < 5, f"the query ran on for {took:.1f}s after its reader left"


def test_stderr_on_the_closed_pipe_too():
    """`logflight query ... 2>&1 | head -1`: stderr is the closed pipe as well; the
    program must not panic (exit 101) writing an error there."""
    proc = subprocess.Popen(
        [exe(), "query", *SYNTHETIC, "--format", "csv", ALL_SYNTHETIC],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env(),
    )
    line, _ = read_first_line_and_close(proc)
    assert line == b"log_group,log_stream,time,ingestion_time,message\n"
    assert proc.wait(timeout=120) == 0


@pytest.mark.parametrize("command", [["new-token"]])
def test_other_commands_end_quietly_on_a_closed_pipe(command):
    """Commands other than `query` print with the ordinary machinery: a reader that is already
    gone ends them as it ends grep (SIGPIPE), never with a panic (exit 101) on stderr."""
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run([exe(), *command], stdin=subprocess.DEVNULL, stdout=write,
                          stderr=subprocess.PIPE, env=env(), timeout=60)
    os.close(write)
    assert proc.returncode in (0, -13), (proc.returncode, proc.stderr)
    assert b"panicked" not in proc.stderr and proc.stderr == b"", proc.stderr


def test_rows_arrive_before_the_query_ends():
    """Streaming: a result too large to hold (a trillion synthetic events) still shows its
    first rows at once; a program that collected the result first would never print."""
    proc = subprocess.Popen(
        [exe(), "query", "--source", "synthetic", "--synthetic-events", str(10**12), "--format", "json", ALL_SYNTHETIC],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no row within 30 s"
        first = json.loads(proc.stdout.readline())
        assert first["log_group"] == "/synthetic/app"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# Values ----------------------------------------------------------------------------

NESTED = (
    "SELECT log_group, tags, regexp_match(log_group, '^/aws/([a-z]+)/') AS service, "
    f"retention_in_days, kms_key_id FROM {META} ORDER BY log_group"
)


def test_csv_writes_maps_and_lists_as_json_in_the_cell():
    done = demo("--format", "csv", NESTED)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    by_group = {r["log_group"]: r for r in rows}
    assert len(rows) == 8
    assert json.loads(by_group["/aws/lambda/orders-api"]["tags"]) == {"env": "prod", "team": "orders"}
    assert json.loads(by_group["/vpc/flow-logs"]["tags"]) == {}
    assert json.loads(by_group["/aws/lambda/orders-api"]["service"]) == ["lambda"]
    # No match: NULL, an empty field.
    assert by_group["/var/log/secure"]["service"] == ""
    # The same values as --format json gives.
    lines = [json.loads(line) for line in demo("--format", "json", NESTED).stdout.splitlines()]
    for line in lines:
        row = by_group[line["log_group"]]
        assert json.loads(row["tags"]) == line["tags"]
        assert (json.loads(row["service"]) if row["service"] else None) == line["service"]


def test_json_lines_write_null_rather_than_drop_the_key():
    done = demo("--format", "json", NESTED)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 8
    for line in lines:
        assert list(line) == ["log_group", "tags", "service", "retention_in_days", "kms_key_id"], line
    by_group = {line["log_group"]: line for line in lines}
    assert by_group["/aws/cloudtrail/management"]["retention_in_days"] is None
    assert by_group["/aws/lambda/orders-api"]["kms_key_id"] is None
    assert by_group["/var/log/secure"]["service"] is None
    assert by_group["/aws/lambda/orders-api"]["retention_in_days"] == 30


def test_table_shows_null_apart_from_empty_and_escapes_tabs_and_newlines():
    done = demo("SELECT '' AS e, NULL AS n, 'a' || chr(9) || 'b' || chr(10) || 'c' AS m")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "+---+------+---------+\n"
        "| e | n    | m       |\n"
        "+---+------+---------+\n"
        "|   | NULL | a\\tb\\nc |\n"
        "+---+------+---------+\n"
    )


def test_timestamps_print_the_same_in_every_format():
    sql = "SELECT arrow_cast(1764800613771, 'Timestamp(Millisecond, Some(\"UTC\"))') AS t"
    assert demo("--format", "csv", sql).stdout == "t\n2025-12-03T22:23:33.771Z\n"
    assert demo("--format", "json", sql).stdout == '{"t":"2025-12-03T22:23:33.771Z"}\n'
    assert "| 2025-12-03T22:23:33.771Z |" in demo(sql).stdout


# The statement from a file or stdin ----------------------------------------------------

NEEDS_ESCAPING = (
    "SELECT log_group, regexp_match(log_group, '^/(\\w+)/') AS top\n"
    f"FROM {META}\nWHERE log_group LIKE '%secure%';\n"
)


def test_statement_from_a_file_and_from_stdin(tmp_path):
    path = tmp_path / "audit.sql"
    path.write_text(NEEDS_ESCAPING)
    want = 'log_group,top\n/var/log/secure,"[""var""]"\n'
    for args, stdin in [(["-f", str(path)], None), (["--file", str(path)], None), (["-"], NEEDS_ESCAPING), (["-f", "-"], NEEDS_ESCAPING)]:
        done = demo("--format", "csv", *args, stdin=stdin)
        assert done.returncode == 0, (args, done.stderr)
        assert done.stdout == want, args


def test_statement_input_errors(tmp_path):
    empty = tmp_path / "empty.sql"
    empty.write_text("\n  \n")
    done = demo("-f", str(empty))
    assert done.returncode == 1
    assert done.stderr == f"error: {empty} is empty: no SQL to run\n"

    done = demo("-", stdin="")
    assert (done.returncode, done.stderr) == (1, "error: standard input is empty: no SQL to run\n")

    missing = tmp_path / "missing.sql"
    done = demo("-f", str(missing))
    assert done.returncode == 1 and done.stderr.startswith(f"error: cannot read {missing}: "), done.stderr

    both = demo("-f", str(empty), "SELECT 1")
    assert both.returncode == 2 and "cannot be used with" in both.stderr, both.stderr
    neither = demo()
    assert neither.returncode == 2 and "required" in neither.stderr, neither.stderr


# Tables on a terminal ---------------------------------------------------------------

WIDE = f"SELECT log_group, kms_key_id, tags FROM {META} ORDER BY log_group"


def run_on_terminal(args: list[str], columns: int) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal `columns` wide; return (exit code, its text)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen([exe(), "query", *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, env=env())
    os.close(slave)
    terminal = drain_pty(master)
    code = proc.wait(timeout=120)
    assert proc.stderr.read() == b""
    proc.stderr.close()
    return code, terminal.decode().replace("\r\n", "\n")


def test_a_terminal_table_is_cut_to_its_width():
    code, text = run_on_terminal(["--source", "demo", WIDE], columns=100)
    assert code == 0
    lines = text.splitlines()
    assert len(lines) == 12, text
    assert all(len(line) == 100 for line in lines), text
    assert "…" in text
    # Narrow columns keep their width; the wide ones share the rest.
    assert lines[3].startswith("| /aws/cloudtrail/management | arn:aws:kms:"), text


def test_wide_prints_cells_in_full_on_a_terminal():
    code, text = run_on_terminal(["--source", "demo", "--wide", WIDE], columns=100)
    assert code == 0
    assert "…" not in text
    assert "arn:aws:kms:us-east-1:111122223333:key/0b7f3c52-audit" in text
    assert max(len(line) for line in text.splitlines()) > 100


def test_a_table_to_a_pipe_is_never_cut():
    done = demo(WIDE)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    assert "{compliance: pci, env: prod, team: payments}" in done.stdout
    widths = {len(line) for line in done.stdout.splitlines()}
    assert len(widths) == 1, done.stdout
