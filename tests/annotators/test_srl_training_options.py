"""SRL tagger: layer-wise lr decay / frozen embeddings, argmax vs Viterbi decoding from one pass,
sentence-split batched prediction (``predict_texts``, the ``srl`` v2 component)."""
from __future__ import annotations

import pytest
import torch

from annotators.srl import SrlArg, SrlFrame, SrlSentence, SrlTagger, bio_labels
from annotators.srl.tagger import sentence_ranges
from annotators.srl.train import featurize, param_groups, train_tagger

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
SENTS = [
    SrlSentence(words="我 吃 苹果 。".split(), frames=[SrlFrame((1, 2), (SrlArg("A0", 0, 1), SrlArg("A1", 2, 3)))]),
    SrlSentence(words="他 昨天 买 了 书 。".split(), frames=[SrlFrame((2, 3), (SrlArg("A0", 0, 1), SrlArg("AM-TMP", 1, 2)))]),
]


def _tagger(seed: int = 0) -> SrlTagger:
    torch.manual_seed(seed)
    labels = bio_labels([a.role for s in SENTS for f in s.frames for a in f.args])
    return SrlTagger.from_scratch(labels, ["".join(s.words) for s in SENTS] + ["他们在学校学习"], **TINY)


def test_layer_decay_groups_and_frozen_embeddings(tmp_path):
    model = _tagger().model
    groups = param_groups(model, 1e-3, 0.01, layer_decay=0.5)
    lrs = {id(p): g["lr"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert lrs[id(named["classifier.weight"])] == pytest.approx(1e-3)
    assert lrs[id(named["bert.encoder.layer.1.output.dense.weight"])] == pytest.approx(5e-4)  # top layer: lr * d
    assert lrs[id(named["bert.encoder.layer.0.output.dense.weight"])] == pytest.approx(2.5e-4)
    assert lrs[id(named["bert.embeddings.word_embeddings.weight"])] == pytest.approx(1.25e-4)
    assert len(lrs) == len(named)  # every parameter in exactly one group
    assert all(g["weight_decay"] == 0.0 for g in groups if any(p is named["classifier.bias"] for p in g["params"]))

    tagger = _tagger()
    emb = tagger.model.bert.embeddings.word_embeddings.weight.detach().clone()
    layer = tagger.model.bert.encoder.layer[0].output.dense.weight.detach().clone()
    feats, _ = featurize(tagger, SENTS, predicate_head=True)
    train_tagger(tagger, feats, epochs=1, batch_size=4, lr=1e-2, seed=0, max_steps=3, workdir=tmp_path / "t",
                 layer_decay=0.8, freeze_embeddings=True)
    assert torch.equal(tagger.model.bert.embeddings.word_embeddings.weight, emb)  # frozen
    assert not torch.equal(tagger.model.bert.encoder.layer[0].output.dense.weight, layer)  # trained


def test_argmax_and_viterbi_from_one_pass_match_single_decoders():
    tagger = _tagger(1)
    words = [s.words for s in SENTS]
    preds = [[f.predicate for f in s.frames] for s in SENTS]
    both = tagger.decode_arguments(words, preds, decoders=("viterbi", "argmax"))
    assert both["viterbi"] == tagger.label_arguments(words, preds)
    assert both["argmax"] == tagger.label_arguments(words, preds, constrained=False)
    with pytest.raises(ValueError, match="unknown decoder"):
        tagger.decode_arguments(words, preds, decoders=("beam",))


def test_sentence_ranges_split_at_final_punctuation_and_at_the_limit():
    words = ["我", "吃", "。", "他", "跑", "！", "好"]
    assert sentence_ranges(words, [1] * 7, 100) == [(0, 3), (3, 6), (6, 7)]
    assert sentence_ranges(words, [1] * 7, 2) == [(0, 2), (2, 3), (3, 5), (5, 6), (6, 7)]
    assert sentence_ranges([], [], 10) == []


def test_predict_texts_tags_each_sentence_like_predict():
    tagger = _tagger(2)
    text = "我吃苹果。他昨天买了书。"
    words = [(0, 1), (1, 2), (2, 4), (4, 5), (5, 6), (6, 8), (8, 9), (9, 10), (10, 11), (11, 12)]
    got = tagger.predict_texts([text, "他买书"], [words, [(0, 1), (1, 2), (2, 3)]])
    first = tagger.predict(text[:5], words[:4])
    second = [f.__class__(predicate=(f.predicate[0] + 5, f.predicate[1] + 5),
                          args=tuple(a.__class__(a.role, a.start + 5, a.end + 5) for a in f.args))
              for f in tagger.predict(text[5:], [(s - 5, e - 5) for s, e in words[4:]])]
    assert got[0] == first + second
    assert got[1] == tagger.predict("他买书", [(0, 1), (1, 2), (2, 3)])
    # a text longer than the model (64 positions) is cut into pieces instead of failing
    long_text = "我吃苹果" * 40
    long_words = [(i, i + 1) for i in range(len(long_text))]
    with pytest.raises(ValueError, match="more than the model's maximum"):
        tagger.predict(long_text, long_words)
    assert isinstance(tagger.predict_texts([long_text], [long_words])[0], list)
    with pytest.raises(ValueError, match="text 0: words\\[1\\]"):
        tagger.predict_texts(["我吃"], [[(0, 1), (0, 2)]])


def test_srl_component_v2_pipe_equals_per_doc_and_v1_stays_registered(tmp_path):
    import annotators
    from annotators.names import COMPONENTS
    from spacy.language import Language

    _tagger(3).save_pretrained(tmp_path / "srl")
    nlp = annotators.make_pipeline(components=("srl",), srl_model=tmp_path / "srl")
    assert COMPONENTS["srl"] == "kgbert_srl_v2" and Language.has_factory("kgbert_srl_v1")
    texts = ["我吃苹果。他昨天买了书。", "他们在学校学习", "我" * 100]  # the last is longer than the model
    piped = [annotators.to_annotation(d) for d in nlp.pipe(texts, batch_size=2)]
    assert piped == [annotators.to_annotation(nlp(t)) for t in texts]
    assert all(fr.predicate[1] <= len(texts[0]) for fr in piped[0].srl)
