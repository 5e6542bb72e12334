"""BERT's pretraining family on a BERT backbone: SpanBERT (span masking, SBO), StructBERT (word
and sentence structural objectives), the RoBERTa recipe; each loss falls on a tiny model and the
exported checkpoint is a plain BERT checkpoint that the fine-tuning heads take."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from kgbert.checkpoints import make_tokenizer
from kgbert.data.collators import IGNORE_INDEX, build_collator, sample_spans, span_length_probs, units_from_ids
from kgbert.objectives import OBJECTIVES, HeadContext, SentenceStructuralObjective, SpanBoundaryObjective, sentence_objective
from kgbert.pretraining.config import ConfigError, load_pretrain_config
from tests.pretraining.helpers import tiny_config
from tests.pretraining.test_objectives import _pairs

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [chr(0x4E00 + i) for i in range(995)]
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pretrain"


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer(VOCAB)


@pytest.fixture
def one_thread():
    """Tiny models step faster on one thread (two thrash on a loaded machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _segmentation(rng, n, max_word=4):
    """Per-token word ids of a random segmentation of n tokens into words of 1..max_word tokens."""
    wid, w = [], 0
    while len(wid) < n:
        wid += [w] * int(rng.integers(1, max_word + 1))
        w += 1
    return wid[:n]


# -- SpanBERT: span masking ------------------------------------------------------------------

def test_span_lengths_follow_the_clipped_geometric():
    """Drawn lengths follow geometric(0.2) clipped at 10 (mean 3.80); every span gets its drawn
    length except the last of a sequence (cut by the budget); the realised mean stays close."""
    probs = span_length_probs(0.2, 10)
    theory = float((np.arange(1, 11) * probs).sum())
    assert abs(theory - 3.797) < 1e-3
    rng = np.random.default_rng(0)
    drawn, realised = [], []
    for _ in range(300):
        maskable = np.ones(512, dtype=bool)
        maskable[[0, 255, 511]] = False  # [CLS], a document [SEP], [SEP]
        spans = sample_spans(maskable, None, rng, mlm_probability=0.15, length_probs=probs)
        for k, sp in enumerate(spans):
            assert sp.last - sp.first + 1 == sp.words <= sp.drawn <= 10
            assert not (sp.first <= 255 <= sp.last)  # never across a special token
            if k < len(spans) - 1:
                assert sp.words == sp.drawn
        drawn += [sp.drawn for sp in spans]
        realised += [sp.words for sp in spans]
    drawn_a = np.asarray(drawn)
    assert len(drawn_a) > 5000
    assert abs(drawn_a.mean() - theory) < 0.12, drawn_a.mean()
    freq = np.bincount(drawn_a, minlength=11)[1:] / len(drawn_a)
    assert np.abs(freq - probs).max() < 0.02, (freq, probs)
    assert theory - 0.4 < np.mean(realised) <= theory, np.mean(realised)


def test_span_masking_whole_words_budget_and_80_10_10_per_span(tok):
    col = build_collator("span", tok, seed=7, boundaries=True)
    rng = np.random.default_rng(3)
    masked = total = spans_n = spans_mask = spans_kept = 0
    span_words = []
    for k in range(300):
        n = 126
        wid = [-1, *_segmentation(rng, n), -1]
        ids = [2, *rng.integers(5, len(VOCAB), size=n).tolist(), 3]
        b = col([{"input_ids": ids, "word_ids": wid, "key": k}])
        lab, inp = b["labels"][0].numpy(), b["input_ids"][0].numpy()
        left, right = b["span_left"][0].numpy(), b["span_right"][0].numpy()
        chosen = lab != IGNORE_INDEX
        assert not chosen[0] and not chosen[-1]
        assert np.array_equal(lab[chosen], np.asarray(ids)[chosen])
        assert np.array_equal(inp[~chosen], np.asarray(ids)[~chosen])
        for u in units_from_ids(np.asarray(wid)):
            assert chosen[u].all() or not chosen[u].any(), f"part of word {u} masked"
        assert ((left != IGNORE_INDEX) == chosen).all() and ((right != IGNORE_INDEX) == chosen).all()
        for s in set(zip(left[chosen].tolist(), right[chosen].tolist())):
            inside = np.arange(s[0] + 1, s[1])
            assert chosen[inside].all() and (left[inside] == s[0]).all() and (right[inside] == s[1]).all()
            # a boundary is unmasked or the edge of an adjacent span
            assert not chosen[s[0]] or right[s[0]] == s[0] + 1
            assert not chosen[s[1]] or left[s[1]] == s[1] - 1
            words = {wid[i] for i in inside}
            assert wid[s[0]] not in words and wid[s[1]] not in words  # spans start and end at word boundaries
            span_words.append(len(words))
            spans_n += 1
            spans_mask += bool((inp[inside] == 4).all())
            spans_kept += bool((inp[inside] == lab[inside]).all())
            assert (inp[inside] == 4).all() or not (inp[inside] == 4).any()  # decided per span
        masked += chosen.sum()
        total += n
    assert abs(masked / total - 0.15) < 0.01
    assert abs(spans_mask / spans_n - 0.8) < 0.04 and abs(spans_kept / spans_n - 0.1) < 0.03
    # realised lengths: the 19-token budget of a 128-token sequence cuts the last span (about 2.6 words on average)
    assert max(span_words) <= 10 and 2.2 < np.mean(span_words) < 3.8


def test_span_needs_words_unless_told(tok):
    f = {"input_ids": [2, *range(5, 40), 3], "key": 0}
    with pytest.raises(ValueError, match="word_ids"):
        build_collator("span", tok)([f])
    b = build_collator("span", tok, words=False)([f])
    assert (b["labels"] != IGNORE_INDEX).sum() == round(35 * 0.15)
    assert "span_left" not in b  # boundaries only when the sbo objective asks for them


# -- SpanBERT: the span boundary objective ------------------------------------------------------

def test_sbo_reads_exactly_the_boundary_positions():
    torch.manual_seed(0)
    obj = SpanBoundaryObjective()
    H, V = 16, 30

    class _Cfg:
        hidden_size, layer_norm_eps = H, 1e-12

    head = obj.build_head(_Cfg()).eval()
    decoder = torch.nn.Linear(H, V)
    seq = torch.randn(2, 12, H)
    labels = torch.full((2, 12), IGNORE_INDEX)
    left, right = labels.clone(), labels.clone()
    labels[0, 3:6] = torch.tensor([7, 8, 9])  # span 3..5: boundaries 2 and 6
    left[0, 3:6], right[0, 3:6] = 2, 6
    labels[1, 9] = 4  # span 9..9: boundaries 8 and 10
    left[1, 9], right[1, 9] = 8, 10
    inputs = {"span_left": left, "span_right": right}

    def logits(x):
        return obj.logits(head, HeadContext(x, None, labels, decoder, decoder), inputs)[0]

    ref = logits(seq)
    assert ref.shape == (4, V)
    boundary = torch.zeros(2, 12, dtype=torch.bool)
    boundary[0, [2, 6]] = boundary[1, [8, 10]] = True
    perturbed = torch.where(boundary[..., None], seq, torch.randn_like(seq) * 5)  # the span tokens too
    torch.testing.assert_close(logits(perturbed), ref, rtol=0, atol=0)
    for b, i in ((0, 2), (0, 6), (1, 8), (1, 10)):
        x = seq.clone()
        x[b, i] += 1.0
        assert not torch.allclose(logits(x), ref)
    # the relative position matters: the same boundaries give different predictions per offset
    assert not torch.allclose(ref[0], ref[1])


# -- StructBERT ---------------------------------------------------------------------------------

def test_shuffled_trigrams_are_recovered_by_the_labels(tok):
    col = build_collator("mlm", tok, seed=1, shuffle_fraction=0.05, shuffle_k=3)
    rng = np.random.default_rng(5)
    windows = identity = 0
    for k in range(200):
        n = 126
        ids = np.asarray([2, *rng.permutation(np.arange(5, len(VOCAB)))[:n].tolist(), 3])  # distinct tokens
        b = col([{"input_ids": ids.tolist(), "key": k}])
        inp, mlm, shuf = b["input_ids"][0].numpy(), b["labels"][0].numpy(), b["shuffle_labels"][0].numpy()
        s = shuf != IGNORE_INDEX
        assert not (s & (mlm != IGNORE_INDEX)).any()  # shuffled tokens are never masked ones
        assert not s[0] and not s[-1]
        restored = inp.copy()
        restored[s] = shuf[s]
        restored[mlm != IGNORE_INDEX] = mlm[mlm != IGNORE_INDEX]
        assert np.array_equal(restored, ids)  # putting the labels back recovers the original order
        pos = np.flatnonzero(s)
        assert len(pos) % 3 == 0
        for w in pos.reshape(-1, 3):
            assert w[1] == w[0] + 1 and w[2] == w[0] + 2  # three consecutive positions
            assert sorted(inp[w]) == sorted(ids[w])  # a permutation of them
            identity += bool(np.array_equal(inp[w], ids[w]))
        windows += len(pos) // 3
        assert len(pos) // 3 == round(0.05 * (n - int((mlm != IGNORE_INDEX).sum())))
    assert identity == 0 and windows >= 900


def test_sentence_structure_labels_balanced_and_right(tmp_path):
    tok, pairs = _pairs(tmp_path, SentenceStructuralObjective(), n=600, max_length=256)
    labels = np.asarray([p["sentence_structure_label"] for p in pairs])
    assert all("next_sentence_label" not in p for p in pairs)
    share = np.bincount(labels, minlength=3) / len(labels)
    assert np.abs(share - 1 / 3).max() < 0.06, share
    text = open(tmp_path / "paras.txt", encoding="utf-8").read().replace("\n", "")
    for p in pairs:
        ids = p["input_ids"]
        s = ids.index(tok.sep_token_id)
        a, b = ("".join(t.removeprefix("##") for t in tok.convert_ids_to_tokens(x)) for x in (ids[1:s], ids[s + 1:-1]))
        label = p["sentence_structure_label"]
        if label < 2:  # next: A+B is running text; previous: B+A is
            assert ((a + b) if label == 0 else (b + a)) in text.lower()
    batch = build_collator("mlm", tok, seed=0)(pairs[:8])
    assert batch["sentence_structure_label"].tolist() == labels[:8].tolist()


def test_objective_registry_and_config_checks(tmp_path):
    assert {"mlm", "nsp", "sop", "sbo", "wso", "sso"} <= set(OBJECTIVES)
    assert isinstance(sentence_objective(["mlm", "wso", "sso"]), SentenceStructuralObjective)
    assert sentence_objective(["mlm", "sbo"]) is None
    tiny_config(tmp_path, **{"masking.strategy": "span", "model.objectives": ["mlm", "sbo"]})
    tiny_config(tmp_path, **{"model.objectives": ["mlm", "wso", "sso"]})
    for objectives, strategy, match in ((["mlm", "sbo"], "mlm", "needs masking.strategy 'span'"),
                                        (["mlm", "nsp", "sso"], "mlm", "at most one sentence objective"),
                                        (["sbo"], "span", "contain mlm"),
                                        (["mlm", "xyz"], "mlm", "unknown objective")):
        with pytest.raises(ConfigError, match=match):
            tiny_config(tmp_path, **{"masking.strategy": strategy, "model.objectives": objectives})


# -- every objective's loss falls; the checkpoint fine-tunes ----------------------------------

def _tiny_model(objectives, sentence):
    from transformers import BertConfig

    from kgbert.models.modeling_pretraining import BertForSparseMaskedLM, BertForSparsePreTraining

    cfg = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, pretraining_objectives=objectives)
    torch.manual_seed(0)
    return (BertForSparsePreTraining if sentence else BertForSparseMaskedLM)(cfg)


