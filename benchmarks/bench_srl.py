"""SRL F1 table: re-evaluate saved SRL taggers on their test split and time inference.

    python benchmarks/bench_srl.py RUN_DIR [RUN_DIR ...] [--json benchmarks/results/srl.json]
    python benchmarks/bench_srl.py RUN_DIR ... --no-reeval            # table from each run's metrics.json
    python benchmarks/bench_srl.py RUN_DIR --annotate chnsenticorp/test.tsv:tsv:sequence:200 \
        --annotate afqmc/dev.json:jsonl:pair:200                       # + annotation throughput

A RUN_DIR is the output of ``python -m annotators.srl.train`` (the tagger + ``metrics.json``).
Each tagger is loaded with ``SrlTagger.from_pretrained`` and evaluated on the test file named in
its ``metrics.json`` (or ``--test``), so the table is reproduced from the saved model, not copied
from the training log. Scores are span-level P/R/F1, CoNLL-2005 style (exact span and role).
``--no-reeval`` builds the table from the ``metrics.json`` each training run wrote (its evaluation of
the same saved model) instead, and skips the timing. ``--annotate FILE:FORMAT:TASK:N`` times the
annotation the trainer's ``data.annotate`` does (``annotators.make_pipeline(components=("srl",))``:
jieba words + POS, then the tagger on each sentence, batched) on the first N examples of a data set
(pairs: both texts), after a warm-up, and reports texts/s and sentences/s (wall clock) and sentences per CPU-second of the process (the
figure that does not depend on what else the machine runs).
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
from tqdm import tqdm

from annotators.srl import SrlTagger
from annotators.srl.conll import sniff_up_layout
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


def time_annotation(run_dir: Path, spec: str) -> dict:
    """Texts/s and sentences/s of the ``srl`` annotation pipeline on ``FILE:FORMAT:TASK:N``."""
    import annotators
    from annotators.srl.tagger import sentence_ranges
    from kgbert.data.readers import read_examples

    path, fmt, task, n = spec.rsplit(":", 3)
    examples = read_examples(path, fmt, task)[: int(n)]
    texts = [ex.text_a for ex in examples] + [ex.text_b for ex in examples if ex.text_b is not None]
    nlp = annotators.make_pipeline(components=("srl",), srl_model=run_dir)
    list(nlp.pipe(texts[:8]))  # warm-up: loads the tagger and jieba
    t0, c0 = time.perf_counter(), time.process_time()
    docs = list(tqdm(nlp.pipe(texts, batch_size=64), total=len(texts), desc=f"annotate {Path(path).name}", leave=False))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    tagger = nlp.get_pipe("srl").tagger
    sentences = 0
    for d in docs:
        words = [t.text for t in d if t.text.strip()]
        sentences += len(sentence_ranges(words, [len(tagger.word_pieces(w)) for w in words], tagger.config.max_position_embeddings - 2))
    return {
        "data": f"{Path(path).parent.name}/{Path(path).name}, first {n}", "texts": len(texts), "sentences": sentences, "frames": sum(len(d._.srl) for d in docs),
        "chars_per_text": round(sum(len(t) for t in texts) / max(1, len(texts)), 1), "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2), "texts_per_second": round(len(texts) / seconds, 2),
        "sentences_per_second": round(sentences / seconds, 2), "sentences_per_cpu_second": round(sentences / cpu, 2),
        "threads": torch.get_num_threads(),
    }


def saved_run(run_dir: Path) -> dict:
    """A run's row from the ``metrics.json`` its training wrote (no re-evaluation, no timing)."""
    saved = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return {"run": str(run_dir), "init": saved.get("init", "?"), "train_file": saved.get("train_file"),
            "test_file": saved["test_file"], "model": saved.get("model"), "epochs": saved.get("epochs"),
            "lr": saved.get("lr"), "layer_decay": saved.get("layer_decay", 1.0), "freeze_embeddings": saved.get("freeze_embeddings", False),
            "train_seconds": saved.get("train_seconds"), "metrics": saved, "matches_training_run": None,
            "sentences_per_second": None}


