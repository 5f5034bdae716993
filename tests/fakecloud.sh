#!/usr/bin/env bash
# The fakecloud tier: logflight against fakecloud, a CloudWatch Logs emulator that
# (unlike moto) evaluates Logs Insights `filter` and `stats`, so aggregations pushed
# into Logs Insights can be checked against the same aggregations scanned.
#
#   cargo install fakecloud --version 0.51.0 --locked   # once: over an hour on 2 cores
#   bash tests/fakecloud.sh
#
# Not part of tests/run.sh (the README's test command): fakecloud is AGPL-3.0, so it
# is only ever run as a separate process, never linked or vendored, and building it
# would take CI past its time. FAKECLOUD_BIN names the binary if it is not on PATH
# or in ~/.cargo/bin. docs/insights-pushdown.md says what this tier covers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

FAKECLOUD="${FAKECLOUD_BIN:-$(command -v fakecloud || echo "$HOME/.cargo/bin/fakecloud")}"
if [ ! -x "$FAKECLOUD" ]; then
    echo "fakecloud is not installed (looked for ${FAKECLOUD}):" >&2
    echo "  cargo install fakecloud --version 0.51.0 --locked   (over an hour on 2 cores)" >&2
    echo "or set FAKECLOUD_BIN to its path." >&2
    exit 2
fi

# shellcheck source=tests/venv.sh
source "$ROOT/tests/venv.sh"
ensure_venv "$ROOT/tests/python/requirements.txt"
cargo build --bin logflight
export LOGFLIGHT_BIN="$ROOT/target/debug/logflight"
export LOGFLIGHT_PYTHON="$VENV/bin/python"
export FAKECLOUD_BIN="$FAKECLOUD"
"$FAKECLOUD" --version 2>/dev/null || true
"$VENV/bin/python" -m pytest tests/fakecloud -v -p no:cacheprovider
printf '\nFAKECLOUD TIER PASSED\n'
