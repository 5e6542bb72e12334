"""The interface of objectives that add a loss (and maybe a head) to the sparse pretraining
models (:mod:`kgbert.models.modeling_pretraining`): ``sbo`` (SpanBERT), ``wso`` and ``sso``
(StructBERT). The model builds each objective's head under ``objective_heads.<name>`` and adds
its loss whenever the batch carries the objective's inputs (held-out MLM batches do not)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch


@dataclass
class HeadContext:
    """What a plug-in objective may read from the model's forward pass."""

    sequence_output: torch.Tensor  # (B, L, H)
    pooled_output: torch.Tensor | None  # (B, H); None in the masked-LM-only model (no pooler)
    labels: torch.Tensor | None  # (B, L) masked-LM labels, -100 where nothing is predicted
    mlm_head: Callable[[torch.Tensor], torch.Tensor]  # (N, H) -> (N, V): the MLM transform + decoder
    decoder: torch.nn.Module  # (N, H) -> (N, V): the output layer alone (tied to the word embeddings)


class PluginObjective:
    """Base of the objectives with their own loss. ``input_keys``: the batch tensors it reads (its
    loss is computed when the batch has all of them); ``collator_options``: what the masking
    collator must produce for it; ``requires_strategy``: the masking strategy it needs, if any;
    ``sentence``: it labels sentence pairs (built by ``PairedCorpus``; at most one per run)."""

    name = "plugin"
    input_keys: tuple[str, ...] = ()
    requires_strategy: str | None = None
    sentence = False

    def collator_options(self, masking: Any) -> dict[str, Any]:
        """Keyword arguments for :func:`kgbert.data.collators.build_collator` (``masking``: the
        run's :class:`~kgbert.pretraining.config.MaskingConfig`)."""
        return {}

    def build_head(self, config: Any) -> torch.nn.Module | None:
        """The objective's own parameters (from the model's ``BertConfig``), or None."""
        return None

    def loss(self, head: torch.nn.Module | None, ctx: HeadContext, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError
