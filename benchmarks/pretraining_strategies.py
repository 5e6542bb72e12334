"""Masking strategies at equal budget: tables and plots from the three pretraining runs and the
fine-tuning grid (configs/pretrain/zh_small_equal_budget.yaml, configs/bench/pretraining_strategies.yaml).

    python benchmarks/pretraining_strategies.py --runs mlm=RUN_MLM wwm=RUN_WWM ernie=RUN_ERNIE \
        --bench runs/bench/pretraining_strategies/results.json --out benchmarks/results/pretraining_strategies

Writes ``pretraining.{md,json}`` (steps, tokens, wall time, tokens/s, held-out masked-token
accuracy per strategy), ``heldout.png`` (held-out accuracy and training loss against tokens),
``finetune.{md,json}`` (mean ± std per row and task), ``gains.{md,json}`` (differences of means:
pretraining over random init, wwm and ernie over mlm, K-BERT over BERT, each marked within or
beyond the seed spread = the larger of the two stds, as the bench harness does) and
``finetune.png``. Works with any subset of runs and rows (missing ones are skipped).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Sequence

from kgbert.pretraining.report import read_log

STRATEGIES = ("mlm", "wwm", "ernie")
BACKBONES = ("random", *STRATEGIES)
ENCODERS = ("bert", "kbert")
# the papers' reported deltas (points, test split, base-size models) beside ours
PAPER_DELTAS: dict[tuple[str, str], dict[str, str]] = {
    ("wwm", "mlm"): {"*": "+0.3 to +1 (Cui et al., BERT-wwm, Chinese tasks)"},
    ("ernie", "mlm"): {"chnsenticorp": "+1.1 (94.3 -> 95.4, Sun et al. 2019)", "msra_ner": "+1.2 (92.6 -> 93.8, Sun et al. 2019)"},
    ("kbert", "bert"): {"medical_ner": "+1.7 (92.5 -> 94.2, Liu et al. 2020)",
                        "*": "under 1 point on open-domain tasks (Liu et al. 2020)"},
}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def pretraining_rows(runs: dict[str, Path]) -> list[dict[str, Any]]:
    rows = []
    for name, run in runs.items():
        _, evals = read_log(run)
        info_path = run / "best" / "pretrain.json"
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
        last = evals[-1] if evals else {}
        train = info.get("train", {})
        runtime = train.get("train_runtime")
        tokens = info.get("tokens_seen", last.get("tokens_seen"))
        rows.append({
            "strategy": name, "run": str(run), "finished": bool(info),
            "steps": info.get("global_step", last.get("step")), "tokens": tokens,
            "train_wall_s": runtime, "total_wall_s": info.get("cumulative", {}).get("wall_seconds"),
            "tokens_per_s": tokens / runtime if tokens and runtime else None,
            "heldout_accuracy": last.get("eval_accuracy"),
            "heldout_per_source": {k[5:-9]: v for k, v in last.items()
                                   if k.startswith("eval_") and k.endswith("_accuracy") and k != "eval_accuracy"},
            "heldout_curve": [(r.get("tokens_seen"), r["eval_accuracy"]) for r in evals],
        })
    return rows


def _minutes(s: float | None) -> str:
    return f"{s / 60:.1f} min" if s else "–"


def _pct(v: float | None) -> str:
    return f"{100 * v:.1f}" if v is not None else "–"


def pretraining_markdown(rows: Sequence[dict[str, Any]]) -> str:
    sources = sorted({s for r in rows for s in r["heldout_per_source"]})
    head = ["strategy", "steps", "tokens", "train wall", "total wall", "tokens/s", "held-out acc. %", *sources]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        per = "".join(f" {_pct(r['heldout_per_source'].get(s))} |" for s in sources)
        tps = f"{r['tokens_per_s']:,.0f}" if r["tokens_per_s"] else "–"
        out.append(f"| {r['strategy']}{'' if r['finished'] else ' (running)'} | {r['steps']} | {(r['tokens'] or 0) / 1e6:.2f}M | "
                   f"{_minutes(r['train_wall_s'])} | {_minutes(r['total_wall_s'])} | {tps} | {_pct(r['heldout_accuracy'])} |{per}")
    return "\n".join(out) + "\n"


def plot_heldout(runs: dict[str, Path], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, run in runs.items():
        train, evals = read_log(run)
        a1.plot([r.get("tokens_seen", 0) / 1e6 for r in train], [r["loss"] for r in train], lw=1, label=name)
        a2.plot([r.get("tokens_seen", 0) / 1e6 for r in evals], [100 * r["eval_accuracy"] for r in evals], marker="o", label=name)
    a1.set(xlabel="tokens (M)", ylabel="training loss (on each strategy's own masks)")
    a2.set(xlabel="tokens (M)", ylabel="held-out masked-token accuracy (%, token masks)")
    for a in (a1, a2):
        a.legend()
    fig.suptitle("Masking strategies at equal budget (4 x 256 BERT)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def score_table(summary: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """encoder row -> task -> summary row (finished cells only)."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for r in summary:
        if r.get("mean") is not None:
            table.setdefault(r["encoder"], {})[r["task"]] = r
    return table


