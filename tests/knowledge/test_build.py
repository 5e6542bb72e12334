"""Building stores: formats, round trips, bad lines, atomicity, options."""
from __future__ import annotations

import sqlite3

import pytest

import knowledge.build as build_mod
from knowledge import BadInputError, KnowledgeGraph, build_kg, demo_kg_source, to_rdf
from tests.conftest import shared_data
from tests.knowledge.helpers import group_by_subject, leftovers, read_spo, storage_order, write

SMALL = "高血压\t症状\t头晕\n高血压\t症状\t头痛\n糖尿病\t症状\t多饮\n高血压\t症状\t头晕\n\n高血压\t类别\t疾病\n"


def test_spo_round_trip_small(tmp_path):
    src = write(tmp_path / "a.spo", "\ufeff" + SMALL.replace("\n", "\r\n"))
    rep = build_kg([src], tmp_path / "kg.sqlite")
    assert (rep.read, rep.kept, rep.duplicates, rep.bad) == (5, 4, 1, 0)
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert kg.lookup("高血压") == [("高血压", "症状", "头晕"), ("高血压", "症状", "头痛"),
                                  ("高血压", "类别", "疾病")]
    assert kg.lookup("糖尿病") == [("糖尿病", "症状", "多饮")]
    assert (kg.num_triples, kg.num_entities, kg.num_relations) == (4, 6, 2)
    assert rep.top_predicates[0] == ("症状", 3)
    assert leftovers(tmp_path) == []


@pytest.mark.data
@pytest.mark.parametrize("folder,fname", [("kg_medical", "Medical.spo"), ("kg_hownet", "HowNet.spo")])
def test_round_trip_shared_kgs(tmp_path, folder, fname):
    src = shared_data(folder, fname)
    expected = read_spo(src)
    rep = build_kg([src], tmp_path / "kg.sqlite")
    assert rep.bad == 0 and rep.kept == len(expected)
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert [tuple(t) for t in kg.iter_triples(batch_size=5000)] == storage_order(expected)
    by_subject = group_by_subject(expected)
    got = kg.lookup_many(list(by_subject))
    assert {k: [tuple(t) for t in v] for k, v in got.items()} == by_subject
    for subject in list(by_subject)[::997]:
        assert [tuple(t) for t in kg.lookup(subject)] == by_subject[subject]
        assert [tuple(t) for t in kg.lookup(subject, limit=1)] == by_subject[subject][:1]
    names = {t[0] for t in expected} | {t[2] for t in expected}
    assert kg.num_entities == len(names)


NT = """# a comment
<http://kgbert.local/entity/%E9%AB%98%E8%A1%80%E5%8E%8B> <http://kgbert.local/relation/%E7%97%87%E7%8A%B6> <http://kgbert.local/entity/%E5%A4%B4%E6%99%95> .
<http://example.org/a> <http://example.org/label> "阿司匹林"@zh .
<http://example.org/a> <http://example.org/p> _:n1 .
_:n1 <http://example.org/q> "12"^^<http://www.w3.org/2001/XMLSchema#integer> .
"""

TTL = """@prefix e: <http://kgbert.local/entity/> .
@prefix r: <http://kgbert.local/relation/> .
@prefix x: <http://example.org/> .
e:%E9%AB%98%E8%A1%80%E5%8E%8B r:%E7%97%87%E7%8A%B6 e:%E5%A4%B4%E6%99%95 .
x:a x:label "阿司匹林"@zh ; x:p [ x:q 12 ] .
"""


def _dump(path):
    con = sqlite3.connect(path)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("entities", "relations", "triples")}
    finally:
        con.close()


@pytest.mark.parametrize("dedup", [True, False])
def test_low_memory_mode_builds_the_same_store(tmp_path, dedup):
    text = "b\tp\ta\na\tq\tc\nb\tp\ta\nc\tp\tb\na\tq\tc\nd\tr\td\n"
    src = write(tmp_path / "a.spo", text)
    fast = build_kg([src], tmp_path / "fast.sqlite", dedup=dedup)
    slow = build_kg([src], tmp_path / "slow.sqlite", dedup=dedup, low_memory=True)
    assert (fast.kept, fast.duplicates) == (slow.kept, slow.duplicates) == ((4, 2) if dedup else (6, 0))
    assert _dump(tmp_path / "fast.sqlite") == _dump(tmp_path / "slow.sqlite")
    kg = KnowledgeGraph.open(tmp_path / "slow.sqlite")
    assert kg.entity_names() == ["b", "a", "c", "d"]
    assert [t.object for t in kg.lookup("b")] == (["a"] if dedup else ["a", "a"])


