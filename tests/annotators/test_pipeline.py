"""The spaCy pipeline and its components on real sentences (../shared/data)."""
from __future__ import annotations

import pickle

import jieba
import pytest

import annotators
from annotators import Annotation, AnnotationError
from annotators.kg import get_matcher
from annotators.segment import get_jieba
from tests.annotators._shared import corpus_sentences, medical_kg, medical_sentences, pipeline


def _real_sentences() -> list[str]:
    return medical_sentences(30) + corpus_sentences(30)


def _check_offsets(ann: Annotation) -> None:
    text = ann.text
    # words cover every non-space character exactly once, in order
    assert "".join(text[s:e] for s, e in ann.words) == "".join(ch for ch in text if not ch.isspace())
    for ent in ann.entities:
        if ent.source == "kg":
            assert text[ent.start:ent.end] == ent.name
            assert ent.kg_id is not None
    for ph in ann.phrases:
        assert (ph.start, ph.end) != (0, 0) and text[ph.start:ph.end]
    again = Annotation.from_json(ann.to_json())
    assert again == ann


@pytest.mark.data
def test_offsets_round_trip_for_every_component():
    nlp = pipeline()
    seen = {"kg": 0, "ner": 0, "phrases": 0}
    for text in _real_sentences():
        doc = nlp(text)
        ann = annotators.to_annotation(doc)
        _check_offsets(ann)
        # the doc's spans agree with the record's offsets
        for span, ent in zip(doc.ents, ann.entities):
            assert (span.start_char, span.end_char, span.text) == (ent.start, ent.end, text[ent.start:ent.end])
        seen["kg"] += sum(e.source == "kg" for e in ann.entities)
        seen["ner"] += sum(e.source == "ner" for e in ann.entities)
        seen["phrases"] += len(ann.phrases)
        # and back: doc -> record -> doc -> record is lossless
        assert annotators.to_annotation(annotators.from_annotation(nlp, ann)) == ann
        assert annotators.to_annotation(annotators.from_annotation(nlp, ann.to_json())) == ann
    assert all(v > 0 for v in seen.values()), seen  # every component produced something


@pytest.mark.data
def test_kg_entities_come_out_as_single_words():
    nlp = pipeline()
    matcher = get_matcher(medical_kg())
    plain = get_jieba()  # the base instance: what plain jieba (no KG names) would do
    total = split_by_plain_jieba = 0
    for text in _real_sentences():
        doc = nlp(text)
        words = {(t.idx, t.idx + len(t)) for t in doc}
        for m in matcher.find(text):
            total += 1
            assert (m.start, m.end) in words, (text, m)
            pos = 0
            cuts = set()
            for w in plain.cut(text):
                pos += len(w)
                cuts.add(pos)
            if any(m.start < c < m.end for c in cuts):
                split_by_plain_jieba += 1
        kg_spans = list(doc.spans["ents_kg"])
        assert all(len(span) == 1 for span in kg_spans)
        assert all(span._.source == "kg" and span._.kg_id is not None for span in kg_spans)
    assert total > 0
    assert split_by_plain_jieba > 0  # the test is not vacuous: plain jieba would have split some


@pytest.mark.data
def test_kg_beats_pos_entity_and_user_beats_kg():
    nlp = pipeline()
    text = "北京大学的学生服用阿司匹林"
    doc = nlp(text)
    ann = annotators.to_annotation(doc)
    kinds = {(e.start, e.end): (e.source, e.label) for e in ann.entities}
    assert kinds[(0, 4)] == ("ner", "ORG")
    assert kinds[(9, 13)] == ("kg", "KG")
    # a KG mention that jieba also tags as a proper noun: both candidates exist, the KG one wins
    ner_spans = {(s.start_char, s.end_char) for s in doc.spans["ents_ner"]}
    kg_spans = {(s.start_char, s.end_char) for s in doc.spans["ents_kg"]}
    assert (9, 13) in kg_spans and (9, 13) in ner_spans  # 阿司匹林 is also tagged nz (MISC)
    # a user entity overlapping the KG mention wins over it when the pipeline runs on the record
    record = Annotation(text, entities=[annotators.Entity(7, 11, "DRUGISH", source="user")])
    doc2 = nlp(annotators.from_annotation(nlp, record))
    ents = {(e.start, e.end, e.source) for e in annotators.to_annotation(doc2).entities}
    assert (7, 11, "user") in ents and not any(s == 9 for s, _, _ in ents)


