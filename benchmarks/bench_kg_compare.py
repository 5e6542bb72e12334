"""Before/after build benchmark: an older copy of ``knowledge`` against the current one, one run.

    git show HEAD:knowledge/build.py ...   # or: cp -r knowledge /tmp/kg_before/   (before editing)
    python -m benchmarks.bench_kg_compare --baseline /tmp/kg_before --sizes 1M,3M --repeats 3

``--baseline`` is a folder holding a ``knowledge`` package. Every build runs in a fresh process
(see :func:`benchmarks.bench_kg.run_build_measured`); baseline and current builds alternate
within each repeat, so both see the same machine state. Prints a Markdown table of medians and
writes ``benchmarks/results/kg_build_compare<tag>.json``. Run it under ``nice``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from benchmarks.bench_kg import REAL_KGS, REPO, RESULTS, SHARED, parse_size, run_build_measured, synthetic


def _jobs(workdir: Path, sizes: str, real: bool) -> list[tuple[str, list[Path]]]:
    jobs = [(folder, [SHARED / folder / fname]) for folder, fname in (REAL_KGS if real else [])
            if (SHARED / folder / fname).exists()]
    return jobs + [(f"synthetic {size}", [synthetic(workdir, parse_size(size))])
                   for size in sizes.split(",") if size]


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="folder holding the older knowledge package")
    ap.add_argument("--sizes", default="1M,3M", help="synthetic KG sizes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="default,low-memory", help="default and/or low-memory")
    ap.add_argument("--no-real", action="store_true", help="skip the ../shared/data KGs")
    ap.add_argument("--cache-mb", type=int, default=64)
    ap.add_argument("--workdir", default="/tmp/kgbert_bench_kg")
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load0:.1f} at start; "
          f"python {platform.python_version()}")
    codes = {"before": Path(args.baseline).resolve(), "after": REPO}
    rows = []
    for name, inputs in _jobs(workdir, args.sizes, not args.no_real):
        for mode in args.modes.split(","):
            runs: dict[str, list[dict]] = {"before": [], "after": []}
            for _ in range(args.repeats):
                for which, root in codes.items():
                    print(f"  {name} {mode} {which} ...", file=sys.stderr)
                    out = workdir / f"cmp_{which}.sqlite"
                    runs[which].append(run_build_measured(inputs, out, mode == "low-memory",
                                                          args.cache_mb, code_root=root))
                    out.unlink(missing_ok=True)
            b, a = runs["before"], runs["after"]
            assert all(r["kept"] == b[0]["kept"] and r["entities"] == b[0]["entities"] for r in a + b)
            n = b[0]["read"] + b[0]["bad"]
            row = {"dataset": name, "mode": mode, "triples": n, "kept": b[0]["kept"],
                   "entities": b[0]["entities"], "runs": runs}
            for which, rs in runs.items():
                for key in ("seconds", "cpu_s", "wall_s", "peak_rss_mib"):
                    row[f"{which}_{key}"] = _median(rs, key)
            rows.append(row)
    print(f"\n### Build before / after (medians of {args.repeats}; each build a fresh process; "
          f"SQLite cache {args.cache_mb} MiB; load average {load0:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end)\n")
    print("| input | mode | triples | before triples/s (build_kg wall) | after triples/s (build_kg wall) "
          "| before triples/s (process CPU) | after triples/s (process CPU) | speed-up (CPU) "
          "| before peak RSS MiB | after peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        n = r["triples"]
        print(f"| {r['dataset']} | {r['mode']} | {n:,} | {n / r['before_seconds']:,.0f} | "
              f"{n / r['after_seconds']:,.0f} | {n / r['before_cpu_s']:,.0f} | {n / r['after_cpu_s']:,.0f} | "
              f"{r['before_cpu_s'] / r['after_cpu_s']:.2f}x | {r['before_peak_rss_mib']:.0f} | "
              f"{r['after_peak_rss_mib']:.0f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"load_average_start": load0, "load_average_end": os.getloadavg(), "cpus": os.cpu_count(),
            "args": vars(args)}
    (RESULTS / f"kg_build_compare{args.tag}.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
