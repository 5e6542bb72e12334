import json

import pytest

from annotators import Annotation, AnnotationError, Entity, read_jsonl, resolve_entity_overlaps

EXAMPLE = {
    "text": "患者服用阿司匹林后胃出血",
    "words": [[0, 2], [2, 4], [4, 8], [8, 9], [9, 12]],
    "entities": [{"start": 4, "end": 8, "label": "KG", "kg_id": 1532, "name": "阿司匹林", "source": "kg"}],
    "phrases": [{"start": 9, "end": 12, "label": "NP"}],
    "srl": [{"predicate": [2, 4], "args": [{"role": "A0", "start": 0, "end": 2}, {"role": "A1", "start": 4, "end": 8}]}],
}


def test_json_round_trip_is_lossless():
    ann = Annotation.from_dict(EXAMPLE)
    assert json.loads(ann.to_json()) == EXAMPLE
    assert Annotation.from_json(ann.to_json()) == ann
    assert ann.span_text(4, 8) == "阿司匹林"


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"entities": [{"start": 10, "end": 13, "label": "X"}]}, "outside the text"),
        ({"entities": [{"start": 4, "end": 4, "label": "X"}]}, "empty"),
        ({"entities": [{"start": 0, "end": 4, "label": "X"}, {"start": 2, "end": 6, "label": "Y"}]}, "overlap"),
        ({"words": [[0, 3], [2, 4]]}, "overlap"),
        ({"phrases": [{"start": -1, "end": 2}]}, "outside"),
        ({"srl": [{"predicate": [2, 40], "args": []}]}, "outside"),
        ({"entities": [{"start": 0, "end": 2, "label": "X", "source": "magic"}]}, "source"),
        ({"bogus": 1}, "unknown field"),
    ],
)
def test_invalid_annotations_raise(patch, message):
    with pytest.raises(AnnotationError, match=message):
        Annotation.from_dict({**EXAMPLE, **patch})


def test_read_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "user.jsonl"
    bad = {**EXAMPLE, "entities": [{"start": 20, "end": 22, "label": "X"}]}
    p.write_text(json.dumps(EXAMPLE, ensure_ascii=False) + "\n\n" + json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    it = read_jsonl(p)
    assert next(it).text == EXAMPLE["text"]
    with pytest.raises(AnnotationError, match=r"user\.jsonl:3: .*outside"):
        next(it)


def test_resolve_overlaps_priority_is_order_independent():
    cands = [
        Entity(0, 4, "NER", source="ner"),
        Entity(2, 6, "KG", kg_id=1, source="kg"),
        Entity(5, 7, "USER", source="user"),
        Entity(8, 10, "KG", kg_id=2, source="kg"),
    ]
    a = resolve_entity_overlaps(cands)
    b = resolve_entity_overlaps(list(reversed(cands)))
    assert a == b
    assert [(e.start, e.end, e.source) for e in a] == [(0, 4, "ner"), (5, 7, "user"), (8, 10, "kg")]
