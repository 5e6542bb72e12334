"""Metrics: entity-level P/R/F1 with seqeval's default (conlleval) semantics, accuracy, macro-F1.

Expected values are computed by hand in the comments.
"""
import numpy as np
import pytest

from kgbert.metrics import accuracy, bmes_to_bio, classification_scores, entity_scores, get_entities, macro_f1, roc_auc


def test_get_entities_bio():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O"]
    assert get_entities(tags) == [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6)]


def test_i_without_b_starts_a_chunk():
    # conlleval / seqeval default: an I- after O (or at the start) opens a chunk.
    assert get_entities(["I-PER", "I-PER", "O", "I-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]


def test_type_change_inside_chunk_splits_it():
    assert get_entities(["B-PER", "I-LOC", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 3)]


def test_entity_at_end_of_sequence_is_closed():
    assert get_entities(["O", "B-ORG", "I-ORG"]) == [("ORG", 1, 3)]


def test_bmes_chunks():
    tags = ["B-NAME", "M-NAME", "E-NAME", "S-LOC", "E-ORG", "O"]
    # E-ORG after S-LOC starts a new chunk (prev S ends); it is a single-token ORG.
    assert get_entities(tags) == [("NAME", 0, 3), ("LOC", 3, 4), ("ORG", 4, 5)]
    assert bmes_to_bio(tags) == ["B-NAME", "I-NAME", "I-NAME", "B-LOC", "I-ORG", "O"]
    assert get_entities(bmes_to_bio(tags)) == get_entities(tags)


def test_entity_scores_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O", "B-LOC"]]
    # gold entities: PER(0,2) LOC(3,4) | ORG(0,2)          -> 3
    # pred entities: PER(0,2)          | ORG(0,1) LOC(2,3) -> 3
    # correct: PER(0,2) only                               -> 1
    s = entity_scores(gold, pred)
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (3, 3, 1)
    assert s["precision"] == pytest.approx(1 / 3)
    assert s["recall"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(1 / 3)
    assert s["per_type"]["PER"]["f1"] == pytest.approx(1.0)
    assert s["per_type"]["ORG"]["f1"] == 0.0
    assert s["per_type"]["LOC"]["support"] == 1


def test_entity_scores_i_start_matches_gold_b():
    # Predicted "I-PER I-PER" is the same chunk as gold "B-PER I-PER" under conlleval rules.
    s = entity_scores([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]])
    assert s["f1"] == pytest.approx(1.0)


def test_entity_scores_unequal_precision_recall():
    gold = [["B-A", "O", "B-A", "O", "B-B"]]
    pred = [["B-A", "O", "O", "O", "O"]]
    # 3 gold, 1 pred, 1 correct: P = 1, R = 1/3, F1 = 2 * 1 * (1/3) / (4/3) = 0.5
    s = entity_scores(gold, pred)
    assert (s["precision"], s["recall"], s["f1"]) == pytest.approx((1.0, 1 / 3, 0.5))


def test_entity_scores_no_entities():
    s = entity_scores([["O", "O"]], [["O", "O"]])
    assert s["f1"] == 0.0 and s["n_gold"] == 0


def test_entity_scores_length_mismatch():
    with pytest.raises(ValueError, match="sequence 0"):
        entity_scores([["O", "O"]], [["O"]])


def test_accuracy_and_macro_f1():
    gold = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "b"]
    assert accuracy(gold, pred) == pytest.approx(0.5)
    # a: P=1 R=1/2 F=2/3; b: P=1/3 R=1 F=1/2; c: P=0 R=0 F=0 -> mean 7/18
    assert macro_f1(gold, pred) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    # A listed label with neither gold nor predicted instances is skipped (not averaged in as 0).
    assert macro_f1(gold, pred, labels=["a", "b", "c", "d"]) == pytest.approx(7 / 18)


def test_roc_auc_is_the_pairwise_ranking_probability():
    """Against its definition: the share of (positive, negative) pairs ranked right, ties half."""
    rng = np.random.default_rng(0)
    for n in (2, 7, 50):
        pos = rng.random(n) < 0.4
        pos[0], pos[1] = True, False
        scores = rng.integers(0, 5, n) / 4.0  # many ties
        pairs = [(p, q) for p in scores[pos] for q in scores[~pos]]
        expected = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in pairs) / len(pairs)
        assert roc_auc(pos, scores) == pytest.approx(expected)
    assert roc_auc([True, False], [0.9, 0.1]) == 1.0 and roc_auc([True, False], [0.1, 0.9]) == 0.0
    with pytest.raises(ValueError, match="positive and negative"):
        roc_auc([True, True], [0.1, 0.2])


def test_classification_scores_add_auc_for_two_classes_only():
    gold = ["0", "1", "0", "1"]
    probs = np.array([[0.8, 0.2], [0.6, 0.4], [0.7, 0.3], [0.9, 0.1]])
    s = classification_scores(gold, ["0"] * 4, ["0", "1"], probs)
    assert s["accuracy"] == 0.5 and s["auc"] == pytest.approx(0.5)  # majority class, ranking 2 of 4 pairs right
    assert "auc" not in classification_scores(gold, ["0"] * 4, ["0", "1"])
    assert "auc" not in classification_scores(["0"] * 4, ["0"] * 4, ["0", "1"], probs)
    assert "auc" not in classification_scores(["a", "b", "c"], ["a"] * 3, ["a", "b", "c"], np.full((3, 3), 1 / 3))
