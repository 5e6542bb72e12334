"""FastBertTokenizer gives exactly the Rust tokenizer's ids and offsets."""
from __future__ import annotations

import pickle
import random

import pytest

from kgbert.checkpoints import build_char_vocab, make_tokenizer
from kgbert.data.fast_tokenize import FastBertTokenizer
from tests.conftest import shared_data

ALPHABET = list("中文字苹果ABCdefÉéàü  \t\n，。!?-_'1234５６ｘ\u0301\u200b\x00😀İßﬁ…") + ["##", "[UNK]"]


def _check(tok, texts):
    fast = FastBertTokenizer(tok)
    backend = tok.backend_tokenizer
    for t in texts:
        enc = backend.encode(t, add_special_tokens=False)
        ids, offsets = fast.encode(t)
        assert (list(ids), [tuple(o) for o in offsets]) == (enc.ids, [tuple(o) for o in enc.offsets]), repr(t)
    return fast


@pytest.mark.parametrize("lower", [True, False])
def test_random_mixed_strings(lower):
    from transformers import BertTokenizer

    vocab = build_char_vocab(["中文字苹果"])
    tok = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=lower)
    rng = random.Random(0)
    texts = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30))) for _ in range(2000)]
    fast = _check(tok, texts + ["", " ", "abc", "苹果abc苹果", "iPhone6的价格"])
    assert fast._char["中"] >= 0 and fast._char[" "] < 0
    clone = pickle.loads(pickle.dumps(fast))
    assert clone.encode("苹果abc") == fast.encode("苹果abc")


def test_real_reviews():
    path = shared_data("chnsenticorp", "dev.tsv")
    texts = [ln.split("\t", 1)[1] for ln in path.read_text(encoding="utf-8").splitlines()[1:] if "\t" in ln]
    tok = make_tokenizer(build_char_vocab(texts[:50]))  # many characters out of vocab -> [UNK]
    _check(tok, texts)


def test_mixed_runs_with_wordpieces():
    """Runs mixing word characters, whitespace and multi-token characters (split by the piece
    regex), with a vocabulary that has real WordPieces, equal the backend; classes learned one
    text at a time (the regexes are rebuilt as new special characters appear)."""
    from transformers import BertTokenizer

    vocab = build_char_vocab(["中文字苹果"]) + ["ab", "##c", "##ab", "12", "##3", "fi", "##x", "x"]
    tok = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    rng = random.Random(2)
    pieces = ["ab", "abc", "123", " ", "\t", "ﬁ", "ﬁx", "…", "中", "苹果", "x", "😀", "É", "\u200b", "[UNK]"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(1500)]
    fast = _check(tok, ["中", "ab 中", "ﬁx…ab c"] + texts)
    assert fast._char["a"] == -1 and fast._char[" "] == -2  # _WORD, _SKIP
