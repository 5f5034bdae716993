# Sourced by tests/run.sh and tests/bench.sh: creates (or reuses) the
# project's Python environment in .venv and installs the given requirement
# files into it, skipping pip when none of them changed since the last run.
#
#   source tests/venv.sh; ensure_venv tests/python/requirements.txt [more.txt ...]
#
#   ensure_venv_at DIR requirements.txt [more.txt ...]   # another environment, in DIR
#
# ensure_venv sets VENV.

ensure_venv() {
    VENV="$ROOT/.venv"
    ensure_venv_at "$VENV" "$@"
}

ensure_venv_at() {
    local venv="$1"
    shift
    local stamp="$venv/.requirements.sha256"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    local want have
    want="$(cat "$@" | sha256sum | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    if [ "$want" != "$have" ]; then
        local files=()
        for f in "$@"; do files+=(-r "$f"); done
        "$venv/bin/python" -m pip install --disable-pip-version-check -q "${files[@]}"
        echo "$want" > "$stamp"
    else
        echo "requirements unchanged; skipping pip install"
    fi
}