@pytest.mark.data
def test_low_memory_mode_on_shared_kg(tmp_path):
    src = shared_data("kg_medical", "Medical.spo")
    build_kg([src], tmp_path / "fast.sqlite")
    build_kg([src], tmp_path / "slow.sqlite", low_memory=True, index_objects=True)
    assert _dump(tmp_path / "fast.sqlite") == _dump(tmp_path / "slow.sqlite")


def test_ntriples_input(tmp_path):
    rep = build_kg([write(tmp_path / "a.nt", NT)], tmp_path / "kg.sqlite")
    assert rep.bad == 0 and rep.kept == 4
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert kg.lookup("高血压") == [("高血压", "症状", "头晕")]
    assert kg.lookup("http://example.org/a") == [
        ("http://example.org/a", "http://example.org/label", "阿司匹林"),
        ("http://example.org/a", "http://example.org/p", "_:n1")]
    assert kg.lookup("_:n1") == [("_:n1", "http://example.org/q", "12")]


def test_turtle_input_document_order(tmp_path):
    rep = build_kg([write(tmp_path / "a.ttl", TTL)], tmp_path / "kg.sqlite")
    assert rep.bad == 0
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert kg.lookup("高血压") == [("高血压", "症状", "头晕")]
    assert [t.object for t in kg.lookup("http://example.org/a")] == ["阿司匹林", "_:b1"]
    assert kg.lookup("_:b1") == [("_:b1", "http://example.org/q", "12")]


def test_rdf_names_local(tmp_path):
    build_kg([write(tmp_path / "a.nt", NT)], tmp_path / "kg.sqlite", rdf_names="local")
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert kg.lookup("a") == [("a", "label", "阿司匹林"), ("a", "p", "_:n1")]


@pytest.mark.parametrize("fmt", ["nt", "turtle"])
def test_export_import_round_trip(tmp_path, fmt):
    build_kg([demo_kg_source()], tmp_path / "demo.sqlite")
    demo = KnowledgeGraph.open(tmp_path / "demo.sqlite")
    suffix = ".nt.gz" if fmt == "nt" else ".ttl"
    exported = to_rdf(demo, tmp_path / f"demo{suffix}", format=fmt)
    build_kg([exported], tmp_path / "back.sqlite")
    back = KnowledgeGraph.open(tmp_path / "back.sqlite")
    assert back.num_triples == demo.num_triples
    if fmt == "nt":  # N-Triples keeps every subject's triple order exactly
        names = demo.entity_names()
        assert back.lookup_many(names) == demo.lookup_many(names)
    else:  # rdflib's Turtle writer groups by subject
        assert sorted(back.iter_triples()) == sorted(demo.iter_triples())


def test_gzip_inputs(tmp_path):
    a = write(tmp_path / "a.spo.gz", SMALL, gz=True)
    b = write(tmp_path / "b.csv.gz", "subject,predicate,object\n阿司匹林,类别,药物\n", gz=True)
    c = write(tmp_path / "c.nt.gz", NT, gz=True)
    rep = build_kg([a, b, c], tmp_path / "kg.sqlite")
    assert rep.bad == 0 and rep.kept == 4 + 1 + 3 and rep.duplicates == 2  # 高血压-症状-头晕 twice
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert kg.lookup("阿司匹林") == [("阿司匹林", "类别", "药物")]
    assert [s["format"] for s in kg.meta["sources"]] == ["spo", "csv", "nt"]


def test_csv_tsv_with_headers(tmp_path):
    csv_text = 'note,Subject,Predicate,Object\nx,"中国银行","总部","北京"\ny,"招商银行","简介","银行,总部在深圳"\n'
    tsv_text = "head\trelation\ttail\n花呗\t所属公司\t蚂蚁集团\n"
    rep = build_kg([write(tmp_path / "a.csv", csv_text), write(tmp_path / "b.tsv", tsv_text)],
                   tmp_path / "kg.sqlite")
    assert rep.bad == 0 and rep.kept == 3
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert kg.lookup("招商银行") == [("招商银行", "简介", "银行,总部在深圳")]
    assert kg.lookup("花呗") == [("花呗", "所属公司", "蚂蚁集团")]


def test_csv_custom_columns_and_missing_header(tmp_path):
    text = "a,b,c\n中国银行,总部,北京\n"
    rep = build_kg([write(tmp_path / "a.csv", text)], tmp_path / "kg.sqlite", columns=("a", "b", "c"))
    assert rep.kept == 1
    rep = build_kg([write(tmp_path / "b.csv", text)], tmp_path / "kg2.sqlite")
    assert rep.kept == 0 and rep.bad == 1 and rep.bad_examples[0].line == 1
    assert "names no subject, predicate, object column" in rep.bad_examples[0].reason


