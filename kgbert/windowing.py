"""Long texts in :class:`kgbert.pipeline.Pipeline`: overlapping windows, merged predictions.

A text longer than the model's limit (``Pipeline.max_text_tokens``: ``max_length`` minus the
special tokens) is no longer refused or cut by default: it is split into windows of at most that
many tokens (two thirds of it for K-BERT with a KG, so that the injected branches fit in
``max_length`` too), each window overlapping the next by a quarter of its size (``stride = size -
size // 4``). Every window is annotated as a slice of the text's own annotation (entities that
lie wholly inside it; an entity cut by a window edge is left out of *that* window only, the
overlap holds it whole in the neighbouring one) and featurised on its own, so K-BERT injects the
knowledge of the entities of each window into that window.

- **Token tasks (NER):** the windows cover the model tokens (non-whitespace characters). Each
  token's prediction is taken from the window in which it lies farthest from an edge (most
  context on both sides); the tags are then decoded into entities over the whole text, so an
  entity that spans a window edge comes out once, whole. Offsets are those of the original text.
- **Sequence classification:** the windows cover the WordPieces; the class probabilities are the
  mean over the windows.
- **Pairs** are not windowed (which part of which text should pair with which?): a pair over the
  limit is refused, or cut with ``truncate=True``.

The result of a windowed input has ``"windows": n``. ``Pipeline(..., window=False)`` (``predict
--no-window``) restores the refusal; ``truncate=True`` cuts instead, as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from annotators import Annotation, Argument, Entity, Frame

if TYPE_CHECKING:  # pragma: no cover
    from kgbert.pipeline import Pipeline, PreparedInput


def plan_windows(n: int, size: int) -> list[tuple[int, int]]:
    """Token ranges ``[(start, end), ...]`` covering ``range(n)`` with windows of at most
    ``size`` tokens, each overlapping the next by ``size // 4`` (the last one ends at ``n``)."""
    if size < 1:
        raise ValueError(f"window size must be >= 1, got {size}")
    if n <= size:
        return [(0, n)]
    stride = max(1, size - size // 4)
    out = []
    start = 0
    while True:
        end = min(start + size, n)
        out.append((start, end))
        if end == n:
            return out
        start += stride
        if start + size > n:  # last window: flush with the end, as wide as the others
            start = n - size


def window_tokens(pipe: "Pipeline") -> int:
    """Tokens of text per window: what the featuriser takes of the model's limit
    (:meth:`kgbert.data.featurize.Featurizer.window_tokens`; K-BERT with a KG: two thirds of it,
    so that the branches fit in ``max_length`` too)."""
    return pipe.featurizer.window_tokens(pipe.max_text_tokens)


def slice_annotation(ann: Annotation, start: int, end: int) -> Annotation:
    """``ann`` restricted to ``ann.text[start:end]``: the words, entities and SRL frames (those
    whose predicate is inside, with the arguments wholly inside) shifted (phrases are not used by
    the encoders and are left out)."""
    ents = [Entity(e.start - start, e.end - start, e.label, e.kg_id,
                   e.name if (e.name is not None or e.kg_id is not None) else None, e.source)
            for e in ann.entities if start <= e.start and e.end <= end]
    words = [(s - start, t - start) for s, t in ann.words if start <= s and t <= end]
    frames = [
        Frame((f.predicate[0] - start, f.predicate[1] - start),
              tuple(Argument(a.role, a.start - start, a.end - start) for a in f.args if start <= a.start and a.end <= end),
              f.sense)
        for f in ann.srl if start <= f.predicate[0] and f.predicate[1] <= end
    ]
    return Annotation(text=ann.text[start:end], words=words, entities=ents, srl=frames)


@dataclass
class Windowed:
    """How a long input was split: the windows (each a prepared input of its own) and where
    each begins, in model tokens and in characters of the original text."""

    kind: str  # "token" or "sequence"
    windows: list["PreparedInput"]
    token_ranges: list[tuple[int, int]]
    char_starts: list[int]
    meta: dict[str, Any] = field(default_factory=dict)


def prepare_windows(pipe: "Pipeline", ann: Annotation) -> Windowed:
    """Split an annotated text that is too long for the model into prepared windows."""
    size = window_tokens(pipe)
    text = ann.text
    if pipe.task == "token":
        offsets = [i for i, c in enumerate(text) if not c.isspace()]
        ranges = plan_windows(len(offsets), size)
        spans = [(offsets[a], offsets[b - 1] + 1) for a, b in ranges]
        kind = "token"
    else:
        _, starts, ends = pipe.featurizer.tokenize_spans(text)
        ranges = plan_windows(len(starts), size)
        spans = [(starts[a], ends[b - 1]) for a, b in ranges]
        kind = "sequence"
    # a window never windows again: a WordPiece window that tokenises longer on its own (a word
    # cut at its edge) is cut at the limit, and says so ("truncated")
    windows = [pipe.prepare(slice_annotation(ann, s, e), long="truncate") for s, e in spans]
    return Windowed(kind, windows, ranges, [s for s, _ in spans])


def merge_token_probs(w: Windowed, window_probs: Sequence[Any], n_tokens: int, outside: int = 0):
    """(n_tokens, C) probabilities: each token's row from the window where it is most central (a
    token no window predicted, which does not happen unless a window was cut, gets label
    ``outside`` with probability 1)."""
    import torch

    best = [-1] * n_tokens
    margin = [-1] * n_tokens
    for k, (a, b) in enumerate(w.token_ranges):
        for g in range(a, b):
            m = min(g - a, b - 1 - g)
            if m > margin[g]:
                margin[g], best[g] = m, k
    rows: list[Any] = [None] * n_tokens
    for k, (item, probs) in enumerate(zip(w.windows, window_probs)):
        a = w.token_ranges[k][0]
        for pos, tok in enumerate(item.feature["token_map"]):
            if tok >= 0 and best[a + tok] == k and rows[a + tok] is None:
                rows[a + tok] = probs[pos]
    num_labels = window_probs[0].shape[-1]
    empty = torch.zeros(num_labels)
    empty[outside] = 1.0
    return torch.stack([r if r is not None else empty for r in rows]) if rows else empty[None, :0]


def merge_window_outputs(w: Windowed, outputs: Sequence[dict[str, Any]], text: str) -> dict[str, Any]:
    """Merge what the encoder adds to each window's result (its registry entry's
    ``pipeline_output``): a list of span records (dicts with ``start``/``end``, e.g. K-BERT's
    ``knowledge``) is merged in original offsets by :func:`merge_knowledge`; any other value
    becomes the list of the windows' values."""
    merged: dict[str, Any] = {}
    for key in (outputs[0] if outputs else {}):
        values = [o.get(key) for o in outputs]
        if all(isinstance(v, list) and all(isinstance(r, dict) and "start" in r and "end" in r for r in v) for v in values):
            merged[key] = merge_knowledge(w, values, text)
        else:
            merged[key] = values
    return merged


def merge_knowledge(w: Windowed, reports: Sequence[list[dict[str, Any]]], text: str) -> list[dict[str, Any]]:
    """The windows' knowledge reports in original offsets, each mention once (first window wins)."""
    seen: set[tuple[int, int]] = set()
    out = []
    for start, report in zip(w.char_starts, reports):
        for rec in report:
            rec = {**rec, "start": rec["start"] + start, "end": rec["end"] + start}
            key = (rec["start"], rec["end"])
            if key in seen:
                continue
            seen.add(key)
            rec["text"] = text[rec["start"]:rec["end"]]
            out.append(rec)
    return sorted(out, key=lambda r: (r["start"], r["end"]))
