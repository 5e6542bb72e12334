"""Progress report of a pretraining run: held-out accuracy per evaluation (Markdown table) and a
PNG of the training loss and held-out accuracy against tokens seen.

    python -m kgbert.pretraining.report RUN_DIR [--out RUN_DIR/progress]

Reads ``train_log.jsonl`` and ``heldout.json`` (unigram baseline); works while the run is going.
"""
from __future__ import annotations

from kgbert.cli import doc_summary

import argparse
import json
import os
from pathlib import Path
from typing import Any


def read_log(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training log records with a loss, evaluation records)."""
    train, evals = [], []
    with open(run_dir / "train_log.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if "loss" in r:
                train.append(r)
            if "eval_accuracy" in r:
                evals.append(r)
    return train, evals


def _sets(evals: list[dict[str, Any]]) -> list[str]:
    return sorted({k[len("eval_"):-len("_accuracy")] for r in evals for k in r
                   if k.startswith("eval_") and k.endswith("_accuracy") and k != "eval_accuracy"})


def markdown(run_dir: Path) -> str:
    train, evals = read_log(run_dir)
    sets = _sets(evals)
    base = {}
    if (run_dir / "heldout.json").is_file():
        base = json.loads((run_dir / "heldout.json").read_text(encoding="utf-8")).get("unigram_baseline", {})
    head = "| step | tokens | " + " | ".join(sets) + " | all |"
    rows = [head, "|" + "---|" * (len(sets) + 3)]
    if base:
        rows.append("| unigram baseline | | " + " | ".join(f"{100 * base.get(s, float('nan')):.1f}" for s in sets) + " | |")
    for r in evals:
        vals = " | ".join(f"{100 * r.get(f'eval_{s}_accuracy', float('nan')):.1f}" for s in sets)
        rows.append(f"| {r['step']} | {r.get('tokens_seen', 0) / 1e6:.2f}M | {vals} | {100 * r['eval_accuracy']:.1f} |")
    tps = [r["tokens_per_second"] for r in train if "tokens_per_second" in r]
    note = f"\nHeld-out masked-token accuracy (%). Training throughput: median {sorted(tps)[len(tps) // 2]:,.0f} tokens/s over {len(tps)} logging intervals.\n" if tps else "\n"
    return "\n".join(rows) + "\n" + note


def plot(run_dir: Path, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, evals = read_log(run_dir)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.plot([r.get("tokens_seen", 0) / 1e6 for r in train], [r["loss"] for r in train], lw=1)
    a1.set_xlabel("tokens (M)")
    a1.set_ylabel("training loss")
    for s in _sets(evals) + [""]:
        key = f"eval_{s}_accuracy" if s else "eval_accuracy"
        a2.plot([r.get("tokens_seen", 0) / 1e6 for r in evals], [100 * r.get(key, float("nan")) for r in evals],
                marker="o", label=s or "all", lw=2 if not s else 1)
    a2.set_xlabel("tokens (M)")
    a2.set_ylabel("held-out masked-token accuracy (%)")
    a2.legend(fontsize=8)
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    tmp = out_png.with_name(out_png.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, out_png)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kgbert.pretraining.report", description=doc_summary(__doc__))
    ap.add_argument("run_dir")
    ap.add_argument("--out", help="write <out>.md and <out>.png (default: RUN_DIR/progress)")
    args = ap.parse_args(argv)
    run_dir = Path(args.run_dir)
    out = Path(args.out) if args.out else run_dir / "progress"
    out.parent.mkdir(parents=True, exist_ok=True)
    md = markdown(run_dir)
    tmp = out.with_name(out.name + ".md.tmp")
    tmp.write_text(md, encoding="utf-8")
    os.replace(tmp, out.with_name(out.name + ".md"))
    plot(run_dir, out.with_name(out.name + ".png"))
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
