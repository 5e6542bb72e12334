"""K-BERT featuriser: knowledge layer (sentence tree) -> token ids, soft positions, anchor/branch ids.

For every linked entity of a text, up to ``max_entities`` triples are taken from the KG store and
hung, as branches, on the entity (Liu et al., AAAI 2020). The tree is flattened into one token
sequence with each branch right after its anchor entity, and described by O(L) ids per token
(never an L x L matrix; the model builds the visible matrix on the device):

- ``position_ids`` (soft positions): the trunk is numbered 0, 1, 2, ... as if no knowledge were
  there; a branch continues from its anchor's last position, and the trunk resumes after the
  anchor: "爱吃苹果(水果)哈" -> 0,1,2,3,(4,5),4.
- ``anchor_ids``: for trunk tokens, the index (in the trunk, ``[CLS]`` = 0) of the first token of
  the unit they belong to: an entity mention is one unit, every other token its own unit. Branch
  tokens carry their anchor entity's unit id.
- ``branch_ids``: 0 on the trunk; k = 1, 2, ... numbers the branches of the sample in order.
- ``token_type_ids``: the segment (0 for text_a, 1 for text_b); branches take their anchor's.

The model's visible matrix is then
``visible[i,j] = (b_i==0 & b_j==0) | (a_i==a_j & (b_i==0 | b_j==0 | b_i==b_j))``.

**Entities.** If the example carries an annotation (``ann_a``/``ann_b``), its entities are used:
the lookup key is :meth:`annotators.Entity.lookup_name` (the entity's ``name`` if set, else
``kg.entity_name(kg_id)`` if ``kg_id`` is set, else the mention's surface text). Without an annotation, :class:`knowledge.EntityMatcher`
(leftmost-longest over the KG's subjects, ``min_entity_len`` characters or more) finds them.

**Which triples** (deterministic): ``kg.lookup(name, limit=max_entities, predicates=...)``, i.e.
the store's documented order (first appearance in the KG's source files), the first
``max_entities`` (default 2). ``inject="predicate_object"`` (default for classification) hangs
predicate+object, ``inject="object"`` (default for NER) the object only. ``max_branch_tokens``
caps a branch's length (default: no cap).

**Length budget** (``max_length`` includes the special tokens): the original tokens come first;
knowledge never pushes them out. Original text is truncated only when it alone exceeds the budget
(pairs: longest-first, as BERT). Branches then fill the remaining room in sentence order (left to
right; the triples of one entity in lookup order); the first branch that does not fit and every
branch after it are dropped, i.e. branches are dropped from the end of the sentence backwards.
For sentence pairs the room is split per segment (text_a gets the odd token), and room one
segment leaves unused goes to the other, so knowledge of text_a can never starve text_b (or the
reverse).

**NER** (``task="token"``): one input token per original token (vocab lookup, ``[UNK]`` when
absent), injected tokens get label -100, and ``token_map`` maps positions back to original tokens
(-1 on specials and knowledge), so metrics use original tokens only.

``max_entities=0`` (or ``kg=None`` or an empty KG) gives exactly the BERT baseline's ids plus
trivial anchor/branch/position ids, and the model is then exactly plain BERT.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Sequence

from kgbert.data.example import Example
from kgbert.data.featurize import Featurizer, FeaturizeError, Segment, SequenceBuilder, _where
from kgbert.data.selection import KnowledgeSelection

INJECT_MODES = ("predicate_object", "object")
_CACHE_MAX = 1_000_000

if TYPE_CHECKING:
    import torch

Branch = tuple[int, ...]


def _cumulative_starts(tokens: Sequence[str]) -> list[int]:
    """Character start offset of each token of ``"".join(tokens)``."""
    return [0, *accumulate(len(t) for t in tokens)][:-1] if tokens else []


class KBertFeaturizer(Featurizer):
    """Featuriser for ``kbert`` (see module docstring).

    Args:
        tokenizer, task, label_list, max_length: as :class:`~kgbert.data.featurize.Featurizer`.
        kg: a :class:`knowledge.KnowledgeGraph` (``None``: no knowledge).
        max_entities: triples per entity (default 2, the paper's ``MAX_ENTITIES``; 0 = none).
        inject: "predicate_object" | "object" (default: predicate_object for sequence/pair,
            object for token, as the reference scripts).
        predicates: only triples with these predicates (default: all).
        max_branch_tokens: cap on the tokens of one branch (default: no cap).
        min_entity_len: shortest entity name the matcher finds (default 2).
        latin_boundaries: no mention starts or ends inside a run of Latin letters or digits
            (default True: ``100`` is not found in ``U100``; see :mod:`knowledge.matcher`).
        matcher: an object with ``find(text) -> [(start, end, name, ...)]`` to use instead of
            ``EntityMatcher.for_store(kg, subjects_only=True)`` (built lazily on first use).
    """

    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "anchor_ids", "branch_ids")

    def __init__(
        self,
        tokenizer,
        *,
        task: str,
        label_list: Sequence[str],
        max_length: int,
        kg=None,
        max_entities: int = 2,
        inject: str | None = None,
        predicates: Sequence[str] | None = None,
        max_branch_tokens: int | None = None,
        min_entity_len: int = 2,
        matcher=None,
        stoplist=None,
        max_df: float | None = None,
        latin_boundaries: bool = True,
    ) -> None:
        super().__init__(tokenizer, task=task, label_list=label_list, max_length=max_length, kg=kg)
        if not isinstance(max_entities, int) or max_entities < 0:
            raise ValueError(f"max_entities must be an int >= 0, got {max_entities!r}")
        inject = inject or ("object" if task == "token" else "predicate_object")
        if inject not in INJECT_MODES:
            raise ValueError(f"inject must be one of {INJECT_MODES}, got {inject!r}")
        if max_branch_tokens is not None and max_branch_tokens < 1:
            raise ValueError(f"max_branch_tokens must be >= 1 or None, got {max_branch_tokens!r}")
        self.max_entities = max_entities
        self.inject = inject
        self.predicates = list(predicates) if predicates is not None else None
        self.max_branch_tokens = max_branch_tokens
        self.min_entity_len = min_entity_len
        self.latin_boundaries = bool(latin_boundaries)
        self._matcher = matcher
        self._branch_cache: dict[str, tuple[Branch, ...]] = {}
        # knowledge selection (kgbert.data.selection): mention names that get no knowledge
        self.selection = KnowledgeSelection(stoplist, max_df) if stoplist is not None or max_df is not None else None
        self.stats.update({"entities": 0, "branches": 0, "branches_dropped": 0})

    # ------------------------------------------------------------------ knowledge
    @property
    def knowledge_on(self) -> bool:
        return self.kg is not None and self.max_entities > 0

    @property
    def matcher(self):
        """The entity matcher (built or loaded from beside the store on first use)."""
        if self._matcher is None:
            from knowledge import EntityMatcher

            self._matcher = EntityMatcher.for_store(self.kg, min_len=self.min_entity_len, subjects_only=True,
                                                    latin_boundaries=self.latin_boundaries)
        return self._matcher

    def window_tokens(self, limit: int) -> int:
        """Two thirds of the limit when knowledge is injected (room for the branches)."""
        return max(1, limit * 2 // 3) if self.knowledge_on else limit

    def entity_matcher(self) -> Any:
        """The matcher entities come from without an annotation (None when no knowledge is injected)."""
        return self.matcher if self.knowledge_on else None

    def candidates(self, name: str) -> list[tuple[tuple[str, str, str], Branch]]:
        """(triple, branch token ids) of entity ``name``, in injection order: the store's order,
        the first ``max_entities``, ``inject`` text, capped at ``max_branch_tokens``, empty
        branches left out. The one home of K-BERT's injection rule."""
        out = []
        for t in self.kg.lookup(name, limit=self.max_entities, predicates=self.predicates):
            text = t.predicate + t.object if self.inject == "predicate_object" else t.object
            ids = tuple(self.tokenize_spans(text)[0])
            if self.max_branch_tokens is not None:
                ids = ids[: self.max_branch_tokens]
            if ids:
                out.append(((t.subject, t.predicate, t.object), ids))
        return out

    def branches(self, name: str) -> tuple[Branch, ...]:
        """Token ids of the branches of entity ``name`` (cached :meth:`candidates`)."""
        hit = self._branch_cache.get(name)
        if hit is not None:
            return hit
        result = tuple(ids for _, ids in self.candidates(name))
        if len(self._branch_cache) >= _CACHE_MAX:
            self._branch_cache.clear()
        self._branch_cache[name] = result
        return result

    def _mentions(self, example: Example, text: str, ann) -> list[tuple[int, int, str]]:
        """(start, end, lookup name) of the entities of ``text``, sorted by start."""
        if ann is None:
            matcher = self.matcher
            spans = getattr(matcher, "spans", None)  # EntityMatcher: plain tuples, no Match objects
            if spans is not None:
                return spans(text)
            return [(m[0], m[1], m[2]) for m in matcher.find(text)]
        if ann.text != text:
            raise FeaturizeError(f"{_where(example)}: annotation text does not match the example text")
        return [(e.start, e.end, e.lookup_name(text, self.kg)) for e in ann.entities]

    def _attach(self, example: Example, seg: Segment, text: str, ann, offsets) -> None:
        """Find entity units of a tokenised segment and their candidate branches.

        ``offsets`` is a callable giving ``(starts, ends)`` character offsets of the tokens, or
        ``None`` when every token is one character (token i is character i).
        """
        if not self.knowledge_on:
            return
        mentions = self._mentions(example, text, ann)
        if self.selection is not None and mentions:
            blocked = self.selection.blocked
            mentions = [m for m in mentions if m[2] not in blocked]
        if not mentions:
            return
        starts, ends = offsets() if offsets is not None else (None, None)  # (list[int], list[int]) or (None, None)
        cached = self._branch_cache.get
        units = seg.units  # (tok_start, tok_end, branches)
        last_end = 0
        found = 0
        for start, end, name in mentions:
            if starts is None or ends is None:
                ts, te = start, end
            else:
                ts = bisect_right(ends, start)  # first token ending after the mention starts
                te = bisect_left(starts, end)  # tokens starting before the mention ends
            if ts >= te or ts < last_end:  # no token, or shares a token with the previous mention
                continue
            found += 1
            br = cached(name)
            if br is None:
                br = self.branches(name)
            if br:
                units.append((ts, te, br))
                last_end = te
        self.stats["entities"] += found

    # ------------------------------------------------------------------ selection
    def fit(self, examples: Sequence[Example]) -> None:
        """Learn the ``max_df`` block list from the training examples (no-op without ``max_df``)."""
        if self.selection is None or self.selection.max_df is None or not self.knowledge_on:
            return

        def names(ex: Example) -> list[str]:
            out = []
            text_a = "".join(ex.tokens) if self.task == "token" and ex.tokens is not None else ex.text_a
            for text, ann in ((text_a, ex.ann_a), (ex.text_b, ex.ann_b)):
                if text:
                    out += [m[2] for m in self._mentions(ex, text, ann)]
            return out

        self.selection.fit(examples, names)

    def saved_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The featuriser options inference must use (``max_df`` resolved into ``stoplist``)."""
        return self.selection.saved_options(options) if self.selection is not None else dict(options)

    # ------------------------------------------------------------------ segments
    def segments(self, example: Example) -> list[Segment]:
        """The base segments with each one's entity units (and their branches) attached."""
        segs = super().segments(example)
        if not self.knowledge_on:
            return segs
        if self.task == "token":
            seg = segs[0]
            tokens = example.tokens or []
            if tokens:
                text = "".join(tokens)
                if text != example.text_a and example.ann_a is not None:
                    raise FeaturizeError(f"{_where(example)}: text_a is not the concatenation of tokens")

                def offsets() -> tuple[list[int], list[int]]:
                    starts = _cumulative_starts(tokens)
                    return starts, [s + len(t) for s, t in zip(starts, tokens)]

                one_char = len(text) == len(tokens) and "" not in tokens  # token i is character i
                self._attach(example, seg, text, example.ann_a, None if one_char else offsets)
            return segs
        texts: list[tuple[str, Any]] = [(example.text_a, example.ann_a), (example.text_b or "", example.ann_b)]
        for seg, (text, ann) in zip(segs, texts):
            if seg.ids:
                self._attach(example, seg, text, ann, lambda seg=seg: (seg.starts, seg.ends))
        return segs

    @staticmethod
    def _fit(seg: Segment, room: int) -> tuple[int, int]:
        """How many of the segment's branches (in order) fit in ``room``; (count, tokens used)."""
        used = 0
        count = 0
        for _ts, te, br in seg.units:
            if te > seg.n:
                break  # the entity was truncated away: it and everything after it
            for b in br:
                if used + len(b) > room:
                    return count, used
                used += len(b)
                count += 1
        return count, used

    @staticmethod
    def _total_branches(seg: Segment) -> int:
        return sum(len(br) for ts, te, br in seg.units if te <= seg.n)

    # ------------------------------------------------------------------ featurisation
    def build(self, example: Example, segs: list[Segment]) -> dict[str, Any]:
        """Fill the room left after the (truncated) original text with branches, per segment, and
        flatten the tree (ids of the flattened sentence tree; see module docstring)."""
        L = self.max_length
        if len(segs) == 1:
            seg = segs[0]
            keep = [self._fit(seg, L - 2 - seg.n)[0] if seg.units else 0]
        else:
            room = L - 3 - segs[0].n - segs[1].n
            ra, rb = room - room // 2, room // 2
            ka, ua = self._fit(segs[0], ra)
            kb, ub = self._fit(segs[1], rb + (ra - ua))
            if ub < rb:  # text_b left room: give it back to text_a
                ka, ua = self._fit(segs[0], room - ub)
            keep = [ka, kb]
        if not any(keep):
            return self._build_plain(example, segs)
        b = SequenceBuilder(self, example)
        pos, anc, brn = [0], [0], [0]
        k = 0  # branch counter
        p = 1  # trunk position of the next trunk token
        for seg, n_keep in zip(segs, keep):
            self.stats["branches_dropped"] += self._total_branches(seg) - n_keep
            self.stats["branches"] += n_keep
            cur = 0  # next trunk token of this segment to emit
            left = n_keep
            for ts, te, br in seg.units:
                if left <= 0 or te > seg.n:
                    break
                # trunk up to and including the entity
                n = te - cur
                b.trunk(seg, cur, te)
                pos += range(p, p + n)
                anc += range(p, p + ts - cur)
                anc += [p + ts - cur] * (te - ts)
                brn += [0] * n
                a = p + ts - cur  # unit id of the entity
                last = p + n - 1  # anchor's last position
                p += n
                cur = te
                for branch in br[:left]:
                    k += 1
                    m = len(branch)
                    b.insert(branch)
                    pos += range(last + 1, last + 1 + m)
                    anc += [a] * m
                    brn += [k] * m
                left -= len(br)
            n = seg.n - cur
            b.trunk(seg, cur, seg.n)
            b.end_segment()
            pos += range(p, p + n + 1)
            anc += range(p, p + n + 1)
            brn += [0] * (n + 1)
            p += n + 1
        f = b.features(labelled=segs[0].labels is not None)
        f.update(position_ids=pos, anchor_ids=anc, branch_ids=brn)
        return f

    def _build_plain(self, example: Example, segs: list[Segment]) -> dict[str, Any]:
        """No branch kept: the baseline's ids plus trivial positions/anchors."""
        for s in segs:
            if s.units:
                self.stats["branches_dropped"] += self._total_branches(s)
        f = super().build(example, segs)
        pos = list(range(len(f["input_ids"])))
        f.update(position_ids=pos, anchor_ids=pos[:], branch_ids=[0] * len(pos))
        return f

    # ------------------------------------------------------------------ collation
    def collate(self, features: Sequence[dict[str, Any]]) -> "dict[str, torch.Tensor]":
        """The base collation; a batch without any knowledge leaves ``anchor_ids``/``branch_ids``
        out (decided here on the host, so the model never syncs to check), and the model is then
        exactly BERT."""
        batch = super().collate(features)
        if not any(any(f["branch_ids"]) for f in features):
            del batch["anchor_ids"], batch["branch_ids"]
        return batch

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_branch_cache"] = {}
        if self._matcher is not None and type(self._matcher).__module__.startswith("knowledge"):
            state["_matcher"] = None  # rebuilt (loaded from beside the store) in the worker
        return state


def knowledge_report(featurizer: KBertFeaturizer, item: Any) -> dict[str, Any]:
    """What K-BERT adds to a :class:`~kgbert.pipeline.Pipeline` result: ``{"knowledge": [...]}``,
    per annotated entity with KG triples, the triples injected into the input (read off the
    featurised ids) and how many were dropped for lack of room.

    ``item`` is a :class:`kgbert.pipeline.PreparedInput` (its ``feature`` and ``segments``).
    """
    if not featurizer.knowledge_on:
        return {"knowledge": []}
    f = item.feature
    anchors, branches = f["anchor_ids"], f["branch_ids"]
    injected: dict[int, int] = {}  # anchor (trunk position) -> branches injected there
    cur_k = 0
    for a, k in zip(anchors, branches):
        if k != 0 and k != cur_k:
            cur_k = k
            injected[a] = injected.get(a, 0) + 1
    # trunk position of each segment's first token: [CLS] is 0; text_b follows text_a's [SEP]
    types = f["token_type_ids"]
    kept_a = sum(1 for t, k in zip(types, branches) if k == 0 and t == 0) - 2  # minus [CLS] and [SEP]
    bases = [1, kept_a + 2]
    report = []
    for s_idx, seg in enumerate(item.segments):
        fa = seg.feat_annotation
        for ent, (o_start, o_end) in zip(fa.entities, seg.entity_spans):
            name = ent.lookup_name(fa.text, featurizer.kg)
            cands = featurizer.candidates(name)
            if not cands:
                continue
            tok_start = ent.start if seg.tok_ends is None else bisect_right(seg.tok_ends, ent.start)
            n_injected = injected.pop(bases[s_idx] + tok_start, 0)
            triples = [list(triple) for triple, _ in cands[:n_injected]]
            rec: dict[str, Any] = {"start": o_start, "end": o_end, "text": seg.annotation.text[o_start:o_end],
                                   "name": name, "triples": triples}
            if len(cands) > len(triples):
                rec["dropped"] = len(cands) - len(triples)
            if len(item.segments) == 2:
                rec["segment"] = "ab"[s_idx]
            report.append(rec)
    return {"knowledge": report}


__all__ = ["KBertFeaturizer", "INJECT_MODES", "knowledge_report"]
