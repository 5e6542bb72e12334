"""SRL tagger trained on Universal PropBank 2.0 (Chinese-GSD train), tuned on its dev, reported on its test.

    PYTHONPATH=. python benchmarks/bench_srl_up2.py RUN_DIR [RUN_DIR ...] \
        --up1-test ../shared/data/srl_up_chinese/zh-up-test.conllu --drop-role AM-MOD \
        --annotate chnsenticorp/test.tsv:tsv:sequence:100 --json benchmarks/results/srl/up2.json

A RUN_DIR is the output of ``python -m annotators.srl.train --data ../shared/data/srl_up2_chinese_gsd``:
each run picked its epoch on dev (``dev_per_epoch``/``selected_epoch`` in its ``metrics.json``).
This script picks **the run** the same way, by the dev argument F1 (gold predicates) of its selected
epoch, never by a test score; test figures of every run are shown, the selected one marked.

UP 1.0 test (``--up1-test``): the training run's ``--also-test`` evaluation is shown as is, and the
selected tagger is re-evaluated with the ``--drop-role`` roles removed from its predictions (UP 2.0
labels modal auxiliaries ``AM-MOD``; UP 1.0 has no such role and leaves modals unlabelled, so every
``AM-MOD`` prediction is a certain false positive there). The comparison rows (UP 1.0 dev-trained
on the shipped backbone, and from scratch) are read from ``benchmarks/results/srl/ablation.json`` and
``benchmarks/results/srl.json``. ``--annotate`` times the ``srl`` annotation pipeline of the selected
run (``bench_srl.time_annotation``). Prints Markdown; ``--json`` also writes the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

from annotators.srl import SrlTagger
from annotators.srl.conll import sniff_up_layout
from annotators.srl.train import READERS, evaluate
from benchmarks.bench_srl import _fmt, annotation_table, time_annotation

RESULTS = Path(__file__).resolve().parent / "results"


def load_run(run_dir: Path) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    if not m.get("selected_epoch"):
        raise SystemExit(f"{run_dir}: no dev selection in metrics.json (train with a dev split)")
    cpu = None
    timing = run_dir.parent / f"{run_dir.name}.time"  # /usr/bin/time -v output of the training run, if kept
    if timing.exists():
        text = timing.read_text()
        cpu = sum(float(line.split(":")[1]) for line in text.splitlines() if line.strip().startswith(("User time", "System time")))
    return {"run": str(run_dir), "name": run_dir.name, "lr": m["lr"], "epochs": m["epochs"], "seed": m["seed"], "train_seconds": m["train_seconds"],
            "cpu_seconds": None if cpu is None else round(cpu, 1), "dev_per_epoch": m["dev_per_epoch"], "selected_epoch": m["selected_epoch"], "metrics": m}


def comparison_rows() -> list[dict]:
    """UP 1.0 test figures of the earlier taggers (trained on UP 1.0 dev), from their result files."""
    rows = []
    ablation = RESULTS / "srl" / "ablation.json"
    if ablation.exists():
        r = json.loads(ablation.read_text(encoding="utf-8"))["runs"][0]
        rows.append({"model": f"shipped backbone, UP 1.0 dev (500 sent.), {r['epochs']:g} ep, lr {r['lr']:g}, chosen on test", "metrics": r["metrics"]})
    scratch = RESULTS / "srl.json"
    if scratch.exists():
        for r in json.loads(scratch.read_text(encoding="utf-8")):
            m = r["model"]
            rows.append({"model": f"{m['layers']}x{m['hidden_size']} from scratch, UP 1.0 dev, {r['epochs']:g} ep", "metrics": r["metrics"]})
    return rows


def markdown(runs: list[dict], best: dict, up1: dict | None, compare: list[dict], annotation: Sequence[dict]) -> str:
    n_epochs = max(len(r["dev_per_epoch"]) for r in runs)
    out = ["Dev selection (UP 2.0 dev; argument F1 with gold predicates after each epoch; the best epoch's weights are kept):", "",
           "| run | lr | epochs | " + " | ".join(f"dev F1 ep {k + 1}" for k in range(n_epochs)) + " | selected epoch (dev F1) | train s (wall) | CPU s |",
           "|---|---|---|" + "---|" * n_epochs + "---|---|---|"]
    for r in runs:
        curve = [f"{100 * e['dev_arguments_gold_predicates_f1']:.1f}" for e in r["dev_per_epoch"]] + ["–"] * (n_epochs - len(r["dev_per_epoch"]))
        sel = r["selected_epoch"]
        mark = " **(selected)**" if r is best else ""
        out.append(f"| {r['name']}{mark} | {r['lr']:g} | {r['epochs']:g} | " + " | ".join(curve)
                   + f" | {sel['dev_epoch']:g} ({100 * sel['dev_arguments_gold_predicates_f1']:.1f}) | {r['train_seconds']} | {r['cpu_seconds'] or '–'} |")
    t = best["metrics"]
    out += ["", f"UP 2.0 Chinese-GSD test ({t['test_sentences']} sentences, {t['test_predicates']} predicates, "
            f"{t['arguments_gold_predicates']['gold']} arguments), P / R / F1 %:", "",
            "| run | predicate id., model head | predicate id., gold UPOS verbs | predicate id., jieba verbs | arguments, gold predicates | same, argmax | arguments, end to end |",
            "|---|---|---|---|---|---|---|"]
    for r in runs:
        m, pid = r["metrics"], r["metrics"]["predicate_identification"]
        mark = " **(selected on dev)**" if r is best else ""
        out.append(f"| {r['name']}{mark} | {_fmt(pid['model'])} | {_fmt(pid['gold_pos_verbs'])} | {_fmt(pid['jieba_verbs'])} | "
                   f"{_fmt(m['arguments_gold_predicates'])} | {_fmt(m['arguments_gold_predicates_argmax'])} | {_fmt(m['arguments_end_to_end'])} |")
    out += ["", f"Per role ({best['name']}, UP 2.0 test, gold predicates, roles with >= 5 gold):", "", "| role | gold | predicted | P / R / F1 |", "|---|---|---|---|"]
    for role, m in sorted(best["metrics"]["arguments_gold_predicates_per_role"].items(), key=lambda kv: -kv[1]["gold"]):
        if m["gold"] >= 5:
            out.append(f"| {role} | {m['gold']} | {m['predicted']} | {_fmt(m)} |")
    if up1:
        u = up1["as_is"]
        out += ["", f"UP 1.0 Chinese test ({u['test_sentences']} sentences, {u['test_predicates']} predicates, "
                f"{u['arguments_gold_predicates']['gold']} arguments), P / R / F1 %:", "",
                "| model | predicate id., model head | arguments, gold predicates | arguments, end to end |", "|---|---|---|---|"]
        for label, m in ((f"{best['name']} (UP 2.0 train), as is", up1["as_is"]), (f"{best['name']}, {', '.join(up1['dropped_roles'])} predictions dropped", up1["dropped"])):
            out.append(f"| {label} | {_fmt(m['predicate_identification']['model'])} | {_fmt(m['arguments_gold_predicates'])} | {_fmt(m['arguments_end_to_end'])} |")
        for c in compare:
            m = c["metrics"]
            out.append(f"| {c['model']} | {_fmt(m['predicate_identification']['model'])} | {_fmt(m['arguments_gold_predicates'])} | {_fmt(m['arguments_end_to_end'])} |")
    if annotation:
        out += annotation_table(best["name"], annotation)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="directories written by python -m annotators.srl.train (UP 2.0, with dev)")
    p.add_argument("--up1-test", help="UP 1.0 test file: report the selected tagger on it (as is, and with --drop-role roles dropped)")
    p.add_argument("--drop-role", action="append", default=[], help="role removed from predictions on --up1-test (repeatable)")
    p.add_argument("--annotate", action="append", default=[], metavar="FILE:FORMAT:TASK:N", help="time the srl annotation pipeline of the selected run")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    runs = [load_run(r) for r in args.runs]
    best = max(runs, key=lambda r: r["selected_epoch"]["dev_arguments_gold_predicates_f1"])  # first of equals: max keeps the first
    up1 = None
    if args.up1_test:
        as_is = best["metrics"].get("also_test", {}).get(str(args.up1_test))
        tagger = SrlTagger.from_pretrained(best["run"])
        test = READERS[sniff_up_layout(args.up1_test)](args.up1_test)
        t0 = time.process_time()
        if as_is is None:
            as_is = evaluate(tagger, test)
            as_is.pop("_frames")
        dropped = evaluate(tagger, test, baselines=False, drop_roles=args.drop_role)
        dropped.pop("_frames")
        up1 = {"file": args.up1_test, "as_is": as_is, "dropped_roles": args.drop_role, "dropped": dropped, "cpu_seconds": round(time.process_time() - t0, 1)}
    annotation = [time_annotation(Path(best["run"]), spec) for spec in args.annotate]
    compare = comparison_rows() if up1 else []
    print(markdown(runs, best, up1, compare, annotation))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.json.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"selected_run": best["run"], "selection": "dev argument F1 (gold predicates), per epoch within a run and across runs",
                       "runs": runs, "up1_test": up1, "up1_comparison": compare, "annotation": annotation}, fh, ensure_ascii=False, indent=2)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
