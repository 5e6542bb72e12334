"""Entity typing as a task of the common trainer (tiny models): single-label typing derived from an
NER set (``ner_mentions``) for every built-in encoder, multi-label typing
(``typing_tsv``) for ``bert``; metrics, prediction files, the saved model reloaded (``load_best``
and :class:`kgbert.pipeline.Pipeline` give the trainer's predictions)."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from kgbert.data.readers import DataError
from kgbert.training.config import ConfigError, config_from_dict
from kgbert.training.tasks import TaskSpec
from kgbert.training.trainer import load_best, load_splits, run_training
from tests.training.helpers import ENTITIES, FILLER, make_spo, ner_config


def _typing_config(tmp_path, encoder):
    cfg = ner_config(tmp_path, encoder=encoder, epochs=4, lr=1e-2)
    cfg["task"] = {"type": "entity_typing"}
    cfg["data"].update(format="ner_mentions", reader_options={"context": 6})
    if encoder == "ernie_thu":
        from knowledge import KnowledgeGraph, build_kg
        from knowledge.embed import write_export

        store = tmp_path / "kg.sqlite"
        build_kg([make_spo(tmp_path / "kg.spo")], store, force=True)
        kg = KnowledgeGraph.open(store)
        rng = np.random.default_rng(0)
        write_export(tmp_path / "kge", entity=rng.normal(size=(kg.num_entities, 8)).astype(np.float32),
                     relation=rng.normal(size=(kg.num_relations, 8)).astype(np.float32),
                     entity_names=kg.entity_names(), relation_names=[f"r{i}" for i in range(kg.num_relations)],
                     build_id=kg.build_id)
        kg.close()
        cfg["kg"] = {"path": str(store)}
        cfg["model"]["backbone_config"].update(num_hidden_layers=2)
        cfg["model"]["options"] = {"entity_embeddings": str(tmp_path / "kge"), "num_aggregator_layers": 1,
                                   "entity_attention_heads": 2}
        cfg["model"]["featurizer"] = {"entity_embeddings": str(tmp_path / "kge")}
    elif encoder == "albert":
        cfg["model"]["backbone_config"]["embedding_size"] = 16  # factorised: E != H
        cfg["training"]["epochs"] = 8  # from a random init ALBERT leaves the majority type only after ~5 epochs here
    elif encoder == "sembert":  # SRL frames from a tiny tagger trained from scratch (annotated once, cached)
        from annotators import srl

        tagger = srl.SrlTagger.from_scratch(srl.bio_labels(["A0", "A1"]), ["".join(FILLER)], hidden_size=16,
                                            num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
        tagger.save_pretrained(tmp_path / "srl")
        cfg["data"].update(annotate=True, annotation_cache_dir=str(tmp_path / "ann"),
                           annotator_options={"srl_model": str(tmp_path / "srl")})
    return cfg


def _preds(run_dir, split):
    return [json.loads(line) for line in (run_dir / "predictions" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["bert", "kbert", "ernie_thu", "sembert", "albert", "xlnet"])
def test_single_label_typing_from_ner(tmp_path, encoder):
    from kgbert.pipeline import Pipeline

    cfg = _typing_config(tmp_path, encoder)
    m = run_training(config_from_dict(cfg))
    assert m["task"] == "entity_typing" and set(m["test"]) >= {"accuracy", "macro_f1"}
    assert m["dev"]["accuracy"] > 0.75, m["dev"]  # the mention's word decides its type: learnable
    run = tmp_path / "run"
    info = json.loads((run / "best" / "kgbert.json").read_text())
    assert info["task"] == info["run_task"] == "entity_typing" and info["labels"] == ["Drug", "Symptom"]
    assert info["multi_label"] is False
    preds = _preds(run, "test")
    assert all(p["text_a"].count("$") == 2 and p["gold"] in ENTITIES and p["pred"] in ENTITIES for p in preds)
    acc = sum(p["gold"] == p["pred"] for p in preds) / len(preds)
    assert acc == pytest.approx(m["test"]["accuracy"])
    model, _, _ = load_best(run)
    assert type(model).__name__.endswith("ForEntityTyping")
    pipe = Pipeline.from_pretrained(run)
    out = pipe([p["text_a"] for p in preds[:8]])
    assert [o["label"] for o in out] == [p["pred"] for p in preds[:8]]


def _multi_file(path, n, seed):
    """mention<TAB>types<TAB>sentence; 头痛/发热 are Symptom|Finding, the drugs Drug (learnable)."""
    rng = random.Random(seed)
    types = {"Drug": "Drug", "Symptom": "Symptom|Finding"}
    lines = []
    for _ in range(n):
        typ = rng.choice(sorted(ENTITIES))
        word = rng.choice(ENTITIES[typ])
        lines.append(f"{word}\t{types[typ]}\t{''.join(rng.choices(FILLER, k=3))}{word}{''.join(rng.choices(FILLER, k=2))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_multi_label_typing(tmp_path):
    from kgbert.pipeline import Pipeline

    cfg = ner_config(tmp_path, epochs=4, lr=1e-2)
    cfg["task"] = {"type": "entity_typing", "multi_label": True}
    cfg["data"] = {"format": "typing_tsv", "max_length": 32, "train": _multi_file(tmp_path / "train.txt", 64, 0),
                   "dev": _multi_file(tmp_path / "dev.txt", 16, 1), "test": _multi_file(tmp_path / "test.txt", 16, 2)}
    m = run_training(config_from_dict(cfg))
    assert set(m["test"]) >= {"accuracy", "loose_macro_f1", "loose_micro_f1", "loose_micro_precision"}
    assert m["dev"]["loose_micro_f1"] > 0.75, m["dev"]
    run = tmp_path / "run"
    info = json.loads((run / "best" / "kgbert.json").read_text())
    assert info["multi_label"] is True and info["labels"] == ["Drug", "Finding", "Symptom"]
    preds = _preds(run, "test")
    strict = sum(set(p["gold"].split("|")) == set(p["pred"].split("|")) for p in preds) / len(preds)
    assert strict == pytest.approx(m["test"]["accuracy"])
    assert any("|" in p["pred"] for p in preds) and all(p["pred"] for p in preds)  # never an empty type set
    out = Pipeline.from_pretrained(run)([p["text_a"] for p in preds[:6]])
    assert [o["label"] for o in out] == [p["pred"] for p in preds[:6]]
    assert all(o["labels"] == o["label"].split("|") for o in out)
    # single-label typing refuses a mention with several types, naming file:line
    cfg["task"] = {"type": "entity_typing"}
    with pytest.raises(DataError, match=r"train.txt:\d+: 2 types .* set task.multi_label: true"):
        load_splits(config_from_dict(cfg))
    cfg["task"] = {"type": "sequence", "multi_label": True}
    cfg["data"]["format"] = "tsv"
    with pytest.raises(ConfigError, match="task.multi_label is an option of task 'entity_typing'"):
        load_splits(config_from_dict({**cfg, "data": {**cfg["data"], "format": "typing_tsv"}}))


def test_task_spec_multi_label_decoding():
    import torch

    spec = TaskSpec("entity_typing", ["a", "b", "c"], multi_label=True)
    assert spec.default_metric == "loose_micro_f1" and TaskSpec("entity_typing", ["a"]).default_metric == "accuracy"
    logits = torch.tensor([[2.0, -1.0, 0.5], [-3.0, -1.0, -2.0]])
    hot = spec.reduce_logits(logits)
    assert hot.tolist() == [[1, 0, 1], [0, 1, 0]]  # positive logits, and always the top type
    assert spec.decode(hot.numpy(), [{}, {}], [None, None]) == ["a|c", "b"]  # type: ignore[list-item]
    with pytest.raises(ValueError, match="multi_label is an option of task 'entity_typing'"):
        TaskSpec("sequence", ["a"], multi_label=True)
