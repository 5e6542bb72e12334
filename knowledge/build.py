"""Building a store: stream triple files into SQLite, then index in SQL.

``.spo`` inputs take a fast path (when no normalisation or filter is asked for): the reader
hands over whole 1 MiB chunks as column lists (:class:`knowledge.readers.SpoReader`), entity and
relation ids come from a name -> id dict through C-level ``dict.setdefault`` calls (numpy
renumbers the new names), and each chunk goes to SQLite as one JSON array (``json_each``) of
packed ids instead of one bound row per triple. Repeats inside a chunk are dropped before the
insert, so the per-predicate counts of the report come free; the primary key of ``triples``
drops the rest. Other formats, the filters and ``low_memory`` go row by row.

With ``low_memory`` the names are staged in a temporary SQLite file and entity ids,
de-duplication and indexes are computed by SQLite (external sorts spill to disk), so peak RSS is
bounded by the SQLite page cache (``cache_mb``), not by the KG size. The store is written to a
temporary file in the target directory and renamed over ``out`` only when complete: an
interrupted or failed build leaves neither a half-written store nor a temporary file.
"""
from __future__ import annotations

import glob
import gzip
import json
import logging
import os
import sqlite3
import sys
import time
import uuid
import zlib
from itertools import count
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from .tempfiles import remove_stale_temporaries
from .readers import FORMATS, Columns, SpoReader, detect_format, open_binary, read_triples
from .store import (FORMAT_VERSION, NAME_INDEXES, OBJECT_INDEX, SCHEMA, PathLike, normalize_mode, normalizer,
                    triples_ddl)

if TYPE_CHECKING:  # numpy is imported when a fast-path build starts, not with the package
    import numpy as np

logger = logging.getLogger("knowledge.build")


