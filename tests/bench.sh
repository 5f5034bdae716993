#!/usr/bin/env bash
# logflight's benchmarks (docs/benchmarks.md). Not part of the test command.
#
#   bash tests/bench.sh                   # every benchmark (about 10 minutes on 2 cores, after the release build)
#   bash tests/bench.sh transfer memory   # some: overhead transfer quota memory latency athena growth archive typed insights cluster
#                                         # (insights needs fakecloud: see tests/fakecloud.sh)
#   bash tests/bench.sh --rows 1000000    # smaller transfer/memory runs
#
# Builds release binaries (logflight, logflight-sdk-baseline, logflight-flight-floor), sets up
# the Python environment, and runs tests/bench/bench.py.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=tests/venv.sh
source "$ROOT/tests/venv.sh"
ensure_venv "$ROOT/tests/python/requirements.txt" "$ROOT/tests/bench/requirements.txt"

cargo build --release -p logflight-server --bins
export LOGFLIGHT_BIN="$ROOT/target/release/logflight"
export LOGFLIGHT_MOTO_SERVER="$VENV/bin/moto_server"

exec "$VENV/bin/python" tests/bench/bench.py "$@"
