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


def test_packer_short_sequences_keep_every_token():
    import numpy as np

    with pytest.raises(ValueError, match="needs an rng"):
        Packer(10, cls_id=2, sep_id=3, short_seq_prob=0.5)
    pk = Packer(10, cls_id=2, sep_id=3, short_seq_prob=0.5, rng=np.random.default_rng(0))
    out = []
    for i in range(40):
        out += list(pk.add(list(range(100 + 7 * i, 107 + 7 * i))))
    lengths = [len(s["input_ids"]) for s in out]
    assert all(4 <= n <= 10 for n in lengths) and min(lengths) < 10 and lengths.count(10) > len(lengths) // 4
    assert all(s["input_ids"][0] == 2 and s["input_ids"][-1] == 3 for s in out)
    body = [t for s in out for t in s["input_ids"][1:-1]]
    assert body == list(range(100, 100 + len(body)))  # nothing dropped, nothing reordered


def test_packed_stream_short_sequences_deterministic(tmp_path):
    p1, p2 = write_corpus(tmp_path, n_docs=30)
    srcs = [CorpusSource(path=str(p1)), CorpusSource(path=str(p2), format="docs")]
    vocab, _ = build_corpus_vocab(srcs, VocabConfig(min_count=1), progress=False)
    tok = make_tokenizer(vocab)
    a = list(itertools.islice(iter(PackedCorpus(srcs, tok, 24, seed=1, shuffle_buffer=8, short_seq_prob=0.3)), 300))
    b = list(itertools.islice(iter(PackedCorpus(srcs, tok, 24, seed=1, shuffle_buffer=8, short_seq_prob=0.3)), 300))
    assert a == b
    short = sum(len(s["input_ids"]) < 24 for s in a) / len(a)
    assert 0.15 < short < 0.45
    # every pass of a source packs the same sequences (what static masking needs)
    stream = PackedCorpus(srcs, tok, 24, seed=1, short_seq_prob=0.3)
    first, second = list(stream._pack_pass(0, 0)), list(stream._pack_pass(0, 1))
    assert [s["input_ids"] for s in first] == [s["input_ids"] for s in second]


def test_vocab_path_and_short_seq_config_errors(tmp_path):
    from kgbert.pretraining.run import prepare_tokenizer, read_vocab_txt
    from tests.pretraining.helpers import tiny_config

    good = tmp_path / "v" / "vocab.txt"
    good.parent.mkdir()
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "高", "血", "压", "##a", "abc"]
    good.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    assert read_vocab_txt(good.parent) == tokens == read_vocab_txt(good)
    cfg = tiny_config(tmp_path, **{"vocab.path": str(good.parent)})
    cfg.run_dir.mkdir(parents=True)
    tok, counts = prepare_tokenizer(cfg, cfg.run_dir)
    assert [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])] == tokens and not counts
    assert (cfg.run_dir / "init" / "vocab.txt").read_text(encoding="utf-8").split() == tokens
    bad = tmp_path / "bad.txt"
    bad.write_text("[PAD]\n[UNK]\n \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.txt:3: empty token"):
        read_vocab_txt(bad)
    bad.write_text("[PAD]\n[UNK]\nx\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lacks the special tokens \['\[CLS\]'"):
        read_vocab_txt(bad)
    with pytest.raises(ConfigError, match="neither a vocab.txt"):
        read_vocab_txt(tmp_path / "nope")
    with pytest.raises(ConfigError, match="short_seq_prob"):
        tiny_config(tmp_path / "b", **{"data.short_seq_prob": 0.1, "model.objectives": ["mlm", "nsp"]})
    with pytest.raises(ConfigError, match="short_seq_prob must be"):
        tiny_config(tmp_path / "c", **{"data.short_seq_prob": 1.5})
    with pytest.raises(ConfigError, match="vocab.path and model.init_from"):
        tiny_config(tmp_path / "d", **{"vocab.path": str(good), "model.init_from": str(tmp_path)})
