"""Issue 8, items 4 and 14: the persisted automaton can never run code, a foreign or damaged file
is rebuilt (not a crash), and no KG mention starts or ends inside a Latin/digit run."""
from __future__ import annotations

import os
import pickle

import pytest

import knowledge.matcher as matcher_mod
from knowledge import EntityMatcher, build_kg
from tests.knowledge.helpers import write

SPO = "高血压\t症状\t头晕\n糖尿病\t症状\t多饮\n"


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _store(tmp_path):
    store = tmp_path / "kg.sqlite"
    build_kg([write(tmp_path / "a.spo", SPO)], store)
    EntityMatcher.for_store(store)
    path = EntityMatcher.persisted_path(store)
    assert path.is_file()
    return store, path


def _check_rebuilt(store, monkeypatch):
    built = []
    real = EntityMatcher.from_names.__func__

    def spy(cls, *a, **k):
        built.append(1)
        return real(cls, *a, **k)

    monkeypatch.setattr(EntityMatcher, "from_names", classmethod(spy))
    m = EntityMatcher.for_store(store)
    assert [x.name for x in m.find("高血压伴头晕")] == ["高血压", "头晕"]
    assert built == [1]
    monkeypatch.undo()


def test_a_planted_pickle_behind_a_copied_header_runs_no_code(tmp_path, monkeypatch):
    store, path = _store(tmp_path)
    header = path.read_bytes().split(b"\n", 1)[0] + b"\n"  # anyone can copy a header
    marker = tmp_path / "PWNED"
    path.write_bytes(header + pickle.dumps(_Payload(str(marker))))
    _check_rebuilt(store, monkeypatch)
    assert not marker.exists()
    # the planted file was replaced by a genuine one
    assert pickle.dumps(_Payload(str(marker))) not in path.read_bytes()


def test_a_pickle_of_the_wrong_type_is_rebuilt_not_a_crash(tmp_path, monkeypatch):
    store, path = _store(tmp_path)
    header = path.read_bytes().split(b"\n", 1)[0] + b"\n"
    path.write_bytes(header + pickle.dumps([1, 2, 3]))
    _check_rebuilt(store, monkeypatch)


def test_damaged_node_data_or_another_users_key_is_rebuilt(tmp_path, monkeypatch):
    store, path = _store(tmp_path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # one flipped byte in the node data
    path.write_bytes(bytes(data))
    _check_rebuilt(store, monkeypatch)
    monkeypatch.setenv("KGBERT_KEY_DIR", str(tmp_path / "another_user"))
    _check_rebuilt(store, monkeypatch)  # not authenticated by that user's key: rebuilt


def test_the_persisted_file_holds_no_pickle(tmp_path):
    _, path = _store(tmp_path)
    body = path.read_bytes().split(b"\n", 1)[1]
    assert not body.startswith(b"\x80")  # no pickle protocol header
    assert not hasattr(matcher_mod, "pickle")  # the module does not even import pickle


HAS_RS = matcher_mod._ars is not None
BOTH = [False, pytest.param(True, marks=pytest.mark.skipif(not HAS_RS, reason="ahocorasick_rs not installed"))]


@pytest.mark.parametrize("use_rs", BOTH)
def test_no_mention_inside_a_latin_or_digit_run(use_rs):
    names = ["100", "GB", "中国", "100元", "U1", "1中国"]
    m = EntityMatcher.from_names(list(enumerate(names)), use_rs=use_rs)
    text = "U100型号, 1000人, 共100人, GBK和GB 2312, x1中国银行, ５GB"
    got = [(x.start, x.end, x.name) for x in m.find(text)]
    # 100 in U100 / 1000, GB in GBK, U1 in U100, 1中国 in x1中国 are all refused;
    # x1中国: 1中国 starts inside "x1", so 中国 (allowed) is found instead
    for s, e, name in got:
        assert not matcher_mod._cuts_run(text, s, e), (s, e, name)
    assert [g[2] for g in got] == ["100", "GB", "中国"]
    assert got[0][:2] == (text.index("共100") + 1, text.index("共100") + 4)
    assert m.spans(text) == got
    off = EntityMatcher.from_names(list(enumerate(names)), use_rs=use_rs, latin_boundaries=False)
    assert [x.name for x in off.find("U100型号")] == ["U1"]  # the old behaviour, on request


def test_boundaries_follow_runs_not_characters():
    m = EntityMatcher.from_names(list(enumerate(["100", "100元", "GB"])), use_rs=False)
    assert [x.name for x in m.find("100元")] == ["100元"]
    assert [x.name for x in m.find("价格100")] == ["100"]
    assert [x.name for x in m.find("GB-2312")] == ["GB"]
    assert [x.name for x in m.find("ＧＢ100")] == []  # full-width Latin letters form a run too


@pytest.mark.parametrize("use_rs", BOTH)
def test_entity_ids_beyond_32_bits_of_packing_survive(use_rs, tmp_path):
    """Found while benchmarking: ids were packed as ``id << 12 | len`` into pyahocorasick's 32-bit
    values, so entities with ids >= 2**19 (524,288) came back with wrong ids or not at all."""
    pairs = [(600_000, "高血压"), (2**33, "糖尿病"), (7, "头晕")]
    m = EntityMatcher.from_names(pairs, use_rs=use_rs)
    assert [(x.name, x.entity_id) for x in m.find("高血压和糖尿病伴头晕")] == [
        ("高血压", 600_000), ("糖尿病", 2**33), ("头晕", 7)]
