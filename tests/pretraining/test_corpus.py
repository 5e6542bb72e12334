"""Corpus reading, packing and vocabulary: formats, gzip, clear errors, FULL-SENTENCES packing."""
from __future__ import annotations

import gzip
import itertools

import pytest

from kgbert.checkpoints import load_tokenizer, make_tokenizer
from kgbert.pretraining.config import ConfigError, CorpusSource, VocabConfig, pretrain_config_from_dict
from kgbert.pretraining.corpus import CorpusError, check_sources, iter_documents, iter_split
from kgbert.pretraining.data import PackedCorpus, Packer, heldout_sequences
from kgbert.pretraining.vocab import build_corpus_vocab
from tests.pretraining.helpers import write_corpus


def test_paragraph_and_doc_formats_and_gzip(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("第一句。\n第二句。\n\n\n第三句。\n", encoding="utf-8")
    assert list(iter_documents(CorpusSource(path=str(p), format="paragraphs"))) == [["第一句。", "第二句。"], ["第三句。"]]
    assert list(iter_documents(CorpusSource(path=str(p), format="docs"))) == [["第一句。"], ["第二句。"], ["第三句。"]]
    g = tmp_path / "a.txt.gz"
    with gzip.open(g, "wt", encoding="utf-8") as fh:
        fh.write(p.read_text(encoding="utf-8"))
    assert list(iter_documents(CorpusSource(path=str(g)))) == list(iter_documents(CorpusSource(path=str(p))))


def test_invalid_utf8_names_file_and_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes("好的\n也好\n".encode() + b"\xff\xfe bad\n")
    with pytest.raises(CorpusError, match=r"bad\.txt:3: invalid UTF-8"):
        list(iter_documents(CorpusSource(path=str(p))))


def test_empty_missing_and_truncated_gzip(tmp_path):
    e = tmp_path / "empty.txt"
    e.write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match="empty.txt: empty corpus file"):
        check_sources([CorpusSource(path=str(e))])
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="blank.txt: empty corpus file"):
        list(iter_documents(CorpusSource(path=str(blank))))
    with pytest.raises(CorpusError, match="no such corpus file"):
        check_sources([CorpusSource(path=str(tmp_path / "nope.txt"))])
    with pytest.raises(CorpusError, match="data.corpus is empty"):
        check_sources([])
    g = tmp_path / "cut.txt.gz"
    g.write_bytes(gzip.compress(("好" * 5000 + "\n").encode() * 20)[:200])
    with pytest.raises(CorpusError, match=r"cut\.txt\.gz:\d+: cannot read"):
        list(iter_documents(CorpusSource(path=str(g))))


def test_tsv_column_and_examples_sources(tmp_path):
    t = tmp_path / "r.txt"
    t.write_text("甲\t乙\trel\t句子一\n\n甲\t乙\trel\t句子二\n", encoding="utf-8")
    assert list(iter_documents(CorpusSource(path=str(t), format="tsv_column", column=3))) == [["句子一"], ["句子二"]]
    n = tmp_path / "ner.tsv"
    n.write_text("text_a\tlabel\n头 痛\tB-S I-S\n", encoding="utf-8")
    assert list(iter_documents(CorpusSource(path=str(n), format="tsv_column", header=True, strip_spaces=True))) == [["头痛"]]
    assert list(iter_documents(CorpusSource(path=str(n), format="examples", reader="ner_tsv", task="token"))) == [["头痛"]]
    with pytest.raises(CorpusError, match=r"r\.txt:1: expected at least 6"):
        list(iter_documents(CorpusSource(path=str(t), format="tsv_column", column=5)))


def test_holdout_is_disjoint_and_stable(tmp_path):
    p1, _ = write_corpus(tmp_path, n_docs=200)
    src = CorpusSource(path=str(p1), holdout=0.2)
    train = list(iter_split(src, "train"))
    held = list(iter_split(src, "heldout"))
    assert len(train) + len(held) == len(list(iter_documents(src)))
    assert 10 < len(held) < 80
    assert not {tuple(d) for d in train} & {tuple(d) for d in held}
    assert held == list(iter_split(src, "heldout"))


def test_packer_full_sentences():
    pk = Packer(6, cls_id=2, sep_id=3)
    out = list(pk.add([10, 11, 12]))
    pk.new_document()
    out += list(pk.add([20, 21, 22, 23, 24]))
    out += list(pk.flush())
    assert [s["input_ids"] for s in out] == [[2, 10, 11, 12, 3, 3], [2, 20, 21, 22, 23, 3], [2, 24, 3]]


