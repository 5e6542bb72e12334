"""``python -m kgbert.build_kg``: build a knowledge-graph store from triple files.

With no input files it builds the bundled demo KG (``knowledge/data/demo_kg.spo``). Exit codes:
0 success, 1 bad input under ``--strict`` or a failed build (a truncated or corrupt ``.gz``, an
unwritable output folder, ``--out`` naming an input or a directory: ``file: reason`` on stderr),
2 usage errors (including an existing ``--out`` without ``--force``). An empty input, or one whose
every line is bad, is a warning (stderr and the report), not an error.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge import BadInputError, build_kg, demo_kg_source
from knowledge.build import BuildError
from knowledge.tempfiles import exit_on_sigterm
from knowledge.readers import FORMATS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m kgbert.build_kg", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="*", type=Path,
                    help="triple files (.spo, .nt, .ttl, .csv, .tsv, optionally .gz); "
                         "default: the bundled demo KG")
    ap.add_argument("--out", type=Path, default=Path("runs/demo/demo_kg.sqlite"),
                    help="store to write (default: %(default)s)")
    ap.add_argument("--format", choices=FORMATS, default=None,
                    help="input format for all inputs (default: from each file's extension)")
    ap.add_argument("--name", default=None, help="KG name stored in the metadata")
    ap.add_argument("--normalize", nargs="?", const="nfkc", default="none",
                    choices=("none", "nfkc", "t2s"),
                    help="NFKC + strip (bare flag or 'nfkc'), plus traditional->simplified ('t2s')")
    ap.add_argument("--dedup", action=argparse.BooleanOptionalAction, default=True,
                    help="drop repeated (s, p, o) triples (default: on)")
    ap.add_argument("--min-entity-len", type=int, default=1,
                    help="drop triples whose subject is shorter than this (characters)")
    ap.add_argument("--predicates", action="append", default=None,
                    help="allow list: keep only these predicates (comma-separated or @file; repeatable)")
    ap.add_argument("--skip-predicates", action="append", default=None,
                    help="deny list: drop these predicates (comma-separated or @file; repeatable)")
    ap.add_argument("--rdf-names", choices=("auto", "local"), default="auto",
                    help="RDF IRIs -> names: 'auto' keeps IRIs (kgbert namespace decoded), "
                         "'local' uses the local name")
    ap.add_argument("--columns", default=None,
                    help="CSV/TSV header names of the subject,predicate,object columns")
    ap.add_argument("--low-memory", action="store_true",
                    help="assign entity ids in SQLite, not a Python dict: flat memory, slower")
    ap.add_argument("--index-objects", action="store_true",
                    help="also index triples by object (reverse lookups)")
    ap.add_argument("--cache-mb", type=int, default=64, help="SQLite page cache during the build")
    ap.add_argument("--strict", action="store_true", help="exit non-zero on the first bad line")
    ap.add_argument("--force", action="store_true", help="overwrite an existing --out")
    ap.add_argument("--max-errors", type=int, default=20, help="bad lines shown (all are counted)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()  # kill (SIGTERM) removes the temporary store like an error does
    inputs = list(args.inputs) or [demo_kg_source()]
    columns = tuple(c.strip() for c in args.columns.split(",")) if args.columns else None
    if columns is not None and len(columns) != 3:
        print("error: --columns needs three names: subject,predicate,object", file=sys.stderr)
        return 2
    try:
        report = build_kg(
            inputs, args.out, name=args.name or ("demo" if not args.inputs else None),
            fmt=args.format, normalize=args.normalize, dedup=args.dedup,
            min_entity_len=args.min_entity_len, predicates=args.predicates,
            skip_predicates=args.skip_predicates, strict=args.strict, force=args.force,
            max_errors_shown=args.max_errors, progress=not args.no_progress,
            rdf_names=args.rdf_names, columns=columns,  # type: ignore[arg-type]
            low_memory=args.low_memory, index_objects=args.index_objects, cache_mb=args.cache_mb,
            on_bad=lambda b: print(f"bad line: {b}", file=sys.stderr))
    except BadInputError as exc:
        print(f"error: {exc} (--strict)", file=sys.stderr)
        return 1
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if report.bad > len(report.bad_examples):
        print(f"... {report.bad - len(report.bad_examples)} more bad lines not shown "
              f"({report.bad} in all)", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
