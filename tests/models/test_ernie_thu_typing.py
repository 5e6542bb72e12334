"""Entity typing (head kind ``entity_typing``) for ``ernie_thu``: the ``typing_tsv`` reader, multi-hot
targets, a tiny model whose multi-label and single-label losses fall, and the save/load round trip
through ``AutoModelForEntityTyping``. The task is a tiny synthetic one built from the test KG's
``类别`` (type) triples; no public Chinese entity-typing set is used."""
from __future__ import annotations

import pytest
import torch

from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import build_featurizer
from kgbert.data.readers import DataError, read_examples, typing_targets
from kgbert.models.auto_entity_typing import AutoModelForEntityTyping
from kgbert.models.configuration_ernie_thu import ErnieThuConfig
from kgbert.models.loading import load_backbone
from kgbert.registry import get_encoder
from tests.models._kg import FRUIT_SPO, make_kg
from tests.models.test_ernie_thu import DIM, make_export

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64}
ROWS = ["苹果\t水果|食物\t我今天买了苹果", "阿司匹林\t药物\t医生让他吃阿司匹林", "胃出血\t疾病\t胃出血需要住院",
        "苹果\t水果|食物\t苹果很甜", "阿司匹林\t药物\t阿司匹林可以退烧", "胃出血\t疾病\t他得了胃出血"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("typing")
    kg = make_kg(d / "kg")
    export = make_export(kg, d / "kge")
    data = d / "train.tsv"
    data.write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    ckpt = make_random_checkpoint(d / "ck", texts=ROWS + [FRUIT_SPO, "$"], seed=1, **TINY)
    yield kg, export, data, ckpt
    kg.close()


def test_typing_tsv_reader_and_targets(setup, tmp_path):
    _, _, data, _ = setup
    exs = read_examples(data, "typing_tsv", "sequence")
    assert exs[0].text_a == "我今天买了$苹果$" and exs[0].meta["span"] == [5, 7] and exs[0].label == "水果|食物"
    types, rows = typing_targets(exs)
    assert types == sorted({"水果", "食物", "药物", "疾病"})
    assert rows[0] == [1.0 if t in ("水果", "食物") else 0.0 for t in types]
    bad = tmp_path / "bad.tsv"
    bad.write_text("香蕉\t水果\t我买了苹果\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad.tsv:1: mention '香蕉' is not found"):
        read_examples(bad, "typing_tsv", "sequence")
    with pytest.raises(DataError, match="train.tsv:1: type '食物' is not in the type list"):
        typing_targets(exs, ["水果"])


def _model_and_batch(setup, num_labels):
    kg, export, data, ckpt = setup
    exs = read_examples(data, "typing_tsv", "sequence")
    types, rows = typing_targets(exs)
    feat = build_featurizer("ernie_thu", load_tokenizer(ckpt), task="sequence", label_list=sorted({e.label for e in exs}),
                            max_length=24, kg=kg, entity_embeddings=str(export))
    batch = feat.collate([feat(ex) for ex in exs])
    assert (batch["entity_ids"] > 0).sum() >= len(exs)  # the marked mentions are linked
    cls = get_encoder("ernie_thu").model_class("entity_typing")
    cfg = ErnieThuConfig.from_pretrained(ckpt, num_labels=num_labels, entity_embeddings=str(export), entity_dim=DIM,
                                         entity_attention_heads=2, hidden_dropout_prob=0.0)
    torch.manual_seed(0)
    model = load_backbone(cls, ckpt, config=cfg)
    return model, batch, torch.tensor(rows)


def test_multi_label_typing_learns_and_round_trips(setup, tmp_path):
    model, batch, multi_hot = _model_and_batch(setup, 4)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        out = model(**inputs, labels=multi_hot)
        losses.append(out.loss.item())
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    with torch.no_grad():
        logits = model(**inputs).logits
    assert ((logits > 0).float() == multi_hot).float().mean() > 0.9  # the tiny training set is (about) fitted
    model.save_pretrained(tmp_path / "typing")
    again = AutoModelForEntityTyping.from_pretrained(tmp_path / "typing").eval()
    assert type(again).__name__ == "ErnieThuForEntityTyping"
    with torch.no_grad():
        assert torch.allclose(again(**inputs).logits, logits, atol=1e-6)


def test_single_label_typing_uses_cross_entropy(setup):
    model, batch, multi_hot = _model_and_batch(setup, 4)
    target = multi_hot.argmax(-1)
    out = model(**{k: v for k, v in batch.items() if k != "labels"}, labels=target)
    assert torch.allclose(out.loss, torch.nn.functional.cross_entropy(out.logits, target))
    with pytest.raises(ValueError, match="multi-label entity typing needs labels of shape"):
        model(**{k: v for k, v in batch.items() if k != "labels"}, labels=multi_hot[:, :2])
