"""Pretraining models whose checkpoints are plain BERT checkpoints.

:class:`BertForSparseMaskedLM` has exactly the modules (and so the weight names ``bert.*``,
``cls.predictions.*``) of transformers' ``BertForMaskedLM`` and the ``bert`` model type: a
saved checkpoint loads with ``AutoModelForMaskedLM.from_pretrained`` (as ``BertForMaskedLM``)
and as ``model.backbone`` of every fine-tuning config. Only ``forward`` differs: with labels it
projects onto the vocabulary only at labelled (masked) positions, so ``logits`` is (N, V) for the
N labelled positions in row-major order; without labels it is the usual (B, L, V).

Plug-in objectives (``config.pretraining_objectives``: ``sbo``, ``wso``, ``sso``; see
:mod:`kgbert.objectives`) put their heads under ``objective_heads.<name>`` and add their losses
when the batch carries their inputs (``span_left``, ``shuffle_labels``, ...). Those heads are
pretraining-only: :func:`kgbert.pretraining.run.export_checkpoint` drops them, so the exported
checkpoint keeps BERT's layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import BertForMaskedLM, BertForPreTraining
from transformers.modeling_outputs import MaskedLMOutput
from transformers.utils import ModelOutput

from kgbert.objectives.mlm import MaskedLM
from kgbert.objectives.plugin import HeadContext, PluginObjective
from kgbert.objectives.sentence import sentence_loss

HEADS_PREFIX = "objective_heads."


class ObjectiveHeadsMixin:
    """The plug-in objectives of ``config.pretraining_objectives`` (names; others are ignored)."""

    # the Trainer must not pass num_items_in_batch through **objective_inputs (it would then also
    # stop averaging the loss over gradient-accumulation steps)
    accepts_loss_kwargs = False
    plugins: list[PluginObjective]
    objective_heads: nn.ModuleDict

    def _init_objective_heads(self, config: Any) -> None:
        from kgbert.objectives import plugin_objectives

        self.plugins = plugin_objectives(list(getattr(config, "pretraining_objectives", None) or []))
        heads = {}
        for o in self.plugins:
            head = o.build_head(config)
            if head is not None:
                heads[o.name] = head
        self.objective_heads = nn.ModuleDict(heads)
        self.objective_heads.apply(self._init_weights)  # type: ignore[attr-defined]

    def _objective_losses(self, ctx: HeadContext, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        known = {k for o in self.plugins for k in o.input_keys}
        unknown = set(inputs) - known
        if unknown:
            raise TypeError(f"unexpected input(s) {sorted(unknown)}: the model's plug-in objectives "
                            f"{[o.name for o in self.plugins]} read {sorted(known)}")
        losses = {}
        for o in self.plugins:
            if all(k in inputs for k in o.input_keys):
                head = self.objective_heads[o.name] if o.name in self.objective_heads else None
                losses[o.name] = o.loss(head, ctx, inputs)
        return losses


def _add_losses(loss: torch.Tensor | None, losses: dict[str, torch.Tensor]) -> torch.Tensor | None:
    for v in losses.values():
        loss = v if loss is None else loss + v
    return loss


@dataclass
class SparseMaskedLMOutput(MaskedLMOutput):
    """``MaskedLMOutput`` plus each plug-in objective's loss (included in ``loss``)."""

    objective_losses: dict[str, torch.Tensor] | None = None


class BertForSparseMaskedLM(ObjectiveHeadsMixin, BertForMaskedLM):
    """``BertForMaskedLM`` with the MLM output layer computed only at masked positions."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._init_objective_heads(config)

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
        **objective_inputs: torch.Tensor,  # the plug-in objectives' inputs (span_left, shuffle_labels, ...)
    ) -> SparseMaskedLMOutput:
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
        loss = None
        if labels is None:
            logits = self.cls(sequence_output)
        else:
            logits, loss = MaskedLM.logits_and_loss(self.cls, sequence_output, labels)
        ctx = HeadContext(sequence_output, None, labels, self.cls.predictions, self.cls.predictions.decoder)
        losses = self._objective_losses(ctx, objective_inputs)
        return SparseMaskedLMOutput(loss=_add_losses(loss, losses), logits=logits, hidden_states=out.hidden_states,
                                    attentions=out.attentions, objective_losses=losses or None)



@dataclass
class SparsePreTrainingOutput(ModelOutput):
    """Loss (MLM + sentence objective), MLM ``logits`` at the labelled positions (N, V) when
    labels are given (else (B, L, V)), the sentence-pair logits (B, 2)."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    objective_losses: dict[str, torch.Tensor] | None = None


class BertForSparsePreTraining(ObjectiveHeadsMixin, BertForPreTraining):
    """``BertForPreTraining`` (weights ``bert.*`` incl. the pooler, ``cls.predictions.*``,
    ``cls.seq_relationship.*``: bert-base-chinese's layout) with the MLM output layer computed
    only at masked positions; the sentence head serves NSP or SOP (``next_sentence_label``);
    StructBERT's 3-way ``sso`` is a plug-in with its own head on the same pooled output."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._init_objective_heads(config)

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
        **objective_inputs: torch.Tensor,  # the plug-in objectives' inputs (sentence_structure_label, ...)
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
        ctx = HeadContext(out.last_hidden_state, out.pooler_output, labels, self.cls.predictions, self.cls.predictions.decoder)
        losses = self._objective_losses(ctx, objective_inputs)
        return SparsePreTrainingOutput(loss=_add_losses(loss, losses), logits=logits, seq_relationship_logits=seq_logits,
                                       hidden_states=out.hidden_states, attentions=out.attentions,
                                       objective_losses=losses or None)


__all__ = ["HEADS_PREFIX", "BertForSparseMaskedLM", "BertForSparsePreTraining", "ObjectiveHeadsMixin",
           "SparseMaskedLMOutput", "SparsePreTrainingOutput"]
