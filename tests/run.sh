#!/usr/bin/env bash
# The logflight test command: builds everything and runs every test
# (Rust unit + end-to-end tests, then the Python end-to-end suite).
#
#   bash tests/run.sh            # from any directory
#
# Needs: python3 (with venv + pip), cargo, node + npm. Network only for pip / crates.io / npm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CURRENT_STEP="start"
step() { CURRENT_STEP="$*"; printf '\n==> %s\n' "$*"; }
trap 'status=$?; if [ -n "${INSTALL_PID:-}" ]; then kill "$INSTALL_PID" 2>/dev/null || true; fi; if [ "$status" -ne 0 ]; then printf "\nTESTS FAILED: step \"%s\" exited with status %s\n" "$CURRENT_STEP" "$status" >&2; fi' EXIT

# shellcheck source=tests/venv.sh
source "$ROOT/tests/venv.sh"

# The clients the tests drive are installed while cargo builds: pip and npm
# wait on the network and cargo on the CPU, so side by side they save the
# installs' minute or more on a fresh machine. Their output is shown after
# the build; a failure stops the run there.
install_clients() {
    set -e
    step "Python environment ($ROOT/.venv)"
    ensure_venv "$ROOT/tests/python/requirements.txt"
    # flightsql-dbapi (compatibility tier) needs SQLAlchemy < 2, so it has an environment of its own.
    step "Python environment for SQLAlchemy 1.x clients ($ROOT/.venv-sqlalchemy1)"
    ensure_venv_at "$ROOT/.venv-sqlalchemy1" "$ROOT/tests/python/requirements-sqlalchemy1.txt"
    # The npm Flight SQL client of the compatibility tier, at the versions in package-lock.json;
    # npm ci runs only when the lock file changed since the last install.
    step "Node.js client (tests/node: npm ci)"
    command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed (tests/node)" >&2; exit 1; }
    local stamp="$ROOT/tests/node/node_modules/.package-lock.sha256"
    local want
    want="$(sha256sum "$ROOT/tests/node/package-lock.json" | cut -d' ' -f1)"
    if [ "$want" != "$(cat "$stamp" 2>/dev/null || true)" ]; then
        (cd "$ROOT/tests/node" && npm ci --ignore-scripts --no-audit --no-fund)
        echo "$want" > "$stamp"
    else
        echo "package-lock.json unchanged; skipping npm ci"
    fi
}
INSTALL_LOG="$(mktemp -t logflight-install.XXXXXX)"
( install_clients ) > "$INSTALL_LOG" 2>&1 &
INSTALL_PID=$!

# One build for every target: tests enable dev-dependencies (proptest),
# which change the features of shared crates (getrandom, tempfile, and so
# DataFusion); building the binaries alone and then `cargo test` built all
# of DataFusion twice.
step "cargo build --workspace --all-targets (clients installing alongside)"
cargo build --workspace --all-targets
export LOGFLIGHT_BIN="$ROOT/target/debug/logflight"
[ -x "$LOGFLIGHT_BIN" ] || { echo "missing $LOGFLIGHT_BIN after build" >&2; exit 1; }

step "clients installed alongside the build"
install_status=0
wait "$INSTALL_PID" || install_status=$?
INSTALL_PID=""
cat "$INSTALL_LOG"
rm -f "$INSTALL_LOG"
[ "$install_status" -eq 0 ] || { echo "installing the test clients failed (above)" >&2; exit "$install_status"; }
VENV="$ROOT/.venv"
export LOGFLIGHT_PYTHON="$VENV/bin/python"
export LOGFLIGHT_MOTO_SERVER="$VENV/bin/moto_server"
export LOGFLIGHT_SQLALCHEMY1_PYTHON="$ROOT/.venv-sqlalchemy1/bin/python"
[ -x "$LOGFLIGHT_MOTO_SERVER" ] || { echo "missing $LOGFLIGHT_MOTO_SERVER" >&2; exit 1; }

step "cargo test --workspace"
cargo test --workspace

step "pytest tests/python"
# Two workers, each taking whole files (module fixtures stay together; each
# worker has its own moto and server): the suite mostly waits on servers.
"$VENV/bin/python" -m pytest tests/python -v -n 2 --dist loadfile

printf '\nALL TESTS PASSED (cargo build, cargo test --workspace, pytest tests/python)\n'
