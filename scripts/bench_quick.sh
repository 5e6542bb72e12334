#!/usr/bin/env bash
# The bench harness's quick mode end to end (CI runs this after `make test`): the finance grid
# (financial_ner, finfe, finre x BERT / K-BERT with the finance KG, HowNet, both, and a
# knowledge-selection row) and the medical grid, shrunk by their `quick:` sections (64 training
# examples, 4 steps, a 1-layer model): well under a few minutes on 2 CPU cores.
# Written into a fresh temporary folder (never resumes an old grid). Skipped, with a message,
# when ../shared/data (or $KGBERT_SHARED_DATA) is absent; the unit tests cover the harness on
# synthetic data either way.
# Usage: bash scripts/bench_quick.sh [PYTHON]   (default .venv/bin/python)
set -euo pipefail
PY=${1:-.venv/bin/python}
DATA=${KGBERT_SHARED_DATA:-../shared/data}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if [ ! -f "$DATA/financial_ner/train.tsv" ] || [ ! -f "$DATA/kg_medical/Medical.spo" ]; then
  echo "bench quick: skipped ($DATA has no financial_ner / kg_medical; set KGBERT_SHARED_DATA)"
  exit 0
fi
OUT=$(mktemp -d "${TMPDIR:-/tmp}/kgbert-bench-quick.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
for cfg in finance medical_ner; do
  echo "== bench quick: configs/bench/$cfg.yaml -> $OUT/$cfg"
  "$PY" -m kgbert.bench "configs/bench/$cfg.yaml" --quick --no-progress output_dir="$OUT/$cfg" \
    base.kg.cache_dir="$OUT/kg_cache" > "$OUT/$cfg.log" 2>&1 || { tail -50 "$OUT/$cfg.log"; exit 1; }
  sed -n '/^# Bench/,$p' "$OUT/$cfg.log"
done