@dataclass(frozen=True)
class BadLine:
    """A malformed input line: where it is and why it was rejected."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


class BuildError(ValueError):
    """A build that cannot go on, as ``file: reason`` (an unreadable or corrupt input, an output
    that cannot be written, an output that names an input). Nothing is left half-written."""


class BadInputError(ValueError):
    """Raised in strict mode on the first malformed line."""

    def __init__(self, bad: BadLine) -> None:
        super().__init__(str(bad))
        self.bad = bad


@dataclass
class BuildReport:
    """What a build did. ``read`` counts well-formed triples read; ``kept`` the triples stored."""

    out: str
    name: str
    sources: list[dict] = field(default_factory=list)
    read: int = 0
    filtered: int = 0
    duplicates: int = 0
    bad: int = 0
    kept: int = 0
    entities: int = 0
    relations: int = 0
    top_predicates: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0
    store_bytes: int = 0
    bad_examples: list[BadLine] = field(default_factory=list)
    #: things a user should know although the build succeeded (an empty input, a skipped file)
    warnings: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Input triples (well-formed + bad) processed per second, end to end."""
        return (self.read + self.bad) / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bad_examples"] = [str(b) for b in self.bad_examples]
        d["throughput"] = self.throughput
        return d

    def summary(self) -> str:
        """A human-readable summary table (Markdown)."""
        rows = [("store", self.out), ("name", self.name),
                ("inputs", ", ".join(s["path"] for s in self.sources)),
                ("triples read", f"{self.read:,}"), ("kept", f"{self.kept:,}"),
                ("duplicates", f"{self.duplicates:,}"), ("filtered", f"{self.filtered:,}"),
                ("bad lines", f"{self.bad:,}"), ("entities", f"{self.entities:,}"),
                ("relations", f"{self.relations:,}"),
                ("top predicates", ", ".join(f"{p} ({c:,})" for p, c in self.top_predicates[:5])),
                ("time", f"{self.seconds:.2f} s"),
                ("throughput", f"{self.throughput:,.0f} triples/s"),
                ("store size", _human(self.store_bytes))]
        rows += [("warning", w) for w in self.warnings]
        width = max(len(k) for k, _ in rows)
        lines = [f"| {'build':{width}} | result |", f"|{'-' * (width + 2)}|---|"]
        lines += [f"| {k:{width}} | {v} |" for k, v in rows]
        return "\n".join(lines)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _parse_list(values: Sequence[str] | str | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out: set[str] = set()
    for v in values:
        if v.startswith("@"):
            out.update(x.strip() for x in Path(v[1:]).read_text(encoding="utf-8").splitlines())
        else:
            out.update(x.strip() for x in v.split(","))
    return frozenset(x for x in out if x)


def build_kg(inputs: Iterable[PathLike] | PathLike, out: PathLike, *, name: str | None = None,
             fmt: str | None = None, normalize: bool | str = False, dedup: bool = True,
             min_entity_len: int = 1, predicates: Sequence[str] | str | None = None,
             skip_predicates: Sequence[str] | str | None = None, strict: bool = False,
             force: bool = False, max_errors_shown: int = 20, progress: bool = False,
             rdf_names: str = "auto", columns: tuple[str, str, str] | None = None,
             low_memory: bool = False, index_objects: bool = False,
             cache_mb: int = 64, batch_size: int = 20_000,
             on_bad: Callable[[BadLine], None] | None = None) -> BuildReport:
    """Build a SQLite store at ``out`` from triple files (mixed formats allowed, gzip read directly).

    Args:
        inputs: triple files: ``.spo`` (K-BERT), ``.nt``, ``.ttl``, ``.csv``/``.tsv`` with a header,
            optionally ``.gz``. Order matters: it defines ids and the lookup order.
        out: the store path; an existing store is only replaced with ``force=True``.
        fmt: force one format for all inputs (default: by extension).
        normalize: ``False``/"none", ``True``/"nfkc" (NFKC + strip) or "t2s" (also traditional ->
            simplified). Lookups on the store normalise their query the same way.
        dedup: keep only the first occurrence of a repeated (s, p, o).
        min_entity_len: drop triples whose subject has fewer characters (counted as filtered).
        predicates / skip_predicates: allow / deny lists (names, comma-separated, or ``@file``).
        strict: raise :class:`BadInputError` on the first malformed line.
        max_errors_shown: how many bad lines are kept in the report and passed to ``on_bad``
            (all are counted).
        rdf_names: "auto" or "local" (see :func:`knowledge.readers.iri_to_name`).
        columns: CSV/TSV header names of the subject, predicate, object columns.
        low_memory: assign entity ids in SQLite instead of a Python dict: peak memory is bounded
            by SQLite's caches (a few times ``cache_mb``) whatever the KG size, at some cost in
            speed (the default dict costs about 200 bytes per distinct entity name).
        index_objects: also index triples by object (reverse lookups, ``direction="both"``).
        cache_mb: SQLite page cache per database during the build (bounds SQLite's memory).
    """
    t0 = time.perf_counter()
    paths = [Path(inputs)] if isinstance(inputs, (str, os.PathLike)) else [Path(p) for p in inputs]
    if not paths:
        raise ValueError("no input files given")
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"input not found: {p}")
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    fmts = [fmt or detect_format(p) for p in paths]
    out = Path(out)
    if out.is_dir():
        raise BuildError(f"{out}: is a directory; the output must name a store file")
    for p in paths:
        if out.exists() and os.path.samefile(p, out):
            raise BuildError(f"{out}: is also an input; refusing to overwrite an input with the store")
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass force=True (--force) to overwrite it")
    mode = normalize_mode(normalize)
    options = {"normalize": mode, "dedup": bool(dedup), "min_entity_len": int(min_entity_len),
               "predicates": sorted(_parse_list(predicates) or []) or None,
               "skip_predicates": sorted(_parse_list(skip_predicates) or []) or None,
               "rdf_names": rdf_names, "format": fmt, "low_memory": bool(low_memory),
               "index_objects": bool(index_objects)}
    report = BuildReport(out=str(out), name=name or out.stem.split(".")[0])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise BuildError(f"{out}: the output folder {out.parent} is not writable")
    remove_stale_temporaries(out.parent, f".{out.name}.")
    token = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp = out.parent / f".{out.name}.{token}.tmp"
    stage = out.parent / f".{out.name}.{token}.stage.tmp"
    try:
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            conn.execute("PRAGMA user_version")  # fails here, not later, when tmp cannot be created
        except sqlite3.Error as exc:
            raise BuildError(f"{out}: cannot write the store ({exc})") from None
        try:
            _pragmas(conn, "main", cache_mb)
            conn.executescript(SCHEMA)
            conn.execute(triples_ddl(bool(dedup)))
            if low_memory:  # names are staged in a second temporary database
                conn.execute("ATTACH DATABASE ? AS st", (str(stage),))
                _pragmas(conn, "st", cache_mb)
                conn.execute("CREATE TABLE st.raw(s TEXT NOT NULL, p INTEGER NOT NULL, o TEXT NOT NULL)")
            staged, tally = _stage(conn, paths, fmts, report, options, strict=strict,
                            max_errors_shown=max_errors_shown, progress=progress, columns=columns,
                            batch_size=batch_size, low_memory=low_memory, on_bad=on_bad)
            _finish(conn, report, staged, tally, low_memory=low_memory,
                    index_objects=index_objects, progress=progress)
            meta = _metadata(report, options, time.perf_counter() - t0)
            conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                             [(k, json.dumps(v, ensure_ascii=False)) for k, v in meta.items()])
            if low_memory:
                conn.execute("DETACH DATABASE st")
        finally:
            conn.close()
        _unlink(stage)
        os.chmod(tmp, 0o666 & ~_umask())  # the user's umask, like any file they create
        os.replace(tmp, out)
    except sqlite3.OperationalError as exc:
        _unlink(tmp)
        _unlink(stage)
        raise BuildError(f"{out}: cannot write the store ({exc})") from None
    except BaseException:
        _unlink(tmp)
        _unlink(stage)
        raise
    for stale in out.parent.glob(f"{glob.escape(out.name)}*.matcher"):  # automata of the old store
        stale.unlink(missing_ok=True)
    report.seconds = time.perf_counter() - t0
    report.store_bytes = out.stat().st_size
    return report


