"""Shared pieces of the sentence-pair objectives (NSP, SOP, SSO): the pair builder and the loss."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

Segment = list[tuple[list[int], Any]]
"""A segment: consecutive lines, each (token ids, per-token unit ids by field or None)."""


def split_chunk(chunk: Segment, rng: np.random.Generator) -> tuple[Segment, Segment]:
    """Split consecutive lines into A and B at a random line boundary (BERT's
    ``create_pretraining_data``); a single line is cut at a random token."""
    if len(chunk) >= 2:
        cut = int(rng.integers(1, len(chunk)))
        return chunk[:cut], chunk[cut:]
    ids, units = chunk[0]
    if len(ids) < 2:
        return chunk, []
    cut = int(rng.integers(1, len(ids)))
    ua = {k: v[:cut] for k, v in units.items()} if units else None
    ub = {k: v[cut:] for k, v in units.items()} if units else None
    return [(ids[:cut], ua)], [(ids[cut:], ub)]


def sentence_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().view(-1, 2), labels.view(-1))


class SentenceObjective:
    """Base: ``make_label(a, b, rng, random_segment) -> (a, b, label)`` with label 0 for the true
    continuation / order and 1 otherwise (transformers' ``next_sentence_label`` convention)."""

    name = "sentence"
    label_key = "next_sentence_label"
    sentence = True

    def make_label(self, a: Segment, b: Segment, rng: np.random.Generator, random_segment) -> tuple[Segment, Segment, int]:
        raise NotImplementedError

    loss = staticmethod(sentence_loss)
