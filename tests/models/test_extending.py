"""A new encoder needs its own code plus one registration, nothing else (docs/extending.md).

The toy encoder ``toy_words`` is defined only here: a config, an embeddings extension (a learned
vector added to the first character of every word), a featuriser that reads the ``words`` of the
example's annotation, and what it adds to the Pipeline output. Registered with one
``register_encoder`` call, it then runs the conformance suite, is trained a few steps by the
common trainer (the annotators compute its words once, cached) and is served by ``Pipeline``.
"""
from __future__ import annotations

import json
from itertools import accumulate
from typing import Any

import pytest
import torch
from torch import nn
from transformers import BertConfig
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions

from kgbert.data.featurize import Featurizer, Segment
from kgbert.models.modeling_base import (
    EncoderForSequenceClassification,
    EncoderForTokenClassification,
    KgEncoderPreTrainedModel,
)
from kgbert.registry import EncoderSpec, encoder_names, get_encoder, register_encoder, unregister_encoder
from tests.models.conformance import EncoderConformance
from tests.training.helpers import ner_config


# --------------------------------------------------------------------------- the encoder's own code
class ToyWordsConfig(BertConfig):
    """BERT + one model option (``word_scale``: how much the word-start vector counts)."""

    model_type = "toy_words"
    word_scale: float = 1.0


class ToyWordsPreTrainedModel(KgEncoderPreTrainedModel):
    config_class = ToyWordsConfig

    def build_backbone(self, config, add_pooling_layer):
        self.word_start = nn.Embedding(2, config.hidden_size)  # extends BERT's word embeddings
        return super().build_backbone(config, add_pooling_layer)

    def encode(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        word_start_ids: torch.Tensor | None = None,  # (B, L) 1 on the first character of a word
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        if word_start_ids is None:  # no extra inputs: exactly BERT
            return self.run_backbone(input_ids, attention_mask, token_type_ids, position_ids,
                                     output_attentions, output_hidden_states)
        embeds = self.bert.embeddings.word_embeddings(input_ids) + self.config.word_scale * self.word_start(word_start_ids)
        return self.run_backbone(None, attention_mask, token_type_ids, position_ids,
                                 output_attentions, output_hidden_states, inputs_embeds=embeds)


class ToyWordsForSequenceClassification(ToyWordsPreTrainedModel, EncoderForSequenceClassification):
    pass


class ToyWordsForTokenClassification(ToyWordsPreTrainedModel, EncoderForTokenClassification):
    pass


class ToyWordsFeaturizer(Featurizer):
    """The base features plus ``word_start_ids`` from the annotation's ``words`` (none: all 0)."""

    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "word_start_ids")

    def __init__(self, tokenizer, *, task, label_list, max_length, kg=None, min_word_chars: int = 1) -> None:
        super().__init__(tokenizer, task=task, label_list=label_list, max_length=max_length, kg=kg)
        self.min_word_chars = min_word_chars

    def build(self, example, segs: list[Segment]) -> dict[str, Any]:
        f = super().build(example, segs)
        flags = [0]
        for seg, ann in zip(segs, (example.ann_a, example.ann_b)):
            if seg.starts is not None:
                starts = seg.starts
            else:  # token task: character offsets of the original tokens
                starts = [0, *accumulate(len(t) for t in example.tokens)]
            firsts = {s for s, e in (ann.words if ann is not None else []) if e - s >= self.min_word_chars}
            flags += [int(starts[i] in firsts) for i in range(seg.n)] + [0]
        f["word_start_ids"] = flags
        return f


def toy_pipeline_output(featurizer, item) -> dict[str, Any]:
    return {"word_starts": sum(item.feature["word_start_ids"])}


TOY = EncoderSpec(
    name="toy_words",
    config=ToyWordsConfig,
    heads={"sequence": ToyWordsForSequenceClassification, "token": ToyWordsForTokenClassification},
    featurizer=ToyWordsFeaturizer,
    annotators=("words",),
    pipeline_output=toy_pipeline_output,
)


# --------------------------------------------------------------------------- the one registration
@pytest.fixture(scope="module", autouse=True)
def toy_registered():
    register_encoder(TOY)
    yield
    unregister_encoder(TOY.name)


# --------------------------------------------------------------------------- what registering gives
class TestToyConformance(EncoderConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def encoder(cls):
        return "toy_words"


def test_registration_derives_the_option_sets():
    spec = get_encoder("toy_words")
    assert "toy_words" in encoder_names()
    assert spec.model_options == {"word_scale"} and spec.featurizer_options == {"min_word_chars"}


def test_trained_by_the_common_trainer_and_served_by_pipeline(tmp_path):
    from kgbert.pipeline import Pipeline
    from kgbert.training.config import config_from_dict
    from kgbert.training.trainer import run_training

    cfg = ner_config(tmp_path, encoder="toy_words", n_train=16, max_steps=3, epochs=1)
    cfg["data"].update(annotate=True, annotation_cache_dir=str(tmp_path / "ann"))
    cfg["model"].update(options={"word_scale": 0.5}, featurizer={"min_word_chars": 2})
    metrics = run_training(config_from_dict(cfg))
    assert metrics["global_step"] == 3 and "f1" in metrics["test"]
    info = json.loads((tmp_path / "run/best/kgbert.json").read_text("utf-8"))
    assert info["encoder"] == "toy_words" and info["annotators"] == ["words"]
    recs = [json.loads(x) for x in next((tmp_path / "ann").glob("train-*.jsonl")).read_text("utf-8").splitlines()]
    assert len(recs) == 16 and all(r["words"] for r in recs)  # words reached training
    with Pipeline.from_pretrained(tmp_path / "run") as pipe:
        assert pipe.nlp is not None and pipe.nlp.pipe_names == []  # exactly the annotators it needs: words
        assert pipe.model.config.word_scale == 0.5
        res = pipe("患者服用阿司匹林后头痛")
    assert len(res["tags"]) == 11 and res["annotation"]["words"]
    assert res["word_starts"] == sum(1 for s, e in res["annotation"]["words"] if e - s >= 2)
