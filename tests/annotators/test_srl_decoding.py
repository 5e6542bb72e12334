"""Constrained BIO Viterbi decoding and the BIO helpers."""
from __future__ import annotations

import itertools

import torch

from annotators.srl import SrlArg, SrlFrame, bio_constraints, bio_labels, frame_to_tags, tags_to_spans, viterbi_decode

LABELS = bio_labels(["A0", "A1", "AM-TMP"])  # O, B-A0, I-A0, B-A1, I-A1, B-AM-TMP, I-AM-TMP


def _valid(tags: list[str]) -> bool:
    prev = "O"
    for t in tags:
        if t.startswith("I-") and prev[2:] != t[2:]:
            return False
        prev = t
    return True


def test_constraints_table():
    allowed, start = bio_constraints(LABELS)
    ix = {t: i for i, t in enumerate(LABELS)}
    assert allowed[ix["B-A0"], ix["I-A0"]] and allowed[ix["I-A0"], ix["I-A0"]]
    assert not allowed[ix["O"], ix["I-A0"]]
    assert not allowed[ix["B-A1"], ix["I-A0"]]
    assert not allowed[ix["I-AM-TMP"], ix["I-A0"]]
    assert allowed[ix["O"], ix["B-A1"]] and allowed[ix["I-A1"], ix["O"]]
    assert start.tolist() == [not t.startswith("I-") for t in LABELS]


def test_never_emits_invalid_bio_on_adversarial_scores():
    torch.manual_seed(0)
    allowed, start = bio_constraints(LABELS)
    scores = torch.randn(64, 12, len(LABELS))  # (B, T, K)
    scores[:, :, 2::2] += 2.0  # make I-* tags the unconstrained favourites
    lengths = torch.randint(1, 13, (64,))
    mask = torch.arange(12)[None, :] < lengths[:, None]  # (B, T)
    paths = viterbi_decode(scores.log_softmax(-1), mask, allowed, start)
    raw = scores.argmax(-1)
    assert any(not _valid([LABELS[i] for i in raw[b, : lengths[b]].tolist()]) for b in range(64))  # the test has teeth
    for b, path in enumerate(paths):
        assert len(path) == lengths[b]
        tags = [LABELS[i] for i in path]
        assert _valid(tags), tags  # no I-X after O, after B-Y/I-Y, or at the start


def test_returns_argmax_when_it_is_already_valid():
    torch.manual_seed(1)
    allowed, start = bio_constraints(LABELS)
    checked = 0
    for _ in range(200):
        scores = torch.randn(1, 6, len(LABELS))
        argmax = scores.argmax(-1)[0].tolist()
        if _valid([LABELS[i] for i in argmax]):
            assert viterbi_decode(scores, torch.ones(1, 6, dtype=torch.bool), allowed, start)[0] == argmax
            checked += 1
    assert checked > 10


def test_is_the_best_valid_sequence_by_brute_force():
    torch.manual_seed(2)
    labels = bio_labels(["A0", "A1"])
    allowed, start = bio_constraints(labels)
    for _ in range(20):
        scores = torch.randn(1, 4, len(labels)).log_softmax(-1)
        best = max(
            (seq for seq in itertools.product(range(len(labels)), repeat=4) if _valid([labels[i] for i in seq])),
            key=lambda seq: sum(scores[0, t, k].item() for t, k in enumerate(seq)),
        )
        path = viterbi_decode(scores, torch.ones(1, 4, dtype=torch.bool), allowed, start)[0]
        got = sum(scores[0, t, k].item() for t, k in enumerate(path))
        want = sum(scores[0, t, k].item() for t, k in enumerate(best))
        assert abs(got - want) < 1e-5


def test_bio_round_trip_and_stray_inside_tags():
    frame = SrlFrame((3, 4), (SrlArg("A0", 0, 2), SrlArg("A1", 4, 7)))
    tags = frame_to_tags(frame, 8)
    assert tags == ["B-A0", "I-A0", "O", "O", "B-A1", "I-A1", "I-A1", "O"]
    assert tags_to_spans(tags) == list(frame.args)
    assert tags_to_spans(["O", "I-A0", "B-A1", "I-A0"]) == [SrlArg("A0", 1, 2), SrlArg("A1", 2, 3), SrlArg("A0", 3, 4)]
