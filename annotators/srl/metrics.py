"""Span-level precision / recall / F1, CoNLL-2005 style: a prediction counts only when its span
and its label both match a gold one exactly."""
from __future__ import annotations

from collections import Counter
from typing import Hashable, Iterable, Sequence

from annotators.srl.data import SrlFrame


def prf(n_correct: int, n_pred: int, n_gold: int) -> dict[str, float | int]:
    """Precision, recall, F1 (0 when undefined) and the counts."""
    p = n_correct / n_pred if n_pred else 0.0
    r = n_correct / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "correct": n_correct, "predicted": n_pred, "gold": n_gold}


def span_prf(gold: Iterable[Hashable], pred: Iterable[Hashable]) -> dict[str, float | int]:
    """P/R/F1 of two multisets of hashable items (e.g. ``(sentence, predicate, role, start, end)``)."""
    g, p = Counter(gold), Counter(pred)
    return prf(sum((g & p).values()), sum(p.values()), sum(g.values()))


def predicate_items(predicates: Sequence[Iterable[int]]) -> list[tuple[int, int]]:
    """``(sentence, word)`` items for predicate-identification scoring."""
    return [(k, i) for k, preds in enumerate(predicates) for i in set(preds)]


def argument_items(frames: Sequence[Sequence[SrlFrame]]) -> list[tuple]:
    """``(sentence, predicate, role, start, end)`` items for argument scoring (``V`` excluded)."""
    return [
        (k, fr.predicate, a.role, a.start, a.end)
        for k, sent in enumerate(frames)
        for fr in sent
        for a in fr.args
        if a.role != "V"
    ]


def per_role(gold: Sequence[tuple], pred: Sequence[tuple]) -> dict[str, dict[str, float | int]]:
    """Argument P/R/F1 per role (items as from :func:`argument_items`)."""
    roles = sorted({x[2] for x in gold} | {x[2] for x in pred})
    return {r: span_prf([x for x in gold if x[2] == r], [x for x in pred if x[2] == r]) for r in roles}
