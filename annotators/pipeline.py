"""The Chinese spaCy pipeline: ``spacy.blank("zh")`` with the kgbert jieba tokenizer + components.

The tokenizer (``kgbert.zh_tokenizer.v1``) segments with a dedicated jieba instance (see
:mod:`annotators.segment`): user dictionaries are loaded into that instance only, and KG
mentions found by :class:`knowledge.EntityMatcher` on the raw characters are cut out first, so
every KG mention the ``kg_entities`` component reports is exactly one word. With ``pos=True`` it
segments with ``jieba.posseg`` and sets ``token.tag_`` (jieba's POS mode is much slower and its
segmentation differs from plain jieba on unknown words: it is off unless a component needs it).
``segmenter="pkuseg"`` uses spaCy's pkuseg package with a *local* model directory only.
"""
from __future__ import annotations

import os
from typing import Iterable, Sequence

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

import annotators.components  # noqa: F401  (registers the factories)
from annotators.components import COMPONENTS
import annotators.convert  # noqa: F401  (registers doc._.annotation)
from annotators.docs import doc_from_spans  # noqa: F401  (re-exported)
from annotators.extensions import register_extensions
from annotators.names import TOKENIZER
from annotators.rules import resolve_components
from annotators.segment import Segmenter

register_extensions()



class ZhTokenizer:
    """spaCy tokenizer: jieba (or pkuseg) words, KG mentions kept whole, optional POS tags."""

    def __init__(self, vocab: Vocab, segmenter: Segmenter, kg=None) -> None:
        self.vocab = vocab
        self.segmenter = segmenter
        self.kg = kg  # annotators.kg.KGMentions or None

    def __call__(self, text: str) -> Doc:
        protected = [(m.start, m.end) for m in self.kg.find(text)] if self.kg is not None else []
        return self.make_doc(text, protected)

    def make_doc(self, text: str, protected: Iterable[tuple[int, int]] = (), boundaries: Iterable[int] = ()) -> Doc:
        """Tokenise ``text`` keeping each ``protected`` span (non-overlapping) as one token and
        starting a token at every offset in ``boundaries`` (outside the protected spans)."""
        words = self.segmenter.segment(text, protected, boundaries)
        spans = [(s, e) for s, e, _ in words]
        tags = [t for _, _, t in words] if self.segmenter.pos else None
        return doc_from_spans(self.vocab, text, spans, tags)

    def pipe(self, texts: Iterable[str], **kwargs) -> Iterable[Doc]:
        for text in texts:
            yield self(text)

    # settings live in the nlp config; nothing else to serialise
    def to_bytes(self, **kwargs) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs) -> "ZhTokenizer":
        return self

    def to_disk(self, path, **kwargs) -> None:
        return None

    def from_disk(self, path, **kwargs) -> "ZhTokenizer":
        return self


@spacy.registry.tokenizers(TOKENIZER)
def create_zh_tokenizer(
    segmenter: str = "jieba",
    pos: bool = False,
    user_dicts: list[str] = [],  # noqa: B006 (config default; never mutated)
    kg: str | None = None,
    kg_min_len: int = 2,
    kg_stoplist: str | None = None,
    pkuseg_model: str | None = None,
    hmm: bool = True,
):
    """Registry entry for ``[nlp.tokenizer] @tokenizers = "kgbert.zh_tokenizer.v1"``."""
    seg = Segmenter(segmenter=segmenter, pos=pos, user_dicts=user_dicts, pkuseg_model=pkuseg_model, hmm=hmm)

    def make(nlp: Language) -> ZhTokenizer:
        handle = None
        if kg is not None:
            from annotators.kg import KGMentions

            handle = KGMentions(kg, kg_min_len, kg_stoplist)
        return ZhTokenizer(nlp.vocab, seg, handle)

    return make


def make_pipeline(
    kg: str | os.PathLike | None = None,
    components: Sequence[str] | None = None,
    *,
    user_dicts: Sequence[str | os.PathLike] = (),
    pos: bool | None = None,
    segmenter: str = "jieba",
    pkuseg_model: str | os.PathLike | None = None,
    kg_min_len: int = 2,
    kg_stoplist: str | os.PathLike | None = None,
    srl_model: str | os.PathLike | None = None,
    hmm: bool = True,
    config: dict[str, dict] | None = None,
) -> Language:
    """Build the Chinese pipeline.

    ``kg``: a KG store (``knowledge.build_kg`` output); its names are kept whole by the tokenizer
    and ``kg_entities`` reports them. ``components``: any of ``kg_entities``, ``entities``,
    ``phrases``, ``srl`` (added in that order); default ``("kg_entities", "entities", "phrases")``,
    without ``kg_entities`` when there is no ``kg``. ``user_dicts``: jieba user dictionaries
    (``word [freq] [tag]`` per line). ``pos``: jieba POS tagging (default: on when ``entities``,
    ``phrases`` or ``srl`` is requested). ``srl_model``: directory of a trained SRL tagger.
    ``config``: per-component config overrides, e.g. ``{"entities": {"min_chars": 1}}``.
    """
    components, needs_pos = resolve_components(kg, components)
    if pos is None:
        pos = needs_pos
    if "entities" in components and not pos:
        raise ValueError("the entities component needs POS tags: use pos=True (or leave pos unset)")
    tok_cfg = {
        "@tokenizers": TOKENIZER,
        "segmenter": segmenter,
        "pos": bool(pos),
        "user_dicts": [str(p) for p in user_dicts],
        "kg": None if kg is None else str(kg),
        "kg_min_len": int(kg_min_len),
        "kg_stoplist": None if kg_stoplist is None else str(kg_stoplist),
        "pkuseg_model": None if pkuseg_model is None else str(pkuseg_model),
        "hmm": bool(hmm),
    }
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": tok_cfg}})
    overrides = dict(config or {})
    for name in COMPONENTS:
        if name not in components:
            continue
        cfg = dict(overrides.pop(name, {}))
        if name == "srl" and srl_model is not None:
            cfg.setdefault("model_dir", str(srl_model))
        nlp.add_pipe(COMPONENTS[name], name=name, config=cfg)
    if overrides:
        raise ValueError(f"config given for component(s) not in the pipeline: {sorted(overrides)}")
    return nlp
