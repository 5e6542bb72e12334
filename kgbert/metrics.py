"""Evaluation metrics: accuracy, macro-F1, entity-level P/R/F1 (seqeval semantics) and
multi-label entity-typing scores (:func:`typing_scores`: strict accuracy, loose macro and loose
micro P/R/F1 of Ling & Weld 2012, as ERNIE reports on FIGER and OpenEntity).

The entity-level scorer follows seqeval's default (conlleval-compatible) mode: a chunk starts at
``B-X``, at ``S-X``, at an ``I-X``/``M-X``/``E-X`` whose type differs from the running chunk, or at
``I-X`` after ``O`` (an ``I-`` without ``B-`` is treated as a start). A chunk ends before ``O``,
``B-``, ``S-``, a type change, and after ``E-``/``S-``. Tags are ``O`` or ``<P>-<TYPE>`` with
``P`` in ``B I M E S`` (so BIO, IOB1, BIOES and BMES all work without conversion). Scores are
micro-averaged over entities, as ``seqeval.metrics.f1_score`` does by default.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

Entity = tuple[str, int, int]
"""(type, start, end) with ``end`` exclusive, in token positions."""


def _split_tag(tag: str) -> tuple[str, str]:
    """Return (prefix, type); ``O`` and malformed tags become ("O", "")."""
    if tag in ("O", "", None):
        return "O", ""
    if len(tag) >= 2 and tag[1] in "-_" and tag[0] in "BIMES":
        return tag[0], tag[2:]
    # A bare type ("PER") counts as inside that type, as conlleval does for untyped prefixes.
    return "I", tag


def _ends(prev_prefix: str, prev_type: str, prefix: str, type_: str) -> bool:
    """Does the chunk running at the previous tag end before the current tag?"""
    if prev_prefix == "O":
        return False
    if prev_prefix in ("E", "S"):
        return True
    if prefix in ("O", "B", "S"):
        return True
    return type_ != prev_type


def _starts(prev_prefix: str, prev_type: str, prefix: str, type_: str) -> bool:
    """Does a chunk start at the current tag?"""
    if prefix == "O":
        return False
    if prefix in ("B", "S"):
        return True
    # I/M/E: start when not continuing a chunk of the same type.
    if prev_prefix in ("O", "E", "S"):
        return True
    return type_ != prev_type


def get_entities(tags: Sequence[str]) -> list[Entity]:
    """Chunks of one tag sequence as (type, start, end), end exclusive, in order of start."""
    entities: list[Entity] = []
    prev_prefix, prev_type = "O", ""
    start = -1
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, type_ = _split_tag(tag)
        if start >= 0 and _ends(prev_prefix, prev_type, prefix, type_):
            entities.append((prev_type, start, i))
            start = -1
        if _starts(prev_prefix, prev_type, prefix, type_):
            start = i
        prev_prefix, prev_type = prefix, type_
    return entities


def _prf(n_correct: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = n_correct / n_pred if n_pred else 0.0
    r = n_correct / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Entity-level micro P/R/F1 over sentences, plus per-type scores and counts.

    ``gold`` and ``pred`` are lists of tag sequences; each pair must have the same length.
    Returns ``{"precision", "recall", "f1", "n_gold", "n_pred", "n_correct", "per_type": {...}}``.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sequences but {len(pred)} predicted sequences")
    c_gold: Counter[str] = Counter()
    c_pred: Counter[str] = Counter()
    c_ok: Counter[str] = Counter()
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sequence {i}: {len(g)} gold tags but {len(p)} predicted tags")
        ge, pe = set(get_entities(g)), set(get_entities(p))
        c_gold.update(e[0] for e in ge)
        c_pred.update(e[0] for e in pe)
        c_ok.update(e[0] for e in ge & pe)
    out = _prf(sum(c_ok.values()), sum(c_pred.values()), sum(c_gold.values()))
    out.update(n_gold=sum(c_gold.values()), n_pred=sum(c_pred.values()), n_correct=sum(c_ok.values()))
    out["per_type"] = {
        t: {**_prf(c_ok[t], c_pred[t], c_gold[t]), "support": c_gold[t]} for t in sorted(set(c_gold) | set(c_pred))
    }
    return out


def accuracy(gold: Sequence, pred: Sequence) -> float:
    """Fraction of equal pairs (0.0 for empty input)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    return sum(g == p for g, p in zip(gold, pred)) / len(gold) if gold else 0.0


