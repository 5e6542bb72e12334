"""The baseline featuriser: ids, labels, truncation, token_map, collation, errors."""
from __future__ import annotations

import pickle

import pytest
import torch

from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import Example, FeaturizeError, build_featurizer

TEXTS = ["患者服用阿司匹林后胃出血", "我爱吃苹果哈", "Apple 公司"]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return load_tokenizer(make_random_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", texts=TEXTS))


def test_sequence_ids_match_tokenizer(tok):
    feat = build_featurizer("bert", tok, task="sequence", label_list=["neg", "pos"], max_length=64)
    f = feat(Example(TEXTS[0], label="pos"))
    assert f["input_ids"] == tok(TEXTS[0])["input_ids"]
    assert f["token_type_ids"] == [0] * len(f["input_ids"])
    assert f["labels"] == 1
    assert tok.unk_token_id not in f["input_ids"]  # Chinese is not [UNK]


def test_pair_ids_match_tokenizer_and_truncate_longest_first(tok):
    feat = build_featurizer("bert", tok, task="pair", label_list=["0", "1"], max_length=64)
    f = feat(Example(TEXTS[0], TEXTS[1], label="1"))
    enc = tok(TEXTS[0], TEXTS[1])
    assert f["input_ids"] == enc["input_ids"] and f["token_type_ids"] == enc["token_type_ids"]
    short = build_featurizer("bert", tok, task="pair", label_list=["0", "1"], max_length=11)
    f = short(Example(TEXTS[0], TEXTS[1]))  # 12 + 6 tokens into 8
    assert len(f["input_ids"]) == 11 and "labels" not in f
    assert f["token_type_ids"].count(1) == 4 + 1  # 4 of b + [SEP]
    assert short.stats["truncated_examples"] == 1


def test_token_task_one_id_per_token_and_map(tok):
    labels = ["O", "B-X", "I-X"]
    feat = build_featurizer("bert", tok, task="token", label_list=labels, max_length=6)
    ex = Example("我爱吃苹果哈", tokens=list("我爱吃苹果哈"), tags=["O", "O", "O", "B-X", "I-X", "O"])
    f = feat(ex)
    assert f["input_ids"][1:-1] == tok.convert_tokens_to_ids(list("我爱吃苹"))
    assert f["labels"] == [-100, 0, 0, 0, 1, -100]
    assert f["token_map"] == [-1, 0, 1, 2, 3, -1]
    assert feat.stats["truncated_examples"] == 1
    # unknown characters become [UNK]; upper-case Latin is looked up lower-cased
    f = feat(Example("A☃", tokens=["A", "☃"]))
    assert f["input_ids"][1:-1] == [tok.convert_tokens_to_ids("a"), tok.unk_token_id]


def test_errors_name_the_source(tok):
    feat = build_featurizer("bert", tok, task="sequence", label_list=["neg", "pos"], max_length=16)
    with pytest.raises(FeaturizeError, match="train.tsv:7.*unknown label 'meh'"):
        feat(Example("好", label="meh", source="train.tsv:7"))
    tfeat = build_featurizer("bert", tok, task="token", label_list=["O"], max_length=16)
    with pytest.raises(FeaturizeError, match="x.conll:3.*2 tags for 1 tokens"):
        tfeat(Example("好", tokens=["好"], tags=["O", "O"], source="x.conll:3"))
    with pytest.raises(FeaturizeError, match="unknown tag 'B-Y'"):
        tfeat(Example("好", tokens=["好"], tags=["B-Y"]))
    with pytest.raises(ValueError, match="unknown option"):
        build_featurizer("bert", tok, task="sequence", label_list=["a"], max_length=16, max_entities=2)
    with pytest.raises(ValueError, match="unknown task"):
        build_featurizer("bert", tok, task="ner", label_list=["a"], max_length=16)


def test_collate_pads_and_returns_forward_kwargs(tok):
    feat = build_featurizer("bert", tok, task="token", label_list=["O", "B-X"], max_length=32)
    fs = [feat(Example("我爱", tokens=["我", "爱"], tags=["O", "B-X"])), feat(Example("吃", tokens=["吃"], tags=["O"]))]
    b = feat.collate(fs)
    assert set(b) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
    assert b["input_ids"].shape == (2, 4) and b["input_ids"].dtype == torch.long
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert b["input_ids"][1, 3] == tok.pad_token_id
    assert b["labels"].tolist() == [[-100, 0, 1, -100], [-100, 0, -100, -100]]


def test_featurizer_pickles(tok):
    feat = build_featurizer("bert", tok, task="sequence", label_list=["a"], max_length=16)
    clone = pickle.loads(pickle.dumps(feat))
    assert clone(Example(TEXTS[1])) == feat(Example(TEXTS[1]))


def test_sequence_builder_plain_equals_the_step_by_step_build():
    import random

    from kgbert.data.featurize import Segment, SequenceBuilder

    class F:
        cls_id, sep_id = 2, 3

        def __init__(self, task):
            self.task = task

        def encode_label(self, example):
            return 1

    rng = random.Random(0)
    for _ in range(200):
        task = rng.choice(["sequence", "pair", "token"])
        segs = []
        for _ in range(2 if task == "pair" else 1):
            n = rng.randint(0, 9)
            labels = [rng.randint(0, 4) for _ in range(n)] if task == "token" and rng.random() < 0.7 else None
            seg = Segment([rng.randint(5, 99) for _ in range(n)], labels=labels)
            seg.n = rng.randint(0, n)
            segs.append(seg)
        feat = F(task)
        b = SequenceBuilder(feat, None)
        for seg in segs:
            b.trunk(seg, 0, seg.n)
            b.end_segment()
        assert SequenceBuilder.plain(feat, None, segs) == b.features(labelled=segs[0].labels is not None)
