"""The fast K-BERT featurisation paths give exactly the plain paths' output on real data.

Fast: ``FastBertTokenizer`` + ``EntityMatcher`` on ``ahocorasick_rs``. Plain: the tokenizer's own
Rust backend (``feat._fast = None``) + the pyahocorasick-only matcher. Sequence, pair and token
tasks, on real ChnSentiCorp reviews and medical NER sentences with the real HowNet + medical KG.
"""
from __future__ import annotations

import pytest

import knowledge.matcher as matcher_mod
from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import Example, build_featurizer
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from knowledge import KnowledgeGraph, build_kg

    tmp = tmp_path_factory.mktemp("kbert_eq")
    spo = [shared_data("kg_medical", "Medical.spo"), shared_data("kg_hownet", "HowNet.spo")]
    reviews_path = shared_data("chnsenticorp", "dev.tsv")
    ner_path = shared_data("medical_ner", "dev.tsv")
    reviews = [ln.split("\t", 1)[1] for ln in reviews_path.read_text(encoding="utf-8").splitlines()[1:161] if "\t" in ln]
    ner = []
    for line in ner_path.read_text(encoding="utf-8").splitlines()[1:251]:
        text, tags = line.split("\t")
        ner.append(Example("".join(text.split()), tokens=text.split(), tags=tags.split()))
    build_kg(spo, tmp / "med.sqlite")
    kg = KnowledgeGraph.open(tmp / "med.sqlite")
    # a vocabulary missing many characters: [UNK]s and word runs take the tokenizer's slow paths
    tok = load_tokenizer(make_random_checkpoint(tmp / "ck", texts=reviews[:100] + [e.text_a for e in ner[:100]]))
    return kg, tok, reviews, ner


def _pair(kg, tok, task, labels, max_length):
    from knowledge import EntityMatcher

    fast = build_featurizer("kbert", tok, task=task, label_list=labels, max_length=max_length, kg=kg,
                            matcher=EntityMatcher.for_store(kg, subjects_only=True))
    plain = build_featurizer("kbert", tok, task=task, label_list=labels, max_length=max_length, kg=kg,
                             matcher=EntityMatcher.for_store(kg, subjects_only=True, use_rs=False))
    plain._fast = None  # the tokenizer's own backend for every text
    return fast, plain


def test_rs_is_used_when_installed(setup):
    kg, tok, _, _ = setup
    fast, plain = _pair(kg, tok, "sequence", ["0"], 64)
    assert fast.matcher.use_rs is (matcher_mod._ars is not None) and plain.matcher.use_rs is False


@pytest.mark.parametrize("task,max_length", [("sequence", 256), ("sequence", 64), ("pair", 128)])
def test_text_tasks_identical(setup, task, max_length):
    kg, tok, reviews, _ = setup
    fast, plain = _pair(kg, tok, task, ["0"], max_length)
    if task == "pair":
        examples = [Example(a, b) for a, b in zip(reviews[::2], reviews[1::2])]
    else:
        examples = [Example(t) for t in reviews]
    outs = [fast(e) for e in examples]
    assert outs == [plain(e) for e in examples] and fast.stats == plain.stats
    assert outs == [fast(e) for e in examples]  # warm (cached branches) == cold
    assert sum(max(f["branch_ids"]) for f in outs) > 30


@pytest.mark.parametrize("max_length", [128, 40])
def test_ner_identical(setup, max_length):
    kg, tok, _, ner = setup
    labels = sorted({t for e in ner for t in e.tags})
    fast, plain = _pair(kg, tok, "token", labels, max_length)
    outs = [fast(e) for e in ner]
    assert outs == [plain(e) for e in ner] and fast.stats == plain.stats
    assert sum(max(f["branch_ids"]) for f in outs) > 30
