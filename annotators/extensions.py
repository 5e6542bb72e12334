"""Every ``Doc/Span/Token._`` attribute the annotators use, registered in one place.

Where things live on a spaCy ``Doc`` (all of it survives ``Doc.to_bytes`` and therefore
``nlp.pipe(n_process=N)``, because only span groups, ``doc.ents``, token tags and plain JSON values
in ``doc.user_data`` are used):

==============================  =====================================================================
``token.tag_``                  jieba POS tag (``n``, ``nr``, ``ns``, ``v`` ...) when the pipeline has ``pos=True``
``doc.spans["ents_kg"]``        KG mention candidates (``kg_entities``); ``span.kb_id_`` = KG entity id
``doc.spans["ents_ner"]``       named-entity candidates from POS tags (``entities``)
``doc.spans["ents_user"]``      entities brought by the user (``from_annotation``)
``doc.ents``                    the resolved, non-overlapping entities (:func:`annotators.resolve_entity_overlaps`)
``doc.spans["phrases"]``        phrases for phrase masking (``phrases``)
``doc._.srl``                   SRL frames as JSON dicts (``{"predicate": [s, e], "args": [...]}``)
``doc._.kg_names``              ``{str(kg_id): canonical KG name}`` for the linked mentions
``doc._.meta``                  free-form metadata carried to ``Annotation.meta``
``token._.gap``                 True for characters that are not part of any word of a user record
``span._.kg_id``                (getter) ``int(span.kb_id_)`` or None
``span._.kg_name``              (getter) the canonical KG name of a linked span, or None
``span._.source``               (getter) ``"user"``, ``"kg"`` or ``"ner"``: the group the span came from
``doc._.annotation``            (getter) :func:`annotators.to_annotation` of the doc
==============================  =====================================================================

Span values are computed by getters from ``label_``/``kb_id_`` and the span groups rather than
stored, because spaCy keys stored span values by character offsets only, so a KG mention and a
POS entity with the same offsets would share (and overwrite) them.
"""
from __future__ import annotations

from typing import Any, Callable

from spacy.tokens import Doc, Span, Token

from annotators.annotation import Entity, resolve_entity_overlaps

USER_GROUP = "ents_user"
KG_GROUP = "ents_kg"
NER_GROUP = "ents_ner"
PHRASE_GROUP = "phrases"
ENTITY_GROUPS = {"user": USER_GROUP, "kg": KG_GROUP, "ner": NER_GROUP}
"""Entity source -> span group, in priority order."""


def _kg_id(span: Span) -> int | None:
    kb = span.kb_id_
    return int(kb) if kb else None


def _kg_name(span: Span) -> str | None:
    kb = span.kb_id_
    if not kb:
        return None
    return span.doc._.kg_names.get(kb)


def _source(span: Span) -> str | None:
    doc = span.doc
    for source, group in ENTITY_GROUPS.items():
        if group in doc.spans:
            for cand in doc.spans[group]:
                if (cand.start, cand.end, cand.label, cand.kb_id) == (span.start, span.end, span.label, span.kb_id):
                    return source
    return None


_DOC_GETTERS: dict[str, Callable[[Doc], Any]] = {}
"""Doc getters registered by other modules (``annotation``: :mod:`annotators.convert`)."""


def add_doc_getter(name: str, getter: Callable[[Doc], Any]) -> None:
    """Register ``doc._.<name>`` as a getter (kept for :func:`register_extensions` ``force=True``)."""
    _DOC_GETTERS[name] = getter
    Doc.set_extension(name, getter=getter, force=True)


def resolve_doc_entities(doc: Doc) -> None:
    """Set ``doc.ents`` from the candidate span groups (:data:`ENTITY_GROUPS`) by the priority rule
    of :func:`annotators.resolve_entity_overlaps`."""
    kg_names = doc._.kg_names
    cands: list[Entity] = []
    spans: dict[tuple, Span] = {}
    for source, group in ENTITY_GROUPS.items():
        for span in doc.spans.get(group, []):
            kg_id = int(span.kb_id_) if span.kb_id_ else None
            ent = Entity(span.start_char, span.end_char, span.label_, kg_id, kg_names.get(span.kb_id_), source)
            cands.append(ent)
            spans.setdefault((ent.start, ent.end, ent.label, ent.kg_id, source), span)
    kept = resolve_entity_overlaps(cands)
    doc.ents = [spans[(e.start, e.end, e.label, e.kg_id, e.source)] for e in kept]


def register_extensions(force: bool = False) -> None:
    """Register all extension attributes (idempotent; ``force=True`` re-registers)."""
    doc_ext: dict[str, dict[str, Any]] = {
        "srl": {"default": []},
        "kg_names": {"default": {}},
        "meta": {"default": {}},
        **{name: {"getter": g} for name, g in _DOC_GETTERS.items()},
    }
    span_ext: dict[str, dict[str, Any]] = {
        "kg_id": {"getter": _kg_id},
        "kg_name": {"getter": _kg_name},
        "source": {"getter": _source},
    }
    token_ext: dict[str, dict[str, Any]] = {"gap": {"default": False}}
    for cls, table in ((Doc, doc_ext), (Span, span_ext), (Token, token_ext)):
        for name, kwargs in table.items():
            if force or not cls.has_extension(name):
                cls.set_extension(name, force=True, **kwargs)


register_extensions()