@pytest.mark.parametrize("objectives,strategy,options", [
    (["mlm", "sbo"], "span", {"boundaries": True, "words": False}),
    (["mlm", "wso"], "mlm", {"shuffle_fraction": 0.05}),
    (["mlm", "sso"], "mlm", {}),
])
def test_each_objective_loss_falls(tok, one_thread, objectives, strategy, options):
    rng = np.random.default_rng(0)
    feats = []
    for k in range(16):
        lo = 5 + 20 * (k % 3)  # the sentence label (k % 3) shows in the tokens: learnable in a few steps
        ids = [2, *rng.integers(lo, lo + 20, size=30).tolist(), 3, *rng.integers(lo, lo + 20, size=29).tolist(), 3]
        f = {"input_ids": ids, "key": k, "token_type_ids": [0] * 32 + [1] * 30}
        if "sso" in objectives:
            f["sentence_structure_label"] = k % 3
        feats.append(f)
    batch = build_collator(strategy, tok, seed=0, **options)(feats)
    model = _tiny_model(objectives, "sso" in objectives)
    name = objectives[-1]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    curve = []
    for _ in range(40):
        out = model(**batch)
        curve.append(float(out.objective_losses[name].detach()))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    mlm = torch.nn.functional.cross_entropy(out.logits, batch["labels"][batch["labels"] != IGNORE_INDEX])
    torch.testing.assert_close(out.loss, mlm + out.objective_losses[name])  # the total is the sum
    assert np.mean(curve[-3:]) < np.mean(curve[:3]) - 0.3, curve
    with pytest.raises(TypeError, match="unexpected input"):
        model(**batch, bogus=batch["labels"])


