"""Task heads shared by every encoder (the head/backbone split).

An encoder model (``modeling_<encoder>.py``) computes ``(sequence_output, pooled_output)`` from its
own inputs (K-BERT: soft positions + visible matrix; later ERNIE: entity ids; SemBERT: SRL tags...)
and hands them to one of these heads. The heads know nothing about the encoder, so every encoder
gets the same sequence/sentence-pair classification and token-classification heads, and two
encoders with the same backbone weights and the same head weights compute the same function on
the same inputs (the basis of the K-BERT == BERT test on an empty KG).

- :class:`SequenceClassificationHead`: dropout + linear on the pooled ``[CLS]`` vector (BERT's
  pooler, tanh(W h_cls), lives in the backbone). Used for single sentences and sentence pairs
  (two segments, same head). ``num_labels == 1`` is regression (MSE), otherwise cross-entropy.
- :class:`TokenClassificationHead`: dropout + linear per position; cross-entropy ignoring -100
  (special, padding and injected-knowledge positions).
- :class:`EntityTypingHead`: the type(s) of one marked entity mention (ERNIE's OpenEntity/FIGER
  task): dropout + linear on the pooled ``[CLS]`` vector of the text whose mention is wrapped in
  markers (as ERNIE does); multi-label (one sigmoid per type, binary cross-entropy; labels (B, C)
  multi-hot) or single-label (cross-entropy; labels (B,)).
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import PretrainedConfig
from transformers.modeling_outputs import SequenceClassifierOutput, TokenClassifierOutput

from kgbert.constants import IGNORE_INDEX


def _head_dropout(config: PretrainedConfig) -> float:
    p = getattr(config, "classifier_dropout", None)
    return config.hidden_dropout_prob if p is None else p


class SequenceClassificationHead(nn.Module):
    """Classify a whole sequence (or a sentence pair) from its pooled vector."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.num_labels = config.num_labels
        self.dropout = nn.Dropout(_head_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, int(config.num_labels))  # type: ignore[arg-type]

    def forward(self, pooled_output: torch.Tensor, labels: torch.Tensor | None = None) -> SequenceClassifierOutput:
        logits = self.classifier(self.dropout(pooled_output))  # (B, C)
        loss = None
        if labels is not None:
            if self.num_labels == 1:
                loss = nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
            else:
                loss = nn.functional.cross_entropy(logits, labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


class TokenClassificationHead(nn.Module):
    """Classify every position; positions labelled -100 are left out of the loss."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.num_labels = config.num_labels
        self.dropout = nn.Dropout(_head_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, int(config.num_labels))  # type: ignore[arg-type]

    def forward(self, sequence_output: torch.Tensor, labels: torch.Tensor | None = None) -> TokenClassifierOutput:
        logits = self.classifier(self.dropout(sequence_output))  # (B, L, C)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.view(-1, self.num_labels), labels.view(-1), ignore_index=IGNORE_INDEX
            )
        return TokenClassifierOutput(loss=loss, logits=logits)


class EntityTypingHead(nn.Module):
    """Type(s) of the marked entity from the pooled vector (see module docstring). The loss follows
    the labels: (B, C) multi-hot -> binary cross-entropy per type (predict the types whose logit
    is > 0); (B,) class ids -> cross-entropy."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.num_labels = int(config.num_labels)  # type: ignore[arg-type]
        self.dropout = nn.Dropout(_head_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, self.num_labels)

    def forward(self, pooled_output: torch.Tensor, labels: torch.Tensor | None = None) -> SequenceClassifierOutput:
        logits = self.classifier(self.dropout(pooled_output))  # (B, C)
        loss = None
        if labels is not None:
            if labels.dim() == 2:
                if labels.shape != logits.shape:
                    raise ValueError(f"multi-label entity typing needs labels of shape {tuple(logits.shape)}, "
                                     f"got {tuple(labels.shape)}")
                loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())
            else:
                loss = nn.functional.cross_entropy(logits.float(), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)
