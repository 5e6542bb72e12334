"""BERT for semantic role labelling (Shi & Lin 2019, allennlp's ``srl_bert``), with a predicate head.

The sentence is encoded once per predicate; the predicate's tokens get segment (token type) id 1,
all other tokens 0. A linear layer tags each token with an argument BIO tag. A second linear
layer over the same encoder, run on the sentence with no predicate marked (all token types 0),
classifies each token as predicate / not predicate. Words are tagged on their first token;
other tokens, ``[CLS]``, ``[SEP]`` and padding carry label -100.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import BertConfig, BertModel
from transformers.modeling_outputs import ModelOutput
from transformers.models.bert.modeling_bert import BertPreTrainedModel

from annotators.srl.configuration_srl import SrlBertConfig


@dataclass
class SrlOutput(ModelOutput):
    """Outputs: summed loss of both heads (when labels are given) and the logits of each head."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    predicate_logits: torch.Tensor | None = None


def _token_loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """Mean cross-entropy over positions whose label is not -100; None if there are none."""
    if labels is None:
        return None
    valid = labels != -100  # (B, T)
    if not bool(valid.any()):
        return None
    return nn.functional.cross_entropy(logits[valid], labels[valid])  # logits[valid]: (N, K)


class SrlBertForSrl(BertPreTrainedModel):
    """BERT encoder + argument BIO tagger + predicate identifier."""

    config_class = SrlBertConfig

    def __init__(self, config: SrlBertConfig):
        super().__init__(config)
        if not config.srl_labels or config.srl_labels[0] != "O":
            raise ValueError("config.srl_labels must be a BIO tag list starting with 'O'")
        if config.type_vocab_size < 2:
            raise ValueError("the predicate indicator needs type_vocab_size >= 2")
        self.bert = BertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, len(config.srl_labels))
        self.predicate_classifier = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @classmethod
    def from_backbone(cls, backbone: str, srl_labels: list[str], **overrides) -> "SrlBertForSrl":
        """Heads initialised randomly on top of the BERT weights of a local checkpoint directory."""
        bert_config = BertConfig.from_pretrained(backbone, local_files_only=True)
        fields = {k: v for k, v in bert_config.to_dict().items() if k not in ("architectures", "model_type", "transformers_version")}
        config = SrlBertConfig(**{**fields, **overrides, "srl_labels": srl_labels})
        model = cls(config)
        bert = BertModel.from_pretrained(backbone, local_files_only=True, add_pooling_layer=False)
        missing, unexpected = model.bert.load_state_dict(bert.state_dict(), strict=False)
        if missing or unexpected:
            raise ValueError(f"{backbone}: BERT weights do not match (missing {missing[:5]}, unexpected {unexpected[:5]})")
        return model

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        predicate_labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SrlOutput:
        """``token_type_ids`` is the predicate indicator (1 on the predicate's tokens).

        ``labels`` ``(B, T)``: argument tag ids, -100 where not scored (all -100 on rows that
        are predicate-identification examples); ``predicate_labels`` ``(B, T)``: 1/0, -100 likewise.
        """
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, **kwargs
        ).last_hidden_state  # (B, T, H)
        hidden = self.dropout(hidden)
        logits = self.classifier(hidden)  # (B, T, K) argument tags
        predicate_logits = self.predicate_classifier(hidden)  # (B, T, 2)
        losses = [l for l in (_token_loss(logits, labels), _token_loss(predicate_logits, predicate_labels)) if l is not None]
        loss = None
        if labels is not None or predicate_labels is not None:
            loss = torch.stack(losses).sum() if losses else logits.sum() * 0.0
        return SrlOutput(loss=loss, logits=logits, predicate_logits=predicate_logits)
