"""Masked language modelling, with the vocabulary projection computed only at masked positions.

On a small BERT the vocabulary-wide output layer dominates a training step; predicting only the
~15 % of positions that carry a label gives the same loss and gradients at a fraction of the cost.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


class MaskedLM:
    """``mlm``: cross-entropy over the vocabulary at the positions whose label is not -100."""

    name = "mlm"
    label_key = "labels"

    @staticmethod
    def logits_and_loss(
        head: Callable[[torch.Tensor], torch.Tensor], sequence_output: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N, V) at the N labelled positions in row-major order, mean loss)."""
        selected = labels != IGNORE_INDEX
        hidden = sequence_output[selected]  # (N, H)
        logits = head(hidden)  # (N, V)
        target = labels[selected]
        if target.numel() == 0:
            return logits, logits.sum() * 0.0
        return logits, F.cross_entropy(logits.float(), target)
