"""ALBERT (Lan et al., ICLR 2020) with the shared kgbert heads, for sequence, pair, token and entity-typing tasks.

transformers' ``AlbertModel`` (factorised embeddings E -> H, one set of layer weights shared
across depth) under ``albert.`` — the layout of transformers' ``AlbertFor...`` and of the
checkpoints ``python -m kgbert.pretrain`` writes with ``model.family: albert`` — and the same
heads (:mod:`kgbert.models.heads`) as every BERT-based encoder. The pooled output is ALBERT's
pooler (tanh(W h_cls)). Nothing is added: given BERT's inputs, this is exactly ``AlbertModel``.
"""
from __future__ import annotations

from typing import Any

from transformers import AlbertModel
from transformers.models.albert.modeling_albert import AlbertPreTrainedModel

from kgbert.models.configuration_albert import AlbertEncoderConfig
from kgbert.models.modeling_base import (
    EncoderForEntityTyping,
    EncoderForSequenceClassification,
    EncoderForTokenClassification,
)


class AlbertEncoderPreTrainedModel(AlbertPreTrainedModel):
    """ALBERT's weight init and loading; the backbone is ``self.albert`` (``base_model_prefix``)."""

    config_class = AlbertEncoderConfig
    config: AlbertEncoderConfig
    base_model_prefix = "albert"
    accepts_loss_kwargs = False  # the heads' loss is a mean over the batch

    def build_backbone(self, config: Any, add_pooling_layer: bool) -> AlbertModel:
        return AlbertModel(config, add_pooling_layer=add_pooling_layer)


class AlbertEncoderForSequenceClassification(AlbertEncoderPreTrainedModel, EncoderForSequenceClassification):  # type: ignore[misc]  # config: the family's own
    """ALBERT + pooled-[CLS] classifier, for single sentences and sentence pairs."""


class AlbertEncoderForEntityTyping(AlbertEncoderPreTrainedModel, EncoderForEntityTyping):  # type: ignore[misc]  # config: the family's own
    """ALBERT + entity-typing head on the pooled ``[CLS]`` of the marked text (one type: CE; several: BCE)."""


class AlbertEncoderForTokenClassification(AlbertEncoderPreTrainedModel, EncoderForTokenClassification):  # type: ignore[misc]  # config: the family's own
    """ALBERT + per-position classifier (NER)."""


__all__ = [
    "AlbertEncoderForEntityTyping",
    "AlbertEncoderForSequenceClassification",
    "AlbertEncoderForTokenClassification",
    "AlbertEncoderPreTrainedModel",
]
