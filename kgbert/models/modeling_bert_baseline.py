"""The plain BERT baseline: BERT's parts + the shared heads, nothing added.

This is the control in every comparison: the same backbone and the same heads as every
knowledge-augmented encoder (:mod:`kgbert.models.modeling_base`), with nothing changed.
"""
from __future__ import annotations

from kgbert.models.configuration_bert_baseline import BertBaselineConfig
from kgbert.models.modeling_base import (
    EncoderForEntityTyping,
    EncoderForMaskedLM,
    EncoderForSequenceClassification,
    EncoderForTokenClassification,
    KgEncoderPreTrainedModel,
)


class BertBaselinePreTrainedModel(KgEncoderPreTrainedModel):
    """Weight init and loading for the baseline; the backbone lives under ``bert.`` as in HF BERT."""

    config_class = BertBaselineConfig
    config: BertBaselineConfig


class BertBaselineForSequenceClassification(BertBaselinePreTrainedModel, EncoderForSequenceClassification):
    """BERT + pooled-[CLS] classifier, for single sentences and sentence pairs."""


class BertBaselineForTokenClassification(BertBaselinePreTrainedModel, EncoderForTokenClassification):
    """BERT + per-position classifier (NER)."""


class BertBaselineForEntityTyping(BertBaselinePreTrainedModel, EncoderForEntityTyping):
    """BERT + entity-typing head on the pooled ``[CLS]`` of the marked text (the control for ERNIE's typing)."""


class BertBaselineForMaskedLM(BertBaselinePreTrainedModel, EncoderForMaskedLM):
    """BERT + BERT's MLM head (tied to the word embeddings), the loss only at labelled positions."""


__all__ = [
    "BertBaselineForEntityTyping",
    "BertBaselineForMaskedLM",
    "BertBaselinePreTrainedModel",
    "BertBaselineForSequenceClassification",
    "BertBaselineForTokenClassification",
]
