"""``python -m knowledge.embed``: train KG embeddings on a store or benchmark files and export them.

    python -m knowledge.embed --kg runs/kg/medical.sqlite --out runs/kge/medical
    python -m knowledge.embed --train train.txt --valid valid.txt --test test.txt \\
        --model transe --dim 100 --out runs/kge/fb15k237

Settings come from ``--config FILE`` (YAML, keys of ``EmbedConfig``) overridden by the flags.
Writes the export directory (see :mod:`knowledge.embed.export`) with ``metrics.md`` beside it;
an existing directory is replaced only with ``--force``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

import yaml

from ..build import BadInputError
from .export import ExportExistsError, check_writable, write_export
from .training import (EmbedConfig, MissingDependency, metrics_markdown, quiet_library_logs,
                       representations, require_pykeen, train)
from .triples import TripleSplits, from_files, from_store, split_triples

#: flag -> EmbedConfig field (flags default to None = "not given")
_FLAGS = {
    "model": (str, "PyKEEN model name (transe, rotate, distmult, complex, ...)"),
    "dim": (int, "embedding dimension"),
    "norm": (int, "distance norm of TransE-like models: 1 (L1) or 2 (L2)"),
    "loss": (str, "margin | nssa (self-adversarial) | a PyKEEN loss name"),
    "margin": (float, "margin of the margin ranking / NSSA loss"),
    "adversarial_temperature": (float, "NSSA temperature"),
    "negatives": (str, "uniform | bernoulli"),
    "num_negs": (int, "negatives per positive triple"),
    "optimizer": (str, "optimizer name (adam, adagrad, sgd, ...)"),
    "lr": (float, "learning rate"),
    "lr_scheduler": (str, "torch LR scheduler name (ExponentialLR, StepLR, MultiStepLR, "
                          "ReduceLROnPlateau on validation MRR, ...); see --lr-scheduler-kwargs"),
    "batch_size": (int, "training batch size"),
    "epochs": (int, "maximum number of epochs"),
    "eval_every": (int, "evaluate validation MRR every N epochs (early stopping)"),
    "patience": (int, "stop after N evaluations without improvement"),
    "min_delta": (float, "minimum relative MRR improvement"),
    "valid_max": (int, "early-stop on at most N random validation triples"),
    "eval_batch_size": (int, "evaluation batch size"),
    "max_minutes": (float, "stop training after this many wall-clock minutes (best weights kept)"),
    "max_cpu_minutes": (float, "stop training after this many minutes of process CPU time "
                               "(best weights kept)"),
    "seed": (int, "random seed"),
    "device": (str, "torch device (cpu, cuda)"),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m knowledge.embed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--kg", help="a store built by build_kg (split into train/valid/test by --split)")
    src.add_argument("--train", help="training triples, head<TAB>relation<TAB>tail per line")
    ap.add_argument("--valid", help="validation triples (early stopping)")
    ap.add_argument("--test", help="test triples (final metrics)")
    ap.add_argument("--out", required=True, help="export directory to write")
    ap.add_argument("--config", help="YAML file of EmbedConfig settings (flags override it)")
    ap.add_argument("--force", action="store_true", help="replace an existing export at --out")
    ap.add_argument("--split", help="train,valid,test fractions for --kg (default 0.9,0.05,0.05)")
    ap.add_argument("--model-kwargs", help="JSON object of extra PyKEEN model arguments")
    ap.add_argument("--lr-scheduler-kwargs", help='JSON object of LR scheduler arguments, e.g. '
                                                  '\'{"gamma": 0.98}\'')
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    for name, (typ, help_) in _FLAGS.items():
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None, help=help_)
    args = ap.parse_args(argv)
    if args.kg and (args.valid or args.test):
        ap.error("--valid/--test go with --train; a --kg store is split by --split")
    return args


def make_config(args: argparse.Namespace) -> EmbedConfig:
    data: dict = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            loaded = yaml.safe_load(fh) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.config}: expected a mapping of EmbedConfig settings")
        data.update(loaded)
    for name in _FLAGS:
        value = getattr(args, name)
        if value is not None:
            data[name] = value
    if args.split:
        data["split"] = [float(x) for x in args.split.split(",")]
    if args.model_kwargs:
        data["model_kwargs"] = json.loads(args.model_kwargs)
    if args.lr_scheduler_kwargs:
        data["lr_scheduler_kwargs"] = json.loads(args.lr_scheduler_kwargs)
    data.pop("note", None)  # a config file may carry a free-text note
    return EmbedConfig.from_dict(data)


def load_data(args: argparse.Namespace, config: EmbedConfig) -> TripleSplits:
    if args.kg:
        return split_triples(from_store(args.kg), config.split, seed=config.seed)
    return from_files(args.train, args.valid, args.test)


def report(data: TripleSplits, config: EmbedConfig, result, seconds_total: float,
           cpu_seconds_total: float) -> str:
    counts = ", ".join(f"{k} {len(v):,}" for k, v in data.splits.items())
    title = (f"{config.model} dim {config.dim} on {data.source.get('name') or data.source.get('train')} "
             f"(filtered, realistic ranks, test split)")
    lines = [metrics_markdown(result.metrics, title) if result.metrics else "no test split: no metrics\n",
             f"- data: {data.num_entities:,} entities, {data.num_relations:,} relations; {counts}",
             f"- training: {result.epochs_run} epochs ({result.stopped_by}), best validation epoch "
             f"{result.best_epoch}, {result.seconds_train:.0f} s (incl. validation "
             f"{result.validation_seconds:.0f} s); test evaluation {result.seconds_eval:.0f} s; "
             f"total {seconds_total:.0f} s wall",
             f"- CPU time (process): training {result.cpu_seconds_train:.0f} s, test evaluation "
             f"{result.cpu_seconds_eval:.0f} s, total {cpu_seconds_total:.0f} s "
             f"({cpu_seconds_total / 60:.1f} CPU min vs {seconds_total / 60:.1f} min wall)",
             f"- config: `{json.dumps(config.to_dict(), ensure_ascii=False)}`",
             f"- build_id: `{data.build_id}`"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        require_pykeen()
        quiet_library_logs()
        logging.getLogger("knowledge.embed").setLevel(logging.INFO)  # validation MRR per evaluation
        config = make_config(args)
        out = check_writable(Path(args.out), args.force)
        data = load_data(args, config)
        result = train(data, config, use_tqdm=not args.quiet)
        entity, relation, is_complex = representations(result.model)
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
        md = report(data, config, result, seconds, cpu_seconds)
        meta = {"source": data.source, "config": config.to_dict(), "complex_as_real": is_complex,
                "metrics": result.metrics, "epochs_run": result.epochs_run,
                "best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
                "validation_history": result.validation_history,
                "validation_cpu_seconds": result.validation_cpu_seconds,
                "validation_lr": result.validation_lr,
                "seconds": {"train": result.seconds_train, "test_eval": result.seconds_eval,
                            "total": seconds},
                "cpu_seconds": {"train": result.cpu_seconds_train,
                                "test_eval": result.cpu_seconds_eval, "total": cpu_seconds},
                "splits": {k: len(v) for k, v in data.splits.items()},
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "versions": _versions()}
        write_export(out, entity=entity, relation=relation, entity_names=data.entity_names,
                     relation_names=data.relation_names, build_id=data.build_id, meta=meta,
                     metrics_md=md, force=args.force)
    except (BadInputError, ExportExistsError, MissingDependency, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(md)
    print(f"wrote {out}")
    return 0


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("pykeen", "torch", "numpy", "safetensors"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
