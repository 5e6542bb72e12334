"""A tiny synthetic corpus and pretraining config for fast tests (no shared data needed)."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from kgbert.pretraining.config import PretrainConfig, pretrain_config_from_dict

WORDS = ["高血压", "患者", "服用", "依那普利", "治疗", "头痛", "医生", "建议", "检查", "血常规", "今天", "天气",
         "很好", "我们", "去", "公园", "散步", "股票", "上涨", "公司", "发布", "公告", "ABC", "2024"]


def write_corpus(dirpath: Path, n_docs: int = 60, seed: int = 0, gz: bool = False) -> tuple[Path, Path]:
    """Two files: paragraphs (blank line between docs, optionally gzip) and one doc per line."""
    rng = np.random.default_rng(seed)
    dirpath.mkdir(parents=True, exist_ok=True)

    def sentence():
        return "".join(rng.choice(WORDS, size=int(rng.integers(4, 10)))) + "。"

    paras = []
    for _ in range(n_docs):
        paras.append("\n".join(sentence() for _ in range(int(rng.integers(1, 4)))))
    text = "\n\n".join(paras) + "\n"
    p1 = dirpath / ("paras.txt.gz" if gz else "paras.txt")
    if gz:
        with gzip.open(p1, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        p1.write_text(text, encoding="utf-8")
    p2 = dirpath / "docs.txt"
    p2.write_text("\n".join(sentence() + sentence() for _ in range(n_docs)) + "\n", encoding="utf-8")
    return p1, p2


def tiny_config(tmp_path: Path, **over) -> PretrainConfig:
    p1, p2 = write_corpus(tmp_path / "corpus")
    data = {
        "name": "tiny",
        "output_dir": str(tmp_path / "run"),
        "seed": 3,
        "data": {
            "max_length": 32,
            "shuffle_buffer": 16,
            "eval_sequences": 8,
            "corpus": [
                {"name": "paras", "path": str(p1), "format": "paragraphs", "holdout": 0.2},
                {"name": "docs", "path": str(p2), "format": "docs"},
            ],
        },
        "vocab": {"min_count": 1},
        "model": {"config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                             "max_position_embeddings": 64, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}},
        "training": {"max_steps": 8, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2, "save_steps": 4, "logging_steps": 1,
                     "progress": False, "threads": 1},
    }
    for k, v in over.items():
        node = data
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return pretrain_config_from_dict(data)
