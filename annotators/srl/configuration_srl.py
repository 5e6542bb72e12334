"""Configuration of the BERT SRL tagger (Shi & Lin 2019): a BERT config plus the tag sets."""
from __future__ import annotations

from transformers import BertConfig


class SrlBertConfig(BertConfig):
    """A :class:`~transformers.BertConfig` plus the SRL settings.

    Attributes:
        srl_labels: the argument BIO tags, ``"O"`` first (``["O", "B-A0", "I-A0", ...]``).
        predicate_head: whether the predicate-identification head was trained (else predicates
            come from POS tags, see :class:`annotators.srl.SrlTagger`). False until training
            sets it, so an untrained head is never used.
        script_conversion: ``"t2s"`` to convert traditional to simplified characters before
            tokenising (in training and at inference alike), or ``None``.
    """

    model_type = "kgbert_srl"

    srl_labels: list[str] | None = None
    predicate_head: bool = False
    script_conversion: str | None = "t2s"
