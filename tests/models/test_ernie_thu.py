"""ERNIE-THU (``ernie_thu``): entity alignment, the frozen entity table (its export, build check,
no gradient, save/load), dependence on the table only through linked entities, the reduction to
BERT, no NaN for rows without entities, and a tiny run through the common trainer + Pipeline.

The conformance suite runs on ``ernie_thu`` from ``test_encoder_conformance.py`` (its registry entry).
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

from annotators import Annotation, Entity
from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import Example, build_featurizer
from kgbert.models import build_model
from knowledge.embed import BuildMismatchError, write_export
from tests.models._kg import FRUIT_SPO, make_kg
from tests.models._tiny import TEXTS

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64}
DIM = 8


def make_export(kg, out, seed=0):
    rng = np.random.default_rng(seed)
    return write_export(out, entity=rng.normal(size=(kg.num_entities, DIM)).astype(np.float32),
                        relation=rng.normal(size=(kg.num_relations, DIM)).astype(np.float32),
                        entity_names=kg.entity_names(), relation_names=[f"r{i}" for i in range(kg.num_relations)],
                        build_id=kg.build_id)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_random_checkpoint(tmp_path_factory.mktemp("ernie") / "ck", texts=TEXTS + [FRUIT_SPO], seed=1, **TINY)


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    store = make_kg(tmp_path_factory.mktemp("ernie_kg"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def export(kg, tmp_path_factory):
    return make_export(kg, tmp_path_factory.mktemp("ernie_kge") / "kge")


def featurizer(ckpt, kg, export, task="sequence", **options):
    labels = ["O", "B-X", "I-X"] if task == "token" else ["a", "b"]
    return build_featurizer("ernie_thu", load_tokenizer(ckpt), task=task, label_list=labels, max_length=40, kg=kg,
                            entity_embeddings=str(export), **options)


def model(ckpt, export, task="sequence", **options):
    torch.manual_seed(0)
    return build_model("ernie_thu", task, 3 if task == "token" else 2, backbone=ckpt,
                       backbone_config={"attn_implementation": "eager"}, entity_embeddings=str(export),
                       entity_attention_heads=2, **options).eval()


def linked(text, kg, names):
    ents = []
    for name in names:
        s = text.index(name)
        ents.append(Entity(s, s + len(name), "KG", kg.entity_id(name), name, "kg"))
    return Annotation(text=text, entities=ents)


# --------------------------------------------------------------------------- featuriser
def test_each_linked_entity_gives_its_id_to_its_first_token(ckpt, kg, export):
    feat = featurizer(ckpt, kg, export)
    text = "感冒可以吃阿司匹林吗"
    f = feat(Example(text, label="a", ann_a=linked(text, kg, ["感冒", "阿司匹林"])))
    expected = [0] * (len(text) + 2)
    expected[1] = kg.entity_id("感冒") + 1  # [CLS] then one token per character
    expected[1 + text.index("阿司匹林")] = kg.entity_id("阿司匹林") + 1
    assert f["entity_ids"] == expected
    # without an annotation the project's matcher over the store finds the same entities
    assert feat(Example(text, label="a"))["entity_ids"] == expected
    # token task: token i is original token i
    tf = featurizer(ckpt, kg, export, task="token")
    g = tf(Example(text, tokens=list(text), tags=["O"] * len(text), ann_a=linked(text, kg, ["感冒", "阿司匹林"])))
    assert g["entity_ids"] == expected


def test_entities_without_a_vector_are_dropped(ckpt, kg, export):
    feat = featurizer(ckpt, kg, export, num_entities=None)
    text = "我爱吃苹果哈"
    ann = Annotation(text=text, entities=[
        Entity(0, 1, "X", None, "不在图谱里", "ner"),  # no store id
        Entity(1, 2, "X", kg.num_entities + 5, None, "user"),  # id outside the table
        Entity(3, 5, "KG", kg.entity_id("苹果"), "苹果", "kg"),
    ])
    f = feat(Example(text, label="a", ann_a=ann))
    assert [i for i in f["entity_ids"] if i] == [kg.entity_id("苹果") + 1]
    assert feat.stats["entities_dropped"] == 2 and feat.stats["entities"] == 1
    # a mention cut by truncation is gone with its tokens
    short = build_featurizer("ernie_thu", load_tokenizer(ckpt), task="sequence", label_list=["a", "b"], max_length=5,
                             kg=kg, entity_embeddings=str(export))
    assert not any(short(Example(text, label="a", ann_a=ann))["entity_ids"])


def test_another_store_build_fails_clearly(ckpt, kg, export, tmp_path):
    other = make_kg(tmp_path / "other")  # same triples, another build
    try:
        with pytest.raises(BuildMismatchError, match="build"):
            featurizer(ckpt, other, export)
        saved = featurizer(ckpt, kg, export).saved_options({"entity_embeddings": str(export)})
        assert saved == {"num_entities": kg.num_entities, "kg_build_id": kg.build_id}
        with pytest.raises(BuildMismatchError, match="store build"):
            build_featurizer("ernie_thu", load_tokenizer(ckpt), task="sequence", label_list=["a", "b"],
                             max_length=40, kg=other, **saved)
    finally:
        other.close()


# --------------------------------------------------------------------------- model
def batch_of(feat, kg, with_entities=True):
    exs = []
    for i, text in enumerate(TEXTS[:4]):
        linked_here = with_entities and i < 3  # the last row never has entities (a mixed batch)
        ann = linked(text, kg, [n for n in ("阿司匹林", "苹果", "感冒") if n in text]) if linked_here else None
        exs.append(Example(text, label="ab"[i % 2], ann_a=ann if ann is not None else Annotation(text=text)))
    return feat.collate([feat(ex) for ex in exs])


def test_the_table_is_the_frozen_export_on_the_models_device_and_dtype(ckpt, kg, export):
    m = model(ckpt, export)
    from knowledge.embed import load_embeddings

    vectors = torch.from_numpy(np.array(load_embeddings(export).entity))
    assert torch.equal(m.entity_table[1:], vectors) and not m.entity_table[0].any()
    assert not m.entity_table.requires_grad
    assert "entity_table" not in dict(m.named_parameters()) and "entity_table" in m.state_dict()
    assert m.config.num_entities == kg.num_entities and m.config.kg_build_id == kg.build_id
    assert m.to(torch.float64).entity_table.dtype == torch.float64


def test_outputs_depend_on_the_table_only_through_linked_entities(ckpt, kg, export):
    # both layers aggregate: with only the last one, [CLS] (never an entity) would not see the
    # fused tokens before the pooler (text attention comes before the fusion in a layer)
    m = model(ckpt, export, num_aggregator_layers=2)
    feat = featurizer(ckpt, kg, export)
    without, with_ = batch_of(feat, kg, False), batch_of(feat, kg, True)
    assert not without["entity_ids"].any() and (with_["entity_ids"] > 0).sum() >= 3
    with torch.no_grad():
        before = [m(**b, output_hidden_states=True) for b in (without, with_)]
        m.entity_table[1:].mul_(-3.0).add_(1.0)
        after = [m(**b, output_hidden_states=True) for b in (without, with_)]
    assert torch.equal(before[0].logits, after[0].logits)  # no linked entity: the table is never read
    assert all(torch.equal(x, y) for x, y in zip(before[0].hidden_states, after[0].hidden_states))
    rows = with_["entity_ids"].gt(0).any(dim=1)
    assert rows.sum() >= 2 and (~rows).sum() >= 1
    last_b, last_a = before[1].hidden_states[-1], after[1].hidden_states[-1]
    assert (last_b[rows] - last_a[rows]).abs().amax(dim=(1, 2)).min() > 1e-2  # every row with entities moves
    assert not torch.equal(before[1].logits[rows], after[1].logits[rows])
    assert torch.equal(last_b[~rows], last_a[~rows]) and torch.equal(before[1].logits[~rows], after[1].logits[~rows])


@pytest.mark.parametrize("task", ["sequence", "token"])
def test_no_linked_entity_is_exactly_bert(ckpt, kg, export, task):
    """The architecture's reduction (module docstring): the fusion path with all-zero entity ids
    computes BERT's function, bit for bit."""
    m = model(ckpt, export, task)
    bert = build_model("bert", task, m.config.num_labels, backbone=ckpt, backbone_config={"attn_implementation": "eager"}).eval()
    state = m.state_dict()
    bert.load_state_dict({k: state[k] for k in bert.state_dict()})
    b = batch_of(featurizer(ckpt, kg, export), kg, False)
    plain = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        assert torch.equal(m(**plain, entity_ids=torch.zeros_like(b["input_ids"])).logits, bert(**plain).logits)


