"""Configuration of the ALBERT encoder (Lan et al., ICLR 2020) for fine-tuning."""
from __future__ import annotations

from transformers import AlbertConfig


class AlbertEncoderConfig(AlbertConfig):
    """A :class:`~transformers.AlbertConfig` under its own ``model_type`` (``kgbert_albert``).

    No options beyond ALBERT's (factorised embedding size ``embedding_size``, cross-layer sharing
    through ``num_hidden_groups``/``inner_group_num``: they come from the checkpoint). Its own model
    type lets ``AutoModelFor...`` load the shared kgbert heads instead of transformers' ``AlbertFor...``.
    """

    model_type = "kgbert_albert"
