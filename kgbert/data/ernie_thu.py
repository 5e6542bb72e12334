"""ERNIE-THU featuriser: the BERT features plus ``entity_ids`` (entity alignment).

**Alignment** (the reference's fine-tuning rule): each KG-linked entity mention gives its entity
id to its *first token* (the first token overlapping the mention); ``entity_ids[t] = k + 1`` for
the store's entity id ``k``, 0 elsewhere (``[CLS]``, ``[SEP]``, padding, other tokens). The
model's entity mask is ``entity_ids > 0``.

**Where mentions come from**: the example's annotation (``annotation.entities``: ``kg_id``, or the
``name`` looked up in the store), or, without an annotation, the project's matcher over the KG
store (:class:`knowledge.EntityMatcher`, longest match, ``min_entity_len``). A mention is
**dropped** when it has no vector: no store id, or an id outside the entity table
(``num_entities``); mentions cut by truncation are gone with their tokens. ``feat.stats`` counts
``entities`` (kept) and ``entities_dropped``.

**The table's store build**: ``entity_embeddings`` (an export directory of
``python -m knowledge.embed``) is opened with :func:`knowledge.embed.load_embeddings` against the
store given as ``kg``: another build of the store raises
:class:`knowledge.embed.BuildMismatchError`. :meth:`ErnieThuFeaturizer.saved_options` records
``num_entities`` and ``kg_build_id``, so inference checks the store build without the export.
Without ``entity_embeddings``/``num_entities`` no mention has a vector: ``entity_ids`` is all 0
(the model then computes BERT's function).
"""
from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Any

from kgbert.data.example import Example
from kgbert.data.featurize import Featurizer, FeaturizeError, Segment, SequenceBuilder, _where


