#!/usr/bin/env bash
# `make lock`: refresh the lock (lmmr1_cli/constraints/*.txt) from a fresh resolve in throwaway venvs.
#   bash scripts/lock.sh            both locks
#   bash scripts/lock.sh venv       .venv's lock only (a few minutes)
#   bash scripts/lock.sh venv-vllm  .venv-vllm's lock only (about 6 GB of downloads into a temp dir, 3-7 min)
#   LOCK_FROM=.venv-vllm bash scripts/lock.sh venv-vllm   freeze a venv that setup built without a lock instead
# Each lock is `pip freeze` of a venv built exactly as `make setup` / `make setup-vllm` builds it, but with no
# lock in force, so pip picks what pyproject.toml's ranges allow today. The header records a hash of
# pyproject.toml's dependency tables; tests/test_lock.py fails when they change and the lock was not refreshed.
# Run it on Linux x86_64 (the platform the lock is for: CI and the GPU machines); review `git diff` before
# committing, since a new torch changes the demo's numbers (shared/DESIGN.md, "Measured facts").
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
LOCK_DIR=lmmr1_cli/constraints
WORK="$(mktemp -d "${TMPDIR:-/tmp}/lmmr1-lock.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$LOCK_DIR"

write_lock() {  # write_lock VENV NAME WHAT
    local venv="$1" name="$2" what="$3" out="$LOCK_DIR/$2.txt" how="a fresh resolve in a throwaway venv"
    [ -n "${LOCK_FROM:-}" ] && how="pip freeze of $LOCK_FROM, built by setup with no lock in force"
    {
        echo "# lmmr1 lock for $name ($what). Do not edit: run \`make lock\`."
        echo "# Exact versions from $how."
        echo "# Resolved $(date -u +%Y-%m-%d) on $(uname -s) $(uname -m), $("$venv/bin/python" -c 'import platform; print(platform.python_implementation(), platform.python_version())')."
        "$venv/bin/python" -c 'from pathlib import Path; from lmmr1_cli.lockfile import HASH_PREFIX, dependency_hash; print(HASH_PREFIX + dependency_hash(Path("pyproject.toml")))'
        "$venv/bin/pip" freeze --exclude-editable | LC_ALL=C sort -f
    } > "$out.tmp"
    mv "$out.tmp" "$out"
    echo "wrote $out ($(grep -c '==' "$out") packages)"
}

lock_venv() {
    [ -n "${LOCK_FROM:-}" ] && { write_lock "$LOCK_FROM" venv "make setup: .[dev,deepspeed]"; return; }
    "$PYTHON" -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install --quiet --upgrade pip
    "$WORK/venv/bin/pip" install --quiet -e '.[dev,deepspeed]'
    write_lock "$WORK/venv" venv "make setup: .[dev,deepspeed]"
}

lock_venv_vllm() {
    [ -n "${LOCK_FROM:-}" ] && { write_lock "$LOCK_FROM" venv-vllm "make setup-vllm: scripts/setup_vllm_venv.sh"; return; }
    # An empty LMMR1_LOCK tells the setup script to resolve without the lock.
    LMMR1_LOCK= PYTHON="$PYTHON" bash scripts/setup_vllm_venv.sh "$WORK/venv-vllm"
    write_lock "$WORK/venv-vllm" venv-vllm "make setup-vllm: scripts/setup_vllm_venv.sh"
}

case "${1:-all}" in
    venv) lock_venv ;;
    venv-vllm) lock_venv_vllm ;;
    all) lock_venv; lock_venv_vllm ;;
    *) echo "usage: scripts/lock.sh [venv|venv-vllm|all]" >&2; exit 2 ;;
esac
