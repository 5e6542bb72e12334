"""BERT's pretraining family at equal FLOPs: the pretraining table, the fine-tuning table with the
papers' deltas, and the plot of score against pretraining compute per member.

    python -m benchmarks.pretraining_family_report --runs runs/pretraining_family \
        --bench runs/pretraining_family/bench/results.json --out benchmarks/results/pretraining_family

Reads each member's ``RUNS/pre_<member>/`` (``best/pretrain.json``, ``train_log.jsonl``) and
``RUNS/pre_<member>.log`` (``/usr/bin/time -v``: CPU and wall time, written by
``benchmarks/run_pretraining_family.sh``), the FLOPs plan (``benchmarks/pretraining_family_flops.py``)
and the bench grid's ``results.json`` (``configs/bench/pretraining_family.yaml``). Writes
``pretraining.{md,json}``, ``finetune.{md,json}`` (mean ± std per member and task, the difference
from mlm and whether it is within the seed spread = the larger of the two stds, the harness's rule;
the papers' deltas over BERT beside them) and ``score_vs_compute.png``. Missing members are skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

from benchmarks.pretraining_family_flops import MEMBERS, plan

ROWS = ("bert_random", *MEMBERS)
HELDOUT = {  # what each member's held-out figure is
    "bert": "masked-token accuracy (BERT token masks, fixed held-out set)",
    "albert": "masked-token accuracy (BERT token masks, fixed held-out set)",
    "electra": "the quarter-width generator's masked-token accuracy (not the discriminator)",
    "xlnet": "permutation-LM accuracy over its predicted spans (not comparable)",
}
# the papers' reported deltas over BERT (English GLUE / SQuAD, base or large models, their full budgets)
PAPER = {
    "roberta": "at equal compute, batch 2K x 125K steps vs 256 x 1M: MNLI-m +0.5, SST-2 +0.2 (Liu et al. 2019, Table 3)",
    "spanbert": "SQuAD 1.1 F1 about +3, GLUE average about +2 over Google's BERT-large; SST-2 about unchanged (Joshi et al. 2020)",
    "structbert": "no equal-compute delta reported (absolute GLUE results; Wang et al. 2020)",
    "albert": "ALBERT-base (12M) vs BERT-base (108M), same width/depth: average -2.2, MNLI -2.9, SST-2 -2.5 (Lan et al. 2020, Table 2)",
    "electra": "at equal compute: GLUE dev +4.8 (Small, 79.9 vs 75.1), +2.9 (Base, 85.1 vs 82.2) (Clark et al. 2020, Table 1)",
    "xlnet": "XLNet-Large vs BERT-Large, same data: about +1 MNLI, under +1 on SST-2 and QQP (Yang et al. 2019, Table 1)",
}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def time_v(log: Path) -> dict[str, float]:
    """CPU (user + system) and wall seconds from a ``/usr/bin/time -v`` report at the end of ``log``."""
    if not log.is_file():
        return {}
    text = log.read_text(encoding="utf-8", errors="replace")
    out: dict[str, float] = {}
    u = re.search(r"User time \(seconds\): ([\d.]+)", text)
    s = re.search(r"System time \(seconds\): ([\d.]+)", text)
    w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if u and s:
        out["cpu_s"] = float(u.group(1)) + float(s.group(1))
    if w:
        parts = [float(p) for p in w.group(1).split(":")]
        out["wall_s"] = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return out


def count_params(best: Path) -> int | None:
    f = best / "model.safetensors"
    if not f.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(f), framework="pt") as fh:
        return sum(_prod(fh.get_slice(k).get_shape()) for k in fh.keys())


def _prod(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def pretraining_rows(runs: Path, mlm_steps: int) -> list[dict[str, Any]]:
    planned = {r["member"]: r for r in plan(mlm_steps)}
    rows = []
    for m, p in planned.items():
        run = runs / f"pre_{m}"
        info_path = run / "best" / "pretrain.json"
        if not info_path.is_file():
            continue
        info = json.loads(info_path.read_text(encoding="utf-8"))
        train_log = [json.loads(line) for line in (run / "train_log.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
        losses = [r["loss"] for r in train_log if "loss" in r]
        held = info.get("heldout") or {}
        t = time_v(runs / f"pre_{m}.log")
        runtime = (info.get("train") or {}).get("train_runtime")
        tokens = info.get("tokens_seen")
        rows.append({
            "member": m, "recipe": p["recipe"], "family": p["family"], "objectives": p["objectives"],
            "steps": info.get("global_step"), "planned_steps": p["steps"], "sequences_per_step": p["sequences_per_step"],
            "tokens": tokens, "flops": p["flops_per_step"] * (info.get("global_step") or 0),
            "flops_per_token_vs_mlm": p["flops_vs_mlm_per_token"],
            "train_wall_s": runtime, "wall_s": t.get("wall_s"), "cpu_s": t.get("cpu_s"),
            "tokens_per_s": tokens / runtime if tokens and runtime else None,
            "tokens_per_cpu_s": tokens / t["cpu_s"] if tokens and t.get("cpu_s") else None,
            "params_best": count_params(run / "best"),
            "heldout_accuracy": held.get("eval_accuracy"), "heldout_loss": held.get("eval_loss"),
            "heldout_measures": HELDOUT[p["family"]], "last_train_loss": losses[-1] if losses else None,
        })
    return rows


def pretraining_markdown(rows: Sequence[dict[str, Any]]) -> str:
    head = ["member", "objectives", "steps x sequences", "tokens", "est. training FLOPs", "FLOPs/token vs mlm",
            "wall (min)", "CPU (min)", "tokens/s (wall)", "tokens/CPU-s", "params in best/", "held-out acc. %", "last train loss"]
    out = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        def f(v: Any, fmt: str) -> str:
            return format(v, fmt) if v is not None else "–"
        out.append(f"| {r['member']} | {', '.join(r['objectives'])} ({r['family']}) | {r['steps']} x {r['sequences_per_step']} | "
                   f"{r['tokens'] / 1e6:.2f}M | {r['flops']:.3g} | {r['flops_per_token_vs_mlm']:.2f}x | "
                   f"{f(r['wall_s'] and r['wall_s'] / 60, '.1f')} | {f(r['cpu_s'] and r['cpu_s'] / 60, '.1f')} | "
                   f"{f(r['tokens_per_s'], ',.0f')} | {f(r['tokens_per_cpu_s'], ',.0f')} | "
                   f"{f(r['params_best'] and r['params_best'] / 1e6, '.2f')}M | {f(r['heldout_accuracy'] and 100 * r['heldout_accuracy'], '.1f')} | "
                   f"{f(r['last_train_loss'], '.2f')} |")
    notes = sorted({(r["family"], r["heldout_measures"]) for r in rows})
    out.append("")
    out += [f"Held-out figure, {fam}: {what}." for fam, what in notes]
    return "\n".join(out) + "\n"


def score_table(summary: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for r in summary:
        if r.get("mean") is not None:
            table.setdefault(r["encoder"], {})[r["task"]] = r
    return table


def verdict(a: dict[str, Any] | None, b: dict[str, Any] | None) -> tuple[float | None, str]:
    """(difference of means a - b, within/beyond the larger std)."""
    if not a or not b:
        return None, ""
    d, spread = a["mean"] - b["mean"], max(a["std"], b["std"])
    if min(a["n"], b["n"]) < 2:
        return d, "one seed"
    if d == 0 and spread == 0:
        return d, "identical"
    return d, "within" if abs(d) <= spread else "beyond"


def finetune_rows(table: dict[str, dict[str, dict[str, Any]]], tasks: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for e in ROWS:
        if e not in table:
            continue
        row: dict[str, Any] = {"member": e, "paper": PAPER.get(e, "–"), "tasks": {}}
        for t in tasks:
            r = table[e].get(t)
            d, v = verdict(r, table.get("mlm", {}).get(t))
            dr, vr = verdict(r, table.get("bert_random", {}).get(t))
            row["tasks"][t] = {"mean": r["mean"] if r else None, "std": r["std"] if r else None, "n": r["n"] if r else 0,
                               "values": r.get("values") if r else None, "vs_mlm": d, "vs_mlm_verdict": v,
                               "vs_random": dr, "vs_random_verdict": vr, "metric": r["metric"] if r else None}
        rows.append(row)
    return rows


def finetune_markdown(rows: Sequence[dict[str, Any]], tasks: Sequence[str]) -> str:
    metric = {t: next((r["tasks"][t]["metric"] for r in rows if r["tasks"][t]["metric"]), "") for t in tasks}
    out = ["| member | " + " | ".join(f"{t} ({metric[t]}, %)" for t in tasks) + " | papers: delta over BERT |",
           "|---|" + "---|" * len(tasks) + "---|"]
    for r in rows:
        cells = []
        for t in tasks:
            c = r["tasks"][t]
            if c["mean"] is None:
                cells.append("–")
                continue
            s = f"{c['mean']:.2f} ± {c['std']:.2f}"
            if r["member"] != "mlm" and c["vs_mlm"] is not None:
                s += f" ({c['vs_mlm']:+.2f} vs mlm, {c['vs_mlm_verdict']})"
            cells.append(s)
        out.append(f"| {r['member']} | " + " | ".join(cells) + f" | {r['paper']} |")
    return "\n".join(out) + "\n"


def plot(pre: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], tasks: Sequence[str], path: Path) -> None:
    """Score (mean ± std over seeds) against the member's pretraining compute: estimated FLOPs
    (equal by construction: the x offsets only separate the markers) and measured CPU time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cpu = {r["member"]: (r["cpu_s"] or 0) / 60 for r in pre}
    cpu["bert_random"] = 0.0
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 4.0), squeeze=False)
    for ax, t in zip(axes[0], tasks):
        for i, r in enumerate(rows):
            c = r["tasks"][t]
            if c["mean"] is None or r["member"] not in cpu:
                continue
            ax.errorbar(cpu[r["member"]], c["mean"], yerr=c["std"], fmt="o", capsize=3, color=f"C{i}", label=r["member"])
            ax.annotate(r["member"], (cpu[r["member"]], c["mean"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set(xlabel="pretraining CPU time (core-minutes; equal estimated FLOPs)", ylabel=f"{t} ({rows[0]['tasks'][t]['metric']}, %)")
        ax.set_title(t)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("BERT's pretraining family at equal training FLOPs: score vs pretraining compute (mean ± std, 3 seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True, help="the runner's RUNS directory (pre_<member>/, pre_<member>.log)")
    ap.add_argument("--mlm-steps", type=int, default=256)
    ap.add_argument("--bench", help="the bench grid's results.json")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pre = pretraining_rows(Path(args.runs), args.mlm_steps)
    _write(out / "pretraining.json", json.dumps(pre, indent=1) + "\n")
    _write(out / "pretraining.md", pretraining_markdown(pre))
    print(pretraining_markdown(pre))
    if args.bench:
        res = json.loads(Path(args.bench).read_text(encoding="utf-8"))
        tasks = list(dict.fromkeys(r["task"] for r in res["summary"]))
        rows = finetune_rows(score_table(res["summary"]), tasks)
        _write(out / "finetune.json", json.dumps(rows, indent=1) + "\n")
        _write(out / "finetune.md", finetune_markdown(rows, tasks))
        plot(pre, rows, tasks, out / "score_vs_compute.png")
        print(finetune_markdown(rows, tasks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
