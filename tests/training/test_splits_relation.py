"""dev_fraction, per-split limits, truncation statistics and the relation task (tiny models)."""
from __future__ import annotations

import json

import pytest

from kgbert.training.config import ConfigError, config_from_dict
from kgbert.training.splits import carve_dev
from kgbert.training.trainer import load_splits, run_training
from tests.training.helpers import ner_config, relation_lines


def test_dev_fraction_fixed_seed_and_limits(tmp_path):
    cfg = ner_config(tmp_path, n_train=40)
    cfg["data"].pop("dev")
    cfg["data"].update(dev_fraction=0.25, limit_dev=4, limit_test=3)
    splits, _ = load_splits(config_from_dict(cfg))
    assert len(splits["dev"]) == 4 and len(splits["test"]) == 3 and len(splits["train"]) == 30
    # the carve is fixed by data.dev_seed, not the run seed, and train/dev are disjoint
    again, _ = load_splits(config_from_dict({**cfg, "seed": 99}))
    assert [e.source for e in again["dev"]] == [e.source for e in splits["dev"]]
    full = {**cfg, "data": {**cfg["data"], "limit_dev": None}}
    s2, _ = load_splits(config_from_dict(full))
    assert len(s2["dev"]) == 10 and not {e.source for e in s2["dev"]} & {e.source for e in s2["train"]}
    other, _ = load_splits(config_from_dict({**full, "data": {**full["data"], "dev_seed": 7}}))
    assert [e.source for e in other["dev"]] != [e.source for e in s2["dev"]]
    # limit_eval still limits both when the specific limits are unset
    le = {**cfg, "data": {**cfg["data"], "limit_dev": None, "limit_test": None, "limit_eval": 2}}
    s3, _ = load_splits(config_from_dict(le))
    assert len(s3["dev"]) == 2 and len(s3["test"]) == 2
    with pytest.raises(ConfigError, match="dev_fraction carves dev from train"):
        load_splits(config_from_dict({**cfg, "data": {**cfg["data"], "dev": cfg["data"]["train"]}}))
    with pytest.raises(ConfigError, match=r"must be in \(0, 1\)"):
        load_splits(config_from_dict({**cfg, "data": {**cfg["data"], "dev_fraction": 1.5}}))


def test_carve_dev_keeps_order():
    items = list(range(20))
    train, dev = carve_dev(items, 0.2, 3)
    assert len(dev) == 4 and train == sorted(train) and dev == sorted(dev) and sorted(train + dev) == items


@pytest.mark.slow
def test_truncation_stats_in_metrics(tmp_path):
    cfg = ner_config(tmp_path, max_steps=1)
    cfg["data"]["max_length"] = 8  # 6 original characters fit; the synthetic sentences are longer
    m = run_training(config_from_dict(cfg))
    disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert disk["data"] == m["data"] and m["n_parameters"] > 0
    from kgbert.data.readers import read_examples

    for split in ("train", "dev", "test"):
        exs = read_examples(cfg["data"][split], "ner_tsv", "token")
        d = m["data"][split]
        assert d["examples"] == len(exs)
        assert d["truncated_examples"] == sum(len(e.tokens) > 6 for e in exs)
        assert d["original_tokens"] == sum(len(e.tokens) for e in exs)
        assert d["truncated_tokens"] == sum(max(0, len(e.tokens) - 6) for e in exs)
        assert d["truncated_tokens_share"] == pytest.approx(d["truncated_tokens"] / d["original_tokens"])
        assert d["input_tokens"] == sum(min(len(e.tokens), 6) + 2 for e in exs)


def _relation_file(path, n, seed):
    """head/tail pairs whose relation is decided by the word between them (learnable)."""
    path.write_text("\n\n".join(relation_lines(n, seed)) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["bert", "kbert"])
def test_relation_task_tiny_model(tmp_path, encoder):
    cfg = ner_config(tmp_path, encoder=encoder, epochs=6, lr=1e-2)
    cfg["task"] = {"type": "relation"}
    cfg["data"] = {"format": "relation_tsv", "max_length": 32,
                   "train": _relation_file(tmp_path / "train.txt", 96, 0),
                   "dev": _relation_file(tmp_path / "dev.txt", 24, 1),
                   "test": _relation_file(tmp_path / "test.txt", 24, 2)}
    m = run_training(config_from_dict(cfg))
    assert set(m["test"]) >= {"accuracy", "macro_f1"}
    assert m["dev"]["macro_f1"] > 0.6, m["dev"]  # the relation word is visible: learnable
    info = json.loads((tmp_path / "run" / "best" / "kgbert.json").read_text())
    assert info["task"] == "sequence" and info["run_task"] == "relation"
    preds = [json.loads(l) for l in (tmp_path / "run" / "predictions" / "test.jsonl").read_text().splitlines()]
    assert len(preds) == 24 and preds[0]["text_a"].count("$") == 2 and preds[0]["text_a"].count("#") == 2


def test_thread_count_setting():
    from kgbert.training.threads import auto_threads, resolve_threads

    assert auto_threads(cores=2, load=6.0) == 1 and auto_threads(cores=16, load=0.2) == 16
    assert auto_threads(cores=8, load=2.6) == 5 and auto_threads(cores=1, load=0.0) == 1
    assert resolve_threads(None) is None and resolve_threads(3) == 3 and resolve_threads("auto") >= 1
    with pytest.raises(ValueError, match="positive integer"):
        resolve_threads(0)
    assert config_from_dict({}).training.threads == "auto"
    assert config_from_dict({"training": {"threads": 2}}).training.threads == 2
    assert config_from_dict({}, overrides=["training.threads=auto"]).training.threads == "auto"
    assert config_from_dict({}, overrides=["training.threads=null"]).training.threads is None
