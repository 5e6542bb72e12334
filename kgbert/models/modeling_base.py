"""What every encoder is built from: transformers' BERT parts, one encode step, the shared heads.

An encoder is a :class:`KgEncoderPreTrainedModel` subclass (its ``config_class`` set) that
changes only what it changes, the way transformers' ``modular_ernie.py`` subclasses BERT's parts:

- :meth:`~KgEncoderPreTrainedModel.build_backbone`: the ``BertModel`` (under ``bert.``, so a plain
  BERT checkpoint loads into any encoder); override it to replace or extend the embeddings
  (``backbone.embeddings = MyEmbeddings(config)``) or the layers,
- :meth:`~KgEncoderPreTrainedModel.encoder_attention_mask`: the mask given to BERT (K-BERT: the
  visible matrix), from the encoder's own inputs,
- :meth:`~KgEncoderPreTrainedModel.encode`: the whole step; override it to take extra named
  inputs (K-BERT: ``anchor_ids``, ``branch_ids``) and pass them where they belong. Its signature
  is the encoder's input contract: :attr:`encoder_input_names` is derived from it.

The head classes (:class:`EncoderForSequenceClassification`, :class:`EncoderForTokenClassification`,
:class:`EncoderForMaskedLM`, :class:`EncoderForEntityTyping`) are mixed in per encoder, after the encoder's own base so that its ``config_class`` and
``encode`` win (``class KBertForTokenClassification(KBertPreTrainedModel,
EncoderForTokenClassification)``); their ``forward`` passes ``output_hidden_states``/``output_attentions``
through and returns them, and computes a loss only when ``labels`` are given.
"""
from __future__ import annotations

import inspect
from typing import Any, cast

import torch
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.models.bert.modeling_bert import BertModel, BertOnlyMLMHead, BertPreTrainedModel

from kgbert.models.heads import EntityTypingHead, SequenceClassificationHead, TokenClassificationHead
from kgbert.objectives.mlm import MaskedLM

BERT_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids", "position_ids")


