"""SRL readers/writers (UP and CoNLL-2012) and conversion to/from the Annotation contract."""
from __future__ import annotations

import pytest

from annotators import Annotation, AnnotationError, Argument, Frame
from annotators.srl import (
    SrlArg,
    SrlFormatError,
    SrlFrame,
    SrlSentence,
    annotation_to_sentence,
    join_words,
    read_conll2012,
    read_up,
    sentence_to_annotation,
    write_conll2012,
    write_up,
)
from tests.conftest import shared_data

UP = (
    "# sentence-text: 私人 擁有 車輛 , 他 買 了 .\n"
    "1\t私人\t私人\tNOUN\tNN\t_\t2\tnsubj\t_\t_\tA0\t_\n"
    "2\t擁有\t拥有\tVERB\tVV\t_\t0\troot\tY\thave.03\t_\t_\n"
    "3\t車輛\t车辆\tNOUN\tNN\t_\t2\tobj\t_\t_\tA1\tA1\n"
    "4\t,\t,\tPUNCT\t,\t_\t2\tpunct\t_\t_\t_\t_\n"
    "5\t他\t他\tPRON\tPRP\t_\t6\tnsubj\t_\t_\t_\tA0\n"
    "6\t買\t买\tVERB\tVV\t_\t2\tconj\tY\tbuy.01\t_\t_\n"
    "7\t了\t了\tPART\tAS\t_\t6\taux\t_\t_\t_\t_\n"
    "8\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_\t_\t_\n"
    "\n"
    "# sentence-text: 好 .\n"
    "1\t好\t好\tADJ\tJJ\t_\t0\troot\t_\t_\n"
    "2\t.\t.\tPUNCT\t.\t_\t1\tpunct\t_\t_\n"
    "\n"
)

CONLL12 = """#begin document (bc/cctv/00/cctv_0000); part 000
bc/cctv/00/cctv_0000 0 0 他们 PN (TOP(IP(NP*) - - - Speaker#1 * (ARG0*) * -
bc/cctv/00/cctv_0000 0 1 昨天 NT (NP*) - - - Speaker#1 (DATE) (ARGM-TMP*) * -
bc/cctv/00/cctv_0000 0 2 访问 VV (VP* 访问 01 - Speaker#1 * (V*) * -
bc/cctv/00/cctv_0000 0 3 了 AS * - - - Speaker#1 * * * -
bc/cctv/00/cctv_0000 0 4 北京 NR (NP(NP* - - - Speaker#1 (GPE) (ARG1* (ARG0* (1)
bc/cctv/00/cctv_0000 0 5 的 DEG * - - - Speaker#1 * * *) -
bc/cctv/00/cctv_0000 0 6 大学 NN *))) 大学 - - Speaker#1 * *) (V*) -

bc/cctv/00/cctv_0000 0 0 好 VA (TOP(IP(VP*))) - - - Speaker#1 * -

#end document
"""


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ----------------------------------------------------------------------------- UP
def test_read_up_frames_and_columns(tmp_path):
    sents = read_up(_write(tmp_path, "a.conllu", UP))
    assert len(sents) == 2
    s = sents[0]
    assert s.words == ["私人", "擁有", "車輛", ",", "他", "買", "了", "."]
    assert s.lemmas[1] == "拥有" and s.pos[5] == "VERB"
    assert s.frames == [
        SrlFrame((1, 2), (SrlArg("A0", 0, 1), SrlArg("A1", 2, 3)), sense="have.03", lemma="拥有"),
        SrlFrame((5, 6), (SrlArg("A1", 2, 3), SrlArg("A0", 4, 5)), sense="buy.01", lemma="买"),
    ]
    assert s.source.endswith("a.conllu:2")
    assert sents[1].frames == []


def test_up_round_trip_is_byte_identical(tmp_path):
    src = _write(tmp_path, "a.conllu", UP)
    out = tmp_path / "b.conllu"
    write_up(read_up(src), out)
    assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("3\t車輛\t车辆\tNOUN\tNN\t_\t2\tobj\t_\t_\tA1\n", "columns"),
        ("3\t車輛\t车辆\tNOUN\tNN\t_\t2\tobj\tX\t_\tA1\tA1\n", "flag"),
        ("4\t車輛\t车辆\tNOUN\tNN\t_\t2\tobj\t_\t_\tA1\tA1\n", "out of sequence"),
        ("3-4\t車輛\t车辆\tNOUN\tNN\t_\t2\tobj\t_\t_\tA1\tA1\n", "multi-word"),
        ("3\t車輛\n", "at least 10"),
    ],
)
def test_up_malformed_lines_name_file_and_line(tmp_path, bad_line, message):
    lines = UP.splitlines(keepends=True)
    lines[3] = bad_line  # the token line of word 3 is line 4 of the file
    p = _write(tmp_path, "bad.conllu", "".join(lines))
    with pytest.raises(SrlFormatError, match=message) as exc:
        read_up(p)
    assert "bad.conllu:" in str(exc.value)


def test_up_predicate_and_argument_columns_must_agree(tmp_path):
    text = UP.replace("6\t買\t买\tVERB\tVV\t_\t2\tconj\tY", "6\t買\t买\tVERB\tVV\t_\t2\tconj\t_")
    with pytest.raises(SrlFormatError, match=r"bad.conllu:2: sentence has 1 predicates .* but 2 argument columns"):
        read_up(_write(tmp_path, "bad.conllu", text))


