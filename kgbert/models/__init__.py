"""Encoders (one modeling file per encoder, transformers style) and their task heads.

``build_model(encoder, task, num_labels, backbone=..., backbone_config=..., **encoder_options)``
builds any registered encoder (:mod:`kgbert.registry`); importing this package registers their
``model_type`` with transformers' Auto classes. Every encoder is built from BERT's parts
(:mod:`kgbert.models.modeling_base`), or from ALBERT's or XLNet's for ``albert`` and ``xlnet`` (the
shared heads on another backbone family). This package never reads files or KGs: everything arrives
as tensors from :mod:`kgbert.data`.
"""
from kgbert.constants import IGNORE_INDEX, TASKS
from kgbert.models.auto import ENCODERS, build_model, get_encoder_spec, model_class_for, register_auto_classes
from kgbert.models.configuration_bert_baseline import BertBaselineConfig
from kgbert.models.configuration_kbert import KBertConfig
from kgbert.models.heads import SequenceClassificationHead, TokenClassificationHead
from kgbert.models.modeling_base import (
    EncoderForMaskedLM,
    EncoderForSequenceClassification,
    EncoderForTokenClassification,
    KgEncoderPreTrainedModel,
)
from kgbert.models.modeling_bert_baseline import (
    BertBaselineForMaskedLM,
    BertBaselineForSequenceClassification,
    BertBaselineForTokenClassification,
)
from kgbert.models.modeling_kbert import (
    KBertForMaskedLM,
    KBertForSequenceClassification,
    KBertForTokenClassification,
    knowledge_visible_mask,
    visible_to_additive_mask,
)

__all__ = [
    "ENCODERS",
    "TASKS",
    "IGNORE_INDEX",
    "build_model",
    "get_encoder_spec",
    "model_class_for",
    "register_auto_classes",
    "BertBaselineConfig",
    "KBertConfig",
    "SequenceClassificationHead",
    "TokenClassificationHead",
    "KgEncoderPreTrainedModel",
    "EncoderForMaskedLM",
    "EncoderForSequenceClassification",
    "EncoderForTokenClassification",
    "BertBaselineForMaskedLM",
    "BertBaselineForSequenceClassification",
    "BertBaselineForTokenClassification",
    "KBertForMaskedLM",
    "KBertForSequenceClassification",
    "KBertForTokenClassification",
    "knowledge_visible_mask",
    "visible_to_additive_mask",
]
