"""A tiny synthetic bench grid (no shared data needed)."""
from __future__ import annotations

from pathlib import Path

from tests.training.helpers import make_ner_tsv, make_pair_tsv, make_spo

TINY_BACKBONE = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                 "max_position_embeddings": 64}


def tiny_bench(tmp_path: Path, seeds=(1,), **extra_encoders) -> dict:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    spo = str(make_spo(data / "kg.spo"))
    encoders = {
        "bert": {"model": {"encoder": "bert"}},
        "kbert": {"model": {"encoder": "kbert", "featurizer": {"max_entities": 1}},
                  "kg": {"sources": [spo], "cache_dir": str(tmp_path / "kg_cache")}},
        **extra_encoders,
    }
    return {
        "name": "tiny",
        "output_dir": str(tmp_path / "bench"),
        "seeds": list(seeds),
        "base": {
            "data": {"max_length": 32},
            "model": {"backbone_config": dict(TINY_BACKBONE), "vocab_sources": [spo]},
            "training": {"epochs": 1, "batch_size": 8, "eval_batch_size": 16, "lr": 5e-3, "logging_steps": 2,
                         "threads": 1, "progress": False, "warmup_ratio": 0.0, "save_total_limit": 1},
        },
        "encoders": encoders,
        "tasks": {
            "ner": {"run": {"task": {"type": "token"},
                            "data": {"format": "ner_tsv", "train": str(make_ner_tsv(data / "ner_train.tsv", 24, 0)),
                                     "dev": str(make_ner_tsv(data / "ner_dev.tsv", 8, 1)),
                                     "test": str(make_ner_tsv(data / "ner_test.tsv", 8, 2))}},
                    "paper": {"bert": 50.0}},
            "pair": {"run": {"task": {"type": "pair"},
                             "data": {"format": "tsv", "train": str(make_pair_tsv(data / "pair_train.tsv", 24, 0)),
                                      "dev": str(make_pair_tsv(data / "pair_dev.tsv", 8, 1))}},
                     "split": "dev"},
        },
        "quick": {"base": {"training": {"max_steps": 2}}},
    }
