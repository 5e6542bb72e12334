"""Aggregate multi-seed runs into a Markdown table (mean +- std), JSON and a PNG plot.

``python -m kgbert.training.report runs/medical_ner_bert runs/medical_ner_kbert --out benchmarks/results/medical_ner``

Each positional argument is a run group: a folder of per-seed run directories (each with a
``metrics.json``), or a single run directory. ``std`` is the sample standard deviation (n - 1).
"""
from __future__ import annotations

from kgbert.cli import doc_summary

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Sequence

SPLIT_METRICS = {"token": ("precision", "recall", "f1"), "sequence": ("accuracy", "macro_f1"), "pair": ("accuracy", "macro_f1"),
                 "relation": ("accuracy", "macro_f1"), "entity_typing": ("accuracy", "macro_f1")}
MULTI_LABEL_METRICS = ("accuracy", "loose_macro_f1", "loose_micro_f1")  # multi-label entity typing (ERNIE's FIGER columns)


def load_group(path: str | Path) -> list[dict]:
    """The ``metrics.json`` of every finished run under ``path`` (sorted by seed)."""
    path = Path(path)
    files = [path / "metrics.json"] if (path / "metrics.json").is_file() else sorted(path.glob("*/metrics.json"))
    runs = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    return sorted(runs, key=lambda m: m.get("seed", 0))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample std (0 for a single value)."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(groups: dict[str, list[dict]], split: str = "test") -> dict[str, dict]:
    """Per group: n, seeds, and mean/std/values of each metric on ``split`` (as percentages)."""
    out = {}
    for name, runs in groups.items():
        if not runs:
            continue
        multi = "loose_micro_f1" in runs[0].get(split, runs[0].get("dev", {}))
        keys = MULTI_LABEL_METRICS if multi else SPLIT_METRICS.get(runs[0].get("task", "token"), ("f1",))
        row: dict = {"n": len(runs), "seeds": [r.get("seed") for r in runs]}
        for k in keys:
            vals = [100.0 * r[split][k] for r in runs if k in r.get(split, {})]
            m, s = mean_std(vals)
            row[k] = {"mean": m, "std": s, "values": vals}
        dev = [100.0 * r["dev"][keys[-1]] for r in runs if keys[-1] in r.get("dev", {})]
        row["dev_" + keys[-1]] = dict(zip(("mean", "std"), mean_std(dev)), values=dev)
        row["wall_minutes"] = statistics.fmean(r.get("wall_seconds", math.nan) for r in runs) / 60
        out[name] = row
    return out


def markdown(summary: dict[str, dict], title: str, paper: dict[str, str]) -> str:
    """A Markdown table: one row per group, mean +- std per metric."""
    if not summary:
        return f"### {title}\n\n(no finished runs)\n"
    first = next(iter(summary.values()))
    metrics = [k for k in first if isinstance(first[k], dict) and not k.startswith("dev_")]
    dev_key = next(k for k in first if k.startswith("dev_"))
    head = ["run", "seeds", *[f"test {m}" for m in metrics], dev_key.replace("_", " "), "min/run", "paper"]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in summary.items():
        cells = [name, str(row["n"])]
        cells += [f"{row[m]['mean']:.2f} ± {row[m]['std']:.2f}" for m in metrics]
        cells += [f"{row[dev_key]['mean']:.2f} ± {row[dev_key]['std']:.2f}", f"{row['wall_minutes']:.1f}", paper.get(name, "")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Mean ± sample std over seeds, in percent; per-seed values in the JSON file."]
    return "\n".join(lines) + "\n"


def plot(summary: dict[str, dict], path: Path, title: str) -> None:
    """Grouped bars (mean, std error bars) per metric, with each seed as a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(summary.values()))
    metrics = [k for k in first if isinstance(first[k], dict) and not k.startswith("dev_")]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(metrics), 3.6))
    width = 0.8 / max(1, len(summary))
    for gi, (name, row) in enumerate(summary.items()):
        xs = [mi + gi * width for mi in range(len(metrics))]
        ax.bar(xs, [row[m]["mean"] for m in metrics], width, yerr=[row[m]["std"] for m in metrics], capsize=3, label=name)
        for x, m in zip(xs, metrics):
            ax.scatter([x] * len(row[m]["values"]), row[m]["values"], color="k", s=8, zorder=3)
    ax.set_xticks([mi + width * (len(summary) - 1) / 2 for mi in range(len(metrics))], [f"test {m}" for m in metrics])
    lo = min(v for row in summary.values() for m in metrics for v in row[m]["values"])
    ax.set_ylim(max(0.0, lo - 10), 100)
    ax.set_ylabel("%")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kgbert.training.report", description=doc_summary(__doc__))
    parser.add_argument("groups", nargs="+", help="run groups (folders of seed runs) or run dirs")
    parser.add_argument("--out", help="write <out>.md, <out>.json and <out>.png")
    parser.add_argument("--title", default="Results")
    parser.add_argument("--split", default="test")
    parser.add_argument("--paper", action="append", default=[], help="group=reference text (repeatable)")
    args = parser.parse_args(argv)
    groups = {Path(g).name: load_group(g) for g in args.groups}
    paper = dict(p.split("=", 1) for p in args.paper)
    summary = summarize(groups, args.split)
    md = markdown(summary, args.title, paper)
    print(md)
    if args.out and summary:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(md, encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        plot(summary, out.with_suffix(".png"), args.title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
