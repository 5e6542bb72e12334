"""Word-level SRL records shared by the readers, writers and the tagger.

An :class:`SrlSentence` is a list of word strings plus predicate-argument frames whose spans are
*word* indices (end-exclusive). It converts to and from :class:`annotators.Annotation`, whose
spans are *character* offsets into the text. BIO helpers turn one frame into one tag per word
and back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from annotators.annotation import Annotation, AnnotationError, Argument, Frame

OUTSIDE = "O"


class SrlFormatError(ValueError):
    """An SRL file or record is malformed; the message names ``file:line`` when known."""


@dataclass(frozen=True)
class SrlArg:
    """One argument: ``role`` over words ``[start, end)``."""

    role: str
    start: int
    end: int


@dataclass(frozen=True)
class SrlFrame:
    """One predicate (words ``[predicate[0], predicate[1])``) and its arguments."""

    predicate: tuple[int, int]
    args: tuple[SrlArg, ...] = ()
    sense: str | None = None
    lemma: str | None = None


@dataclass
class SrlSentence:
    """Words, frames and optional per-word columns.

    ``pos`` and ``lemmas`` are per-word lists when the source format has them. ``columns`` keeps
    any other per-word columns of the source format (for lossless rewriting), ``comments`` the
    comment lines before the sentence, ``source`` the ``file:line`` of its first line.
    """

    words: list[str]
    frames: list[SrlFrame] = field(default_factory=list)
    pos: list[str] | None = None
    lemmas: list[str] | None = None
    columns: dict[str, list[str]] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    source: str | None = None

    def validate(self) -> None:
        """Check that every frame's spans lie inside the sentence and arguments do not overlap."""
        n = len(self.words)
        where = f"{self.source}: " if self.source else ""
        for per_word in (self.pos, self.lemmas, *self.columns.values()):
            if per_word is not None and len(per_word) != n:
                raise SrlFormatError(f"{where}a per-word column has {len(per_word)} entries for {n} words")
        for k, fr in enumerate(self.frames):
            ps, pe = fr.predicate
            if not 0 <= ps < pe <= n:
                raise SrlFormatError(f"{where}frame {k}: predicate words [{ps}, {pe}) outside the sentence ({n} words)")
            spans = sorted((a.start, a.end) for a in fr.args)
            for a in fr.args:
                if not 0 <= a.start < a.end <= n:
                    raise SrlFormatError(f"{where}frame {k}: argument {a.role} [{a.start}, {a.end}) outside the sentence")
            for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
                if s1 < e0:
                    raise SrlFormatError(f"{where}frame {k}: arguments [{s0}, {e0}) and [{s1}, {e1}) overlap")


# --------------------------------------------------------------------------- text <-> words
def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def join_words(words: Sequence[str], sep: str | None = None) -> tuple[str, list[tuple[int, int]]]:
    """Join words into a text and return it with the character span of each word.

    ``sep=None`` (the default) joins Chinese-style: no separator, except one space between two
    words whose touching characters are both ASCII letters/digits (so ``"iPhone" "6"`` stays two
    words). Any other ``sep`` is put between every pair of words.
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for i, w in enumerate(words):
        if not w:
            raise SrlFormatError(f"word {i} is empty")
        if i:
            gap = sep if sep is not None else (" " if _is_latin(words[i - 1][-1]) and _is_latin(w[0]) else "")
            parts.append(gap)
            pos += len(gap)
        parts.append(w)
        spans.append((pos, pos + len(w)))
        pos += len(w)
    return "".join(parts), spans


def sentence_to_annotation(sent: SrlSentence, sep: str | None = None) -> Annotation:
    """An :class:`Annotation` (character offsets) for a word-level sentence."""
    text, spans = join_words(sent.words, sep)
    frames = []
    for fr in sent.frames:
        ps, pe = fr.predicate
        args = tuple(Argument(a.role, spans[a.start][0], spans[a.end - 1][1]) for a in fr.args)
        frames.append(Frame(predicate=(spans[ps][0], spans[pe - 1][1]), args=args, sense=fr.sense))
    meta: dict[str, Any] = {"source": sent.source} if sent.source else {}
    return Annotation(text=text, words=spans, srl=frames, meta=meta)


def annotation_to_sentence(ann: Annotation) -> SrlSentence:
    """A word-level sentence from an :class:`Annotation`; every SRL span must align to its words."""
    if not ann.words:
        raise AnnotationError("SRL needs words: the annotation has none")
    starts = {s: i for i, (s, _) in enumerate(ann.words)}
    ends = {e: i for i, (_, e) in enumerate(ann.words)}

    def word_span(what: str, s: int, e: int) -> tuple[int, int]:
        if s not in starts or e not in ends or ends[e] < starts[s]:
            raise AnnotationError(f"{what}: characters [{s}, {e}) do not start and end on word boundaries")
        return starts[s], ends[e] + 1

    frames = []
    for k, fr in enumerate(ann.srl):
        pred = word_span(f"srl[{k}].predicate", *fr.predicate)
        args = tuple(SrlArg(a.role, *word_span(f"srl[{k}] argument {a.role}", a.start, a.end)) for a in fr.args)
        frames.append(SrlFrame(predicate=pred, args=args, sense=fr.sense))
    return SrlSentence(words=ann.word_texts(), frames=frames, source=ann.meta.get("source"))


# --------------------------------------------------------------------------- BIO
def frame_to_tags(frame: SrlFrame, num_words: int) -> list[str]:
    """One BIO tag per word for one frame (the predicate itself is not tagged)."""
    tags = [OUTSIDE] * num_words
    for a in frame.args:
        tags[a.start] = f"B-{a.role}"
        for i in range(a.start + 1, a.end):
            tags[i] = f"I-{a.role}"
    return tags


def tags_to_spans(tags: Sequence[str]) -> list[SrlArg]:
    """Argument spans from BIO tags. A stray ``I-X`` (not after ``B-X``/``I-X``) starts a new span."""
    spans: list[SrlArg] = []
    role: str | None = None
    start = 0
    for i, tag in enumerate(list(tags) + [OUTSIDE]):
        prefix, _, label = tag.partition("-")
        continues = prefix == "I" and role == label
        if role is not None and not continues:
            spans.append(SrlArg(role, start, i))
            role = None
        if prefix in ("B", "I") and not continues:
            role, start = label, i
        elif prefix not in ("B", "I", OUTSIDE):
            raise ValueError(f"not a BIO tag: {tag!r}")
    return spans


def bio_labels(roles: Sequence[str]) -> list[str]:
    """The tag list ``["O", "B-r", "I-r", ...]`` for ``roles`` (sorted, deduplicated)."""
    labels = [OUTSIDE]
    for r in sorted(set(roles)):
        labels += [f"B-{r}", f"I-{r}"]
    return labels
