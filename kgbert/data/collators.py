"""Masking collators for pretraining: ``mlm`` (BERT), ``wwm`` (Chinese whole-word masking),
``ernie`` (Baidu ERNIE 1.0 knowledge masking) and ``span`` (SpanBERT), static or dynamic; any of
them can add StructBERT's shuffled n-grams (``shuffle_fraction``, the ``wso`` objective).

All share one core, :func:`mask_units`, a pure function of (token ids, maskable units, random
generator): the budget is ``round(p * n)`` tokens per sequence, ``n`` counting every token that
is neither special nor padding; units (single tokens, words, phrases, entities) are drawn in
random order and taken whole while they fit in the budget (BERT's ``create_pretraining_data``);
each chosen unit is replaced by [MASK] (80 %), by random tokens (10 %) or kept (10 %), decided
per unit (:func:`replace_chosen`, which ``span`` shares with its own span selection); the labels
are per token (-100 where nothing is predicted). :func:`mask_batch` applies the rule to a whole
batch at once (no loop over tokens or units); each row depends on its own draws only.

A collator turns packed features (``input_ids`` plus, for ``wwm``/``ernie``, per-token unit
ids) into a batch. Its random generator is derived from the example, never from a global
state: dynamic masking (RoBERTa) seeds it with ``(seed, key)`` where ``key`` is the example's
position in the training stream, so every pass draws a new mask and a resumed run draws the
same masks as an uninterrupted one; static masking (original BERT) seeds it with ``(seed, hash
of the token ids, pass mod duplicates)``, so an example keeps one of ``duplicates`` fixed masks.
New strategies register in :data:`COLLATORS` and need no change anywhere else.
"""
from __future__ import annotations

import bisect
import itertools
import zlib
from typing import Any, NamedTuple, Sequence

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
    """:func:`mask_units` with units given as per-token unit ids (-1: none): :func:`mask_batch`
    on one sequence, with its random draws from ``rng``."""
    ids = np.asarray(ids)
    draws = rng.random((1, DRAWS_PER_TOKEN * len(ids)))
    new_ids, labels = mask_batch(ids[None], np.asarray(maskable)[None], np.asarray(unit_ids)[None], draws,
                                 mlm_probability=mlm_probability, mask_id=mask_id, random_ids=random_ids,
                                 mask_replace=mask_replace, random_replace=random_replace)
    return new_ids[0], labels[0]


