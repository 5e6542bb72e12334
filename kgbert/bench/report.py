"""Bench tables and plots: ``results.json``, ``results.md`` and PNGs from the cells' records.

Scores are shown as percentages, ``mean ± std`` over the seeds (sample std, n - 1; 0 for one
seed). The best mean per task is in bold; under each task's table a line says whether the lead
over the runner-up is within the seed spread (lead <= the larger of the two stds) or beyond it.
Cost columns are medians over the seeds. ``results.md`` and ``results.json`` are written from the
same summary rows (the tests check they agree).
"""
from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

from kgbert.bench.config import BenchConfig
from kgbert.bench.runner import write_json

COST_KEYS = ("train_wall_s", "eval_wall_s", "train_seq_per_s", "train_tokens_per_s", "infer_seq_per_s",
             "infer_tokens_per_s", "peak_rss_mb", "peak_cuda_mb", "n_parameters")


def _median(values: Sequence[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _cut_share(recs: Sequence[dict], splits: Sequence[str], key: str) -> float | None:
    """Truncated share (examples or tokens) over ``splits`` of the first record (same data per seed)."""
    if not recs:
        return None
    data = recs[0].get("data", {})
    num = den = 0
    for s in splits:
        d = data.get(s)
        if d:
            num += d.get(f"truncated_{key}", 0)
            den += d.get(key if key == "examples" else "original_tokens", 0)
    return num / den if den else None


def summarize(cfg: BenchConfig, records: Sequence[dict]) -> list[dict[str, Any]]:
    """One row per (task, encoder) in config order: score mean/std/values (percent), costs, paper."""
    rows = []
    for task, entry in cfg.tasks.items():
        task_rows = []
        for enc in cfg.encoders:
            recs = [r for r in records if r["task"] == task and r["encoder"] == enc]
            if not recs:
                continue
            ok = sorted((r for r in recs if r["status"] == "ok"), key=lambda r: r["seed"])
            vals = [100.0 * r["score"] for r in ok]
            row: dict[str, Any] = {
                "task": task, "encoder": enc,
                "split": recs[0]["split"], "metric": recs[0]["metric"],
                "n": len(vals), "seeds": [r["seed"] for r in ok],
                "failed_seeds": sorted(r["seed"] for r in recs if r["status"] != "ok"),
                "values": vals,
                "mean": statistics.fmean(vals) if vals else None,
                "std": (statistics.stdev(vals) if len(vals) > 1 else 0.0) if vals else None,
                "paper": entry.paper.get(enc),
                "best": False,
            }
            for k in COST_KEYS:
                row[k] = _median(r.get(k) for r in ok)
            eval_split = row["split"]
            row["also"] = {}
            for m in entry.also:  # further metrics of the same split (cells that lack one are left out)
                more = [100.0 * r["scores"][eval_split][m] for r in ok if m in r.get("scores", {}).get(eval_split, {})]
                row["also"][m] = {"n": len(more), "mean": statistics.fmean(more) if more else None,
                                  "std": (statistics.stdev(more) if len(more) > 1 else 0.0) if more else None}
            row["train_cut_examples"] = _cut_share(ok, ["train"], "examples")
            row["eval_cut_examples"] = _cut_share(ok, [eval_split], "examples")
            row["eval_cut_tokens"] = _cut_share(ok, [eval_split], "tokens")
            ev = ok[0].get("data", {}).get(eval_split, {}) if ok else {}
            # knowledge encoders: KG mentions and injected branches per sentence of the reported split
            row["kg_mentions_per_sent"] = ev["entities"] / ev["examples"] if "entities" in ev and ev.get("examples") else None
            row["kg_branches_per_sent"] = ev["branches"] / ev["examples"] if "branches" in ev and ev.get("examples") else None
            task_rows.append(row)
        scored = [r for r in task_rows if r["mean"] is not None]
        if scored:
            top = max(r["mean"] for r in scored)
            for r in scored:
                r["best"] = r["mean"] == top
        rows.extend(task_rows)
    return rows


def spread_note(rows: Sequence[dict]) -> str | None:
    """Whether the best row's lead over the runner-up is within the seed spread."""
    scored = sorted((r for r in rows if r["mean"] is not None), key=lambda r: -r["mean"])
    if len(scored) < 2:
        return None
    a, b = scored[0], scored[1]
    lead = a["mean"] - b["mean"]
    spread = max(a["std"], b["std"])
    if lead == 0:
        return f"{a['encoder']} and {b['encoder']} tie at {a['mean']:.2f}."
    if min(a["n"], b["n"]) < 2:
        verdict = "one seed only: no seed spread to compare with"
    elif lead <= spread:
        verdict = f"within the seed spread (std up to {spread:.2f})"
    else:
        verdict = f"beyond the seed spread (std up to {spread:.2f})"
    return f"{a['encoder']} leads {b['encoder']} by {lead:.2f} points: {verdict}."


def fmt_score(row: dict) -> str:
    if row["mean"] is None:
        return "failed"
    s = f"{row['mean']:.2f} ± {row['std']:.2f}"
    return f"**{s}**" if row["best"] else s


def _num(v: Any, nd: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    if isinstance(v, float) and nd == 1 and abs(v) < 10:
        return f"{v:.2f}"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


MD_COLUMNS = ["encoder", "split", "metric", "score (mean ± std, %)", "n", "paper", "train s", "train seq/s",
              "train tok/s", "infer seq/s", "infer tok/s", "peak RSS MB", "params (M)", "cut ex. train %",
              "cut ex. eval %", "cut tok. eval %", "KG mentions/sent.", "branches/sent."]


def render_markdown(cfg: BenchConfig, rows: Sequence[dict], records: Sequence[dict], env: dict, quick: bool) -> str:
    lines = [f"# Bench `{cfg.name}`" + (" (quick mode)" if quick else ""), ""]
    dev = env.get("device", {})
    ver = env.get("versions", {})
    commits = sorted({f"{str((r.get('environment') or {}).get('git', {}).get('commit'))[:12]}"
                      + (" (dirty)" if (r.get("environment") or {}).get("git", {}).get("dirty") else "")
                      for r in records})
    lines.append(f"Seeds {list(cfg.seeds)}; device {dev.get('device')} ({dev.get('name')}); torch {ver.get('torch')}, "
                 f"transformers {ver.get('transformers')}, python {ver.get('python')}; cells run at git commit(s) "
                 f"{', '.join(commits) or 'unknown'}.")
    lines.append("Scores in percent, mean ± sample std over seeds; best per task in **bold**; costs are medians over "
                 "seeds; throughput counts non-padding input tokens (injected knowledge included); "
                 "'cut' = examples / original tokens truncated to fit max_length.")
    if quick:
        lines.append("**Quick mode**: a tiny budget (the config's `quick:` section) to check the grid end to end; "
                     "its scores are a smoke test, not measurements.")
    lines.append("")
    for task, entry in cfg.tasks.items():
        trows = [r for r in rows if r["task"] == task]
        if not trows:
            continue
        columns = MD_COLUMNS[:4] + [f"{m} (mean ± std, %)" for m in entry.also] + MD_COLUMNS[4:]
        lines += [f"## {task}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for r in trows:
            params = None if r["n_parameters"] is None else r["n_parameters"] / 1e6
            also = ["–" if r["also"][m]["mean"] is None else fmt_score({**r["also"][m], "best": False}) for m in entry.also]
            cells = [r["encoder"], r["split"], r["metric"], fmt_score(r), *also, str(r["n"]),
                     "–" if r["paper"] is None else str(r["paper"]), _num(r["train_wall_s"]), _num(r["train_seq_per_s"]),
                     _num(r["train_tokens_per_s"], 0), _num(r["infer_seq_per_s"]), _num(r["infer_tokens_per_s"], 0),
                     _num(r["peak_rss_mb"], 0), _num(params, 2), _pct(r["train_cut_examples"]),
                     _pct(r["eval_cut_examples"]), _pct(r["eval_cut_tokens"]),
                     _num(r["kg_mentions_per_sent"], 2), _num(r["kg_branches_per_sent"], 2)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        note = spread_note(trows)
        if note:
            lines += [note, ""]
        if entry.paper_note:
            lines += [f"Paper column: {entry.paper_note}", ""]
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        lines += ["## Failed cells", "", "| task | encoder | seed | error |", "|---|---|---|---|"]
        for r in failed:
            msg = f"{r['error']['type']}: {r['error']['message']}".replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r['task']} | {r['encoder']} | {r['seed']} | {msg[:300]} |")
        lines.append("")
    return "\n".join(lines)


def plot_scores(rows: Sequence[dict], path: Path) -> None:
    """Grouped bars: score per encoder per task, error bars = seed std."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    encs = list(dict.fromkeys(r["encoder"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(tasks) * max(1, len(encs)) / 2), 3.6))
    width = 0.8 / max(1, len(encs))
    x = np.arange(len(tasks))
    for i, enc in enumerate(encs):
        m = [next((r["mean"] for r in rows if r["task"] == t and r["encoder"] == enc and r["mean"] is not None), np.nan) for t in tasks]
        s = [next((r["std"] for r in rows if r["task"] == t and r["encoder"] == enc and r["std"] is not None), 0.0) for t in tasks]
        ax.bar(x + (i - (len(encs) - 1) / 2) * width, m, width, yerr=s, capsize=3, label=enc)
    ax.set_xticks(x, [f"{t}\n({next(r['metric'] for r in rows if r['task'] == t)})" for t in tasks])
    ax.set_ylabel("score (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def plot_throughput(rows: Sequence[dict], path: Path) -> None:
    """Train and inference throughput (tokens/s, median over seeds) per encoder and task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    encs = list(dict.fromkeys(r["encoder"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 2.2 * len(tasks) + 3), 3.4))
    width = 0.8 / max(1, len(encs))
    x = np.arange(len(tasks))
    for ax, key, title in ((axes[0], "train_tokens_per_s", "training"), (axes[1], "infer_tokens_per_s", "inference")):
        for i, enc in enumerate(encs):
            v = [next((r[key] for r in rows if r["task"] == t and r["encoder"] == enc and r[key] is not None), np.nan) for t in tasks]
            ax.bar(x + (i - (len(encs) - 1) / 2) * width, v, width, label=enc)
        ax.set_xticks(x, tasks, fontsize=8)
        ax.set_title(f"{title} tokens/s")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def write_results(cfg: BenchConfig, records: Sequence[dict], *, config_path: str | None = None, quick: bool = False) -> dict:
    """Write results.json, results.md, scores.png and throughput.png into the bench's output dir."""
    from kgbert.bench.measure import environment

    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    rows = summarize(cfg, records)
    env = environment()
    result = {
        "bench": cfg.name, "config": config_path, "quick": quick, "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seeds": list(cfg.seeds), "environment": env, "summary": rows,
        "papers": {t: {"figures": e.paper, "note": e.paper_note} for t, e in cfg.tasks.items() if e.paper},
        "cells": list(records),
    }
    write_json(out / "results.json", result)
    md = render_markdown(cfg, rows, records, env, quick)
    tmp = out / "results.md.tmp"
    tmp.write_text(md + "\n", encoding="utf-8")
    tmp.replace(out / "results.md")
    plot_scores(rows, out / "scores.png")
    plot_throughput(rows, out / "throughput.png")
    return result
