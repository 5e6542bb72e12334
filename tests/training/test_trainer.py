"""End-to-end trainer runs on tiny synthetic data: run dir layout, reload, seeds, resume."""
from __future__ import annotations

import json

import pytest
import torch
from transformers import TrainerCallback

from kgbert.data.readers import DataError
from kgbert.training.config import config_from_dict
from kgbert.training.trainer import load_best, run_training
from tests.training.helpers import make_pair_tsv, ner_config


def _scores(m: dict) -> dict:
    return {s: {k: v for k, v in m[s].items() if k in ("loss", "precision", "recall", "f1", "accuracy")}
            for s in ("dev", "test")}


def test_ner_run_dir_and_reload(tmp_path):
    cfg = config_from_dict(ner_config(tmp_path, epochs=3))
    m = run_training(cfg)
    run = tmp_path / "run"
    for name in ("config.yaml", "train_log.jsonl", "metrics.json", "init/tokenizer.json", "best/config.json",
                 "best/model.safetensors", "best/tokenizer.json", "best/kg.json", "best/kgbert.json", "predictions/dev.jsonl",
                 "predictions/test.jsonl"):
        assert (run / name).exists(), name
    assert json.loads((run / "best/kg.json").read_text()) == {"path": None}
    assert json.loads((run / "metrics.json").read_text())["test"]["f1"] == m["test"]["f1"]
    log = [json.loads(l) for l in (run / "train_log.jsonl").read_text().splitlines()]
    assert any("loss" in r for r in log) and any("eval_f1" in r for r in log)
    # A learnable toy task: the model must find some entities after 18 steps.
    assert m["dev"]["f1"] > 0.2, m["dev"]

    preds = [json.loads(l) for l in (run / "predictions/test.jsonl").read_text().splitlines()]
    assert len(preds) == 16 and all(len(p["tokens"]) == len(p["gold"]) == len(p["pred"]) for p in preds)

    # The reloaded best checkpoint reproduces the written test predictions.
    model, tokenizer, info = load_best(run)
    from kgbert.data import build_featurizer
    from kgbert.data.readers import read_examples

    model.eval()
    feat = build_featurizer("bert", tokenizer, task="token", label_list=info["labels"], max_length=32)
    exs = read_examples(cfg.data.test, "ner_tsv", "token")
    with torch.no_grad():
        for ex, p in zip(exs, preds):
            f = feat(ex)
            batch = feat.collate([f])
            batch.pop("labels")
            ids = model(**batch).logits.argmax(-1)[0].tolist()
            tags = ["O"] * len(ex.tokens)
            for pos, tok in enumerate(f["token_map"]):
                if tok >= 0:
                    tags[tok] = info["labels"][ids[pos]]
            assert tags == p["pred"], ex.source


def test_same_seed_same_metrics_and_seed_matters(tmp_path):
    a = run_training(config_from_dict(ner_config(tmp_path / "a")))
    b = run_training(config_from_dict(ner_config(tmp_path / "b")))
    assert _scores(a) == _scores(b)
    c = run_training(config_from_dict({**ner_config(tmp_path / "c"), "seed": 4}))
    assert _scores(c)["dev"]["loss"] != _scores(a)["dev"]["loss"]


