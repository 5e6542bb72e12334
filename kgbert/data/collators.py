"""Masking collators for pretraining: ``mlm`` (BERT), ``wwm`` (Chinese whole-word masking) and
``ernie`` (Baidu ERNIE 1.0 knowledge masking), static or dynamic.

All share one core, :func:`mask_units`, a pure function of (token ids, maskable units, random
generator): the budget is ``round(p * n)`` tokens per sequence, ``n`` counting every token that
is neither special nor padding; units (single tokens, words, phrases, entities) are drawn in
random order and taken whole while they fit in the budget (BERT's ``create_pretraining_data``);
each chosen unit is replaced by [MASK] (80 %), by random tokens (10 %) or kept (10 %), decided
per unit; the labels are per token (-100 where nothing is predicted).

A collator turns packed features (``input_ids`` plus, for ``wwm``/``ernie``, per-token unit
ids) into a batch. Its random generator is derived from the example, never from a global
state: dynamic masking (RoBERTa) seeds it with ``(seed, key)`` where ``key`` is the example's
position in the training stream, so every pass draws a new mask and a resumed run draws the
same masks as an uninterrupted one; static masking (original BERT) seeds it with ``(seed, hash
of the token ids, pass mod duplicates)``, so an example keeps one of ``duplicates`` fixed masks.
New strategies register in :data:`COLLATORS` and need no change anywhere else.
"""
from __future__ import annotations

import zlib
from typing import Any, Sequence

import numpy as np
import torch

IGNORE_INDEX = -100


