"""The ``ner_mentions`` reader (entity typing derived from an NER set, one example per gold mention)
on good and malformed input, and the multi-label typing scores."""
from __future__ import annotations

import pytest

from kgbert.data.readers import DataError, collect_labels, read_examples
from kgbert.metrics import typing_scores

NER = ("text_a\tlabel\n"
       "患 者 头 痛 三 天 ， 服 阿 司 匹 林\tO O B-Symptom I-Symptom O O O O B-Drug I-Drug I-Drug I-Drug\n"
       "今 天 很 好\tO O O O\n"
       "发 热\tB-Symptom I-Symptom\n")


def test_one_example_per_gold_mention(tmp_path):
    path = tmp_path / "ner.tsv"
    path.write_text(NER, encoding="utf-8")
    exs = read_examples(path, "ner_mentions", "entity_typing")
    assert [e.text_a for e in exs] == ["患者$头痛$三天，服阿司匹林", "患者头痛三天，服$阿司匹林$", "$发热$"]
    assert [e.label for e in exs] == ["Symptom", "Drug", "Symptom"] and [e.types for e in exs] == [["Symptom"], ["Drug"], ["Symptom"]]
    assert [e.source for e in exs] == [f"{path}:2", f"{path}:2", f"{path}:4"]
    assert exs[1].meta["span"] == [8, 12] and exs[1].meta["id"] == "2:1" and exs[1].meta["sentence"] == "患者头痛三天，服阿司匹林"
    assert collect_labels(exs, "entity_typing") == ["Drug", "Symptom"]
    # context: characters kept each side of the mention; markers are configurable
    short = read_examples(path, "ner_mentions", "entity_typing", context=2, markers=["[", "]"])
    assert [e.text_a for e in short] == ["患者[头痛]三天", "，服[阿司匹林]", "[发热]"]
    # the NER reader's own options pass through (conll, BMES -> BIO)
    conll = tmp_path / "ner.conll"
    conll.write_text("头 B-Sym\n痛 E-Sym\n好 O\n\n药 S-Drug\n", encoding="utf-8")
    exs = read_examples(conll, "ner_mentions", "entity_typing", source_format="conll", scheme="bio")
    assert [(e.text_a, e.label, e.source) for e in exs] == [("$头痛$好", "Sym", f"{conll}:1"), ("$药$", "Drug", f"{conll}:5")]


def test_malformed_input_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("text_a\tlabel\n头 痛\tB-Sym I-Sym\n头 痛 了\tB-Sym X-Sym O\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv:3: malformed tag 'X-Sym'"):
        read_examples(bad, "ner_mentions", "entity_typing")
    bad.write_text("text_a\tlabel\n头 痛\tB-Sym\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv:2: 2 tokens but 1 tags"):
        read_examples(bad, "ner_mentions", "entity_typing")
    bad.write_text("text_a\tlabel\n头 痛\tO O\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv: no entity mentions"):
        read_examples(bad, "ner_mentions", "entity_typing")
    spans = tmp_path / "unlabelled.jsonl"
    spans.write_text('{"text": "头痛"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"unlabelled.jsonl:1: unlabelled sentence"):
        read_examples(spans, "ner_mentions", "entity_typing", source_format="spans_jsonl")
    with pytest.raises(ValueError, match="source_format must be an NER format"):
        read_examples(bad, "ner_mentions", "entity_typing", source_format="tsv")
    with pytest.raises(ValueError, match="context must be an int"):
        read_examples(bad, "ner_mentions", "entity_typing", context=-1)
    with pytest.raises(ValueError, match="task 'entity_typing' is read with a typing format"):
        read_examples(bad, "tsv", "entity_typing")
    with pytest.raises(ValueError, match="is read as task 'entity_typing'"):
        read_examples(bad, "ner_mentions", "pair")
    with pytest.raises(ValueError, match="'ner_mentions' is not for task 'token'"):
        read_examples(bad, "ner_mentions", "token")


def test_typing_scores_by_hand():
    gold = [["a"], ["a", "b"], ["b", "c"], ["c"]]
    pred = [["a"], ["a"], ["b", "c"], ["a", "b"]]
    s = typing_scores(gold, pred)
    assert s["accuracy"] == pytest.approx(2 / 4)
    # per mention: precision 1, 1, 1, 0; recall 1, 1/2, 1, 0
    assert s["loose_macro_precision"] == pytest.approx(3 / 4) and s["loose_macro_recall"] == pytest.approx(2.5 / 4)
    p, r = 3 / 4, 2.5 / 4
    assert s["loose_macro_f1"] == pytest.approx(2 * p * r / (p + r))
    # pooled: 4 correct of 6 predicted, of 6 gold
    assert s["loose_micro_precision"] == pytest.approx(4 / 6) and s["loose_micro_recall"] == pytest.approx(4 / 6)
    assert s["loose_micro_f1"] == pytest.approx(4 / 6)
    assert typing_scores([["a"]], [[]])["loose_macro_precision"] == 0.0
    with pytest.raises(ValueError, match="1 gold type sets but 2 predicted"):
        typing_scores([["a"]], [["a"], ["b"]])
