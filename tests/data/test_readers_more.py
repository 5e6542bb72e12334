"""The readers added for the bench harness: CLUENER, span JSONL, CoNLL variants, CSV, relation TSV."""
from __future__ import annotations

import json
import re

import pytest

from kgbert.data.readers import DataError, locate_pair, mark_pair, read_examples
from tests.conftest import shared_data


def _write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_cluener_good_and_unlabelled(tmp_path):
    rec = {"text": "浙商银行企业信贷部叶老桂博士", "label": {"name": {"叶老桂": [[9, 11]]}, "company": {"浙商银行": [[0, 3]]}}}
    p = _write(tmp_path, "c.json", json.dumps(rec, ensure_ascii=False) + "\n\n" + json.dumps({"text": "无标注", "id": 7}) + "\n")
    a, b = read_examples(p, "cluener", "token")
    assert a.tokens == list(rec["text"]) and a.source.endswith("c.json:1")
    assert a.tags[:5] == ["B-company", "I-company", "I-company", "I-company", "O"]
    assert a.tags[9:12] == ["B-name", "I-name", "I-name"] and a.tags[12:] == ["O", "O"]
    assert b.tags is None and b.meta == {"id": 7} and b.source.endswith("c.json:3")


@pytest.mark.parametrize("line, msg", [
    ('{"text": "浙商银行", "label": {"company": {"浙商": [[0, 2]]}}}', "is '浙商银' in the text, not '浙商'"),
    ('{"text": "浙商银行", "label": {"company": {"浙商银行": [[0, 9]]}}}', "outside the text"),
    ('{"text": "浙商银行", "label": {"a": {"浙商": [[0, 1]]}, "b": {"商银": [[1, 2]]}}}', "overlaps"),
    ('{"text": "浙商银行", "label": {"company": {"浙商": [0, 1]}}}', "is not [start, end_inclusive]"),
    ('{"text": "", "label": {}}', "empty text"),
    ('{"text": "浙商", "label": {', "invalid JSON"),
])
def test_cluener_malformed_names_file_line(tmp_path, line, msg):
    p = _write(tmp_path, "c.json", '{"text": "好", "label": {}}\n' + line + "\n")
    with pytest.raises(DataError, match=rf"c\.json:2: .*{re.escape(msg)}" if "empty" not in msg else r"c\.json:2: "):
        read_examples(p, "cluener", "token")


def test_spans_jsonl_good_and_bad(tmp_path):
    good = json.dumps({"text": "患者有高血压", "spans": [{"start": 3, "end": 6, "label": "Disease"}]}, ensure_ascii=False)
    (ex,) = read_examples(_write(tmp_path, "s.jsonl", good + "\n"), "spans_jsonl", "token")
    assert ex.tags == ["O", "O", "O", "B-Disease", "I-Disease", "I-Disease"]
    for bad, msg in [({"text": "患者", "spans": [{"start": 1, "end": 5, "label": "X"}]}, "outside the text"),
                     ({"text": "患者", "spans": [{"start": 0, "label": "X"}]}, "needs 'start', 'end' and 'label'"),
                     ({"text": "患者", "spans": [{"start": 0, "end": 1, "label": "A B"}]}, "malformed span label")]:
        p = _write(tmp_path, "b.jsonl", good + "\n" + json.dumps(bad, ensure_ascii=False) + "\n")
        with pytest.raises(DataError, match=rf"b\.jsonl:2: .*{msg}"):
            read_examples(p, "spans_jsonl", "token")


def test_conll_docstart_bioes_bmes(tmp_path):
    text = "-DOCSTART- O\n\n张 B-PER\n三 E-PER\n在 O\n北 S-LOC\n\n李 B-NAME\n四 M-NAME\n五 E-NAME\n"
    p = _write(tmp_path, "x.conll", text)
    raw = read_examples(p, "conll", "token")
    assert [e.tags for e in raw] == [["B-PER", "E-PER", "O", "S-LOC"], ["B-NAME", "M-NAME", "E-NAME"]]
    assert raw[0].source.endswith("x.conll:3") and raw[1].source.endswith("x.conll:8")
    bio = read_examples(p, "conll", "token", scheme="bio")
    assert bio[0].tags == ["B-PER", "I-PER", "O", "B-LOC"] and bio[1].tags == ["B-NAME", "I-NAME", "I-NAME"]
    with pytest.raises(DataError, match=r"y\.conll:3: expected 'token tag'"):
        read_examples(_write(tmp_path, "y.conll", "张 B-PER\n三 I-PER\n李\n"), "conll", "token")
    with pytest.raises(DataError, match=r"z\.conll:2: malformed tag 'X-PER'"):
        read_examples(_write(tmp_path, "z.conll", "\n张 X-PER\n"), "conll", "token")


