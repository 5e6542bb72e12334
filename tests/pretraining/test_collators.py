"""Masking collators: rates, the 80/10/10 split, specials/padding, static vs dynamic, whole words."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kgbert.checkpoints import make_tokenizer
from kgbert.data.collators import COLLATORS, IGNORE_INDEX, build_collator, mask_units, units_from_ids

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [chr(0x4E00 + i) for i in range(995)]


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer(VOCAB)


def _features(n, length, seed=0, vary=False):
    rng = np.random.default_rng(seed)
    feats = []
    for k in range(n):
        L = int(rng.integers(length // 2, length + 1)) if vary else length
        body = rng.integers(5, len(VOCAB), size=L - 2).tolist()
        feats.append({"input_ids": [2, *body, 3], "key": k})
    return feats


def _split_stats(batch, orig):
    lab = batch["labels"]
    sel = lab != IGNORE_INDEX
    inp = batch["input_ids"][sel]
    tgt = lab[sel]
    n = sel.sum().item()
    return n, (inp == 4).sum().item() / n, ((inp != 4) & (inp != tgt)).sum().item() / n, (inp == tgt).sum().item() / n


def test_mlm_rate_and_80_10_10(tok):
    col = build_collator("mlm", tok, seed=1)
    feats = _features(400, 128)
    batch = col(feats)
    n, m, r, k = _split_stats(batch, feats)
    maskable = 400 * 126
    assert n == 400 * round(126 * 0.15)  # exact per-sequence budget
    assert abs(n / maskable - 0.15) < 0.005
    assert abs(m - 0.8) < 0.02 and abs(r - 0.1) < 0.015 and abs(k - 0.1) < 0.015
    # labels hold the original token wherever something is predicted
    orig = torch.tensor([f["input_ids"] for f in feats])
    sel = batch["labels"] != IGNORE_INDEX
    assert torch.equal(batch["labels"][sel], orig[sel])
    # unpredicted positions are untouched
    assert torch.equal(batch["input_ids"][~sel], orig[~sel])


@pytest.mark.parametrize("strategy", ["mlm", "wwm", "ernie"])
def test_specials_and_padding_never_masked(tok, strategy):
    col = build_collator(strategy, tok, seed=3, mlm_probability=0.5)
    feats = []
    for f in _features(64, 40, vary=True):
        ids = list(f["input_ids"])
        ids[len(ids) // 2] = 3  # a [SEP] inside (document boundary)
        wid = [-1] + [i // 2 for i in range(len(ids) - 2)] + [-1]
        wid[len(ids) // 2] = -1
        f = {**f, "input_ids": ids, "word_ids": wid, "phrase_ids": wid, "entity_ids": wid}
        feats.append(f)
    batch = col(feats)
    for i, f in enumerate(feats):
        ids = torch.tensor(f["input_ids"])
        L = len(ids)
        special = (ids == 2) | (ids == 3)
        assert (batch["labels"][i, :L][special] == IGNORE_INDEX).all()
        assert torch.equal(batch["input_ids"][i, :L][special], ids[special])
        assert (batch["labels"][i, L:] == IGNORE_INDEX).all()  # padding
        assert (batch["input_ids"][i, L:] == 0).all() and (batch["attention_mask"][i, L:] == 0).all()
    # random replacements never produce a special token
    assert not ((batch["input_ids"] < 5) & (batch["input_ids"] != 4) & (batch["labels"] != IGNORE_INDEX)).any()



def test_dynamic_masks_change_per_key_and_repeat_per_key(tok):
    col = build_collator("mlm", tok, seed=5)
    f = _features(1, 128)[0]
    a = col([{**f, "key": 1}])["labels"]
    b = col([{**f, "key": 1}])["labels"]
    c = col([{**f, "key": 2}])["labels"]
    assert torch.equal(a, b)  # a resumed run sees the same masks
    assert not torch.equal(a, c)  # a new pass sees a new mask


def test_static_masks_fixed_per_example_and_duplicate(tok):
    col = build_collator("mlm", tok, seed=5, static=True, duplicates=3)
    f = _features(1, 128)[0]
    a = col([{**f, "key": 1, "pass": 0}])["labels"]
    b = col([{**f, "key": 99, "pass": 3}])["labels"]  # same duplicate (3 mod 3 == 0), another key
    c = col([{**f, "key": 1, "pass": 1}])["labels"]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def _random_segmentation(rng, n):
    """Per-token word ids of a random segmentation of n tokens into words of 1-4 tokens."""
    wid, w, i = [], 0, 0
    while i < n:
        size = int(rng.integers(1, 5))
        wid += [w] * min(size, n - i)
        i += size
        w += 1
    return wid


def test_wwm_never_masks_part_of_a_word(tok):
    """Property test over random segmentations and seeds."""
    col = build_collator("wwm", tok, seed=11)
    rng = np.random.default_rng(7)
    total_masked = total = 0
    for trial in range(300):
        n = int(rng.integers(5, 120))
        body = rng.integers(5, len(VOCAB), size=n).tolist()
        wid = [-1, *_random_segmentation(rng, n), -1]
        f = {"input_ids": [2, *body, 3], "word_ids": wid, "key": trial}
        batch = col([f])
        lab = batch["labels"][0].numpy()
        inp = batch["input_ids"][0].numpy()
        chosen = lab != IGNORE_INDEX
        assert chosen.sum() <= max(1, round(n * 0.15))
        for u in units_from_ids(np.asarray(wid)):
            assert chosen[u].all() or not chosen[u].any(), f"part of word {u} masked (trial {trial})"
            if chosen[u].all():  # 80/10/10 decided per word: all [MASK] or none
                is_mask = inp[u] == 4
                assert is_mask.all() or not is_mask.any()
        total_masked += chosen.sum()
        total += n
    assert abs(total_masked / total - 0.15) < 0.02  # words that do not fit are skipped: slightly under


def test_wwm_word_level_80_10_10(tok):
    col = build_collator("wwm", tok, seed=2)
    rng = np.random.default_rng(1)
    words_mask = words_kept = words = 0
    for k in range(300):
        wid = [-1, *_random_segmentation(rng, 126), -1]
        f = {"input_ids": [2, *rng.integers(5, len(VOCAB), size=126).tolist(), 3], "word_ids": wid, "key": k}
        b = col([f])
        lab, inp = b["labels"][0].numpy(), b["input_ids"][0].numpy()
        for u in units_from_ids(np.asarray(wid)):
            if (lab[u] != IGNORE_INDEX).all():
                words += 1
                words_mask += (inp[u] == 4).all()
                words_kept += (inp[u] == lab[u]).all()
    assert abs(words_mask / words - 0.8) < 0.03 and abs(words_kept / words - 0.1) < 0.025


def test_ernie_masks_whole_entities_and_phrases(tok):
    col = build_collator("ernie", tok, seed=4, levels={"entity": 1.0})
    rng = np.random.default_rng(2)
    for k in range(100):
        n = 60
        ent = [-1] * (n + 2)
        for e, start in enumerate(range(3, n - 4, 9)):
            ent[start:start + 3] = [e] * 3
        f = {"input_ids": [2, *rng.integers(5, len(VOCAB), size=n).tolist(), 3], "entity_ids": ent, "key": k}
        lab = col([f])["labels"][0].numpy()
        chosen = lab != IGNORE_INDEX
        for u in units_from_ids(np.asarray(ent)):
            assert chosen[u].all() or not chosen[u].any()
    # stages: the phrase stage reads phrase_ids
    col2 = build_collator("ernie", tok, seed=4, stages=[{"basic": 1.0}, {"phrase": 1.0}])
    f = {"input_ids": [2, 10, 11, 12, 3], "key": 0}
    col2([f])  # basic: needs no annotation
    col2.set_stage(1)
    with pytest.raises(ValueError, match="phrase_ids"):
        col2([f])


def test_mask_units_is_pure(tok):
    ids = np.arange(5, 45)
    maskable = np.ones(40, dtype=bool)
    units = [np.arange(0, 4), np.arange(10, 12)]
    kw = dict(mlm_probability=0.3, mask_id=4, random_ids=np.arange(5, 100))
    a = mask_units(ids, maskable, units, np.random.default_rng(3), **kw)
    b = mask_units(ids, maskable, units, np.random.default_rng(3), **kw)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_unknown_strategy_and_options(tok):
    assert set(COLLATORS) >= {"mlm", "wwm", "ernie"}
    with pytest.raises(ValueError, match="unknown masking strategy"):
        build_collator("bogus", tok)
    with pytest.raises(ValueError, match="unknown option"):
        build_collator("mlm", tok, levels={})


def test_units_in_any_order_and_non_contiguous():
    """Unit ids need not be sorted nor contiguous: a unit is still masked whole."""
    from kgbert.data.collators import mask_unit_ids

    rng = np.random.default_rng(0)
    for trial in range(200):
        n = 40
        unit_ids = rng.permutation(np.repeat(np.arange(10), 3))[: n - 10].tolist() + [-1] * 10
        unit_ids = np.asarray(rng.permutation(unit_ids))
        new, lab = mask_unit_ids(np.arange(5, 5 + n), np.ones(n, bool), unit_ids, np.random.default_rng(trial),
                                 mlm_probability=0.3, mask_id=4, random_ids=np.arange(5, 100))
        chosen = lab != IGNORE_INDEX
        assert chosen.sum() <= round(0.3 * n)
        for u in range(10):
            pos = np.flatnonzero(unit_ids == u)
            assert chosen[pos].all() or not chosen[pos].any()


def test_ernie_stages_follow_training_progress(tok):
    col = build_collator("ernie", tok, seed=0, stages=[{"basic": 1}, {"phrase": 1}, {"entity": 1}], stage_starts=[0, 0.5, 0.8])
    for frac, stage in [(0.0, 0), (0.49, 0), (0.5, 1), (0.79, 1), (0.8, 2), (1.0, 2)]:
        col.set_progress(frac)
        assert col.stage == stage
    with pytest.raises(ValueError, match="stage_starts"):
        build_collator("ernie", tok, stages=[{"basic": 1}, {"entity": 1}], stage_starts=[0.2, 0.5])
    # the stage decides which units are used: basic needs none, the phrase stage needs phrase_ids
    f = {"input_ids": [2, *range(10, 30), 3], "entity_ids": [-1] + [0] * 3 + [-1] * 18, "key": 1}
    col.set_progress(0.0)
    col([f])
    col.set_progress(0.6)
    with pytest.raises(ValueError, match="phrase_ids"):
        col([f])
    col.set_progress(0.9)
    for k in range(50):
        lab = col([{**f, "key": k}])["labels"][0]
        chosen = (lab[1:4] != IGNORE_INDEX).tolist()
        assert all(chosen) or not any(chosen)


@pytest.mark.parametrize("strategy", ["mlm", "wwm", "ernie"])
def test_a_sequence_is_masked_the_same_alone_or_in_any_batch(tok, strategy):
    """The batch is masked at once (mask_batch), yet each row depends only on its own ids, units
    and generator: the same masks alone, in a batch of other lengths, or beside odd unit ids."""
    col = build_collator(strategy, tok, seed=9, mlm_probability=0.3)
    rng = np.random.default_rng(4)
    feats = []
    for k, f in enumerate(_features(12, 60, seed=3, vary=True)):
        n = len(f["input_ids"])
        wid = [-1, *_random_segmentation(rng, n - 2), -1]
        if k == 5:  # unit ids out of order and non-contiguous in one row
            wid = [-1, *rng.permutation([i // 3 for i in range(n - 2)]).tolist(), -1]
        feats.append({**f, "word_ids": wid, "phrase_ids": wid, "entity_ids": wid})
    batch = col(feats)
    for i, f in enumerate(feats):
        alone = col([f])
        n = len(f["input_ids"])
        assert torch.equal(batch["input_ids"][i, :n], alone["input_ids"][0])
        assert torch.equal(batch["labels"][i, :n], alone["labels"][0])


def test_mask_batch_rows_follow_the_budget_rule():
    """BERT's rule per row: units in random order, taken while they fit, later smaller ones still
    fill the budget; a row of only big units takes none beyond what fits."""
    from kgbert.data.collators import DRAWS_PER_TOKEN, mask_batch

    L = 22
    ids = np.tile(np.arange(10, 10 + L), (3, 1))
    maskable = np.ones((3, L), dtype=bool)
    maskable[:, 0] = maskable[:, -1] = False  # 20 maskable: budget round(0.5 * 20) = 10
    units = np.full((3, L), -1)
    units[0, 1:21] = np.repeat(np.arange(5), 4)  # five 4-token units: two fit (8 tokens)
    units[1, 1:21] = np.r_[np.repeat(np.arange(3), 6), [3, 4]]  # three 6-token units + two singles
    units[2, 1:21] = np.arange(20)  # single tokens: exactly the budget
    for seed in range(50):
        draws = np.random.default_rng(seed).random((3, DRAWS_PER_TOKEN * L))
        _, lab = mask_batch(ids, maskable, units, draws, mlm_probability=0.5, mask_id=4, random_ids=np.arange(5, 9))
        chosen = lab != IGNORE_INDEX
        assert chosen[0].sum() == 8 and chosen[2].sum() == 10
        # whatever the order: the first 6-token unit fits (room >= 8), the others never do, both singles fit
        assert chosen[1].sum() == 8 and chosen[1, 19:21].all() and not chosen[:, [0, -1]].any()
        for row in range(3):
            for u in units_from_ids(units[row]):
                assert chosen[row, u].all() or not chosen[row, u].any()
