"""ERNIE-THU vs BERT throughput at equal sequence length, training and inference (issue 12 target: >= 0.8x).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.bench_ernie_thu [--quick]

Both models are built by :func:`kgbert.models.build_model` with the same random BERT backbone
config; ERNIE-THU has ``num_aggregator_layers`` = half the layers (the paper's split), a random
frozen table of ``--entities`` x 100 vectors (the table size does not change the compute: one
gather) and an entity on ``--density`` of the tokens (first tokens of linked mentions). A
training step is forward + backward + AdamW step on one batch of ``batch`` x ``length`` tokens;
an inference step is a forward under ``torch.inference_mode``. The models alternate, ``repeats``
timed rounds of ``steps`` steps each (after warm-up); the table gives the median samples/s of
each, the ratio of the medians and the median per-round ratio. Prints a Markdown table and writes
``benchmarks/results/ernie_thu_throughput.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from kgbert.models import build_model

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
SIZES = {
    "tiny": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512},
    "small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
}


def synthetic_batch(task: str, batch: int, length: int, entities: int, density: float, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 1000, (batch, length), generator=g)
    linked = torch.rand(batch, length, generator=g) < density
    entity_ids = torch.where(linked, torch.randint(1, entities + 1, (batch, length), generator=g), 0)
    entity_ids[:, 0] = 0
    labels = torch.randint(0, 3, (batch, length) if task == "token" else (batch,), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids),
            "entity_ids": entity_ids, "labels": labels}


def timed(model, optimizer, batch: dict[str, torch.Tensor], steps: int, train: bool) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        if train:
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        else:
            with torch.inference_mode():
                model(**batch)
    return time.perf_counter() - start


def bench(size: str, task: str, mode: str, batch: int, length: int, entities: int, density: float,
          steps: int, repeats: int) -> dict[str, Any]:
    cfg = {**SIZES[size], "vocab_size": 1000, "max_position_embeddings": max(512, length)}
    torch.manual_seed(0)
    models = {
        "bert": build_model("bert", task, 3, backbone_config=cfg),
        "ernie_thu": build_model("ernie_thu", task, 3, backbone_config=cfg, num_entities=entities, entity_dim=100),
    }
    full = synthetic_batch(task, batch, length, entities, density, seed=1)
    batches = {"bert": {k: v for k, v in full.items() if k != "entity_ids"}, "ernie_thu": full}
    train = mode == "train"
    if not train:
        for b in batches.values():
            b.pop("labels", None)
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-5) for k, m in models.items()}
    for k, m in models.items():
        m.train(train)
        timed(m, opts[k], batches[k], 2, train)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in tqdm(range(repeats), desc=f"{size}/{task}/{mode}", leave=False):
        for k in models:  # alternate, so both see the same machine load
            times[k].append(batch * steps / timed(models[k], opts[k], batches[k], steps, train))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"size": size, "task": task, "mode": mode, "batch": batch, "length": length, "entities": entities,
            "density": density, "steps": steps, "repeats": repeats, "bert_samples_per_s": med["bert"],
            "ernie_samples_per_s": med["ernie_thu"], "ratio": med["ernie_thu"] / med["bert"],
            "paired_ratio": statistics.median(e / b for e, b in zip(times["ernie_thu"], times["bert"])),
            "runs": times}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny model, few steps (a smoke run)")
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--density", type=float, default=0.1, help="share of tokens that carry an entity")
    ap.add_argument("--sizes", default="tiny,small", help=f"comma-separated, of {sorted(SIZES)}")
    ap.add_argument("--tasks", default="sequence,token")
    ap.add_argument("--out", default=str(RESULTS / "ernie_thu_throughput.json"))
    args = ap.parse_args(argv)
    plan = ([("tiny", "sequence", "train"), ("tiny", "sequence", "infer")] if args.quick else
            [(s, t, m) for s in args.sizes.split(",") for t in args.tasks.split(",") for m in ("train", "infer")])
    steps, repeats = (2, 3) if args.quick else (3, 5)
    rows = [bench(s, t, m, args.batch, args.length, args.entities, args.density, steps, repeats) for s, t, m in plan]
    print(f"\nERNIE-THU vs BERT throughput (batch {args.batch} x {args.length} tokens, {args.density:.0%} of tokens "
          f"linked, {args.entities} x 100 table, torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"median of {repeats} alternating rounds)\n")
    print("| model | task | mode | BERT samples/s | ERNIE-THU samples/s | ERNIE / BERT | median per-round ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['task']} | {r['mode']} | {r['bert_samples_per_s']:.1f} | "
              f"{r['ernie_samples_per_s']:.1f} | {r['ratio']:.2f} | {r['paired_ratio']:.2f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"machine": platform.platform(), "threads": torch.get_num_threads(),
                               "torch": torch.__version__, "args": vars(args), "rows": rows}, indent=1),
                   encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
