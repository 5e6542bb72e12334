"""Bench configs: encoders x tasks x seeds with one shared training budget.

A bench config (YAML)::

    name: finance
    output_dir: runs/bench/finance     # default runs/bench/<name> (runs/bench/<name>-quick with --quick)
    seeds: [1, 2, 3]
    base:                              # a run-config fragment shared by every cell: the budget
      data: {max_length: 128}          # (epochs/steps, batch size, max length, LR schedule...)
      model: {backbone_config: {...}}
      training: {epochs: 3, batch_size: 32, lr: 1.0e-3, threads: 1}
    encoders:                          # row name -> run-config fragment (encoder + its options, KG)
      bert: {model: {encoder: bert}}
      kbert_fin:
        model: {encoder: kbert, featurizer: {max_entities: 2}}
        kg: {sources: [.../Finance.spo]}
    tasks:                             # column name -> data set (path + format), task type, metric
      financial_ner:
        run: {task: {type: token}, data: {format: ner_tsv, train: ..., dev: ...}}
        split: dev                     # the split the table reports (default: test, else dev)
        metric: f1                     # default: f1 (token), macro_f1 (relation), loose_micro_f1 (multi-label typing), accuracy
        also: [precision, recall]      # further metrics of the same split, in columns beside the score
        paper: {bert: 86.1, kbert_fin: 87.4-87.6}   # reported figures, shown beside ours
        paper_note: Google BERT-base backbone (K-BERT paper, Table 3)
        encoder_overrides:             # row glob -> fragment merged over those rows in this task only
          "kbert_*": {kg: {sources: [.../Finance.spo]}}
    quick:                             # --quick: deep-merged over this config (a tiny grid)
      seeds: [1]
      base: {data: {limit_train: 64, limit_eval: 32}, training: {max_steps: 4}}

A cell's run config is ``base`` <- ``tasks[t].run`` <- ``encoders[e]`` <- every
``tasks[t].encoder_overrides`` fragment whose glob matches ``e`` (deep merge, later wins) plus ``name``, ``seed`` and ``output_dir`` (``<output_dir>/cells/<task>/<encoder>/seed<N>``);
it is validated like any run config (:func:`kgbert.training.config_from_dict`), so any run
option can be swept. Encoders are looked up by the trainer through the registry
(:data:`kgbert.registry.ENCODERS`, :func:`kgbert.data.build_featurizer`); the harness knows no
encoder by name. CLI overrides are dotted ``key=value`` pairs on this document, e.g.
``seeds=[1] base.training.epochs=1 encoders.kbert.model.featurizer.max_entities=1``.
"""
from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from kgbert.training.config import ConfigError, RunConfig, _build, _set_dotted, config_from_dict, parse_overrides


@dataclass
class TaskEntry:
    """One task column: the run-config fragment of its data/task, the reported split and metric."""

    run: dict[str, Any] = field(default_factory=dict)
    split: Optional[str] = None  # test (default when the task has a labelled test split) or dev
    metric: Optional[str] = None
    also: list[str] = field(default_factory=list)  # further metrics of the reported split, shown beside it
    paper: dict[str, Any] = field(default_factory=dict)  # encoder row -> reported figure (number or text)
    paper_note: Optional[str] = None
    # encoder-row glob (fnmatch, e.g. "kbert_*") -> run-config fragment merged over the matching rows
    # in this task only (e.g. each task's own KG for every K-BERT row); applied in order, after the row
    encoder_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class BenchConfig:
    name: str = "bench"
    output_dir: Optional[str] = None
    seeds: list[int] = field(default_factory=lambda: [1])
    base: dict[str, Any] = field(default_factory=dict)
    encoders: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, TaskEntry] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path("runs") / "bench" / self.name


EncoderEntry = dict
"""An encoder row is a plain run-config fragment (``model``, ``kg``...)."""


