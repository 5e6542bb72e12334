from kgbert.checkpoints import build_char_vocab, load_tokenizer, make_random_checkpoint


def test_random_checkpoint_tokenizes_chinese(tmp_path):
    texts = ["患者服用阿司匹林后胃出血", "头痛发热三天"]
    ckpt = make_random_checkpoint(tmp_path / "tiny", texts=texts)
    tok = load_tokenizer(ckpt)
    ids = tok("患者头痛 ABC")["input_ids"]
    toks = tok.convert_ids_to_tokens(ids)
    assert toks[0] == "[CLS]" and toks[-1] == "[SEP]"
    assert "[UNK]" not in toks, toks
    assert toks[1:5] == ["患", "者", "头", "痛"]
    assert not list(tmp_path.glob(".tiny.*")), "temporary directory left behind"


def test_char_vocab_is_deterministic():
    a = build_char_vocab(["乙甲甲", "丙"])
    b = build_char_vocab(["丙", "甲乙甲"])
    assert a == b
    assert a.index("甲") < a.index("丙") < a.index("乙")  # by count, then code point
    assert a[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
