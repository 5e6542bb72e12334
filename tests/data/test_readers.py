"""Dataset readers on the real files (skipped when ../shared/data is absent) and on bad input."""
import pytest

from kgbert.data.readers import DataError, check_labels, collect_labels, read_examples
from tests.conftest import shared_data


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_medical_ner_tsv():
    exs = read_examples(shared_data("medical_ner", "dev.tsv"), "ner_tsv", "token")
    assert len(exs) == 939
    ex = exs[0]
    assert ex.source.endswith("dev.tsv:2")  # line 1 is the header
    assert len(ex.tokens) == len(ex.tags) and ex.text_a == "".join(ex.tokens)
    labels = collect_labels(exs, "token")
    assert labels[0] == "O" and "B-Symptom" in labels and len(labels) == 11


def test_chnsenticorp_tsv():
    exs = read_examples(shared_data("chnsenticorp", "dev.tsv"), "tsv", "sequence")
    assert len(exs) == 1200
    assert collect_labels(exs, "sequence") == ["0", "1"]
    assert exs[0].text_a and exs[0].text_b is None and exs[0].source.endswith(":2")


def test_afqmc_jsonl_labelled_and_unlabelled():
    dev = read_examples(shared_data("afqmc", "dev.json"), "jsonl", "pair")
    assert len(dev) == 4316 and dev[0].text_b and dev[0].label in ("0", "1")
    test = read_examples(shared_data("afqmc", "test.json"), "jsonl", "pair")
    assert test[0].label is None and test[0].meta["id"] == 0


def test_resume_bmes_to_bio():
    raw = read_examples(shared_data("resume_ner", "dev.char.bmes"), "conll", "token")
    bio = read_examples(shared_data("resume_ner", "dev.char.bmes"), "conll", "token", scheme="bio")
    assert len(raw) == len(bio) == 463
    assert any(t.startswith(("M-", "E-", "S-")) for ex in raw for t in ex.tags)
    assert all(t == "O" or t[:2] in ("B-", "I-") for ex in bio for t in ex.tags)
    assert bio[0].source.endswith("dev.char.bmes:1")


def test_pair_tsv(tmp_path):
    p = _write(tmp_path, "p.tsv", "label\ttext_a\ttext_b\n1\t你好\t您好\n0\t天气\t股票\n")
    exs = read_examples(p, "tsv", "pair")
    assert [(e.label, e.text_a, e.text_b) for e in exs] == [("1", "你好", "您好"), ("0", "天气", "股票")]


@pytest.mark.parametrize(
    "name, text, fmt, task, match",
    [
        ("a.tsv", "label\ttext_a\n1\t好\n0\n", "tsv", "sequence", r"a\.tsv:3: expected 2 tab-separated columns"),
        ("b.tsv", "label\ttext_a\n1\t \n", "tsv", "sequence", r"b\.tsv:2: empty text_a"),
        ("c.tsv", "label\ttext_a\n", "tsv", "sequence", r"c\.tsv: no examples"),
        ("d.tsv", "", "tsv", "sequence", r"d\.tsv: empty file"),
        ("e.tsv", "label\ttext_a\n1\t好\n", "tsv", "pair", r"e\.tsv:1: .*no 'text_b' column"),
        ("f.tsv", "text_a\tlabel\n头 痛\tB-S\n", "ner_tsv", "token", r"f\.tsv:2: 2 tokens but 1 tags"),
        ("g.tsv", "text_a\tlabel\n头 痛\tB-S X\n", "ner_tsv", "token", r"g\.tsv:2: malformed tag 'X'"),
        ("h.json", '{"sentence1": "a", "sentence2": "b"}\n{"sentence1": "a"}\n', "jsonl", "pair",
         r"h\.json:2: missing key 'sentence2'"),
        ("i.json", '{"sentence1": "a", "sentence2": "b"}\nnot json\n', "jsonl", "pair", r"i\.json:2: invalid JSON"),
        ("j.bmes", "高 B-NAME\n勇\n", "conll", "token", r"j\.bmes:2: expected 'token tag'"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, name, text, fmt, task, match):
    p = _write(tmp_path, name, text)
    with pytest.raises(DataError, match=match):
        read_examples(p, fmt, task)


def test_missing_file_and_wrong_task(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_examples(tmp_path / "nope.tsv", "tsv", "sequence")
    p = _write(tmp_path, "n.tsv", "text_a\tlabel\n头\tO\n")
    with pytest.raises(ValueError, match="for task 'token'"):
        read_examples(p, "ner_tsv", "sequence")


def test_unknown_label_names_file_and_line(tmp_path):
    p = _write(tmp_path, "u.tsv", "label\ttext_a\n1\t好\n2\t坏\n")
    exs = read_examples(p, "tsv", "sequence")
    with pytest.raises(DataError, match=r"u\.tsv:3: unknown label '2'"):
        check_labels(exs, ["0", "1"], "sequence")
    q = _write(tmp_path, "v.tsv", "text_a\tlabel\n头 痛\tB-S I-X\n")
    with pytest.raises(DataError, match=r"v\.tsv:2: unknown tag 'I-X' at token 1"):
        check_labels(read_examples(q, "ner_tsv", "token"), ["O", "B-S", "I-S"], "token")
