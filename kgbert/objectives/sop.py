"""Sentence order prediction (ALBERT): half the pairs are swapped."""
from __future__ import annotations

import numpy as np

from kgbert.objectives.sentence import Segment, SentenceObjective


class SentenceOrderPrediction(SentenceObjective):
    """``sop``: label 1 when A and B (consecutive segments of one document) were swapped."""

    name = "sop"

    def make_label(self, a: Segment, b: Segment, rng: np.random.Generator, random_segment) -> tuple[Segment, Segment, int]:
        if rng.random() < 0.5:
            return b, a, 1
        return a, b, 0
