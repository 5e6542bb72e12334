"""SemBERT (Zhang et al., AAAI 2020): BERT fused with explicit semantics from SRL frames.

Inputs beyond BERT's (from :mod:`kgbert.data.sembert`):

- ``word_ids`` (B, L): the word (1-based, in the example's word sequence ``[CLS]`` word, words of
  text_a, ``[SEP]`` word, words of text_b, ``[SEP]`` word) of each token; 0 on padding,
- ``role_ids`` (B, F, W): for each of the ``num_frames`` predicate-argument structures, the
  role-label id of every word (BIO over the frame's arguments and predicate ``V``); 0 = padding.

The model (all of it vectorised: no Python loop over the batch, words or frames; no host read of
a tensor's value: it compiles with ``torch.compile(fullgraph=True)``, the BiGRU variant with
Dynamo's experimental ``torch._dynamo.config.allow_rnn`` on, as Dynamo does not wrap ``nn.GRU``
otherwise):

1. BERT over the tokens -> ``H`` (B, L, D).
2. **Word pooling** (:func:`word_cnn_max_pool`): a convolution of width ``word_cnn_kernel`` over the
   tokens *of each word* (tokens of other words and padding count as zeros, i.e. a per-word
   convolution with zero padding), ReLU, then the max over the word's tokens (``scatter_reduce``
   into the word's slot; padding tokens go to a slot that is thrown away, so padding never enters a
   max) -> ``Wd`` (B, W, D).
3. **Label encoder** (:class:`SemanticLabelEncoder`): role embeddings per frame, then a BiGRU per
   frame (``label_encoder="bigru"``; the backward direction runs over each sequence reversed
   within its own length, so padded words never reach a real word) or a linear layer
   (``"linear"``, the reference code's variant), then the ``F`` frames of a word concatenated and
   fused by a linear layer -> ``Lb`` (B, W, R).
4. **Fusion** by concatenation, then the shared heads (:mod:`kgbert.models.heads`) on width D + R:

   - sequence / pair: ``[tanh(P_bert Wd[:, 0]); tanh(P_label Lb[:, 0])]`` (the ``[CLS]`` word;
     ``P_bert`` is BERT's own pooler, loaded from the checkpoint; the reference uses one dense
     layer over the concatenation instead); with ``label_pooling="mean"`` the label half reads
     ``mean_w Lb[:, w]`` over the example's real words instead of ``Lb[:, 0]`` (:func:`label_summary`),
   - entity typing: the same fused vector of the marked text, read by the shared entity-typing
     head (:class:`SemBertForEntityTyping`),
   - token: ``[H_t; Lb[word(t)]]`` per token: the word-level label representation is mapped back
     to the word's characters. The token's own vector stands in for the pooled word vector because
     character-level tags (``B-X I-X`` inside one word) need a different output per character.

**Reduction to BERT.** With the label branch zeroed (every parameter of ``label_encoder`` and
``label_pooler`` set to 0, so ``Lb == 0`` and the label half of the pooled vector is
``tanh(0) = 0``) the logits are those of *word-pooled BERT*: sequence/pair: the classifier's
first D columns applied to BERT's pooler over the CNN-max-pooled ``[CLS]`` word (+ its bias);
token: the classifier's first D columns on BERT's token vectors (+ bias), i.e. plain BERT's token
classifier. ``tests/models/test_sembert.py`` checks both against an independent computation.

SemBERT needs its inputs: without ``word_ids``/``role_ids`` it raises (its registry entry declares
``bert_without_inputs=False``: there is no input-free SemBERT that equals BERT, as the head reads
the fused D + R vector).
"""
from __future__ import annotations

import math
import types
from typing import Any

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

from kgbert.models.configuration_sembert import LABEL_ENCODERS, LABEL_INITS, LABEL_POOLINGS, SemBertConfig
from kgbert.models.heads import EntityTypingHead, SequenceClassificationHead, TokenClassificationHead
from kgbert.models.modeling_base import KgEncoderPreTrainedModel


def shift(x: torch.Tensor, offset: int, fill: float | int = 0) -> torch.Tensor:
    """``y[:, t] = x[:, t + offset]`` along dim 1 (``fill`` where ``t + offset`` is out of range)."""
    if offset == 0:
        return x
    pad_shape = list(x.shape)
    pad_shape[1] = min(abs(offset), x.shape[1])
    pad = x.new_full(pad_shape, fill)
    if offset > 0:
        return torch.cat([x[:, offset:], pad], dim=1)[:, : x.shape[1]]
    return torch.cat([pad, x[:, :offset]], dim=1)[:, -x.shape[1]:]


