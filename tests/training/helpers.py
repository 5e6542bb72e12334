"""Tiny synthetic datasets and configs for trainer tests (no shared data needed)."""
from __future__ import annotations

import random
from pathlib import Path

FILLER = list("的了是在有和就不人都一个上也很到说要去你会着没看好自己这那")
ENTITIES = {"Drug": ["阿司匹林", "布洛芬", "青霉素"], "Symptom": ["头痛", "发热", "咳嗽", "腹泻"]}


def make_ner_tsv(path: Path, n: int, seed: int) -> Path:
    """K-BERT NER TSV with ``n`` sentences: filler characters around 1-2 known entities."""
    rng = random.Random(seed)
    lines = ["text_a\tlabel"]
    for _ in range(n):
        chars: list[str] = []
        tags: list[str] = []
        for _ in range(rng.randint(1, 2)):
            k = rng.randint(2, 5)
            chars += rng.choices(FILLER, k=k)
            tags += ["O"] * k
            typ = rng.choice(sorted(ENTITIES))
            word = rng.choice(ENTITIES[typ])
            chars += list(word)
            tags += [f"B-{typ}"] + [f"I-{typ}"] * (len(word) - 1)
        k = rng.randint(1, 4)
        chars += rng.choices(FILLER, k=k)
        tags += ["O"] * k
        lines.append(" ".join(chars) + "\t" + " ".join(tags))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_pair_tsv(path: Path, n: int, seed: int) -> Path:
    """Pair TSV: label 1 when both texts share their first character."""
    rng = random.Random(seed)
    lines = ["label\ttext_a\ttext_b"]
    for _ in range(n):
        a = "".join(rng.choices(FILLER, k=rng.randint(3, 8)))
        same = rng.random() < 0.5
        b = (a[0] if same else rng.choice([c for c in FILLER if c != a[0]])) + "".join(rng.choices(FILLER, k=4))
        lines.append(f"{int(same)}\t{a}\t{b}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_spo(path: Path) -> Path:
    """A small .spo KG over the synthetic entities."""
    rows = [f"{w}\t类别\t{'药物' if t == 'Drug' else '症状'}" for t, ws in ENTITIES.items() for w in ws]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def ner_config(tmp_path: Path, *, encoder: str = "bert", n_train: int = 48, **training) -> dict:
    """A config dict for a tiny NER run on synthetic data under ``tmp_path``."""
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    cfg = {
        "name": "tiny",
        "output_dir": str(tmp_path / "run"),
        "seed": 3,
        "task": {"type": "token"},
        "data": {
            "format": "ner_tsv",
            "train": str(make_ner_tsv(data / "train.tsv", n_train, 0)),
            "dev": str(make_ner_tsv(data / "dev.tsv", 16, 1)),
            "test": str(make_ner_tsv(data / "test.tsv", 16, 2)),
            "max_length": 32,
        },
        "model": {
            "encoder": encoder,
            "backbone_config": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                "intermediate_size": 64, "max_position_embeddings": 64},
        },
        "training": {"epochs": 2, "batch_size": 8, "eval_batch_size": 16, "lr": 5e-3, "logging_steps": 2,
                     "threads": 1, "progress": False, "warmup_ratio": 0.0, **training},
    }
    if encoder == "kbert":
        cfg["kg"] = {"sources": [str(make_spo(data / "kg.spo"))], "cache_dir": str(tmp_path / "kg_cache")}
    return cfg


def relation_lines(n: int, seed: int) -> list[str]:
    """``n`` relation_tsv lines (head, tail, relation, sentence) whose relation is decided by the word
    between the two mentions (learnable by a tiny model)."""
    rng = random.Random(seed)
    heads = ["甲公司", "乙集团", "丙银行", "丁证券"]
    rels = {"收购": "收购", "起诉": "诉讼", "合作": "合作"}
    lines = []
    for _ in range(n):
        h, t = rng.sample(heads, 2)
        verb = rng.choice(sorted(rels))
        pre = "".join(rng.choices(FILLER, k=rng.randint(0, 3)))
        lines.append(f"{h}\t{t}\t{rels[verb]}\t{pre}{h}{verb}{t}{''.join(rng.choices(FILLER, k=2))}")
    return lines

