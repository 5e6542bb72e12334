"""Converting between spaCy ``Doc`` objects and :class:`annotators.Annotation` records, both ways.

``to_annotation(doc)`` reads: words = the doc's tokens (whitespace and ``token._.gap`` tokens
excluded); entities = ``doc.ents`` (with ``kg_id``/``name``/``source``); phrases =
``doc.spans["phrases"]``; srl = ``doc._.srl``; meta = ``doc._.meta``.

``from_annotation(nlp, record)`` builds the doc back: tokens from the record's words (or, when it
has none, from ``nlp``'s tokenizer with the record's entities kept whole and a word boundary at
every phrase and SRL span boundary; when the pipeline tags
POS, a user's words get their jieba dictionary tag, ``x`` if unknown), entities into the span
group of their source, then ``doc.ents`` resolved. So ``to_annotation(from_annotation(nlp, a)) == a``
for any valid record whose entity and phrase boundaries fall on word boundaries; a record whose
spans cut through its words raises :class:`AnnotationError` (a spaCy span must cover whole tokens).
"""
from __future__ import annotations

from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from annotators.annotation import Annotation, AnnotationError, Argument, Entity, Frame
from annotators.annotation import Span as PhraseSpan
from annotators.docs import doc_from_spans
from annotators.extensions import ENTITY_GROUPS, PHRASE_GROUP, add_doc_getter, register_extensions, resolve_doc_entities

register_extensions()


def _frame_from_dict(d: dict[str, Any]) -> Frame:
    return Frame(
        predicate=tuple(d["predicate"]),  # type: ignore[arg-type]
        args=tuple(Argument(a["role"], a["start"], a["end"]) for a in d.get("args", [])),
        sense=d.get("sense"),
    )


def to_annotation(doc: Doc) -> Annotation:
    """The :class:`Annotation` record of a processed doc (validated on construction)."""
    words = [(t.idx, t.idx + len(t)) for t in doc if not t.is_space and not t._.gap]
    names = doc._.kg_names
    entities = []
    for span in doc.ents:
        kb = span.kb_id_
        entities.append(
            Entity(
                start=span.start_char,
                end=span.end_char,
                label=span.label_,
                kg_id=int(kb) if kb else None,
                name=names.get(kb) if kb else None,
                source=span._.source or "ner",
            )
        )
    phrases = [PhraseSpan(s.start_char, s.end_char, s.label_ or None) for s in doc.spans.get(PHRASE_GROUP, [])]
    srl = [_frame_from_dict(f) for f in doc._.srl]
    return Annotation(text=doc.text, words=words, entities=entities, phrases=phrases, srl=srl, meta=dict(doc._.meta))


add_doc_getter("annotation", to_annotation)  # doc._.annotation


def _span(doc: Doc, what: str, start: int, end: int, label: str, kb_id: str = "") -> Span:
    span = doc.char_span(start, end, label=label, kb_id=kb_id)
    if span is None:
        raise AnnotationError(
            f"{what} [{start}, {end}) {doc.text[start:end]!r} does not start and end on word boundaries"
        )
    return span


def from_annotation(nlp: Language, record: Annotation | dict[str, Any] | str) -> Doc:
    """A ``Doc`` carrying everything in ``record`` (an Annotation, its dict, or its JSON line).

    The doc is not run through the pipeline's components; ``nlp(doc)`` does that (the record's
    entities keep their source, so ``user`` entities win over ``kg`` and ``ner`` ones).
    """
    if isinstance(record, str):
        record = Annotation.from_json(record)
    elif isinstance(record, dict):
        record = Annotation.from_dict(record)
    elif not isinstance(record, Annotation):
        raise TypeError(f"expected an Annotation, dict or JSON string, got {type(record).__name__}")
    record.validate()
    text = record.text
    if record.words:
        seg = getattr(nlp.tokenizer, "segmenter", None)
        tags = None
        if seg is not None and seg.pos:  # the user's words get jieba's dictionary tag ("x" if unknown)
            tags = [seg.tag_of(text[s:e], default="x") for s, e in record.words]
        doc = doc_from_spans(nlp.vocab, text, record.words, tags)
    elif hasattr(nlp.tokenizer, "make_doc"):
        cuts = [x for p in record.phrases for x in (p.start, p.end)]
        cuts += [x for f in record.srl for x in (*f.predicate, *(y for a in f.args for y in (a.start, a.end)))]
        doc = nlp.tokenizer.make_doc(text, [(e.start, e.end) for e in record.entities], cuts)
    else:
        doc = nlp.make_doc(text)
    groups: dict[str, list[Span]] = {g: [] for g in ENTITY_GROUPS.values()}
    names = doc._.kg_names
    for i, ent in enumerate(record.entities):
        kb = "" if ent.kg_id is None else str(ent.kg_id)
        groups[ENTITY_GROUPS[ent.source]].append(_span(doc, f"entities[{i}]", ent.start, ent.end, ent.label, kb))
        if ent.kg_id is not None and ent.name is not None:
            names[kb] = ent.name
    for group, spans in groups.items():
        if spans:
            doc.spans[group] = spans
    if record.entities:
        resolve_doc_entities(doc)
    if record.phrases:
        doc.spans[PHRASE_GROUP] = [
            _span(doc, f"phrases[{i}]", p.start, p.end, p.label or "") for i, p in enumerate(record.phrases)
        ]
    doc._.srl = [f.to_dict() for f in record.srl]
    doc._.meta = dict(record.meta)
    return doc
