"""Encoder registry, ``AutoConfig``/``AutoModelFor...`` registration and :func:`build_model`.

Importing :mod:`kgbert.models` registers every encoder's ``model_type`` with transformers, so a
saved model reloads with ``AutoModelForSequenceClassification.from_pretrained(dir)`` (or
``...ForTokenClassification``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    BertConfig,
    PreTrainedModel,
)

from kgbert.models.configuration_bert_baseline import BertBaselineConfig
from kgbert.models.configuration_kbert import KBertConfig
from kgbert.models.modeling_bert_baseline import (
    BertBaselineForSequenceClassification,
    BertBaselineForTokenClassification,
)
from kgbert.models.modeling_kbert import KBertForSequenceClassification, KBertForTokenClassification

TASKS = ("sequence", "pair", "token")
"""``sequence``: one text -> label; ``pair``: two texts -> label (same head, two segments);
``token``: one label per original token (NER)."""


@dataclass(frozen=True)
class EncoderSpec:
    """What :func:`build_model` needs to know about one encoder.

    ``model_options`` go into the model config; ``featurizer_options`` belong to the featuriser
    (:func:`kgbert.data.build_featurizer`) and are accepted and ignored here, so a trainer can pass
    one ``encoder_options`` dict to both builders. Anything else is an error.
    """

    config_class: type[BertConfig]
    sequence_class: type[PreTrainedModel]
    token_class: type[PreTrainedModel]
    model_options: frozenset[str] = frozenset()
    featurizer_options: frozenset[str] = frozenset()


ENCODERS: dict[str, EncoderSpec] = {
    "bert": EncoderSpec(BertBaselineConfig, BertBaselineForSequenceClassification, BertBaselineForTokenClassification),
    "kbert": EncoderSpec(
        KBertConfig,
        KBertForSequenceClassification,
        KBertForTokenClassification,
        model_options=frozenset({"use_vm"}),
        featurizer_options=frozenset({"max_entities", "inject", "predicates", "max_branch_tokens", "min_entity_len", "stoplist", "max_df"}),
    ),
}

_CONFIG_KEYS_DROPPED = ("model_type", "architectures", "transformers_version", "auto_map", "_name_or_path")


def register_auto_classes() -> None:
    """Register every encoder's config and heads with transformers' Auto classes (idempotent)."""
    for spec in ENCODERS.values():
        AutoConfig.register(spec.config_class.model_type, spec.config_class, exist_ok=True)
        AutoModelForSequenceClassification.register(spec.config_class, spec.sequence_class, exist_ok=True)
        AutoModelForTokenClassification.register(spec.config_class, spec.token_class, exist_ok=True)


def get_encoder_spec(encoder: str) -> EncoderSpec:
    """The registry entry of ``encoder``; a clear error naming the known encoders otherwise."""
    try:
        return ENCODERS[encoder]
    except KeyError:
        raise ValueError(f"unknown encoder {encoder!r}; known: {sorted(ENCODERS)}") from None


def model_class_for(encoder: str, task: str) -> type[PreTrainedModel]:
    """The model class of ``encoder`` for ``task`` ("sequence" | "pair" | "token")."""
    spec = get_encoder_spec(encoder)
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")
    return spec.token_class if task == "token" else spec.sequence_class


def _backbone_config_dict(backbone: str | os.PathLike | None, backbone_config: dict[str, Any] | None) -> dict[str, Any]:
    if backbone is None and backbone_config is None:
        raise ValueError("build_model needs backbone= (a local HF checkpoint dir) or backbone_config= (a BERT config dict)")
    base: dict[str, Any] = {}
    if backbone is not None:
        path = os.fspath(backbone)
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise FileNotFoundError(f"backbone {path!r} is not a local checkpoint directory (no config.json)")
        base = BertConfig.from_pretrained(path, local_files_only=True).to_dict()
        for key in ("id2label", "label2id", "num_labels"):  # the checkpoint's head is not ours
            base.pop(key, None)
    base.update(backbone_config or {})
    for key in _CONFIG_KEYS_DROPPED:
        base.pop(key, None)
    return base


def build_model(
    encoder: str,
    task: str,
    num_labels: int,
    *,
    backbone: str | os.PathLike | None = None,
    backbone_config: dict[str, Any] | None = None,
    **encoder_options: Any,
) -> PreTrainedModel:
    """Build an encoder with the head for ``task``.

    Args:
        encoder: "bert" (baseline) or "kbert".
        task: "sequence" | "pair" | "token".
        num_labels: size of the label set.
        backbone: a local checkpoint directory in HF layout (``config.json`` + weights); its BERT
            weights are loaded (nothing is fetched) and the head is initialised randomly.
        backbone_config: a BERT config dict for a random backbone, or overrides on top of the
            checkpoint's config (e.g. ``{"attn_implementation": "eager", "hidden_dropout_prob": 0.2}``).
        **encoder_options: model options of the encoder (K-BERT: ``use_vm``); options that belong
            to the featuriser (K-BERT: ``max_entities``, ``inject``...) are accepted and ignored.
    """
    spec = get_encoder_spec(encoder)
    model_cls = model_class_for(encoder, task)
    if not isinstance(num_labels, int) or num_labels < 1:
        raise ValueError(f"num_labels must be a positive int, got {num_labels!r}")
    unknown = set(encoder_options) - spec.model_options - spec.featurizer_options
    if unknown:
        raise ValueError(
            f"unknown option(s) {sorted(unknown)} for encoder {encoder!r}; model options: "
            f"{sorted(spec.model_options)}, featuriser options: {sorted(spec.featurizer_options)}"
        )
    options = {k: v for k, v in encoder_options.items() if k in spec.model_options}
    config = spec.config_class(**_backbone_config_dict(backbone, backbone_config), num_labels=num_labels, **options)
    if backbone is None:
        return model_cls(config)
    attn = config._attn_implementation
    kwargs = {"attn_implementation": attn} if attn else {}
    from .loading import load_backbone  # no loading report for the new head (one line if weights lack)

    return load_backbone(model_cls, backbone, config=config, local_files_only=True, **kwargs)


register_auto_classes()