class ErnieThuFeaturizer(Featurizer):
    """Featuriser for ``ernie_thu`` (see module docstring).

    Args:
        tokenizer, task, label_list, max_length, kg: as :class:`~kgbert.data.featurize.Featurizer`
            (``kg``: the store the entity ids refer to; needed to find or look up entities).
        entity_embeddings: the KG-embedding export directory (sets ``num_entities`` and
            ``kg_build_id``, checked against ``kg``).
        num_entities: rows of the entity table (ids ``0 .. num_entities - 1`` have a vector).
        kg_build_id: the store build the table belongs to (``kg`` must be that build).
        min_entity_len: shortest entity name the matcher finds (without annotations).
        matcher: an entity matcher to use instead of the store's (``.spans(text)`` or ``.find``).
    """

    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "entity_ids")

    def __init__(
        self,
        tokenizer,
        *,
        task: str,
        label_list,
        max_length: int,
        kg=None,
        entity_embeddings: str | None = None,
        num_entities: int | None = None,
        kg_build_id: str | None = None,
        min_entity_len: int = 2,
        matcher=None,
    ) -> None:
        super().__init__(tokenizer, task=task, label_list=label_list, max_length=max_length, kg=kg)
        if entity_embeddings:
            from knowledge.embed import load_embeddings

            emb = load_embeddings(entity_embeddings, kg=kg, build_id=kg_build_id)  # BuildMismatchError
            if num_entities and num_entities != emb.num_entities:
                raise ValueError(f"num_entities={num_entities} but the export {entity_embeddings} has {emb.num_entities}")
            num_entities, kg_build_id = emb.num_entities, emb.build_id
        elif kg_build_id is not None and kg is not None and kg.build_id != kg_build_id:
            from knowledge.embed import BuildMismatchError

            raise BuildMismatchError(
                f"the model's entity table belongs to store build {kg_build_id}, but the store {kg.path} is build "
                f"{kg.build_id}: entity ids differ between builds; use the store the model was trained with")
        if num_entities is not None and (not isinstance(num_entities, int) or num_entities < 0):
            raise ValueError(f"num_entities must be an int >= 0, got {num_entities!r}")
        self.entity_embeddings = str(entity_embeddings) if entity_embeddings else None
        self.num_entities = int(num_entities or 0)
        self.kg_build_id = kg_build_id
        self.min_entity_len = min_entity_len
        self._matcher = matcher
        self.stats.update({"entities": 0, "entities_dropped": 0})

    # ------------------------------------------------------------------ entities
    @property
    def matcher(self) -> Any:
        if self._matcher is None:
            from knowledge import EntityMatcher

            self._matcher = EntityMatcher.for_store(self.kg, min_len=self.min_entity_len, subjects_only=False)
        return self._matcher

    def entity_matcher(self) -> Any:
        """The matcher entities come from without an annotation (None without a store or table)."""
        return self.matcher if self.kg is not None and self.num_entities else None

    def saved_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Inference needs the table's size and store build, not the export itself."""
        out = dict(options)
        out.pop("entity_embeddings", None)
        out["num_entities"] = self.num_entities
        out["kg_build_id"] = self.kg_build_id
        return out

    def _mentions(self, example: Example, text: str, ann: Any) -> list[tuple[int, int, int | None]]:
        """(start, end, store entity id or None) of the entity mentions of ``text``."""
        if ann is not None:
            if ann.text != text:
                raise FeaturizeError(f"{_where(example)}: annotation text does not match the example text")
            out = []
            for e in ann.entities:
                kid = e.kg_id
                if kid is None and self.kg is not None:
                    kid = self.kg.entity_id(e.lookup_name(text, self.kg))
                out.append((e.start, e.end, kid))
            return out
        if self.kg is None or not self.num_entities:
            return []
        matcher = self.matcher
        spans = getattr(matcher, "spans", None)
        found = spans(text) if spans is not None else [(m[0], m[1], m[2]) for m in matcher.find(text)]
        return [(s, e, self.kg.entity_id(name)) for s, e, name in found]

    def _segment_entities(self, example: Example, seg: Segment, ann: Any, text: str) -> list[int]:
        """``entity_ids`` of the kept tokens of one segment."""
        out = [0] * seg.n
        if not self.num_entities:
            return out
        if seg.starts is not None and seg.ends is not None:
            starts, ends = seg.starts[: seg.n], seg.ends[: seg.n]
        else:  # token task: token i spans the characters of original token i
            cum = [0, *accumulate(len(t) for t in (example.tokens or []))]
            starts, ends = cum[: seg.n], cum[1 : seg.n + 1]
        for start, end, kid in self._mentions(example, text, ann):
            if kid is None or not 0 <= kid < self.num_entities:
                self.stats["entities_dropped"] += 1
                continue
            t = bisect_right(starts, start) - 1  # the token containing the mention's first character
            if t < 0 or ends[t] <= start:
                t += 1  # the first token after it (the mention starts in a gap, e.g. a space)
            if t >= len(starts) or starts[t] >= end:
                self.stats["entities_dropped"] += 1  # truncated away (or no token inside)
                continue
            if out[t] == 0:
                out[t] = kid + 1
                self.stats["entities"] += 1
        return out

    # ------------------------------------------------------------------ featurisation
    def build(self, example: Example, segs: list[Segment]) -> dict[str, Any]:
        f = SequenceBuilder.plain(self, example, segs)
        if self.task == "token":
            texts = ["".join(example.tokens or [])]
        else:
            texts = [example.text_a] + ([example.text_b or ""] if len(segs) == 2 else [])
        ids = [0]  # [CLS]
        for seg, ann, text in zip(segs, (example.ann_a, example.ann_b), texts):
            ids += self._segment_entities(example, seg, ann, text)
            ids.append(0)  # [SEP]
        f["entity_ids"] = ids
        return f


def entities_report(featurizer: ErnieThuFeaturizer, item: Any) -> dict[str, Any]:
    """Pipeline output: the linked entities the model read (store id and name, by token position)."""
    kg = featurizer.kg
    out = []
    for pos, eid in enumerate(item.feature["entity_ids"]):
        if eid:
            out.append({"position": pos, "kg_id": eid - 1, "name": kg.entity_name(eid - 1) if kg is not None else None})
    return {"entities": out}


__all__ = ["ErnieThuFeaturizer", "entities_report"]
