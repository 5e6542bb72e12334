"""Masked-token accuracy of pretrained checkpoints by input length: does a backbone cope with the
short, padded inputs that fine-tuning feeds it?

    python -m benchmarks.heldout_by_length --models shipped=backbones/kgbert-zh-small-wwm \
        continued=runs/pretrain/zh_small_wwm_c1/best --out benchmarks/results/pretrain_by_length

Two kinds of text, never trained on by the project's pretraining (only *training* splits of the
labelled sets went into its corpus):

- ``dev:<set>``: the dev split of a labelled set, one example per sequence, cut to the length and
  padded in the batch: what fine-tuning sees (reviews, clinical sentences, news sentences);
- ``heldout:<source>``: the held-out documents of a pretraining config's sources, packed into
  full windows of the length (FULL-SENTENCES, what pretraining sees).

Every checkpoint is scored on the same token-level masks (BERT's 15 %, 80/10/10, a fixed seed:
the masks depend only on the token ids, so the checkpoints must share a vocabulary; checked).
Prints a Markdown table (accuracy %, mean loss, number of masked tokens) and writes
``OUT.md`` / ``OUT.json``.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Sequence

from kgbert.cli import doc_summary

DEV_SETS = {  # name -> (path under the shared data dir, reader, task)
    "chnsenticorp": ("chnsenticorp/dev.tsv", "tsv", "sequence"),
    "finfe": ("finfe/dev.tsv", "tsv", "sequence"),
    "medical_ner": ("medical_ner/dev.tsv", "ner_tsv", "token"),
    "msra_ner": ("msra_ner/dev.tsv", "ner_tsv", "token"),
}
EVAL_SEED = 20261205


def dev_sequences(tokenizer: Any, name: str, data_dir: str, length: int, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` examples of a dev split, each tokenised and cut to ``length`` tokens."""
    from kgbert.data.readers import read_examples

    rel, reader, task = DEV_SETS[name]
    out = []
    for ex in read_examples(os.path.join(data_dir, rel), reader, task)[:limit]:
        ids = tokenizer(ex.text_a, truncation=True, max_length=length)["input_ids"]
        if len(ids) > 3:
            out.append({"input_ids": ids})
    return out


def heldout_windows(tokenizer: Any, config_path: str, length: int, limit: int) -> dict[str, list[dict[str, Any]]]:
    """Per held-out source of a pretraining config: its first ``limit`` packed windows of ``length``."""
    from kgbert.pretraining.config import load_pretrain_config
    from kgbert.pretraining.data import heldout_sequences

    cfg = load_pretrain_config(config_path)
    return {s.label: heldout_sequences(s, tokenizer, length, limit) for s in cfg.data.corpus if s.holdout > 0}


def masked_batches(tokenizer: Any, seqs: Sequence[dict[str, Any]], batch_size: int) -> list[dict[str, Any]]:
    """Statically masked, padded batches: the same positions for every checkpoint."""
    from kgbert.data.collators import build_collator

    collator = build_collator("mlm", tokenizer, mlm_probability=0.15, static=False, seed=EVAL_SEED)
    return [collator([{**s, "key": i + j} for j, s in enumerate(seqs[i:i + batch_size])])
            for i in range(0, len(seqs), batch_size)]


def run(models: dict[str, str], lengths: Sequence[int], dev: Sequence[str], data_dir: str, config: str | None,
        limit: int, batch_size: int) -> list[dict[str, Any]]:
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from kgbert.pretraining.run import masked_accuracy  # under no_grad, model in eval mode

    tokenizers = {name: AutoTokenizer.from_pretrained(path, local_files_only=True) for name, path in models.items()}
    vocabs = {name: tuple(tok.convert_ids_to_tokens(list(range(len(tok))))) for name, tok in tokenizers.items()}
    if len(set(vocabs.values())) != 1:
        raise SystemExit(f"the checkpoints do not share a vocabulary ({', '.join(models)}): their masks would differ")
    tok = next(iter(tokenizers.values()))
    sets: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for n in lengths:
        for name in dev:
            sets[(f"dev:{name}", n)] = masked_batches(tok, dev_sequences(tok, name, data_dir, n, limit), batch_size)
        if config:
            for src, seqs in heldout_windows(tok, config, n, limit).items():
                sets[(f"heldout:{src}", n)] = masked_batches(tok, seqs, batch_size)
    rows = []
    for mname, path in models.items():
        model = AutoModelForMaskedLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
        for (sname, n), batches in tqdm(sets.items(), desc=mname):
            r = masked_accuracy(model, batches)
            rows.append({"model": mname, "path": path, "set": sname, "length": n,
                         "sequences": sum(int(b["input_ids"].shape[0]) for b in batches), **r})
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    models = list(dict.fromkeys(r["model"] for r in rows))
    keys = list(dict.fromkeys((r["set"], r["length"]) for r in rows))
    by = {(r["model"], r["set"], r["length"]): r for r in rows}
    out = ["| text | max length | sequences | masked tokens | " + " | ".join(f"{m} acc. % (loss)" for m in models) + " |",
           "|---|---:|---:|---:|" + "---:|" * len(models)]
    for s, n in keys:
        first = by[(models[0], s, n)]
        cells = [f"{100 * by[(m, s, n)]['accuracy']:.1f} ({by[(m, s, n)]['loss']:.2f})" for m in models]
        out.append(f"| {s} | {n} | {first['sequences']} | {first['n_predictions']} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.heldout_by_length", description=doc_summary(__doc__))
    ap.add_argument("--models", nargs="+", required=True, help="name=checkpoint_dir (a shared vocabulary)")
    ap.add_argument("--lengths", nargs="+", type=int, default=[32, 64, 128])
    ap.add_argument("--dev", nargs="*", default=list(DEV_SETS), choices=list(DEV_SETS))
    ap.add_argument("--config", default="configs/pretrain/zh_small_wwm.yaml",
                    help="pretraining config whose held-out documents are scored ('' for none)")
    ap.add_argument("--data-dir", default=os.environ.get("KGBERT_SHARED_DATA", "../shared/data"))
    ap.add_argument("--limit", type=int, default=400, help="sequences per text and length")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="write OUT.md and OUT.json")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    models = dict(m.split("=", 1) for m in a.models)
    rows = run(models, a.lengths, a.dev, a.data_dir, a.config or None, a.limit, a.batch_size)
    md = markdown(rows)
    print(md)
    if a.out:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        head = ("Masked-token accuracy by input length (`python -m benchmarks.heldout_by_length`), models: "
                + ", ".join(f"{k} = `{v}`" for k, v in models.items()) + "\n\n")
        out.with_suffix(".md").write_text(head + md, encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