def test_pos_entities_labels_and_min_chars():
    nlp = pipeline(kg=False, components=("entities",))
    ann = annotators.to_annotation(nlp("李明在北京大学读书，后来去了上海。"))
    got = {(ann.text[e.start:e.end], e.label) for e in ann.entities}
    assert ("北京大学", "ORG") in got and ("上海", "LOC") in got and ("李明", "PER") in got
    assert all(e.source == "ner" and e.end - e.start >= 2 for e in ann.entities)


def test_phrases_from_pos_patterns_and_config():
    nlp = pipeline(kg=False, components=("phrases",))
    ann = annotators.to_annotation(nlp("这是一个美丽的城市，公交集团的线路调整了"))
    texts = {(ann.text[p.start:p.end], p.label) for p in ann.phrases}
    assert ("公交集团", "NP") in texts
    custom = annotators.make_pipeline(components=("phrases",), config={"phrases": {
        "patterns": {"VO": [[{"TAG": "v"}, {"TAG": "n"}]]}, "kg_names": False}})
    ann2 = annotators.to_annotation(custom("我们修改规则"))
    assert [(ann2.text[p.start:p.end], p.label) for p in ann2.phrases] == [("修改规则", "VO")]


@pytest.mark.data
def test_phrases_include_multiword_kg_names():
    nlp = pipeline()
    ann = annotators.to_annotation(nlp("今天眼睛发红"))  # 眼睛发红 is one KG entity, two jieba words
    assert [(ann.text[p.start:p.end], p.label) for p in ann.phrases] == [("眼睛发红", "KG")]
    assert [w for w in ann.word_texts() if "眼睛" in w] == ["眼睛发红"]


@pytest.mark.data
def test_without_pos_no_tags_and_entities_refused():
    nlp = pipeline(components=("kg_entities", "phrases"), pos=False)
    doc = nlp("今天眼睛发红，服用阿司匹林")
    assert not doc.has_annotation("TAG")
    ann = annotators.to_annotation(doc)
    assert {ann.text[e.start:e.end] for e in ann.entities} == {"眼睛发红", "阿司匹林"}
    assert [p.label for p in ann.phrases] == ["KG"]
    with pytest.raises(ValueError, match="POS"):
        annotators.make_pipeline(components=("entities",), pos=False)
    with pytest.raises(ValueError, match="KG store"):
        annotators.make_pipeline(kg=None, components=("kg_entities",))
    assert annotators.make_pipeline().pipe_names == ["entities", "phrases"]  # no KG: no kg_entities
    with pytest.raises(ValueError, match="unknown component"):
        annotators.make_pipeline(components=("nope",))


def test_user_dictionary_is_used_and_stays_out_of_global_jieba(tmp_path):
    text = "公交线暂不经过靖远路站"
    assert "靖远路站" not in get_jieba().lcut(text)
    udict = tmp_path / "user.dict"
    udict.write_text("靖远路站 10 ns\n", encoding="utf-8")
    nlp = annotators.make_pipeline(components=("entities",), user_dicts=[udict])
    ann = annotators.to_annotation(nlp(text))
    assert "靖远路站" in ann.word_texts()
    assert ("靖远路站", "LOC") in {(ann.text[e.start:e.end], e.label) for e in ann.entities}  # its tag is used
    assert "靖远路站" not in get_jieba().lcut(text)  # the base instance is untouched
    assert "靖远路站" not in jieba.dt.FREQ  # and so is jieba's global dictionary
    with pytest.raises(FileNotFoundError, match="user dictionary"):
        annotators.make_pipeline(components=(), user_dicts=[tmp_path / "missing.dict"])


def test_whitespace_and_latin_text():
    nlp = pipeline(kg=False, components=("entities", "phrases"))
    for text in ["Hello world  北京大学的 学生\t好", " 前后空格 ", "a"]:
        ann = annotators.to_annotation(nlp(text))
        _check_offsets(ann)
        assert annotators.to_annotation(annotators.from_annotation(nlp, ann)) == ann