def test_no_nan_for_rows_without_entities_and_no_gradient_to_the_table(ckpt, kg, export):
    m = model(ckpt, export, "token").train()
    feat = featurizer(ckpt, kg, export, task="token")
    exs = [Example(t, tokens=list(t), tags=["O"] * len(t),
                   ann_a=linked(t, kg, [n for n in ("阿司匹林", "苹果") if n in t])) for t in TEXTS[:4]]
    b = feat.collate([feat(ex) for ex in exs])
    assert b["entity_ids"].gt(0).any(dim=1).tolist() == [True, True, True, False]  # a row without entities
    table = m.entity_table.clone()
    out = m(**b, output_hidden_states=True)
    assert all(torch.isfinite(h).all() for h in out.hidden_states) and torch.isfinite(out.loss)
    out.loss.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in m.parameters())
    assert m.entity_table.grad is None
    assert m.entity_fusion[0].entity_in.weight.grad.abs().sum() > 0  # the entity path is trained
    torch.optim.SGD(m.parameters(), lr=1.0).step()
    assert torch.equal(m.entity_table, table)


@pytest.mark.parametrize("task", ["sequence", "token"])
def test_save_and_load_carry_the_table_without_the_export(ckpt, kg, export, task, tmp_path):
    exp = shutil.copytree(export, tmp_path / "kge")
    m = model(ckpt, exp, task)
    feat = featurizer(ckpt, kg, exp, task="token" if task == "token" else "sequence")
    if task == "token":
        b = feat.collate([feat(Example(t, tokens=list(t), ann_a=linked(t, kg, [n for n in ("阿司匹林", "苹果") if n in t])))
                          for t in TEXTS[:4]])
    else:
        b = batch_of(feat, kg)
    b.pop("labels", None)
    m.save_pretrained(tmp_path / "saved")
    shutil.rmtree(exp)  # the table travels in the checkpoint
    auto = AutoModelForTokenClassification if task == "token" else AutoModelForSequenceClassification
    back = auto.from_pretrained(tmp_path / "saved", attn_implementation="eager").eval()
    assert type(back) is type(m) and back.config.kg_build_id == kg.build_id
    assert torch.equal(back.entity_table, m.entity_table)
    with torch.no_grad():
        assert torch.equal(back(**b).logits, m(**b).logits)


