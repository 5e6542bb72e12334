"""ALBERT pretraining models (``model.family: albert``) whose checkpoints are plain ALBERT checkpoints.

The modules (and weight names ``albert.*``, ``predictions.*``, ``sop_classifier.*``) and the
``albert`` model type of transformers' ``AlbertForMaskedLM`` / ``AlbertForPreTraining``:
factorised embeddings (``embedding_size`` E, projected to the hidden size H), one set of layer
weights shared across depth (``num_hidden_groups: 1``), SOP on the pooled ``[CLS]``. Only
``forward`` differs, as in :mod:`kgbert.models.modeling_pretraining`: with labels, the MLM
projection (H -> E -> V) is computed only at the labelled positions (``logits`` (N, V)).
A saved checkpoint fine-tunes with the ``albert`` encoder.
"""
from __future__ import annotations

import torch
from transformers import AlbertForMaskedLM, AlbertForPreTraining
from transformers.modeling_outputs import MaskedLMOutput

from kgbert.models.modeling_pretraining import SparsePreTrainingOutput
from kgbert.models.sparse_heads import run_pretraining_backbone, sparse_mlm_output, sparse_pretraining_output


class AlbertForSparseMaskedLM(AlbertForMaskedLM):
    """``AlbertForMaskedLM`` with the MLM output layer computed only at masked positions."""

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        inputs_embeds: torch.Tensor | None = None,  # (B, L, E)
        labels: torch.Tensor | None = None,  # (B, L), -100 where nothing is predicted
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> MaskedLMOutput:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
                  "position_ids": position_ids, "inputs_embeds": inputs_embeds}
        out = run_pretraining_backbone(self.albert, inputs, output_attentions=output_attentions,
                                       output_hidden_states=output_hidden_states)
        return sparse_mlm_output(self.predictions, out, labels)


class AlbertForSparsePreTraining(AlbertForPreTraining):
    """``AlbertForPreTraining`` with the sparse MLM head; SOP from ``next_sentence_label``
    (1 = the two segments were swapped, transformers' ``sentence_order_label`` convention)."""

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        inputs_embeds: torch.Tensor | None = None,  # (B, L, E)
        labels: torch.Tensor | None = None,  # (B, L), -100 where nothing is predicted
        next_sentence_label: torch.Tensor | None = None,  # (B,) 0 = original order, 1 = swapped
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> SparsePreTrainingOutput:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
                  "position_ids": position_ids, "inputs_embeds": inputs_embeds}
        out = run_pretraining_backbone(self.albert, inputs, output_attentions=output_attentions,
                                       output_hidden_states=output_hidden_states)
        return sparse_pretraining_output(self.predictions, self.sop_classifier, out, labels, next_sentence_label)


__all__ = ["AlbertForSparseMaskedLM", "AlbertForSparsePreTraining"]