def _gzip_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated gzip file (it ends before the end of its compressed stream)"
    if isinstance(exc, gzip.BadGzipFile):
        return f"not a gzip file, although its name ends in .gz ({exc})"
    return f"corrupt gzip data ({exc})"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _unlink(path: Path) -> None:
    for p in (path, Path(str(path) + "-journal"), Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _pragmas(conn: sqlite3.Connection, schema: str, cache_mb: int) -> None:
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "locking_mode=EXCLUSIVE",
                   f"cache_size=-{int(cache_mb) * 1024}", "page_size=8192"):
        conn.execute(f"PRAGMA {schema}.{pragma}")


def _stage(conn: sqlite3.Connection, paths: list[Path], fmts: list[str], report: BuildReport,
           options: dict, *, strict: bool, max_errors_shown: int, progress: bool,
           columns: tuple[str, str, str] | None, batch_size: int, low_memory: bool,
           on_bad: Callable[[BadLine], None] | None) -> tuple[int, _Tally]:
    """Parse every input and store the kept triples, in input order; (triples staged, tally).

    Relation ids are assigned here (a small dict). Entity ids too (a dict name -> id), and the
    triples go straight into ``triples`` (``INSERT OR IGNORE``: the primary key de-duplicates),
    unless ``low_memory``: then the names go to the staging table ``st.raw`` and
    :func:`_finish` assigns the ids in SQL.
    """
    from tqdm import tqdm

    norm = normalizer(options["normalize"])
    allow = frozenset(options["predicates"]) if options["predicates"] else None
    deny = frozenset(options["skip_predicates"]) if options["skip_predicates"] else None
    min_len = options["min_entity_len"]
    if low_memory:
        insert = "INSERT INTO st.raw(s, p, o) VALUES (?, ?, ?)"
    else:
        insert = "INSERT OR IGNORE INTO triples(s, p, o, id) VALUES (?, ?, ?, ?)"
    position = 0
    insert_ents = "INSERT INTO entities(id, name) VALUES (?, ?)"
    ents: dict[str, int] = {}
    tally = _Tally()
    rels: dict[str, int] = {}
    total = sum(p.stat().st_size for p in paths)
    bar = tqdm(total=total, unit="B", unit_scale=True, desc="reading", disable=not progress,
               file=sys.stderr, mininterval=0.5)
    done_bytes = 0
    conn.execute("BEGIN")
    for path, fmt in zip(paths, fmts):
        src = {"path": str(path), "format": fmt, "bytes": path.stat().st_size, "read": 0, "bad": 0}
        report.sources.append(src)

        def bad(n: int, reason: str, _src: dict = src, _path: Path = path) -> None:
            item = BadLine(str(_path), n, reason)
            if strict:
                raise BadInputError(item)
            report.bad += 1
            _src["bad"] += 1
            if len(report.bad_examples) < max_errors_shown:
                report.bad_examples.append(item)
                logger.info("%s", item)
                if on_bad is not None:
                    on_bad(item)

        try:
            stream, raw = open_binary(path)
        except OSError as exc:
            raise BuildError(f"{path}: cannot read ({exc.strerror or exc})") from None
        try:
            batch: list[tuple] = []
            new_ents: list[tuple[int, str]] = []
            append, append_ent = batch.append, new_ents.append
            ents_get, rels_get = ents.get, rels.get
            counter = [0]  # triples filtered out in this file
            first = position
            flush_at = position + batch_size
            last_s, last_si = None, -1
            triples = read_triples(stream, fmt, bad, rdf_names=options["rdf_names"], columns=columns)
            if (isinstance(triples, SpoReader) and norm is None and allow is None
                    and deny is None and min_len <= 1):
                for cols in triples.chunks():
                    if low_memory:
                        position = _stage_columns(conn, cols, rels, position)
                    else:
                        position = _insert_columns(conn, cols, ents, rels, position, tally,
                                                  dedup=options["dedup"])
                    bar.update(done_bytes + raw.tell() - bar.n)
                triples = ()
            if norm is not None or allow is not None or deny is not None or min_len > 1:
                triples = _filter(triples, counter, norm, allow, deny, min_len)
            for s, p, o in triples:
                pi = rels_get(p)
                if pi is None:
                    pi = rels[p] = len(rels)
                position += 1
                if low_memory:
                    append((s, pi, o))
                else:
                    if s != last_s:  # subjects come in runs: skip most of their dict lookups
                        last_si = ents_get(s)
                        if last_si is None:
                            last_si = ents[s] = len(ents)
                            append_ent((last_si, s))
                        last_s = s
                    oi = ents_get(o)
                    if oi is None:
                        oi = ents[o] = len(ents)
                        append_ent((oi, o))
                    append((last_si, pi, oi, position))
                if position >= flush_at:
                    flush_at = position + batch_size
                    conn.executemany(insert, batch)
                    batch.clear()
                    if new_ents:
                        conn.executemany(insert_ents, new_ents)
                        new_ents.clear()
                    bar.update(done_bytes + raw.tell() - bar.n)
            if batch:
                conn.executemany(insert, batch)
            if new_ents:
                conn.executemany(insert_ents, new_ents)
            filtered = counter[0]
            n_read = position - first + filtered
            if position > tally.position:  # triples went in row by row: no per-predicate tally
                tally.exact = False
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise BuildError(f"{path}: {_gzip_reason(exc)}") from None
        except UnicodeDecodeError:
            raise
        except OSError as exc:
            raise BuildError(f"{path}: read error ({exc.strerror or exc})") from None
        finally:
            stream.close()
            raw.close()
        src["read"] = n_read
        if n_read == 0:
            report.warnings.append(
                f"{path}: every line was bad ({src['bad']}); nothing was read from it" if src["bad"]
                else f"{path}: no triples (empty input)")
            logger.info("%s", report.warnings[-1])
        report.read += n_read
        report.filtered += filtered
        done_bytes += src["bytes"]
        bar.update(done_bytes - bar.n)
    conn.executemany("INSERT INTO relations(id, name) VALUES (?, ?)",
                     [(i, name) for name, i in rels.items()])
    conn.execute("COMMIT")
    bar.close()
    return position, tally