@pytest.mark.slow
@pytest.mark.parametrize("over", [
    {"masking.strategy": "span", "masking.options": {"words": False}, "model.objectives": ["mlm", "sbo"]},
    {"model.objectives": ["mlm", "wso", "sso"]},
], ids=["spanbert", "structbert"])
def test_pretrain_run_exports_a_plain_bert_checkpoint(tmp_path, one_thread, over):
    from transformers import AutoModelForMaskedLM

    from kgbert.models import build_model
    from kgbert.pretraining.run import run_pretraining

    cfg = tiny_config(tmp_path, **over, **{"training.max_steps": 12, "training.save_steps": 6})
    info = run_pretraining(cfg)
    losses = [json.loads(line)["loss"] for line in (cfg.run_dir / "train_log.jsonl").read_text().splitlines() if '"loss"' in line]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.2, losses
    ckpt = load_file(str(cfg.run_dir / "checkpoints" / "checkpoint-12" / "model.safetensors"))
    assert any(k.startswith("objective_heads.") for k in ckpt) == ("sbo" in over["model.objectives"] or "sso" in over["model.objectives"])
    best = cfg.run_dir / "best"
    weights = load_file(str(best / "model.safetensors"))
    assert {k.split(".")[0] for k in weights} == {"bert", "cls"}
    assert not any(k.startswith("cls.seq_relationship") for k in weights)
    cfg_json = json.loads((best / "config.json").read_text())
    assert cfg_json["model_type"] == "bert" and "pretraining_objectives" not in cfg_json
    assert cfg_json["architectures"] == ["BertForMaskedLM"]
    assert type(AutoModelForMaskedLM.from_pretrained(str(best), local_files_only=True)).__name__ == "BertForMaskedLM"
    for task in ("sequence", "token"):
        m = build_model("bert", task, 3, backbone=str(best))
        torch.testing.assert_close(m.bert.embeddings.word_embeddings.weight, weights["bert.embeddings.word_embeddings.weight"])
    assert info["recipe"]["objectives"] == over["model.objectives"]


