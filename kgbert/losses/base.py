"""The interface every training loss implements (the trainer's ``loss_fn`` hook)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class TrainingLoss(nn.Module):
    """A loss over one batch: ``loss(model, inputs, return_outputs=False)``.

    Args (of ``__call__``/``forward``):
        model: the model being trained (its ``forward`` takes ``**inputs``).
        inputs: the collated batch (the featuriser's ``collate`` output, ``labels`` included).
        return_outputs: also return the student's outputs (``transformers.Trainer`` needs them
            during evaluation).

    Returns:
        a scalar tensor, or ``(loss, outputs)`` with ``return_outputs=True``.

    Subclasses implement :meth:`compute`; a loss is an ``nn.Module`` so that anything it owns
    (a teacher, a projection) moves with ``.to(device)``.
    """

    def forward(self, model: nn.Module, inputs: dict[str, torch.Tensor], return_outputs: bool = False) -> Any:
        loss, outputs = self.compute(model, inputs)
        return (loss, outputs) if return_outputs else loss

    def compute(self, model: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError


__all__ = ["TrainingLoss"]