def test_from_annotation_user_records_load_and_validate(tmp_path):
    nlp = pipeline(kg=False, components=("entities",))
    good = {"text": "患者服用阿司匹林后胃出血", "words": [[0, 2], [2, 4], [4, 8], [8, 9], [9, 12]],
            "entities": [{"start": 4, "end": 8, "label": "DRUG", "source": "user"}],
            "phrases": [{"start": 9, "end": 12, "label": "NP"}],
            "srl": [{"predicate": [2, 4], "args": [{"role": "A0", "start": 0, "end": 2}]}]}
    path = tmp_path / "user.jsonl"
    import json

    path.write_text(json.dumps(good, ensure_ascii=False) + "\n", encoding="utf-8")
    (rec,) = list(annotators.read_jsonl(path))
    doc = annotators.from_annotation(nlp, rec)
    assert [t.text for t in doc] == ["患者", "服用", "阿司匹林", "后", "胃出血"]
    assert [(e.text, e.label_, e._.source) for e in doc.ents] == [("阿司匹林", "DRUG", "user")]
    assert annotators.to_annotation(doc) == rec
    # words that skip characters: the gaps are kept out of the words on the way back
    sparse = Annotation("甲，乙。", words=[(0, 1), (2, 3)])
    assert annotators.to_annotation(annotators.from_annotation(nlp, sparse)) == sparse
    # invalid records raise clear errors
    with pytest.raises(AnnotationError, match="outside the text"):
        annotators.from_annotation(nlp, {**good, "entities": [{"start": 10, "end": 14, "label": "X", "source": "user"}]})
    with pytest.raises(AnnotationError, match="overlap"):
        annotators.from_annotation(nlp, {**good, "phrases": [{"start": 0, "end": 4}, {"start": 2, "end": 8}]})
    with pytest.raises(AnnotationError, match="word boundaries"):
        annotators.from_annotation(nlp, {**good, "entities": [{"start": 5, "end": 8, "label": "X", "source": "user"}]})
    # without words the tokenizer keeps the record's entities whole
    doc = annotators.from_annotation(nlp, {"text": good["text"], "entities": [{"start": 3, "end": 8, "label": "X", "source": "user"}]})
    assert "用阿司匹林" in [t.text for t in doc]
    # ... and starts a word at every phrase / SRL boundary
    no_words = {"text": good["text"], "phrases": [{"start": 1, "end": 3}],
                "srl": [{"predicate": [10, 11], "args": [{"role": "A0", "start": 5, "end": 7}]}]}
    doc = annotators.from_annotation(nlp, no_words)
    starts = {t.idx for t in doc} | {len(doc.text)}
    assert {1, 3, 5, 7, 10, 11} <= starts
    back = annotators.to_annotation(doc)
    assert (back.phrases, back.srl) == (Annotation.from_dict(no_words).phrases, Annotation.from_dict(no_words).srl)


@pytest.mark.data
def test_pickle_and_two_processes_give_the_same_annotations():
    nlp = pipeline()
    texts = medical_sentences(12) + corpus_sentences(12)
    single = [annotators.to_annotation(d) for d in nlp.pipe(texts)]
    again = pickle.loads(pickle.dumps(nlp))
    assert [annotators.to_annotation(again(t)) for t in texts[:4]] == single[:4]
    multi = [annotators.to_annotation(d) for d in nlp.pipe(texts, n_process=2, batch_size=5)]
    assert multi == single


def test_srl_component_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="no SRL model"):
        annotators.make_pipeline(components=("srl",))
    with pytest.raises(FileNotFoundError, match="SRL model directory"):
        annotators.make_pipeline(components=("srl",), srl_model=tmp_path / "missing")


def test_srl_component_with_a_tiny_random_tagger(tmp_path):
    srl = pytest.importorskip("annotators.srl")
    if not (hasattr(srl.SrlTagger, "from_scratch") and hasattr(srl, "bio_labels")):
        pytest.skip("annotators.srl.SrlTagger.from_scratch / bio_labels not available")
    texts = ["我们修改规则", "患者服用阿司匹林"]
    tagger = srl.SrlTagger.from_scratch(srl.bio_labels(["A0", "A1"]), texts, hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=32)
    tagger.save_pretrained(tmp_path / "srl")
    nlp = annotators.make_pipeline(components=("srl",), srl_model=tmp_path / "srl")
    for text in texts:
        doc = nlp(text)
        ann = annotators.to_annotation(doc)  # validates every frame's offsets
        assert ann.srl, "the POS fallback marks verbs as predicates"
        for fr in ann.srl:
            s, e = fr.predicate
            assert any((t.idx, t.idx + len(t)) == (s, e) for t in doc)
        assert annotators.to_annotation(annotators.from_annotation(nlp, ann)) == ann


def test_pkuseg_needs_a_local_model(tmp_path):
    with pytest.raises(ValueError, match="pkuseg_model"):
        annotators.make_pipeline(components=(), segmenter="pkuseg")
    with pytest.raises(FileNotFoundError, match="pkuseg model directory"):
        annotators.make_pipeline(components=(), segmenter="pkuseg", pkuseg_model=tmp_path / "none")


@pytest.mark.data
def test_to_disk_and_spacy_load_round_trip(tmp_path):
    import spacy

    nlp = pipeline()
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.pipe_names == nlp.pipe_names
    for text in medical_sentences(5) + ["患者服用阿司匹林后眼睛发红"]:
        assert annotators.to_annotation(loaded(text)) == annotators.to_annotation(nlp(text))
