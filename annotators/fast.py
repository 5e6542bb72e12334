"""Words, entities and phrases without spaCy: what :func:`annotators.make_pipeline` +
:func:`annotators.to_annotation` give for ``kg_entities`` / ``entities`` / ``phrases``, identical,
several times faster (for annotating a pretraining corpus).

The same steps as the spaCy pipeline, on plain tuples: the KG mentions
(:class:`annotators.kg.KGMentions`) are protected, the text is segmented and POS-tagged by
:class:`annotators.segment.Segmenter` (with :mod:`annotators.posfast`, jieba.posseg's output
computed faster), laid out into tokens by :func:`annotators.rules.layout_tokens`, and the rules of
:mod:`annotators.rules` (POS entities, phrase patterns, KG-name phrases, overlap filters) and
:func:`annotators.resolve_entity_overlaps` run on those tokens. The component defaults
(``DEFAULT_LABEL_MAP``, ``DEFAULT_PHRASE_PATTERNS``, ``min_chars``, ``min_words``/``max_words``,
``kg_names``, the KG label and ``min_len``) are read from the spaCy factories' own configs, so
there is one home for each. SRL is not supported (use the spaCy pipeline).
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from annotators.annotation import Entity, resolve_entity_overlaps
from annotators.rules import (
    KGNameWords,
    Layout,
    TagPatternMatcher,
    filter_token_spans,
    is_word,
    layout_tokens,
    phrase_word_count_ok,
    pos_entity_label,
    resolve_components,
)
from annotators.segment import Segmenter

Spans = list[tuple[int, int]]


def _factory_defaults(component: str) -> dict[str, Any]:
    """The default config of a spaCy component factory (its single home)."""
    from spacy.language import Language

    import annotators.components  # noqa: F401  (registers the factories)
    from annotators.names import COMPONENTS

    return dict(Language.get_factory_meta(COMPONENTS[component]).default_config or {})


class FastAnnotator:
    """``annotate(text) -> (words, entities, phrases)`` as character spans, the spaCy pipeline's
    ``to_annotation(nlp(text))`` words / entities / phrases for ``make_pipeline(kg, components)``."""

    def __init__(self, kg: str | os.PathLike | None = None, components: Sequence[str] | None = None) -> None:
        self.components, pos = resolve_components(kg, components)
        if "srl" in self.components:
            raise ValueError("the fast annotator has no srl component; use the spaCy pipeline (spacy_pipeline)")
        self.segmenter = Segmenter(segmenter="jieba", pos=pos, fast_pos=True)
        kg_cfg = _factory_defaults("kg_entities")
        self.kg = None
        if kg is not None:
            from annotators.kg import KGMentions

            self.kg = KGMentions(kg, kg_cfg["min_len"], kg_cfg["stoplist"])  # the tokenizer's default settings
        self.kg_label = kg_cfg["label"]
        ent_cfg = _factory_defaults("entities")
        self.label_map, self.min_chars = dict(ent_cfg["label_map"]), int(ent_cfg["min_chars"])
        ph_cfg = _factory_defaults("phrases")
        self.matcher = TagPatternMatcher(ph_cfg["patterns"])
        self.kg_names = bool(ph_cfg["kg_names"])
        self.min_words, self.max_words = int(ph_cfg["min_words"]), int(ph_cfg["max_words"])
        self.name_words = KGNameWords(self.segmenter.user_dicts)

    def annotate(self, text: str) -> tuple[Spans, Spans, Spans]:
        mentions = self.kg.find(text) if self.kg is not None else []
        words = self.segmenter.segment(text, [(m.start, m.end) for m in mentions])
        layout = layout_tokens(text, [(s, e) for s, e, _ in words], [t for _, _, t in words] if self.segmenter.pos else None)
        toks = layout.tokens
        is_w = [is_word(text[t.start:t.end], t.gap) for t in toks]
        word_spans = [(t.start, t.end) for t, w in zip(toks, is_w) if w]
        kg_tokens: list[tuple[int, int, Any]] = []  # aligned KG mentions: (token index, Match)
        if "kg_entities" in self.components and mentions:
            first = {t.start: i for i, t in enumerate(toks)}
            for m in mentions:
                i = first.get(m.start)
                if i is not None and toks[i].end == m.end:  # doc.char_span: whole tokens only
                    kg_tokens.append((i, i + 1, m))
        entities: Spans = []
        if "kg_entities" in self.components or "entities" in self.components:
            entities = self._entities(text, toks, is_w, kg_tokens)
        phrases: Spans = []
        if "phrases" in self.components:
            phrases = self._phrases(text, layout, is_w, kg_tokens)
        return word_spans, entities, phrases

    def _entities(self, text: str, toks, is_w: list[bool], kg_tokens) -> Spans:
        cands = [Entity(m.start, m.end, self.kg_label, m.entity_id, m.name, "kg") for _, _, m in kg_tokens]
        if "entities" in self.components:
            for t, w in zip(toks, is_w):
                label = pos_entity_label(t.tag, t.end - t.start, w, self.label_map, self.min_chars)
                if label is not None:
                    cands.append(Entity(t.start, t.end, label, None, None, "ner"))
        return [(e.start, e.end) for e in resolve_entity_overlaps(cands)]

    def _phrases(self, text: str, layout: Layout, is_w: list[bool], kg_tokens) -> Spans:
        toks = layout.tokens
        cands: list[tuple[int, int, str]] = []
        if toks and layout.has_tags:
            for i, j, label in self.matcher([t.tag for t in toks]):
                if phrase_word_count_ok(sum(is_w[i:j]), self.min_words, self.max_words):
                    cands.append((i, j, label))
        if self.kg_names:
            for i, j, m in kg_tokens:
                if self.name_words(text[m.start:m.end]) >= self.min_words:
                    cands.append((i, j, "KG"))
        return [(toks[i].start, toks[j - 1].end) for i, j, _ in filter_token_spans(cands)]


__all__ = ["FastAnnotator"]
