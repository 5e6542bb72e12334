"""Typed run configs: YAML -> dataclasses, strict keys, typed ``key=value`` overrides.

``load_config("configs/x.yaml", ["training.lr=3e-5", "seed=2"])`` returns a :class:`RunConfig`.
Unknown keys are an error naming the dotted key and the file (with a close-match hint); values
are checked against the field types (``"5e-5"`` is accepted for a float, YAML 1.1 reads it as a
string). String values may use ``${VAR}`` or ``${VAR:-default}`` environment references, e.g.
``${KGBERT_SHARED_DATA:-../shared/data}/medical_ner/train.tsv``.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Sequence, Union

import yaml

from kgbert.constants import RUN_TASKS


class ConfigError(ValueError):
    """An invalid run config (unknown key, wrong type, bad value); names the key and file."""


TaskType = Literal[RUN_TASKS]  # type: ignore[valid-type]  # the tasks of kgbert.constants, one home


@dataclass
class TaskConfig:
    """What is predicted."""

    type: TaskType = "sequence"
    # relation: a marked (head, tail) entity pair in one sentence -> relation (read with
    # format relation_tsv, which inserts entity markers; classified like "sequence")
    labels: Optional[list[str]] = None  # default: collected from the train split (entity_typing: the types)
    # entity_typing: a marked mention -> its type (read with format typing_tsv or ner_mentions, the
    # latter derived from an NER set); multi_label: several types per mention (one sigmoid per type)
    multi_label: bool = False


@dataclass
class DataConfig:
    """Where the examples come from (see :mod:`kgbert.data.readers`)."""

    format: Literal["tsv", "jsonl", "ner_tsv", "conll", "cluener", "spans_jsonl", "csv", "relation_tsv", "typing_tsv",
                    "ner_mentions"] = "tsv"
    train: Optional[str] = None
    dev: Optional[str] = None
    test: Optional[str] = None
    test_has_labels: bool = True  # False: predictions only (e.g. AFQMC's public test)
    max_length: int = 128
    limit_train: Optional[int] = None  # first N training examples (demos, smoke runs)
    limit_eval: Optional[int] = None  # first N dev/test examples (default of limit_dev/limit_test)
    limit_dev: Optional[int] = None  # first N dev examples (overrides limit_eval)
    limit_test: Optional[int] = None  # first N test examples (overrides limit_eval)
    dev_fraction: Optional[float] = None  # carve dev from train (sets without a dev split); excludes data.dev
    dev_seed: int = 12345  # the fixed shuffle seed of dev_fraction (independent of the run seed)
    reader_options: dict[str, Any] = field(default_factory=dict)  # e.g. {scheme: bio} for conll
    annotations: dict[str, str] = field(default_factory=dict)  # split -> JSONL of Annotation records, one per example
    annotate: bool = False  # compute the encoder's annotators for splits without a file (cached)
    annotation_cache_dir: str = "runs/annotation_cache"
    annotator_options: dict[str, Any] = field(default_factory=dict)  # extra annotators.make_pipeline arguments


@dataclass
class ModelConfig:
    """The encoder and its backbone (a local HF checkpoint dir, or a random init)."""

    encoder: str = "bert"
    backbone: Optional[str] = None
    backbone_config: Optional[dict[str, Any]] = None  # random init: hidden_size, num_hidden_layers, ...
    vocab_min_count: int = 1  # random init: char vocab from the training data (+ KG names)
    vocab_max_size: Optional[int] = None
    vocab_sources: list[str] = field(default_factory=list)  # random init: more files whose chars join the vocab (e.g. the KG's .spo)
    options: dict[str, Any] = field(default_factory=dict)  # encoder options for build_model
    featurizer: dict[str, Any] = field(default_factory=dict)  # encoder options for build_featurizer


@dataclass
class KGConfig:
    """The knowledge graph: an existing store (``path``) or sources to build one from."""

    path: Optional[str] = None
    sources: list[str] = field(default_factory=list)
    cache_dir: str = "runs/kg_cache"
    build_options: dict[str, Any] = field(default_factory=dict)  # extra build_kg keyword arguments


@dataclass
class TrainingConfig:
    """Optimisation and bookkeeping; maps onto ``transformers.TrainingArguments``."""

    epochs: float = 3.0
    max_steps: int = -1
    batch_size: int = 32
    eval_batch_size: int = 64
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    grad_accum: int = 1
    lr_scheduler: str = "linear"
    eval_strategy: Literal["epoch", "steps"] = "epoch"
    eval_steps: Optional[int] = None  # also the save interval when eval_strategy=steps
    logging_steps: int = 50
    save_total_limit: int = 2
    metric_for_best: Optional[str] = None  # default: f1 (token), accuracy (sequence/pair/typing), macro_f1 (relation), loose_micro_f1 (multi-label typing)
    bf16: bool = False
    fp16: bool = False
    num_workers: int = 0
    ddp_backend: Optional[str] = None  # e.g. gloo for CPU multi-process
    threads: Union[int, Literal["auto"], None] = "auto"  # torch.set_num_threads; auto: cores minus load (kgbert.training.threads)
    progress: bool = True  # tqdm bars


@dataclass
class RunConfig:
    """One run: ``python -m kgbert.train configs/X.yaml [key=value ...]``."""

    name: str = "run"
    output_dir: Optional[str] = None  # default: runs/<name>/seed<seed>
    seed: int = 42
    resume: Literal["auto", True, False] = "auto"  # auto: continue when the run dir has checkpoints
    overwrite: bool = False  # True: delete an existing run dir first
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    kg: KGConfig = field(default_factory=KGConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path("runs") / self.name / f"seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(value: str, key: str, where: str) -> str:
    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise ConfigError(f"{key}: environment variable {name} is not set (in {where})")
        return default

    return _ENV.sub(sub, value)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check (and gently convert) ``value`` to the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return _expand_tree(value, key, where)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} is not a valid {_type_name(tp)} (in {where})")
    if origin is Literal:
        if isinstance(value, str) and value.lower() in ("true", "false") and (True in args or False in args):
            value = value.lower() == "true"
        for a in args:
            if value == a and type(value) is type(a):
                return value
        raise ConfigError(f"{key}: {value!r} is not one of {list(args)} (in {where})")
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, found {value!r} (in {where})")
        return [_coerce(v, args[0] if args else Any, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, found {value!r} (in {where})")
        return {str(k): _coerce(v, args[1] if args else Any, f"{key}.{k}", where) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise ConfigError(f"{key}: expected true/false, found {value!r} (in {where})")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"{key}: expected an integer, found {value!r} (in {where})")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, found {value!r} (in {where})") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{key}: expected a number, found {value!r} (in {where})")
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, found {value!r} (in {where})") from None
    if tp is str:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"{key}: expected a string, found {value!r} (in {where})")
        return _expand_env(str(value), key, where)
    raise ConfigError(f"{key}: unsupported field type {tp!r}")


def _expand_tree(value: Any, key: str, where: str) -> Any:
    if isinstance(value, str):
        return _expand_env(value, key, where)
    if isinstance(value, list):
        return [_expand_tree(v, key, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand_tree(v, f"{key}.{k}", where) for k, v in value.items()}
    return value


def _build(cls: type, data: Any, prefix: str, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, rejecting unknown keys."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, found {data!r} (in {where})")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for k, v in data.items():
        dotted = f"{prefix}.{k}" if prefix else str(k)
        if k not in names:
            close = difflib.get_close_matches(str(k), names, n=1)
            hint = f" (did you mean '{prefix + '.' if prefix else ''}{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown key '{dotted}' in {where}{hint}")
        kwargs[k] = _coerce(v, hints[k], dotted, where)
    return cls(**kwargs)


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value


def parse_overrides(overrides: Sequence[str]) -> list[tuple[str, Any]]:
    """``["training.lr=3e-5", "task.labels=[a, b]"]`` -> [(dotted key, YAML-parsed value)]."""
    out = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        out.append((key, yaml.safe_load(raw) if raw.strip() else ""))
    return out


def config_from_dict(data: dict, where: str = "<dict>", overrides: Sequence[str] = ()) -> RunConfig:
    """Build a :class:`RunConfig` from a plain mapping plus dotted overrides."""
    tree = dict(data or {})
    import copy

    tree = copy.deepcopy(tree)
    for key, value in parse_overrides(overrides):
        _set_dotted(tree, key, value)
    where = where + (f" (with overrides {list(overrides)})" if overrides else "")
    return _build(RunConfig, tree, "", where)


def read_yaml_mapping(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML config file's top-level mapping ({} for an empty file); ConfigError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    with open(path, encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data or {}


def write_yaml_atomic(data: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``data`` as YAML (atomic: temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, allow_unicode=True, sort_keys=False)
    os.replace(tmp, path)


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> RunConfig:
    """Read ``path`` (YAML) into a validated :class:`RunConfig`, then apply ``key=value`` overrides."""
    return config_from_dict(read_yaml_mapping(path), str(path), overrides)


def dump_config(config: RunConfig, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML (atomic: temp file + rename)."""
    write_yaml_atomic(config.to_dict(), path)
