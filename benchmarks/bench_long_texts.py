"""Long texts in Pipeline: windowing against truncation on the medical NER test sentences that
exceed a trained run's limit (issue 8).

    python -m benchmarks.bench_long_texts RUN_DIR [--data ../shared/data/medical_ner/test.tsv] [--out results.json]

For every test sentence longer than the model takes (``max_length`` minus the special tokens, in
characters), it predicts with ``truncate=True`` (the old behaviour: the cut part gets no
prediction) and with the default windowing, and counts gold entities found exactly (same span and
type): all of those sentences' entities, and the ones that end past the limit.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SHARED = Path(os.environ.get("KGBERT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--data", type=Path, default=SHARED / "medical_ner" / "test.tsv")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from kgbert.data.readers import read_examples
    from kgbert.metrics import get_entities
    from kgbert.pipeline import Pipeline

    exs = read_examples(args.data, "ner_tsv", "token")
    rows = {}
    for mode in ("truncate", "window"):
        with Pipeline.from_pretrained(args.run_dir, annotate=False, truncate=(mode == "truncate")) as pipe:
            limit = pipe.max_text_tokens
            long = [ex for ex in exs if len(ex.tokens) > limit]
            texts = ["".join(ex.tokens) for ex in long]
            t = time.perf_counter()
            res = pipe(texts, batch_size=32)
            secs = time.perf_counter() - t
        gold_all = found_all = gold_past = found_past = 0
        for ex, r in zip(long, res):
            gold = {(s, e, typ) for typ, s, e in get_entities(ex.tags)}
            pred = {(p["start"], p["end"], p["label"]) for p in r["entities"]}
            gold_all += len(gold)
            found_all += len(gold & pred)
            past = {g for g in gold if g[1] > limit}
            gold_past += len(past)
            found_past += len(past & pred)
        rows[mode] = {"sentences": len(long), "limit_chars": limit, "gold": gold_all, "found": found_all,
                      "gold_past_limit": gold_past, "found_past_limit": found_past, "seconds": secs}
    print(f"\n### Long sentences of {args.data.name} ({rows['window']['sentences']} of {len(exs)} over the "
          f"limit of {rows['window']['limit_chars']} characters), run {args.run_dir}\n")
    print("| mode | gold entities | found (exact) | gold ending past the limit | found past the limit | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, r in rows.items():
        print(f"| {mode} | {r['gold']} | {r['found']} | {r['gold_past_limit']} | {r['found_past_limit']} | "
              f"{r['seconds']:.2f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