def test_csv_bom_quotes_pairs_and_errors(tmp_path):
    p = _write(tmp_path, "a.csv", 'label,text\n1,"好，很好"\n0,"差,\n太差"\n', encoding="utf-8-sig")
    a, b = read_examples(p, "csv", "sequence")
    assert (a.label, a.text_a, b.text_a) == ("1", "好，很好", "差,\n太差")
    assert a.source.endswith("a.csv:2") and b.source.endswith("a.csv:3")
    pair = _write(tmp_path, "p.csv", "sentence1,sentence2,label\n花呗,借呗,0\n")
    (ex,) = read_examples(pair, "csv", "pair")
    assert (ex.text_a, ex.text_b, ex.label) == ("花呗", "借呗", "0")
    custom = _write(tmp_path, "c.csv", "y,review\npos,好\n")
    assert read_examples(custom, "csv", "sequence", text_a_key="review", label_key="y")[0].label == "pos"
    with pytest.raises(DataError, match=r"b\.csv:3: expected 2 columns"):
        read_examples(_write(tmp_path, "b.csv", "label,text\n1,好\n0,差,多\n"), "csv", "sequence")
    with pytest.raises(DataError, match=r"h\.csv:1: header .* has no text column"):
        read_examples(_write(tmp_path, "h.csv", "label,body\n1,好\n"), "csv", "sequence")
    with pytest.raises(DataError, match=r"e\.csv:2: empty text"):
        read_examples(_write(tmp_path, "e.csv", "label,text\n1,\n"), "csv", "sequence")


def test_relation_tsv_markers_and_errors(tmp_path):
    p = _write(tmp_path, "r.txt", "东方航空\t上航\tunknown\t东方航空AH股临时停牌传将与上航合并\n\n东汐\t上海东汐\t自己\t收购上海东汐后，东汐更好\n")
    a, b = read_examples(p, "relation_tsv", "relation")
    assert a.text_a == "$东方航空$AH股临时停牌传将与#上航#合并" and a.label == "unknown"
    assert a.meta["head"] == [0, 4] and a.meta["tail"] == [14, 16] and a.source.endswith("r.txt:1")
    # the head occurs inside the tail: its next, non-overlapping occurrence is marked
    assert b.text_a == "收购#上海东汐#后，$东汐$更好" and b.source.endswith("r.txt:3")
    assert read_examples(p, "relation_tsv", "relation", markers=["<h>", "</h>", "<t>", "</t>"])[0].text_a.startswith("<h>东方航空</h>")
    with pytest.raises(DataError, match=r"x\.txt:1: head '甲' and tail '乙' are not both found"):
        read_examples(_write(tmp_path, "x.txt", "甲\t乙\tr\t丙丁\n"), "relation_tsv", "relation")
    with pytest.raises(DataError, match=r"y\.txt:1: expected 4 tab-separated fields"):
        read_examples(_write(tmp_path, "y.txt", "甲\t乙\t丙丁\n"), "relation_tsv", "relation")
    with pytest.raises(ValueError, match="task 'relation' is read with format 'relation_tsv'"):
        read_examples(p, "relation_tsv", "sequence")


def test_mark_pair_tail_before_head():
    s = "甲收购乙"
    h, t = locate_pair(s, "乙", "甲")
    assert mark_pair(s, h, t) == "#甲#收购$乙$"


def test_finre_real_files():
    for split, n in (("train.txt", 13486), ("valid.txt", 1489), ("test.txt", 3727)):
        exs = read_examples(shared_data("finre", split), "relation_tsv", "relation")
        assert len(exs) == n
        assert all(ex.text_a.count("$") >= 2 and ex.text_a.count("#") >= 2 for ex in exs[:200])


def test_financial_ner_nbsp_token():
    exs = read_examples(shared_data("financial_ner", "train.tsv"), "ner_tsv", "token")
    assert len(exs) == 2619 and any("\u00a0" in ex.tokens for ex in exs)
