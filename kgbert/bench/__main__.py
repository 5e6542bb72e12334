"""``python -m kgbert.bench configs/bench/X.yaml [key=value ...] [--quick]``: run (or resume) a
bench grid and write results.json, results.md, scores.png and throughput.png."""
from __future__ import annotations

from kgbert.cli import doc_summary

import argparse
import sys

from kgbert.training.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kgbert.bench", description=doc_summary(__doc__))
    parser.add_argument("config", help="bench config (configs/bench/*.yaml)")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides of the bench config, e.g. seeds=[1,2]")
    parser.add_argument("--quick", action="store_true", help="apply the config's 'quick' section: a tiny grid end to end")
    parser.add_argument("--tasks", help="comma-separated subset of the config's tasks")
    parser.add_argument("--encoders", help="comma-separated subset of the config's encoder rows")
    parser.add_argument("--report-only", action="store_true", help="rewrite the results from finished cells; run nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_intermixed_args(argv)
    from kgbert.bench.config import load_bench
    from kgbert.bench.report import write_results
    from kgbert.bench.runner import load_cell, plan, run_bench
    from kgbert.bench.config import cell_dir

    try:
        cfg = load_bench(args.config, args.overrides, quick=args.quick)
        tasks = args.tasks.split(",") if args.tasks else None
        encoders = args.encoders.split(",") if args.encoders else None
        if args.report_only:
            records = [r for c in plan(cfg, tasks, encoders) if (r := load_cell(cell_dir(cfg, *c))) is not None]
        else:
            records = run_bench(cfg, where=args.config, tasks=tasks, encoders=encoders, progress=not args.no_progress,
                                log=lambda m: print(m, file=sys.stderr))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not records:
        print("error: no finished cells to report", file=sys.stderr)
        return 2
    write_results(cfg, records, config_path=args.config, quick=args.quick)
    out = cfg.out_dir
    print((out / "results.md").read_text(encoding="utf-8"))
    print(f"wrote {out / 'results.json'}, {out / 'results.md'}, {out / 'scores.png'}, {out / 'throughput.png'}")
    failed = sum(r["status"] != "ok" for r in records)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
