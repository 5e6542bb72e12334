"""SRL annotations (``data.annotate`` with the ``srl`` annotator) are computed once: not again in
the next epoch, not again in the next run (another seed), which read the cached JSONL files."""
from __future__ import annotations

import json

import pytest


def test_srl_annotations_are_computed_once_across_epochs_and_runs(tmp_path, monkeypatch):
    srl = pytest.importorskip("annotators.srl")
    from kgbert.training.config import config_from_dict
    from kgbert.training.trainer import run_training
    from tests.training.helpers import FILLER, make_pair_tsv

    tagger = srl.SrlTagger.from_scratch(srl.bio_labels(["A0", "A1"]), ["".join(FILLER)], hidden_size=16,
                                        num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    tagger.save_pretrained(tmp_path / "srl")
    tagged: list[int] = []
    original = srl.SrlTagger.predict_texts

    def counting(self, texts, *args, **kwargs):
        tagged.append(len(texts))
        return original(self, texts, *args, **kwargs)

    monkeypatch.setattr(srl.SrlTagger, "predict_texts", counting)
    data = tmp_path / "data"
    data.mkdir()
    cfg = {
        "name": "sem", "output_dir": str(tmp_path / "run1"), "seed": 1, "task": {"type": "pair"},
        "data": {"format": "tsv", "train": str(make_pair_tsv(data / "train.tsv", 12, 0)),
                 "dev": str(make_pair_tsv(data / "dev.tsv", 4, 1)), "max_length": 24, "annotate": True,
                 "annotation_cache_dir": str(tmp_path / "ann"), "annotator_options": {"srl_model": str(tmp_path / "srl")}},
        "model": {"encoder": "sembert", "backbone_config": {
            "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
            "max_position_embeddings": 32}},
        "training": {"epochs": 2, "batch_size": 8, "threads": 1, "progress": False, "save_total_limit": 1},
    }
    run_training(config_from_dict(cfg))
    # two epochs, one annotation pass: every text of train (12 pairs) and dev (4 pairs) tagged exactly once
    assert sum(tagged) == 2 * (12 + 4)
    cached = sorted((tmp_path / "ann").glob("*.jsonl"))
    assert [p.name.split("-")[0] for p in cached] == ["dev", "train"]
    stamps = [p.stat().st_mtime_ns for p in cached]
    recs = [json.loads(x) for x in cached[1].read_text("utf-8").splitlines()]
    assert len(recs) == 12 and all("srl" in r["a"] for r in recs)

    tagged.clear()
    run_training(config_from_dict({**cfg, "seed": 2, "output_dir": str(tmp_path / "run2")}))
    assert tagged == []  # the second run read the cache: the tagger never ran
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "ann").glob("*.jsonl"))] == stamps
    # a tagger retrained into the same directory (its files are part of the cache key) is not
    # served the old tagger's frames
    import torch

    with torch.no_grad():
        tagger.model.classifier.bias.add_(1.0)
    tagger.save_pretrained(tmp_path / "srl")
    run_training(config_from_dict({**cfg, "seed": 3, "output_dir": str(tmp_path / "run3")}))
    assert sum(tagged) == 2 * (12 + 4)
    assert len(list((tmp_path / "ann").glob("*.jsonl"))) == 4
