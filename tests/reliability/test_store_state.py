"""Issue 8, items 5, 6 and 8: a KnowledgeGraph never reads a replaced store with stale state, a
store changed in place is noticed on the next call, and what is not a store says so."""
from __future__ import annotations

import multiprocessing as mp
import sqlite3
import subprocess
import sys

import pytest

from knowledge import KnowledgeGraph, StoreChangedError, build_kg
from tests.conftest import REPO
from tests.knowledge.helpers import write

A = "高血压\t症状\t头晕\n糖尿病\t症状\t多饮\n"
B = "冠心病\t治疗\t手术\n高血压\t并发\t中风\n"


def _build(tmp_path, text, out, name):
    build_kg([write(tmp_path / f"{name}.spo", text)], out, name=name, force=True)
    return out


def test_reopen_after_close_refuses_a_rebuilt_store(tmp_path):
    store = _build(tmp_path, A, tmp_path / "kg.sqlite", "A")
    kg = KnowledgeGraph.open(store)
    assert kg.lookup("高血压") == [("高血压", "症状", "头晕")] and kg.meta["name"] == "A"
    _build(tmp_path, B, store, "B")
    kg.close()
    with pytest.raises(StoreChangedError, match="replaced since it was opened"):
        kg.lookup("冠心病")
    fresh = KnowledgeGraph.open(store)
    assert fresh.meta["name"] == "B" and fresh.lookup("冠心病") == [("冠心病", "治疗", "手术")]


def test_a_rebuild_is_noticed_without_close(tmp_path):
    store = _build(tmp_path, A, tmp_path / "kg.sqlite", "A")
    kg = KnowledgeGraph.open(store)
    kg.lookup("糖尿病")
    _build(tmp_path, B, store, "B")
    with pytest.raises(StoreChangedError):
        kg.lookup("冠心病")  # not A's relation names on B's triples


def _child(kg, q):
    try:
        q.put(("ok", [tuple(t) for t in kg.lookup("高血压")]))
    except StoreChangedError as exc:
        q.put(("changed", str(exc)))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_child_does_not_read_a_rebuilt_store_with_the_parents_state(tmp_path):
    store = _build(tmp_path, A, tmp_path / "kg.sqlite", "A")
    kg = KnowledgeGraph.open(store)
    kg.relation_names()
    _build(tmp_path, B, store, "B")
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(kg, q))
    p.start()
    p.join(60)
    status, _ = q.get(timeout=10)
    assert status == "changed"


SCRIPT = r"""
import shutil, sys
from knowledge import KnowledgeGraph, StoreChangedError
kg = KnowledgeGraph.open(sys.argv[1])
print(kg.lookup("高血压"), flush=True)
shutil.copyfile(sys.argv[2], sys.argv[1])  # cp other.sqlite kg.sqlite: same file, new content
try:
    print(kg.lookup("冠心病"))
except StoreChangedError as exc:
    print("CHANGED", exc)
"""


def test_a_store_overwritten_in_place_is_detected_not_a_crash(tmp_path):
    store = _build(tmp_path, A, tmp_path / "kg.sqlite", "A")
    other = _build(tmp_path, B * 50, tmp_path / "other.sqlite", "B")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(store), str(other)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "CHANGED" in proc.stdout and "replaced since it was opened" in proc.stdout


def _meta_store(tmp_path, label, **changes):
    store = _build(tmp_path, A, tmp_path / f"{label}.sqlite", label)
    con = sqlite3.connect(store)
    for key, value in changes.items():
        if key == "drop":
            for t in value:
                con.execute(f"DROP TABLE {t}")
        else:
            con.execute("UPDATE meta SET value=? WHERE key=?", (value, key))
    con.commit()
    con.close()
    return store


@pytest.mark.parametrize("case, changes, why", [
    ("null_version", {"format_version": "null"}, "format version None is not an integer"),
    ("text_version", {"format_version": '"two"'}, "format version 'two' is not an integer"),
    ("float_version", {"format_version": "2.5"}, "is not an integer"),
    ("not_json", {"name": "{oops"}, "meta value of 'name' is not JSON"),
    ("no_tables", {"drop": ["triples", "entities"]}, "no entities, triples table"),
    ("no_counts", {"counts": "{}"}, "lacks build_id or entity/relation/triple counts"),
])
def test_open_says_not_a_store_and_why(tmp_path, case, changes, why):
    store = _meta_store(tmp_path, case, **changes)
    with pytest.raises(ValueError) as info:
        KnowledgeGraph.open(store)
    msg = str(info.value)
    assert type(info.value) is ValueError and "not a knowledge-graph store" in msg and why in msg, msg
    assert str(store) in msg


def test_meta_table_alone(tmp_path):
    store = tmp_path / "meta_only.sqlite"
    con = sqlite3.connect(store)
    con.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('format_version', '2')")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match=r"not a knowledge-graph store \(no entities, relations, triples table\)"):
        KnowledgeGraph.open(store)
