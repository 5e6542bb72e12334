"""KnowledgeGraph: lookups, id maps, determinism across processes, fork/pickle safety."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import subprocess
import sys

import pytest

from knowledge import KnowledgeGraph, Triple, build_kg, demo_kg_source, to_networkx, to_rdflib
from tests.conftest import REPO
from tests.knowledge.helpers import group_by_subject, read_spo, storage_order


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> KnowledgeGraph:
    out = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    build_kg([demo_kg_source()], out)
    return KnowledgeGraph.open(out)


def test_lookup_matches_input_order(demo):
    expected = group_by_subject(read_spo(demo_kg_source()))
    for subject, triples in expected.items():
        assert demo.lookup(subject) == triples
    hyp = expected["高血压"]
    assert demo.lookup("高血压", limit=3) == hyp[:3]
    assert demo.lookup("高血压", limit=0) == []
    assert demo.lookup("高血压", predicates=["症状", "并发症"]) == [
        t for t in hyp if t[1] in ("症状", "并发症")]
    assert demo.lookup("高血压", predicates=["没有这个谓词"]) == []
    assert demo.lookup("不存在的实体") == []
    assert isinstance(demo.lookup("高血压")[0], Triple)


def test_lookup_many(demo):
    names = ["糖尿病", "不存在", "花呗", "糖尿病"]
    got = demo.lookup_many(names, limit=2)
    assert list(got) == ["糖尿病", "不存在", "花呗"]
    assert got["不存在"] == [] and got["花呗"] == demo.lookup("花呗", limit=2)
    assert demo.lookup_many(["冠心病"], predicates=["治疗药物"])["冠心病"] == \
        demo.lookup("冠心病", predicates=["治疗药物"])


def test_cache_returns_copies(demo):
    first = demo.lookup("高血压")
    first.clear()
    assert len(demo.lookup("高血压")) > 0


def test_id_maps(demo):
    emap = demo.entity_map()
    assert sorted(emap.values()) == list(range(demo.num_entities))
    assert demo.entity_names()[emap["高血压"]] == "高血压"
    assert demo.entity_id("高血压") == 0  # first subject of the file
    assert demo.entity_name(demo.entity_id("阿司匹林")) == "阿司匹林"
    assert demo.entity_id("不存在") is None
    with pytest.raises(KeyError):
        demo.entity_name(demo.num_entities)
    rmap = demo.relation_map()
    assert sorted(rmap.values()) == list(range(demo.num_relations))
    assert demo.relation_name(rmap["症状"]) == "症状" and demo.relation_id("类别") == 0
    assert "高血压" in demo and "疾病" in demo and "不存在" not in demo and 3 not in demo
    assert demo.has_knowledge("高血压") and not demo.has_knowledge("疾病")


def test_iteration(demo):
    batches = list(demo.iter_batches(batch_size=100, ids=True))
    assert sum(len(b) for b in batches) == demo.num_triples == len(demo)
    assert all(len(b) == 100 for b in batches[:-1])
    s, p, o = batches[0][0]
    assert (demo.entity_name(s), demo.relation_name(p), demo.entity_name(o)) == tuple(
        next(iter(demo)))
    assert list(demo.iter_triples(batch_size=7)) == storage_order(read_spo(demo_kg_source()))


def test_neighbourhood_and_interop(demo):
    one = demo.neighbourhood(["高血压"], hops=1)
    assert one == demo.lookup("高血压")
    two = demo.neighbourhood(["高血压"], hops=2)
    assert set(one) < set(two) and ("硝苯地平", "类别", "药物") in two
    both = demo.neighbourhood(["硝苯地平"], hops=1, direction="both")
    assert ("高血压", "治疗药物", "硝苯地平") in both
    g = to_networkx(demo, ["高血压"], hops=1)
    assert g.number_of_edges() == len(one) and g.nodes["高血压"]["id"] == 0
    assert {d["predicate"] for _, _, d in g.edges(data=True)} == {t.predicate for t in one}
    full = to_networkx(demo)
    assert full.number_of_edges() == demo.num_triples
    assert len(to_rdflib(demo)) == demo.num_triples
    assert len(to_rdflib(demo, ["高血压"], hops=2)) == len(two)


def test_store_is_not_modified(demo):
    before = (demo.path.stat().st_mtime_ns, demo.path.read_bytes())
    demo.lookup("高血压")
    demo.lookup_many(["糖尿病"])
    list(demo.iter_triples())
    assert (demo.path.stat().st_mtime_ns, demo.path.read_bytes()) == before


def _child_lookup(kg: KnowledgeGraph, names, queue) -> None:
    queue.put((os.getpid(), {n: [tuple(t) for t in kg.lookup(n)] for n in names}))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_fork_and_pickle(demo):
    names = ["高血压", "花呗", "阿里巴巴"]
    want = {n: [tuple(t) for t in demo.lookup(n)] for n in names}  # parent connection is open
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_child_lookup, args=(demo, names, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert all(r == want for _, r in results)
    clone = pickle.loads(pickle.dumps(demo))
    assert clone._conn is None and clone.lookup("高血压") == demo.lookup("高血压")


SCRIPT = """
import json, sys
from knowledge import build_kg, KnowledgeGraph, demo_kg_source
out = sys.argv[1]
build_kg([demo_kg_source()], out)
kg = KnowledgeGraph.open(out)
names = [n for _, n in kg.iter_entities()]
print(json.dumps({"ids": names, "lookup": {n: kg.lookup(n, limit=5) for n in names},
                  "many": kg.lookup_many(names[::-1], limit=3)}, ensure_ascii=False))
"""


def test_lookup_order_independent_of_hash_seed(tmp_path):
    outs = []
    for seed in ("1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / f"kg{seed}.sqlite")],
                             env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        outs.append(json.loads(res.stdout))
    assert outs[0] == outs[1]
    assert outs[0]["lookup"]["高血压"][0] == ["高血压", "类别", "疾病"]


def test_lookup_many_with_normalisation(tmp_path):
    src = tmp_path / "a.spo"
    src.write_text("ABC银行\t总部\t北京\n", encoding="utf-8")
    build_kg([src], tmp_path / "kg.sqlite", normalize=True)
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite", cache_size=0)
    got = kg.lookup_many(["ＡＢＣ银行", "ABC银行", "x"])
    assert got["ＡＢＣ银行"] == got["ABC银行"] == [("ABC银行", "总部", "北京")] and got["x"] == []


def test_open_rejects_what_is_not_a_store(tmp_path):
    with pytest.raises(FileNotFoundError):
        KnowledgeGraph.open(tmp_path / "missing.sqlite")
    (tmp_path / "a.spo").write_text("x\tp\ty\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a knowledge-graph store"):
        KnowledgeGraph.open(tmp_path / "a.spo")


def test_unknown_store_version_is_refused(tmp_path):
    import sqlite3 as _sqlite

    src = tmp_path / "a.spo"
    src.write_text("x\tp\ty\n", encoding="utf-8")
    build_kg([src], tmp_path / "kg.sqlite")
    con = _sqlite.connect(tmp_path / "kg.sqlite")
    con.execute("UPDATE meta SET value='99' WHERE key='format_version'")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="store format 99"):
        KnowledgeGraph.open(tmp_path / "kg.sqlite")