#: a triple's ids are packed into one JSON integer when they fit in this many bits (else: row by row)
_PACK_BITS = 63
_INSERT_RAW = "INSERT INTO st.raw(s, p, o) VALUES (?, ?, ?)"
_INSERT_ENTITIES_JSON = "INSERT INTO entities(id, name) SELECT key + ?, value FROM json_each(?)"
_INSERT_TRIPLES_PACKED = ("INSERT OR IGNORE INTO triples(s, p, o, id) "
                          "SELECT value >> ?, (value >> ?) & ?, value & ?, key + ? "
                          "FROM json_each(?) WHERE value >= 0")


class _Tally:
    """Kept triples per predicate id, counted by the fast path while it inserts.

    ``exact`` turns False when triples went in another way (row by row), and ``position`` is the
    number of staged triples the fast path has seen; :func:`_finish` falls back to counting in
    SQL when the tally does not cover every kept triple.
    """

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.exact = True
        self.position = 0

    def add(self, pids: np.ndarray, n_staged: int) -> None:
        import numpy as np

        c = np.bincount(pids).tolist()
        self.counts += [0] * (len(c) - len(self.counts))
        self.counts[:len(c)] = map(sum, zip(self.counts, c))
        self.position += n_staged

    def total(self) -> int:
        return sum(self.counts)


