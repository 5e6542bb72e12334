"""Annotator speed: sentences/s for the full pipeline and for each component, 1 and 2 processes.

    nice -n 10 python -m benchmarks.bench_annotators [--n 2000] [--kg-source PATH] [--repeats 3]

Sentences come from ``../shared/data/corpus_cluecorpussmall/CLUECorpusSmall_bert_sampled.txt``
(one sentence per line); the KG is K-BERT's Medical KG (``kg_medical/Medical.spo``) built into a
temporary store. Prints Markdown tables and writes ``benchmarks/results/annotators.json``.

Two tables:

1. *Per component*: one process; every stage of the full pipeline is timed separately on the same
   docs (tokenizer with / without KG and POS, then each component), median of ``--repeats``
   round-robin runs.
2. *End to end*: several pipelines with ``n_process`` 1 and 2, run two ways: spaCy's
   ``nlp.pipe(n_process=N)`` + ``to_annotation``, and the batch service's runner
   (:func:`annotators.annotate.annotate_batches`, JSON lines back from the workers). Wall clock,
   worker start-up included; one run each (the machine is shared).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KGBERT_SHARED_DATA", REPO.parent / "shared" / "data"))


def load_sentences(n: int) -> list[str]:
    path = SHARED / "corpus_cluecorpussmall" / "CLUECorpusSmall_bert_sampled.txt"
    out: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                out.append(line)
            if len(out) >= n:
                break
    return out


def per_component(kg: str, texts: Sequence[str], repeats: int) -> list[dict]:
    """Time every stage on the same texts; the stages are run round-robin ``repeats`` times (so
    load from other users of the machine hits all of them alike) and the median is reported."""
    import annotators
    from annotators.segment import get_jieba, get_posseg

    plain, posseg = get_jieba(), get_posseg()
    stages: dict[str, Callable[[], object]] = {
        "jieba.cut alone (reference)": lambda: [plain.lcut(x) for x in texts],
        "jieba.posseg.cut alone (reference)": lambda: [list(posseg.cut(x)) for x in texts],
    }
    for use_kg in (False, True):
        for pos in (False, True):
            nlp = annotators.make_pipeline(kg=kg if use_kg else None, components=(), pos=pos)
            nlp.tokenizer(texts[0])  # warm the caches
            label = f"tokenizer, {'KG kept whole' if use_kg else 'no KG'}, pos={pos}"
            stages[label] = lambda tok=nlp.tokenizer: [tok(x) for x in texts]
    full = annotators.make_pipeline(kg=kg, components=("kg_entities", "entities", "phrases"))
    docs = [full.tokenizer(x) for x in texts]
    for name, proc in full.pipeline:
        stages[f"component {name}"] = lambda proc=proc: [proc(d) for d in docs]
    times: dict[str, list[float]] = {k: [] for k in stages}
    for _ in range(repeats):
        for label, fn in stages.items():
            t = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t)
    chars = sum(map(len, texts))
    rows = []
    for label, ts in times.items():
        sec = statistics.median(ts)
        rows.append({"stage": label, "seconds": sec, "sentences_per_s": len(texts) / sec, "chars_per_s": chars / sec})
    return rows


def mention_coverage(kg: str, corpora: dict[str, Sequence[str]]) -> list[dict]:
    """How many character-level KG mentions jieba's words would miss (a mention is missed when a
    word boundary falls strictly inside it): plain jieba, jieba with every KG name added to its
    dictionary (``add_word``, jieba's suggested frequency: what K-BERT does with pkuseg), and the
    kgbert tokenizer (mentions cut out before jieba runs)."""
    import jieba

    import annotators
    import knowledge
    from annotators.kg import get_matcher
    from annotators.segment import get_jieba

    matcher, plain = get_matcher(kg), get_jieba()
    with_names = jieba.Tokenizer()
    with_names.FREQ, with_names.total, with_names.initialized = dict(plain.FREQ), plain.total, True
    for name in knowledge.KnowledgeGraph.open(kg).entity_names():
        with_names.add_word(name)
    nlp = annotators.make_pipeline(kg=kg, components=(), pos=False)

    def cuts(tok, text: str) -> set[int]:
        out, pos = set(), 0
        for w in tok.cut(text):
            pos += len(w)
            out.add(pos)
        return out

    rows = []
    for name, texts in corpora.items():
        found = split = split_dict = whole = 0
        for text in texts:
            c_plain, c_dict = cuts(plain, text), cuts(with_names, text)
            words = {(t.idx, t.idx + len(t)) for t in nlp.tokenizer(text)}
            for m in matcher.find(text):
                found += 1
                split += any(m.start < c < m.end for c in c_plain)
                split_dict += any(m.start < c < m.end for c in c_dict)
                whole += (m.start, m.end) in words
        rows.append({"corpus": name, "sentences": len(texts), "mentions": found, "split_by_plain_jieba": split,
                     "split_by_jieba_with_kg_names": split_dict, "single_word_in_kgbert_tokenizer": whole})
    return rows


def load_medical(n: int) -> list[str]:
    path = SHARED / "medical_ner" / "dev.tsv"
    with open(path, encoding="utf-8") as fh:
        next(fh)
        return [line.split("\t")[0].replace(" ", "") for line in fh if line.strip()][:n]


def end_to_end(kg: str, texts: Sequence[str], batch_size: int) -> list[dict]:
    import annotators
    from annotators.annotate import annotate_batches

    configs = [
        ("tokenizer only (pos=False, KG whole)", dict(kg=kg, components=(), pos=False)),
        ("kg_entities (pos=False)", dict(kg=kg, components=("kg_entities",), pos=False)),
        ("kg_entities + phrases (pos=False)", dict(kg=kg, components=("kg_entities", "phrases"), pos=False)),
        ("full: kg_entities + entities + phrases (pos=True)", dict(kg=kg, components=("kg_entities", "entities", "phrases"))),
    ]
    rows = []
    for label, kwargs in configs:
        nlp = annotators.make_pipeline(**kwargs)
        nlp(texts[0])  # jieba + matcher loaded in the parent (forked workers inherit them)
        for n_process in (1, 2):
            t = time.perf_counter()
            out = [annotators.to_annotation(d) for d in nlp.pipe(texts, n_process=n_process, batch_size=batch_size)]
            dt = time.perf_counter() - t
            assert len(out) == len(texts)
            rows.append({"pipeline": label, "runner": "nlp.pipe + to_annotation", "n_process": n_process,
                         "seconds": dt, "sentences_per_s": len(texts) / dt})
            t = time.perf_counter()
            jobs = ((x, {}) for x in texts)
            n = sum(len(b) for b in annotate_batches(nlp, jobs, n_process=n_process, batch_size=batch_size))
            dt = time.perf_counter() - t
            assert n == len(texts)
            rows.append({"pipeline": label, "runner": "annotate service (JSON lines)", "n_process": n_process,
                         "seconds": dt, "sentences_per_s": len(texts) / dt})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="number of sentences")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--kg-source", default=str(SHARED / "kg_medical" / "Medical.spo"))
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "annotators.json"))
    args = p.parse_args(argv)

    import knowledge

    texts = load_sentences(args.n)
    chars = sum(map(len, texts))
    with tempfile.TemporaryDirectory() as tmp:
        kg = str(Path(tmp) / "kg.sqlite")
        knowledge.build_kg([args.kg_source], kg)
        coverage = mention_coverage(kg, {"CLUECorpusSmall sentences": texts, "medical_ner dev": load_medical(args.n)})
        comp = per_component(kg, texts, args.repeats)
        e2e = end_to_end(kg, texts, args.batch_size)

    print(f"\n{len(texts)} sentences ({chars} characters, {chars / len(texts):.1f} per sentence), "
          f"KG {Path(args.kg_source).name}, {os.cpu_count()} CPUs\n")
    print("| stage (1 process, median of %d) | sentences/s | characters/s |" % args.repeats)
    print("|---|---:|---:|")
    for r in comp:
        print(f"| {r['stage']} | {r['sentences_per_s']:,.0f} | {r['chars_per_s']:,.0f} |")
    print("\n| pipeline | runner | n_process | sentences/s | seconds |")
    print("|---|---|---:|---:|---:|")
    for r in e2e:
        print(f"| {r['pipeline']} | {r['runner']} | {r['n_process']} | {r['sentences_per_s']:,.0f} | {r['seconds']:.2f} |")
    print("\n| corpus | sentences | KG mentions (character matching) | split by plain jieba "
          "| split by jieba + KG names in its dictionary | one word in the kgbert tokenizer |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in coverage:
        n = max(1, r["mentions"])
        print(f"| {r['corpus']} | {r['sentences']} | {r['mentions']} | {r['split_by_plain_jieba']} "
              f"({r['split_by_plain_jieba'] / n:.1%}) | {r['split_by_jieba_with_kg_names']} "
              f"({r['split_by_jieba_with_kg_names'] / n:.1%}) | {r['single_word_in_kgbert_tokenizer']} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps({"sentences": len(texts), "characters": chars, "cpus": os.cpu_count(),
                                   "per_component": comp, "end_to_end": e2e,
                                   "kg_mention_coverage": coverage}, indent=1), encoding="utf-8")
    os.replace(tmp_out, out)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