def bench_run(run_dir: Path, test_file: str | None, timing_sentences: int) -> dict:
    """Evaluate one saved run; returns its row of numbers."""
    saved = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    tagger = SrlTagger.from_pretrained(run_dir)
    fmt = saved.get("format", "up")
    if test_file and fmt in ("up", "up2"):
        fmt = sniff_up_layout(test_file)  # a UP 1.0 test file for a UP 2.0 tagger, or the reverse
    test = load_split(test_file or saved["test_file"], fmt)
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
        "lr": saved.get("lr"),
        "layer_decay": saved.get("layer_decay", 1.0),
        "freeze_embeddings": saved.get("freeze_embeddings", False),
        "train_seconds": saved.get("train_seconds"),
        "metrics": metrics,
        "matches_training_run": abs(metrics["arguments_gold_predicates"]["f1"] - saved["arguments_gold_predicates"]["f1"]) < 1e-9,
        "sentences_per_second": time_inference(tagger, sample),
        "threads": torch.get_num_threads(),
    }


def _setup(r: dict) -> str:
    model = r["model"] or {}
    init = "backbone " + Path(r["init"].split(" ", 1)[1]).name if r["init"].startswith("backbone") else r["init"].split(" (")[0]
    extra = [f"lr {r['lr']:g}"] if r.get("lr") else []
    if r.get("layer_decay", 1.0) != 1.0:
        extra.append(f"layer decay {r['layer_decay']:g}")
    if r.get("freeze_embeddings"):
        extra.append("frozen embeddings")
    return f"{model.get('layers')}x{model.get('hidden_size')} BERT, {init}, {r['epochs']:g} ep, " + ", ".join(extra)


def markdown(rows: list[dict], annotation: Sequence[dict] = ()) -> str:
    """The README tables."""
    out = [
        "| model (init, budget) | train s | predicate id., model head P / R / F1 | predicate id., POS verbs (gold UPOS) | predicate id., jieba verbs | arguments, gold predicates P / R / F1 | same, argmax (no Viterbi) | arguments, end to end | predict (sent/s, CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["metrics"]
        pid = m["predicate_identification"]
        argmax = m.get("arguments_gold_predicates_argmax")
        speed = r.get("sentences_per_second")
        out.append(
            f"| {_setup(r)} | {r['train_seconds']} | "
            f"{_fmt(pid['model']) if 'model' in pid else '–'} | "
            f"{_fmt(pid['gold_pos_verbs']) if 'gold_pos_verbs' in pid else '–'} | "
            f"{_fmt(pid['jieba_verbs'])} | {_fmt(m['arguments_gold_predicates'])} | "
            f"{_fmt(argmax) if argmax else '–'} | "
            f"{_fmt(m['arguments_end_to_end'])} | {'–' if speed is None else f'{speed:.1f}'} |"
        )
    out += ["", "Per role (first run, arguments with gold predicates):", "", "| role | gold | P / R / F1 |", "|---|---|---|"]
    roles = rows[0]["metrics"]["arguments_gold_predicates_per_role"]
    for role, m in sorted(roles.items(), key=lambda kv: -kv[1]["gold"]):
        if m["gold"] >= 10:
            out.append(f"| {role} | {m['gold']} | {_fmt(m)} |")
    if annotation:
        out += annotation_table(Path(rows[0]["run"]).name, annotation)
    return "\n".join(out)


def annotation_table(model: str, annotation: Sequence[dict]) -> list[str]:
    """Markdown lines of the annotation-throughput table (rows from :func:`time_annotation`)."""
    out = ["", f"Annotation throughput ({model}, `srl` pipeline: jieba words + POS, tagger per sentence):", "",
           "| data | texts | chars/text | sentences | frames | texts/s | sentences/s (wall) | sentences per CPU-second | threads |",
           "|---|---|---|---|---|---|---|---|---|"]
    for a in annotation:
        out.append(f"| {a['data']} | {a['texts']} | {a['chars_per_text']} | {a['sentences']} | {a['frames']} | "
                   f"{a['texts_per_second']} | {a['sentences_per_second']} | {a['sentences_per_cpu_second']} | {a['threads']} |")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="directories written by python -m annotators.srl.train")
    p.add_argument("--test", help="evaluate on this file instead of the run's test file")
    p.add_argument("--timing-sentences", type=int, default=100)
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.add_argument("--no-reeval", action="store_true", help="table from each run's metrics.json (no re-evaluation, no timing)")
    p.add_argument("--annotate", action="append", default=[], metavar="FILE:FORMAT:TASK:N",
                   help="time the srl annotation pipeline of the first run on the first N examples (repeatable)")
    args = p.parse_args(argv)
    rows = [saved_run(r) if args.no_reeval else bench_run(r, args.test, args.timing_sentences) for r in args.runs]
    annotation = [time_annotation(args.runs[0], spec) for spec in args.annotate]
    print(markdown(rows, annotation))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.json.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"runs": rows, "annotation": annotation} if annotation else rows, fh, ensure_ascii=False, indent=2)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
