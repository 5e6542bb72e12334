"""Split bookkeeping for the trainer: dev carved from train, per-split limits, truncation stats.

- :func:`carve_dev`: ``data.dev_fraction`` takes a dev split out of train with a fixed shuffle
  seed (``data.dev_seed``, not the run seed, so every seed and encoder of a grid sees the same
  dev); both parts keep the file order.
- :func:`split_stats`: per split, what the featuriser did to fit ``max_length``: examples,
  examples cut, original tokens and original tokens cut (their share), and the model-input tokens
  (non-padding, including specials and injected knowledge). Written to ``metrics.json`` under
  ``data`` and shown in the bench table, so a reader sees how much of the text was never scored
  (for token tasks, cut tokens are predicted ``O``).
"""
from __future__ import annotations

import random
from typing import Any, Sequence

from kgbert.data.example import Example


def carve_dev(train: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, dev): ``round(fraction * n)`` examples (at least 1) drawn with ``random.Random(seed)``."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"data.dev_fraction must be in (0, 1), got {fraction!r}")
    n = len(train)
    k = max(1, round(fraction * n))
    if k >= n:
        raise ValueError(f"data.dev_fraction={fraction} leaves no training examples (n={n})")
    chosen = set(random.Random(seed).sample(range(n), k))
    return [ex for i, ex in enumerate(train) if i not in chosen], [ex for i, ex in enumerate(train) if i in chosen]


def original_tokens(featurizer: Any, example: Example) -> int:
    """Number of original tokens of ``example`` (characters/tokens for NER, WordPieces otherwise)."""
    if example.tokens is not None and getattr(featurizer, "task", None) == "token":
        return len(example.tokens)
    n = len(featurizer.tokenize_spans(example.text_a)[0])
    if example.text_b is not None and getattr(featurizer, "task", None) == "pair":
        n += len(featurizer.tokenize_spans(example.text_b)[0])
    return n


def split_stats(featurizer: Any, examples: Sequence[Example], features: Sequence[dict], before: dict[str, int]) -> dict[str, Any]:
    """Truncation and size statistics of one featurised split (``before``: a copy of
    ``featurizer.stats`` taken before the split was featurised)."""
    after = featurizer.stats
    cut_examples = after.get("truncated_examples", 0) - before.get("truncated_examples", 0)
    cut_tokens = after.get("truncated_tokens", 0) - before.get("truncated_tokens", 0)
    orig = sum(original_tokens(featurizer, ex) for ex in examples)
    out: dict[str, Any] = {
        "examples": len(examples),
        "truncated_examples": cut_examples,
        "truncated_examples_share": cut_examples / len(examples) if examples else 0.0,
        "original_tokens": orig,
        "truncated_tokens": cut_tokens,
        "truncated_tokens_share": cut_tokens / orig if orig else 0.0,
        "input_tokens": sum(len(f["input_ids"]) for f in features),
    }
    for key in ("entities", "branches", "branches_dropped"):  # knowledge encoders
        if key in after:
            out[key] = after[key] - before.get(key, 0)
    return out
