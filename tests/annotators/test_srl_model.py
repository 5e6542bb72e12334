"""The SRL tagger: training makes the loss drop, save/load round-trips, predict() contract."""
from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoConfig, AutoModel, BertConfig, BertForMaskedLM, BertTokenizer

from annotators import Frame
from annotators.srl import SrlArg, SrlBertForSrl, SrlFrame, SrlSentence, SrlTagger, bio_labels, sentence_to_annotation
from annotators.srl.tagger import char_vocab
from annotators.srl.train import featurize, main, train_tagger

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)


def _sentences() -> list[SrlSentence]:
    def s(words, pred, *args):
        return SrlSentence(words=words.split(), frames=[SrlFrame((pred, pred + 1), tuple(SrlArg(r, a, b) for r, a, b in args))])

    return [
        s("我 吃 苹果 。", 1, ("A0", 0, 1), ("A1", 2, 3)),
        s("他 昨天 买 了 一 本 书 。", 2, ("A0", 0, 1), ("AM-TMP", 1, 2), ("A1", 4, 7)),
        s("老师 在 学校 教 学生 。", 3, ("A0", 0, 1), ("AM-LOC", 1, 3), ("A2", 4, 5)),
        s("她 喜欢 唱歌 。", 1, ("A0", 0, 1), ("A1", 2, 3)),
        s("我们 明天 去 北京 。", 2, ("A0", 0, 1), ("AM-TMP", 1, 2), ("A1", 3, 4)),
        s("小 狗 不 吃 肉 。", 3, ("A0", 0, 2), ("AM-NEG", 2, 3), ("A1", 4, 5)),
    ]


def _tagger(seed: int = 0) -> SrlTagger:
    torch.manual_seed(seed)
    sents = _sentences()
    labels = bio_labels([a.role for s in sents for f in s.frames for a in f.args])
    return SrlTagger.from_scratch(labels, ["".join(s.words) for s in sents], **TINY)


def test_training_makes_the_loss_drop(tmp_path):
    tagger = _tagger()
    feats, skipped = featurize(tagger, _sentences(), predicate_head=True)
    assert skipped == 0 and len(feats) == 12  # one argument + one predicate example per sentence
    batch = tagger.collate(feats)
    tagger.model.eval()
    with torch.no_grad():
        before = tagger.model(**batch).loss.item()
    train_tagger(tagger, feats, epochs=1, batch_size=4, lr=3e-3, seed=0, max_steps=40, workdir=tmp_path / "t")
    with torch.no_grad():
        after = tagger.model(**batch).loss.item()
    assert after < 0.5 * before, (before, after)
    # after fitting, gold-predicate decoding recovers most training arguments
    sents = _sentences()
    frames = tagger.label_arguments([s.words for s in sents], [[f.predicate for f in s.frames] for s in sents])
    gold = {(k, a) for k, s in enumerate(sents) for a in s.frames[0].args}
    got = {(k, a) for k, fr in enumerate(frames) for a in fr[0].args}
    assert len(gold & got) >= len(gold) // 2


def test_forward_loss_only_with_labels_and_shapes():
    tagger = _tagger()
    feats = tagger.training_features(_sentences()[1].words, _sentences()[1].frames)
    batch = tagger.collate(feats)
    out = tagger.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
    assert out.loss is None
    assert out.logits.shape == (2, batch["input_ids"].shape[1], len(tagger.labels))
    assert out.predicate_logits.shape == (2, batch["input_ids"].shape[1], 2)
    # the predicate indicator: token type 1 exactly on the predicate's tokens of the argument example
    assert batch["token_type_ids"][0].tolist().count(1) == 1 and batch["token_type_ids"][1].sum() == 0
    assert tagger.model(**batch).loss is not None


def test_save_load_gives_identical_predictions(tmp_path):
    tagger = _tagger(seed=3)
    text = "他昨天买了一本书。"
    words = [(0, 1), (1, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9)]
    tagger.save_pretrained(tmp_path / "srl")
    loaded = SrlTagger.from_pretrained(tmp_path / "srl")
    for preds in ([2], [0, 2, 5], None):
        assert loaded.predict(text, words, predicates=preds) == tagger.predict(text, words, predicates=preds)
    feats = [tagger.encode(["他", "买", "书"], (1, 2))]
    with torch.no_grad():
        assert torch.equal(tagger._forward(feats).logits, loaded._forward(feats).logits)
    assert isinstance(AutoModel.from_pretrained(tmp_path / "srl"), SrlBertForSrl)
    assert AutoConfig.from_pretrained(tmp_path / "srl").model_type == "kgbert_srl"


