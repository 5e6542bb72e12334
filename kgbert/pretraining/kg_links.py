"""``kg_links``: a fast corpus annotator that only links KG entities (for ERNIE-THU's dEA).

It runs the project's KG matcher (:class:`knowledge.EntityMatcher` over a store built by
``build_kg``: leftmost-longest, ``min_entity_len``, the rule the ``ernie_thu`` featuriser uses
for text without annotation) and stores per line the mention spans (``entities``, character
offsets ``[s0, e0, s1, e1, ...]``) and their store entity ids (``kg_ids``, one per span). No
spaCy document is built: a line costs one automaton pass.

The store's ``build_id`` is part of the annotator's options, so a rebuilt store (new entity ids)
gets a new cache; the ids stay tied to the build the KG-embedding export belongs to.

At packing time :func:`kg_id_units` aligns the ids to tokens with ERNIE's rule: the mention's
id goes to the first token that starts inside it (-1 on every other token).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


class KgLinkAnnotator:
    """Entity spans and their KG ids from the store's matcher (see module docstring).

    Args:
        kg: path of the store (``python -m kgbert.build_kg``).
        min_entity_len: shortest entity name matched (the ``ernie_thu`` featuriser's default, 2).
        subjects_only: match only entities that are the subject of some triple.
    """

    name = "kg_links"
    fields = ("entities", "kg_ids")

    def __init__(self, kg: str | None = None, min_entity_len: int = 2, subjects_only: bool = False) -> None:
        if not kg:
            raise ValueError("the kg_links annotator needs masking.annotator_options.kg (a store built by build_kg)")
        from knowledge import EntityMatcher, KnowledgeGraph

        store = KnowledgeGraph.open(kg)
        self.options = {"kg": str(kg), "build_id": store.build_id, "min_entity_len": int(min_entity_len),
                        "subjects_only": bool(subjects_only)}
        self.matcher = EntityMatcher.for_store(store, min_len=int(min_entity_len), subjects_only=bool(subjects_only))

    @property
    def version(self) -> str:
        from knowledge.matcher import MATCHER_VERSION

        return f"matcher-{MATCHER_VERSION}"

    def __call__(self, lines: Sequence[str]) -> list[dict[str, list[int]]]:
        out = []
        for text in lines:
            spans: list[int] = []
            ids: list[int] = []
            for m in self.matcher.find(text):
                spans += (m.start, m.end)
                ids.append(int(m.entity_id))
            out.append({"entities": spans, "kg_ids": ids})
        return out


def kg_id_units(offsets: Sequence[tuple[int, int]], flat_spans: Sequence[int], kg_ids: Sequence[int]) -> list[int]:
    """Per token: the KG id of the mention on its first token (the first token starting inside the
    mention), -1 elsewhere. ``flat_spans`` ``[s0, e0, ...]`` sorted, non-overlapping; ``kg_ids``
    one per span."""
    n = len(offsets)
    if n == 0 or len(kg_ids) == 0:
        return [-1] * n
    spans = np.asarray(flat_spans, dtype=np.int64).reshape(-1, 2)
    ids = np.asarray(kg_ids, dtype=np.int64)
    if len(ids) != len(spans):
        raise ValueError(f"{len(spans)} entity spans but {len(ids)} kg ids")
    starts = np.asarray([o[0] for o in offsets], dtype=np.int64)
    idx = np.searchsorted(spans[:, 0], starts, side="right") - 1
    inside = (idx >= 0) & (starts < spans[np.clip(idx, 0, None), 1])
    first = inside.copy()
    first[1:] &= ~(inside[:-1] & (idx[1:] == idx[:-1]))  # not the first token of its mention
    return np.where(first, ids[np.clip(idx, 0, None)], -1).tolist()


def has_kg_ids(spans: dict[str, Any]) -> bool:
    return "kg_ids" in spans and "entities" in spans


__all__ = ["KgLinkAnnotator", "has_kg_ids", "kg_id_units"]
