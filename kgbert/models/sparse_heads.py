"""Sparse pretraining outputs on any backbone (ALBERT, the ELECTRA discriminator's BERT).

The vocabulary projection is computed only at the labelled positions
(:meth:`kgbert.objectives.mlm.MaskedLM.logits_and_loss`), as in
:mod:`kgbert.models.modeling_pretraining`.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from transformers.modeling_outputs import MaskedLMOutput

from kgbert.models.modeling_pretraining import SparsePreTrainingOutput
from kgbert.objectives.mlm import MaskedLM
from kgbert.objectives.sentence import sentence_loss


def run_pretraining_backbone(backbone: torch.nn.Module, inputs: dict[str, Any], **flags: bool | None) -> Any:
    """``backbone(**inputs)`` (``AlbertModel``, ``BertModel``) as a dict-returning call, the
    output flags passed only when set."""
    return backbone(**inputs, return_dict=True, **{k: v for k, v in flags.items() if v is not None})


def sparse_mlm_output(head: Callable[[torch.Tensor], torch.Tensor], out: Any, labels: torch.Tensor | None) -> MaskedLMOutput:
    """``head`` on the backbone output ``out``: with ``labels``, (N, V) logits and the loss at the
    N labelled positions (:meth:`MaskedLM.logits_and_loss`), else (B, L, V)."""
    if labels is None:
        return MaskedLMOutput(logits=head(out.last_hidden_state), hidden_states=out.hidden_states, attentions=out.attentions)
    logits, loss = MaskedLM.logits_and_loss(head, out.last_hidden_state, labels)
    return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


def sparse_pretraining_output(mlm_head: Callable[[torch.Tensor], torch.Tensor], sentence_head: Callable[[torch.Tensor], torch.Tensor],
                              out: Any, labels: torch.Tensor | None, sentence_label: torch.Tensor | None) -> SparsePreTrainingOutput:
    """Sparse MLM plus a 2-way sentence head on the pooled output (SOP), losses added."""
    mlm = sparse_mlm_output(mlm_head, out, labels)
    seq_logits = sentence_head(out.pooler_output)  # (B, 2)
    loss = mlm.loss
    if sentence_label is not None:
        s_loss = sentence_loss(seq_logits, sentence_label)
        loss = s_loss if loss is None else loss + s_loss
    return SparsePreTrainingOutput(loss=loss, logits=mlm.logits, seq_relationship_logits=seq_logits,
                                   hidden_states=out.hidden_states, attentions=out.attentions)


__all__ = ["run_pretraining_backbone", "sparse_mlm_output", "sparse_pretraining_output"]