def test_inputs_order_defines_lookup_order(tmp_path):
    a = write(tmp_path / "a.spo", "x\tp\t1\n")
    b = write(tmp_path / "b.spo", "x\tp\t2\nx\tp\t1\n")
    build_kg([b, a], tmp_path / "ba.sqlite")
    build_kg([a, b], tmp_path / "ab.sqlite")
    assert [t.object for t in KnowledgeGraph.open(tmp_path / "ba.sqlite").lookup("x")] == ["2", "1"]
    assert [t.object for t in KnowledgeGraph.open(tmp_path / "ab.sqlite").lookup("x")] == ["1", "2"]


BAD_SPO = (b"ok1\tp\to\n"            # 1 fine
           b"only\ttwo\n"            # 2 wrong column count
           b"a\tb\tc\td\n"           # 3 wrong column count
           b"s\t \to\n"              # 4 empty predicate
           b"s\xff\xfe\tp\to\n"      # 5 bad UTF-8
           b"\n"                     # 6 blank: skipped, not bad
           b"ok2\tp\to\n")           # 7 fine


def test_bad_lines_reported_with_line_numbers(tmp_path):
    src = write(tmp_path / "bad.spo", BAD_SPO)
    seen = []
    rep = build_kg([src], tmp_path / "kg.sqlite", on_bad=seen.append)
    assert rep.read == 2 and rep.kept == 2 and rep.bad == 4
    got = [(b.line, b.reason.split(" ")[0]) for b in rep.bad_examples]
    assert got == [(2, "expected"), (3, "expected"), (4, "empty"), (5, "invalid")]
    assert "found 2" in rep.bad_examples[0].reason and "found 4" in rep.bad_examples[1].reason
    assert rep.bad_examples[2].reason == "empty predicate"
    assert str(rep.bad_examples[3]).startswith(f"{src}:5: invalid UTF-8")
    assert seen == rep.bad_examples
    assert KnowledgeGraph.open(tmp_path / "kg.sqlite").meta["counts"]["bad"] == 4


def test_bad_lines_all_counted_first_n_shown(tmp_path):
    src = write(tmp_path / "bad.spo", "x\n" * 50 + "a\tb\tc\n")
    rep = build_kg([src], tmp_path / "kg.sqlite", max_errors_shown=3)
    assert rep.bad == 50 and len(rep.bad_examples) == 3 and rep.kept == 1
    assert [b.line for b in rep.bad_examples] == [1, 2, 3]


def test_bad_rdf_and_csv_lines(tmp_path):
    nt = ("<http://x/a> <http://x/p> <http://x/b> .\n"
          "<http://x/a> <http://x/p> \"unterminated .\n"
          "<http://x/a> http://x/p <http://x/b> .\n"
          "<http://x/c> <http://x/p> <http://x/d> .\n")
    csv_text = "subject,predicate,object\na,b,c\na,b\n,b,c\n"
    rep = build_kg([write(tmp_path / "a.nt", nt), write(tmp_path / "b.csv", csv_text)],
                   tmp_path / "kg.sqlite")
    assert rep.kept == 3
    assert [(b.source.rsplit("/", 1)[-1], b.line) for b in rep.bad_examples] == [
        ("a.nt", 2), ("a.nt", 3), ("b.csv", 3), ("b.csv", 4)]
    assert rep.bad_examples[0].reason.startswith("broken N-Triples term")
    assert rep.bad_examples[3].reason == "empty subject"


def test_broken_turtle_reports_line(tmp_path):
    ttl = "@prefix x: <http://x/> .\nx:a x:p x:b .\nx:c x:p x:d x:e .\n"
    rep = build_kg([write(tmp_path / "a.ttl", ttl)], tmp_path / "kg.sqlite")
    assert rep.bad == 1 and rep.bad_examples[0].line == 3
    assert rep.bad_examples[0].reason.startswith("broken Turtle")


def test_strict_raises_and_leaves_nothing(tmp_path):
    src = write(tmp_path / "bad.spo", BAD_SPO)
    with pytest.raises(BadInputError) as info:
        build_kg([src], tmp_path / "kg.sqlite", strict=True)
    assert info.value.bad.line == 2
    assert not (tmp_path / "kg.sqlite").exists() and leftovers(tmp_path) == []


def test_interrupted_build_leaves_no_store_or_temp(tmp_path, monkeypatch):
    src = write(tmp_path / "a.spo", SMALL * 100)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("simulated interrupt while indexing")

    monkeypatch.setattr(build_mod, "_finish", boom)
    with pytest.raises(KeyboardInterrupt):
        build_kg([src], tmp_path / "out" / "kg.sqlite")
    assert list((tmp_path / "out").iterdir()) == []


