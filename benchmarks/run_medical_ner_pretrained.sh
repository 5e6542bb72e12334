#!/usr/bin/env bash
# Medical NER from the project's pretrained backbone vs the same architecture randomly
# initialised (same vocabulary, fresh weights per seed), for BERT and K-BERT, identical
# fine-tuning budgets, each run `nice -n 10` with one thread ($JOBS runs at a time), then
# aggregated into $OUT.{md,json,png} by kgbert.training.report.
# Finished runs (metrics.json present) are skipped; interrupted ones resume from their checkpoint.
# Usage: BACKBONE=/work/runs/pretrain_main/best [RUNS=runs/ft_pretrained] [SEEDS="1 2 3"] [ENCODERS="bert kbert"] \
#        [INITS="pretrained random"] [JOBS=1] [LR=5e-4] [OUT=benchmarks/results/medical_ner_pretrained] \
#        bash benchmarks/run_medical_ner_pretrained.sh [python] [overrides...]
# Default fine-tuning budget: the medical_ner configs' (4 epochs, batch 32) with lr 5e-4 for both inits;
# extra key=value overrides apply to every run (e.g. training.epochs=2 data.limit_train=3000).
# Cost: about 865 steps per run at 4 epochs (~1 CPU-s per step for 4 layers / hidden 256).
set -euo pipefail
PY=${1:-.venv/bin/python}
shift || true
: "${BACKBONE:?set BACKBONE to a pretrained checkpoint dir, e.g. /work/runs/pretrain_main/best}"
SEEDS=${SEEDS:-"1 2 3"}
ENCODERS=${ENCODERS:-"bert kbert"}
INITS=${INITS:-"pretrained random"}  # "pretrained": a new backbone against an earlier random-init table
RUNS=${RUNS:-runs/ft_pretrained}
LR=${LR:-5e-4}
JOBS=${JOBS:-1}
mkdir -p "$RUNS"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
jobs_file="$RUNS/jobs.txt"
: > "$jobs_file"
extra=""
for a in "$@"; do extra+=" $(printf '%q' "$a")"; done
for seed in $SEEDS; do
  rand="$RUNS/random_init/seed${seed}"
  [[ " $INITS " != *" random "* || -f "$rand/config.json" ]] || "$PY" -m kgbert.pretraining.reinit "$BACKBONE" "$rand" --seed "$seed" > /dev/null
  for enc in $ENCODERS; do
    for init in $INITS; do
      bb=$BACKBONE; [ "$init" = random ] && bb=$rand
      run="$RUNS/medical_ner_${enc}_${init}/seed${seed}"
      if [ -f "$run/metrics.json" ]; then echo "done: $run"; continue; fi
      echo "echo '== $run'; nice -n 10 $(printf '%q' "$PY") -m kgbert.train configs/medical_ner_${enc}.yaml seed=$seed output_dir=$(printf '%q' "$run") model.backbone=$(printf '%q' "$bb") model.backbone_config=null training.lr=$LR training.progress=false$extra > $(printf '%q' "$RUNS/medical_ner_${enc}_${init}_seed${seed}.log") 2>&1 || echo 'FAILED: $run'" >> "$jobs_file"
    done
  done
done
# one line per run; JOBS of them at a time
tr '\n' '\0' < "$jobs_file" | xargs -0 -r -P "$JOBS" -I{} bash -c {}
dirs=()
for enc in $ENCODERS; do for init in $INITS; do dirs+=("$RUNS/medical_ner_${enc}_${init}"); done; done
"$PY" -m kgbert.training.report --title "${TITLE:-Medical NER (test, entity-level): pretrained backbone vs the same architecture randomly initialised}" \
  --out "${OUT:-benchmarks/results/medical_ner_pretrained}" \
  --paper "medical_ner_bert_pretrained=BERT (paper, Google BERT-base): F1 92.5" \
  --paper "medical_ner_kbert_pretrained=K-BERT MedicalKG (paper, Google BERT-base): F1 94.2" \
  "${dirs[@]}"
