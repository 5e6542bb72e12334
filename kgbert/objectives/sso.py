"""StructBERT's sentence structural objective (Wang et al. 2020): for a pair (A, B) built by the
sentence-pair packing, B is the next segment (label 0), the previous one (1: the two consecutive
segments swapped) or a segment of another document (2), each with probability 1/3; a 3-way
classifier on the pooled [CLS] output predicts which. The head is dropped from the exported
checkpoint (the pooler it trains stays)."""
from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from torch import nn

from kgbert.objectives.plugin import PluginObjective
from kgbert.objectives.sentence import Segment, SentenceObjective

NEXT, PREVIOUS, RANDOM = 0, 1, 2


class SentenceStructuralObjective(SentenceObjective, PluginObjective):
    """``sso``: 3-way sentence relation (next / previous / random), ``sentence_structure_label``."""

    name = "sso"
    label_key = "sentence_structure_label"
    input_keys = ("sentence_structure_label",)
    sentence = True

    def make_label(self, a: Segment, b: Segment, rng: np.random.Generator, random_segment) -> tuple[Segment, Segment, int]:
        r = rng.random()
        if r < 1 / 3:
            return a, b, NEXT
        if r < 2 / 3:
            return b, a, PREVIOUS
        other = random_segment()
        if other:
            return a, other, RANDOM
        return a, b, NEXT  # no other document seen yet (the first pairs of a pass)

    def build_head(self, config):
        return nn.Linear(config.hidden_size, 3)

    def loss(self, head, ctx, inputs):
        if ctx.pooled_output is None:
            raise ValueError("the sso objective needs the pooled output (BertForSparsePreTraining)")
        logits = head(ctx.pooled_output)
        return F.cross_entropy(logits.float(), inputs[self.label_key].view(-1))