def word_cnn_max_pool(
    hidden: torch.Tensor,  # (B, L, D) token vectors
    word_ids: torch.Tensor,  # (B, L) 1-based word of each token, 0 = padding
    num_words: int,  # W: words per example (padded)
    weight: torch.Tensor,  # (D_out, D, K) Conv1d weight, K odd
    bias: torch.Tensor | None,  # (D_out,)
) -> torch.Tensor:
    """Per-word convolution (zero padding at the word's edges) + ReLU + max over the word's tokens.

    Returns (B, W, D_out); word w (1-based) is row w - 1. A word without tokens (only possible in
    padding rows) gets zeros. Tokens of a word must be contiguous (the featuriser's words are).
    """
    K = weight.shape[-1]
    half = K // 2
    taps = []
    for k in range(K):  # K shifted copies (K is a config constant: unrolled, not a data loop)
        off = k - half
        same = (shift(word_ids, off, fill=-1) == word_ids) & (word_ids > 0)  # (B, L) neighbour is in the word
        taps.append(shift(hidden, off) * same.unsqueeze(-1).to(hidden.dtype))  # (B, L, D)
    stacked = torch.stack(taps, dim=-1)  # (B, L, D, K)
    conv = torch.einsum("bldk,odk->blo", stacked, weight)  # (B, L, D_out)
    if bias is not None:
        conv = conv + bias
    conv = torch.relu(conv)
    B, L, D_out = conv.shape
    index = word_ids.clamp(min=0).unsqueeze(-1).expand(B, L, D_out)  # slot 0 = padding, thrown away
    out = conv.new_zeros(B, num_words + 1, D_out)
    out = out.scatter_reduce(1, index, conv, reduce="amax", include_self=False)  # (B, W + 1, D_out)
    return out[:, 1:]


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row of ``x`` (N, W, E) within its first ``lengths[n]`` steps (the rest stays)."""
    W = x.shape[1]
    t = torch.arange(W, device=x.device).unsqueeze(0)  # (1, W)
    n = lengths.unsqueeze(1)  # (N, 1)
    idx = torch.where(t < n, n - 1 - t, t)  # (N, W)
    return x.gather(1, idx.unsqueeze(-1).expand_as(x))


class SemanticLabelEncoder(nn.Module):
    """Role-label ids (B, F, W) -> label representation (B, W, R): embed, encode per frame, fuse."""

    def __init__(self, config: SemBertConfig) -> None:
        super().__init__()
        if config.label_encoder not in LABEL_ENCODERS:
            raise ValueError(f"label_encoder must be one of {LABEL_ENCODERS}, got {config.label_encoder!r}")
        if getattr(config, "label_init", "torch") not in LABEL_INITS:
            raise ValueError(f"label_init must be one of {LABEL_INITS}, got {config.label_init!r}")
        R = int(config.role_hidden_size)
        self.kind = config.label_encoder
        self.num_frames = int(config.num_frames)
        self.embeddings = nn.Embedding(int(config.num_role_labels), int(config.role_embedding_size), padding_idx=0)
        if self.kind == "bigru":
            if R % 2:
                raise ValueError(f"role_hidden_size must be even for the BiGRU, got {R}")
            self.gru_fw = nn.GRU(int(config.role_embedding_size), R // 2, batch_first=True)
            self.gru_bw = nn.GRU(int(config.role_embedding_size), R // 2, batch_first=True)
        else:
            self.proj = nn.Linear(int(config.role_embedding_size), R)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.fuse = nn.Linear(self.num_frames * R, R)
        mark_label_branch(self)

    def forward(self, role_ids: torch.Tensor) -> torch.Tensor:
        B, F, W = role_ids.shape
        if F != self.num_frames:
            raise ValueError(
                f"role_ids has {F} frames per sentence but the model fuses num_frames={self.num_frames}: "
                "set the featuriser's max_frames to the model's num_frames"
            )
        flat = role_ids.reshape(B * F, W)  # (N, W)
        emb = self.dropout(self.embeddings(flat))  # (N, W, E)
        if self.kind == "bigru":
            lengths = (flat > 0).sum(dim=1)  # (N,) words are a prefix; padding (0) after them
            fw, _ = self.gru_fw(emb)  # (N, W, R/2): padding only after the real words
            bw, _ = self.gru_bw(reverse_within_length(emb, lengths))
            enc = torch.cat([fw, reverse_within_length(bw, lengths)], dim=-1)  # (N, W, R)
        else:
            enc = self.proj(emb)  # (N, W, R)
        R = enc.shape[-1]
        frames = enc.reshape(B, F, W, R).permute(0, 2, 1, 3).reshape(B, W, F * R)  # (B, W, F*R)
        return self.fuse(frames)  # (B, W, R)


def label_summary(roles: torch.Tensor, role_ids: torch.Tensor, pooling: str) -> torch.Tensor:
    """Label representation per example (B, R) from per-word ones ``roles`` (B, W, R): the ``[CLS]``
    word's (``"cls"``) or the mean over real words (``"mean"``; a word is real when any frame gives it
    a non-padding role id, so padded words never count)."""
    if pooling == "cls":
        return roles[:, 0]
    real = (role_ids > 0).any(dim=1).to(roles.dtype).unsqueeze(-1)  # (B, W, 1)
    return (roles * real).sum(dim=1) / real.sum(dim=1).clamp(min=1.0)  # (B, R)


def mark_label_branch(module: nn.Module) -> None:
    """Mark ``module`` and its children as the label branch (see ``SemBertConfig.label_init``)."""
    for m in module.modules():
        m._sembert_label_branch = True  # type: ignore[assignment]


def _init_label_branch(module: nn.Module) -> None:
    """PyTorch's own defaults for one label-branch module, through transformers' guarded init functions
    (weights loaded from a checkpoint are left alone)."""
    if isinstance(module, nn.Embedding):
        init.normal_(module.weight, mean=0.0, std=1.0)
        if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
            init.zeros_(module.weight[module.padding_idx])
    elif isinstance(module, nn.Linear):
        bound = 1.0 / math.sqrt(module.in_features)  # = nn.Linear.reset_parameters (kaiming_uniform, a=sqrt(5))
        init.uniform_(module.weight, -bound, bound)
        if module.bias is not None:
            init.uniform_(module.bias, -bound, bound)
    elif isinstance(module, nn.GRU):
        bound = 1.0 / math.sqrt(module.hidden_size)  # = nn.GRU.reset_parameters
        for param in module.parameters():
            init.uniform_(param, -bound, bound)


def _head_config(config: SemBertConfig) -> types.SimpleNamespace:
    """What the shared heads read from a config, with the fused width D + R."""
    return types.SimpleNamespace(
        hidden_size=config.hidden_size + int(config.role_hidden_size),
        num_labels=config.num_labels,
        classifier_dropout=getattr(config, "classifier_dropout", None),
        hidden_dropout_prob=config.hidden_dropout_prob,
    )


class SemBertPreTrainedModel(KgEncoderPreTrainedModel):
    """Weight init and loading for SemBERT (backbone under ``bert.``: a plain BERT checkpoint loads)."""

    config_class = SemBertConfig
    config: SemBertConfig

    def _init_weights(self, module):  # type: ignore[override]
        """BERT's init, plus the GRUs (xavier weights, zero biases: transformers' LSTM rule; a module
        it does not know would keep the uninitialised memory of a meta-device load); with
        ``label_init="torch"`` the label branch then gets PyTorch's module defaults instead."""
        super()._init_weights(module)
        if isinstance(module, nn.GRU):
            for name, param in module.named_parameters():
                if "weight" in name:
                    init.xavier_uniform_(param)
                else:
                    init.zeros_(param)
        if getattr(module, "_sembert_label_branch", False) and getattr(self.config, "label_init", "torch") == "torch":
            _init_label_branch(module)

    def build_backbone(self, config, add_pooling_layer):  # type: ignore[override]
        self.label_encoder = SemanticLabelEncoder(config)
        return super().build_backbone(config, add_pooling_layer)

    def encode(  # type: ignore[override]  # SemBERT's own inputs are its contract
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        word_ids: torch.Tensor | None = None,  # (B, L) 1-based word per token, 0 = padding
        role_ids: torch.Tensor | None = None,  # (B, F, W) role label per frame and word, 0 = padding
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        """BERT over the tokens (``last_hidden_state`` token-level; hidden states/attentions when
        asked); the semantic part is in the heads."""
        if word_ids is None or role_ids is None:
            raise ValueError("SemBERT needs word_ids and role_ids (from the sembert featuriser)")
        return self.run_backbone(input_ids, attention_mask, token_type_ids, position_ids,
                                 output_attentions, output_hidden_states)


class SemBertForSequenceClassification(SemBertPreTrainedModel):
    """SemBERT + classifier over the fused ``[CLS]`` word, for single sentences and sentence pairs."""

    head_class: Any = SequenceClassificationHead  # the head on the fused D + R vector (entity typing: its own)

    def __init__(self, config: SemBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = self.build_backbone(config, add_pooling_layer=True)
        K = int(config.word_cnn_kernel)
        if K < 1 or K % 2 == 0:
            raise ValueError(f"word_cnn_kernel must be an odd int >= 1, got {K}")
        self.word_cnn = nn.Conv1d(config.hidden_size, config.hidden_size, K)  # applied per word (word_cnn_max_pool)
        R = int(config.role_hidden_size)
        self.label_pooler = nn.Linear(R, R)
        mark_label_branch(self.label_pooler)
        self.label_pooling = getattr(config, "label_pooling", "cls")
        if self.label_pooling not in LABEL_POOLINGS:
            raise ValueError(f"label_pooling must be one of {LABEL_POOLINGS}, got {self.label_pooling!r}")
        self.head = self.head_class(_head_config(config))
        self.post_init()

    def word_vectors(self, hidden: torch.Tensor, word_ids: torch.Tensor, num_words: int) -> torch.Tensor:
        """Token vectors (B, L, D) -> one vector per word (B, W, D): per-word CNN + max-pooling."""
        return word_cnn_max_pool(hidden, word_ids, num_words, self.word_cnn.weight, self.word_cnn.bias)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,  # (B,); entity typing: (B,) or (B, C) multi-hot
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        word_ids: torch.Tensor | None = None,
        role_ids: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        out = self.encode(input_ids, attention_mask, token_type_ids, position_ids, output_attentions,
                          output_hidden_states, word_ids=word_ids, role_ids=role_ids)
        hidden = out.last_hidden_state  # (B, L, D)
        assert hidden is not None and word_ids is not None and role_ids is not None  # encode raised otherwise
        words = self.word_vectors(hidden, word_ids, role_ids.shape[-1])  # (B, W, D)
        roles = self.label_encoder(role_ids)  # (B, W, R)
        pooler = self.bert.pooler
        assert pooler is not None
        word_part = pooler.activation(pooler.dense(words[:, 0]))  # (B, D) BERT's pooler on the [CLS] word
        label_part = torch.tanh(self.label_pooler(label_summary(roles, role_ids, self.label_pooling)))  # (B, R)
        res = self.head(torch.cat([word_part, label_part], dim=-1), labels)  # logits (B, C)
        res.hidden_states, res.attentions = out.hidden_states, out.attentions
        return res


class SemBertForEntityTyping(SemBertForSequenceClassification):
    """SemBERT + entity typing (head kind ``entity_typing``): the shared
    :class:`~kgbert.models.heads.EntityTypingHead` on the sequence head's fused ``[CLS]``-word vector
    of the marked text (one type: cross-entropy; several: one sigmoid per type, BCE)."""

    head_class = EntityTypingHead


class SemBertForTokenClassification(SemBertPreTrainedModel):
    """SemBERT + per-token classifier on ``[token vector; its word's label representation]``."""

    def __init__(self, config: SemBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = self.build_backbone(config, add_pooling_layer=False)
        self.head = TokenClassificationHead(_head_config(config))  # type: ignore[arg-type]
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,  # (B, L), -100 where ignored
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        word_ids: torch.Tensor | None = None,
        role_ids: torch.Tensor | None = None,
    ) -> TokenClassifierOutput:
        out = self.encode(input_ids, attention_mask, token_type_ids, position_ids, output_attentions,
                          output_hidden_states, word_ids=word_ids, role_ids=role_ids)
        hidden = out.last_hidden_state  # (B, L, D)
        assert hidden is not None and word_ids is not None and role_ids is not None  # encode raised otherwise
        roles = self.label_encoder(role_ids)  # (B, W, R)
        idx = (word_ids - 1).clamp(min=0)  # (B, L) padding tokens read word 1 (their logits are unused)
        per_token = roles.gather(1, idx.unsqueeze(-1).expand(-1, -1, roles.shape[-1]))  # (B, L, R)
        res = self.head(torch.cat([hidden, per_token], dim=-1), labels)  # (B, L, C)
        res.hidden_states, res.attentions = out.hidden_states, out.attentions
        return res


__all__ = [
    "SemanticLabelEncoder",
    "SemBertForEntityTyping",
    "SemBertForSequenceClassification",
    "SemBertForTokenClassification",
    "SemBertPreTrainedModel",
    "label_summary",
    "reverse_within_length",
    "word_cnn_max_pool",
]
