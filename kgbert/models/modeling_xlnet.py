"""XLNet (Yang et al., NeurIPS 2019) with the shared kgbert heads, for sequence, pair, token and entity-typing tasks.

transformers' ``XLNetModel`` under ``transformer.`` (the layout of ``XLNetLMHeadModel`` and of the
checkpoints ``python -m kgbert.pretrain`` writes with ``model.family: xlnet``), run with full
bidirectional attention (no permutation when fine-tuning) and relative positions (``position_ids``
are refused: XLNet has none). The inputs are the common featuriser's (``[CLS]`` first, segments
as ``token_type_ids``, which XLNet turns into relative segment encodings). The pooled vector is a
new dense + tanh on the first position's output (XLNet's own sequence summary reads the last
token, where its tokenizer puts ``<cls>``; ours puts ``[CLS]`` first): it starts random, as
BERT's pooler does when the checkpoint has none. XLNet has no SDPA attention (eager only).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import XLNetModel
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.models.xlnet.modeling_xlnet import XLNetPreTrainedModel

from kgbert.models.configuration_xlnet import XLNetEncoderConfig
from kgbert.models.modeling_base import (
    EncoderForEntityTyping,
    EncoderForSequenceClassification,
    EncoderForTokenClassification,
)


class XLNetBackbone(XLNetModel):
    """``XLNetModel`` with BERT's output contract: ``last_hidden_state``, ``pooler_output``
    (dense + tanh on position 0, when built with a pooler), ``hidden_states``, ``attentions``."""

    def __init__(self, config: Any, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.pooler = nn.Sequential(nn.Linear(config.d_model, config.d_model), nn.Tanh()) if add_pooling_layer else None
        self.post_init()

    def forward(  # type: ignore[override]
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,  # (B, L, H)
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPooling:
        if position_ids is not None:
            raise ValueError("XLNet uses relative positions: position_ids cannot be given")
        out = super().forward(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                              inputs_embeds=inputs_embeds, use_mems=False, output_attentions=output_attentions,
                              output_hidden_states=output_hidden_states, return_dict=True)
        hidden = out.last_hidden_state  # (B, L, H)
        pooled = self.pooler(hidden[:, 0]) if self.pooler is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled, hidden_states=out.hidden_states,
                                          attentions=out.attentions)


class XLNetEncoderPreTrainedModel(XLNetPreTrainedModel):
    """XLNet's weight init and loading; the backbone is ``self.transformer`` (``base_model_prefix``)."""

    config_class = XLNetEncoderConfig
    config: XLNetEncoderConfig
    base_model_prefix = "transformer"
    accepts_loss_kwargs = False  # the heads' loss is a mean over the batch
    _supports_sdpa = False  # XLNet's two-stream relative attention is eager only (the BERT parts' flags must not leak in)
    _supports_flash_attn = False
    _supports_flex_attn = False

    def build_backbone(self, config: Any, add_pooling_layer: bool) -> XLNetBackbone:
        return XLNetBackbone(config, add_pooling_layer=add_pooling_layer)


class XLNetEncoderForSequenceClassification(XLNetEncoderPreTrainedModel, EncoderForSequenceClassification):  # type: ignore[misc]  # config: the family's own
    """XLNet + pooled-[CLS] classifier, for single sentences and sentence pairs."""


class XLNetEncoderForEntityTyping(XLNetEncoderPreTrainedModel, EncoderForEntityTyping):  # type: ignore[misc]  # config: the family's own
    """XLNet + entity-typing head on the same pooled vector as the sequence head (:class:`XLNetBackbone`'s
    dense + tanh on the first position, where the common featuriser puts ``[CLS]``)."""


class XLNetEncoderForTokenClassification(XLNetEncoderPreTrainedModel, EncoderForTokenClassification):  # type: ignore[misc]  # config: the family's own
    """XLNet + per-position classifier (NER)."""


__all__ = [
    "XLNetBackbone",
    "XLNetEncoderForEntityTyping",
    "XLNetEncoderForSequenceClassification",
    "XLNetEncoderForTokenClassification",
    "XLNetEncoderPreTrainedModel",
]
