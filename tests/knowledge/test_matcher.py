"""EntityMatcher: leftmost-longest non-overlapping matches, options, persistence."""
from __future__ import annotations

import random

import pytest

import knowledge.matcher as matcher_mod
from knowledge import EntityMatcher, KnowledgeGraph, Match, build_kg
from tests.knowledge.helpers import write


def names_matcher(names, **kw) -> EntityMatcher:
    # Latin letters stand for arbitrary characters here: no Latin-run boundaries
    return EntityMatcher.from_names(list(enumerate(names)), **{"latin_boundaries": False, **kw})


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
    assert matcher_mod.MATCHER_VERSION == 2


HAS_RS = matcher_mod._ars is not None
BOTH_PATHS = [False, pytest.param(True, marks=pytest.mark.skipif(not HAS_RS, reason="ahocorasick_rs not installed"))]


@pytest.mark.parametrize("use_rs", BOTH_PATHS)
def test_both_match_paths_against_brute_force(use_rs):
    """The pure-pyahocorasick path and the ahocorasick_rs path each equal the brute force,
    on random names/texts with astral characters, Latin and min_len 1..3."""
    rng = random.Random(1)
    alphabet = "甲乙丙丁ab😀𠀀 "
    for trial in range(400):
        min_len = 1 + trial % 3
        names = list(dict.fromkeys("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
                                   for _ in range(rng.randint(1, 15))))
        m = names_matcher(names, min_len=min_len, use_rs=use_rs)
        assert m.use_rs is use_rs
        for _ in range(5):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            got = m.find(text)
            assert [(x.start, x.end, x.name) for x in got] == reference(text, names, min_len), (names, text)
            assert all(names[x.entity_id] == x.name == text[x.start:x.end] for x in got)


@pytest.mark.skipif(not HAS_RS, reason="ahocorasick_rs not installed")
def test_rs_path_equals_python_path_on_real_kg_names():
    """Both paths give identical Match lists on real medical KG subjects and real sentences."""
    from tests.conftest import shared_data

    spo = shared_data("kg_medical", "Medical.spo")
    ner = shared_data("medical_ner", "train.tsv")
    names = list(dict.fromkeys(ln.split("\t", 1)[0] for ln in spo.read_text(encoding="utf-8").splitlines()[:20000]))
    pairs = list(enumerate(names))
    fast = EntityMatcher.from_names(pairs, use_rs=True)
    slow = EntityMatcher.from_names(pairs, use_rs=False)
    texts = ["".join(ln.split("\t")[0].split()) for ln in ner.read_text(encoding="utf-8").splitlines()[1:1501]]
    found = 0
    for t in texts:
        a = fast.find(t)
        assert a == slow.find(t), t
        found += len(a)
    assert found > 100


@pytest.mark.skipif(not HAS_RS, reason="ahocorasick_rs not installed")
def test_rs_matcher_pickles_and_persists(tmp_path):
    import pickle

    m = names_matcher(["中国", "中国银行", "银行"], use_rs=True)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.use_rs and m2.find("去中国银行") == m.find("去中国银行") == [Match(1, 5, "中国银行", 1)]
    src = write(tmp_path / "a.spo", "高血压\t症状\t头晕\n")
    build_kg([src], tmp_path / "kg.sqlite")
    a = EntityMatcher.for_store(tmp_path / "kg.sqlite", use_rs=False)  # writes the file
    b = EntityMatcher.for_store(tmp_path / "kg.sqlite", use_rs=True)  # loads the same file
    assert not a.use_rs and b.use_rs and a.find("高血压伴头晕") == b.find("高血压伴头晕")


def test_use_rs_without_the_package_is_an_error(monkeypatch):
    monkeypatch.setattr(matcher_mod, "_ars", None)
    assert names_matcher(["中国"]).use_rs is False
    with pytest.raises(ImportError):
        names_matcher(["中国"], use_rs=True)


@pytest.mark.parametrize("use_rs", BOTH_PATHS)
def test_spans_equal_find(use_rs):
    m = names_matcher(["中国", "中国银行", "银行", "国银", "中国人民银行"], use_rs=use_rs)
    for text in ["", "去中国人民银行和中国", "中国人民和银行", "无"]:
        assert m.spans(text) == [(x.start, x.end, x.name) for x in m.find(text)]
    assert names_matcher([], use_rs=use_rs).spans("中国") == []