def test_predict_returns_frames_with_character_offsets():
    tagger = _tagger()
    sent = _sentences()[1]
    ann = sentence_to_annotation(sent)
    frames = tagger.predict(ann.text, ann.words, predicates=[2])
    assert len(frames) == 1 and isinstance(frames[0], Frame)
    assert frames[0].predicate == ann.words[2]
    starts, ends = {s for s, _ in ann.words}, {e for _, e in ann.words}
    for a in frames[0].args:
        assert a.start in starts and a.end in ends and a.role in {t[2:] for t in tagger.labels if t != "O"}
    assert tagger.predict("", []) == []


def test_predict_rejects_bad_words_and_overlong_text():
    tagger = _tagger()
    with pytest.raises(ValueError, match="outside the text"):
        tagger.predict("我吃", [(0, 1), (1, 5)])
    with pytest.raises(ValueError, match="overlapping"):
        tagger.predict("我吃苹果", [(0, 2), (1, 3)])
    with pytest.raises(ValueError, match="POS tags"):
        tagger.predict("我吃", [(0, 1), (1, 2)], pos=["r"])
    long = "吃" * 100
    with pytest.raises(ValueError, match="maximum of 64"):
        tagger.predict(long, [(i, i + 1) for i in range(100)], predicates=[0])


def test_pos_fallback_when_there_is_no_predicate_head():
    tagger = _tagger()
    assert tagger.config.predicate_head is False  # an untrained head is never used
    text, words = "我吃苹果", [(0, 1), (1, 2), (2, 4)]
    assert [f.predicate for f in tagger.predict(text, words, pos=["r", "v", "n"])] == [(1, 2)]
    assert [f.predicate for f in tagger.predict(text, words, pos=["PRON", "VERB", "NOUN"])] == [(1, 2)]
    assert [f.predicate for f in tagger.predict(text, words)] == [(1, 2)]  # jieba tags 吃 as a verb


def test_traditional_input_is_converted_like_training():
    tagger = _tagger()
    assert tagger.word_pieces("書") == tagger.word_pieces("书") != [tagger.tokenizer.unk_token_id]


def test_from_local_backbone_keeps_its_bert_weights(tmp_path):
    vocab = char_vocab(["我吃苹果他买书"])
    BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}).save_pretrained(tmp_path / "bert")
    torch.manual_seed(5)
    BertForMaskedLM(BertConfig(vocab_size=len(vocab), **TINY)).save_pretrained(tmp_path / "bert")
    tagger = SrlTagger.from_backbone(tmp_path / "bert", ["O", "B-A0", "I-A0"])
    ref = BertForMaskedLM.from_pretrained(tmp_path / "bert")
    assert torch.equal(tagger.model.bert.embeddings.word_embeddings.weight, ref.bert.embeddings.word_embeddings.weight)
    assert tagger.tokenizer.tokenize("我吃") == ["我", "吃"]


UP_TINY = "".join(
    f"# sentence-text: {' '.join(s.words)}\n"
    + "".join(
        f"{i + 1}\t{w}\t{w}\t{'VERB' if i == s.frames[0].predicate[0] else 'NOUN'}\t_\t_\t0\t_\t"
        + ("Y\tx.01\t" if i == s.frames[0].predicate[0] else "_\t_\t")
        + next((a.role for a in s.frames[0].args if a.start == i), "_")
        + "\n"
        for i, w in enumerate(s.words)
    )
    + "\n"
    for s in _sentences()
)


def test_train_cli_end_to_end(tmp_path):
    (tmp_path / "zh-up-dev.conllu").write_text(UP_TINY, encoding="utf-8")
    (tmp_path / "zh-up-test.conllu").write_text(UP_TINY, encoding="utf-8")
    out = tmp_path / "run"
    argv = ["--data", str(tmp_path), "--out", str(out), "--hidden-size", "32", "--layers", "1", "--heads", "2", "--max-steps", "3"]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["init"].startswith("from scratch")
    assert set(metrics["predicate_identification"]) == {"model", "gold_pos_verbs", "jieba_verbs"}
    assert metrics["predicate_identification"]["gold_pos_verbs"]["f1"] == 1.0
    assert metrics["arguments_gold_predicates"]["gold"] == 16
    assert (out / "predictions" / "test.conllu").is_file()
    SrlTagger.from_pretrained(out).predict("我吃苹果", [(0, 1), (1, 2), (2, 4)])
    with pytest.raises(SystemExit, match="exists"):
        main(argv)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]  # no temp dirs left
