"""The ``albert`` and ``xlnet`` encoders through the common trainer (token and pair tasks, random
init of their own family), and the clear error when a BERT-based encoder is given an ALBERT checkpoint."""
from __future__ import annotations

import json

import pytest

from kgbert.checkpoints import make_random_checkpoint
from kgbert.models import build_model
from kgbert.training.config import config_from_dict
from kgbert.training.trainer import load_best, run_training
from tests.models._tiny import TEXTS
from tests.training.helpers import make_pair_tsv, ner_config


def test_bert_based_encoders_refuse_an_albert_checkpoint(tmp_path):
    ckpt = make_random_checkpoint(tmp_path / "albert", texts=TEXTS, family="albert", hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=64, embedding_size=16)
    assert json.loads((ckpt / "config.json").read_text())["model_type"] == "albert"
    with pytest.raises(ValueError, match=r"encoder 'kbert' \(K-BERT .*soft positions, visible matrix\) is built inside BERT's "
                                         r"embeddings and layers and cannot use the ALBERT checkpoint .*\['albert'\]"):
        build_model("kbert", "token", 3, backbone=ckpt)
    m = build_model("albert", "token", 3, backbone=ckpt)
    assert m.config.embedding_size == 16 and m.config.model_type == "kgbert_albert"


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["albert", "xlnet"])
def test_encoder_fine_tunes_through_the_common_trainer(tmp_path, encoder):
    cfg = ner_config(tmp_path / "ner", encoder=encoder, epochs=3)
    if encoder == "albert":
        cfg["model"]["backbone_config"]["embedding_size"] = 16
    m = run_training(config_from_dict(cfg))
    init = json.loads((tmp_path / "ner/run/init/config.json").read_text())
    assert init["model_type"] == encoder  # a random init of the encoder's own family, not BERT
    model, _, info = load_best(tmp_path / "ner/run")
    assert type(model).__name__.lower() == f"{encoder}encoderfortokenclassification" and 0.0 <= m["test"]["f1"] <= 1.0
    log = [json.loads(line) for line in (tmp_path / "ner/run/train_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < losses[0], losses

    data = tmp_path / "pair"
    data.mkdir()
    pair = {
        "name": "pair", "output_dir": str(tmp_path / "pair/run"), "seed": 1, "task": {"type": "pair"},
        "data": {"format": "tsv", "train": str(make_pair_tsv(data / "train.tsv", 32, 0)),
                 "dev": str(make_pair_tsv(data / "dev.tsv", 12, 1)), "max_length": 24},
        "model": {"encoder": encoder, "backbone_config": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                                           "intermediate_size": 64, "max_position_embeddings": 32}},
        "training": {"epochs": 1, "batch_size": 8, "threads": 1, "progress": False},
    }
    m = run_training(config_from_dict(pair))
    assert 0.0 <= m["dev"]["accuracy"] <= 1.0
    model, _, _ = load_best(tmp_path / "pair/run")
    assert type(model).__name__.lower() == f"{encoder}encoderforsequenceclassification"
