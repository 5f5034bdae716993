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
trap 'status=$?; if [ "$status" -ne 0 ]; then printf "\nTESTS FAILED: step \"%s\" exited with status %s\n" "$CURRENT_STEP" "$status" >&2; fi' EXIT

# shellcheck source=tests/venv.sh
source "$ROOT/tests/venv.sh"

step "Python environment ($ROOT/.venv)"
ensure_venv "$ROOT/tests/python/requirements.txt"

# flightsql-dbapi (compatibility tier) needs SQLAlchemy < 2, so it has an environment of its own.
step "Python environment for SQLAlchemy 1.x clients ($ROOT/.venv-sqlalchemy1)"
ensure_venv_at "$ROOT/.venv-sqlalchemy1" "$ROOT/tests/python/requirements-sqlalchemy1.txt"
export LOGFLIGHT_SQLALCHEMY1_PYTHON="$ROOT/.venv-sqlalchemy1/bin/python"

# The npm Flight SQL client of the compatibility tier, at the versions in package-lock.json;
# npm ci runs only when the lock file changed since the last install.
step "Node.js client (tests/node: npm ci)"
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed (tests/node)" >&2; exit 1; }
NODE_STAMP="$ROOT/tests/node/node_modules/.package-lock.sha256"
node_want="$(sha256sum "$ROOT/tests/node/package-lock.json" | cut -d' ' -f1)"
if [ "$node_want" != "$(cat "$NODE_STAMP" 2>/dev/null || true)" ]; then
    (cd "$ROOT/tests/node" && npm ci --ignore-scripts --no-audit --no-fund)
    echo "$node_want" > "$NODE_STAMP"
else
    echo "package-lock.json unchanged; skipping npm ci"
fi

export LOGFLIGHT_PYTHON="$VENV/bin/python"
export LOGFLIGHT_MOTO_SERVER="$VENV/bin/moto_server"
[ -x "$LOGFLIGHT_MOTO_SERVER" ] || { echo "missing $LOGFLIGHT_MOTO_SERVER" >&2; exit 1; }

# One build for every target: tests enable dev-dependencies (proptest),
# which change the features of shared crates (getrandom, tempfile, and so
# DataFusion); building the binaries alone and then `cargo test` built all
# of DataFusion twice.
step "cargo build --workspace --all-targets"
cargo build --workspace --all-targets
export LOGFLIGHT_BIN="$ROOT/target/debug/logflight"
[ -x "$LOGFLIGHT_BIN" ] || { echo "missing $LOGFLIGHT_BIN after build" >&2; exit 1; }

step "cargo test --workspace"
cargo test --workspace

step "pytest tests/python"
"$VENV/bin/python" -m pytest tests/python -v

printf '\nALL TESTS PASSED (cargo build, cargo test --workspace, pytest tests/python)\n'
