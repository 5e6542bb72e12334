"""Pretraining models whose checkpoints are plain BERT checkpoints.

:class:`BertForSparseMaskedLM` has exactly the modules (and so the weight names ``bert.*``,
``cls.predictions.*``) of transformers' ``BertForMaskedLM`` and the ``bert`` model type: a
saved checkpoint loads with ``AutoModelForMaskedLM.from_pretrained`` (as ``BertForMaskedLM``)
and as ``model.backbone`` of every fine-tuning config. Only ``forward`` differs: with labels it
projects onto the vocabulary only at labelled (masked) positions, so ``logits`` is (N, V) for the
N labelled positions in row-major order; without labels it is the usual (B, L, V).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import BertForMaskedLM, BertForPreTraining
from transformers.modeling_outputs import MaskedLMOutput
from transformers.utils import ModelOutput

from kgbert.objectives.mlm import MaskedLM
from kgbert.objectives.sentence import sentence_loss


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



@dataclass
class SparsePreTrainingOutput(ModelOutput):
    """Loss (MLM + sentence objective), MLM ``logits`` at the labelled positions (N, V) when
    labels are given (else (B, L, V)), the sentence-pair logits (B, 2)."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class BertForSparsePreTraining(BertForPreTraining):
    """``BertForPreTraining`` (weights ``bert.*`` incl. the pooler, ``cls.predictions.*``,
    ``cls.seq_relationship.*``: bert-base-chinese's layout) with the MLM output layer computed
    only at masked positions; the sentence head serves NSP or SOP (``next_sentence_label``)."""

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        inputs_embeds: torch.Tensor | None = None,  # (B, L, H)
        labels: torch.Tensor | None = None,  # (B, L), -100 where nothing is predicted
        next_sentence_label: torch.Tensor | None = None,  # (B,) 0 = true continuation/order, 1 = not
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> SparsePreTrainingOutput:
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
        seq_logits = self.cls.seq_relationship(out.pooler_output)  # (B, 2)
        loss = None
        if labels is None:
            logits = self.cls.predictions(out.last_hidden_state)
        else:
            logits, loss = MaskedLM.logits_and_loss(self.cls.predictions, out.last_hidden_state, labels)
        if next_sentence_label is not None:
            s_loss = sentence_loss(seq_logits, next_sentence_label)
            loss = s_loss if loss is None else loss + s_loss
        return SparsePreTrainingOutput(loss=loss, logits=logits, seq_relationship_logits=seq_logits,
                                       hidden_states=out.hidden_states, attentions=out.attentions)


__all__ = ["BertForSparseMaskedLM", "BertForSparsePreTraining", "SparsePreTrainingOutput"]
