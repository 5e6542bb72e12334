"""The annotation contract: the one record every annotator writes and every encoder reads.

One :class:`Annotation` per text, serialisable losslessly to one JSON line::

    {"text": "患者服用阿司匹林后胃出血",
     "words": [[0,2],[2,4],[4,8],[8,9],[9,12]],
     "entities": [{"start":4,"end":8,"label":"KG","kg_id":1532,"name":"阿司匹林","source":"kg"}],
     "phrases": [{"start":9,"end":12,"label":"NP"}],
     "srl": [{"predicate":[2,4],"args":[{"role":"A0","start":0,"end":2},{"role":"A1","start":4,"end":8}]}]}

Offsets are character offsets into ``text``, end-exclusive. Every span is validated on
construction: ``0 <= start < end <= len(text)``. Words must be sorted and must not overlap;
entities must not overlap each other (use :func:`resolve_entity_overlaps` to pick a consistent
subset first); phrases must not overlap each other; the arguments of one SRL frame must not
overlap each other. Violations raise :class:`AnnotationError`, which names the file and line
when the record came from a JSONL file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

ENTITY_SOURCES = ("user", "kg", "ner")
"""Valid ``Entity.source`` values, highest priority first (see :func:`resolve_entity_overlaps`)."""


class AnnotationError(ValueError):
    """An annotation violates the contract (offset outside the text, overlapping spans, ...)."""


@dataclass(frozen=True)
class Span:
    """A labelled character span ``text[start:end]`` (phrases use this)."""

    start: int
    end: int
    label: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.label is not None:
            d["label"] = self.label
        return d


@dataclass(frozen=True)
class Entity:
    """An entity mention; ``kg_id``/``name`` are set when it is linked to a KG entity."""

    start: int
    end: int
    label: str = "ENT"
    kg_id: int | None = None
    name: str | None = None
    source: str = "kg"

    def lookup_name(self, text: str, kg: Any = None) -> str:
        """The KG lookup key of this mention of ``text``: ``name`` if set, else
        ``kg.entity_name(kg_id)`` if ``kg_id`` is set, else the surface text (the one home of this rule)."""
        if self.name is not None:
            return self.name
        if self.kg_id is not None:
            if kg is None:
                raise ValueError(f"entity [{self.start}, {self.end}) has kg_id {self.kg_id} but no name, and no KG was given")
            return kg.entity_name(self.kg_id)
        return text[self.start : self.end]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"start": self.start, "end": self.end, "label": self.label}
        if self.kg_id is not None:
            d["kg_id"] = self.kg_id
        if self.name is not None:
            d["name"] = self.name
        d["source"] = self.source
        return d


@dataclass(frozen=True)
class Argument:
    """One semantic-role argument of a frame."""

    role: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Frame:
    """One predicate-argument structure: the predicate span and its arguments."""

    predicate: tuple[int, int]
    args: tuple[Argument, ...] = ()
    sense: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"predicate": list(self.predicate), "args": [a.to_dict() for a in self.args]}
        if self.sense is not None:
            d["sense"] = self.sense
        return d


@dataclass
class Annotation:
    """Text plus its words, entities, phrases and SRL frames (character offsets, end-exclusive)."""

    text: str
    words: list[tuple[int, int]] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    phrases: list[Span] = field(default_factory=list)
    srl: list[Frame] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise AnnotationError(f"text must be a string, got {type(self.text).__name__}")
        self.words = [tuple(w) for w in self.words]  # type: ignore[misc]
        self.entities = sorted(self.entities, key=lambda e: (e.start, e.end))
        self.phrases = sorted(self.phrases, key=lambda p: (p.start, p.end))
        self.validate()

    # ------------------------------------------------------------------ validation
    def _check_span(self, what: str, start: Any, end: Any) -> None:
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise AnnotationError(f"{what}: offsets must be integers, got [{start!r}, {end!r}]")
        if not 0 <= start < end <= len(self.text):
            raise AnnotationError(
                f"{what}: span [{start}, {end}) is empty or outside the text (length {len(self.text)})"
            )

    @staticmethod
    def _check_no_overlap(what: str, spans: Sequence[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        for (s0, e0), (s1, e1) in zip(ordered, ordered[1:]):
            if s1 < e0:
                raise AnnotationError(f"{what}: spans [{s0}, {e0}) and [{s1}, {e1}) overlap")

    def validate(self) -> None:
        """Check every span; raises :class:`AnnotationError` on the first violation."""
        for i, (s, e) in enumerate(self.words):
            self._check_span(f"words[{i}]", s, e)
        for (s0, e0), (s1, e1) in zip(self.words, self.words[1:]):
            if s1 < e0:
                raise AnnotationError(f"words: [{s0}, {e0}) and [{s1}, {e1}) overlap or are out of order")
        for i, ent in enumerate(self.entities):
            self._check_span(f"entities[{i}]", ent.start, ent.end)
            if ent.source not in ENTITY_SOURCES:
                raise AnnotationError(f"entities[{i}]: source {ent.source!r} is not one of {ENTITY_SOURCES}")
        self._check_no_overlap("entities", [(e.start, e.end) for e in self.entities])
        for i, ph in enumerate(self.phrases):
            self._check_span(f"phrases[{i}]", ph.start, ph.end)
        self._check_no_overlap("phrases", [(p.start, p.end) for p in self.phrases])
        for i, fr in enumerate(self.srl):
            if len(fr.predicate) != 2:
                raise AnnotationError(f"srl[{i}].predicate must be [start, end], got {fr.predicate!r}")
            self._check_span(f"srl[{i}].predicate", *fr.predicate)
            for j, arg in enumerate(fr.args):
                self._check_span(f"srl[{i}].args[{j}] ({arg.role})", arg.start, arg.end)
            self._check_no_overlap(f"srl[{i}].args", [(a.start, a.end) for a in fr.args])

    # ------------------------------------------------------------------ accessors
    def span_text(self, start: int, end: int) -> str:
        return self.text[start:end]

    def word_texts(self) -> list[str]:
        return [self.text[s:e] for s, e in self.words]

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "text": self.text,
            "words": [list(w) for w in self.words],
            "entities": [e.to_dict() for e in self.entities],
            "phrases": [p.to_dict() for p in self.phrases],
            "srl": [f.to_dict() for f in self.srl],
        }
        if self.meta:
            d["meta"] = self.meta
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Annotation":
        if not isinstance(d, dict):
            raise AnnotationError(f"an annotation must be a JSON object, got {type(d).__name__}")
        unknown = set(d) - {"text", "words", "entities", "phrases", "srl", "meta"}
        if unknown:
            raise AnnotationError(f"unknown field(s) {sorted(unknown)}")
        if "text" not in d:
            raise AnnotationError("missing field 'text'")
        try:
            words = [tuple(w) for w in d.get("words", [])]
            for w in words:
                if len(w) != 2:
                    raise AnnotationError(f"a word must be [start, end], got {list(w)!r}")
            entities = [Entity(**e) for e in d.get("entities", [])]
            phrases = [Span(**p) for p in d.get("phrases", [])]
            srl = [
                Frame(
                    predicate=tuple(f["predicate"]),  # type: ignore[arg-type]
                    args=tuple(Argument(**a) for a in f.get("args", [])),
                    sense=f.get("sense"),
                )
                for f in d.get("srl", [])
            ]
        except (TypeError, KeyError) as exc:
            raise AnnotationError(f"malformed span: {exc}") from None
        return cls(text=d["text"], words=words, entities=entities, phrases=phrases, srl=srl, meta=dict(d.get("meta") or {}))  # type: ignore[arg-type]

    @classmethod
    def from_json(cls, line: str) -> "Annotation":
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnnotationError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        return cls.from_dict(d)


def resolve_entity_overlaps(entities: Iterable[Entity]) -> list[Entity]:
    """Pick a non-overlapping subset of entity mentions, by a fixed priority rule.

    Greedy over candidates ordered by: source priority (``user`` > ``kg`` > ``ner``), then longer
    span, then earlier start, then label. A candidate is kept when it overlaps nothing kept so far.
    The result is sorted by offset. The rule is deterministic and independent of input order.
    """
    rank = {s: i for i, s in enumerate(ENTITY_SOURCES)}
    ordered = sorted(
        entities,
        key=lambda e: (rank.get(e.source, len(rank)), -(e.end - e.start), e.start, e.label, e.kg_id or -1),
    )
    kept: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for ent in ordered:
        if all(ent.end <= s or ent.start >= e for s, e in taken):
            kept.append(ent)
            taken.append((ent.start, ent.end))
    return sorted(kept, key=lambda e: (e.start, e.end))


def read_jsonl(path: str | Path) -> Iterator[Annotation]:
    """Yield annotations from a JSONL file; blank lines are skipped.

    Errors raise :class:`AnnotationError` with ``file:line`` in the message.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise AnnotationError(f"{path}:{lineno}: not valid UTF-8 ({exc.reason})") from None
            if not line.strip():
                continue
            try:
                yield Annotation.from_json(line)
            except AnnotationError as exc:
                raise AnnotationError(f"{path}:{lineno}: {exc}") from None


def write_jsonl(annotations: Iterable[Annotation], path: str | Path) -> int:
    """Write annotations atomically (temp file + rename); returns the number written."""
    import os
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for ann in annotations:
                fh.write(ann.to_json())
                fh.write("\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return n
