"""Typed pretraining configs: ``python -m kgbert.pretrain configs/pretrain/X.yaml [key=value ...]``.

The same machinery as :mod:`kgbert.training.config` (strict keys with close-match hints, typed
dotted overrides, ``${VAR:-default}`` references), with sections for the corpus, the vocabulary,
the masking strategy and the objectives.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Sequence


from kgbert.training.config import ConfigError, _build, _set_dotted, parse_overrides, read_yaml_mapping, write_yaml_atomic


@dataclass
class CorpusSource:
    """One corpus file (plain or ``.gz``).

    ``format``:
    - ``docs``: one document per line;
    - ``paragraphs``: one sentence/paragraph per line, a blank line between documents;
    - ``examples``: a labelled dataset read with the project's readers (``reader`` = tsv, jsonl,
      ner_tsv or conll; ``task``); only its text is used (text_a, text_b), never its labels;
    - ``tsv_column``: tab-separated rows, the text in column ``column`` (0-based); ``header``
      skips the first line, ``strip_spaces`` joins space-separated characters.
    ``holdout``: share of this source's documents held out for evaluation (chosen by a hash of
    the document text, so the split is stable across runs and never trained on).
    """

    path: str = ""
    name: Optional[str] = None  # default: the file name
    format: Literal["docs", "paragraphs", "examples", "tsv_column"] = "paragraphs"
    reader: Optional[str] = None  # format=examples: tsv | jsonl | ner_tsv | conll
    task: Optional[str] = None  # format=examples: sequence | pair | token
    column: int = 0  # format=tsv_column
    header: bool = False  # format=tsv_column: skip the first non-empty line
    strip_spaces: bool = False  # format=tsv_column: drop spaces (space-separated characters, K-BERT NER TSV)
    holdout: float = 0.0
    weight: float = 1.0  # sampling weight relative to the source's size (1 = proportional)

    @property
    def label(self) -> str:
        return self.name or Path(self.path).name


@dataclass
class PretrainDataConfig:
    corpus: list[CorpusSource] = field(default_factory=list)
    max_length: int = 128  # tokens per packed sequence, [CLS] and [SEP] included
    shuffle_buffer: int = 2048  # packed sequences held for shuffling (streaming)
    eval_sequences: int = 256  # held-out sequences per source with holdout > 0
    cache_dir: str = "runs/pretrain_cache"  # annotation cache (wwm/ernie)


@dataclass
class VocabConfig:
    """Vocabulary built from the corpus (from scratch) or taken from ``model.init_from``."""

    min_count: int = 5  # characters seen fewer times are left out ([UNK])
    max_size: Optional[int] = None
    latin_words: int = 1000  # most frequent lower-case Latin words (>= min_count) as whole tokens
    max_lines: Optional[int] = None  # count only the first N lines of each source (fast smoke runs)


@dataclass
class MaskingConfig:
    strategy: str = "mlm"  # a name in kgbert.data.collators.COLLATORS: mlm | wwm | ernie | span
    mlm_probability: float = 0.15
    mask_replace: float = 0.8  # of the chosen units: [MASK]
    random_replace: float = 0.1  # random token; the rest stays unchanged
    static: bool = False  # True: one fixed mask per example per duplicate (original BERT)
    duplicates: int = 10  # static masking: distinct masks per example (BERT's dupe_factor)
    options: dict[str, Any] = field(default_factory=dict)  # strategy options (e.g. ernie stages, span p/max_span)
    # StructBERT's word structural objective (objective wso): windows of shuffle_k consecutive
    # unmasked tokens start at this share of the positions and are shuffled
    shuffle_fraction: float = 0.05
    shuffle_k: int = 3
    # corpus annotator for wwm/span/ernie (default: jieba_words for wwm and span, fast_pipeline for ernie) and its options
    annotator: Optional[str] = None
    annotator_options: dict[str, Any] = field(default_factory=dict)
    annotate_workers: int = 1  # processes that build the annotation cache (same cache for any number)


@dataclass
class PretrainModelConfig:
    init_from: Optional[str] = None  # local checkpoint dir (bert-base-chinese layout; the family's) to continue from
    config: dict[str, Any] = field(default_factory=dict)  # BertConfig (AlbertConfig...) values for a from-scratch model
    # mlm [+ one sentence objective nsp | sop | sso] [+ sbo (needs masking.strategy span)] [+ wso]
    objectives: list[str] = field(default_factory=lambda: ["mlm"])
    family: str = "bert"  # bert | albert | electra | xlnet: kgbert.pretraining.families.FAMILIES
    family_options: dict[str, Any] = field(default_factory=dict)  # electra: generator_size, discriminator_weight, temperature
    # dropout written into the exported best/config.json (fine-tuning default; pretraining may run
    # without dropout); null keeps the pretraining values
    export_dropout: Optional[float] = 0.1


@dataclass
class PretrainTrainingConfig:
    max_steps: int = 1000
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 300
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    adam_epsilon: float = 1e-6
    max_grad_norm: float = 0.5
    lr_scheduler: str = "linear"  # linear | cosine (with time_budget_s: the decay follows max(step, time) progress)
    time_budget_s: Optional[float] = None  # wall-clock budget from the run's first start (Cramming-style, see run.py)
    save_steps: int = 500
    eval_steps: Optional[int] = None  # default: save_steps
    save_total_limit: int = 3
    logging_steps: int = 20
    bf16: bool = False
    fp16: bool = False
    ddp_backend: Optional[str] = None
    threads: Optional[int] = None
    progress: bool = True


@dataclass
class PretrainConfig:
    name: str = "pretrain"
    output_dir: Optional[str] = None  # default: runs/pretrain/<name>
    seed: int = 42
    resume: Literal["auto", True, False] = "auto"
    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    model: PretrainModelConfig = field(default_factory=PretrainModelConfig)
    training: PretrainTrainingConfig = field(default_factory=PretrainTrainingConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path("runs") / "pretrain" / self.name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pretrain_config_from_dict(data: dict, where: str = "<dict>", overrides: Sequence[str] = ()) -> PretrainConfig:
    import copy

    tree = copy.deepcopy(dict(data or {}))
    for key, value in parse_overrides(overrides):
        _set_dotted(tree, key, value)
    where = where + (f" (with overrides {list(overrides)})" if overrides else "")
    cfg = _build(PretrainConfig, tree, "", where)
    _validate(cfg, where)
    return cfg


def _validate(cfg: PretrainConfig, where: str) -> None:
    m = cfg.masking
    if not 0 < m.mlm_probability < 1:
        raise ConfigError(f"masking.mlm_probability must be in (0, 1), found {m.mlm_probability} (in {where})")
    if m.mask_replace < 0 or m.random_replace < 0 or m.mask_replace + m.random_replace > 1:
        raise ConfigError(f"masking.mask_replace + masking.random_replace must lie in [0, 1] (in {where})")
    if m.annotate_workers < 1:
        raise ConfigError(f"masking.annotate_workers must be at least 1, found {m.annotate_workers} (in {where})")
    if cfg.data.max_length < 8:
        raise ConfigError(f"data.max_length must be at least 8 (in {where})")
    for i, src in enumerate(cfg.data.corpus):
        if not src.path:
            raise ConfigError(f"data.corpus[{i}].path is required (in {where})")
        if src.format == "examples" and not (src.reader and src.task):
            raise ConfigError(f"data.corpus[{i}]: format 'examples' needs reader and task (in {where})")
        if not 0 <= src.holdout < 1:
            raise ConfigError(f"data.corpus[{i}].holdout must be in [0, 1) (in {where})")
    if not 0 < m.shuffle_fraction < 1 or not 2 <= m.shuffle_k <= 6:
        raise ConfigError(f"masking.shuffle_fraction must be in (0, 1) and masking.shuffle_k in [2, 6] (in {where})")
    from kgbert.objectives import check_objectives

    problem = check_objectives(list(cfg.model.objectives), m.strategy)
    if problem:
        raise ConfigError(f"model.objectives: {problem} (in {where})")
    from kgbert.pretraining.families import get_family

    get_family(cfg.model.family).validate(cfg, where)


def load_pretrain_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> PretrainConfig:
    return pretrain_config_from_dict(read_yaml_mapping(path), str(path), overrides)


def dump_pretrain_config(config: PretrainConfig, path: str | os.PathLike) -> None:
    write_yaml_atomic(config.to_dict(), path)
