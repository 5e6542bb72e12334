"""Sentence objectives (NSP, SOP): pair building, the pretraining head, loss falls, layout."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from kgbert.checkpoints import make_tokenizer
from kgbert.objectives import OBJECTIVES, NextSentencePrediction, SentenceOrderPrediction, sentence_objective
from kgbert.pretraining.config import CorpusSource, VocabConfig
from kgbert.pretraining.data import PairedCorpus
from kgbert.pretraining.run import run_pretraining
from kgbert.pretraining.vocab import build_corpus_vocab
from tests.pretraining.helpers import tiny_config, write_corpus


def _pairs(tmp_path, objective, n=300, max_length=48):
    p1, _ = write_corpus(tmp_path, n_docs=80)
    srcs = [CorpusSource(path=str(p1))]
    vocab, _ = build_corpus_vocab(srcs, VocabConfig(min_count=1), progress=False)
    tok = make_tokenizer(vocab)
    ds = PairedCorpus(srcs, tok, max_length, seed=0, shuffle_buffer=8, objective=objective)
    return tok, list(itertools.islice(iter(ds), n))


@pytest.mark.parametrize("objective", [NextSentencePrediction(), SentenceOrderPrediction()])
def test_pairs_are_well_formed(tmp_path, objective):
    tok, pairs = _pairs(tmp_path, objective)
    labels = [p["next_sentence_label"] for p in pairs]
    assert 0.35 < np.mean(labels) < 0.65
    for p in pairs:
        ids, tt = p["input_ids"], p["token_type_ids"]
        assert len(ids) == len(tt) <= 48 and ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        assert ids.count(tok.sep_token_id) == 2
        first_sep = ids.index(tok.sep_token_id)
        assert set(tt[: first_sep + 1]) == {0} and set(tt[first_sep + 1:]) == {1}
        assert first_sep > 1 and len(ids) - first_sep > 2  # both segments non-empty


def test_sop_swaps_consecutive_segments(tmp_path):
    """An SOP pair labelled 1 has its halves exchanged: B+A reads as running text (documents are
    shorter than the sequence here, so nothing is truncated)."""
    tok, pairs = _pairs(tmp_path, SentenceOrderPrediction(), max_length=256)
    text = open(tmp_path / "paras.txt", encoding="utf-8").read().replace("\n", "")
    found = 0
    for p in pairs:
        ids = p["input_ids"]
        s = ids.index(tok.sep_token_id)
        a, b = ("".join(t.removeprefix("##") for t in tok.convert_ids_to_tokens(x)) for x in (ids[1:s], ids[s + 1:-1]))
        joined = (b + a) if p["next_sentence_label"] == 1 else (a + b)
        found += joined in text.lower()
    assert found == len(pairs)


def test_registry():
    assert {"mlm", "nsp", "sop", "dea"} <= set(OBJECTIVES)
    assert sentence_objective(["mlm"]) is None
    assert sentence_objective(["mlm", "dea"]) is None
    assert isinstance(sentence_objective(["mlm", "sop"]), SentenceOrderPrediction)


@pytest.mark.slow
@pytest.mark.parametrize("objectives", [["mlm"], ["mlm", "nsp"], ["mlm", "sop"]])
def test_every_objective_loss_falls(tmp_path, objectives):
    cfg = tiny_config(tmp_path, **{"model.objectives": objectives, "training.max_steps": 16, "training.save_steps": 100})
    info = run_pretraining(cfg)
    losses = [json.loads(l)["loss"] for l in (cfg.run_dir / "train_log.jsonl").read_text().splitlines() if '"loss"' in l]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.2, losses
    keys = load_file(str(cfg.run_dir / "best" / "model.safetensors")).keys()
    has_nsp_head = any(k.startswith("cls.seq_relationship.") for k in keys)
    assert has_nsp_head == (len(objectives) > 1)
    if len(objectives) > 1:
        from transformers import AutoModelForMaskedLM, AutoModelForPreTraining

        assert type(AutoModelForPreTraining.from_pretrained(str(cfg.run_dir / "best"))).__name__ == "BertForPreTraining"
        assert type(AutoModelForMaskedLM.from_pretrained(str(cfg.run_dir / "best"))).__name__ == "BertForMaskedLM"
    assert info["global_step"] == 16


def test_sparse_pretraining_head_matches_dense():
    from transformers import BertConfig, BertForPreTraining

    from kgbert.models.modeling_pretraining import BertForSparsePreTraining

    cfg = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    dense = BertForPreTraining(cfg).eval()
    sparse = BertForSparsePreTraining(cfg).eval()
    sparse.load_state_dict(dense.state_dict())
    ids = torch.randint(5, 40, (2, 10))
    labels = torch.full_like(ids, -100)
    labels[0, 3], labels[1, 7] = 8, 9
    nsl = torch.tensor([0, 1])
    d = dense(input_ids=ids, labels=labels, next_sentence_label=nsl)
    s = sparse(input_ids=ids, labels=labels, next_sentence_label=nsl)
    torch.testing.assert_close(s.loss, d.loss)
    torch.testing.assert_close(s.seq_relationship_logits, d.seq_relationship_logits)
