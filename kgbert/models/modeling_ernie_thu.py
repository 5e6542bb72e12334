"""ERNIE, Tsinghua (Zhang et al., ACL 2019): a frozen KG entity table fused into BERT's last layers.

Input beyond BERT's (from :mod:`kgbert.data.ernie_thu`): ``entity_ids`` (B, L): 0 = no entity,
``k + 1`` = the store's entity id ``k`` (row ``k`` of the KG-embedding export), on the first token
of each linked entity mention. The entity mask is ``entity_ids > 0`` (computed on the device).

The knowledgeable encoder (all tensors; no host read of a value in ``forward``):

1. BERT's embeddings and its first N = ``num_hidden_layers - num_aggregator_layers`` layers, as is.
2. M **aggregator layers**; aggregator ``i`` is BERT's layer ``N + i`` (its weights load from any
   BERT checkpoint) plus new entity parts (:class:`EntityFusion`). Per layer, with token stream
   ``w`` and entity stream ``e`` (B, L, De; 0 off the entity positions):

   - ``a = BertAttention(w)`` (BERT's own self-attention block on the tokens),
   - ``f = LN_ea(W_ea MHA(e) + e) * mask`` (multi-head self-attention over the entity stream, keys
     restricted to the entity positions; a row without entities attends with a finite mask, so
     never NaN, and is zeroed by ``mask``),
   - fusion in place of the feed-forward block: ``h = GELU(W_t a + b + W_e f)`` (``W_t``, ``b``:
     BERT's intermediate dense; ``W_e`` has no bias), ``w' = LN(W_o h + a)`` (BERT's output block),
     ``e' = LN_e(W_oe h + f) * mask``.

   The first aggregator's entity stream is the frozen table looked up by ``entity_ids``.
3. The shared heads on ``w`` (sequence/pair: BERT's pooler on ``[CLS]``; token: per position).

**Reduction to BERT** (why the registry entry keeps ``bert_without_inputs=True``): where no token
carries an entity, ``f = 0``, so ``W_e f = 0`` exactly (no bias) and ``h``, ``w'`` are BERT's own
intermediate and output blocks on BERT's attention output: the token stream is BERT's, bit for
bit. Without ``entity_ids`` the model runs the backbone directly (same function). Tested in
``tests/models/test_ernie_thu.py`` (all-zero ``entity_ids`` through the fusion path == BERT).

**The entity table** is a persistent, frozen buffer ``entity_table`` (num_entities + 1, De):
row 0 zeros (no entity), row ``k + 1`` the export's vector of entity ``k``. It is saved in the
checkpoint (``model.safetensors``) and reloaded from there with the Auto classes; the export is read
only when a model is built from a BERT checkpoint (or from scratch) with
``entity_embeddings=<export dir>``. It follows the model's device and dtype (``model.to(...)``)
and never receives a gradient (a buffer, not a parameter).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions
from transformers.utils import ModelOutput
from transformers.models.bert.modeling_bert import BertModel

from kgbert.models.configuration_ernie_thu import ErnieThuConfig
from kgbert.models.modeling_base import (
    EncoderForEntityTyping,
    EncoderForSequenceClassification,
    EncoderForTokenClassification,
    KgEncoderPreTrainedModel,
)


class EntitySelfAttention(nn.Module):
    """Multi-head self-attention over the entity stream, keys restricted to entity positions,
    then BERT's output block (dense, dropout, residual, LayerNorm)."""

    def __init__(self, config: ErnieThuConfig) -> None:
        super().__init__()
        d, heads = int(config.entity_dim), int(config.entity_attention_heads)
        if heads < 1 or d % heads:
            raise ValueError(f"entity_dim={d} must be a multiple of entity_attention_heads={heads}")
        self.heads = heads
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.dense = nn.Linear(d, d)
        self.LayerNorm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.attn_dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def forward(self, e: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``e`` (B, L, De), ``mask`` (B, L) bool -> (B, L, De), 0 off the entity positions."""
        B, L, D = e.shape
        h = self.heads

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(B, L, h, D // h).transpose(1, 2)  # (B, h, L, d)

        q, k, v = split(self.query(e)), split(self.key(e)), split(self.value(e))
        # finite additive mask: a row with no entity key gets uniform weights (no NaN), zeroed below
        bias = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill(~mask, torch.finfo(q.dtype).min)
        ctx = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=bias[:, None, None, :], dropout_p=self.attn_dropout.p if self.training else 0.0,
        ).transpose(1, 2).reshape(B, L, D)  # (B, L, De)
        out = self.LayerNorm(self.dropout(self.dense(ctx)) + e)
        return out * mask.unsqueeze(-1).to(out.dtype)


class EntityFusion(nn.Module):
    """The entity parts of one aggregator layer (the token parts are BERT's layer)."""

    def __init__(self, config: ErnieThuConfig) -> None:
        super().__init__()
        d = int(config.entity_dim)
        self.attention = EntitySelfAttention(config)
        self.entity_in = nn.Linear(d, config.intermediate_size, bias=False)  # W_e (b is BERT's)
        self.entity_out = nn.Linear(config.intermediate_size, d)  # W_oe
        self.LayerNorm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)


class ErnieThuPreTrainedModel(KgEncoderPreTrainedModel):
    """Weight init, loading and the knowledgeable encoder (backbone under ``bert.``)."""

    config_class = ErnieThuConfig
    config: ErnieThuConfig
    entity_table: torch.Tensor  # (num_entities + 1, entity_dim) frozen buffer
    entity_fusion: nn.ModuleList

    def build_backbone(self, config: Any, add_pooling_layer: bool) -> BertModel:  # type: ignore[override]
        if config.entity_embeddings and not config.num_entities:
            _resolve_export(config)
        start = config.aggregator_start
        self.entity_fusion = nn.ModuleList(EntityFusion(config) for _ in range(start, config.num_hidden_layers))
        table = torch.zeros(int(config.num_entities) + 1, int(config.entity_dim))
        self.register_buffer("entity_table", table, persistent=True)
        return super().build_backbone(config, add_pooling_layer)

    def _init_weights(self, module):  # type: ignore[override]
        """BERT's init; the entity table: the export's vectors (row 0 zeros) or, with no export,
        N(0, initializer_range) (a random stand-in, e.g. for tests)."""
        super()._init_weights(module)
        if isinstance(module, ErnieThuPreTrainedModel) and hasattr(module, "entity_table"):
            table = module.entity_table
            if getattr(table, "_is_hf_initialized", False):  # loaded from a checkpoint: keep it
                return
            if self.config.entity_embeddings:
                vectors = _export_table(self.config)
            else:
                vectors = torch.randn(table.shape[0] - 1, table.shape[1]) * self.config.initializer_range
            init.copy_(table, torch.cat([torch.zeros(1, vectors.shape[1]), vectors]).to(table.dtype))

    def encode(  # type: ignore[override]  # ERNIE's own input is its contract
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        entity_ids: torch.Tensor | None = None,  # (B, L) 0 = no entity, k + 1 = store entity k
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        """BERT layers, then the aggregator layers (module docstring); without ``entity_ids``: BERT."""
        if entity_ids is None:
            return self.run_backbone(input_ids, attention_mask, token_type_ids, position_ids,
                                     output_attentions, output_hidden_states)
        bert = self.bert
        hidden = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids)
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
        # (B, 1, 1, L) additive float mask: what BERT's layers take under eager and SDPA alike (no
        # private transformers API: BertModel._create_attention_masks changed signature in 5.25)
        mask = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        emask = (entity_ids > 0) & (attention_mask > 0)  # (B, L)
        ent = self.entity_table[entity_ids] * emask.unsqueeze(-1).to(hidden.dtype)  # (B, L, De)
        all_hidden: list[torch.Tensor] = [hidden]
        all_attn: list[torch.Tensor] = []
        start = self.config.aggregator_start
        for i, layer in enumerate(bert.encoder.layer):
            att, weights = layer.attention(hidden, mask)
            if i < start:
                hidden = layer.feed_forward_chunk(att)  # BertLayer.forward, unrolled to keep the weights
            else:
                fusion: EntityFusion = self.entity_fusion[i - start]  # type: ignore[assignment]
                ent = fusion.attention(ent, emask)
                inter = layer.intermediate
                h = inter.intermediate_act_fn(inter.dense(att) + fusion.entity_in(ent))
                hidden = layer.output(h, att)
                ent = fusion.LayerNorm(fusion.dropout(fusion.entity_out(h)) + ent) * emask.unsqueeze(-1).to(ent.dtype)
            all_hidden.append(hidden)
            if weights is not None:
                all_attn.append(weights)
        pooled = bert.pooler(hidden) if bert.pooler is not None else None
        return BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=hidden,
            pooler_output=pooled,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(all_attn) if output_attentions else None,
        )


