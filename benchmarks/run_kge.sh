#!/usr/bin/env bash
# TransE benchmark runs for the README: FB15k-237, WN18RR (public splits) and the Medical KG store.
#   bash benchmarks/run_kge.sh fb15k237|wn18rr|medical [OUT_ROOT]
# FB15k-237 and WN18RR runs copy their metrics table and meta.json (config, metrics, validation
# history, wall and CPU seconds) to benchmarks/results/kge/transe_<data set>.{md,json}.
# One core (OMP_NUM_THREADS=1), low priority (the machine is shared); each run's training is capped by
# max_cpu_minutes (process CPU time) and max_minutes (wall clock) in its config.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${KGBERT_SHARED_DATA:-../shared/data}
OUT=${2:-runs/kge}
PY=${PY:-python}
run() { OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n "${NICE:-10}" "$PY" -m knowledge.embed "$@" --force; }
case "$1" in
  fb15k237|wn18rr)
    d="$DATA/$1"
    run --train "$d/train.txt" --valid "$d/valid.txt" --test "$d/test.txt" \
        --config "configs/kge/transe_$1.yaml" --out "$OUT/$1"
    mkdir -p benchmarks/results/kge
    cp "$OUT/$1/metrics.md" "benchmarks/results/kge/transe_$1.md"
    cp "$OUT/$1/meta.json" "benchmarks/results/kge/transe_$1.json" ;;
  medical)
    store=${MEDICAL_STORE:-runs/kg/medical.sqlite}
    [ -e "$store" ] || "$PY" -m kgbert.build_kg "$DATA/kg_medical/Medical.spo" --out "$store"
    run --kg "$store" --config configs/kge/transe_medical.yaml --out "$OUT/medical" ;;
  *) echo "usage: $0 fb15k237|wn18rr|medical [OUT_ROOT]" >&2; exit 2 ;;
esac