# --------------------------------------------------------------------------- trainer + Pipeline
def test_trained_by_the_common_trainer_and_served_by_pipeline(tmp_path):
    from kgbert.pipeline import Pipeline
    from kgbert.training.config import config_from_dict
    from kgbert.training.trainer import run_training
    from tests.training.helpers import make_spo, ner_config

    cfg = ner_config(tmp_path, encoder="ernie_thu", n_train=24, max_steps=3)
    store = make_kg(tmp_path / "kg", make_spo(tmp_path / "x.spo").read_text("utf-8"))
    exp = make_export(store, tmp_path / "kge")
    cfg["kg"] = {"path": str(store.path)}
    opts = {"entity_embeddings": str(exp)}
    cfg["model"]["options"] = {**opts, "entity_attention_heads": 2}
    cfg["model"]["featurizer"] = opts
    metrics = run_training(config_from_dict(cfg))
    assert metrics["global_step"] == 3
    assert metrics["data"]["train"]["entities"] > 0  # the matcher linked the synthetic entities
    info = json.loads((tmp_path / "run/best/kgbert.json").read_text("utf-8"))
    assert info["encoder"] == "ernie_thu" and info["featurizer"]["kg_build_id"] == store.build_id
    name = store.entity_name(0)
    store.close()
    with Pipeline.from_pretrained(tmp_path / "run", annotate=False) as pipe:
        assert pipe.model.config.num_entities == pipe.featurizer.num_entities
        res = pipe(f"病人{name}很严重")
    assert {"position": 3, "kg_id": 0, "name": name} in res["entities"]
