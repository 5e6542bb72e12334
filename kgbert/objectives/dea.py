"""Denoising entity auto-encoder (dEA; ERNIE, Zhang et al., ACL 2019), vectorised.

Every token aligned to a KG entity (``entity_ids > 0``: store id + 1 on the mention's first token)
predicts its entity among the **candidates of the batch** (the distinct entities linked anywhere in
it), from its final hidden state: ``logits = head(h) @ table[candidates].T``. The entity *input*
is corrupted first, per aligned position: 5 % replaced by another candidate of the batch, 15 %
masked (the entity input is dropped: the position reads no entity), 80 % kept; the target is always
the original entity.

All of it is tensor operations on the whole batch (``torch.unique``, one uniform draw per aligned
position, a shifted random index so a replacement never equals the original): no per-element
Python callback (the reference runs ``Tensor.apply_(lambda)`` in every batch). A batch with a
single candidate cannot replace: those positions stay kept (counted in ``stats``).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


class DenoisingEntityAutoEncoder:
    """``dea``: corruption of the entity input and the loss over the batch's candidates.

    Args:
        replace: share of aligned positions whose entity input becomes another candidate (0.05).
        mask: share whose entity input is dropped (0.15); the rest (0.80) is kept.
    """

    name = "dea"
    label_key = "entity_labels"
    requires_family = "ernie_thu"  # model.family of kgbert.pretrain

    def __init__(self, replace: float = 0.05, mask: float = 0.15) -> None:
        if replace < 0 or mask < 0 or replace + mask > 1:
            raise ValueError(f"dEA shares must be >= 0 with replace + mask <= 1, found replace={replace}, mask={mask}")
        self.replace = float(replace)
        self.mask = float(mask)

    def corrupt(
        self, entity_ids: torch.Tensor, generator: torch.Generator | None = None, *, corrupt: bool = True
    ) -> dict[str, torch.Tensor]:
        """``entity_ids`` (B, L): 0 = none, k + 1 = entity k. Returns ``entity_ids`` (the corrupted
        input), ``entity_labels`` (B, L): the original ``entity_ids`` at the aligned positions, -100
        elsewhere (the model scores them against the batch's candidates, :meth:`candidates`), and
        ``entity_corruption`` (3,) counts of kept, replaced, masked positions."""
        pos = entity_ids > 0
        original = entity_ids[pos]  # (N,)
        candidates, inv = torch.unique(original, sorted=True, return_inverse=True)  # (C,), (N,)
        labels = torch.where(pos, entity_ids, torch.full_like(entity_ids, IGNORE_INDEX))
        n, c = original.numel(), candidates.numel()
        if not corrupt or n == 0:
            counts = torch.tensor([n, 0, 0])
            return {"entity_ids": entity_ids.clone(), "entity_labels": labels, "entity_corruption": counts}
        r = torch.rand(n, generator=generator)
        masked = (r >= self.replace) & (r < self.replace + self.mask)
        replaced = r < self.replace
        if c < 2:
            replaced = torch.zeros_like(replaced)  # nothing else to draw: kept
        other = torch.randint(0, max(c - 1, 1), (n,), generator=generator)
        other = other + (other >= inv).long()  # uniform over the other candidates
        values = torch.where(replaced, candidates[other.clamp(max=c - 1)], original)
        values = torch.where(masked, torch.zeros_like(values), values)
        inputs = entity_ids.clone()
        inputs[pos] = values
        n_rep, n_mask = int(replaced.sum()), int(masked.sum())
        counts = torch.tensor([n - n_rep - n_mask, n_rep, n_mask])
        return {"entity_ids": inputs, "entity_labels": labels, "entity_corruption": counts}

    @staticmethod
    def candidates(entity_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the batch's candidates (C,): its distinct labelled entity ids + 1, sorted; the target
        index into them of each aligned position (N,), row-major)."""
        return torch.unique(entity_labels[entity_labels != IGNORE_INDEX], sorted=True, return_inverse=True)

    @staticmethod
    def logits_and_loss(
        head: Callable[[torch.Tensor], torch.Tensor],
        sequence_output: torch.Tensor,  # (B, L, H)
        entity_labels: torch.Tensor,  # (B, L) original entity ids + 1, -100 elsewhere
        table: torch.Tensor,  # (num_entities + 1, De) the frozen entity table
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits (N, C) at the N aligned positions (row-major) over the batch's C candidates,
        targets (N,) into them, mean cross-entropy)."""
        candidates, target = DenoisingEntityAutoEncoder.candidates(entity_labels)
        hidden = head(sequence_output[entity_labels != IGNORE_INDEX])  # (N, De)
        logits = hidden @ table[candidates].to(hidden.dtype).t()  # (N, C)
        if target.numel() == 0:
            return logits, target, hidden.sum() * 0.0
        return logits, target, F.cross_entropy(logits.float(), target)


__all__ = ["DenoisingEntityAutoEncoder"]
