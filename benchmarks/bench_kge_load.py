"""Loading KG-embedding exports: memory-mapped open vs full reads, on a synthetic 2M x 100 table.

    python -m benchmarks.bench_kge_load                    # 2M entities x 100 dims (800 MB)
    python -m benchmarks.bench_kge_load --entities 5000000 --dim 100

Writes one export with :func:`knowledge.embed.write_export` (random float32 vectors, names
``e0..eN``) into a temporary folder, then times, each ``--repeats`` times (median; the file is
in the OS page cache after the first write, so these are warm-cache numbers):

- ``load_embeddings`` (memory-mapped; what ERNIE uses) with the ``build_id`` check;
- gathering 10,000 random rows from the mapped table;
- the whole table read into RAM (``safetensors.safe_open(...).get_tensor``) and as a torch tensor;
- the id maps (``ids.json``, parsed only when names are asked for);
- the text format of the reference (one entity per line, floats separated by tabs), parsed with
  numpy on ``--text-rows`` rows and scaled linearly to the full table (marked "extrapolated").

Prints a Markdown table and writes ``benchmarks/results/kge_load.json``. Run it under ``nice``.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from knowledge.embed import load_embeddings, write_export

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(entities: int, dim: int, repeats: int, text_rows: int, workdir: Path) -> list[dict]:
    rng = np.random.default_rng(0)
    ent = rng.standard_normal((entities, dim), dtype=np.float32)
    rel = rng.standard_normal((1000, dim), dtype=np.float32)
    out = workdir / "export"
    t0 = time.perf_counter()
    write_export(out, entity=ent, relation=rel, entity_names=[f"e{i}" for i in range(entities)],
                 relation_names=[f"r{i}" for i in range(1000)], build_id="bench" * 6 + "00",
                 meta={"config": {"model": "synthetic"}})
    write_s = time.perf_counter() - t0
    rows = rng.integers(0, entities, size=10_000)
    build_id = "bench" * 6 + "00"
    emb = load_embeddings(out, build_id=build_id)
    assert np.array_equal(emb.entity[rows[:100]], ent[rows[:100]])
    del ent

    def full_read():
        from safetensors import safe_open

        with safe_open(str(out / "embeddings.safetensors"), framework="numpy") as fh:
            return fh.get_tensor("entity")

    text = workdir / "text.tsv"
    np.savetxt(text, rng.standard_normal((text_rows, dim), dtype=np.float32), fmt="%.6f",
               delimiter="\t")
    text_s = _median_time(lambda: np.loadtxt(text, dtype=np.float32, delimiter="\t"), 1)
    size_mb = (out / "embeddings.safetensors").stat().st_size / 2**20
    return [
        {"what": "write_export (tables + id maps, atomic)", "seconds": write_s},
        {"what": "load_embeddings (memory-mapped, build_id checked)",
         "seconds": _median_time(lambda: load_embeddings(out, build_id=build_id), repeats)},
        {"what": "gather 10,000 random rows from the mapped table",
         "seconds": _median_time(lambda: np.asarray(emb.entity[rows]), repeats)},
        {"what": f"read the whole table into RAM (safe_open get_tensor, {size_mb:.0f} MB)",
         "seconds": _median_time(full_read, repeats)},
        {"what": "whole table as a torch tensor (KGEmbeddings.tensor)",
         "seconds": _median_time(lambda: emb.tensor("entity"), repeats)},
        {"what": "parse the id maps (ids.json, only when names are needed)",
         "seconds": _median_time(lambda: json.loads((out / "ids.json").read_text(encoding="utf-8")),
                                 repeats)},
        {"what": f"text format, numpy.loadtxt ({text_rows:,} rows measured, extrapolated)",
         "seconds": text_s * entities / text_rows},
    ]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=2_000_000)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--text-rows", type=int, default=100_000)
    ap.add_argument("--tmp", help="folder for the temporary export (default: system temp)")
    ap.add_argument("--json", default=str(RESULTS / "kge_load.json"))
    args = ap.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kge_load_", dir=args.tmp))
    try:
        rows = run(args.entities, args.dim, args.repeats, args.text_rows, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{args.entities:,} entities x {args.dim} float32; median of {args.repeats} "
          f"(warm page cache); {platform.processor() or platform.machine()}\n")
    print("| step | seconds |\n|---|---:|")
    for r in rows:
        print(f"| {r['what']} | {r['seconds']:.4f} |")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"entities": args.entities, "dim": args.dim,
                                           "repeats": args.repeats, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
