"""The BERT baseline: build_model, heads, losses, save/load round trip."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, BertForMaskedLM

from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import Example, build_featurizer
from kgbert.models import (
    BertBaselineForSequenceClassification,
    BertBaselineForTokenClassification,
    build_model,
)
from tests.models._tiny import TEXTS

TINY = dict(vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_random_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", texts=TEXTS)


def test_build_from_checkpoint_loads_backbone_weights(ckpt):
    model = build_model("bert", "sequence", 3, backbone=ckpt)
    assert isinstance(model, BertBaselineForSequenceClassification)
    ref = BertForMaskedLM.from_pretrained(ckpt)
    for name, p in ref.bert.named_parameters():
        if name.startswith("pooler"):
            continue
        assert torch.equal(p, dict(model.bert.named_parameters())[name]), name
    assert model.config.num_labels == 3 and model.config.model_type == "kgbert_bert"


def test_build_random_and_attn_implementation():
    m = build_model("bert", "token", 4, backbone_config={**TINY, "attn_implementation": "eager"})
    assert isinstance(m, BertBaselineForTokenClassification)
    assert m.config._attn_implementation == "eager"
    assert build_model("bert", "pair", 2, backbone_config=TINY).config._attn_implementation == "sdpa"


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown encoder"):
        build_model("nope", "sequence", 2, backbone_config=TINY)
    with pytest.raises(ValueError, match="unknown task"):
        build_model("bert", "ner", 2, backbone_config=TINY)
    with pytest.raises(ValueError, match="backbone"):
        build_model("bert", "sequence", 2)
    with pytest.raises(ValueError, match="unknown option"):
        build_model("bert", "sequence", 2, backbone_config=TINY, use_vm=True)
    with pytest.raises(FileNotFoundError):
        build_model("bert", "sequence", 2, backbone="/nonexistent/ckpt")


def test_loss_only_with_labels_and_backprop(ckpt):
    tok = load_tokenizer(ckpt)
    feat = build_featurizer("bert", tok, task="sequence", label_list=["neg", "pos"], max_length=16)
    batch = feat.collate([feat(Example(TEXTS[0], label="pos")), feat(Example(TEXTS[1], label="neg"))])
    model = build_model("bert", "sequence", 2, backbone=ckpt)
    out = model(**batch)
    assert out.logits.shape == (2, 2) and out.loss is not None and out.loss.ndim == 0
    out.loss.backward()
    assert model.head.classifier.weight.grad is not None
    batch.pop("labels")
    assert model(**batch).loss is None


def test_token_loss_ignores_minus_100(ckpt):
    tok = load_tokenizer(ckpt)
    labels = ["O", "B-X", "I-X"]
    feat = build_featurizer("bert", tok, task="token", label_list=labels, max_length=32)
    ex = Example("我爱吃苹果哈", tokens=list("我爱吃苹果哈"), tags=["O", "O", "O", "B-X", "I-X", "O"])
    batch = feat.collate([feat(ex), feat(Example("感冒", tokens=list("感冒"), tags=["B-X", "I-X"]))])
    model = build_model("bert", "token", 3, backbone=ckpt).eval()
    out = model(**batch)
    assert out.logits.shape == (2, 8, 3)
    keep = batch["labels"] != -100
    manual = torch.nn.functional.cross_entropy(out.logits[keep], batch["labels"][keep])
    assert torch.allclose(out.loss, manual)


@pytest.mark.parametrize("task,auto", [("sequence", AutoModelForSequenceClassification), ("token", AutoModelForTokenClassification)])
def test_save_load_round_trip(ckpt, tmp_path, task, auto):
    tok = load_tokenizer(ckpt)
    model = build_model("bert", task, 3, backbone=ckpt).eval()
    feat = build_featurizer("bert", tok, task=task, label_list=["a", "b", "c"], max_length=16)
    exs = [Example(t, tokens=list(t)) for t in TEXTS[:3]]
    batch = feat.collate([feat(e) for e in exs])
    model.save_pretrained(tmp_path / "m")
    loaded = auto.from_pretrained(tmp_path / "m").eval()
    assert type(loaded) is type(model)
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded(**batch).logits)