def deep_merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` merged in (mappings recursively, everything else replaced)."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def bench_from_dict(data: dict, where: str = "<dict>", overrides: Sequence[str] = (), quick: bool = False) -> BenchConfig:
    tree = copy.deepcopy(data or {})
    if quick:
        if not tree.get("quick"):
            raise ConfigError(f"--quick: {where} has no 'quick' section")
        tree = deep_merge(tree, tree["quick"])
        if not tree.get("output_dir"):
            tree["output_dir"] = str(Path("runs") / "bench" / f"{tree.get('name', 'bench')}-quick")
    for key, value in parse_overrides(overrides):
        _set_dotted(tree, key, value)
    where = where + (f" (with overrides {list(overrides)})" if overrides else "")
    cfg = _build(BenchConfig, tree, "", where)
    if not cfg.encoders:
        raise ConfigError(f"{where}: 'encoders' is empty")
    if not cfg.tasks:
        raise ConfigError(f"{where}: 'tasks' is empty")
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        raise ConfigError(f"{where}: 'seeds' must be a non-empty list without duplicates, got {cfg.seeds}")
    for t, entry in cfg.tasks.items():
        if entry.split not in (None, "dev", "test"):
            raise ConfigError(f"tasks.{t}.split: expected dev or test, found {entry.split!r} (in {where})")
        unknown = set(entry.paper) - set(cfg.encoders)
        if unknown:
            raise ConfigError(f"tasks.{t}.paper names unknown encoder rows {sorted(unknown)} (in {where})")
        for pattern, fragment in entry.encoder_overrides.items():
            if not isinstance(fragment, dict):
                raise ConfigError(f"tasks.{t}.encoder_overrides.{pattern}: expected a run-config mapping (in {where})")
            if not any(fnmatch.fnmatchcase(e, pattern) for e in cfg.encoders):
                raise ConfigError(f"tasks.{t}.encoder_overrides: {pattern!r} matches no encoder row of {sorted(cfg.encoders)} (in {where})")
    for t in cfg.tasks:  # every cell's run config must be valid before anything runs
        for e in cfg.encoders:
            cell_config(cfg, t, e, cfg.seeds[0], where=where)
    return cfg


def load_bench(path: str | Path, overrides: Sequence[str] = (), quick: bool = False) -> BenchConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such bench config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return bench_from_dict(data or {}, str(path), overrides, quick)


def cell_dir(cfg: BenchConfig, task: str, encoder: str, seed: int) -> Path:
    return cfg.out_dir / "cells" / task / encoder / f"seed{seed}"


def cell_dict(cfg: BenchConfig, task: str, encoder: str, seed: int) -> dict:
    """The plain run-config mapping of one cell (before validation)."""
    entry = cfg.tasks[task]
    tree = deep_merge(deep_merge(cfg.base, entry.run), cfg.encoders[encoder])
    for pattern, fragment in entry.encoder_overrides.items():
        if fnmatch.fnmatchcase(encoder, pattern):
            tree = deep_merge(tree, fragment)
    tree.update(name=f"{cfg.name}/{task}/{encoder}", seed=seed, output_dir=str(cell_dir(cfg, task, encoder, seed)))
    return tree


def cell_config(cfg: BenchConfig, task: str, encoder: str, seed: int, where: str = "bench") -> RunConfig:
    """The validated run config of one cell (errors name the task and encoder)."""
    try:
        return config_from_dict(cell_dict(cfg, task, encoder, seed), f"{where} [task {task}, encoder {encoder}]")
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where} [task {task}, encoder {encoder}]: {e}") from None


def task_split(entry: TaskEntry, run: RunConfig) -> str:
    """The split the table reports for a task: the configured one, else test when labelled, else dev."""
    if entry.split:
        return entry.split
    return "test" if run.data.test and run.data.test_has_labels else "dev"


def task_metric(entry: TaskEntry, run: RunConfig) -> str:
    from kgbert.training.tasks import TaskSpec

    return entry.metric or TaskSpec(run.task.type, ["_"], multi_label=run.task.multi_label).default_metric
