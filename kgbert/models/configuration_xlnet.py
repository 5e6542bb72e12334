"""Configuration of the XLNet encoder (Yang et al., NeurIPS 2019) for fine-tuning."""
from __future__ import annotations

from transformers import XLNetConfig


class XLNetEncoderConfig(XLNetConfig):
    """A :class:`~transformers.XLNetConfig` under its own ``model_type`` (``kgbert_xlnet``).

    No options beyond XLNet's (they come from the checkpoint). ``hidden_dropout_prob`` reads
    XLNet's ``dropout``, which the shared heads use as their dropout.
    """

    model_type = "kgbert_xlnet"
    attribute_map = {**XLNetConfig.attribute_map, "hidden_dropout_prob": "dropout"}
