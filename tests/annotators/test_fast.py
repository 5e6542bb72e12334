"""The fast annotator (annotators.fast, annotators.posfast, annotators.rules) gives exactly what the
spaCy pipeline gives: POS Viterbi, tag patterns, span filters, and whole annotations."""
from __future__ import annotations

import itertools
import random
import re
from functools import lru_cache

import pytest

from tests.conftest import shared_data

SYNTHETIC = [
    "北京大学的张三教授在上海发表了重要讲话。",
    "李四昨天去了中国银行办理业务，高血压患者服用依那普利后头痛。",
    "ABC 公司 2024年 发布了 iPhone15。",
    "  空格  在前后  ",
    "北京 大学 的 张三 教授",
    "高血压 患者\t服用依那普利，血常规检查正常；新型冠状病毒肺炎疫情防控工作领导小组",
    "美丽的大学校园里有很多年轻的学生和老师",
    "",
    "\u3000全角空格\u3000和 English words mixed 在一起 3.14 元",
]
TINY_KG = ["依那普利\t类别\t药物", "高血压\t类别\t疾病", "北京大学\t位于\t北京", "中国银行\t类别\t银行",
           "新型冠状病毒肺炎\t类别\t疾病", "血常规检查\t类别\t检查", "大学校园\t类别\t地点", "张三\t职业\t教授"]


@lru_cache(maxsize=None)
def _tiny_kg(tmp: str) -> str:
    import knowledge
    from pathlib import Path

    spo = Path(tmp) / "tiny.spo"
    spo.write_text("\n".join(TINY_KG) + "\n", encoding="utf-8")
    out = Path(tmp) / "tiny.sqlite"
    knowledge.build_kg([spo], out)
    return str(out)


@pytest.fixture(scope="module")
def tiny_kg(tmp_path_factory):
    return _tiny_kg(str(tmp_path_factory.mktemp("kg")))


def _spacy_spans(nlp, lines):
    from annotators import to_annotation

    out = []
    for doc in nlp.pipe(lines):
        a = to_annotation(doc)
        out.append((a.words, [(e.start, e.end) for e in a.entities], [(p.start, p.end) for p in a.phrases]))
    return out


def _assert_identical(kg, lines, components=None):
    from annotators import make_pipeline
    from annotators.fast import FastAnnotator

    fast = FastAnnotator(kg=kg, components=components)
    slow = _spacy_spans(make_pipeline(kg=kg, components=components), lines)
    n_ent = n_phr = 0
    for text, ref in zip(lines, slow):
        got = fast.annotate(text)
        assert tuple(got) == ref, text
        n_ent += len(ref[1])
        n_phr += len(ref[2])
    return n_ent, n_phr


def test_posfast_viterbi_equals_jiebas():
    import jieba.posseg as jp
    from jieba.posseg.viterbi import viterbi

    from annotators.posfast import _model

    rnd = random.Random(0)
    han = [c for c in jp.char_state_tab_P if "\u4e00" <= c <= "\u9fd5"]
    blocks = ["".join(rnd.choice(han) for _ in range(rnd.randint(1, 10))) for _ in range(150)]
    blocks += ["鑫"] + ["".join(re.findall("[\u4e00-\u9fd5]+", t)) for t in SYNTHETIC if t.strip()]
    model = _model()
    for b in blocks:
        assert model.viterbi(b) == viterbi(b, jp.char_state_tab_P, jp.start_P, jp.trans_P, jp.emit_P)[1], b


def test_tag_pattern_matcher_equals_spacy_matcher():
    from spacy.matcher import Matcher
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    from annotators.components import DEFAULT_PHRASE_PATTERNS
    from annotators.rules import TagPatternMatcher

    patterns = {**DEFAULT_PHRASE_PATTERNS, "VP": [[{"TAG": "d", "OP": "?"}, {"TAG": {"IN": ["v", "vn"]}, "OP": "+"},
                                                    {"TAG": {"NOT_IN": ["x", "uj"]}}]]}
    tags = ["n", "nr", "ns", "a", "an", "b", "v", "vn", "d", "x", "uj", "j"]
    rnd = random.Random(1)
    for pats in (DEFAULT_PHRASE_PATTERNS, patterns):
        vocab = Vocab()
        spacy_m = Matcher(vocab, validate=True)
        for label, p in pats.items():
            spacy_m.add(label, p, greedy="LONGEST")
        ours = TagPatternMatcher(pats)
        for _ in range(300):
            seq = [rnd.choice(tags) for _ in range(rnd.randint(1, 14))]
            doc = Doc(vocab, words=[f"w{i}" for i in range(len(seq))], tags=seq)
            want = sorted((s.start, s.end, s.label_) for s in spacy_m(doc, as_spans=True))
            assert sorted(ours(seq)) == want, seq


def test_filter_token_spans_equals_spacys():
    from spacy.tokens import Doc, Span
    from spacy.util import filter_spans
    from spacy.vocab import Vocab

    from annotators.rules import filter_token_spans

    doc = Doc(Vocab(), words=[f"w{i}" for i in range(12)])
    rnd = random.Random(2)
    for _ in range(300):
        spans = []
        for _ in range(rnd.randint(0, 8)):
            s = rnd.randrange(12)
            spans.append((s, rnd.randint(s + 1, min(12, s + 5)), rnd.choice(["NP", "KG"])))
        want = [(s.start, s.end, s.label_) for s in filter_spans([Span(doc, s, e, label=lab) for s, e, lab in spans])]
        assert filter_token_spans(spans) == want


def test_fast_annotator_identical_on_synthetic_text(tiny_kg):
    _assert_identical(None, SYNTHETIC)
    n_ent, n_phr = _assert_identical(tiny_kg, SYNTHETIC)
    assert n_ent >= 8 and n_phr >= 3  # the comparison covers entities and phrases
    _assert_identical(tiny_kg, SYNTHETIC, components=["kg_entities", "phrases"])
    _assert_identical(tiny_kg, SYNTHETIC, components=["kg_entities"])  # no POS: plain jieba words


def test_fast_annotator_identical_on_real_corpus_lines(tiny_kg):
    path = shared_data("corpus_cluecorpussmall", "CLUECorpusSmall_bert_sampled.txt")
    with open(path, encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in itertools.islice(fh, 400) if line.strip()][:300]
    n_ent, n_phr = _assert_identical(tiny_kg, lines)
    assert n_ent > 300 and n_phr > 300


def test_fast_annotator_identical_with_the_medical_kg():
    from tests.annotators._shared import medical_kg, medical_sentences

    n_ent, _ = _assert_identical(medical_kg(), medical_sentences(150))
    assert n_ent > 100


def test_fast_annotator_refuses_srl():
    from annotators.fast import FastAnnotator

    with pytest.raises(ValueError, match="srl"):
        FastAnnotator(components=["entities", "srl"])
