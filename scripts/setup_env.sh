#!/usr/bin/env bash
# Create .venv and install kgbert into it.
# - A torch already importable by $PYTHON (e.g. a CUDA build on a GPU machine) is kept:
#   the venv then sees the system site-packages.
# - Otherwise torch==2.13.0 is installed first, so that no multi-GB CUDA build is pulled
#   as a side effect of resolving other requirements. Off this project's machines, point pip
#   at the CPU wheels with TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu".
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  if "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "[setup] keeping the torch that $PYTHON already has"
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "[setup] installing torch==2.13.0 ${TORCH_PIP_ARGS:-}"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q "torch==2.13.0" ${TORCH_PIP_ARGS:-}
fi
# kge (PyKEEN) too, so that make test runs the KG-embedding tests (they skip without it)
"$VENV/bin/python" -m pip install -q -e ".[dev,kge]"
"$VENV/bin/python" -c "import torch, transformers; print('[setup] torch', torch.__version__, '| transformers', transformers.__version__)"
touch "$VENV/.kgbert-setup"
