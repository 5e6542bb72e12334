"""How long loading a persisted EntityMatcher takes, side by side with rebuilding it (issue 8).

    python -m benchmarks.bench_matcher_load [--names 1000000] [--repeats 3] [--out benchmarks/results/matcher_load.json]

A store of ``--names`` synthetic entity names is built once; then, in one run: the automaton is
built from the store and persisted (``build``), the persisted file is loaded (``load``: JSON
header, HMAC-SHA256 check of the node data, pyahocorasick's constructor; no pickle), the same
through a forced ``ahocorasick_rs`` path (``load + rs``: the Rust automaton is rebuilt from the
names at every load), and the pre-issue-8 pickle format is loaded for comparison
(``pickle load (old format)``; unsafe, shown only as the reference). Medians of ``--repeats``.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(os.environ.get("KGBERT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rs", action="store_true", help="also time load + ahocorasick_rs build (slow for 1M names)")
    ap.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    from benchmarks.bench_kg_synthetic import entity_names
    from knowledge import EntityMatcher, KnowledgeGraph, build_kg

    work = Path(tempfile.mkdtemp(prefix="kgbert-bench-matcher-"))
    spo = work / "names.spo"
    with open(spo, "w", encoding="utf-8") as fh:
        fh.writelines(f"{n}\t类别\t实体\n" for n in entity_names(args.names, seed=1))
    store = work / "kg.sqlite"
    build_kg([spo], store, force=True)
    kg = KnowledgeGraph.open(store)
    path = EntityMatcher.persisted_path(store)

    t = time.perf_counter()
    m = EntityMatcher.for_store(kg, use_rs=False)
    build_s = time.perf_counter() - t
    n = len(m)
    size_mib = path.stat().st_size / 2**20
    probe = "据报道" + next(iter(m.automaton.keys())) + "今天"

    def load():
        got = EntityMatcher._load(path, _header(kg), use_rs=False)
        assert got is not None and len(got) == n and got.find(probe), "persisted matcher not loaded"

    rows = [{"step": "build from the store + persist", "seconds": build_s}]
    rows.append({"step": "load (safe format, HMAC checked)", "seconds": _median(load, args.repeats)})
    old = work / "old.pickle"
    with open(old, "wb") as fh:
        pickle.dump(m.automaton, fh, protocol=pickle.HIGHEST_PROTOCOL)

    def load_pickle():
        with open(old, "rb") as fh:
            pickle.load(fh)

    rows.append({"step": "pickle load (old format, unsafe; reference)", "seconds": _median(load_pickle, args.repeats)})
    corpus = SHARED / "corpus_cluecorpussmall" / "CLUECorpusSmall_bert_sampled.txt"
    if corpus.exists():  # matching throughput of both paths (the default for 1M names is pyahocorasick)
        sentences = [x for x in corpus.read_text(encoding="utf-8").splitlines() if x.strip()]
        paths = [("pyahocorasick", m)]
        if args.rs:
            t = time.perf_counter()
            rs = EntityMatcher._load(path, _header(kg), use_rs=True)
            rows.append({"step": "load + ahocorasick_rs build (use_rs=True)", "seconds": time.perf_counter() - t})
            paths.append(("ahocorasick_rs", rs))
        for label, matcher in paths:
            secs = _median(lambda: [matcher.find(x) for x in sentences], args.repeats)
            rows.append({"step": f"find, {label}: {len(sentences):,} CLUECorpusSmall sentences "
                                 f"({len(sentences) / secs:,.0f} sentences/s)", "seconds": secs})
    import os

    load_avg = os.getloadavg()
    print(f"\n### EntityMatcher load, {n:,} names (file {size_mib:.0f} MiB), median of {args.repeats}, "
          f"{os.cpu_count()} CPUs, load average {load_avg[0]:.1f}\n")
    print("| step | seconds |\n|---|---:|")
    for r in rows:
        print(f"| {r['step']} | {r['seconds']:.3f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"names": n, "file_mib": size_mib, "repeats": args.repeats,
                                        "cpus": os.cpu_count(), "load_average": load_avg, "rows": rows},
                                       indent=1) + "\n", encoding="utf-8")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0


def _header(kg) -> dict:
    import hashlib

    from knowledge.matcher import MATCHER_VERSION

    return {"matcher_version": MATCHER_VERSION, "build_id": kg.build_id, "min_len": 2,
            "subjects_only": False, "stoplist_sha1": hashlib.sha1(b"").hexdigest()}


if __name__ == "__main__":
    sys.exit(main())