def _assign_ids(table: dict[str, int], names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Ids of ``names`` in ``table``; unseen names get the next ids in order of first appearance.

    Returns ``(ids, new names in id order)``. One C-level ``dict.setdefault`` per name: an unseen
    name is first stored with a provisional value (``len(table)`` + its index in ``names``, larger
    than any real id), then renumbered densely; no Python loop per name.
    """
    import numpy as np

    base, n = len(table), len(names)
    vals = np.fromiter(map(table.setdefault, names, count(base)), dtype=np.int64, count=n)  # (n,)
    local = vals - base  # (n,) index of the first occurrence in ``names`` for unseen names, else < 0
    first = np.flatnonzero(local == np.arange(n))  # (k,) where each unseen name first appears
    if first.size == 0:
        return vals, []
    new = list(map(names.__getitem__, first.tolist()))
    table.update(zip(new, range(base, base + len(new))))
    unseen = local >= 0
    vals[unseen] = base + np.searchsorted(first, local[unseen])
    return vals, new


def _insert_columns(conn: sqlite3.Connection, cols: Columns, ents: dict[str, int],
                    rels: dict[str, int], position: int, tally: _Tally, *,
                    dedup: bool = True) -> int:
    """Assign ids to one chunk of triples and insert them; returns the new ``position``.

    The ids go to SQLite as one JSON array per chunk (``json_each``), each triple packed into one
    integer when the ids fit in 63 bits, which costs far less than binding rows one by one.
    Repeats inside the chunk are dropped here (the first occurrence is kept), so ``tally`` counts
    the kept triples per predicate; a repeat of an earlier chunk's triple is left to the primary
    key (``INSERT OR IGNORE``) and makes the tally inexact.
    """
    import numpy as np

    subjects, predicates, objects = cols
    n = len(subjects)
    if n == 0:
        return position
    names: list = [None] * (2 * n)
    names[0::2] = subjects  # a triple's subject gets its id before its object
    names[1::2] = objects
    eids, new = _assign_ids(ents, names)
    pids, _ = _assign_ids(rels, predicates)
    if new:
        payload = json.dumps(new, ensure_ascii=False)
        if "\\u0000" in payload:  # SQLite text functions stop at NUL: bind those names as is
            conn.executemany("INSERT INTO entities(id, name) VALUES (?, ?)",
                             zip(range(len(ents) - len(new), len(ents)), new))
        else:
            conn.execute(_INSERT_ENTITIES_JSON, (len(ents) - len(new), payload))
    sids, oids = eids[0::2], eids[1::2]  # (n,) each
    bits_o = max(len(ents) - 1, 1).bit_length()
    bits_p = max(len(rels) - 1, 1).bit_length()
    before = conn.total_changes
    if 2 * bits_o + bits_p <= _PACK_BITS:
        packed = (sids << (bits_o + bits_p)) | (pids << bits_o) | oids  # (n,) int64
        repeat = _repeats(packed) if dedup else None
        if repeat is not None:
            packed[repeat] = -1  # skipped by the WHERE clause; json_each keys stay positions
        conn.execute(_INSERT_TRIPLES_PACKED, (bits_o + bits_p, bits_o, (1 << bits_p) - 1,
                                              (1 << bits_o) - 1, position + 1,
                                              "[" + ",".join(map(str, packed.tolist())) + "]"))
    else:
        keys = np.stack([sids, pids, oids], axis=1)  # (n, 3)
        repeat = _repeats(keys) if dedup else None
        ids = np.arange(position + 1, position + n + 1)  # (n,)
        keep = slice(None) if repeat is None else np.ones(n, dtype=bool)
        if repeat is not None:
            keep[repeat] = False
        conn.executemany("INSERT OR IGNORE INTO triples(s, p, o, id) VALUES (?, ?, ?, ?)",
                         zip(sids[keep].tolist(), pids[keep].tolist(), oids[keep].tolist(),
                             ids[keep].tolist()))
    kept_pids = pids if repeat is None else np.delete(pids, repeat)
    if conn.total_changes - before == len(kept_pids):
        tally.add(kept_pids, n)
    else:  # a triple repeated one of an earlier chunk
        tally.exact = False
        tally.position += n
    return position + n


def _stage_columns(conn: sqlite3.Connection, cols: Columns, rels: dict[str, int],
                   position: int) -> int:
    """Low-memory mode: append one chunk to ``st.raw`` (names as text, predicate ids).

    Entity ids are assigned later, in SQL (:func:`_finish`); no name -> id dict is kept.
    """
    subjects, predicates, objects = cols
    if not subjects:
        return position
    new = [p for p in dict.fromkeys(predicates) if p not in rels]  # few: no numpy needed
    rels.update(zip(new, count(len(rels))))
    conn.executemany(_INSERT_RAW, zip(subjects, map(rels.__getitem__, predicates), objects))
    return position + len(subjects)


def _repeats(keys: np.ndarray) -> np.ndarray | None:
    """Indices of the rows of ``keys`` ((n,) or (n, k)) that repeat an earlier row, or None."""
    import numpy as np

    _, first = np.unique(keys, axis=0 if keys.ndim > 1 else None, return_index=True)
    if len(first) == len(keys):
        return None
    mask = np.ones(len(keys), dtype=bool)  # (n,) True = a repeat
    mask[first] = False
    return np.flatnonzero(mask)


def _filter(triples: Iterable[tuple[str, str, str]], counter: list[int], norm, allow, deny,
            min_len: int) -> Iterable[tuple[str, str, str]]:
    """Normalise and filter triples, counting the dropped ones in ``counter[0]``."""
    for s, p, o in triples:
        if norm is not None:
            s, p, o = norm(s), norm(p), norm(o)
            if not (s and p and o):
                counter[0] += 1
                continue
        if (allow is not None and p not in allow) or (deny is not None and p in deny) \
                or len(s) < min_len:
            counter[0] += 1
            continue
        yield s, p, o


def _finish(conn: sqlite3.Connection, report: BuildReport, staged: int, tally: _Tally, *,
            low_memory: bool,
            index_objects: bool, progress: bool) -> None:
    """Index names; in low-memory mode assign entity ids and fill ``triples`` in SQL; count."""
    from tqdm import tqdm

    steps: list[str] = []
    if low_memory:
        steps += [
            # every subject and object; id = rank of first appearance (subject before object)
            "CREATE TABLE st.ent AS SELECT name, min(k) AS k FROM ("
            " SELECT s AS name, rowid * 2 AS k FROM st.raw"
            " UNION ALL SELECT o, rowid * 2 + 1 FROM st.raw) GROUP BY name",
            "INSERT INTO entities(id, name) SELECT row_number() OVER (ORDER BY k) - 1, name FROM st.ent",
            "DROP TABLE st.ent",
        ]
    steps += list(NAME_INDEXES)
    if low_memory:
        steps.append("INSERT OR IGNORE INTO triples(s, p, o, id) SELECT es.id, raw.p, eo.id, raw.rowid "
                     "FROM st.raw raw JOIN entities es ON es.name = raw.s "
                     "JOIN entities eo ON eo.name = raw.o ORDER BY raw.rowid")
    if index_objects:
        steps.append(OBJECT_INDEX)
    conn.execute("BEGIN")
    for sql in tqdm(steps, desc="indexing", disable=not progress, file=sys.stderr):
        conn.execute(sql)
    conn.execute("COMMIT")
    report.kept = conn.execute("SELECT count(*) FROM triples").fetchone()[0]
    report.duplicates = staged - report.kept
    report.entities = conn.execute("SELECT count(*) FROM entities").fetchone()[0]
    report.relations = conn.execute("SELECT count(*) FROM relations").fetchone()[0]
    if tally.exact and tally.position == staged and tally.total() == report.kept:
        counts = tally.counts + [0] * (report.relations - len(tally.counts))
    else:  # some triples were inserted row by row, or duplicates spanned chunks: count in SQL
        counts = [0] * report.relations
        for p, c in conn.execute("SELECT p, count(*) FROM triples GROUP BY p"):
            counts[p] = c
    top = sorted(range(len(counts)), key=lambda i: (-counts[i], i))[:10]
    names = dict(conn.execute(f"SELECT id, name FROM relations WHERE id IN ({','.join('?' * len(top))})", top))
    report.top_predicates = [(names[i], counts[i]) for i in top]


def _metadata(report: BuildReport, options: dict, seconds: float) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "name": report.name,
        "build_id": uuid.uuid4().hex,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sources": report.sources,
        "counts": {"entities": report.entities, "relations": report.relations,
                   "triples": report.kept, "read": report.read, "duplicates": report.duplicates,
                   "filtered": report.filtered, "bad": report.bad},
        "top_predicates": report.top_predicates,
        "options": options,
        "build_seconds": round(seconds, 3),
    }
