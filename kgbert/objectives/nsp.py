"""Next sentence prediction (BERT): half the pairs take B from another document."""
from __future__ import annotations

import numpy as np

from kgbert.objectives.sentence import Segment, SentenceObjective


class NextSentencePrediction(SentenceObjective):
    """``nsp``: label 1 when B was replaced by a segment of another document (probability 0.5)."""

    name = "nsp"

    def make_label(self, a: Segment, b: Segment, rng: np.random.Generator, random_segment) -> tuple[Segment, Segment, int]:
        if rng.random() < 0.5:
            other = random_segment()
            if other:
                return a, other, 1
        return a, b, 0
