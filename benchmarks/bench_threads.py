"""Training-step time by torch thread count, measured side by side in one run.

    nice -n 10 .venv/bin/python -m benchmarks.bench_threads [--threads 1 2] [--rounds 5] [--steps 10]

A small random-init BERT token classifier (the bench configs' budget: hidden 128, 2 layers,
batch 32, length 128) does forward + backward + AdamW steps; the thread counts are interleaved
round by round (so a neighbour's load hits all of them alike) and the table gives the median
step time, steps/s and the ratio to the first thread count. Also printed: the machine's load
average and core count when the run starts, because the right count depends on what else runs.
Prints a Markdown table and writes ``benchmarks/results/bench_threads.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


def step_times(threads: int, steps: int, model, batch, opt) -> list[float]:
    import torch

    torch.set_num_threads(threads)
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--out", default="benchmarks/results/bench_threads.json")
    args = p.parse_args(argv)
    import torch

    from kgbert.models import build_model

    torch.manual_seed(0)
    cfg = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512,
           "max_position_embeddings": 512, "vocab_size": 6000}
    model = build_model("bert", "token", 7, backbone_config=cfg)
    model.train()
    batch = {"input_ids": torch.randint(5, 6000, (args.batch, args.length)),
             "attention_mask": torch.ones(args.batch, args.length, dtype=torch.long),
             "labels": torch.randint(0, 7, (args.batch, args.length))}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    load = os.getloadavg()
    step_times(args.threads[0], 2, model, batch, opt)  # warm-up
    times: dict[int, list[float]] = {t: [] for t in args.threads}
    for _ in range(args.rounds):
        for t in args.threads:
            times[t] += step_times(t, args.steps, model, batch, opt)
    med = {t: statistics.median(v) for t, v in times.items()}
    base = med[args.threads[0]]
    rows = [{"threads": t, "median_step_s": med[t], "steps_per_s": 1 / med[t], "ratio_to_first": med[t] / base,
             "n_steps": len(times[t])} for t in args.threads]
    print(f"cores: {os.cpu_count()}, load average at start: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; "
          f"batch {args.batch} x length {args.length}, hidden 128, 2 layers")
    print("\n| threads | median step (s) | steps/s | step time vs first |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['threads']} | {r['median_step_s']:.3f} | {r['steps_per_s']:.2f} | {r['ratio_to_first']:.2f}x |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"cores": os.cpu_count(), "loadavg": load, "rows": rows, "args": vars(args)}, indent=2))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
