#!/usr/bin/env bash
# Medical NER: BERT baseline vs K-BERT (Medical KG), 3 seeds each, run one after another under
# `nice -n 10` with one thread, then aggregated into benchmarks/results/medical_ner.{md,json,png}.
# Finished runs (metrics.json present) are skipped; interrupted ones resume from their checkpoint.
# Usage: [RUNS=runs] [OUT=benchmarks/results/medical_ner] [SEEDS="1 2 3"] \
#        bash benchmarks/run_medical_ner.sh [python] [extra key=value overrides...]
set -euo pipefail
PY=${1:-.venv/bin/python}
shift || true
SEEDS=${SEEDS:-"1 2 3"}
RUNS=${RUNS:-runs}  # use another folder for other overrides (finished runs are skipped)
mkdir -p "$RUNS"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
for seed in $SEEDS; do
  for enc in bert kbert; do
    run="$RUNS/medical_ner_${enc}/seed${seed}"
    if [ -f "$run/metrics.json" ]; then echo "done: $run"; continue; fi
    echo "== $run ($(date -u +%H:%M:%S))"
    nice -n 10 "$PY" -m kgbert.train "configs/medical_ner_${enc}.yaml" seed="$seed" output_dir="$run" \
      training.progress=false "$@" > "$RUNS/medical_ner_${enc}_seed${seed}.log" 2>&1
  done
done
"$PY" -m kgbert.training.report --title "${TITLE:-Medical NER (test, entity-level), random-init BERT-mini}" \
  --out "${OUT:-benchmarks/results/medical_ner}" \
  --paper "medical_ner_bert=BERT (paper, Google BERT-base): F1 92.5" \
  --paper "medical_ner_kbert=K-BERT MedicalKG (paper, Google BERT-base): F1 94.2" \
  "$RUNS/medical_ner_bert" "$RUNS/medical_ner_kbert"
