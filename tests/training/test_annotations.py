"""Annotations reach training: from a user's JSONL file or computed once by the annotators (cached)."""
from __future__ import annotations

import json

import pytest

from annotators import Annotation, Entity
from kgbert.data.annotations import AnnotationFileError, read_annotations, write_annotations
from kgbert.data.readers import read_examples
from kgbert.training.config import config_from_dict
from kgbert.training.trainer import run_training
from tests.training.helpers import ner_config


def test_read_annotations_checks_count_and_text(tmp_path):
    cfg = ner_config(tmp_path)
    exs = read_examples(cfg["data"]["dev"], "ner_tsv", "token")
    anns = [Example_with(ex, Annotation(ex.text_a, entities=[Entity(0, 1, "X", name="头痛")])) for ex in exs]
    path = tmp_path / "dev.ann.jsonl"
    write_annotations(path, anns)
    back = read_annotations(path, exs)
    assert [ex.ann_a.entities[0].name for ex in back] == ["头痛"] * len(exs)
    lines = path.read_text("utf-8").splitlines()
    bad = json.loads(lines[2])
    bad["text"] = "别的" + bad["text"]
    lines[2] = json.dumps(bad, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AnnotationFileError, match=rf"{path}:3: annotation text .* example .*dev.tsv:4"):
        read_annotations(path, exs)
    path.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    with pytest.raises(AnnotationFileError, match=rf"{path}: 3 annotation records for 16 examples"):
        read_annotations(path, exs)


def Example_with(ex, ann):
    from kgbert.data.example import Example

    return Example(**{**ex.__dict__, "ann_a": ann})


def test_user_annotations_are_what_the_featuriser_reads(tmp_path, monkeypatch):
    """Annotations with no entities: K-BERT injects nothing, although its matcher would find entities."""
    cfg = ner_config(tmp_path, encoder="kbert", n_train=16, max_steps=1, epochs=1)
    files = {}
    for split in ("train", "dev", "test"):
        exs = read_examples(cfg["data"][split], "ner_tsv", "token")
        files[split] = str(tmp_path / f"{split}.ann.jsonl")
        write_annotations(files[split], [Example_with(ex, Annotation(ex.text_a)) for ex in exs])
    cfg["data"]["annotations"] = files
    seen = []
    import kgbert.data.kbert as kb

    orig = kb.KBertFeaturizer.build

    def spy(self, example, segs):
        f = orig(self, example, segs)
        seen.append((example.ann_a is not None, any(f["branch_ids"])))
        return f

    monkeypatch.setattr(kb.KBertFeaturizer, "build", spy)
    run_training(config_from_dict(cfg))
    assert seen and all(has_ann and not injected for has_ann, injected in seen)
    info = json.loads((tmp_path / "run/best/kgbert.json").read_text("utf-8"))
    assert info["annotators"] == ["kg_entities"]


def test_annotate_computes_once_and_caches(tmp_path, monkeypatch):
    cfg = ner_config(tmp_path, encoder="kbert", n_train=16, max_steps=1, epochs=1)
    cfg["data"].update(annotate=True, annotation_cache_dir=str(tmp_path / "ann_cache"))
    run_training(config_from_dict(cfg))
    cached = sorted((tmp_path / "ann_cache").glob("*.jsonl"))
    assert len(cached) == 3
    recs = [json.loads(line) for line in cached[0].read_text("utf-8").splitlines()]
    assert recs and all(r["words"] for r in recs)  # computed by the annotators: words and KG entities
    assert any(e["source"] == "kg" for r in recs for e in r["entities"])
    # a second run (another seed) reads the cache: the annotators are not run again
    import annotators

    def boom(*a, **k):
        raise AssertionError("annotators ran again")

    monkeypatch.setattr(annotators, "make_pipeline", boom)
    cfg["seed"] = 4
    cfg["overwrite"] = True
    run_training(config_from_dict(cfg))
    assert sorted((tmp_path / "ann_cache").glob("*.jsonl")) == cached


def test_annotation_cache_follows_the_examples_annotated(tmp_path):
    """The cache key is the annotated examples' texts (+ the annotators): a dev carved from train
    (``data.dev_fraction``, no dev file) is annotated and cached, and another test limit gets its own
    entry instead of tripping over the first run's (a key from file + ``limit_eval`` gave both runs
    one entry, and a carved dev had no file to key on)."""
    cfg = ner_config(tmp_path, encoder="kbert", n_train=16, max_steps=1, epochs=1)
    cache = tmp_path / "ann_cache"
    cfg["data"].update(annotate=True, annotation_cache_dir=str(cache), dev=None, dev_fraction=0.25, limit_test=4)
    run_training(config_from_dict(cfg))
    names = sorted(p.name.rsplit("-", 1)[0] for p in cache.glob("*.jsonl"))
    assert names == ["test-test", "train-dev", "train-train"]
    dev = next(cache.glob("train-dev-*.jsonl")).read_text("utf-8").splitlines()
    assert len(dev) == 4  # round(0.25 * 16) carved examples, annotated
    cfg.update(overwrite=True)
    cfg["data"]["limit_test"] = 6
    run_training(config_from_dict(cfg))
    tests = sorted(cache.glob("test-test-*.jsonl"))
    assert sorted(len(p.read_text("utf-8").splitlines()) for p in tests) == [4, 6]
    assert len(list(cache.glob("train-*.jsonl"))) == 2  # train and dev reused, not annotated again