def test_interrupted_mid_read_keeps_old_store(tmp_path, monkeypatch):
    src = write(tmp_path / "a.spo", SMALL * 100)
    build_kg([src], tmp_path / "kg.sqlite")
    before = (tmp_path / "kg.sqlite").read_bytes()
    real = build_mod.read_triples

    def failing(*args, **kwargs):
        for i, t in enumerate(real(*args, **kwargs)):
            if i == 150:
                raise RuntimeError("disk on fire")
            yield t

    monkeypatch.setattr(build_mod, "read_triples", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_kg([src], tmp_path / "kg.sqlite", force=True, batch_size=64)
    assert (tmp_path / "kg.sqlite").read_bytes() == before
    assert leftovers(tmp_path) == []


def test_existing_store_needs_force(tmp_path):
    a = write(tmp_path / "a.spo", "x\tp\t1\n")
    b = write(tmp_path / "b.spo", "y\tp\t2\n")
    build_kg([a], tmp_path / "kg.sqlite")
    with pytest.raises(FileExistsError):
        build_kg([b], tmp_path / "kg.sqlite")
    assert "x" in KnowledgeGraph.open(tmp_path / "kg.sqlite")
    build_kg([b], tmp_path / "kg.sqlite", force=True)
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert "y" in kg and "x" not in kg


def test_normalize_nfkc_and_t2s(tmp_path):
    src = write(tmp_path / "a.spo", "ＡＢＣ银行\t總部\t　北京\n醫院\t類別\t機構\n")
    build_kg([src], tmp_path / "n.sqlite", normalize=True)
    kg = KnowledgeGraph.open(tmp_path / "n.sqlite")
    assert kg.lookup("ABC银行") == [("ABC银行", "總部", "北京")]
    assert kg.lookup("ＡＢＣ银行") == kg.lookup("ABC银行")  # the query is normalised too
    build_kg([src], tmp_path / "t.sqlite", normalize="t2s")
    kg = KnowledgeGraph.open(tmp_path / "t.sqlite")
    assert kg.lookup("医院") == [("医院", "类别", "机构")]
    assert kg.lookup("醫院") == [("医院", "类别", "机构")]
    assert kg.meta["options"]["normalize"] == "t2s"


def test_filters_and_no_dedup(tmp_path):
    src = write(tmp_path / "a.spo", "高血压\t症状\t头晕\n高血压\t类别\t疾病\n癌\t类别\t疾病\n"
                                    "高血压\t症状\t头晕\n高血压\t别名\t原发性高血压\n")
    rep = build_kg([src], tmp_path / "a.sqlite", predicates=["症状,类别"], min_entity_len=2)
    assert (rep.kept, rep.filtered, rep.duplicates) == (2, 2, 1)
    rep = build_kg([src], tmp_path / "b.sqlite", skip_predicates="别名", dedup=False)
    assert (rep.kept, rep.filtered, rep.duplicates) == (4, 1, 0)
    assert len(KnowledgeGraph.open(tmp_path / "b.sqlite").lookup("高血压")) == 3
    allow = write(tmp_path / "allow.txt", "别名\n")
    rep = build_kg([src], tmp_path / "c.sqlite", predicates=f"@{allow}")
    assert rep.kept == 1


def test_metadata_and_schema(tmp_path):
    src = write(tmp_path / "a.spo", SMALL)
    build_kg([src], tmp_path / "kg.sqlite", name="tiny", normalize="nfkc")
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert kg.name == "tiny" and kg.meta["format_version"] == 2
    assert kg.meta["counts"] == {"entities": 6, "relations": 2, "triples": 4, "read": 5,
                                 "duplicates": 1, "filtered": 0, "bad": 0}
    assert kg.meta["sources"][0]["path"] == str(src)
    assert kg.meta["options"]["dedup"] is True and len(kg.build_id) == 32
    plan = " ".join(str(r) for r in kg.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM triples WHERE s=1 ORDER BY id"))
    assert "SEARCH triples USING PRIMARY KEY (s=?)" in plan  # a range, sorted by id in memory
    with pytest.raises(sqlite3.OperationalError):
        kg.conn.execute("DELETE FROM triples")


def test_unknown_extension_and_missing_input(tmp_path):
    with pytest.raises(ValueError, match="--format"):
        build_kg([write(tmp_path / "a.dat", SMALL)], tmp_path / "kg.sqlite")
    rep = build_kg([tmp_path / "a.dat"], tmp_path / "kg.sqlite", fmt="spo")
    assert rep.kept == 4
    with pytest.raises(FileNotFoundError):
        build_kg([tmp_path / "nope.spo"], tmp_path / "kg2.sqlite")
