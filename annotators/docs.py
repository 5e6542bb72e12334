"""Building a spaCy ``Doc`` from given words (a leaf module: used by the tokenizer and by
:func:`annotators.from_annotation`)."""
from __future__ import annotations

from typing import Sequence

from spacy.tokens import Doc
from spacy.vocab import Vocab

from annotators.rules import layout_tokens


def doc_from_spans(vocab: Vocab, text: str, words: Sequence[tuple[int, int]], tags: Sequence[str | None] | None = None) -> Doc:
    """A ``Doc`` whose tokens are ``words`` (sorted, non-overlapping character spans of ``text``).

    The tokens are :func:`annotators.rules.layout_tokens`' (the one home of this rule): characters
    outside every word become extra tokens, a single space after a token becomes its ``whitespace_``,
    and non-whitespace stretches between words are marked ``token._.gap`` (so
    :func:`annotators.to_annotation` gives back exactly ``words``).
    Returns the doc; raises ``ValueError`` if the words overlap or fall outside the text.
    """
    layout = layout_tokens(text, words, tags)
    doc = Doc(
        vocab,
        words=[text[t.start:t.end] for t in layout.tokens],
        spaces=layout.spaces,
        tags=[t.tag for t in layout.tokens] if layout.has_tags else None,
    )
    for i, t in enumerate(layout.tokens):
        if t.gap:
            doc[i]._.gap = True
    return doc


__all__ = ["doc_from_spans"]
