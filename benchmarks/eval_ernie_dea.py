"""Held-out scores of ERNIE-THU checkpoints on a dEA pretraining config's held-out text.

    python -m benchmarks.eval_ernie_dea configs/pretrain/ernie_thu_dea_medical.yaml CKPT [CKPT ...] [--out F.json]

For each checkpoint (an ``ernie_thu`` dEA checkpoint, or a BERT checkpoint: its text layers and MLM
head load, the entity parts start fresh, as at the start of a dEA run) and each held-out source of
the config: masked-token accuracy (BERT token masking, the fixed held-out masks of the run) and
entity accuracy with every entity input dropped (the text alone must rank the linked entity first
among the batch's candidates; ``chance`` is the mean of 1 / candidates over aligned positions).
Prints a Markdown table; ``--out`` writes JSON.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch


def evaluate(config_path: str, checkpoints: list[str], overrides: list[str]) -> list[dict[str, Any]]:
    from kgbert.data.collators import EntityCollator, build_collator
    from kgbert.objectives.dea import DenoisingEntityAutoEncoder
    from kgbert.pretraining.config import load_pretrain_config
    from kgbert.pretraining.data import heldout_sequences
    from kgbert.pretraining.run import EVAL_SEED_OFFSET, EvalSet, masked_accuracy, prepare_annotations, prepare_tokenizer

    rows = []
    for ckpt in checkpoints:
        config = load_pretrain_config(config_path, [*overrides, f"model.init_from={ckpt}"])
        from kgbert.pretraining.run import build_pretraining_model

        tokenizer, _ = prepare_tokenizer(config, Path("."), is_main=False)
        annotated = prepare_annotations(config)
        torch.manual_seed(0)
        model = build_pretraining_model(config, tokenizer).eval()
        m = config.masking
        base = build_collator("mlm", tokenizer, mlm_probability=m.mlm_probability, mask_replace=m.mask_replace,
                              random_replace=m.random_replace, static=False, seed=config.seed + EVAL_SEED_OFFSET)
        collator = EntityCollator(base, DenoisingEntityAutoEncoder(replace=0.0, mask=1.0),
                                  num_entities=int(model.config.num_entities), seed=config.seed)
        for s in config.data.corpus:
            if s.holdout <= 0:
                continue
            seqs = heldout_sequences(s, tokenizer, config.data.max_length, config.data.eval_sequences, annotated)
            es = EvalSet(s.label, seqs, collator, config.training.batch_size)  # type: ignore[arg-type]
            r = masked_accuracy(model, es.batches)
            chance = []
            for b in es.batches:
                cand, target = DenoisingEntityAutoEncoder.candidates(b["entity_labels"])
                chance += [1.0 / max(len(cand), 1)] * len(target)
            rows.append({"checkpoint": ckpt, "source": s.label, "sequences": len(seqs), "mlm_accuracy": r["accuracy"],
                         "mlm_predictions": r["n_predictions"], "entity_accuracy": r.get("entity_accuracy"),
                         "entity_positions": len(chance), "entity_chance": sum(chance) / max(len(chance), 1)})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = evaluate(args.config, args.checkpoints, args.set)
    print("| checkpoint | held-out source | sequences | masked-token acc. | entity acc. (inputs dropped) | chance | aligned positions |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        ent = "–" if r["entity_accuracy"] is None else f"{100 * r['entity_accuracy']:.1f} %"
        print(f"| {r['checkpoint']} | {r['source']} | {r['sequences']} | {100 * r['mlm_accuracy']:.1f} % | {ent} | "
              f"{100 * r['entity_chance']:.1f} % | {r['entity_positions']} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