def _resolve_export(config: ErnieThuConfig) -> None:
    """Fill ``num_entities``, ``entity_dim`` and ``kg_build_id`` from the export's files."""
    from knowledge.embed import load_embeddings

    emb = load_embeddings(str(config.entity_embeddings), build_id=config.kg_build_id)  # BuildMismatchError
    config.num_entities = emb.num_entities
    config.entity_dim = emb.dim
    config.kg_build_id = emb.build_id


def _export_table(config: ErnieThuConfig) -> torch.Tensor:
    from knowledge.embed import load_embeddings

    emb = load_embeddings(str(config.entity_embeddings), build_id=config.kg_build_id)
    if emb.num_entities != config.num_entities or emb.dim != config.entity_dim:
        raise ValueError(f"the export at {config.entity_embeddings} has {emb.num_entities} x {emb.dim} "
                         f"entity vectors, the model config {config.num_entities} x {config.entity_dim}")
    return torch.from_numpy(np.array(emb.entity, dtype=np.float32))


class EntityPredictionHead(nn.Module):
    """dEA's transform: hidden (H) -> entity space (De): dense, BERT's activation, LayerNorm; the
    logits are its dot products with the candidates' (frozen) table vectors (the reference's
    ``BertEntPredictionHead``)."""

    def __init__(self, config: ErnieThuConfig) -> None:
        super().__init__()
        from transformers.activations import ACT2FN

        self.dense = nn.Linear(config.hidden_size, int(config.entity_dim))
        act = config.hidden_act
        self.act = ACT2FN[act] if isinstance(act, str) else act
        self.LayerNorm = nn.LayerNorm(int(config.entity_dim), eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(hidden)))