def mask_units(
    ids: np.ndarray,
    maskable: np.ndarray,
    units: Sequence[np.ndarray] | None,
    rng: np.random.Generator,
    *,
    mlm_probability: float,
    mask_id: int,
    random_ids: np.ndarray,
    mask_replace: float = 0.8,
    random_replace: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Mask one sequence. Returns (new ids, labels).

    Args:
        ids: (L,) token ids.
        maskable: (L,) bool, False for special tokens and padding (never masked).
        units: index arrays of positions that are masked together (words, entities); None:
            every maskable token is its own unit (plain MLM). Maskable positions outside every
            unit are units of their own; unmaskable positions inside a unit are dropped from it.
        rng: the generator (all randomness comes from it).
        random_ids: token ids a "random" replacement draws from (no specials).
    """
    unit_ids = np.full(len(ids), -1, dtype=np.int64)
    for k, u in enumerate(units or ()):
        unit_ids[np.asarray(u, dtype=np.int64)] = k
    return mask_unit_ids(ids, maskable, unit_ids, rng, mlm_probability=mlm_probability, mask_id=mask_id,
                         random_ids=random_ids, mask_replace=mask_replace, random_replace=random_replace)


def mask_unit_ids(
    ids: np.ndarray,
    maskable: np.ndarray,
    unit_ids: np.ndarray,
    rng: np.random.Generator,
    *,
    mlm_probability: float,
    mask_id: int,
    random_ids: np.ndarray,
    mask_replace: float = 0.8,
    random_replace: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mask_units` with units given as per-token unit ids (-1: none), vectorised.

    Units are drawn in a random order and taken greedily while they fit in the budget (a unit
    that does not fit is skipped, later smaller ones may still fit: BERT's rule)."""
    ids = np.asarray(ids)
    new_ids = ids.copy()
    labels = np.full(ids.shape, IGNORE_INDEX, dtype=np.int64)
    cand = np.flatnonzero(maskable)
    n = len(cand)
    if n == 0:
        return new_ids, labels
    budget = max(1, int(round(n * mlm_probability)))
    u = np.asarray(unit_ids, dtype=np.int64)[cand]
    inv, sizes = _group_units(u)
    n_units = len(sizes)
    perm = rng.permutation(n_units)
    order_sizes = sizes[perm]
    cs = np.cumsum(order_sizes)
    k = int(np.searchsorted(cs, budget, side="right"))
    taken = list(perm[:k])
    room = budget - (int(cs[k - 1]) if k else 0)
    pos = k
    while room > 0 and pos < len(perm):
        fit = np.flatnonzero(order_sizes[pos:] <= room)
        if not len(fit):
            break
        j = pos + int(fit[0])
        taken.append(perm[j])
        room -= int(order_sizes[j])
        pos = j + 1
    chosen_unit = np.zeros(n_units, dtype=bool)
    chosen_unit[taken] = True
    r_unit = rng.random(n_units)
    tok_chosen = chosen_unit[inv]
    pos_chosen = cand[tok_chosen]
    r_tok = r_unit[inv][tok_chosen]
    labels[pos_chosen] = ids[pos_chosen]
    new_ids[pos_chosen[r_tok < mask_replace]] = mask_id
    rnd = pos_chosen[(r_tok >= mask_replace) & (r_tok < mask_replace + random_replace)]
    new_ids[rnd] = random_ids[rng.integers(0, len(random_ids), size=len(rnd))]
    return new_ids, labels


def _group_units(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit ids of the maskable tokens (-1: none) -> (unit index per token, unit sizes); a token
    outside every unit is a unit of its own. Fast path for non-decreasing ids (what the packer
    produces: words and entities in text order): units are runs, no sort needed."""
    lone = u < 0
    ids = u[~lone]
    if len(ids) < 2 or bool((ids[1:] >= ids[:-1]).all()):
        start = np.ones(len(u), dtype=bool)
        start[1:] = (u[1:] != u[:-1]) | lone[1:]
        inv = np.cumsum(start) - 1
        sizes = np.diff(np.append(np.flatnonzero(start), len(u)))
        return inv, sizes
    if lone.any():
        u = u.copy()
        u[lone] = u.max() + 1 + np.arange(lone.sum())
    _, inv, sizes = np.unique(u, return_inverse=True, return_counts=True)
    return inv, sizes


def mask_tokens_fast(
    ids: np.ndarray, maskable: np.ndarray, rng: np.random.Generator, *, mlm_probability: float, mask_id: int,
    random_ids: np.ndarray, mask_replace: float = 0.8, random_replace: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mask_units` for single-token units, vectorised (same distribution)."""
    new_ids = np.array(ids, copy=True)
    labels = np.full(new_ids.shape, IGNORE_INDEX, dtype=np.int64)
    cand = np.flatnonzero(maskable)
    if len(cand) == 0:
        return new_ids, labels
    budget = max(1, int(round(len(cand) * mlm_probability)))
    pos = rng.permutation(cand)[:budget]
    labels[pos] = new_ids[pos]
    r = rng.random(len(pos))
    m = pos[r < mask_replace]
    rnd = pos[(r >= mask_replace) & (r < mask_replace + random_replace)]
    new_ids[m] = mask_id
    new_ids[rnd] = random_ids[rng.integers(0, len(random_ids), size=len(rnd))]
    return new_ids, labels


def units_from_ids(unit_ids: np.ndarray) -> list[np.ndarray]:
    """Per-token unit ids (-1: none) -> index arrays of the positions of each unit (in order)."""
    unit_ids = np.asarray(unit_ids)
    pos = np.flatnonzero(unit_ids >= 0)
    if len(pos) == 0:
        return []
    vals = unit_ids[pos]
    order = np.argsort(vals, kind="stable")
    pos, vals = pos[order], vals[order]
    cuts = np.flatnonzero(np.diff(vals)) + 1
    return np.split(pos, cuts)


class MaskingCollator:
    """``mlm``: BERT token masking. Subclasses only change :meth:`units`.

    Features: ``input_ids`` (list of ints, specials included), optional ``token_type_ids``,
    ``key`` (position in the stream; dynamic masking), ``pass`` (corpus pass; static masking),
    ``next_sentence_label`` (NSP/SOP), unit ids for subclasses.
    """

    name = "mlm"
    option_names: frozenset[str] = frozenset()

    def __init__(
        self,
        tokenizer: Any,
        *,
        mlm_probability: float = 0.15,
        mask_replace: float = 0.8,
        random_replace: float = 0.1,
        static: bool = False,
        duplicates: int = 10,
        seed: int = 0,
        **options: Any,
    ) -> None:
        unknown = set(options) - self.option_names
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} for masking strategy {self.name!r}; known: {sorted(self.option_names)}")
        self.options = options
        self.mlm_probability = mlm_probability
        self.mask_replace = mask_replace
        self.random_replace = random_replace
        self.static = static
        self.duplicates = max(1, duplicates)
        self.seed = seed
        self.mask_id = tokenizer.mask_token_id
        self.pad_id = tokenizer.pad_token_id
        if self.mask_id is None or self.pad_id is None:
            raise ValueError("the tokenizer needs [MASK] and [PAD] tokens")
        self.special_ids = np.asarray(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        vocab_size = len(tokenizer)
        self._special = np.zeros(max(vocab_size, int(self.special_ids.max()) + 1), dtype=bool)
        self._special[self.special_ids] = True
        self.random_ids = np.setdiff1d(np.arange(vocab_size, dtype=np.int64), self.special_ids)
        self._fallback = np.random.default_rng(seed)

    # -- randomness -------------------------------------------------------------------------
    def generator(self, feature: dict) -> np.random.Generator:
        ids = np.asarray(feature["input_ids"], dtype=np.int64)
        if self.static:
            h = zlib.crc32(ids.tobytes())
            return np.random.default_rng([self.seed, 1, h, int(feature.get("pass", 0)) % self.duplicates])
        if "key" in feature:
            return np.random.default_rng([self.seed, 2, int(feature["key"])])
        return np.random.default_rng(self._fallback.integers(0, 2**63 - 1))

    # -- what is masked together ------------------------------------------------------------
    def units(self, feature: dict, ids: np.ndarray, maskable: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """Per-token unit ids (-1: none) of what is masked together; None: single tokens."""
        return None

    def mask_feature(self, feature: dict) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(feature["input_ids"], dtype=np.int64)
        maskable = ~self._special[ids]
        rng = self.generator(feature)
        units = self.units(feature, ids, maskable, rng)
        kw = dict(mlm_probability=self.mlm_probability, mask_id=self.mask_id, random_ids=self.random_ids,
                  mask_replace=self.mask_replace, random_replace=self.random_replace)
        if units is None:
            return mask_tokens_fast(ids, maskable, rng, **kw)
        return mask_unit_ids(ids, maskable, units, rng, **kw)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        L = max(len(f["input_ids"]) for f in features)
        B = len(features)
        input_ids = np.full((B, L), self.pad_id, dtype=np.int64)
        labels = np.full((B, L), IGNORE_INDEX, dtype=np.int64)
        attention = np.zeros((B, L), dtype=np.int64)
        types = np.zeros((B, L), dtype=np.int64)
        for i, f in enumerate(features):
            ids, lab = self.mask_feature(f)
            n = len(ids)
            input_ids[i, :n] = ids
            labels[i, :n] = lab
            attention[i, :n] = 1
            if "token_type_ids" in f:
                types[i, :n] = f["token_type_ids"]
        batch = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention),
            "token_type_ids": torch.from_numpy(types),
            "labels": torch.from_numpy(labels),
        }
        if "next_sentence_label" in features[0]:
            batch["next_sentence_label"] = torch.tensor([int(f["next_sentence_label"]) for f in features])
        return batch


class WholeWordMaskCollator(MaskingCollator):
    """``wwm``: Chinese whole-word masking (Cui et al.). Features carry ``word_ids``: per token
    the index of the segmenter's word it lies in (-1: none, e.g. specials); every token of a
    chosen word is masked, 80/10/10 is decided per word, the loss stays per token."""

    name = "wwm"

    def units(self, feature, ids, maskable, rng):
        if "word_ids" not in feature:
            raise ValueError("the wwm collator needs word_ids in every feature (an annotated corpus)")
        return np.asarray(feature["word_ids"], dtype=np.int64)


class ErnieCollator(MaskingCollator):
    """``ernie``: Baidu ERNIE 1.0 knowledge masking. Per sequence a level is drawn from
    ``levels`` (weights; default basic 1/3, phrase 1/3, entity 1/3): ``basic`` masks characters,
    ``phrase`` the units of ``phrase_ids`` and ``entity`` those of ``entity_ids`` (per-token unit
    ids, -1 outside). ``stages`` (a list of level weights, one per stage) trains them in sequence
    as the paper does; ``stage_starts`` (fractions of the training steps, one per stage, the first
    0) says when each stage begins: the pretraining loop calls :meth:`set_progress` every step."""

    name = "ernie"
    option_names = frozenset({"levels", "stages", "stage_starts"})

    def __init__(self, tokenizer, **kw):
        super().__init__(tokenizer, **kw)
        levels = self.options.get("levels") or {"basic": 1.0, "phrase": 1.0, "entity": 1.0}
        self.stages = [dict(s) for s in self.options.get("stages") or [levels]]
        for s in self.stages:
            bad = set(s) - {"basic", "phrase", "entity"}
            if bad or not s or sum(s.values()) <= 0:
                raise ValueError(f"ernie levels must weight basic/phrase/entity, found {s}")
        n = len(self.stages)
        self.stage_starts = [float(x) for x in self.options.get("stage_starts") or [i / n for i in range(n)]]
        if len(self.stage_starts) != n or self.stage_starts[0] != 0 or sorted(self.stage_starts) != self.stage_starts:
            raise ValueError(f"ernie stage_starts must be {n} increasing fractions starting at 0, found {self.stage_starts}")
        self.stage = 0

    def set_stage(self, stage: int) -> None:
        self.stage = min(max(0, stage), len(self.stages) - 1)

    def set_progress(self, fraction: float) -> None:
        """Select the stage for a point of training (``fraction`` of the steps done)."""
        self.set_stage(sum(1 for x in self.stage_starts if fraction >= x) - 1)

    def units(self, feature, ids, maskable, rng):
        levels = self.stages[self.stage]
        names = sorted(levels)
        cum = np.cumsum([levels[k] for k in names], dtype=float)
        level = names[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(names) - 1)]
        if level == "basic":
            return None
        field_name = f"{level}_ids"
        if field_name not in feature:
            raise ValueError(f"the ernie collator needs {field_name} in every feature (an annotated corpus)")
        return np.asarray(feature[field_name], dtype=np.int64)


