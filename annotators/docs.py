"""Building a spaCy ``Doc`` from given words (a leaf module: used by the tokenizer and by
:func:`annotators.from_annotation`)."""
from __future__ import annotations

from typing import Sequence

from spacy.tokens import Doc
from spacy.vocab import Vocab


def doc_from_spans(vocab: Vocab, text: str, words: Sequence[tuple[int, int]], tags: Sequence[str | None] | None = None) -> Doc:
    """A ``Doc`` whose tokens are ``words`` (sorted, non-overlapping character spans of ``text``).

    Characters outside every word become extra tokens: a single space after a token becomes its
    ``whitespace_``; other uncovered stretches become their own tokens, marked ``token._.gap``
    when they are not whitespace (so :func:`annotators.to_annotation` gives back exactly ``words``).
    Returns the doc; raises ``ValueError`` if the words overlap or fall outside the text.
    """
    toks: list[str] = []
    spaces: list[bool] = []
    tok_tags: list[str] = []
    gaps: list[int] = []

    def add(s: int, e: int, tag: str | None, gap: bool) -> None:
        piece = text[s:e]
        if piece == " " and toks and not spaces[-1]:
            spaces[-1] = True
            return
        if gap and not piece.isspace():
            gaps.append(len(toks))
        toks.append(piece)
        spaces.append(False)
        tok_tags.append(tag or ("_SP" if piece.isspace() else ""))

    def add_gap(s: int, e: int) -> None:
        # whitespace and non-whitespace runs of the gap become separate tokens
        i = s
        while i < e:
            j = i + 1
            while j < e and text[j].isspace() == text[i].isspace():
                j += 1
            if text[i].isspace():
                for k in range(i, j):  # one token per whitespace char, like jieba
                    add(k, k + 1, None, True)
            else:
                add(i, j, None, True)
            i = j

    pos = 0
    for k, (s, e) in enumerate(words):
        if not (pos <= s < e <= len(text)):
            raise ValueError(f"word {k} [{s}, {e}) overlaps the previous one or lies outside the text")
        if s > pos:
            add_gap(pos, s)
        add(s, e, tags[k] if tags is not None else None, False)
        pos = e
    if pos < len(text):
        add_gap(pos, len(text))
    has_tags = tags is not None and any(tags)
    doc = Doc(vocab, words=toks, spaces=spaces, tags=tok_tags if has_tags else None)
    for i in gaps:
        doc[i]._.gap = True
    return doc


__all__ = ["doc_from_spans"]
