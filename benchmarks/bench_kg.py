"""Knowledge benchmarks: build throughput / peak RSS / store size, lookup and matcher throughput.

    python -m benchmarks.bench_kg                      # build + lookup + matcher, 1M and 3M synthetic
    python -m benchmarks.bench_kg build --sizes 1M,3M,10M --low-memory
    python -m benchmarks.bench_kg lookup
    python -m benchmarks.bench_kg matcher

Every build runs in a fresh subprocess; its peak RSS and CPU time come from ``os.wait4``.
Prints Markdown tables and writes ``benchmarks/results/kg_<part>.json``. Run it under ``nice``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KGBERT_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"
REAL_KGS = [("kg_hownet", "HowNet.spo"), ("kg_medical", "Medical.spo"),
            ("kg_nlpcc2016_kbqa", "nlpcc2016_kbqa.spo")]

# VmHWM is this process's own peak RSS (ru_maxrss of a child also counts the parent's pages
# at fork time, which would hide the build's own footprint)
_CHILD = """
import json, re, sys
from knowledge import build_kg
r = build_kg(sys.argv[1:-3], sys.argv[-3], force=True, low_memory=sys.argv[-2] == "1",
             cache_mb=int(sys.argv[-1]))
d = r.to_dict()
status = open("/proc/self/status").read()
d["vm_hwm_kib"] = int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
print(json.dumps(d, ensure_ascii=False))
"""


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def synthetic(workdir: Path, n: int) -> Path:
    """The synthetic .spo of ``n`` triples (generated once, cached in ``workdir``)."""
    from benchmarks.bench_kg_synthetic import write_synthetic_spo

    path = workdir / f"synthetic_{n}.spo"
    if not path.exists():
        t = time.perf_counter()
        write_synthetic_spo(path.with_suffix(".tmp"), n)
        path.with_suffix(".tmp").rename(path)
        print(f"  generated {path} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return path


def run_build_measured(inputs: list[Path], out: Path, low_memory: bool, cache_mb: int = 64,
                       code_root: Path = REPO) -> dict:
    """Build in a fresh process; the report + wall, CPU seconds (wait4) and peak RSS (VmHWM).

    ``code_root``: the folder whose ``knowledge`` package the child imports (an older copy to
    compare against; the child runs there, and ``-c`` puts its working directory first).
    """
    cmd = [sys.executable, "-c", _CHILD, *map(str, inputs), str(out), "1" if low_memory else "0",
           str(cache_mb)]
    t = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=code_root, stdout=subprocess.PIPE, stderr=err)
        out_text = proc.stdout.read().decode("utf-8")  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"build failed: {err.read().decode('utf-8', 'replace')[-2000:]}")
    report = json.loads(out_text.strip().splitlines()[-1])
    report.update(wall_s=wall, low_memory=low_memory, cache_mb=cache_mb,
                  cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_mib=report["vm_hwm_kib"] / 1024)
    return report


def bench_build(args: argparse.Namespace) -> list[dict]:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, list[Path]]] = []
    for folder, fname in [] if args.no_real else REAL_KGS:
        path = SHARED / folder / fname
        if path.exists():
            jobs.append((folder, [path]))
        else:
            print(f"  skip {folder}: {path} not found", file=sys.stderr)
    for size in args.sizes.split(","):
        if size:
            n = parse_size(size)
            jobs.append((f"synthetic {size}", [synthetic(workdir, n)]))
    modes = [True] if args.only_low_memory else [False, True] if args.low_memory else [False]
    rows = []
    for name, inputs in jobs:
        for low in modes:
            out = workdir / f"store_{name.replace(' ', '_')}{'_lm' if low else ''}.sqlite"
            print(f"  building {name}{' (low memory)' if low else ''} ...", file=sys.stderr)
            r = run_build_measured(inputs, out, low, args.cache_mb)
            r["dataset"] = name
            rows.append(r)
            if not args.keep:
                out.unlink(missing_ok=True)
    print(f"\n### Build (one fresh process per row, SQLite cache {args.cache_mb} MiB)\n")
    print("| input | mode | triples read | kept | entities | process wall s | process CPU s "
          "| build_kg s | triples/s (build_kg wall) | triples/s (process CPU) | peak RSS MiB "
          "| store MiB | bytes/triple |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        n = r["read"] + r["bad"]
        print(f"| {r['dataset']} | {'low-memory' if r['low_memory'] else 'default'} | {n:,} | "
              f"{r['kept']:,} | {r['entities']:,} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
              f"{r['seconds']:.1f} | {n / r['seconds']:,.0f} | {n / r['cpu_s']:,.0f} | "
              f"{r['peak_rss_mib']:.0f} | "
              f"{r['store_bytes'] / 2**20:.1f} | {r['store_bytes'] / max(r['kept'], 1):.0f} |")
    return rows


def timed(fn, repeats: int = 3) -> tuple[float, float]:
    """Median wall and median CPU (process) seconds of ``fn()`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return statistics.median(walls), statistics.median(cpus)


def _store_for(workdir: Path, spo: Path, name: str) -> Path:
    from knowledge import build_kg

    out = workdir / f"{name}.sqlite"
    if not _current(out):
        build_kg([spo], out, force=True)
    return out


def _current(store: Path) -> bool:
    """True if ``store`` exists and is readable by this version of the code."""
    from knowledge import KnowledgeGraph

    try:
        KnowledgeGraph.open(store).close()
        return True
    except (FileNotFoundError, ValueError):
        return False


def bench_lookup(args: argparse.Namespace) -> list[dict]:
    from knowledge import KnowledgeGraph

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    stores = []
    nlpcc = SHARED / "kg_nlpcc2016_kbqa" / "nlpcc2016_kbqa.spo"
    if nlpcc.exists():
        stores.append(("kg_nlpcc2016_kbqa", _store_for(workdir, nlpcc, "lookup_nlpcc")))
    size = args.lookup_size
    stores.append((f"synthetic {size}", _store_for(workdir, synthetic(workdir, parse_size(size)),
                                                   f"lookup_{size}")))
    rows = []
    for name, path in stores:
        kg = KnowledgeGraph.open(path, cache_size=0)  # measure the store, not the LRU cache
        subjects = [n for _, n in zip(range(200_000), (r[0] for r in kg.conn.execute(
            "SELECT e.name FROM entities e WHERE e.id IN (SELECT DISTINCT s FROM triples)")))]
        rng = random.Random(0)
        sample = [rng.choice(subjects) for _ in range(args.n_lookups)]
        sample += [f"不存在的实体{i}" for i in range(args.n_lookups // 10)]  # 1 in 11 misses
        rng.shuffle(sample)
        res = {"store": name, "entities_queried": len(sample)}
        for label, fn in [
            ("single, all triples", lambda: [kg.lookup(e) for e in sample]),
            ("single, limit=2", lambda: [kg.lookup(e, limit=2) for e in sample]),
            ("batched x64, all triples",
             lambda: [kg.lookup_many(sample[i:i + 64]) for i in range(0, len(sample), 64)]),
        ]:
            wall, cpu = timed(fn)
            res[label] = (len(sample) / wall, len(sample) / cpu)
        cached = KnowledgeGraph.open(path)
        [cached.lookup(e, limit=2) for e in sample]
        wall, cpu = timed(lambda: [cached.lookup(e, limit=2) for e in sample])
        res["single, limit=2, LRU cache warm"] = (len(sample) / wall, len(sample) / cpu)
        rows.append(res)
    labels = [k for k in rows[0] if k not in ("store", "entities_queried")]
    print("\n### Lookup throughput (entities/s by wall clock / by CPU time, median of 3)\n")
    print("| store | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for r in rows:
        print(f"| {r['store']} | " + " | ".join(f"{r[k][0]:,.0f} / {r[k][1]:,.0f}" for k in labels) + " |")
    return rows


def _matcher_kg(workdir: Path, n_names: int) -> Path:
    """A store with ``n_names`` entity names: every name of the real KGs + synthetic names."""
    from benchmarks.bench_kg_synthetic import entity_names
    from knowledge import build_kg

    out = workdir / f"matcher_{n_names}.sqlite"
    if _current(out):
        return out
    real: dict[str, None] = {}
    for folder, fname in REAL_KGS:
        path = SHARED / folder / fname
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                parts = line.split("\t")
                if len(parts) == 3:
                    real.setdefault(parts[0].strip(), None)
                    real.setdefault(parts[2].strip(), None)
    names = list(real)[:n_names]
    names += entity_names(n_names - len(names), seed=1)
    spo = workdir / f"matcher_{n_names}.spo"
    with open(spo, "w", encoding="utf-8") as fh:
        fh.writelines(f"{n}\t类别\t实体\n" for n in names if n)
    build_kg([spo], out, force=True)
    return out


def bench_matcher(args: argparse.Namespace) -> list[dict]:
    from knowledge import EntityMatcher, KnowledgeGraph, build_kg, demo_kg_source

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = SHARED / "corpus_cluecorpussmall" / "CLUECorpusSmall_bert_sampled.txt"
    sentences = [s for s in corpus.read_text(encoding="utf-8").splitlines() if s.strip()]
    demo = workdir / "demo.sqlite"
    build_kg([demo_kg_source()], demo, force=True)
    rows = []
    for name, store in [("demo KG", demo),
                        (f"{args.matcher_names:,} names", _matcher_kg(workdir, args.matcher_names))]:
        kg = KnowledgeGraph.open(store)
        EntityMatcher.persisted_path(store).unlink(missing_ok=True)
        t = time.perf_counter()
        m = EntityMatcher.for_store(kg)
        build_s = time.perf_counter() - t
        load_s, _ = timed(lambda: EntityMatcher.for_store(kg))
        m = EntityMatcher.for_store(kg)
        wall, cpu = timed(lambda: [m.find(s) for s in sentences])
        n_matches = sum(len(m.find(s)) for s in sentences)
        rows.append({"kg": name, "names": len(m), "build_s": build_s,
                     "file_mib": EntityMatcher.persisted_path(store).stat().st_size / 2**20,
                     "load_s": load_s, "sentences": len(sentences),
                     "chars_per_sentence": sum(map(len, sentences)) / len(sentences),
                     "matches_per_sentence": n_matches / len(sentences),
                     "sentences_per_s": len(sentences) / wall,
                     "sentences_per_cpu_s": len(sentences) / cpu})
    print("\n### EntityMatcher (CLUECorpusSmall sentences, median of 3)\n")
    print("| KG | names | build s | file MiB | load s | sentences | chars/sentence | matches/sentence "
          "| sentences/s (wall) | sentences/s (CPU) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kg']} | {r['names']:,} | {r['build_s']:.2f} | {r['file_mib']:.1f} | "
              f"{r['load_s']:.3f} | {r['sentences']:,} | {r['chars_per_sentence']:.0f} | "
              f"{r['matches_per_sentence']:.2f} | {r['sentences_per_s']:,.0f} | "
              f"{r['sentences_per_cpu_s']:,.0f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", nargs="?", default="all", choices=("all", "build", "lookup", "matcher"))
    ap.add_argument("--sizes", default="1M,3M",
                    help="synthetic KG sizes to build (add 10M for the largest; about 10x the 1M time)")
    ap.add_argument("--low-memory", action="store_true", help="also build in low-memory mode")
    ap.add_argument("--only-low-memory", action="store_true", help="build in low-memory mode only")
    ap.add_argument("--cache-mb", type=int, default=64, help="SQLite cache of the builds")
    ap.add_argument("--workdir", default="/tmp/kgbert_bench_kg", help="synthetic inputs and stores")
    ap.add_argument("--keep", action="store_true", help="keep the built stores")
    ap.add_argument("--no-real", action="store_true", help="skip the ../shared/data KGs")
    ap.add_argument("--tag", default="", help="suffix of the JSON result file names")
    ap.add_argument("--lookup-size", default="1M", help="synthetic KG for the lookup benchmark")
    ap.add_argument("--n-lookups", type=int, default=20_000)
    ap.add_argument("--matcher-names", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start; python {platform.python_version()}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = ["build", "lookup", "matcher"] if args.part == "all" else [args.part]
    for part in parts:
        rows = {"build": bench_build, "lookup": bench_lookup, "matcher": bench_matcher}[part](args)
        meta = {"load_average_end": os.getloadavg(), "cpus": os.cpu_count(), "args": vars(args)}
        (RESULTS / f"kg_{part}{args.tag}.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                            ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