def test_up_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(SrlFormatError, match="no sentences"):
        read_up(_write(tmp_path, "empty.conllu", "\n\n"))
    p = tmp_path / "latin1.conllu"
    p.write_bytes("1\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(SrlFormatError, match="latin1.conllu:1: not valid UTF-8"):
        read_up(p)


def test_up_writer_needs_a_head_rule_for_multiword_spans(tmp_path):
    s = SrlSentence(words=["一", "本", "书", "买"], frames=[SrlFrame((3, 4), (SrlArg("A1", 0, 3),))])
    with pytest.raises(SrlFormatError, match="one word per argument"):
        write_up([s], tmp_path / "x.conllu")
    assert not (tmp_path / "x.conllu").exists()
    write_up([s], tmp_path / "x.conllu", head="last")
    back = read_up(tmp_path / "x.conllu")[0]
    assert back.frames[0].args == (SrlArg("A1", 2, 3),)


# ----------------------------------------------------------------------------- CoNLL-2012
def test_read_conll2012_bracket_columns(tmp_path):
    sents = read_conll2012(_write(tmp_path, "a.gold_conll", CONLL12))
    assert len(sents) == 2
    s = sents[0]
    assert s.words == ["他们", "昨天", "访问", "了", "北京", "的", "大学"]
    assert s.pos[2] == "VV"
    assert s.frames[0] == SrlFrame(
        (2, 3), (SrlArg("ARG0", 0, 1), SrlArg("ARGM-TMP", 1, 2), SrlArg("ARG1", 4, 7)), sense="01", lemma="访问"
    )
    assert s.frames[1] == SrlFrame((6, 7), (SrlArg("ARG0", 4, 6),), sense=None, lemma="大学")
    assert s.columns["coref"][4] == "(1)" and s.columns["ne"][1] == "(DATE)"
    assert sents[1].frames == [] and sents[1].source.endswith("a.gold_conll:10")


def test_conll2012_round_trip(tmp_path):
    src = _write(tmp_path, "a.gold_conll", CONLL12)
    sents = read_conll2012(src)
    out = tmp_path / "b.gold_conll"
    write_conll2012(sents, out)
    again = read_conll2012(out)
    assert [(s.words, s.frames, s.pos, s.columns) for s in again] == [(s.words, s.frames, s.pos, s.columns) for s in sents]
    assert out.read_text(encoding="utf-8").startswith("#begin document (bc/cctv/00/cctv_0000); part 000\n")


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("* (ARG0*) * -", "* (ARG0* * -", r"a.gold_conll:3: argument column 1: '\(ARGM-TMP' opens inside the open '\(ARG0'"),
        ("*) -\nbc/cctv/00/cctv_0000 0 6", "* -\nbc/cctv/00/cctv_0000 0 6", r"a.gold_conll:8: argument column 2: '\(V' opens inside the open '\(ARG0'"),
        ("(ARGM-TMP*) * -", "(ARGM-TMP*)) * -", r"a.gold_conll:3: .*is not"),
        ("(V*) * -\nbc/cctv/00/cctv_0000 0 3", "* * -\nbc/cctv/00/cctv_0000 0 3", r"a.gold_conll:2: argument column 1 has no \(V\*\)"),
        ("Speaker#1 * * * -", "Speaker#1 * * -", r"a.gold_conll:5: 13 columns, but the sentence's first line \(line 2\) has 14"),
        ("好 VA (TOP(IP(VP*))) - - - Speaker#1 * -", "好 VA", r"a.gold_conll:10: expected at least 12"),
    ],
)
def test_conll2012_malformed(tmp_path, old, new, message):
    assert old in CONLL12
    p = _write(tmp_path, "a.gold_conll", CONLL12.replace(old, new, 1))
    with pytest.raises(SrlFormatError, match=message):
        read_conll2012(p)


def test_up_to_conll2012_conversion(tmp_path):
    sents = read_up(_write(tmp_path, "a.conllu", UP))
    write_conll2012(sents, tmp_path / "c.conll", doc_id="up")
    back = read_conll2012(tmp_path / "c.conll")
    assert [[(f.predicate, f.args, f.sense) for f in s.frames] for s in back] == [
        [(f.predicate, f.args, f.sense) for f in s.frames] for s in sents
    ]


# ----------------------------------------------------------------------------- Annotation
def test_join_words_spaces_only_between_latin():
    text, spans = join_words(["我", "用", "iPhone", "6", "拍", "ok"])
    assert text == "我用iPhone 6拍ok"
    assert [text[s:e] for s, e in spans] == ["我", "用", "iPhone", "6", "拍", "ok"]


def test_annotation_round_trip():
    s = SrlSentence(words=["他", "买", "一", "本", "书"], frames=[SrlFrame((1, 2), (SrlArg("A0", 0, 1), SrlArg("A1", 2, 5)), sense="buy.01")])
    ann = sentence_to_annotation(s)
    assert ann.text == "他买一本书"
    assert ann.srl == [Frame((1, 2), (Argument("A0", 0, 1), Argument("A1", 2, 5)), sense="buy.01")]
    ann = Annotation.from_json(ann.to_json())
    back = annotation_to_sentence(ann)
    assert back.words == s.words and back.frames == s.frames


def test_annotation_spans_must_align_to_words():
    ann = Annotation(text="他买一本书", words=[(0, 1), (1, 2), (2, 5)], srl=[Frame((1, 2), (Argument("A1", 3, 5),))])
    with pytest.raises(AnnotationError, match="word boundaries"):
        annotation_to_sentence(ann)


@pytest.mark.data
def test_real_up_chinese_dev_reads_and_round_trips(tmp_path):
    path = shared_data("srl_up_chinese", "zh-up-dev.conllu")
    sents = read_up(path)
    assert len(sents) == 500
    assert sum(len(s.frames) for s in sents) == 1257
    write_up(sents, tmp_path / "dev.conllu")
    assert (tmp_path / "dev.conllu").read_bytes() == path.read_bytes()
