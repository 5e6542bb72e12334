"""SpanBERT's span boundary objective (Joshi et al. 2020): every token of a masked span is
predicted from the outputs of the two tokens just outside the span (positions ``s - 1`` and
``e + 1``) and an embedding of its position inside the span, through a 2-layer feed-forward
network with GELU and layer norm, then the masked-LM output layer (tied to the word embeddings).
Sparse: computed only at the masked positions. Needs ``masking.strategy: span`` (the collator
gives ``span_left``/``span_right``). The head is dropped from the exported checkpoint."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kgbert.objectives.plugin import HeadContext, PluginObjective

IGNORE_INDEX = -100


class SpanBoundaryHead(nn.Module):
    """``y = LN(GELU(W2 LN(GELU(W1 [x_{s-1}; x_{e+1}; p_{i-s}]))))``; relative positions past
    ``max_positions - 1`` share the last embedding."""

    def __init__(self, hidden_size: int, layer_norm_eps: float = 1e-12, max_positions: int = 32) -> None:
        super().__init__()
        self.max_positions = max_positions
        self.position_embeddings = nn.Embedding(max_positions, hidden_size)
        self.mlp = nn.Sequential(
            nn.Linear(3 * hidden_size, hidden_size), nn.GELU(), nn.LayerNorm(hidden_size, eps=layer_norm_eps),
            nn.Linear(hidden_size, hidden_size), nn.GELU(), nn.LayerNorm(hidden_size, eps=layer_norm_eps),
        )

    def forward(
        self,
        sequence_output: torch.Tensor,  # (B, L, H)
        rows: torch.Tensor,  # (N,) batch index of each predicted token
        left: torch.Tensor,  # (N,) position s - 1
        right: torch.Tensor,  # (N,) position e + 1
        offset: torch.Tensor,  # (N,) position of the token inside its span, 0-based
    ) -> torch.Tensor:  # (N, H)
        rel = self.position_embeddings(offset.clamp(0, self.max_positions - 1))
        h = torch.cat([sequence_output[rows, left], sequence_output[rows, right], rel], dim=-1)
        return self.mlp(h)


class SpanBoundaryObjective(PluginObjective):
    """``sbo``: cross-entropy of the span-boundary predictions at every masked span token."""

    name = "sbo"
    input_keys = ("span_left", "span_right")
    requires_strategy = "span"
    max_positions = 32  # relative positions embedded (tokens); spans of 10 words rarely exceed it

    def collator_options(self, masking):
        return {"boundaries": True}

    def build_head(self, config):
        return SpanBoundaryHead(config.hidden_size, config.layer_norm_eps, self.max_positions)

    def logits(self, head: SpanBoundaryHead, ctx: HeadContext, inputs: dict[str, torch.Tensor]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N, V) at the N span tokens in row-major order, their positions (N, 2))."""
        left_all = inputs["span_left"]
        rows, cols = (left_all != IGNORE_INDEX).nonzero(as_tuple=True)
        left, right = left_all[rows, cols], inputs["span_right"][rows, cols]
        y = head(ctx.sequence_output, rows, left, right, cols - left - 1)
        return ctx.decoder(y), torch.stack([rows, cols], dim=1)

    def loss(self, head, ctx, inputs):
        if ctx.labels is None:
            raise ValueError("the sbo objective needs the masked-LM labels")
        logits, where = self.logits(head, ctx, inputs)
        target = ctx.labels[where[:, 0], where[:, 1]]
        if target.numel() == 0:
            return logits.sum() * 0.0
        if bool((target == IGNORE_INDEX).any()):
            raise ValueError("span_left marks a position without a masked-LM label")
        return F.cross_entropy(logits.float(), target)
