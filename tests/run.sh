#!/usr/bin/env bash
# The logflight test command: builds everything and runs every test
# (Rust unit + end-to-end tests, then the Python end-to-end suite).
#
#   bash tests/run.sh            # from any directory
#
# Needs: python3 (with venv + pip), cargo. Network only for pip / crates.io.
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
