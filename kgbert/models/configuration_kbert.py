"""Configuration of K-BERT (Liu et al., AAAI 2020)."""
from __future__ import annotations

from transformers import BertConfig


class KBertConfig(BertConfig):
    """A BERT config plus K-BERT's model-side option.

    Args:
        use_vm: build the visible matrix from ``anchor_ids``/``branch_ids`` and use it as the
            attention mask (the paper's K-BERT). ``False`` injects knowledge without the mask
            (every non-padding token sees every other: the paper's "w/o visible matrix" ablation).
        **kwargs: everything :class:`~transformers.BertConfig` takes (``attn_implementation``
            "eager"/"sdpa" included).

    The knowledge itself (which triples, how many, predicate+object or object) is chosen by the
    featuriser (:mod:`kgbert.data.kbert`); the model only sees ids.
    """

    model_type = "kbert"

    use_vm: bool = True
