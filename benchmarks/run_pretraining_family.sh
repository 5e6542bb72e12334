#!/usr/bin/env bash
# Pretrain members of BERT's pretraining family at equal training FLOPs (README "BERT's pretraining
# family"): steps per member from benchmarks/pretraining_family_flops.py (the mlm member's
# MLM_STEPS (256) x 32 x 128 tokens; every other member the same FLOPs), one thread, nice 10, one after
# the other. Each run writes $RUNS/pre_<member>/ (best/, pretrain.json) and $RUNS/pre_<member>.log
# (with /usr/bin/time -v: wall and CPU time). A finished run (best/ present) is skipped.
# Usage: [RUNS=runs/pretraining_family] [MLM_STEPS=256] [CACHE=$RUNS/pretrain_cache] \
#        bash benchmarks/run_pretraining_family.sh [python] member...   (mlm roberta spanbert structbert albert electra xlnet)
set -euo pipefail
PY=${1:-.venv/bin/python}
shift || true
RUNS=${RUNS:-runs/pretraining_family}
MLM_STEPS=${MLM_STEPS:-256}
CACHE=${CACHE:-$RUNS/pretrain_cache}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$RUNS"
for m in "$@"; do
  out="$RUNS/pre_$m"
  if [ -d "$out/best" ]; then echo "skip $m (done)"; continue; fi
  mapfile -t args < <("$PY" -m benchmarks.pretraining_family_flops --mlm-steps "$MLM_STEPS" --member "$m")
  echo "$m: ${args[*]}"
  /usr/bin/time -v nice -n 10 "$PY" -m kgbert.pretrain "${args[@]}" training.threads=1 training.progress=false \
      "data.cache_dir=$CACHE" "output_dir=$out" > "$RUNS/pre_$m.log" 2>&1
done
