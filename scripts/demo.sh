#!/usr/bin/env bash
# The main job on the bundled defaults: build the demo KG (more steps are added as they land).
set -euo pipefail
PY=${1:-.venv/bin/python}
mkdir -p runs/demo
"$PY" -m kgbert.build_kg --out runs/demo/demo_kg.sqlite --force
