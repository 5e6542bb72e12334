"""The spaCy components: ``kg_entities``, ``entities``, ``phrases`` and ``srl``.

Naming scheme: factories are registered as ``kgbert_<component>_v<version>`` (e.g.
``kgbert_kg_entities_v1``; spaCy forbids dots in factory names, registry functions such as the
tokenizer ``kgbert.zh_tokenizer.v1`` use its dotted style); :func:`annotators.make_pipeline` adds each one under its
short name (``kg_entities``, ``entities``, ``phrases``, ``srl``). A change in behaviour gets a new
version, the old factory stays registered.

Entity priority rule: every entity component stores its *candidates* in its own span group
(``ents_user`` / ``ents_kg`` / ``ents_ner``) and then recomputes ``doc.ents`` from all groups with
:func:`annotators.resolve_entity_overlaps`: ``user`` > ``kg`` > ``ner``, then the longer span, then
the earlier one. The result is the same whatever order the components run in.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Iterable, Iterator

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from annotators.names import COMPONENTS  # noqa: F401  (re-exported)
from annotators.extensions import KG_GROUP, NER_GROUP, PHRASE_GROUP, register_extensions, resolve_doc_entities
from annotators.rules import KGNameWords, filter_token_spans, is_word, phrase_word_count_ok, pos_entity_label

register_extensions()

# jieba POS tags (ICTCLAS set) -> entity labels
DEFAULT_LABEL_MAP = {"nr": "PER", "nrfg": "PER", "nrt": "PER", "ns": "LOC", "nt": "ORG", "nz": "MISC"}

_NOUN_TAGS = ["n", "nr", "nrfg", "nrt", "ns", "nt", "nz", "ng", "an", "j"]
_MOD_TAGS = ["a", "ag", "b", "an"]
DEFAULT_PHRASE_PATTERNS: dict[str, list[list[dict[str, Any]]]] = {
    "NP": [
        # modifier* noun noun+   (noun-noun compounds, optionally modified)
        [{"TAG": {"IN": _MOD_TAGS}, "OP": "*"}, {"TAG": {"IN": _NOUN_TAGS}}, {"TAG": {"IN": _NOUN_TAGS}, "OP": "+"}],
        # modifier+ noun+        (adjective-noun)
        [{"TAG": {"IN": _MOD_TAGS}, "OP": "+"}, {"TAG": {"IN": _NOUN_TAGS}, "OP": "+"}],
    ],
}
"""spaCy ``Matcher`` token patterns over jieba POS tags, per phrase label (configurable)."""


def _tokenizer_kg(nlp: Language):
    """The KG mention handle of a :class:`annotators.pipeline.ZhTokenizer`, if any."""
    return getattr(nlp.tokenizer, "kg", None)


def _is_word(token) -> bool:
    return is_word(token.text, token._.gap)


# --------------------------------------------------------------------------- kg_entities
class KGEntities:
    """KG mention detection on the raw characters with :class:`knowledge.EntityMatcher`.

    Each mention becomes a span in ``doc.spans["ents_kg"]`` with ``kb_id_`` = the KG entity id and
    ``label_`` = ``label``; ``doc._.kg_names`` maps the id to its canonical name. With the kgbert
    tokenizer the mentions are single tokens by construction; with another tokenizer (or a
    user's own words) a mention that does not fall on token boundaries is skipped and counted in
    ``doc._.meta["kg_unaligned"]``.
    """

    def __init__(self, nlp: Language, name: str, kg: str | None, min_len: int, stoplist: str | list[str] | None, label: str):
        from annotators.kg import KGMentions

        own = _tokenizer_kg(nlp)
        if kg is None and own is None:
            raise ValueError(
                f"{name}: no KG store given: use make_pipeline(kg=PATH) or add_pipe(..., config={{'kg': PATH}})"
            )
        if own is not None and (kg is None or own.same_as(kg, min_len, stoplist)):
            self.kg = own  # share the tokenizer's matcher and its memo of the last text
        else:
            self.kg = KGMentions(kg, min_len, stoplist)  # type: ignore[arg-type]
        self.name = name
        self.label = label

    def __call__(self, doc: Doc) -> Doc:
        spans: list[Span] = []
        names = doc._.kg_names
        unaligned = 0
        for m in self.kg.find(doc.text):
            span = doc.char_span(m.start, m.end, label=self.label, kb_id=str(m.entity_id))
            if span is None:
                unaligned += 1
                continue
            spans.append(span)
            names[str(m.entity_id)] = m.name
        doc.spans[KG_GROUP] = spans
        if unaligned:
            doc._.meta["kg_unaligned"] = doc._.meta.get("kg_unaligned", 0) + unaligned
        resolve_doc_entities(doc)
        return doc


@Language.factory(
    "kgbert_kg_entities_v1",
    default_config={"kg": None, "min_len": 2, "stoplist": None, "label": "KG"},
    assigns=["doc.spans", "doc.ents", "doc._.kg_names"],
)
def make_kg_entities(nlp: Language, name: str, kg: str | None, min_len: int, stoplist: str | list[str] | None, label: str) -> KGEntities:
    """``kg``: KG store path (default: the one the kgbert tokenizer was built with)."""
    return KGEntities(nlp, name, kg, min_len, stoplist, label)


# --------------------------------------------------------------------------- entities
class PosEntities:
    """Named entities from jieba POS tags (``nr``->PER, ``ns``->LOC, ``nt``->ORG, ``nz``->MISC).

    One entity per tagged word of at least ``min_chars`` characters (single-character ``nr`` tags
    are mostly HMM noise). Candidates go to ``doc.spans["ents_ner"]``; ``doc.ents`` is then
    re-resolved with the other sources by the priority rule.
    """

    def __init__(self, name: str, label_map: dict[str, str], min_chars: int):
        self.name = name
        self.label_map = dict(label_map)
        self.min_chars = int(min_chars)

    def __call__(self, doc: Doc) -> Doc:
        if len(doc) and not doc.has_annotation("TAG"):
            raise ValueError(
                f"{self.name}: the doc has no POS tags; build the pipeline with make_pipeline(pos=True)"
            )
        spans = []
        for tok in doc:
            label = pos_entity_label(tok.tag_, len(tok), _is_word(tok), self.label_map, self.min_chars)
            if label is not None:
                spans.append(Span(doc, tok.i, tok.i + 1, label=label))
        doc.spans[NER_GROUP] = spans
        resolve_doc_entities(doc)
        return doc


@Language.factory(
    "kgbert_entities_v1",
    default_config={"label_map": DEFAULT_LABEL_MAP, "min_chars": 2},
    assigns=["doc.spans", "doc.ents"],
    requires=["token.tag"],
)
def make_entities(nlp: Language, name: str, label_map: dict[str, str], min_chars: int) -> PosEntities:
    tok = nlp.tokenizer
    if getattr(tok, "segmenter", None) is not None and not tok.segmenter.pos:
        raise ValueError(f"{name}: needs POS tags; build the pipeline with make_pipeline(pos=True)")
    return PosEntities(name, label_map, min_chars)


# --------------------------------------------------------------------------- phrases
class Phrases:
    """Phrases for ERNIE-style phrase masking: POS-pattern chunks plus multi-word KG names.

    Candidates: every match of ``patterns`` (spaCy ``Matcher`` patterns over ``TAG``, per label)
    with ``min_words`` to ``max_words`` words, and (when ``kg_names``) every KG mention whose name
    the plain segmenter splits into at least ``min_words`` words (label ``KG``). Overlaps are
    resolved longest first, then earliest (:func:`annotators.rules.filter_token_spans`, spaCy's
    ``filter_spans`` rule). Without POS tags only the KG names remain. The rules live in
    :mod:`annotators.rules`, shared with the fast corpus annotator (:mod:`annotators.fast`).
    """

    def __init__(self, nlp: Language, name: str, patterns: dict[str, list[list[dict[str, Any]]]],
                 kg_names: bool, min_words: int, max_words: int):
        self.name = name
        self.patterns = patterns
        self.matcher = Matcher(nlp.vocab, validate=True)
        for label, pats in patterns.items():
            self.matcher.add(label, pats, greedy="LONGEST")
        self.kg_names = bool(kg_names)
        self.min_words = int(min_words)
        self.max_words = int(max_words)
        seg = getattr(nlp.tokenizer, "segmenter", None)
        self.name_words = KGNameWords(seg.user_dicts if seg is not None else ())

    def __call__(self, doc: Doc) -> Doc:
        cands: list[tuple[int, int, str]] = []
        if len(doc) and doc.has_annotation("TAG"):
            for span in self.matcher(doc, as_spans=True):
                if phrase_word_count_ok(sum(1 for t in span if _is_word(t)), self.min_words, self.max_words):
                    cands.append((span.start, span.end, span.label_))
        if self.kg_names:
            for span in doc.spans.get(KG_GROUP, []):
                if self.name_words(span.text) >= self.min_words:
                    cands.append((span.start, span.end, "KG"))
        doc.spans[PHRASE_GROUP] = [Span(doc, s, e, label=label) for s, e, label in filter_token_spans(cands)]
        return doc


@Language.factory(
    "kgbert_phrases_v1",
    default_config={"patterns": DEFAULT_PHRASE_PATTERNS, "kg_names": True, "min_words": 2, "max_words": 8},
    assigns=["doc.spans"],
)
def make_phrases(nlp: Language, name: str, patterns: dict[str, list[list[dict[str, Any]]]], kg_names: bool,
                 min_words: int, max_words: int) -> Phrases:
    return Phrases(nlp, name, patterns, kg_names, min_words, max_words)


# --------------------------------------------------------------------------- srl
class SrlComponent:
    """Semantic role labelling with :class:`annotators.srl.SrlTagger` (loaded lazily on first use).

    Writes ``doc._.srl``: a list of frames as JSON dicts (``Frame.to_dict()``), character offsets.
    Words are the doc's tokens (whitespace and gap tokens excluded); their POS tags are passed when
    the doc has them.
    """

    def __init__(self, name: str, model_dir: str | None, device: str):
        if model_dir is None:
            raise ValueError(f"{name}: no SRL model given: make_pipeline(srl_model=DIR) or config {{'model_dir': DIR}}")
        path = Path(model_dir).expanduser()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{name}: SRL model directory {path} does not exist or has no config.json "
                "(train one with annotators.srl, or leave 'srl' out of the components)"
            )
        if importlib.util.find_spec("annotators.srl") is None:
            raise ImportError(f"{name}: the annotators.srl package is not available")
        self.name = name
        self.model_dir = str(path)
        self.device = device
        self._tagger = None

    def __reduce__(self):
        return (SrlComponent, (self.name, self.model_dir, self.device))

    @property
    def tagger(self):
        if self._tagger is None:
            from annotators.srl import SrlTagger

            self._tagger = SrlTagger.from_pretrained(self.model_dir, device=self.device)
        return self._tagger

    def __call__(self, doc: Doc) -> Doc:
        toks = [t for t in doc if _is_word(t)]
        words = [(t.idx, t.idx + len(t)) for t in toks]
        pos = [t.tag_ for t in toks] if doc.has_annotation("TAG") else None
        frames = self.tagger.predict(doc.text, words, pos=pos) if words else []
        doc._.srl = [f.to_dict() for f in frames]
        return doc


@Language.factory(
    "kgbert_srl_v1",
    default_config={"model_dir": None, "device": "cpu"},
    assigns=["doc._.srl"],
)
def make_srl(nlp: Language, name: str, model_dir: str | None, device: str) -> SrlComponent:
    return SrlComponent(name, model_dir, device)


class SentenceSrlComponent(SrlComponent):
    """``srl`` v2: like v1, but each sentence of a doc is tagged on its own (v1 tags the whole doc as
    one sentence and fails on docs longer than the model), and :meth:`pipe` batches the sentences
    of ``batch_size`` docs together (:meth:`annotators.srl.SrlTagger.predict_texts`)."""

    def __reduce__(self):
        return (SentenceSrlComponent, (self.name, self.model_dir, self.device))

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        for batch in minibatch(docs, size=batch_size):
            toks = [[t for t in doc if _is_word(t)] for doc in batch]
            words = [[(t.idx, t.idx + len(t)) for t in ts] for ts in toks]
            pos = [[t.tag_ for t in ts] if doc.has_annotation("TAG") else None for doc, ts in zip(batch, toks)]
            frames = self.tagger.predict_texts([doc.text for doc in batch], words, pos)
            for doc, fr in zip(batch, frames):
                doc._.srl = [f.to_dict() for f in fr]
                yield doc


@Language.factory(
    "kgbert_srl_v2",
    default_config={"model_dir": None, "device": "cpu"},
    assigns=["doc._.srl"],
)
def make_srl_v2(nlp: Language, name: str, model_dir: str | None, device: str) -> SentenceSrlComponent:
    return SentenceSrlComponent(name, model_dir, device)



