"""SRL F1 table: re-evaluate saved SRL taggers on their test split and time inference.

    python benchmarks/bench_srl.py RUN_DIR [RUN_DIR ...] [--json benchmarks/results/srl.json]

A RUN_DIR is the output of ``python -m annotators.srl.train`` (the tagger + ``metrics.json``).
Each tagger is loaded with ``SrlTagger.from_pretrained`` and evaluated on the test file named in
its ``metrics.json`` (or ``--test``), so the table is reproduced from the saved model, not copied
from the training log. Scores are span-level P/R/F1, CoNLL-2005 style (exact span and role).
Prints Markdown tables; ``--json`` also writes the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Sequence

import torch

from annotators.srl import SrlTagger
from annotators.srl.train import evaluate, load_split


def _fmt(m: dict) -> str:
    return f"{100 * m['precision']:.1f} / {100 * m['recall']:.1f} / {100 * m['f1']:.1f}"


def time_inference(tagger: SrlTagger, sentences: Sequence[Sequence[str]], repeats: int = 3) -> float:
    """Median sentences/second of end-to-end ``predict_words`` (predicate head + arguments)."""
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tagger.predict_words(sentences)
        rates.append(len(sentences) / (time.perf_counter() - t0))
    return statistics.median(rates)


def bench_run(run_dir: Path, test_file: str | None, timing_sentences: int) -> dict:
    """Evaluate one saved run; returns its row of numbers."""
    saved = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    tagger = SrlTagger.from_pretrained(run_dir)
    test = load_split(test_file or saved["test_file"], saved.get("format", "up"))
    metrics = evaluate(tagger, test)
    metrics.pop("_frames")
    sample = [s.words for s in test[:timing_sentences]]
    return {
        "run": str(run_dir),
        "init": saved.get("init", "?"),
        "train_file": saved.get("train_file"),
        "test_file": test_file or saved["test_file"],
        "model": saved.get("model"),
        "epochs": saved.get("epochs"),
        "train_seconds": saved.get("train_seconds"),
        "metrics": metrics,
        "matches_training_run": abs(metrics["arguments_gold_predicates"]["f1"] - saved["arguments_gold_predicates"]["f1"]) < 1e-9,
        "sentences_per_second": time_inference(tagger, sample),
        "threads": torch.get_num_threads(),
    }


def markdown(rows: list[dict]) -> str:
    """The README tables."""
    out = [
        "| model (init) | train / test | predicate id., model head P / R / F1 | predicate id., POS verbs (gold UPOS) | predicate id., jieba verbs | arguments, gold predicates P / R / F1 | arguments, end to end | predict (sent/s, CPU) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["metrics"]
        pid = m["predicate_identification"]
        model = r["model"] or {}
        out.append(
            f"| {model.get('layers')}x{model.get('hidden_size')} BERT, {r['init']} | "
            f"{Path(r['train_file'] or '?').name} / {Path(r['test_file']).name} | "
            f"{_fmt(pid['model']) if 'model' in pid else '–'} | "
            f"{_fmt(pid['gold_pos_verbs']) if 'gold_pos_verbs' in pid else '–'} | "
            f"{_fmt(pid['jieba_verbs'])} | {_fmt(m['arguments_gold_predicates'])} | "
            f"{_fmt(m['arguments_end_to_end'])} | {r['sentences_per_second']:.1f} |"
        )
    out += ["", "Per role (first run, arguments with gold predicates):", "", "| role | gold | P / R / F1 |", "|---|---|---|"]
    roles = rows[0]["metrics"]["arguments_gold_predicates_per_role"]
    for role, m in sorted(roles.items(), key=lambda kv: -kv[1]["gold"]):
        if m["gold"] >= 10:
            out.append(f"| {role} | {m['gold']} | {_fmt(m)} |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="directories written by python -m annotators.srl.train")
    p.add_argument("--test", help="evaluate on this file instead of the run's test file")
    p.add_argument("--timing-sentences", type=int, default=100)
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    rows = [bench_run(r, args.test, args.timing_sentences) for r in args.runs]
    print(markdown(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.json.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, ensure_ascii=False, indent=2)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
