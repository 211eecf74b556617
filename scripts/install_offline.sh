#!/usr/bin/env bash
# Install lmmr1 from a wheelhouse (`make wheelhouse`) on a machine with no package registry, then run `lmmr1 doctor`.
#   bash scripts/install_offline.sh WHEELHOUSE [ENV]
# ENV is a venv dir: an existing one (or any environment's prefix with bin/python, e.g. a conda env) is installed
# into; a missing one is created with --system-site-packages, so it sees the machine's own torch, CUDA libraries
# and the large packages the wheelhouse left out on purpose (scripts/wheelhouse.py says which). Default:
# .venv-offline. Afterwards: ENV/bin/lmmr1 ...
# Nothing is fetched: pip runs with --no-index, and every wheelhouse package installs at the exact version
# WHEELHOUSE/constraints.txt records (the lock's, torchvision excepted). A package the machine lacks and the
# wheelhouse does not carry fails here, by name, not in the middle of a run.
set -euo pipefail
WHEELHOUSE="${1:?usage: install_offline.sh WHEELHOUSE [ENV]}"
ENV_DIR="${2:-.venv-offline}"
PYTHON="${PYTHON:-python3}"
[ -f "$WHEELHOUSE/constraints.txt" ] || { echo "$WHEELHOUSE: no constraints.txt (not made by make wheelhouse?)" >&2; exit 2; }
WHEEL="$(ls "$WHEELHOUSE"/lmmr1-*.whl 2>/dev/null | head -n 1)"
[ -n "$WHEEL" ] || { echo "$WHEELHOUSE: no lmmr1 wheel" >&2; exit 2; }
test -x "$ENV_DIR/bin/python" || "$PYTHON" -m venv --system-site-packages "$ENV_DIR"
# The machine's pip configuration (file or PIP_* variables) may name indexes, wheel folders or constraints that do
# not hold offline: switch it off, so the wheelhouse alone answers.
env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
    "$ENV_DIR/bin/python" -m pip install --no-index --find-links "$WHEELHOUSE" \
    -c "$WHEELHOUSE/constraints.txt" "$WHEEL"
# What the bundle shipped and what it left to the machine, so `lmmr1 doctor` knows torch differs from the lock on
# purpose here (lmmr1_cli/doctor.py, OFFLINE_BUNDLE_RECORD).
cp "$WHEELHOUSE/manifest.json" "$("$ENV_DIR/bin/python" -c 'import sys; print(sys.prefix)')/lmmr1-wheelhouse.json" \
    2>/dev/null || true
"$ENV_DIR/bin/lmmr1" doctor
