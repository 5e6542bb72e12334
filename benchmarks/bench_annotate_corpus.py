"""Corpus annotation for pretraining: sentences/s per core of the annotators that build the cache.

    nice -n 10 python -m benchmarks.bench_annotate_corpus [--n 2000] [--repeats 3] [--kg none|medical|both]

On the same first ``--n`` non-empty lines of ``../shared/data/corpus_cluecorpussmall/
CLUECorpusSmall_bert_sampled.txt``, side by side in one run, round-robin ``--repeats`` times
(load from other users of the machine hits all alike), median reported:

* ``jieba.cut`` alone and ``jieba.posseg.cut`` alone (references: words only, words + POS tags);
* ``spacy_pipeline``: :class:`kgbert.pretraining.annotate.SpacyAnnotator` (spaCy pipeline +
  ``to_annotation``: words, entities, phrases);
* ``fast_pipeline``: :class:`kgbert.pretraining.annotate.FastPipelineAnnotator` (the same spans);
* ``fast_pipeline``, 2 processes: :func:`kgbert.pretraining.annotate.annotate_documents` with
  ``workers=2`` (one document per line, as the cache build feeds it; worker start-up included).

"Per core" is sentences per CPU second (``getrusage``: this process plus its finished worker
processes, so the 2-process row counts both workers, start-up and inter-process transfer),
which the other users of this shared 2-core machine disturb less than wall time; wall-clock
sentences/s are reported too (on a loaded machine they say little). The fast path's memo of POS-tagged unknown-word
runs (:func:`annotators.posfast.cut_han`) is cleared before every repeat, so each repeat starts
as a fresh cache build does. Before timing, the fast path's output is checked to equal the spaCy
path's on every line. Prints a Markdown table; writes ``benchmarks/results/annotate_corpus/annotate_corpus.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.bench_annotators import REPO, SHARED, load_sentences

OUT = REPO / "benchmarks" / "results" / "annotate_corpus" / "annotate_corpus.json"


def _cpu() -> float:
    """CPU seconds of this process and of its finished (waited-for) child processes."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    from annotators.posfast import cut_han

    cut_han.cache_clear()
    c0, w0 = _cpu(), time.perf_counter()
    fn()
    return _cpu() - c0, time.perf_counter() - w0


def run_setting(kg: str | None, lines: list[str], repeats: int) -> list[dict]:
    from annotators.segment import get_jieba, get_posseg
    from kgbert.pretraining.annotate import FastPipelineAnnotator, SpacyAnnotator, annotate_documents

    plain, posseg = get_jieba(), get_posseg()
    slow, fast = SpacyAnnotator(kg=kg), FastPipelineAnnotator(kg=kg)
    ref, got = slow(lines), fast(lines)  # warm-up, and the identity check on every line
    n_diff = sum(a != b for a, b in zip(ref, got))
    if n_diff:
        raise SystemExit(f"fast_pipeline differs from spacy_pipeline on {n_diff} of {len(lines)} lines")
    docs = [[x] for x in lines]
    stages: dict[str, Callable[[], Any]] = {
        "jieba.cut alone (words only)": lambda: [plain.lcut(x) for x in lines],
        "jieba.posseg.cut alone (words + POS)": lambda: [list(posseg.cut(x)) for x in lines],
        "spacy_pipeline (words, entities, phrases)": lambda: slow(lines),
        "fast_pipeline (same spans)": lambda: fast(lines),
        "fast_pipeline, 2 processes": lambda: list(annotate_documents(iter(docs), fast, workers=2)),
    }
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in stages}
    for _ in range(repeats):
        for name, fn in stages.items():
            times[name].append(_timed(fn))
    rows = []
    for name, ts in times.items():
        cpu = statistics.median(t[0] for t in ts)
        wall = statistics.median(t[1] for t in ts)
        rows.append({"kg": "medical" if kg else "none", "annotator": name, "processes": 2 if "2 processes" in name else 1,
                     "sentences_per_cpu_s": len(lines) / cpu,
                     "sentences_per_wall_s": len(lines) / wall, "cpu_s": [t[0] for t in ts], "wall_s": [t[1] for t in ts]})
    base = next(r for r in rows if r["annotator"].startswith("spacy"))["sentences_per_cpu_s"]
    for r in rows:
        r["x_spacy"] = r["sentences_per_cpu_s"] / base
    entities = sum(len(r["entities"]) // 2 for r in ref)
    phrases = sum(len(r["phrases"]) // 2 for r in ref)
    print(f"\nKG: {'medical' if kg else 'none'}; {len(lines)} lines; identical spans on every line "
          f"({entities} entities, {phrases} phrases)\n")
    print("| annotator | processes | sentences/s per core (CPU) | sentences/s (wall) | x spaCy path |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['annotator']} | {r['processes']} | {r['sentences_per_cpu_s']:,.0f} | {r['sentences_per_wall_s']:,.0f} "
              f"| {r['x_spacy']:.1f}x |")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="corpus lines (default 2000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kg", choices=["none", "medical", "both"], default="both",
                    help="KG store for the pipelines: none (the zh_small_ernie config), K-BERT's Medical KG, or both")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    lines = load_sentences(args.n)
    load = os.getloadavg()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for setting in (["none", "medical"] if args.kg == "both" else [args.kg]):
            kg = None
            if setting == "medical":
                import knowledge

                kg = str(Path(tmp) / "medical.sqlite")
                knowledge.build_kg([SHARED / "kg_medical" / "Medical.spo"], kg)
            rows += run_setting(kg, lines, args.repeats)
    result = {"lines": len(lines), "mean_chars_per_line": sum(map(len, lines)) / len(lines), "repeats": args.repeats,
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "loadavg_at_start": load,
              "loadavg_at_end": os.getloadavg(), "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"\nload average {load[0]:.1f} -> {result['loadavg_at_end'][0]:.1f} on {os.cpu_count()} cores; wrote {out}")


if __name__ == "__main__":
    main()
