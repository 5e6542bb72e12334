"""Pretraining models whose checkpoints are plain BERT checkpoints.

:class:`BertForSparseMaskedLM` has exactly the modules (and so the weight names ``bert.*``,
``cls.predictions.*``) of transformers' ``BertForMaskedLM`` and the ``bert`` model type: a
saved checkpoint loads with ``AutoModelForMaskedLM.from_pretrained`` (as ``BertForMaskedLM``)
and as ``model.backbone`` of every fine-tuning config. Only ``forward`` differs: with labels it
projects onto the vocabulary only at labelled (masked) positions, so ``logits`` is (N, V) for the
N labelled positions in row-major order; without labels it is the usual (B, L, V).
"""
from __future__ import annotations

import torch
from transformers import BertForMaskedLM
from transformers.modeling_outputs import MaskedLMOutput

from kgbert.objectives.mlm import MaskedLM


class BertForSparseMaskedLM(BertForMaskedLM):
    """``BertForMaskedLM`` with the MLM output layer computed only at masked positions."""

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        inputs_embeds: torch.Tensor | None = None,  # (B, L, H)
        labels: torch.Tensor | None = None,  # (B, L), -100 where nothing is predicted
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> MaskedLMOutput:
        extra = {}
        if output_attentions is not None:
            extra["output_attentions"] = output_attentions
        if output_hidden_states is not None:
            extra["output_hidden_states"] = output_hidden_states
        out = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **extra,
        )
        sequence_output = out.last_hidden_state
        if labels is None:
            return MaskedLMOutput(logits=self.cls(sequence_output), hidden_states=out.hidden_states, attentions=out.attentions)
        logits, loss = MaskedLM.logits_and_loss(self.cls, sequence_output, labels)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


__all__ = ["BertForSparseMaskedLM"]
