"""EntityMatcher: leftmost-longest non-overlapping matches, options, persistence."""
from __future__ import annotations

import random

import pytest

import knowledge.matcher as matcher_mod
from knowledge import EntityMatcher, KnowledgeGraph, Match, build_kg
from tests.knowledge.helpers import write


def names_matcher(names, **kw) -> EntityMatcher:
    return EntityMatcher.from_names(list(enumerate(names)), **kw)


def reference(text: str, names: list[str], min_len: int = 2) -> list[tuple[int, int, str]]:
    """Brute-force leftmost-longest: at each position take the longest name, then jump past it."""
    usable = {n for n in names if len(n) >= min_len}
    out, i = [], 0
    while i < len(text):
        best = max((n for n in usable if text.startswith(n, i)), key=len, default=None)
        if best is None:
            i += 1
        else:
            out.append((i, i + len(best), best))
            i += len(best)
    return out


def test_nested_names_take_the_longest():
    m = names_matcher(["中国", "中国银行", "银行", "国银", "中国人民银行"])
    assert m.find("中国银行") == [Match(0, 4, "中国银行", 1)]
    assert m.find("去中国人民银行和中国") == [Match(1, 7, "中国人民银行", 4), Match(8, 10, "中国", 0)]
    assert [x.name for x in m.find("中国人民和银行")] == ["中国", "银行"]


def test_leftmost_wins_over_a_longer_overlapping_match():
    m = names_matcher(["AB", "BCDE", "EF"])
    # AB starts first; BCDE overlaps it and is dropped; EF does not overlap AB
    assert [(x.start, x.end, x.name) for x in m.find("xABCDEF")] == [(1, 3, "AB"), (5, 7, "EF")]


def test_min_len_and_stoplist(tmp_path):
    m = names_matcher(["肝", "肝炎", "检查", "疾病"], min_len=2, stoplist=["检查"])
    assert [x.name for x in m.find("肝炎需要检查肝")] == ["肝炎"]
    assert len(m) == 2  # 肝炎, 疾病
    m1 = names_matcher(["肝", "肝炎"], min_len=1)
    assert [x.name for x in m1.find("肝炎伤肝")] == ["肝炎", "肝"]
    stop = write(tmp_path / "stop.txt", "疾病\n\n")
    m2 = names_matcher(["疾病", "肝炎"], stoplist=stop)
    assert [x.name for x in m2.find("肝炎是疾病")] == ["肝炎"]
    with pytest.raises(FileNotFoundError):
        names_matcher(["x"], stoplist="no/such/file.txt")


def test_empty_inputs():
    m = names_matcher([])
    assert m.find("任何文本") == [] and names_matcher(["ab"]).find("") == []


def test_against_brute_force_reference():
    rng = random.Random(0)
    alphabet = "甲乙丙丁"
    for _ in range(200):
        names = list(dict.fromkeys("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
                                   for _ in range(rng.randint(1, 12))))
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        got = [(x.start, x.end, x.name) for x in names_matcher(names).find(text)]
        assert got == reference(text, names), (names, text)
        for x in names_matcher(names).find(text):
            assert names[x.entity_id] == x.name == text[x.start:x.end]


def test_for_store_persists_and_detects_staleness(tmp_path, monkeypatch):
    src = write(tmp_path / "a.spo", "高血压\t症状\t头晕\n糖尿病\t症状\t多饮\n")
    store = tmp_path / "kg.sqlite"
    build_kg([src], store)
    m = EntityMatcher.for_store(store)
    assert EntityMatcher.persisted_path(store) == tmp_path / "kg.sqlite.matcher"
    assert (tmp_path / "kg.sqlite.matcher").is_file()
    assert [(x.name, x.entity_id) for x in m.find("高血压伴头晕")] == [("高血压", 0), ("头晕", 1)]

    def no_build(*a, **k):
        raise AssertionError("should have loaded the persisted automaton")

    monkeypatch.setattr(EntityMatcher, "from_names", classmethod(no_build))
    kg = KnowledgeGraph.open(store)
    assert EntityMatcher.for_store(kg).find("糖尿病") == [Match(0, 3, "糖尿病", 2)]
    monkeypatch.undo()

    # a rebuilt store makes the persisted matcher stale: it is rebuilt with the new ids
    write(src, "冠心病\t症状\t胸痛\n高血压\t症状\t头晕\n")
    build_kg([src], store, force=True)
    assert [(x.name, x.entity_id) for x in EntityMatcher.for_store(store).find("高血压")] == [("高血压", 2)]


def test_options_get_their_own_file(tmp_path):
    src = write(tmp_path / "a.spo", "高血压\t症状\t头晕\n")
    store = tmp_path / "kg.sqlite"
    build_kg([src], store)
    m = EntityMatcher.for_store(store, subjects_only=True)
    assert [x.name for x in m.find("高血压伴头晕")] == ["高血压"]
    m = EntityMatcher.for_store(store, min_len=3)
    assert [x.name for x in m.find("高血压伴头晕")] == ["高血压"]
    files = sorted(p.name for p in tmp_path.glob("kg.sqlite*.matcher"))
    assert len(files) == 2 and "kg.sqlite.matcher" not in files
    assert len(EntityMatcher.for_store(store)) == 2  # 高血压, 头晕


def test_corrupt_persisted_file_is_rebuilt(tmp_path):
    src = write(tmp_path / "a.spo", "高血压\t症状\t头晕\n")
    store = tmp_path / "kg.sqlite"
    build_kg([src], store)
    EntityMatcher.for_store(store)
    (tmp_path / "kg.sqlite.matcher").write_bytes(b"garbage")
    assert [x.name for x in EntityMatcher.for_store(store).find("头晕")] == ["头晕"]
    assert (tmp_path / "kg.sqlite.matcher").read_bytes() != b"garbage"
    assert matcher_mod.MATCHER_VERSION == 1
