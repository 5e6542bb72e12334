"""ELECTRA (Clark et al., ICLR 2020): replaced token detection on BERT's parts (``model.family: electra``).

- The **generator** is a small BERT (the discriminator's depth, ``generator_size`` of its width,
  heads and FFN; the paper found 1/4 to 1/2 of the width best) trained with MLM on the masked
  input. It has no embeddings of its own: it reads the discriminator's embedding output (token,
  position and token-type embeddings and their layer norm are shared, as in the paper's code),
  projected to its width, and its output layer is tied to the shared word embeddings.
- Tokens are **sampled** from the generator's softmax at the masked positions (no gradient flows
  through sampling) and put into the input; every other position keeps the original token.
- The **discriminator** (a plain ``BertModel`` + a per-position head) sees the corrupted input and
  is trained on every non-padding position to tell replaced (1) from original (0) tokens. A sampled
  token that equals the original counts as original (:func:`replaced_token_labels`).
- loss = generator MLM + ``discriminator_weight`` (50) x discriminator binary cross-entropy.

The discriminator is the model that is kept: saved alone (:class:`ElectraDiscriminator`) it is a
plain BERT checkpoint (``bert.*``, model type ``bert``; its head under ``discriminator_predictions.*``),
so every BERT-based kgbert encoder fine-tunes it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel
from transformers.activations import ACT2FN
from transformers.models.bert.modeling_bert import BertPreTrainedModel
from transformers.utils import ModelOutput

from kgbert.models.sparse_heads import run_pretraining_backbone
from kgbert.objectives.mlm import IGNORE_INDEX, MaskedLM


def replaced_token_labels(input_ids: torch.Tensor, labels: torch.Tensor, corrupted_ids: torch.Tensor) -> torch.Tensor:
    """(B, L) discriminator targets: 1 where ``corrupted_ids`` differs from the original text, else 0.

    The original token is ``labels`` where a position was masked (its label is not -100) and
    ``input_ids`` elsewhere, so a sampled token equal to the original is labelled original (0).
    """
    original = torch.where(labels != IGNORE_INDEX, labels, input_ids)
    return (corrupted_ids != original).long()


def generator_config(config: BertConfig) -> BertConfig:
    """The generator's config: the discriminator's depth, ``config.generator_size`` of its width,
    attention heads (at least one, dividing the width) and feed-forward size."""
    frac = float(config.generator_size)
    hidden = max(1, round(config.hidden_size * frac))
    heads = max(1, round(config.num_attention_heads * frac))
    while hidden % heads:
        heads -= 1
    cfg = config.to_dict()
    for key in ("generator_size", "discriminator_weight", "temperature", "architectures", "model_type", "transformers_version"):
        cfg.pop(key, None)
    cfg.update(hidden_size=hidden, num_attention_heads=heads, intermediate_size=max(1, round(config.intermediate_size * frac)))
    return BertConfig(**cfg)


class ProjectedEmbeddings(nn.Module):
    """Stands in for the generator's ``BertEmbeddings``: it receives the shared embedding output
    (B, L, E) as ``inputs_embeds`` and projects it to the generator's width."""

    def __init__(self, embedding_size: int, hidden_size: int) -> None:
        super().__init__()
        self.project = nn.Linear(embedding_size, hidden_size)

    def forward(self, input_ids: Any = None, token_type_ids: Any = None, position_ids: Any = None,
                inputs_embeds: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        if inputs_embeds is None:
            raise ValueError("the ELECTRA generator reads the shared embeddings' output (inputs_embeds), not token ids")
        return self.project(inputs_embeds)


class ElectraGenerator(nn.Module):
    """A small BERT without embeddings of its own + an MLM head tied to the shared word embeddings."""

    def __init__(self, config: BertConfig, embedding_size: int) -> None:
        super().__init__()
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.encoder.embeddings = ProjectedEmbeddings(embedding_size, config.hidden_size)  # type: ignore[assignment]
        self.dense = nn.Linear(config.hidden_size, embedding_size)
        self.activation = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(embedding_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, embeddings: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """(B, L, E) shared embedding output -> (B, L, H_g) generator hidden states."""
        return self.encoder(inputs_embeds=embeddings, attention_mask=attention_mask, return_dict=True).last_hidden_state

    def head(self, hidden: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        """(..., H_g) -> (..., V) logits, the output layer being the shared word embeddings."""
        return F.linear(self.LayerNorm(self.activation(self.dense(hidden))), word_embeddings, self.bias)


class ReplacedTokenHead(nn.Module):
    """ELECTRA's discriminator head: dense H -> H, the hidden activation, dense H -> 1 per position."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = ACT2FN[config.hidden_act]
        self.dense_prediction = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dense_prediction(self.activation(self.dense(hidden))).squeeze(-1)  # (B, L)


@dataclass
class ReplacedTokenDetectionOutput(ModelOutput):
    """``loss`` (generator MLM + weight x discriminator), ``logits``: the generator's MLM logits
    (N, V) at the N labelled positions (row-major) when labels are given, else (B, L, V);
    ``discriminator_logits`` (B, L); with labels also the two losses, the corrupted input the
    discriminator saw and its targets (both (B, L))."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    discriminator_logits: torch.Tensor | None = None
    generator_loss: torch.Tensor | None = None
    discriminator_loss: torch.Tensor | None = None
    corrupted_ids: torch.Tensor | None = None
    discriminator_labels: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class ElectraDiscriminator(BertPreTrainedModel):
    """``BertModel`` (under ``bert.``, pooler included, so a saved discriminator is a complete BERT
    checkpoint; the pooler itself is not trained) + :class:`ReplacedTokenHead`."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=True)
        self.discriminator_predictions = ReplacedTokenHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        labels: torch.Tensor | None = None,  # (B, L) 1 = replaced, 0 = original
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> ReplacedTokenDetectionOutput:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
                  "position_ids": position_ids}
        out = run_pretraining_backbone(self.bert, inputs, output_attentions=output_attentions,
                                       output_hidden_states=output_hidden_states)
        logits = self.discriminator_predictions(out.last_hidden_state)  # (B, L)
        loss = None
        if labels is not None:
            keep = attention_mask.bool() if attention_mask is not None else torch.ones_like(labels, dtype=torch.bool)
            loss = F.binary_cross_entropy_with_logits(logits.float()[keep], labels[keep].float())
        return ReplacedTokenDetectionOutput(loss=loss, discriminator_logits=logits, hidden_states=out.hidden_states,
                                            attentions=out.attentions)


class ElectraForReplacedTokenDetection(BertPreTrainedModel):
    """Generator + discriminator (see the module docstring). ``config``: the discriminator's
    ``BertConfig`` plus ``generator_size`` (fraction of its width), ``discriminator_weight`` and
    ``temperature`` (of the sampling softmax)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.discriminator = ElectraDiscriminator(config)
        self.generator = ElectraGenerator(generator_config(config), config.hidden_size)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.discriminator.bert.embeddings.word_embeddings

    @torch.no_grad()
    def sample(self, input_ids: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """The corrupted input: at each labelled position a token drawn from the generator's softmax
        (``logits`` (N, V), row-major), the input token elsewhere. No gradient flows through it."""
        temperature = float(getattr(self.config, "temperature", 1.0))
        probs = torch.softmax(logits.detach().float() / temperature, dim=-1)
        sampled = torch.multinomial(probs, 1).squeeze(-1) if probs.shape[0] else input_ids.new_zeros(0)
        corrupted = input_ids.clone()
        corrupted[labels != IGNORE_INDEX] = sampled.to(input_ids.dtype)
        return corrupted

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, L) the masked input
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        labels: torch.Tensor | None = None,  # (B, L) original ids at masked positions, -100 elsewhere
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> ReplacedTokenDetectionOutput:
        shared = self.discriminator.bert.embeddings
        gen_hidden = self.generator(shared(input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids),
                                    attention_mask)
        head = functools.partial(self.generator.head, word_embeddings=shared.word_embeddings.weight)
        flags = {"output_attentions": output_attentions, "output_hidden_states": output_hidden_states}
        if labels is None:
            disc = self.discriminator(input_ids, attention_mask, token_type_ids, position_ids, **flags)
            return ReplacedTokenDetectionOutput(logits=head(gen_hidden), discriminator_logits=disc.discriminator_logits,
                                                hidden_states=disc.hidden_states, attentions=disc.attentions)
        logits, gen_loss = MaskedLM.logits_and_loss(head, gen_hidden, labels)  # (N, V)
        corrupted = self.sample(input_ids, labels, logits)
        disc_labels = replaced_token_labels(input_ids, labels, corrupted)
        disc = self.discriminator(corrupted, attention_mask, token_type_ids, position_ids, labels=disc_labels, **flags)
        loss = gen_loss + float(self.config.discriminator_weight) * disc.loss
        return ReplacedTokenDetectionOutput(
            loss=loss, logits=logits, discriminator_logits=disc.discriminator_logits, generator_loss=gen_loss.detach(),
            discriminator_loss=disc.loss.detach(), corrupted_ids=corrupted, discriminator_labels=disc_labels,
            hidden_states=disc.hidden_states, attentions=disc.attentions,
        )


__all__ = [
    "ElectraDiscriminator",
    "ElectraForReplacedTokenDetection",
    "ElectraGenerator",
    "ReplacedTokenDetectionOutput",
    "generator_config",
    "replaced_token_labels",
]
