"""A fault-injecting, rate-limiting HTTP proxy for the CloudWatch Logs API.

Standard library only, so it runs from any Python 3.9+ without an install.

It sits between a client (logflight, boto3) and a CloudWatch Logs endpoint
(moto in the tests) and forwards every request unchanged, except that a
configurable share of calls -- keyed by the AWS JSON 1.1 operation name in
`X-Amz-Target: Logs_20140328.<Operation>` -- is answered by the proxy itself:

* throttle      HTTP 400 ThrottlingException "Rate exceeded" (not forwarded)
* server error  HTTP 500 ServiceUnavailableException, or a plain-text 503
                (not forwarded)
* empty page    (FilterLogEvents, GetLogEvents, DescribeLogStreams) a page
                with no items but a synthetic continuation token
                ``lfproxy:<seq>.<base64 of the request's own token>``.  When a
                later request carries such a token, the proxy puts the
                original token back (or drops the field if there was none)
                before forwarding, so the read resumes exactly where it was.
                A request carrying a synthetic token is never answered with
                another empty page, so every synthetic token is followed by a
                real answer, and synthetic tokens are unique (the sequence
                number), so an empty page never echoes the token the client
                sent (GetLogEvents' end-of-stream signal).  When the real
                answer to a restored request echoes the restored token (the
                end of a GetLogEvents stream), the proxy echoes the token the
                client actually sent instead, so the client still sees its
                own token come back and stops.
* rate limit    optional max calls per second per operation (token bucket);
                calls beyond it get the throttle answer.  Off by default.

Decisions come from a seeded ``random.Random``: one draw per call of a
configured operation, in arrival order, so a single-threaded client sees the
same faults on every run.  Restoring a token changes the request body after
the client signed it; that is fine for moto, which does not check SigV4
signatures, but not for real AWS (the proxy is a test tool).

Module use::

    proxy = FaultProxy("http://127.0.0.1:5000", seed=1, throttle_rate=0.2)
    port = proxy.start()
    ...
    proxy.configure(empty_page_rate=0.5)
    print(proxy.stats())
    proxy.stop()

Script use (prints the port on the first line of stdout, then serves until
SIGINT/SIGTERM)::

    python faultproxy.py --upstream http://127.0.0.1:5000 --port 0 \\
        --throttle-rate 0.2 --rate-limit FilterLogEvents=5

Control endpoints (never forwarded):

    GET  /__proxy/stats    the counters, as JSON
    POST /__proxy/config   JSON object with the keyword arguments of configure()
    POST /__proxy/reset    zero the counters
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import http.server
import json
import random
import signal
import sys
import threading
import time
import urllib.parse
from typing import Any

TARGET_PREFIX = "Logs_20140328."

READ_OPERATIONS = ("GetLogEvents", "FilterLogEvents", "DescribeLogStreams", "DescribeLogGroups")
# Operations that can answer an empty page with a continuation token.
PAGED_OPERATIONS = ("GetLogEvents", "FilterLogEvents", "DescribeLogStreams")

SYNTHETIC_PREFIX = "lfproxy:"

COUNTERS = ("total", "forwarded", "throttled", "server_errors", "empty_pages", "rate_limited",
            "tokens_restored", "upstream_failures")

# The kinds of injected server error, chosen at random among those enabled.
SERVER_ERROR_KINDS = ("500-json", "503-plain")

THROTTLE_BODY = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'

# Hop-by-hop headers (RFC 9110 7.6.1) are never relayed.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "proxy-connection",
}

_FAULTS = ("throttle_rate", "server_error_rate", "empty_page_rate")


def _rate(value: Any) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a fault rate must be within 0..1, got {value!r}")
    return rate


def _rate_table(value: Any) -> dict[str, float]:
    """A number applies to every read operation; a dict is {operation: rate} ("*" = any operation)."""
    if isinstance(value, dict):
        return {str(op): _rate(r) for op, r in value.items()}
    rate = _rate(value)
    return {op: rate for op in READ_OPERATIONS} if rate > 0 else {}


def _token_field(operation: str) -> tuple[str, str]:
    """(request token field, response token field) of a paged operation."""
    if operation == "GetLogEvents":
        return "nextToken", "nextForwardToken"
    return "nextToken", "nextToken"


class _Bucket:
    """A token bucket: `rate` calls per second, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None):
        if rate <= 0:
            raise ValueError(f"a rate limit must be positive, got {rate!r}")
        self.rate = float(rate)
        self.capacity = float(burst) if burst else max(1.0, self.rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the client
    server_version = "faultproxy"
    proxy: "FaultProxy"  # set on the per-instance subclass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.proxy.verbose:
            sys.stderr.write("faultproxy: " + (format % args) + "\n")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/__proxy/"):
            status, payload = self.proxy._control(self.command, path, body)
            self._reply(status, [("Content-Type", "application/json")], json.dumps(payload).encode())
            return
        status, headers, out = self.proxy._serve(self.command, self.path, self.headers, body)
        self._reply(status, headers, out)

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("content-length", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that leaves mid-answer (a query cancelled after its LIMIT) is normal.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class FaultProxy:
    """See the module documentation.

    Fault rates are a number (applied to every read operation: GetLogEvents,
    FilterLogEvents, DescribeLogStreams, DescribeLogGroups) or a dict
    {operation: rate}, where the key "*" matches any operation.  For each call
    one uniform draw u decides: u < throttle -> throttle; u < throttle +
    server_error -> server error; u < throttle + server_error + empty_page ->
    empty page (paged operations only, never for a request carrying a
    synthetic token); otherwise the call is forwarded.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        throttle_rate: float | dict[str, float] = 0.0,
        server_error_rate: float | dict[str, float] = 0.0,
        empty_page_rate: float | dict[str, float] = 0.0,
        rate_limits: dict[str, float] | None = None,
        rate_limit_burst: float | None = None,
        server_error_kinds: tuple[str, ...] | list[str] = SERVER_ERROR_KINDS,
        continuation_only: bool = False,
        upstream_timeout: float = 60.0,
        verbose: bool = False,
    ):
        parts = urllib.parse.urlsplit(upstream_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream_url!r}")
        self.upstream_url = upstream_url
        self._up_scheme = parts.scheme
        self._up_host = parts.hostname
        self._up_port = parts.port or (443 if parts.scheme == "https" else 80)
        self._up_prefix = parts.path.rstrip("/")
        self.host = host
        self.port = port
        self.upstream_timeout = upstream_timeout
        self.verbose = verbose

        self._lock = threading.Lock()
        self._local = threading.local()
        self._seq = 0
        self._rates: dict[str, dict[str, float]] = {f: {} for f in _FAULTS}
        self._buckets: dict[str, _Bucket] = {}
        self._rate_limits: dict[str, float] = {}
        self._burst: float | None = None
        self._kinds: tuple[str, ...] = SERVER_ERROR_KINDS
        self._continuation_only = False
        self._rng = random.Random(seed)
        self._stats: dict[str, dict[str, int]] = {}
        self._requests: list[dict[str, Any]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.configure(
            throttle_rate=throttle_rate,
            server_error_rate=server_error_rate,
            empty_page_rate=empty_page_rate,
            rate_limits=rate_limits or {},
            rate_limit_burst=rate_limit_burst,
            server_error_kinds=server_error_kinds,
            continuation_only=continuation_only,
        )

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> int:
        """Start serving in a background thread; returns the listening port."""
        if self._server is not None:
            return self.port
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = _Server((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread (script use)."""
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = _Server((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        print(self.port, flush=True)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "FaultProxy":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- configuration and counters -----------------------------------------------

    def configure(
        self,
        *,
        clear: bool = False,
        seed: int | None = None,
        throttle_rate: float | dict[str, float] | None = None,
        server_error_rate: float | dict[str, float] | None = None,
        empty_page_rate: float | dict[str, float] | None = None,
        rate_limits: dict[str, float] | None = None,
        rate_limit_burst: float | None = None,
        server_error_kinds: tuple[str, ...] | list[str] | None = None,
        continuation_only: bool | None = None,
    ) -> None:
        """Change the faults; arguments left as None keep their value.

        clear             first turn every fault and rate limit off
        seed              reseed the random source (reproducible runs)
        *_rate            a number for all read operations, or {operation: rate}
        rate_limits       {operation: max calls per second}; {} turns limits off
        rate_limit_burst  bucket size (default: max(1, rate))
        server_error_kinds  subset of ("500-json", "503-plain")
        continuation_only  inject faults only into calls carrying a nextToken
                           (i.e. never into the first page of a read)
        """
        new_rates = {}
        for name, value in (("throttle_rate", throttle_rate), ("server_error_rate", server_error_rate),
                            ("empty_page_rate", empty_page_rate)):
            if value is not None:
                new_rates[name] = _rate_table(value)
        kinds = None
        if server_error_kinds is not None:
            kinds = tuple(server_error_kinds)
            unknown = set(kinds) - set(SERVER_ERROR_KINDS)
            if unknown or not kinds:
                raise ValueError(f"server_error_kinds must be a non-empty subset of {SERVER_ERROR_KINDS}")
        limits = None
        if rate_limits is not None:
            limits = {str(op): float(tps) for op, tps in rate_limits.items() if tps}
            for tps in limits.values():
                if tps <= 0:
                    raise ValueError("rate limits must be positive")
        with self._lock:
            if clear:
                self._rates = {f: {} for f in _FAULTS}
                self._rate_limits = {}
                self._buckets = {}
                self._continuation_only = False
                self._kinds = SERVER_ERROR_KINDS
            if seed is not None:
                self._rng = random.Random(seed)
            self._rates.update(new_rates)
            if kinds is not None:
                self._kinds = kinds
            if continuation_only is not None:
                self._continuation_only = bool(continuation_only)
            if rate_limit_burst is not None:
                self._burst = float(rate_limit_burst) or None
            if limits is not None or rate_limit_burst is not None:
                if limits is not None:
                    self._rate_limits = limits
                self._buckets = {op: _Bucket(tps, self._burst) for op, tps in self._rate_limits.items()}

    def config(self) -> dict[str, Any]:
        with self._lock:
            return {
                **{name: dict(table) for name, table in self._rates.items()},
                "rate_limits": dict(self._rate_limits),
                "rate_limit_burst": self._burst,
                "server_error_kinds": list(self._kinds),
                "continuation_only": self._continuation_only,
            }

    def stats(self) -> dict[str, Any]:
        """{"operations": {op: {counter: n}}, "all": {counter: n}} (a snapshot)."""
        with self._lock:
            ops = {op: dict(c) for op, c in self._stats.items()}
        total = {name: sum(c[name] for c in ops.values()) for name in COUNTERS}
        return {"operations": ops, "all": total}

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = {}
            self._requests = []

    @contextlib.contextmanager
    def session(self, **faults: Any):
        """`with proxy.session(**faults):` every fault off, then `faults` (keyword arguments
        of configure), and fresh counters; every fault off again when the block ends."""
        self.configure(clear=True, **faults)
        self.reset_stats()
        try:
            yield self
        finally:
            self.configure(clear=True)

    def requests(self, *operations: str) -> list[dict[str, Any]]:
        """The requests received since the last reset (optionally of these
        operations), each {"operation": ..., plus the fields that decide what
        is read: stream name(s) or prefix, time bounds, limit, filter pattern}."""
        with self._lock:
            return [r for r in self._requests if not operations or r["operation"] in operations]

    def _count(self, operation: str, counter: str) -> None:
        with self._lock:
            c = self._stats.setdefault(operation, dict.fromkeys(COUNTERS, 0))
            c[counter] += 1

    # -- the fault decision ---------------------------------------------------------

    def _decide(self, operation: str, restored: bool, continuation: bool) -> tuple[str, str]:
        """('forward' | 'rate_limited' | 'throttle' | 'server_error' | 'empty_page', error kind)."""
        with self._lock:
            bucket = self._buckets.get(operation)
            if bucket is not None and not bucket.take():
                return "rate_limited", ""

            def rate(fault: str) -> float:
                table = self._rates[fault]
                return table.get(operation, table.get("*", 0.0))

            throttle, server, empty = rate("throttle_rate"), rate("server_error_rate"), rate("empty_page_rate")
            if throttle == server == empty == 0.0:
                return "forward", ""
            # Always two draws per configured call, so the sequence stays aligned.
            u = self._rng.random()
            kind = self._kinds[int(self._rng.random() * len(self._kinds)) % len(self._kinds)]
            if self._continuation_only and not continuation:
                return "forward", ""
            if u < throttle:
                return "throttle", ""
            if u < throttle + server:
                return "server_error", kind
            if u < throttle + server + empty and operation in PAGED_OPERATIONS and not restored:
                return "empty_page", ""
            return "forward", ""

    def _synthetic_token(self, original: str | None) -> str:
        with self._lock:
            self._seq += 1
            seq = self._seq
        encoded = base64.urlsafe_b64encode((original or "").encode()).decode()
        return f"{SYNTHETIC_PREFIX}{seq}.{encoded}"

    @staticmethod
    def _original_token(synthetic: str) -> str | None:
        rest = synthetic[len(SYNTHETIC_PREFIX):]
        _, _, encoded = rest.partition(".")
        original = base64.urlsafe_b64decode(encoded.encode()).decode()
        return original or None

    # -- serving ----------------------------------------------------------------------

    def _serve(self, method: str, path: str, headers, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        target = headers.get("X-Amz-Target") or ""
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else (target or "-")
        self._count(operation, "total")

        request: dict | None = None
        sent_token: str | None = None
        restored_token: str | None = None
        restored = False
        if method == "POST" and target:
            try:
                parsed = json.loads(body or b"{}")
                request = parsed if isinstance(parsed, dict) else None
            except ValueError:
                request = None
        if request is not None and operation in PAGED_OPERATIONS:
            field, _ = _token_field(operation)
            value = request.get(field)
            if isinstance(value, str):
                sent_token = value
                if value.startswith(SYNTHETIC_PREFIX):
                    restored = True
                    restored_token = self._original_token(value)
                    if restored_token is None:
                        request.pop(field, None)
                    else:
                        request[field] = restored_token
                    body = json.dumps(request).encode()

        if request is not None:
            entry = {"operation": operation}
            for key in ("logGroupName", "logGroupNamePrefix", "resourceArn", "logStreamName", "logStreamNames", "logStreamNamePrefix",
                        "startTime", "endTime", "limit", "filterPattern"):
                if key in request:
                    entry[key] = request[key]
            with self._lock:
                self._requests.append(entry)
        action, kind = self._decide(operation, restored, sent_token is not None)
        if action in ("throttle", "rate_limited"):
            self._count(operation, "throttled" if action == "throttle" else "rate_limited")
            return 400, [("Content-Type", "application/x-amz-json-1.1"),
                         ("x-amzn-ErrorType", "ThrottlingException"),
                         ("x-amzn-RequestId", "lfproxy-throttle")], THROTTLE_BODY
        if action == "server_error":
            self._count(operation, "server_errors")
            if kind == "503-plain":
                return 503, [("Content-Type", "text/plain")], b"Service Unavailable (injected 503)"
            return 500, [("Content-Type", "application/x-amz-json-1.1"),
                         ("x-amzn-ErrorType", "ServiceUnavailableException"),
                         ("x-amzn-RequestId", "lfproxy-500")], (
                b'{"__type":"ServiceUnavailableException","message":"injected 500"}')
        if action == "empty_page":
            self._count(operation, "empty_pages")
            token = self._synthetic_token(sent_token)
            if operation == "GetLogEvents":
                page = {"events": [], "nextForwardToken": token, "nextBackwardToken": "b/x"}
            elif operation == "FilterLogEvents":
                page = {"events": [], "searchedLogStreams": [], "nextToken": token}
            else:
                page = {"logStreams": [], "nextToken": token}
            return 200, [("Content-Type", "application/x-amz-json-1.1"),
                         ("x-amzn-RequestId", "lfproxy-empty")], json.dumps(page).encode()

        if restored:
            self._count(operation, "tokens_restored")
        try:
            status, out_headers, out = self._forward(method, path, headers, body)
        except (OSError, http.client.HTTPException) as e:
            self._count(operation, "upstream_failures")
            return 502, [("Content-Type", "text/plain")], f"faultproxy: upstream failed: {e!r}".encode()
        self._count(operation, "forwarded")
        if restored and status == 200:
            # The end of a GetLogEvents stream (or a repeated DescribeLogStreams
            # token): the service echoes the token it was given. Echo the one
            # the client sent, so that the client recognises the end.
            _, out_field = _token_field(operation)
            try:
                answer = json.loads(out)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get(out_field) is not None \
                    and answer.get(out_field) == restored_token:
                answer[out_field] = sent_token
                out = json.dumps(answer).encode()
        return status, out_headers, out

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._up_scheme == "https" else http.client.HTTPConnection
            conn = cls(self._up_host, self._up_port, timeout=self.upstream_timeout)
            self._local.conn = conn
        return conn

    def _forward(self, method: str, path: str, headers, body: bytes):
        out_headers = {}
        for name, value in headers.items():
            low = name.lower()
            if low in HOP_BY_HOP or low in ("content-length", "accept-encoding"):
                continue
            out_headers[name] = value
        out_headers["Content-Length"] = str(len(body))
        url = self._up_prefix + path
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, url, body=body, headers=out_headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    conn.close()
                return resp.status, list(resp.getheaders()), data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                # A kept-alive upstream connection went stale: reconnect once.
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        try:
            if path == "/__proxy/stats" and method == "GET":
                return 200, self.stats()
            if path == "/__proxy/config" and method == "GET":
                return 200, self.config()
            if path == "/__proxy/config" and method == "POST":
                options = json.loads(body or b"{}")
                if not isinstance(options, dict):
                    raise ValueError("the config body must be a JSON object")
                self.configure(**options)
                return 200, self.config()
            if path == "/__proxy/reset" and method == "POST":
                self.reset_stats()
                return 200, {"ok": True}
        except (TypeError, ValueError) as e:
            return 400, {"error": str(e)}
        return 404, {"error": f"no control endpoint {method} {path}"}


# Script use -------------------------------------------------------------------------


def _parse_limits(items: list[str]) -> dict[str, float]:
    limits = {}
    for item in items:
        op, sep, tps = item.partition("=")
        if not sep:
            raise SystemExit(f"--rate-limit wants OPERATION=TPS, got {item!r}")
        limits[op] = float(tps)
    return limits


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="CloudWatch Logs endpoint, e.g. http://127.0.0.1:5000")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--throttle-rate", type=float, default=0.0)
    p.add_argument("--server-error-rate", type=float, default=0.0)
    p.add_argument("--empty-page-rate", type=float, default=0.0)
    p.add_argument("--operations", default=",".join(READ_OPERATIONS),
                   help="comma-separated operations the rates apply to (default: the read operations)")
    p.add_argument("--server-error-kinds", default=",".join(SERVER_ERROR_KINDS))
    p.add_argument("--continuation-only", action="store_true")
    p.add_argument("--rate-limit", action="append", default=[], metavar="OPERATION=TPS",
                   help="max calls per second for an operation (repeatable)")
    p.add_argument("--rate-limit-burst", type=float, default=None)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)

    ops = [o.strip() for o in args.operations.split(",") if o.strip()]

    def table(rate: float) -> dict[str, float]:
        return {op: rate for op in ops} if rate else {}

    proxy = FaultProxy(
        args.upstream,
        host=args.host,
        port=args.port,
        seed=args.seed,
        throttle_rate=table(args.throttle_rate),
        server_error_rate=table(args.server_error_rate),
        empty_page_rate=table(args.empty_page_rate),
        rate_limits=_parse_limits(args.rate_limit),
        rate_limit_burst=args.rate_limit_burst,
        server_error_kinds=[k.strip() for k in args.server_error_kinds.split(",") if k.strip()],
        continuation_only=args.continuation_only,
        verbose=args.verbose,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