def mask_tokens_fast(
    ids: np.ndarray, maskable: np.ndarray, rng: np.random.Generator, *, mlm_probability: float, mask_id: int,
    random_ids: np.ndarray, mask_replace: float = 0.8, random_replace: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mask_units` for single-token units (plain MLM): :func:`mask_batch` on one sequence."""
    ids = np.asarray(ids)
    draws = rng.random((1, DRAWS_PER_TOKEN * len(ids)))
    new_ids, labels = mask_batch(ids[None], np.asarray(maskable)[None], None, draws, mlm_probability=mlm_probability,
                                 mask_id=mask_id, random_ids=random_ids, mask_replace=mask_replace,
                                 random_replace=random_replace)
    return new_ids[0], labels[0]


DRAWS_PER_TOKEN = 3
"""Uniform draws per token position a row of :func:`mask_batch` consumes (unit order keys, unit
80/10/10 draws, random replacement tokens)."""


def mask_batch(
    ids: np.ndarray,
    maskable: np.ndarray,
    unit_ids: np.ndarray | None,
    draws: np.ndarray,
    *,
    mlm_probability: float,
    mask_id: int,
    random_ids: np.ndarray,
    mask_replace: float = 0.8,
    random_replace: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Mask a batch at once, each row exactly as :func:`mask_units` masks one sequence; no loop
    over tokens, units or rows. Returns (new ids, labels), both (B, L).

    Args:
        ids: (B, L) token ids; maskable: (B, L) bool (False: special tokens, padding).
        unit_ids: (B, L) per-token unit ids (-1: none) or None (every token its own unit).
        draws: (B, 3 L) uniform [0, 1) numbers, row ``i`` from row ``i``'s generator: the row's
            result depends on its own ids, units and draws only (a pure function per sequence).

    Per row: the budget is ``round(p * n)`` tokens (``n`` maskable); units are put in the random
    order of their keys (``draws[i, :L]``, i.e. a uniform permutation) and taken while they fit
    (BERT's rule: a unit that does not fit is skipped, later smaller ones may still fit); a
    chosen unit becomes [MASK] / a random token / itself by its draw in ``draws[i, L:2L]``.
    Units: runs of equal ids among a row's maskable tokens when the ids are non-decreasing (what
    the packer writes), otherwise all tokens sharing an id; a maskable token outside every unit
    is a unit of its own.
    """
    ids = np.asarray(ids)
    B, L = ids.shape
    new_ids = ids.copy()
    labels = np.full((B, L), IGNORE_INDEX, dtype=np.int64)
    flat = np.flatnonzero(maskable)  # row-major positions of the maskable tokens
    if len(flat) == 0:
        return new_ids, labels
    row = flat // L
    budget = np.maximum(1, np.rint(np.bincount(row, minlength=B) * mlm_probability)).astype(np.int64)
    if unit_ids is None:
        inv = np.arange(len(flat))
    else:
        inv = _group_batch(np.asarray(unit_ids, dtype=np.int64).reshape(B, L).ravel()[flat], row)
    n_units = int(inv.max()) + 1
    sizes = np.bincount(inv, minlength=n_units)
    unit_row = np.empty(n_units, dtype=np.int64)
    unit_row[inv] = row  # units are numbered row by row
    first_unit = np.searchsorted(unit_row, np.arange(B))
    local = np.arange(n_units) - first_unit[unit_row]
    order = np.lexsort((draws[unit_row, local], unit_row))  # per row, a uniform random order
    s_ord, r_ord = sizes[order], unit_row[order]
    cs = np.cumsum(s_ord)
    before_row = (cs - s_ord)[np.minimum(first_unit, n_units - 1)]  # tokens of earlier rows
    taken = cs - before_row[r_ord] <= budget[r_ord]  # the prefix that fits
    room = budget - np.bincount(r_ord, weights=s_ord * taken, minlength=B).astype(np.int64)
    while True:  # then the first later unit that still fits, per row, until none does (<= max unit size rounds)
        cand = np.flatnonzero(~taken & (s_ord <= room[r_ord]))
        if len(cand) == 0:
            break
        rows = r_ord[cand]
        first = cand[np.r_[True, rows[1:] != rows[:-1]]]
        taken[first] = True
        room[r_ord[first]] -= s_ord[first]
    chosen_unit = np.zeros(n_units, dtype=bool)
    chosen_unit[order[taken]] = True
    tok_chosen = chosen_unit[inv]
    pos = flat[tok_chosen]
    r_tok = draws[unit_row, L + local][inv][tok_chosen]
    replace_chosen(ids.reshape(-1), new_ids.reshape(-1), labels.reshape(-1), pos, r_tok, draws[pos // L, 2 * L + pos % L],
                   mask_id=mask_id, random_ids=random_ids, mask_replace=mask_replace, random_replace=random_replace)
    return new_ids, labels


def replace_chosen(
    ids: np.ndarray, new_ids: np.ndarray, labels: np.ndarray, pos: np.ndarray, r: np.ndarray, u: np.ndarray,
    *, mask_id: int, random_ids: np.ndarray, mask_replace: float, random_replace: float,
) -> None:
    """The 80/10/10 core, in place on 1-D arrays: the chosen positions ``pos`` get their original
    token as label and, by their draw ``r`` in [0, 1) (one per position; equal within a unit when
    decided per unit), [MASK] (r < mask_replace), a random token of ``random_ids`` picked by the
    uniform draw ``u`` (the next random_replace) or stay."""
    labels[pos] = ids[pos]
    new_ids[pos[r < mask_replace]] = mask_id
    sel = (r >= mask_replace) & (r < mask_replace + random_replace)
    pick = (np.asarray(u)[sel] * len(random_ids)).astype(np.int64)
    new_ids[pos[sel]] = random_ids[np.minimum(pick, len(random_ids) - 1)]


def _group_batch(u: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Unit index per maskable token (numbered row by row) from its unit id (-1: none) and row:
    runs of equal ids in a row whose ids are non-decreasing, all tokens sharing an id otherwise."""
    lone = u < 0
    start = np.ones(len(u), dtype=bool)
    start[1:] = (u[1:] != u[:-1]) | lone[1:] | (row[1:] != row[:-1])
    runs = np.cumsum(start) - 1
    nl = np.flatnonzero(~lone)
    dec = (u[nl[1:]] < u[nl[:-1]]) & (row[nl[1:]] == row[nl[:-1]])
    if not dec.any():  # the packer's case: no sort needed
        return runs
    bad = np.isin(row, row[nl[1:]][dec])
    top = int(u.max()) + 1
    within = np.where(bad, np.where(lone, top + np.arange(len(u)), u), runs)
    key = row * (top + 2 * len(u)) + within
    return np.unique(key, return_inverse=True)[1].reshape(-1)


def _spread_draws(d: np.ndarray, n: int, L: int) -> np.ndarray:
    """A row's ``3 n`` draws laid out as ``mask_batch`` reads them for a batch of length ``L``."""
    out = np.zeros(DRAWS_PER_TOKEN * L)
    for k in range(DRAWS_PER_TOKEN):
        out[k * L:k * L + n] = d[k * n:(k + 1) * n]
    return out


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


def shuffle_ngrams(
    ids: np.ndarray, eligible: np.ndarray, rng: np.random.Generator, *, fraction: float, k: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """StructBERT's word structural objective on one sequence: ``round(fraction * n)`` windows of
    ``k`` consecutive eligible positions (``n`` = number of eligible positions; windows never
    overlap and never contain an ineligible position: specials, padding, masked tokens) are
    permuted by a random permutation other than the identity. Returns (new ids, labels): the
    original token at every position of a shuffled window, -100 elsewhere, so putting the labels
    back into the input recovers the original order."""
    new_ids = np.array(ids, copy=True)
    labels = np.full(new_ids.shape, IGNORE_INDEX, dtype=np.int64)
    eligible = np.asarray(eligible, dtype=bool)
    want = int(round(fraction * int(eligible.sum())))
    if want == 0 or len(ids) < k:
        return new_ids, labels
    run = np.lib.stride_tricks.sliding_window_view(eligible, k).all(axis=1)  # window starting here is eligible
    starts = rng.permutation(np.flatnonzero(run))
    free = np.ones(len(ids), dtype=bool)
    taken: list[int] = []
    for s in starts:
        if free[s:s + k].all():
            free[s:s + k] = False
            taken.append(int(s))
            if len(taken) == want:
                break
    if not taken:
        return new_ids, labels
    perms = _non_identity_permutations(k)
    chosen = perms[rng.integers(0, len(perms), size=len(taken))]  # (T, k)
    windows = np.asarray(taken)[:, None] + np.arange(k)  # (T, k)
    labels[windows] = ids[windows]
    new_ids[windows] = ids[np.take_along_axis(windows, chosen, axis=1)]
    return new_ids, labels


def _non_identity_permutations(k: int) -> np.ndarray:
    return np.asarray([p for p in itertools.permutations(range(k)) if list(p) != list(range(k))], dtype=np.int64)


SEQUENCE_LABEL_KEYS = ("next_sentence_label", "sentence_structure_label")
"""Per-sequence labels a collator passes through from the features (sentence objectives)."""


class MaskingCollator:
    """``mlm``: BERT token masking. Subclasses change :meth:`units` (what is masked together) or,
    for another selection rule (``span``), :meth:`mask`.

    Features: ``input_ids`` (list of ints, specials included), optional ``token_type_ids``,
    ``key`` (position in the stream; dynamic masking), ``pass`` (corpus pass; static masking),
    sentence labels (:data:`SEQUENCE_LABEL_KEYS`: NSP/SOP, StructBERT's 3-way), unit ids for subclasses.
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
        shuffle_fraction: float = 0.0,
        shuffle_k: int = 3,
        **options: Any,
    ) -> None:
        unknown = set(options) - self.option_names
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} for masking strategy {self.name!r}; known: {sorted(self.option_names)}")
        if not 0 <= shuffle_fraction < 1 or not 2 <= shuffle_k <= 6:
            raise ValueError(f"shuffle_fraction must be in [0, 1) and shuffle_k in [2, 6], found {shuffle_fraction}, {shuffle_k}")
        self.options = options
        self.shuffle_fraction = shuffle_fraction
        self.shuffle_k = shuffle_k
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

    @property
    def _mask_kwargs(self) -> dict[str, Any]:
        return dict(mlm_probability=self.mlm_probability, mask_id=self.mask_id, random_ids=self.random_ids,
                    mask_replace=self.mask_replace, random_replace=self.random_replace)

    def mask(self, feature: dict, ids: np.ndarray, maskable: np.ndarray, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(new ids, labels, per-token extras) of one sequence; extras are padded with -100."""
        units = self.units(feature, ids, maskable, rng)
        if units is None:
            return (*mask_tokens_fast(ids, maskable, rng, **self._mask_kwargs), {})
        return (*mask_unit_ids(ids, maskable, units, rng, **self._mask_kwargs), {})

    def mask_feature(self, feature: dict) -> tuple[np.ndarray, np.ndarray]:
        """Mask one feature: (new ids, labels), as it is masked inside any batch."""
        batch = self([feature])
        n = len(feature["input_ids"])
        return batch["input_ids"][0, :n].numpy(), batch["labels"][0, :n].numpy()

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        L = max(len(f["input_ids"]) for f in features)
        B = len(features)
        input_ids = np.full((B, L), self.pad_id, dtype=np.int64)
        attention = np.zeros((B, L), dtype=np.int64)
        types = np.zeros((B, L), dtype=np.int64)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            input_ids[i, :n] = f["input_ids"]
            attention[i, :n] = 1
            if "token_type_ids" in f:
                types[i, :n] = f["token_type_ids"]
        maskable = ~self._special[input_ids] & (attention == 1)
        rngs = [self.generator(f) for f in features]
        extras: dict[str, np.ndarray] = {}
        if type(self).mask is MaskingCollator.mask:  # the unit rule: the whole batch at once
            new_ids, labels = self._mask_batch(features, input_ids, maskable, rngs)
        else:  # a strategy with its own per-sequence selection rule (span)
            new_ids, labels = input_ids.copy(), np.full((B, L), IGNORE_INDEX, dtype=np.int64)
            for i, f in enumerate(features):
                n = len(f["input_ids"])
                new_ids[i, :n], labels[i, :n], ext = self.mask(f, input_ids[i, :n], maskable[i, :n], rngs[i])
                for k, v in ext.items():
                    extras.setdefault(k, np.full((B, L), IGNORE_INDEX, dtype=np.int64))[i, :n] = v
        if self.shuffle_fraction > 0:  # StructBERT's word structural objective, on the tokens left unmasked
            shuffle_labels = np.full((B, L), IGNORE_INDEX, dtype=np.int64)
            for i, f in enumerate(features):
                n = len(f["input_ids"])
                new_ids[i, :n], shuffle_labels[i, :n] = shuffle_ngrams(
                    new_ids[i, :n], maskable[i, :n] & (labels[i, :n] == IGNORE_INDEX), rngs[i],
                    fraction=self.shuffle_fraction, k=self.shuffle_k)
            extras["shuffle_labels"] = shuffle_labels
        batch = {
            "input_ids": torch.from_numpy(new_ids),
            "attention_mask": torch.from_numpy(attention),
            "token_type_ids": torch.from_numpy(types),
            "labels": torch.from_numpy(labels),
            **{k: torch.from_numpy(v) for k, v in extras.items()},
        }
        for key in SEQUENCE_LABEL_KEYS:  # sentence objectives' labels (NSP/SOP, StructBERT's 3-way)
            if key in features[0]:
                batch[key] = torch.tensor([int(f[key]) for f in features])
        return batch

    def _mask_batch(self, features: list[dict], input_ids: np.ndarray, maskable: np.ndarray,
                    rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
        """:func:`mask_batch` with each row's units and draws from the row's own generator (a row
        is masked the same alone or in any batch, and as :meth:`mask` masks it)."""
        B, L = input_ids.shape
        unit_ids = np.full((B, L), -1, dtype=np.int64)
        draws = np.empty((B, DRAWS_PER_TOKEN * L))
        any_units = False
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            units = self.units(f, input_ids[i, :n], maskable[i, :n], rngs[i])
            if units is None:  # single tokens: distinct ids, so units of one token
                unit_ids[i, :n] = np.arange(n)
            else:
                unit_ids[i, :n] = units
                any_units = True
            rngs[i].random(out=draws[i, :DRAWS_PER_TOKEN * n])
            if n < L:  # a row's draws are laid out for its own length: (keys, 80/10/10, random ids) x n
                draws[i] = _spread_draws(draws[i, :DRAWS_PER_TOKEN * n], n, L)
        return mask_batch(input_ids, maskable, unit_ids if any_units else None, draws, **self._mask_kwargs)


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
        # per stage: level names (sorted) and their cumulative weights, for the per-sequence draw
        self._level_tables = [(sorted(st), list(itertools.accumulate(float(st[k]) for k in sorted(st)))) for st in self.stages]

    def set_stage(self, stage: int) -> None:
        self.stage = min(max(0, stage), len(self.stages) - 1)

    def set_progress(self, fraction: float) -> None:
        """Select the stage for a point of training (``fraction`` of the steps done)."""
        self.set_stage(sum(1 for x in self.stage_starts if fraction >= x) - 1)

    def units(self, feature, ids, maskable, rng):
        names, cum = self._level_tables[self.stage]
        level = names[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(names) - 1)]
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


def span_length_probs(p: float = 0.2, max_span: int = 10) -> np.ndarray:
    """SpanBERT's span lengths 1..max_span: geometric(p), clipped (renormalised) at max_span;
    mean about 3.8 for p = 0.2, max_span = 10."""
    if not 0 < p <= 1 or max_span < 1:
        raise ValueError(f"span masking needs 0 < p <= 1 and max_span >= 1, found p={p}, max_span={max_span}")
    w = p * (1 - p) ** np.arange(max_span)
    return w / w.sum()


def _word_runs(cand: np.ndarray, unit_ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maskable positions ``cand`` (sorted) -> words as runs: (first position, size, segment) per
    word. A word is a run of equal unit ids on consecutive positions (a token outside every unit,
    or without unit ids, is a word of its own); a segment is a run of consecutive positions (a
    special token, e.g. a [SEP] between documents, ends it: spans never cross it)."""
    gap = np.ones(len(cand), dtype=bool)
    gap[1:] = cand[1:] != cand[:-1] + 1
    start = gap.copy()
    if unit_ids is not None:
        u = np.asarray(unit_ids, dtype=np.int64)[cand]
        start[1:] |= (u[1:] != u[:-1]) | (u[1:] < 0)
    else:
        start[:] = True
    first = np.flatnonzero(start)
    sizes = np.diff(np.append(first, len(cand)))
    segment = np.cumsum(gap)[first]
    return cand[first], sizes, segment


class Span(NamedTuple):
    """A masked span: token positions ``first``..``last`` (inclusive), ``words`` complete words,
    ``drawn`` the length drawn for it (``words`` is smaller only when cut by the budget or by the
    end of the free text)."""

    first: int
    last: int
    words: int
    drawn: int


def sample_spans(
    maskable: np.ndarray, unit_ids: np.ndarray | None, rng: np.random.Generator, *, mlm_probability: float,
    length_probs: np.ndarray,
) -> list[Span]:
    """SpanBERT's span selection on one sequence: spans of complete words, disjoint, each within
    one segment, in the order drawn.

    Until the budget ``round(p * n)`` tokens (``n`` maskable tokens, the same rule as
    :func:`mask_units`) is spent: draw a length ``l`` (in words) from ``length_probs``, then a
    start word uniformly among the free words (not yet masked, fitting in the remaining budget)
    followed by at least ``l - 1`` free words of the same segment (when there is none: among those
    with the longest such run, and the span is shorter). The span takes its ``l`` words, but never
    more tokens than the remaining budget: the last span of a sequence is often cut short (as in
    SpanBERT), and when no free word fits, the rest of the budget stays unspent (whole words are
    never split)."""
    cand = np.flatnonzero(maskable)
    if len(cand) == 0:
        return []
    budget = max(1, int(round(len(cand) * mlm_probability)))
    first, sizes, segment = _word_runs(cand, unit_ids)
    n_words = len(first)
    idx = np.arange(n_words)
    seg_end = np.searchsorted(segment, segment, side="right")  # one past the last word of each word's segment
    taken = np.zeros(n_words, dtype=bool)
    spans: list[Span] = []
    room = budget
    drawn = rng.choice(np.arange(1, len(length_probs) + 1), size=budget, p=length_probs)  # at most one span per token
    while room > 0:
        fits = ~taken & (sizes <= room)
        if not fits.any():
            break
        length = int(drawn[len(spans)])
        next_taken = np.minimum.accumulate(np.where(taken, idx, n_words)[::-1])[::-1]
        run = np.minimum(next_taken, seg_end) - idx  # free words from here on, in this segment
        run = np.where(fits, run, 0)
        ok = np.flatnonzero(run >= length)
        if len(ok) == 0:
            ok = np.flatnonzero(run == run.max())
        w = int(ok[rng.integers(0, len(ok))])
        end, used = w, int(sizes[w])
        while end + 1 - w < length and end + 1 < n_words and run[w] > end + 1 - w and used + sizes[end + 1] <= room:
            end += 1
            used += int(sizes[end])
        taken[w:end + 1] = True
        room -= used
        spans.append(Span(int(first[w]), int(first[end] + sizes[end] - 1), end + 1 - w, length))
    return spans


class SpanMaskingCollator(MaskingCollator):
    """``span``: SpanBERT span masking (Joshi et al. 2020). Span lengths in words follow a
    geometric distribution (options ``p``, default 0.2, clipped at ``max_span``, default 10: mean
    about 3.8); words are complete units when the features carry ``word_ids`` (an annotated corpus,
    as for ``wwm``; option ``words: false`` uses single tokens and needs no annotation); 15 %
    budget; 80/10/10 decided per span (:func:`replace_chosen`); spans never cross a special token.

    Option ``boundaries`` (set by the ``sbo`` objective) adds ``span_left`` and ``span_right``:
    per masked token the positions of the tokens just outside its span (``s - 1`` and ``e + 1``),
    -100 elsewhere."""

    name = "span"
    option_names = frozenset({"p", "max_span", "words", "boundaries"})

    def __init__(self, tokenizer, **kw):
        super().__init__(tokenizer, **kw)
        self.length_probs = span_length_probs(float(self.options.get("p", 0.2)), int(self.options.get("max_span", 10)))
        self.words = bool(self.options.get("words", True))
        self.boundaries = bool(self.options.get("boundaries", False))

    def mask(self, feature: dict, ids: np.ndarray, maskable: np.ndarray, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        unit_ids = None
        if self.words:
            if "word_ids" not in feature:
                raise ValueError("the span collator needs word_ids in every feature (an annotated corpus), "
                                 "or the option words: false for token spans")
            unit_ids = np.asarray(feature["word_ids"], dtype=np.int64)
        spans = sample_spans(maskable, unit_ids, rng, mlm_probability=self.mlm_probability, length_probs=self.length_probs)
        new_ids = ids.copy()
        labels = np.full(ids.shape, IGNORE_INDEX, dtype=np.int64)
        extras: dict[str, np.ndarray] = {}
        if not spans:
            return new_ids, labels, extras
        bounds = np.asarray([(sp.first, sp.last) for sp in spans], dtype=np.int64)  # (S, 2)
        lens = bounds[:, 1] - bounds[:, 0] + 1
        span_of = np.repeat(np.arange(len(spans)), lens)
        pos = bounds[span_of, 0] + (np.arange(len(span_of)) - np.repeat(np.cumsum(lens) - lens, lens))
        r_span = rng.random(len(spans))
        replace_chosen(ids, new_ids, labels, pos, r_span[span_of], rng.random(len(pos)), mask_id=self.mask_id,
                       random_ids=self.random_ids, mask_replace=self.mask_replace, random_replace=self.random_replace)
        if self.boundaries:
            left = np.full(ids.shape, IGNORE_INDEX, dtype=np.int64)
            right = left.copy()
            left[pos] = bounds[span_of, 0] - 1
            right[pos] = bounds[span_of, 1] + 1
            extras = {"span_left": left, "span_right": right}
        return new_ids, labels, extras


COLLATORS: dict[str, type[MaskingCollator]] = {
    "mlm": MaskingCollator,
    "wwm": WholeWordMaskCollator,
    "ernie": ErnieCollator,
    "span": SpanMaskingCollator,
}


def build_collator(strategy: str, tokenizer: Any, **kwargs: Any) -> MaskingCollator:
    try:
        cls = COLLATORS[strategy]
    except KeyError:
        raise ValueError(f"unknown masking strategy {strategy!r}; known: {sorted(COLLATORS)}") from None
    return cls(tokenizer, **kwargs)


__all__ = ["COLLATORS", "DRAWS_PER_TOKEN", "IGNORE_INDEX", "SEQUENCE_LABEL_KEYS", "EntityCollator", "ErnieCollator", "MaskingCollator",
           "Span", "SpanMaskingCollator", "WholeWordMaskCollator", "build_collator", "mask_batch", "mask_tokens_fast", "mask_unit_ids",
           "mask_units", "replace_chosen", "sample_spans", "shuffle_ngrams", "span_length_probs", "units_from_ids"]
