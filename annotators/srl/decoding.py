"""Constrained (valid-BIO) Viterbi decoding, vectorised over a batch.

The only constraint is BIO validity: ``I-X`` may follow only ``B-X`` or ``I-X`` and may not start
a sequence. Transition scores are 0 (allowed) or -inf (forbidden), so the result is the
highest-scoring *valid* tag sequence; when the per-position argmax is already valid it is
returned unchanged.
"""
from __future__ import annotations

from typing import Sequence

import torch


def bio_constraints(labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Allowed transitions ``(K, K)`` (``[prev, next]``) and allowed start tags ``(K,)`` as bools."""
    k = len(labels)
    allowed = torch.ones(k, k, dtype=torch.bool)  # (K, K) prev -> next
    start = torch.ones(k, dtype=torch.bool)  # (K,)
    for j, tag in enumerate(labels):
        prefix, _, role = tag.partition("-")
        if prefix == "I":
            start[j] = False
            for i, prev in enumerate(labels):
                p_prefix, _, p_role = prev.partition("-")
                allowed[i, j] = p_prefix in ("B", "I") and p_role == role
    return allowed, start


def viterbi_decode(
    scores: torch.Tensor, mask: torch.Tensor, allowed: torch.Tensor, allowed_start: torch.Tensor
) -> list[list[int]]:
    """Best valid tag sequence per row.

    Args:
        scores: ``(B, T, K)`` per-position tag scores (e.g. log-probabilities).
        mask: ``(B, T)`` bool, True on real positions; each row's real positions must be a prefix.
        allowed: ``(K, K)`` bool transition constraints from :func:`bio_constraints`.
        allowed_start: ``(K,)`` bool start constraints.

    Returns:
        One list of tag indices per row, of that row's length.
    """
    b, t, k = scores.shape
    if t == 0:
        return [[] for _ in range(b)]
    scores = scores.float()
    neg = torch.finfo(scores.dtype).min / 4  # finite "-inf": sums of a few never overflow
    trans = torch.zeros(k, k, device=scores.device).masked_fill(~allowed.to(scores.device), neg)  # (K, K)
    start = torch.zeros(k, device=scores.device).masked_fill(~allowed_start.to(scores.device), neg)  # (K,)
    best = scores[:, 0] + start  # (B, K) best score ending in each tag
    backptrs = []
    keep = torch.arange(k, device=scores.device).expand(b, k)  # (B, K) identity pointer for padding
    for i in range(1, t):
        cand = best.unsqueeze(2) + trans  # (B, K_prev, K_next)
        top, arg = cand.max(dim=1)  # (B, K), (B, K)
        step = mask[:, i].unsqueeze(1)  # (B, 1)
        best = torch.where(step, top + scores[:, i], best)  # (B, K)
        backptrs.append(torch.where(step, arg, keep))  # (B, K)
    last = best.argmax(dim=1)  # (B,)
    path = [last]
    for ptr in reversed(backptrs):
        last = ptr.gather(1, last.unsqueeze(1)).squeeze(1)  # (B,)
        path.append(last)
    tags = torch.stack(path[::-1], dim=1).tolist()  # (B, T)
    lengths = mask.sum(dim=1).tolist()
    return [row[:n] for row, n in zip(tags, lengths)]