class EntityCollator:
    """ERNIE-THU's dEA data on top of any masking collator (``base``): the tokens are masked by
    ``base`` (MLM labels as usual); the features' ``entity_kg_ids`` (per token the KG id on a
    mention's first token, -1 elsewhere; from the ``kg_links`` annotation) become the model's
    ``entity_ids`` (id + 1, 0 = none; ids without a vector, ``>= num_entities``, are dropped),
    corrupted by ``objective`` (:class:`kgbert.objectives.dea.DenoisingEntityAutoEncoder`) with a
    generator seeded from ``seed`` and the features' stream keys (a resumed run draws the same
    corruption), plus ``entity_labels`` (the original ids + 1 at the aligned positions). ``corrupt=False`` (held-out
    sets): true entity inputs, every aligned position still a target."""

    def __init__(self, base: MaskingCollator, objective: Any, *, num_entities: int, seed: int = 0,
                 corrupt: bool = True) -> None:
        self.base = base
        self.objective = objective
        self.num_entities = int(num_entities)
        self.seed = seed
        self.corrupt = corrupt

    def __getattr__(self, name: str) -> Any:  # set_progress etc. of the base strategy
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        batch = self.base(features)
        B, L = batch["input_ids"].shape
        kg = np.zeros((B, L), dtype=np.int64)
        for i, f in enumerate(features):
            if "entity_kg_ids" not in f:
                raise ValueError("dEA needs entity_kg_ids in every feature (a corpus annotated by kg_links)")
            ids = np.asarray(f["entity_kg_ids"], dtype=np.int64)
            kg[i, : len(ids)] = np.where((ids >= 0) & (ids < self.num_entities), ids + 1, 0)
        keys = [int(f.get("key", i)) for i, f in enumerate(features)]
        seed = int(np.random.default_rng([self.seed, 3, *keys]).integers(0, 2**62))
        gen = torch.Generator().manual_seed(seed)
        out = self.objective.corrupt(torch.from_numpy(kg), gen, corrupt=self.corrupt)
        out.pop("entity_corruption")
        batch.update(out)
        return batch


COLLATORS: dict[str, type[MaskingCollator]] = {
    "mlm": MaskingCollator,
    "wwm": WholeWordMaskCollator,
    "ernie": ErnieCollator,
}


def build_collator(strategy: str, tokenizer: Any, **kwargs: Any) -> MaskingCollator:
    try:
        cls = COLLATORS[strategy]
    except KeyError:
        raise ValueError(f"unknown masking strategy {strategy!r}; known: {sorted(COLLATORS)}") from None
    return cls(tokenizer, **kwargs)


__all__ = ["COLLATORS", "IGNORE_INDEX", "EntityCollator", "ErnieCollator", "MaskingCollator", "WholeWordMaskCollator",
           "build_collator", "mask_tokens_fast", "mask_unit_ids", "mask_units", "units_from_ids"]