def test_packed_stream_deterministic_and_full_length(tmp_path):
    p1, p2 = write_corpus(tmp_path, n_docs=30)
    srcs = [CorpusSource(path=str(p1)), CorpusSource(path=str(p2), format="docs")]
    vocab, _ = build_corpus_vocab(srcs, VocabConfig(min_count=1), progress=False)
    tok = make_tokenizer(vocab)
    a = list(itertools.islice(iter(PackedCorpus(srcs, tok, 24, seed=1, shuffle_buffer=8)), 200))  # > 1 pass: endless
    b = list(itertools.islice(iter(PackedCorpus(srcs, tok, 24, seed=1, shuffle_buffer=8)), 200))
    assert a == b
    assert all(len(s["input_ids"]) == 24 and s["input_ids"][0] == tok.cls_token_id and s["input_ids"][-1] == tok.sep_token_id for s in a)
    assert [s["key"] for s in a] == list(range(200))
    assert max(s["pass"] for s in a) >= 1
    assert tok.unk_token_id not in {t for s in a for t in s["input_ids"]}


def test_vocab_reads_as_is_with_bert_tokenizers(tmp_path):
    from transformers import BertTokenizer, BertTokenizerFast

    from kgbert.pretraining.run import write_vocab_txt

    p1, p2 = write_corpus(tmp_path, n_docs=30)
    srcs = [CorpusSource(path=str(p1)), CorpusSource(path=str(p2), format="docs")]
    vocab, counts = build_corpus_vocab(srcs, VocabConfig(min_count=1, latin_words=10), progress=False)
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert "abc" in vocab and "##1" in vocab  # Latin word piece; digit continuation
    d = tmp_path / "tok"
    t = make_tokenizer(vocab)
    t.save_pretrained(d)
    write_vocab_txt(t, d)
    assert (d / "vocab.txt").read_text(encoding="utf-8").splitlines() == vocab
    only_vocab = tmp_path / "only_vocab"
    only_vocab.mkdir()
    (only_vocab / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    text = "高血压患者服用依那普利ABC2024"
    ids = load_tokenizer(d)(text)["input_ids"]
    assert BertTokenizer(str(only_vocab / "vocab.txt"))(text)["input_ids"] == ids
    assert BertTokenizerFast(str(only_vocab / "vocab.txt"))(text)["input_ids"] == ids
    assert 1 not in ids


def test_heldout_sequences(tmp_path):
    p1, _ = write_corpus(tmp_path, n_docs=200)
    src = CorpusSource(path=str(p1), holdout=0.2)
    vocab, _ = build_corpus_vocab([src], VocabConfig(min_count=1), progress=False)
    seqs = heldout_sequences(src, make_tokenizer(vocab), 16, 5)
    assert len(seqs) == 5 and all(len(s["input_ids"]) == 16 for s in seqs)


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown key 'data.corpos'"):
        pretrain_config_from_dict({"data": {"corpos": []}})
    with pytest.raises(ConfigError, match="objectives"):
        pretrain_config_from_dict({"model": {"objectives": ["nsp"]}})
    with pytest.raises(ConfigError, match="reader and task"):
        pretrain_config_from_dict({"data": {"corpus": [{"path": "x", "format": "examples"}]}})
    cfg = pretrain_config_from_dict({}, overrides=["training.lr=5e-4", "masking.static=true"])
    assert cfg.training.lr == 5e-4 and cfg.masking.static is True


def test_every_pass_packs_the_same_sequences(tmp_path):
    """Static masking needs identical examples in every pass over a source."""
    p1, p2 = write_corpus(tmp_path, n_docs=12)
    srcs = [CorpusSource(path=str(p1)), CorpusSource(path=str(p2), format="docs", weight=0.5)]
    vocab, _ = build_corpus_vocab(srcs, VocabConfig(min_count=1), progress=False)
    seqs = list(itertools.islice(iter(PackedCorpus(srcs, make_tokenizer(vocab), 24, seed=2, shuffle_buffer=4)), 400))
    passes = {}
    for s in seqs:
        passes.setdefault(s["pass"], set()).add(tuple(s["input_ids"]))
    assert len(passes) >= 3
    assert passes[1] <= passes[0] and passes[2] <= passes[0]
