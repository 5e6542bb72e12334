"""``token_map`` decoding: the one home of the rule "an original token takes the prediction at its
first position" (used by the trainer's :class:`~kgbert.training.tasks.TaskSpec` and by
:class:`~kgbert.pipeline.Pipeline`)."""
from __future__ import annotations

from typing import Sequence


def first_positions(token_map: Sequence[int], n_tokens: int) -> list[int]:
    """For each of ``n_tokens`` original tokens, the first position whose ``token_map`` entry is
    that token (-1 for a token with no position: cut off by ``max_length``)."""
    pos = [-1] * n_tokens
    for p, tok in enumerate(token_map):
        if 0 <= tok < n_tokens and pos[tok] < 0:
            pos[tok] = p
    return pos


__all__ = ["first_positions"]