class _Crash(TrainerCallback):
    """Simulates a killed job: raises after ``step`` optimizer steps."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            raise KeyboardInterrupt("simulated interruption")


def test_resume_continues_from_last_checkpoint(tmp_path):
    over = dict(eval_strategy="steps", eval_steps=4, epochs=2)
    full = run_training(config_from_dict(ner_config(tmp_path / "full", **over)))
    cfg = config_from_dict(ner_config(tmp_path / "cut", **over))
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg, callbacks=[_Crash(6)])
    assert (tmp_path / "cut/run/checkpoints/checkpoint-4").is_dir()
    assert not (tmp_path / "cut/run/metrics.json").exists()
    resumed = run_training(cfg)  # resume="auto": picks up checkpoint-4
    assert resumed["resumed_from"].endswith("checkpoint-4")
    assert resumed["global_step"] == full["global_step"] == 12
    assert _scores(resumed) == _scores(full)


def test_pair_classification_and_unknown_dev_label(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    cfg = {
        "name": "pair", "output_dir": str(tmp_path / "run"), "seed": 1,
        "task": {"type": "pair"},
        "data": {"format": "tsv", "train": str(make_pair_tsv(data / "train.tsv", 32, 0)),
                 "dev": str(make_pair_tsv(data / "dev.tsv", 12, 1)), "max_length": 24},
        "model": {"encoder": "bert", "backbone_config": {"hidden_size": 32, "num_hidden_layers": 1,
                  "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 32}},
        "training": {"epochs": 1, "batch_size": 8, "threads": 1, "progress": False},
    }
    m = run_training(config_from_dict(cfg))
    assert 0.0 <= m["dev"]["accuracy"] <= 1.0 and "macro_f1" in m["dev"]
    assert 0.0 <= m["dev"]["auc"] <= 1.0  # two classes: the ROC AUC of the class probabilities

    rec = json.loads((tmp_path / "run/predictions/dev.jsonl").read_text().splitlines()[0])
    assert set(rec) >= {"source", "text_a", "text_b", "gold", "pred"}

    # JSON lines (AFQMC layout) with an unlabelled test split: predictions only, no scores.
    for split in ("train", "dev"):
        rows = [l.split("\t") for l in (data / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:14]]
        (data / f"{split}.json").write_text("".join(
            json.dumps({"sentence1": a, "sentence2": b, "label": y}, ensure_ascii=False) + "\n" for y, a, b in rows),
            encoding="utf-8")
    (data / "test.json").write_text('{"id": 7, "sentence1": "你好", "sentence2": "您好"}\n', encoding="utf-8")
    unl = {**cfg, "output_dir": str(tmp_path / "run_unl"),
           "data": {**cfg["data"], "format": "jsonl", "train": str(data / "train.json"), "dev": str(data / "dev.json"),
                    "test": str(data / "test.json"), "test_has_labels": False}}
    m = run_training(config_from_dict(unl))
    assert "accuracy" not in m["test"] and "accuracy" in m["dev"]
    rec = json.loads((tmp_path / "run_unl/predictions/test.jsonl").read_text(encoding="utf-8"))
    assert rec["id"] == 7 and rec["gold"] is None and rec["pred"] in ("0", "1")

    with open(data / "dev.tsv", "a", encoding="utf-8") as fh:
        fh.write("7\t你好\t您好\n")
    with pytest.raises(DataError, match=r"dev\.tsv:14: unknown label '7'"):
        run_training(config_from_dict(cfg))


def test_kbert_run_builds_kg_cache_and_names_it(tmp_path):
    pytest.importorskip("kgbert.data.kbert")
    cfg = ner_config(tmp_path, encoder="kbert")
    cfg["model"]["featurizer"] = {"max_entities": 2}
    cfg["model"]["vocab_sources"] = cfg["kg"]["sources"]
    m = run_training(config_from_dict(cfg))
    assert "f1" in m["test"]
    cached = list((tmp_path / "kg_cache").glob("*/*.sqlite"))
    assert len(cached) == 1 and cached[0].parent.name.startswith("kg-")
    info = json.loads((tmp_path / "run/best/kg.json").read_text())
    assert info["path"] == str(cached[0].resolve()) and info["num_triples"] == 7 and len(info["sha256"]) == 64
    assert info["sources"][0]["path"].endswith("kg.spo")
    # A second run reuses the cached store instead of rebuilding it.
    mtime = cached[0].stat().st_mtime_ns
    run_training(config_from_dict({**cfg, "output_dir": str(tmp_path / "run2")}))
    assert [p.stat().st_mtime_ns for p in (tmp_path / "kg_cache").glob("*/*.sqlite")] == [mtime]


def test_loss_fn_hook_replaces_the_model_loss(tmp_path):
    calls = []

    def scaled_loss(model, inputs, return_outputs=False):
        out = model(**inputs)
        calls.append(out.loss.item())
        loss = 0.0 * out.loss  # a hook that freezes learning: weights must not move
        return (loss, out) if return_outputs else loss

    cfg = config_from_dict(ner_config(tmp_path, epochs=1, weight_decay=0.0))
    run_training(cfg, loss_fn=scaled_loss)
    assert len(calls) >= 6  # every training step went through the hook
    from safetensors.torch import load_file

    init = load_file(str(tmp_path / "run/init/model.safetensors"))
    best = load_file(str(tmp_path / "run/best/model.safetensors"))
    key = next(k for k in best if k.endswith("word_embeddings.weight"))
    assert torch.equal(best[key], init[key])


def test_split_metrics_score_class_probabilities():
    """Example-level outputs reach the metrics as (class id, probabilities): accuracy from the ids,
    AUC from the probabilities, whatever the ids say (here all the majority class)."""
    import types

    import numpy as np
    import torch
    from transformers import EvalPrediction

    from kgbert.data.example import Example
    from kgbert.training.tasks import TaskSpec
    from kgbert.training.trainer import SplitMetrics

    task = TaskSpec("pair", ["0", "1"])
    logits = torch.tensor([[2.0, 0.5], [2.0, 1.5], [2.0, 0.0], [2.0, 1.0]])  # argmax 0 everywhere
    out = task.reduce_logits(logits)
    assert out.shape == (4, 3) and out[:, 0].tolist() == [0, 0, 0, 0]
    assert TaskSpec("token", ["O", "B-X"]).reduce_logits(torch.zeros(2, 5, 2)).shape == (2, 5)  # ids only
    sm = SplitMetrics(task)
    sm.split = types.SimpleNamespace(features=[{}] * 4, examples=[Example("a", text_b="b", label=g) for g in "0101"])
    scores = sm(EvalPrediction(predictions=out.numpy(), label_ids=np.zeros(4)))
    assert scores["accuracy"] == 0.5 and sm.last_preds == ["0"] * 4
    assert scores["auc"] == 1.0  # the positives (rows 2, 4) have the larger class-1 probabilities
