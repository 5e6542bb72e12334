"""The annotation rules as plain functions over (start, end, tag) tokens, without spaCy.

The single home of each rule that both the spaCy pipeline (:mod:`annotators.pipeline`,
:mod:`annotators.components`) and the fast corpus annotator (:mod:`annotators.fast`) apply:

* :func:`layout_tokens`: the tokens a ``Doc`` gets from given words (:func:`annotators.docs.doc_from_spans`);
* :func:`is_word`: which tokens are words (not whitespace, not a gap);
* :func:`pos_entity_label`: named entities from jieba POS tags (the ``entities`` component);
* :func:`phrase_word_count_ok`, :class:`KGNameWords`, :func:`filter_token_spans`: the ``phrases``
  component's candidate and overlap rules;
* :func:`resolve_components`: which components and whether POS tags, for given options.

:class:`TagPatternMatcher` evaluates the ``phrases`` component's spaCy ``Matcher`` patterns (over
``TAG``, ``greedy="LONGEST"``) directly on a list of tags, for the fast annotator; the spaCy path
keeps spaCy's ``Matcher``, and the tests compare the two on random tag sequences.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

from annotators.names import COMPONENTS


class Token(NamedTuple):
    """A token of a text laid out like a spaCy ``Doc``: character span, tag (``""`` = none), gap flag."""

    start: int
    end: int
    tag: str
    gap: bool


class Layout(NamedTuple):
    tokens: list[Token]
    spaces: list[bool]  # a single space follows the token (spaCy ``whitespace_``)
    has_tags: bool  # the doc carries tags at all


def layout_tokens(text: str, words: Sequence[tuple[int, int]], tags: Sequence[str | None] | None = None) -> Layout:
    """The tokens a ``Doc`` built from ``words`` (sorted, non-overlapping spans of ``text``) has.

    Characters outside every word become extra tokens: a single space after a token becomes its
    trailing whitespace; other uncovered stretches become their own tokens, marked ``gap`` when
    they are not whitespace (one token per whitespace character, like jieba). Untagged tokens get
    ``"_SP"`` (whitespace) or ``""``. Raises ``ValueError`` if the words overlap or fall outside the text.
    """
    toks: list[Token] = []
    spaces: list[bool] = []

    def add(s: int, e: int, tag: str | None, gap: bool) -> None:
        piece = text[s:e]
        if piece == " " and toks and not spaces[-1]:
            spaces[-1] = True
            return
        toks.append(Token(s, e, tag or ("_SP" if piece.isspace() else ""), gap and not piece.isspace()))
        spaces.append(False)

    def add_gap(s: int, e: int) -> None:  # whitespace and non-whitespace runs become separate tokens
        i = s
        while i < e:
            j = i + 1
            while j < e and text[j].isspace() == text[i].isspace():
                j += 1
            if text[i].isspace():
                for k in range(i, j):
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
    return Layout(toks, spaces, tags is not None and any(tags))


def is_word(piece: str, gap: bool) -> bool:
    """A token is a word unless it is whitespace or a gap between a user's words."""
    return not piece.isspace() and not gap


def pos_entity_label(tag: str, n_chars: int, word: bool, label_map: dict[str, str], min_chars: int) -> str | None:
    """The named-entity label of a token from its jieba POS tag (``nr``->PER ...), or None:
    one entity per tagged word of at least ``min_chars`` characters."""
    label = label_map.get(tag)
    if label is not None and n_chars >= min_chars and word:
        return label
    return None


def phrase_word_count_ok(n_words: int, min_words: int, max_words: int) -> bool:
    """A POS-pattern phrase is kept when it has ``min_words`` to ``max_words`` words."""
    return min_words <= n_words <= max_words


class KGNameWords:
    """How many words the plain segmenter (jieba, no POS) cuts a KG name into (memoised): a KG
    mention becomes a phrase candidate (label ``KG``) when its name has at least ``min_words``."""

    def __init__(self, user_dicts: Sequence[str] = ()) -> None:
        from annotators.segment import Segmenter

        self._plain = Segmenter(segmenter="jieba", pos=False, user_dicts=user_dicts)
        self._memo: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        n = self._memo.get(name)
        if n is None:
            n = sum(1 for w, _ in self._plain.cut_plain(name) if w.strip())
            if len(self._memo) > 200_000:
                self._memo.clear()
            self._memo[name] = n
        return n


def filter_token_spans(spans: Sequence[tuple[int, int, Any]]) -> list[tuple[int, int, Any]]:
    """``spacy.util.filter_spans`` on ``(start_token, end_token, label)`` tuples: longest first
    (in tokens), then earliest; a span is kept unless its first or last token is taken; the
    result sorted by start (stable: equal spans keep their input order)."""
    ordered = sorted(spans, key=lambda s: (s[1] - s[0], -s[0]), reverse=True)
    kept = []
    seen: set[int] = set()
    for s in ordered:
        if s[0] not in seen and s[1] - 1 not in seen:
            kept.append(s)
            seen.update(range(s[0], s[1]))
    return sorted(kept, key=lambda s: s[0])


