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
the lookup key is the entity's ``name`` if set, else ``kg.entity_name(kg_id)`` if ``kg_id`` is
set, else the mention's surface text. Without an annotation, :class:`knowledge.EntityMatcher`
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
from typing import Any, Sequence

from kgbert.data.example import Example
from kgbert.data.featurize import IGNORE_INDEX, Featurizer, FeaturizeError, _cumulative_starts, _where
from kgbert.data.selection import KnowledgeSelection

INJECT_MODES = ("predicate_object", "object")
_CACHE_MAX = 1_000_000


class _Segment:
    """One original text, tokenised, with its entity units and candidate branches."""

    __slots__ = ("ids", "labels", "tmap", "units", "n")

    def __init__(self, ids: list[int], labels: list[int] | None, tmap: list[int] | None) -> None:
        self.ids = ids
        self.labels = labels
        self.tmap = tmap
        self.units: list[tuple[int, int, tuple[tuple[int, ...], ...]]] = []  # (tok_start, tok_end, branches)
        self.n = len(ids)


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

    encoder = "kbert"
    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "anchor_ids", "branch_ids")
    options = frozenset({"max_entities", "inject", "predicates", "max_branch_tokens", "min_entity_len", "matcher",
                         "stoplist", "max_df", "latin_boundaries"})
    ignored_options = frozenset({"use_vm"})

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
        super().__init__(tokenizer, task=task, label_list=label_list, max_length=max_length)
        if not isinstance(max_entities, int) or max_entities < 0:
            raise ValueError(f"max_entities must be an int >= 0, got {max_entities!r}")
        inject = inject or ("object" if task == "token" else "predicate_object")
        if inject not in INJECT_MODES:
            raise ValueError(f"inject must be one of {INJECT_MODES}, got {inject!r}")
        if max_branch_tokens is not None and max_branch_tokens < 1:
            raise ValueError(f"max_branch_tokens must be >= 1 or None, got {max_branch_tokens!r}")
        self.kg = kg
        self.max_entities = max_entities
        self.inject = inject
        self.predicates = list(predicates) if predicates is not None else None
        self.max_branch_tokens = max_branch_tokens
        self.min_entity_len = min_entity_len
        self.latin_boundaries = bool(latin_boundaries)
        self._matcher = matcher
        self._branch_cache: dict[str, tuple[tuple[int, ...], ...]] = {}
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

    def branches(self, name: str) -> tuple[tuple[int, ...], ...]:
        """Token ids of the branches of entity ``name`` (cached; store order, first ``max_entities``)."""
        hit = self._branch_cache.get(name)
        if hit is not None:
            return hit
        triples = self.kg.lookup(name, limit=self.max_entities, predicates=self.predicates)
        out = []
        for t in triples:
            text = t.predicate + t.object if self.inject == "predicate_object" else t.object
            ids = tuple(self.tokenize_spans(text)[0])
            if self.max_branch_tokens is not None:
                ids = ids[: self.max_branch_tokens]
            if ids:
                out.append(ids)
        result = tuple(out)
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
        out = []
        for e in ann.entities:
            if e.name is not None:
                name = e.name
            elif e.kg_id is not None:
                name = self.kg.entity_name(e.kg_id)
            else:
                name = text[e.start : e.end]
            out.append((e.start, e.end, name))
        return out

    def _attach(self, example: Example, seg: _Segment, text: str, ann, offsets) -> None:
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
        starts, ends = offsets() if offsets is not None else (None, None)
        cached = self._branch_cache.get
        units = seg.units
        last_end = 0
        found = 0
        for start, end, name in mentions:
            if starts is None:
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
    def _segment_text(self, example: Example, text: str, ann) -> _Segment:
        ids, starts, ends = self.tokenize_spans(text)
        seg = _Segment(ids, None, None)
        if self.knowledge_on and ids:
            self._attach(example, seg, text, ann, lambda: (starts, ends))
        return seg

    def _segment_tokens(self, example: Example) -> _Segment:
        tokens = self._token_example(example)
        seg = _Segment(self.token_ids(tokens), self.encode_tags(example), list(range(len(tokens))))
        if self.knowledge_on and tokens:
            text = "".join(tokens)
            if text != example.text_a and example.ann_a is not None:
                raise FeaturizeError(f"{_where(example)}: text_a is not the concatenation of tokens")

            def offsets() -> tuple[list[int], list[int]]:
                starts = _cumulative_starts(tokens)
                return starts, [s + len(t) for s, t in zip(starts, tokens)]

            one_char = len(text) == len(tokens) and "" not in tokens  # token i is character i
            self._attach(example, seg, text, example.ann_a, None if one_char else offsets)
        return seg

    @staticmethod
    def _fit(seg: _Segment, room: int) -> tuple[int, int]:
        """How many of the segment's branches (in order) fit in ``room``; (count, tokens used)."""
        used = 0
        count = 0
        for ts, te, br in seg.units:
            if te > seg.n:
                break  # the entity was truncated away: it and everything after it
            for b in br:
                if used + len(b) > room:
                    return count, used
                used += len(b)
                count += 1
        return count, used

    @staticmethod
    def _total_branches(seg: _Segment) -> int:
        return sum(len(br) for ts, te, br in seg.units if te <= seg.n)

    # ------------------------------------------------------------------ featurisation
    def __call__(self, example: Example) -> dict[str, Any]:
        """Featurise one example (ids of the flattened sentence tree; see module docstring)."""
        self.stats["examples"] += 1
        L = self.max_length
        if self.task == "token":
            segs = [self._segment_tokens(example)]
        else:
            segs = [self._segment_text(example, example.text_a, example.ann_a)]
            if self.task == "pair":
                segs.append(self._segment_text(example, self._pair_text_b(example), example.ann_b))
        # 1) original text: truncate only when it alone exceeds the budget
        # 2) knowledge: fill the remaining room, per segment
        if len(segs) == 1:
            seg = segs[0]
            if seg.n > L - 2:
                self._note_truncation(example, L - 2, seg.n)
                seg.n = L - 2
            keep = [self._fit(seg, L - 2 - seg.n)[0] if seg.units else 0]
        else:
            total = segs[0].n + segs[1].n
            segs[0].n, segs[1].n = self.truncate_pair(segs[0].n, segs[1].n)
            if segs[0].n + segs[1].n < total:
                self._note_truncation(example, segs[0].n + segs[1].n, total)
            room = L - 3 - segs[0].n - segs[1].n
            ra, rb = room - room // 2, room // 2
            ka, ua = self._fit(segs[0], ra)
            kb, ub = self._fit(segs[1], rb + (ra - ua))
            if ub < rb:  # text_b left room: give it back to text_a
                ka, ua = self._fit(segs[0], room - ub)
            keep = [ka, kb]
        return self._flatten(example, segs, keep)

    def _flatten(self, example: Example, segs: list[_Segment], keep: list[int]) -> dict[str, Any]:
        """Build the id lists of the flattened tree: trunk pieces with branches after their anchors."""
        cls, sep = self.cls_id, self.sep_id
        token_task = self.task == "token"
        if not any(keep):
            return self._flatten_plain(example, segs)
        ids, pos, anc, brn = [cls], [0], [0], [0]
        seg_len: list[int] = []  # tokens of each segment in the flattened sequence (token types)
        labels: list[int] = [IGNORE_INDEX]
        tmap: list[int] = [-1]
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
                ids += seg.ids[cur:te]
                pos += range(p, p + n)
                anc += range(p, p + ts - cur)
                anc += [p + ts - cur] * (te - ts)
                brn += [0] * n
                if token_task:
                    labels += seg.labels[cur:te] if seg.labels is not None else []
                    tmap += seg.tmap[cur:te]
                a = p + ts - cur  # unit id of the entity
                last = p + n - 1  # anchor's last position
                p += n
                cur = te
                for b in br[:left]:
                    k += 1
                    m = len(b)
                    ids += b
                    pos += range(last + 1, last + 1 + m)
                    anc += [a] * m
                    brn += [k] * m
                    if token_task:
                        labels += [IGNORE_INDEX] * m
                        tmap += [-1] * m
                left -= len(br)
            n = seg.n - cur
            ids += seg.ids[cur : seg.n]
            ids.append(sep)
            pos += range(p, p + n + 1)
            anc += range(p, p + n + 1)
            brn += [0] * (n + 1)
            seg_len.append(len(ids) - sum(seg_len))
            if token_task:
                labels += (seg.labels[cur : seg.n] if seg.labels is not None else []) + [IGNORE_INDEX]
                tmap += seg.tmap[cur : seg.n] + [-1]
            p += n + 1
        typ = [0] * seg_len[0]  # [CLS] and text_a with its branches and [SEP]: 0; text_b: 1
        if len(seg_len) > 1:
            typ += [1] * seg_len[1]
        f: dict[str, Any] = {
            "input_ids": ids,
            "token_type_ids": typ,
            "position_ids": pos,
            "anchor_ids": anc,
            "branch_ids": brn,
        }
        if token_task:
            f["token_map"] = tmap
            if segs[0].labels is not None:
                f["labels"] = labels
        else:
            label = self.encode_label(example)
            if label is not None:
                f["labels"] = label
        return f

    def _flatten_plain(self, example: Example, segs: list[_Segment]) -> dict[str, Any]:
        """No branch kept: the baseline's ids plus trivial positions/anchors (fast path)."""
        a = segs[0]
        ids = [self.cls_id, *a.ids[: a.n], self.sep_id]
        typ = [0] * len(ids)
        if len(segs) == 2:
            b = segs[1]
            ids += b.ids[: b.n]
            ids.append(self.sep_id)
            typ += [1] * (b.n + 1)
        for s in segs:
            if s.units:
                self.stats["branches_dropped"] += self._total_branches(s)
        pos = list(range(len(ids)))
        f: dict[str, Any] = {
            "input_ids": ids,
            "token_type_ids": typ,
            "position_ids": pos,
            "anchor_ids": pos[:],
            "branch_ids": [0] * len(ids),
        }
        if self.task == "token":
            f["token_map"] = [-1, *a.tmap[: a.n], -1]
            if a.labels is not None:
                f["labels"] = [IGNORE_INDEX, *a.labels[: a.n], IGNORE_INDEX]
        else:
            label = self.encode_label(example)
            if label is not None:
                f["labels"] = label
        return f

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_branch_cache"] = {}
        if self._matcher is not None and type(self._matcher).__module__.startswith("knowledge"):
            state["_matcher"] = None  # rebuilt (loaded from beside the store) in the worker
        return state


__all__ = ["KBertFeaturizer", "INJECT_MODES"]
