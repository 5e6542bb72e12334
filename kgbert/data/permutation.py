"""XLNet's permutation language modelling batches (the ``xlnet`` pretraining family's collator).

Not a masking strategy of :data:`kgbert.data.collators.COLLATORS`: the family brings it, whatever
``masking.strategy`` says. transformers' ``DataCollatorForPermutationLanguageModeling`` chooses
spans (length 1..``max_span_length``, one span per ``span / plm_probability`` tokens), builds the
factorisation order (``perm_mask``) and the one-to-one ``target_mapping``; this wrapper feeds it
the packed sequences (padded to an even length, which its leakage-free ``perm_mask`` needs), adds
the padding ``attention_mask``, and makes it deterministic like the project's collators: its
random state is seeded with ``(seed, key of the batch's first sequence)``, so a resumed run
draws the same permutations and a fixed held-out set keeps its targets.
"""
from __future__ import annotations

import zlib
from typing import Any, Sequence

import torch
from transformers import DataCollatorForPermutationLanguageModeling


class PermutationCollator:
    """Packed features (``input_ids``, ``key``) -> ``input_ids``, ``attention_mask``, ``perm_mask``
    (B, L, L), ``target_mapping`` (B, L, L) and ``labels`` (B, L; -100 off the predicted spans)."""

    def __init__(self, tokenizer: Any, *, plm_probability: float = 1 / 6, max_span_length: int = 5, seed: int = 0) -> None:
        if not 0 < plm_probability < 1 or max_span_length < 1:
            raise ValueError(f"plm_probability must be in (0, 1) and max_span_length >= 1, found {plm_probability}, {max_span_length}")
        self.plm = DataCollatorForPermutationLanguageModeling(tokenizer, plm_probability=plm_probability,
                                                              max_span_length=max_span_length)
        self.pad_id = int(tokenizer.pad_token_id)
        self.seed = seed

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ids = [[int(t) for t in f["input_ids"]] for f in features]
        length = max(len(x) for x in ids)
        length += length % 2  # the permutation mask needs an even length
        ids = [x + [self.pad_id] * (length - len(x)) for x in ids]
        key = int(features[0].get("key", 0))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(zlib.crc32(f"{self.seed}:{key}".encode()))
            batch = self.plm(ids)
        batch["attention_mask"] = (torch.tensor(ids) != self.pad_id).long()
        return batch


__all__ = ["PermutationCollator"]
