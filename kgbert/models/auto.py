"""``build_model`` over the encoder registry (:mod:`kgbert.registry`), and Auto-class registration.

Importing :mod:`kgbert.models` registers every registered encoder's ``model_type`` with
transformers, so a saved model reloads with ``AutoModelForSequenceClassification.from_pretrained(dir)``
(or ``...ForTokenClassification``). Nothing here names an encoder: everything comes from its
:class:`~kgbert.registry.EncoderSpec`.
"""
from __future__ import annotations

import json
import os
from typing import Any

from transformers import BertConfig, PreTrainedModel

from kgbert.constants import TASKS
from kgbert.registry import ENCODERS, EncoderSpec, checkpoint_family, get_encoder, register_auto_classes

_CONFIG_KEYS_DROPPED = ("model_type", "architectures", "transformers_version", "auto_map", "_name_or_path")


def get_encoder_spec(encoder: str) -> EncoderSpec:
    """The registry entry of ``encoder`` (alias of :func:`kgbert.registry.get_encoder`)."""
    return get_encoder(encoder)


def model_class_for(encoder: str, task: str) -> type[PreTrainedModel]:
    """The model class of ``encoder`` for ``task`` ("sequence" | "pair" | "token")."""
    return get_encoder(encoder).model_class_for_task(task)


def _backbone_config_dict(
    backbone: str | os.PathLike | None, backbone_config: dict[str, Any] | None, config_class: Any = BertConfig
) -> dict[str, Any]:
    if backbone is None and backbone_config is None:
        raise ValueError("build_model needs backbone= (a local HF checkpoint dir) or backbone_config= (a BERT config dict)")
    base: dict[str, Any] = {}
    if backbone is not None:
        path = os.fspath(backbone)
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise FileNotFoundError(f"backbone {path!r} is not a local checkpoint directory (no config.json)")
        base = config_class.from_pretrained(path, local_files_only=True).to_dict()
        for key in ("id2label", "label2id", "num_labels"):  # the checkpoint's head is not ours
            base.pop(key, None)
    base.update(backbone_config or {})
    for key in _CONFIG_KEYS_DROPPED:
        base.pop(key, None)
    return base


def _check_backbone_family(spec: EncoderSpec, backbone: str | os.PathLike) -> None:
    """A clear error when the checkpoint's backbone family is not the one the encoder is built on."""
    path = os.path.join(os.fspath(backbone), "config.json")
    if not os.path.isfile(path):
        return  # _backbone_config_dict says so
    with open(path, encoding="utf-8") as fh:
        model_type = json.load(fh).get("model_type")
    family = checkpoint_family(model_type)
    if family != spec.backbone:
        users = sorted(s.name for s in ENCODERS.values() if s.backbone == family)
        raise ValueError(
            f"encoder {spec.name!r} ({spec.description or spec.name}) is built inside {spec.backbone.upper()}'s "
            f"embeddings and layers and cannot use the {family.upper()} checkpoint {os.fspath(backbone)!r} "
            f"(model_type {model_type!r}); encoders for {family.upper()} checkpoints: {users or 'none'}"
        )


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
        encoder: a registered encoder name ("bert", "kbert", ...; see :func:`kgbert.registry.encoder_names`).
        task: "sequence" | "pair" | "token".
        num_labels: size of the label set.
        backbone: a local checkpoint directory in HF layout (``config.json`` + weights); its BERT
            weights are loaded (nothing is fetched) and the head is initialised randomly.
        backbone_config: a BERT config dict for a random backbone, or overrides on top of the
            checkpoint's config (e.g. ``{"attn_implementation": "eager", "hidden_dropout_prob": 0.2}``).
        **encoder_options: model options of the encoder (the fields its config adds to BERT's; K-BERT:
            ``use_vm``); options that belong to its featuriser are accepted and ignored.
    """
    spec = get_encoder(encoder)
    model_cls: Any = spec.model_class_for_task(task)
    if not isinstance(num_labels, int) or num_labels < 1:
        raise ValueError(f"num_labels must be a positive int, got {num_labels!r}")
    spec.check_options(encoder_options)
    if backbone is not None:
        _check_backbone_family(spec, backbone)
    options = {k: v for k, v in encoder_options.items() if k in spec.model_options}
    base = _backbone_config_dict(backbone, backbone_config, spec.backbone_config_class)
    # the encoder's options win over what the checkpoint's config says (an ERNIE-THU checkpoint records
    # entity_embeddings itself; a run config may name it again)
    config = spec.config_class(**{**base, **options}, num_labels=num_labels)
    if backbone is None:
        return model_cls(config)
    attn = config._attn_implementation
    kwargs = {"attn_implementation": attn} if attn else {}
    from .loading import load_backbone  # no loading report for the new head (one line if weights lack)

    return load_backbone(model_cls, backbone, config=config, local_files_only=True, **kwargs)


register_auto_classes()

__all__ = ["ENCODERS", "TASKS", "build_model", "get_encoder_spec", "model_class_for", "register_auto_classes"]
