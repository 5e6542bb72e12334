"""The plain BERT baseline: transformers' ``BertModel`` + the shared heads of :mod:`kgbert.models.heads`.

This is the control in every comparison: the same backbone and the same heads as every
knowledge-augmented encoder, with nothing added.
"""
from __future__ import annotations

import torch
from transformers.modeling_outputs import SequenceClassifierOutput, TokenClassifierOutput
from transformers.models.bert.modeling_bert import BertModel, BertPreTrainedModel

from kgbert.models.configuration_bert_baseline import BertBaselineConfig
from kgbert.models.heads import SequenceClassificationHead, TokenClassificationHead


class BertBaselinePreTrainedModel(BertPreTrainedModel):
    """Weight init and loading for the baseline; the backbone lives under ``bert.`` as in HF BERT."""

    config_class = BertBaselineConfig
    config: BertBaselineConfig
    base_model_prefix = "bert"


class BertBaselineForSequenceClassification(BertBaselinePreTrainedModel):
    """BERT + pooled-[CLS] classifier, for single sentences and sentence pairs."""

    def __init__(self, config: BertBaselineConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=True)
        self.head = SequenceClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L) 1 = token, 0 = padding
        token_type_ids: torch.Tensor | None = None,  # (B, L) segment ids
        position_ids: torch.Tensor | None = None,  # (B, L) default 0..L-1
        labels: torch.Tensor | None = None,  # (B,)
    ) -> SequenceClassifierOutput:
        out = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            return_dict=True,
        )
        return self.head(out.pooler_output, labels)  # logits (B, C)


class BertBaselineForTokenClassification(BertBaselinePreTrainedModel):
    """BERT + per-position classifier (NER)."""

    def __init__(self, config: BertBaselineConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.head = TokenClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        labels: torch.Tensor | None = None,  # (B, L), -100 where ignored
    ) -> TokenClassifierOutput:
        out = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            return_dict=True,
        )
        return self.head(out.last_hidden_state, labels)  # logits (B, L, C)


__all__ = [
    "BertBaselinePreTrainedModel",
    "BertBaselineForSequenceClassification",
    "BertBaselineForTokenClassification",
]
