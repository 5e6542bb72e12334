"""Configuration of the plain BERT baseline (the control in every comparison)."""
from __future__ import annotations

from transformers import BertConfig


class BertBaselineConfig(BertConfig):
    """A :class:`~transformers.BertConfig` under its own ``model_type`` (``kgbert_bert``).

    It has no options beyond BERT's. Its own model type lets ``AutoModelFor...`` load our heads
    (shared with every other encoder) instead of transformers' ``BertFor...`` classes.
    """

    model_type = "kgbert_bert"