def macro_f1(gold: Sequence, pred: Sequence, labels: Sequence | None = None) -> float:
    """Unweighted mean of per-class F1 over ``labels`` (default: classes seen in gold or pred).

    A class with neither gold nor predicted instances is skipped (scikit-learn, given such a
    class in ``labels=``, would count it as F1 = 0); a class with instances but no correct
    prediction scores 0.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    classes = list(labels) if labels is not None else sorted(set(gold) | set(pred), key=str)
    scores = []
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        n_pred = sum(p == c for p in pred)
        n_gold = sum(g == c for g in gold)
        if n_pred == 0 and n_gold == 0:
            continue
        scores.append(_prf(tp, n_pred, n_gold)["f1"])
    return sum(scores) / len(scores) if scores else 0.0


def roc_auc(positive: Sequence[bool], scores: Sequence[float]) -> float:
    """Area under the ROC curve: the probability that a random positive example scores above a random
    negative one, ties counting one half (the Mann-Whitney U statistic over average ranks). Raises when
    one class is absent (the AUC is undefined)."""
    pos = np.asarray(positive, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if pos.shape != s.shape or pos.ndim != 1:
        raise ValueError(f"roc_auc: {pos.shape} labels but {s.shape} scores")
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc needs positive and negative examples")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    ranks[order] = np.arange(1, len(s) + 1)
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)  # average ranks over ties
    ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_scores(
    gold: Sequence, pred: Sequence, labels: Sequence | None = None, probs: np.ndarray | None = None
) -> dict[str, float]:
    """``{"accuracy", "macro_f1"}`` for a classification task, plus ``"auc"`` for a two-class task when
    ``probs`` (N, 2) are given: the ROC AUC of the second label of ``labels`` scored by its probability,
    which shows a learnt ranking even where every prediction is the majority class (both classes
    must occur in ``gold``; otherwise no ``"auc"``)."""
    out = {"accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred, labels)}
    if probs is not None and labels is not None and len(labels) == 2:
        positive = [g == labels[1] for g in gold]
        if 0 < sum(positive) < len(positive):
            out["auc"] = roc_auc(positive, np.asarray(probs)[:, 1])
    return out


def typing_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Multi-label typing scores over mentions, each with a set of gold and predicted types.

    - ``accuracy``: strict, the predicted set equals the gold set;
    - ``loose_macro_*``: per-mention precision |P & G| / |P| and recall |P & G| / |G|, each
      averaged over all mentions (a mention with no prediction counts precision 0, as in ERNIE's
      ``loose_macro``), F1 of the two averages;
    - ``loose_micro_*``: sum |P & G| over sum |P| and over sum |G|, F1 of the two.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold type sets but {len(pred)} predicted")
    n = len(gold)
    strict = p_ma = r_ma = 0.0
    inter = n_pred = n_gold = 0
    for g, p in zip(gold, pred):
        gs, ps = set(g), set(p)
        both = len(gs & ps)
        strict += gs == ps
        p_ma += both / len(ps) if ps else 0.0
        r_ma += both / len(gs) if gs else 0.0
        inter, n_pred, n_gold = inter + both, n_pred + len(ps), n_gold + len(gs)
    out = {"accuracy": strict / n if n else 0.0}
    for kind, (p, r) in (("loose_macro", (p_ma / n if n else 0.0, r_ma / n if n else 0.0)),
                         ("loose_micro", (inter / n_pred if n_pred else 0.0, inter / n_gold if n_gold else 0.0))):
        out.update({f"{kind}_precision": p, f"{kind}_recall": r, f"{kind}_f1": 2 * p * r / (p + r) if p + r else 0.0})
    return out


def bmes_to_bio(tags: Sequence[str]) -> list[str]:
    """Convert BMES/BIOES tags to BIO (``S-``->``B-``, ``M-``/``E-``->``I-``)."""
    out = []
    for t in tags:
        prefix, type_ = _split_tag(t)
        if prefix == "O":
            out.append("O")
        elif prefix in ("B", "S"):
            out.append("B-" + type_)
        else:
            out.append("I-" + type_)
    return out