def resolve_components(kg: Any, components: Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
    """The pipeline components (in pipeline order) and whether the tokenizer tags POS, for the
    options of :func:`annotators.make_pipeline` (default: ``kg_entities``, ``entities``,
    ``phrases``, without ``kg_entities`` when there is no KG; POS tags when ``entities``,
    ``phrases`` or ``srl`` is on)."""
    if components is None:
        components = ("kg_entities", "entities", "phrases") if kg is not None else ("entities", "phrases")
    components = tuple(components)
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown component(s) {unknown}; choose from {list(COMPONENTS)}")
    if "kg_entities" in components and kg is None:
        raise ValueError("the kg_entities component needs a KG store: make_pipeline(kg=PATH, ...)")
    pos = any(c in components for c in ("entities", "phrases", "srl"))
    return tuple(c for c in COMPONENTS if c in components), pos


# --------------------------------------------------------------------------- TAG patterns
_Pred = Callable[[str], bool]


def _tag_predicate(label: str, spec: dict[str, Any]) -> _Pred:
    extra = set(spec) - {"TAG", "OP"}
    if extra:
        raise ValueError(f"phrase pattern {label!r}: only TAG and OP are supported here, not {sorted(extra)}")
    if "TAG" not in spec:
        return lambda tag: True
    value = spec["TAG"]
    if isinstance(value, str):
        return lambda tag: tag == value
    if isinstance(value, dict) and set(value) == {"IN"}:
        allowed = frozenset(value["IN"])
        return lambda tag: tag in allowed
    if isinstance(value, dict) and set(value) == {"NOT_IN"}:
        banned = frozenset(value["NOT_IN"])
        return lambda tag: tag not in banned
    raise ValueError(f"phrase pattern {label!r}: TAG must be a string, {{'IN': [...]}} or {{'NOT_IN': [...]}}, got {value!r}")


class _PatternAutomaton:
    """One token pattern as an NFA (``+`` = the element then ``*``), run as a lazily built DFA."""

    def __init__(self, label: str, pattern: Sequence[dict[str, Any]]) -> None:
        self.elems: list[tuple[_Pred, bool, bool]] = []  # (predicate, optional, repeat)
        for spec in pattern:
            pred = _tag_predicate(label, spec)
            op = spec.get("OP")
            if op is None or op == "1":
                self.elems.append((pred, False, False))
            elif op == "?":
                self.elems.append((pred, True, False))
            elif op == "*":
                self.elems.append((pred, True, True))
            elif op == "+":
                self.elems += [(pred, False, False), (pred, True, True)]
            else:
                raise ValueError(f"phrase pattern {label!r}: OP {op!r} is not supported here (use None, '?', '*', '+')")
        self.final = len(self.elems)
        self.start = self._closure({0})
        self._next: dict[tuple[frozenset[int], str], frozenset[int]] = {}

    def _closure(self, states: set[int]) -> frozenset[int]:
        todo, out = list(states), set(states)
        while todo:
            k = todo.pop()
            if k < self.final and self.elems[k][1] and k + 1 not in out:
                out.add(k + 1)
                todo.append(k + 1)
        return frozenset(out)

    def step(self, states: frozenset[int], tag: str) -> frozenset[int]:
        key = (states, tag)
        nxt = self._next.get(key)
        if nxt is None:
            moved: set[int] = set()
            for k in states:
                if k < self.final:
                    pred, _, repeat = self.elems[k]
                    if pred(tag):
                        moved.add(k + 1)
                        if repeat:
                            moved.add(k)
            nxt = self._closure(moved)
            self._next[key] = nxt
        return nxt

    def ends(self, tags: Sequence[str], i: int) -> list[int]:
        """Every ``j > i`` such that ``tags[i:j]`` matches the pattern."""
        out = []
        states = self.start
        for j in range(i, len(tags)):
            states = self.step(states, tags[j])
            if not states:
                break
            if self.final in states:
                out.append(j + 1)
        return out


class TagPatternMatcher:
    """spaCy ``Matcher`` patterns over ``TAG`` with ``greedy="LONGEST"``, on a list of tags.

    :meth:`__call__` returns what ``Matcher(doc, as_spans=True)`` gives as ``(start, end, label)``
    token spans: per label, every match, then the longest first (then earliest) that overlaps no
    match kept before, in that order. Supports ``TAG`` values (string, ``IN``, ``NOT_IN``) and
    the operators ``?``, ``*``, ``+``; anything else raises ``ValueError``.
    """

    def __init__(self, patterns: dict[str, list[list[dict[str, Any]]]]) -> None:
        self.labels = [(label, [_PatternAutomaton(label, p) for p in pats]) for label, pats in patterns.items()]

    def __call__(self, tags: Sequence[str]) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for label, autos in self.labels:
            found = {(i, j) for i in range(len(tags)) for a in autos for j in a.ends(tags, i)}
            taken = [False] * len(tags)
            for i, j in sorted(found, key=lambda m: (m[1] - m[0], -m[0]), reverse=True):
                if not any(taken[i:j]):
                    out.append((i, j, label))
                    taken[i:j] = [True] * (j - i)
        return out


__all__ = ["KGNameWords", "Layout", "TagPatternMatcher", "Token", "filter_token_spans", "is_word", "layout_tokens",
           "phrase_word_count_ok", "pos_entity_label", "resolve_components"]
