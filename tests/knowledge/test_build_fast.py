"""The chunked ``.spo`` fast path: same store as the row-by-row path, exact bad-line numbers."""
from __future__ import annotations

import io
import random
import sqlite3

import pytest

import knowledge.build as build_mod
import knowledge.readers as readers_mod
from knowledge import KnowledgeGraph, build_kg
from knowledge.readers import SpoReader
from tests.knowledge.helpers import leftovers, read_spo, storage_order, write


def _random_spo(n: int, seed: int = 0) -> str:
    """``n`` lines over a small vocabulary: runs of subjects, repeats near and far."""
    rng = random.Random(seed)
    names = [f"实体{i}" for i in range(60)]
    lines: list[str] = []
    for _ in range(n):
        if lines and rng.random() < 0.1:
            lines.append(rng.choice(lines))  # a repeat, often in another chunk
            continue
        s = lines[-1].split("\t")[0] if lines and rng.random() < 0.6 else rng.choice(names)
        lines.append(f"{s}\t属性{rng.randrange(7)}\t{rng.choice(names + ['12', '3年'])}")
    return "\n".join(lines) + "\n"


def _dump(path) -> tuple[list, list, list]:
    con = sqlite3.connect(path)
    try:
        return tuple(con.execute(q).fetchall() for q in (  # type: ignore[return-value]
            "SELECT id, name FROM entities ORDER BY id", "SELECT id, name FROM relations ORDER BY id",
            "SELECT s, p, o, id FROM triples ORDER BY s, p, o, id"))
    finally:
        con.close()


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
@pytest.mark.parametrize("dedup", [True, False])
def test_fast_path_matches_row_by_row_path(tmp_path, monkeypatch, chunk, dedup):
    src = write(tmp_path / "a.spo", _random_spo(400))
    monkeypatch.setattr(readers_mod, "SPO_CHUNK_BYTES", chunk)
    fast = build_kg([src], tmp_path / "fast.sqlite", dedup=dedup)
    slow = build_kg([src], tmp_path / "slow.sqlite", dedup=dedup, low_memory=True)
    assert _dump(tmp_path / "fast.sqlite") == _dump(tmp_path / "slow.sqlite")
    assert (fast.read, fast.kept, fast.duplicates, fast.entities, fast.relations) == \
        (slow.read, slow.kept, slow.duplicates, slow.entities, slow.relations)
    assert fast.top_predicates == slow.top_predicates
    if dedup:
        expected = read_spo(src)
        assert fast.kept == len(expected) and fast.duplicates > 0
        kg = KnowledgeGraph.open(tmp_path / "fast.sqlite")
        assert [tuple(t) for t in kg.iter_triples()] == storage_order(expected)


def test_tally_counts_kept_triples_per_predicate(tmp_path, monkeypatch):
    # line 4 repeats line 1 in a later chunk: the per-chunk tally cannot see it, SQL counts it
    text = "a\tp\tb\na\tp\tb\na\tq\tc\n" + "x\tq\ty\n" * 2 + "a\tp\tb\n"
    src = write(tmp_path / "a.spo", text)
    monkeypatch.setattr(readers_mod, "SPO_CHUNK_BYTES", 12)
    rep = build_kg([src], tmp_path / "kg.sqlite")
    assert (rep.read, rep.kept, rep.duplicates) == (6, 3, 3)
    assert rep.top_predicates == [("q", 2), ("p", 1)]


def test_unpacked_ids_path(tmp_path, monkeypatch):
    src = write(tmp_path / "a.spo", _random_spo(300, seed=1))
    monkeypatch.setattr(build_mod, "_PACK_BITS", 3)  # too few bits: rows are bound one by one
    build_kg([src], tmp_path / "rows.sqlite")
    monkeypatch.undo()
    build_kg([src], tmp_path / "packed.sqlite")
    assert _dump(tmp_path / "rows.sqlite") == _dump(tmp_path / "packed.sqlite")


def test_odd_names_survive_json_insert(tmp_path):
    names = ['引号"', "反斜杠\\", "控制\x01字符", "空\x00字节", "表情😀", "行\u2028分隔", "\\u0041"]
    text = "".join(f"{n}\t关系\t{n}尾\n" for n in names)
    src = write(tmp_path / "a.spo", text)
    build_kg([src], tmp_path / "kg.sqlite")
    kg = KnowledgeGraph.open(tmp_path / "kg.sqlite")
    assert kg.entity_names()[::2] == names
    for n in names:
        assert kg.lookup(n) == [(n, "关系", n + "尾")]


def test_chunked_reader_line_numbers_across_chunks():
    lines = []
    expected, bad_expected = [], []
    for i in range(1, 200):
        if i % 17 == 0:
            lines.append(b"only\ttwo")
            bad_expected.append((i, "expected 3 tab-separated fields, found 2"))
        elif i % 23 == 0:
            lines.append(b"bad\xff\tp\to")
            bad_expected.append((i, "invalid UTF-8 at byte 3"))
        elif i % 29 == 0:
            lines.append(b"   ")
        elif i % 31 == 0:
            lines.append(b"s\t \to")
            bad_expected.append((i, "empty predicate"))
        else:
            lines.append(f" s{i}\tp\to{i}\r".encode())
            expected.append((f"s{i}", "p", f"o{i}"))
    data = b"\xef\xbb\xbf" + b"\n".join(lines)  # BOM, no final newline
    for chunk in (1, 5, 13, 64, 1 << 20):
        bad: list = []
        got = list(SpoReader(io.BytesIO(data), lambda n, r: bad.append((n, r)), chunk_size=chunk))
        assert got == expected, chunk
        assert bad == bad_expected, chunk
        cols = list(SpoReader(io.BytesIO(data), lambda n, r: None, chunk_size=chunk).chunks())
        assert [t for c in cols for t in zip(*c)] == expected


def test_fast_path_interrupted_leaves_nothing(tmp_path, monkeypatch):
    src = write(tmp_path / "a.spo", _random_spo(300))
    build_kg([src], tmp_path / "kg.sqlite")
    before = (tmp_path / "kg.sqlite").read_bytes()
    calls = []
    real = build_mod._insert_columns

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(readers_mod, "SPO_CHUNK_BYTES", 64)
    monkeypatch.setattr(build_mod, "_insert_columns", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_kg([src], tmp_path / "kg.sqlite", force=True)
    assert (tmp_path / "kg.sqlite").read_bytes() == before
    assert leftovers(tmp_path) == []
