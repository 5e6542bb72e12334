"""SemBERT vs BERT training throughput at equal sequence length (issue 13 target: >= 0.8x).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.bench_sembert [--quick]

Both models are built by :func:`kgbert.models.build_model` with the same random BERT backbone
config; a training step is forward + backward + AdamW step on one batch of synthetic inputs of
the same shape (``batch`` x ``length`` tokens; SemBERT also gets words of 1-4 tokens and
``num_frames`` frames of random role labels; SRL annotation is not counted: it is cached). The two
models alternate, ``repeats`` timed rounds of ``steps`` steps each (after warm-up steps), and the
table gives the median samples/s of each and the ratio of the medians. Prints a Markdown table and
writes ``benchmarks/results/sembert_throughput.json``.
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
}


def synthetic_batch(task: str, batch: int, length: int, frames: int, roles: int, seed: int) -> dict[str, torch.Tensor]:
    """BERT inputs + SemBERT's (words of 1-4 tokens, random roles), full length, labels."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 1000, (batch, length), generator=g)
    word_ids = torch.zeros(batch, length, dtype=torch.long)
    n_words = []
    for b in range(batch):
        t, w = 0, 0
        while t < length:
            size = int(torch.randint(1, 5, (1,), generator=g))
            w += 1
            word_ids[b, t : t + size] = w
            t += size
        n_words.append(w)
    W = max(n_words)
    role_ids = torch.zeros(batch, frames, W, dtype=torch.long)
    for b, n in enumerate(n_words):
        role_ids[b, :, :n] = torch.randint(1, roles, (frames, n), generator=g)
    labels = torch.randint(0, 3, (batch, length) if task == "token" else (batch,), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids),
            "word_ids": word_ids, "role_ids": role_ids, "labels": labels}


def timed_steps(model, optimizer, batch: dict[str, torch.Tensor], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def bench(size: str, task: str, batch: int, length: int, steps: int, repeats: int, label_encoder: str) -> dict[str, Any]:
    cfg = {**SIZES[size], "vocab_size": 1000, "max_position_embeddings": max(512, length)}
    torch.manual_seed(0)
    models = {
        "bert": build_model("bert", task, 3, backbone_config=cfg),
        "sembert": build_model("sembert", task, 3, backbone_config=cfg, label_encoder=label_encoder),
    }
    full = synthetic_batch(task, batch, length, models["sembert"].config.num_frames,
                           models["sembert"].config.num_role_labels, seed=1)
    batches = {"bert": {k: v for k, v in full.items() if k not in ("word_ids", "role_ids")}, "sembert": full}
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-5) for k, m in models.items()}
    for k, m in models.items():
        m.train()
        timed_steps(m, opts[k], batches[k], 2)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in tqdm(range(repeats), desc=f"{size}/{task}/{label_encoder}", leave=False):
        for k in models:  # alternate, so both see the same machine load
            times[k].append(batch * steps / timed_steps(models[k], opts[k], batches[k], steps))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"size": size, "task": task, "label_encoder": label_encoder, "batch": batch, "length": length,
            "steps": steps, "repeats": repeats, "bert_samples_per_s": med["bert"],
            "sembert_samples_per_s": med["sembert"], "ratio": med["sembert"] / med["bert"],
            "paired_ratio": statistics.median(s / b for s, b in zip(times["sembert"], times["bert"])),
            "runs": times}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny model, few steps (a smoke run)")
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--out", default=str(RESULTS / "sembert_throughput.json"))
    args = ap.parse_args(argv)
    plan = ([("tiny", "sequence", "bigru")] if args.quick else
            [("tiny", "sequence", "bigru"), ("small", "sequence", "bigru"), ("small", "token", "bigru"),
             ("small", "sequence", "linear")])
    steps, repeats = (2, 3) if args.quick else (3, 7)
    rows = [bench(s, t, args.batch, args.length, steps, repeats, e) for s, t, e in plan]
    print(f"\nSemBERT vs BERT training throughput (batch {args.batch} x {args.length} tokens, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); median of {repeats} alternating rounds)\n")
    print("| model | task | label encoder | BERT samples/s | SemBERT samples/s | SemBERT / BERT | median per-round ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['task']} | {r['label_encoder']} | {r['bert_samples_per_s']:.1f} | "
              f"{r['sembert_samples_per_s']:.1f} | {r['ratio']:.2f} | {r['paired_ratio']:.2f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"machine": platform.platform(), "threads": torch.get_num_threads(),
                               "torch": torch.__version__, "rows": rows}, indent=1), encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
