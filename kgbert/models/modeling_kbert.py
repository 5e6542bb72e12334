"""K-BERT (Liu et al., AAAI 2020): BERT over a sentence tree, with soft positions and a visible matrix.

The featuriser (:mod:`kgbert.data.kbert`) flattens the sentence tree into one token sequence
(branches right after their anchor entity) and gives, per token, O(L) ids instead of the
reference implementation's dense L x L matrix per sample:

- ``position_ids``: soft positions (a branch continues from its anchor's last position),
- ``anchor_ids``: the trunk unit (word) a token belongs to or hangs on,
- ``branch_ids``: 0 on the trunk, k > 0 for the k-th branch.

This model builds the visible matrix for the whole batch on the device (closed form of the
reference's loops, see :func:`knowledge_visible_mask`) and gives it to BERT as a 4-D additive
float mask ``(B, 1, L, L)``, which transformers' BERT uses unchanged under both eager and SDPA
attention. Without ``anchor_ids``/``branch_ids`` (the featuriser's collate leaves them out of a
batch that has no knowledge at all: empty KG, ``max_entities=0``) the model passes the plain 2-D
padding mask, so K-BERT is then exactly the BERT baseline. The forward never reads a tensor's
value on the host (no device-to-host sync; it compiles with ``torch.compile(fullgraph=True)``).
"""
from __future__ import annotations

import torch
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions

from kgbert.models.configuration_kbert import KBertConfig
from kgbert.models.modeling_base import (
    EncoderForMaskedLM,
    EncoderForEntityTyping,
    EncoderForSequenceClassification,
    EncoderForTokenClassification,
    KgEncoderPreTrainedModel,
)


def knowledge_visible_mask(
    anchor_ids: torch.Tensor,  # (B, L)
    branch_ids: torch.Tensor,  # (B, L)
    attention_mask: torch.Tensor | None = None,  # (B, L) 1 = token, 0 = padding
) -> torch.Tensor:
    """The batched visible matrix ``(B, L, L)``, True where query i may attend to key j.

    ``visible[i, j] = (b_i == 0 & b_j == 0) | (a_i == a_j & (b_i == 0 | b_j == 0 | b_i == b_j))``:
    trunk tokens see the whole trunk and the branches of their own unit; branch tokens see their
    own branch and their anchor unit. Padding keys are never visible.
    """
    a_i, a_j = anchor_ids[:, :, None], anchor_ids[:, None, :]  # (B, L, 1), (B, 1, L)
    b_i, b_j = branch_ids[:, :, None], branch_ids[:, None, :]
    trunk_i, trunk_j = b_i == 0, b_j == 0
    visible = (trunk_i & trunk_j) | ((a_i == a_j) & (trunk_i | trunk_j | (b_i == b_j)))  # (B, L, L)
    if attention_mask is not None:
        visible = visible & attention_mask[:, None, :].bool()  # (B, L, L) padding keys hidden
    return visible


def visible_to_additive_mask(visible: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(B, L, L)`` bool -> ``(B, 1, L, L)`` additive float mask: 0 where visible, dtype-min where hidden."""
    hidden = (~visible)[:, None, :, :].to(dtype)  # (B, 1, L, L)
    return hidden * torch.finfo(dtype).min


class KBertPreTrainedModel(KgEncoderPreTrainedModel):
    """Weight init and loading for K-BERT; the backbone lives under ``bert.`` as in HF BERT, so a
    plain BERT checkpoint (e.g. bert-base-chinese) loads into it directly. K-BERT changes only the
    attention mask (the visible matrix) and the positions (soft positions, given as ``position_ids``)."""

    config_class = KBertConfig
    config: KBertConfig

    def encoder_attention_mask(  # type: ignore[override]  # names the inputs the base takes as **encoder_inputs
        self,
        attention_mask: torch.Tensor | None,  # (B, L)
        anchor_ids: torch.Tensor | None = None,  # (B, L)
        branch_ids: torch.Tensor | None = None,  # (B, L)
    ) -> torch.Tensor | None:
        """The 4-D visible matrix, or the 2-D padding mask without knowledge inputs (or ``use_vm`` off)."""
        if not self.config.use_vm or branch_ids is None:
            return attention_mask
        if anchor_ids is None:
            raise ValueError("K-BERT needs anchor_ids together with branch_ids")
        visible = knowledge_visible_mask(anchor_ids, branch_ids, attention_mask)  # (B, L, L)
        return visible_to_additive_mask(visible, self.bert.embeddings.word_embeddings.weight.dtype)

    def encode(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L) tokens of the flattened sentence tree
        attention_mask: torch.Tensor | None = None,  # (B, L) 1 = token, 0 = padding
        token_type_ids: torch.Tensor | None = None,  # (B, L) segment ids (branches: their anchor's)
        position_ids: torch.Tensor | None = None,  # (B, L) soft positions
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        anchor_ids: torch.Tensor | None = None,  # (B, L) trunk unit of each token
        branch_ids: torch.Tensor | None = None,  # (B, L) 0 = trunk, k = k-th branch
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        mask = self.encoder_attention_mask(attention_mask, anchor_ids=anchor_ids, branch_ids=branch_ids)
        return self.run_backbone(input_ids, mask, token_type_ids, position_ids, output_attentions, output_hidden_states)


class KBertForSequenceClassification(KBertPreTrainedModel, EncoderForSequenceClassification):
    """K-BERT + pooled-[CLS] classifier, for single sentences and sentence pairs."""


class KBertForEntityTyping(KBertPreTrainedModel, EncoderForEntityTyping):
    """K-BERT + entity-typing head on the pooled ``[CLS]`` of the marked sentence tree."""


class KBertForTokenClassification(KBertPreTrainedModel, EncoderForTokenClassification):
    """K-BERT + per-position classifier (NER); injected positions carry label -100."""


class KBertForMaskedLM(KBertPreTrainedModel, EncoderForMaskedLM):
    """K-BERT + BERT's MLM head: knowledge-aware pretraining over the sentence tree (soft positions,
    visible matrix); the loss only at labelled positions (give injected positions label -100)."""


__all__ = [
    "KBertForMaskedLM",
    "knowledge_visible_mask",
    "visible_to_additive_mask",
    "KBertPreTrainedModel",
    "KBertForEntityTyping",
    "KBertForSequenceClassification",
    "KBertForTokenClassification",
]
