"""The demo configs train for a few steps on real data and their best checkpoint reloads."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgbert.train import main
from kgbert.training.config import load_config
from kgbert.training.trainer import load_best, run_training
from tests.conftest import shared_data

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", ["demo_ner_bert", "demo_ner_kbert"])
def test_demo_config_trains_and_reloads(tmp_path, monkeypatch, name):
    monkeypatch.chdir(CONFIGS.parent)  # the demo configs name the shipped backbone relative to the repository root
    monkeypatch.setenv("KGBERT_SHARED_DATA", str(shared_data("medical_ner").parent))
    cfg = load_config(CONFIGS / f"{name}.yaml", [
        f"output_dir={tmp_path / 'run'}", "data.limit_train=32", "data.limit_eval=8", "training.max_steps=3",
        "training.progress=false", f"kg.cache_dir={tmp_path / 'kg'}",
    ])
    m = run_training(cfg)
    assert m["global_step"] == 3 and 0.0 <= m["test"]["f1"] <= 1.0
    model, tokenizer, info = load_best(tmp_path / "run")
    assert model.config.id2label[0] == "O" and info["labels"] == list(model.config.id2label.values())
    assert info["encoder"] == name.split("_")[-1]
    kg = json.loads((tmp_path / "run/best/kg.json").read_text())
    assert (kg["path"] is None) == (name == "demo_ner_bert")


def test_cli_reports_config_errors(tmp_path, capsys):
    bad = tmp_path / "x.yaml"
    bad.write_text("trainng:\n  lr: 1\n", encoding="utf-8")
    assert main([str(bad)]) == 2
    assert "unknown key 'trainng'" in capsys.readouterr().err
    assert main([str(CONFIGS / "demo_ner_bert.yaml"), "--print-config", "seed=5"]) == 0
    assert "seed: 5" in capsys.readouterr().out