def finetune_markdown(table: dict[str, dict[str, dict[str, Any]]], tasks: Sequence[str]) -> str:
    metric = {t: next((rows[t]["metric"] for rows in table.values() if t in rows), "") for t in tasks}
    out = ["| row | " + " | ".join(f"{t} ({metric[t]})" for t in tasks) + " |", "|" + "---|" * (len(tasks) + 1)]
    for enc in (f"{e}_{b}" for e in ENCODERS for b in BACKBONES):
        if enc not in table:
            continue
        cells = [f"{table[enc][t]['mean']:.2f} ± {table[enc][t]['std']:.2f} (n={table[enc][t]['n']})" if t in table[enc] else "–"
                 for t in tasks]
        out.append(f"| {enc} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _pairs() -> list[tuple[str, str, str, tuple[str, str]]]:
    """(label, row a, row b, paper key): gains of a over b."""
    out = []
    for e in ENCODERS:
        out += [(f"{e}: {s} over random init", f"{e}_{s}", f"{e}_random", ("", "")) for s in STRATEGIES]
        out += [(f"{e}: {s} over mlm", f"{e}_{s}", f"{e}_mlm", (s, "mlm")) for s in ("wwm", "ernie")]
    out += [(f"K-BERT over BERT ({b})", f"kbert_{b}", f"bert_{b}", ("kbert", "bert")) for b in BACKBONES]
    return out


def gains(table: dict[str, dict[str, dict[str, Any]]], tasks: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for label, a, b, key in _pairs():
        for t in tasks:
            ra, rb = table.get(a, {}).get(t), table.get(b, {}).get(t)
            if not ra or not rb:
                continue
            diff, spread = ra["mean"] - rb["mean"], max(ra["std"], rb["std"])
            paper = PAPER_DELTAS.get(key, {})
            rows.append({"gain": label, "task": t, "a": a, "b": b, "delta": diff, "spread": spread,
                         "within_spread": abs(diff) <= spread, "n": min(ra["n"], rb["n"]),
                         "paper": paper.get(t, paper.get("*", "–"))})
    return rows


def gains_markdown(rows: Sequence[dict[str, Any]]) -> str:
    out = ["| gain | task | Δ (points) | seed spread (larger std) | verdict | paper |", "|---|---|---|---|---|---|"]
    for r in rows:
        if r["n"] < 2:
            verdict = "one seed: no spread"
        elif r["delta"] == 0 and r["spread"] == 0:
            verdict = "no signal (identical scores)"
        else:
            verdict = "within the spread" if r["within_spread"] else "beyond the spread"
        out.append(f"| {r['gain']} | {r['task']} | {r['delta']:+.2f} | {r['spread']:.2f} | {verdict} | {r['paper']} |")
    return "\n".join(out) + "\n"


def plot_finetune(table: dict[str, dict[str, dict[str, Any]]], tasks: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.8), squeeze=False)
    colours = {"random": "0.6", "mlm": "C0", "wwm": "C1", "ernie": "C2"}
    for ax, t in zip(axes[0], tasks):
        for i, e in enumerate(ENCODERS):
            for j, b in enumerate(BACKBONES):
                r = table.get(f"{e}_{b}", {}).get(t)
                if r:
                    ax.bar(i * (len(BACKBONES) + 1) + j, r["mean"], yerr=r["std"], color=colours[b], capsize=3,
                           label=b if i == 0 else None)
        ax.set_xticks([1.5, 1.5 + len(BACKBONES) + 1], ["BERT", "K-BERT"])
        metric = next((table[k][t]["metric"] for k in table if t in table[k]), "")
        ax.set_title(f"{t} ({metric}, %)")
    axes[0][0].legend(title="backbone", fontsize=8)
    fig.suptitle("Fine-tuning from each backbone (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="*", default=[], help="strategy=RUN_DIR")
    ap.add_argument("--bench", help="the bench grid's results.json")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = {k: Path(v) for k, v in (a.split("=", 1) for a in args.runs)}
    if runs:
        rows = pretraining_rows(runs)
        _write(out / "pretraining.json", json.dumps(rows, indent=1))
        _write(out / "pretraining.md", pretraining_markdown(rows))
        plot_heldout(runs, out / "heldout.png")
        print(pretraining_markdown(rows))
    if args.bench:
        res = json.loads(Path(args.bench).read_text(encoding="utf-8"))
        tasks = list(dict.fromkeys(r["task"] for r in res["summary"]))
        table = score_table(res["summary"])
        g = gains(table, tasks)
        _write(out / "finetune.json", json.dumps(res["summary"], indent=1))
        _write(out / "finetune.md", finetune_markdown(table, tasks))
        _write(out / "gains.json", json.dumps(g, indent=1))
        _write(out / "gains.md", gains_markdown(g))
        plot_finetune(table, tasks, out / "finetune.png")
        print(finetune_markdown(table, tasks))
        print(gains_markdown(g))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