# -- the recipes ------------------------------------------------------------------------------

def test_family_recipes_match_the_wwm_budget_and_roberta_is_roberta():
    wwm = load_pretrain_config(CONFIGS / "zh_small_wwm.yaml")
    span = load_pretrain_config(CONFIGS / "zh_small_spanbert.yaml")
    struct = load_pretrain_config(CONFIGS / "zh_small_structbert.yaml")
    for cfg in (span, struct):
        assert cfg.model.config == wwm.model.config and cfg.training == wwm.training
        assert cfg.data.corpus == wwm.data.corpus and cfg.data.max_length == wwm.data.max_length
    assert span.masking.strategy == "span" and span.model.objectives == ["mlm", "sbo"]
    assert struct.model.objectives == ["mlm", "wso", "sso"]
    roberta = load_pretrain_config(CONFIGS / "zh_small_roberta.yaml")
    assert roberta.masking.static is False and roberta.masking.strategy == "mlm"
    assert roberta.model.objectives == ["mlm"]  # no NSP: FULL-SENTENCES packing
    assert roberta.model.config == wwm.model.config and roberta.data.corpus == wwm.data.corpus
    t, w = roberta.training, wwm.training
    assert t.batch_size * t.grad_accum >= 8 * w.batch_size  # large effective batch
    assert t.max_steps * t.batch_size * t.grad_accum > w.max_steps * w.batch_size  # longer training
