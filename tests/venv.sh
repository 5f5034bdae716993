# Sourced by tests/run.sh and tests/bench.sh: creates (or reuses) the
# project's Python environment in .venv and installs the given requirement
# files into it, skipping pip when none of them changed since the last run.
#
#   source tests/venv.sh; ensure_venv tests/python/requirements.txt [more.txt ...]
#
# Sets VENV.

ensure_venv() {
    VENV="$ROOT/.venv"
    local stamp="$VENV/.requirements.sha256"
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    local want have
    want="$(cat "$@" | sha256sum | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    if [ "$want" != "$have" ]; then
        local files=()
        for f in "$@"; do files+=(-r "$f"); done
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${files[@]}"
        echo "$want" > "$stamp"
    else
        echo "requirements unchanged; skipping pip install"
    fi
}