@dataclass
class ErnieThuPreTrainingOutput(ModelOutput):
    """``loss`` = MLM + dEA (+ NSP/SOP); ``logits``: MLM logits at the labelled positions (N, V)
    with labels (else (B, L, V)); ``entity_logits`` (M, C) at the aligned positions over the batch's
    candidates and ``entity_targets`` (M,) into them; the parts of the loss; hidden states and
    attentions when asked."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    entity_logits: torch.Tensor | None = None
    entity_targets: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    dea_loss: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class ErnieThuForPreTraining(ErnieThuPreTrainedModel):
    """ERNIE-THU pretraining (``python -m kgbert.pretrain`` with objectives ``[mlm, dea]``,
    optionally ``nsp``): BERT's pretraining heads (``cls.predictions``, ``cls.seq_relationship``;
    the names of ``BertForPreTraining``, so a BERT checkpoint's MLM head loads) and the dEA head
    (``entity_predictions``). The MLM projection is computed only at the labelled positions.
    Inputs beyond BERT's: ``entity_ids`` (corrupted entity input), ``entity_labels`` (B, L) the
    original entity ids + 1 at the aligned positions (-100 elsewhere); the candidates are the
    distinct entities of ``entity_labels`` (the batch's), scored against their ``entity_table`` rows."""

    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: ErnieThuConfig) -> None:
        super().__init__(config)
        from transformers.models.bert.modeling_bert import BertPreTrainingHeads

        self.bert = self.build_backbone(config, add_pooling_layer=True)
        self.cls = BertPreTrainingHeads(config)
        self.entity_predictions = EntityPredictionHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Module:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        labels: torch.Tensor | None = None,  # (B, L) MLM targets, -100 elsewhere
        entity_ids: torch.Tensor | None = None,  # (B, L) 0 = none, k + 1 = entity k (corrupted input)
        entity_labels: torch.Tensor | None = None,  # (B, L) original entity ids + 1, -100 elsewhere
        next_sentence_label: torch.Tensor | None = None,  # (B,)
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> ErnieThuPreTrainingOutput:
        from kgbert.objectives.dea import DenoisingEntityAutoEncoder
        from kgbert.objectives.mlm import MaskedLM
        from kgbert.objectives.sentence import sentence_loss

        out = self.encode(input_ids, attention_mask, token_type_ids, position_ids, output_attentions=output_attentions,
                          output_hidden_states=output_hidden_states, entity_ids=entity_ids)
        seq = cast(torch.Tensor, out.last_hidden_state)  # (B, L, H)
        res = ErnieThuPreTrainingOutput(hidden_states=out.hidden_states, attentions=out.attentions)
        parts: list[torch.Tensor] = []
        if labels is None:
            res.logits = self.cls.predictions(seq)  # (B, L, V)
        else:
            res.logits, res.mlm_loss = MaskedLM.logits_and_loss(self.cls.predictions, seq, labels)
            parts.append(res.mlm_loss)
        if entity_labels is not None:
            res.entity_logits, res.entity_targets, res.dea_loss = DenoisingEntityAutoEncoder.logits_and_loss(
                self.entity_predictions, seq, entity_labels, self.entity_table)
            parts.append(res.dea_loss)
        if next_sentence_label is not None:
            res.seq_relationship_logits = self.cls.seq_relationship(out.pooler_output)  # (B, 2)
            parts.append(sentence_loss(res.seq_relationship_logits, next_sentence_label))
        if parts:
            res.loss = torch.stack(parts).sum()
        return res


class ErnieThuForSequenceClassification(ErnieThuPreTrainedModel, EncoderForSequenceClassification):
    """ERNIE-THU + pooled-[CLS] classifier, for single sentences and sentence pairs."""


class ErnieThuForTokenClassification(ErnieThuPreTrainedModel, EncoderForTokenClassification):
    """ERNIE-THU + per-position classifier (NER)."""


class ErnieThuForEntityTyping(ErnieThuPreTrainedModel, EncoderForEntityTyping):
    """ERNIE-THU + entity typing (the paper's OpenEntity/FIGER task): the marked mention's type(s)
    from the pooled ``[CLS]`` vector; multi-label (BCE) or single-label (CE)."""


__all__ = [
    "EntityFusion",
    "EntityPredictionHead",
    "ErnieThuForEntityTyping",
    "ErnieThuForPreTraining",
    "ErnieThuPreTrainingOutput",
    "EntitySelfAttention",
    "ErnieThuForSequenceClassification",
    "ErnieThuForTokenClassification",
    "ErnieThuPreTrainedModel",
]