class KgEncoderPreTrainedModel(BertPreTrainedModel):
    """Weight init, loading and the encode step shared by every encoder (backbone under ``bert.``)."""

    base_model_prefix = "bert"
    accepts_loss_kwargs = False  # the heads' loss is a mean over the batch: Trainer must not pass num_items_in_batch
    bert: BertModel

    def build_backbone(self, config: Any, add_pooling_layer: bool) -> BertModel:
        """The BERT backbone; override to swap its embeddings, layers or encoder (ALBERT: an
        ``AlbertModel``, stored under its own ``base_model_prefix``)."""
        return BertModel(config, add_pooling_layer=add_pooling_layer)

    def encoder_attention_mask(self, attention_mask: torch.Tensor | None, **encoder_inputs: Any) -> torch.Tensor | None:
        """The attention mask given to BERT (2-D padding mask, or a 4-D additive float mask)."""
        return attention_mask

    def encode(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L) 1 = token, 0 = padding
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        """Run the backbone: ``last_hidden_state`` (B, L, H), ``pooler_output`` (B, H) or None,
        ``hidden_states``/``attentions`` when asked."""
        return self.run_backbone(
            input_ids, self.encoder_attention_mask(attention_mask), token_type_ids, position_ids,
            output_attentions, output_hidden_states,
        )

    def run_backbone(
        self,
        input_ids: torch.Tensor | None,
        mask: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        output_attentions: bool | None,
        output_hidden_states: bool | None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        """The backbone (``self.bert``; the attribute named ``base_model_prefix``, ``self.albert`` for
        ALBERT) with ``mask`` as its attention mask and the output flags passed through.

        An encoder that extends the word embeddings computes them itself and passes
        ``inputs_embeds`` (B, L, H) with ``input_ids=None``; BERT adds positions and token types.
        """
        flags: dict[str, Any] = {}
        if output_attentions is not None:
            flags["output_attentions"] = output_attentions
        if output_hidden_states is not None:
            flags["output_hidden_states"] = output_hidden_states
        backbone = getattr(self, self.base_model_prefix)
        return backbone(
            input_ids=input_ids,
            inputs_embeds=inputs_embeds,
            attention_mask=mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            return_dict=True,
            **flags,
        )

    @classmethod
    def encoder_input_names(cls) -> tuple[str, ...]:
        """The named inputs of :meth:`encode` beyond BERT's (K-BERT: ``anchor_ids``, ``branch_ids``)."""
        params = inspect.signature(cls.encode).parameters
        skip = {"self", "output_attentions", "output_hidden_states", *BERT_INPUT_NAMES}
        return tuple(n for n in params if n not in skip)


class EncoderForSequenceClassification(KgEncoderPreTrainedModel):
    """Encoder + pooled-[CLS] classifier, for single sentences and sentence pairs."""

    head_class: Any = SequenceClassificationHead

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        setattr(self, self.base_model_prefix, self.build_backbone(config, add_pooling_layer=True))
        self.head = self.head_class(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        labels: torch.Tensor | None = None,  # (B,)
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **encoder_inputs: torch.Tensor | None,  # the encoder's own inputs (see encode)
    ) -> SequenceClassifierOutput:
        out = self.encode(
            input_ids, attention_mask, token_type_ids, position_ids,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, **encoder_inputs,
        )
        res = self.head(out.pooler_output, labels)  # logits (B, C)
        res.hidden_states, res.attentions = out.hidden_states, out.attentions
        return res


class EncoderForEntityTyping(EncoderForSequenceClassification):
    """Encoder + entity-typing head (head kind ``"entity_typing"``): the pooled ``[CLS]`` vector of
    a text whose mention is marked, one or several types (:class:`~kgbert.models.heads.EntityTypingHead`)."""

    head_class = EntityTypingHead


class EncoderForTokenClassification(KgEncoderPreTrainedModel):
    """Encoder + per-position classifier (NER); positions labelled -100 are left out of the loss."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        setattr(self, self.base_model_prefix, self.build_backbone(config, add_pooling_layer=False))
        self.head = TokenClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        labels: torch.Tensor | None = None,  # (B, L), -100 where ignored
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **encoder_inputs: torch.Tensor | None,
    ) -> TokenClassifierOutput:
        out = self.encode(
            input_ids, attention_mask, token_type_ids, position_ids,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, **encoder_inputs,
        )
        res = self.head(out.last_hidden_state, labels)  # logits (B, L, C)
        res.hidden_states, res.attentions = out.hidden_states, out.attentions
        return res


class EncoderForMaskedLM(KgEncoderPreTrainedModel):
    """Encoder + BERT's MLM head (``cls.predictions``, decoder tied to the word embeddings), for
    knowledge-aware pretraining (head kind ``"mlm"``).

    The weights are named as in transformers' ``BertForMaskedLM`` (``bert.*`` without pooler,
    ``cls.predictions.*``), so a plain BERT MLM checkpoint loads into it. With ``labels`` the
    vocabulary projection is computed only at the labelled positions
    (:meth:`kgbert.objectives.mlm.MaskedLM.logits_and_loss`): ``logits`` is then (N, V) for the N
    positions whose label is not -100, in row-major order; without labels it is (B, L, V).
    """

    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        setattr(self, self.base_model_prefix, self.build_backbone(config, add_pooling_layer=False))
        self.cls = BertOnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: torch.nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,  # (B, L)
        attention_mask: torch.Tensor | None = None,  # (B, L)
        token_type_ids: torch.Tensor | None = None,  # (B, L)
        position_ids: torch.Tensor | None = None,  # (B, L)
        labels: torch.Tensor | None = None,  # (B, L), -100 where nothing is predicted
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **encoder_inputs: torch.Tensor | None,
    ) -> MaskedLMOutput:
        out = self.encode(
            input_ids, attention_mask, token_type_ids, position_ids,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, **encoder_inputs,
        )
        sequence_output = cast(torch.Tensor, out.last_hidden_state)  # (B, L, H)
        if labels is None:
            return MaskedLMOutput(logits=self.cls(sequence_output), hidden_states=out.hidden_states,
                                  attentions=out.attentions)  # (B, L, V)
        logits, loss = MaskedLM.logits_and_loss(self.cls, sequence_output, labels)  # (N, V)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


__all__ = [
    "BERT_INPUT_NAMES",
    "EncoderForEntityTyping",
    "KgEncoderPreTrainedModel",
    "EncoderForMaskedLM",
    "EncoderForSequenceClassification",
    "EncoderForTokenClassification",
]
