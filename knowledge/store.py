"""The knowledge-graph store: one read-only SQLite file with integer ids.

Layout (``FORMAT_VERSION`` 2)::

    entities(id INTEGER PRIMARY KEY, name TEXT)   -- ids 0..N-1, first-appearance order
    relations(id INTEGER PRIMARY KEY, name TEXT)  -- ids 0..R-1, first-appearance order
    triples(s INT, p INT, o INT, id INT) WITHOUT ROWID, clustered on PRIMARY KEY (s, p, o)
                     (de-duplicated stores) or (s, id) (``dedup=False``)
                                                  -- id = position of the triple's first
                                                  --      appearance in the (kept) input stream
    meta(key TEXT PRIMARY KEY, value TEXT)        -- JSON values: sources, counts, options
    indexes: entities(name) UNIQUE, relations(name) UNIQUE, optionally triples(o)

``triples`` is clustered on the subject: "all triples of this subject" is one contiguous B-tree
range (a point lookup), sorted by ``id`` in a tiny in-memory sort; no separate index is built or
stored, and in de-duplicated stores the primary key itself does the de-duplication.
Entity ids count subjects and objects in the order they first appear (a triple's subject
before its object).

**Lookup order** (documented and deterministic): the triples of a subject come back in the order
in which each triple first appeared in the build inputs (inputs in the order given, lines in file
order). It does not depend on ``PYTHONHASHSEED``, the process or the run.
"""
from __future__ import annotations

import json
import os
import sqlite3
import unicodedata
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple, Sequence, Union

FORMAT_VERSION = 2
#: store versions this code reads (1 differs only in how ``triples`` is keyed; the queries work on both)
READABLE_VERSIONS = (1, 2)
PathLike = Union[str, "os.PathLike[str]"]


class StoreChangedError(RuntimeError):
    """The store file was replaced since this :class:`KnowledgeGraph` read it (another build id):
    open it again, and rebuild what was derived from it (e.g. an entity matcher)."""


REQUIRED_TABLES = ("entities", "relations", "triples", "meta")


class Triple(NamedTuple):
    """One (subject, predicate, object) fact, all as strings."""

    subject: str
    predicate: str
    object: str


SCHEMA = """
CREATE TABLE entities(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE relations(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

NAME_INDEXES = ("CREATE UNIQUE INDEX entities_name ON entities(name)",
                "CREATE UNIQUE INDEX relations_name ON relations(name)")
OBJECT_INDEX = "CREATE INDEX triples_o ON triples(o)"


def triples_ddl(dedup: bool) -> str:
    """The ``triples`` table: the primary key de-duplicates (s, p, o) unless ``dedup`` is off."""
    key = "s, p, o" if dedup else "s, id"
    return ("CREATE TABLE triples(s INTEGER NOT NULL, p INTEGER NOT NULL, o INTEGER NOT NULL, "
            f"id INTEGER NOT NULL, PRIMARY KEY ({key})) WITHOUT ROWID")


NORMALIZE_MODES = ("none", "nfkc", "t2s")


def normalize_mode(mode: str | bool | None) -> str:
    """The canonical name of a normalisation mode: None/False/"none"/"" -> "none",
    True/"nfkc" -> "nfkc", "t2s"; anything else is a ValueError (the one home of the modes)."""
    if mode in (None, False, "none", ""):
        return "none"
    if mode in (True, "nfkc"):
        return "nfkc"
    if mode == "t2s":
        return "t2s"
    raise ValueError(f"unknown normalisation {mode!r} (expected none, nfkc or t2s)")


def normalizer(mode: str | bool | None):
    """Return the text normaliser for ``mode`` (see :func:`normalize_mode`; None for "none").

    ``nfkc``: Unicode NFKC, then strip surrounding whitespace. ``t2s``: ``nfkc`` plus
    traditional -> simplified Chinese (OpenCC ``t2s`` via opencc-python-reimplemented).
    """
    mode = normalize_mode(mode)
    if mode == "none":
        return None
    if mode == "nfkc":
        return _nfkc
    if mode == "t2s":
        from opencc import OpenCC

        cc = OpenCC("t2s")

        def _t2s(text: str) -> str:
            return cc.convert(_nfkc(text))

        return _t2s
    raise AssertionError(mode)  # unreachable: normalize_mode checked it


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _last(row: tuple) -> Any:
    return row[-1]


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class KnowledgeGraph:
    """Read-only view of a store built by :func:`knowledge.build_kg`.

    Safe to share with DataLoader workers: the SQLite connection is opened lazily per process
    (reopened when ``os.getpid()`` changes, dropped when pickled), so forking or pickling the
    object is cheap. Lookups are cached per process (LRU of ``cache_size`` subjects).

    **A replaced store is never read with stale state.** Every (re)connection (after ``close()``,
    in a forked or unpickled copy) checks the file's ``build_id`` against the one this object
    read at open, and every call checks the file's identity (device, inode, size, mtime): a file
    that changed is reconnected, and a different build raises :class:`StoreChangedError` (its
    names, relations and ids belong to another store) instead of mixing the two. Replace a store
    only with ``build_kg`` (or ``mv``: a new file, renamed into place): overwriting it *in place*
    (``cp new.sqlite kg.sqlite``) while a process reads it can kill that process with SIGBUS (the
    file is memory-mapped) before the change can be noticed.
    """

    def __init__(self, path: PathLike, *, cache_size: int = 65536) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no knowledge-graph store at {self.path}")
        self.cache_size = cache_size
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._sig: tuple | None = None
        self._cache: OrderedDict[tuple, tuple[Triple, ...]] = OrderedDict()
        self._relations: list[str] | None = None
        self.meta: dict[str, Any] = {}
        self.meta = self._read_meta()
        self._normalize = normalizer(self.meta.get("options", {}).get("normalize"))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: PathLike, **kwargs: Any) -> "KnowledgeGraph":
        """Open a store read-only (the file is never modified)."""
        return cls(path, **kwargs)

    def _signature(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None  # gone: an open connection still reads the unlinked file
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    @property
    def conn(self) -> sqlite3.Connection:
        """The per-process read-only connection (reopened after fork; checked against the file,
        see the class doc)."""
        if self._conn is not None and self._pid == os.getpid():
            sig = self._signature()
            if sig is None or sig == self._sig:
                return self._conn
            self.close()  # the file changed: reconnect, and compare build ids
        return self._connect()

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise FileNotFoundError(f"no knowledge-graph store at {self.path} (it was removed)")
        sig = self._signature()
        uri = self.path.resolve().as_uri() + "?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only=1")
        # memory-mapped reads: no read() syscalls, and forked workers share the OS page cache
        conn.execute("PRAGMA mmap_size=2147418112")
        known = self.meta.get("build_id")
        if known is not None:  # a reconnection: it must still be the store this object read
            try:
                row = conn.execute("SELECT value FROM meta WHERE key='build_id'").fetchone()
                now = json.loads(row[0]) if row else None
            except (sqlite3.DatabaseError, ValueError):
                now = None
            if now != known:
                conn.close()
                raise StoreChangedError(
                    f"{self.path}: the store was replaced since it was opened (build {known} -> {now}); "
                    f"open it again with KnowledgeGraph.open and rebuild anything derived from it "
                    f"(entity matchers, featurisers)")
        self._conn, self._pid, self._sig = conn, os.getpid(), sig
        self._cache.clear()
        return conn

    def close(self) -> None:
        """Close this process's connection (it is reopened on the next use)."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_conn=None, _pid=-1, _sig=None, _cache=OrderedDict(), _normalize=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._normalize = normalizer(self.meta.get("options", {}).get("normalize"))

    def __enter__(self) -> "KnowledgeGraph":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"KnowledgeGraph({str(self.path)!r}, entities={self.num_entities}, "
                f"relations={self.num_relations}, triples={self.num_triples})")

    def _read_meta(self) -> dict[str, Any]:
        """The store's metadata, checked: anything else than a store this code reads is a
        ``ValueError`` saying "not a knowledge-graph store (why)"."""
        def bad(why: str) -> ValueError:
            self.close()
            return ValueError(f"{self.path} is not a knowledge-graph store ({why}); "
                              f"build one with python -m kgbert.build_kg")

        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            missing = [t for t in REQUIRED_TABLES if t not in tables]
            if missing:
                raise bad(f"no {', '.join(missing)} table")
            rows = self.conn.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError as exc:
            raise bad(str(exc)) from None
        meta: dict[str, Any] = {}
        for key, value in rows:
            try:
                meta[key] = json.loads(value)
            except (TypeError, ValueError):
                raise bad(f"meta value of {key!r} is not JSON: {str(value)[:40]!r}") from None
        version = meta.get("format_version")
        if type(version) is not int:
            raise bad(f"format version {version!r} is not an integer")
        if version not in READABLE_VERSIONS:
            self.close()
            raise ValueError(f"{self.path}: store format {version}, this code reads "
                             f"{', '.join(map(str, READABLE_VERSIONS))}; rebuild it with build_kg")
        counts = meta.get("counts")
        if not isinstance(meta.get("build_id"), str) or not isinstance(counts, dict) or not all(
                type(counts.get(k)) is int for k in ("entities", "relations", "triples")):
            raise bad("meta lacks build_id or entity/relation/triple counts")
        options = meta.get("options", {})
        if not isinstance(options, dict):
            raise bad("meta options is not an object")
        if options.get("normalize") not in (None, False, True, "", "none", "nfkc", "t2s"):
            raise bad(f"unknown normalisation {options.get('normalize')!r}")
        return meta

    # -- sizes and ids ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.path.stem))

    @property
    def build_id(self) -> str:
        """A random id written at build time (identifies this exact store, e.g. for caches)."""
        return str(self.meta["build_id"])

    @property
    def num_entities(self) -> int:
        return int(self.meta["counts"]["entities"])

    @property
    def num_relations(self) -> int:
        return int(self.meta["counts"]["relations"])

    @property
    def num_triples(self) -> int:
        return int(self.meta["counts"]["triples"])

    def __len__(self) -> int:
        return self.num_triples

    def _norm(self, name: str) -> str:
        return self._normalize(name) if self._normalize is not None else name

    def entity_id(self, name: str) -> int | None:
        """Id (0-based, contiguous) of an entity (subject or object), or None if absent."""
        row = self.conn.execute("SELECT id FROM entities WHERE name=?", (self._norm(name),)).fetchone()
        return None if row is None else int(row[0])

    def entity_name(self, entity_id: int) -> str:
        """Name of entity ``entity_id``; KeyError if out of range."""
        row = self.conn.execute("SELECT name FROM entities WHERE id=?", (int(entity_id),)).fetchone()
        if row is None:
            raise KeyError(f"no entity with id {entity_id} in {self.path}")
        return str(row[0])

    def relation_id(self, name: str) -> int | None:
        """Id (0-based, contiguous) of a relation (predicate), or None if absent."""
        row = self.conn.execute("SELECT id FROM relations WHERE name=?", (self._norm(name),)).fetchone()
        return None if row is None else int(row[0])

    def relation_name(self, relation_id: int) -> str:
        """Name of relation ``relation_id``; KeyError if out of range."""
        names = self.relation_names()
        if not 0 <= relation_id < len(names):
            raise KeyError(f"no relation with id {relation_id} in {self.path}")
        return names[relation_id]

    def relation_names(self) -> list[str]:
        """All relation names, indexed by relation id."""
        if self._relations is None:
            rows = self.conn.execute("SELECT name FROM relations ORDER BY id").fetchall()
            self._relations = [r[0] for r in rows]
        return self._relations

    def iter_entities(self, batch_size: int = 100_000) -> Iterator[tuple[int, str]]:
        """All (id, name) pairs in id order."""
        cur = self.conn.execute("SELECT id, name FROM entities ORDER BY id")
        while rows := cur.fetchmany(batch_size):
            yield from rows

    def entity_names(self) -> list[str]:
        """All entity names, indexed by entity id (the full id -> name map)."""
        return [name for _, name in self.iter_entities()]

    def entity_map(self) -> dict[str, int]:
        """The full name -> id map of entities (memory grows with the KG)."""
        return {name: i for i, name in self.iter_entities()}

    def relation_map(self) -> dict[str, int]:
        """The full name -> id map of relations."""
        return {name: i for i, name in enumerate(self.relation_names())}

    def __contains__(self, name: object) -> bool:
        """True if ``name`` is an entity (as subject or object) of the store."""
        return isinstance(name, str) and self.entity_id(name) is not None

    def has_knowledge(self, name: str) -> bool:
        """True if ``name`` is the subject of at least one triple."""
        eid = self.entity_id(name)
        return eid is not None and self.conn.execute(
            "SELECT 1 FROM triples WHERE s=? LIMIT 1", (eid,)).fetchone() is not None

    # -- lookup -------------------------------------------------------------------------------
    def lookup(self, entity: str, limit: int | None = None,
               predicates: Sequence[str] | None = None) -> list[Triple]:
        """Triples whose subject is ``entity``, in first-appearance order (see module doc).

        ``limit`` keeps the first ``limit`` of them; ``predicates`` keeps only those predicates
        (the order is unchanged). An unknown entity gives ``[]``.
        """
        if limit is not None and limit <= 0:
            return []
        key = (entity, limit, tuple(predicates) if predicates is not None else None)
        hit = self._cache.get(key)
        if hit is not None and self._pid == os.getpid():
            self._cache.move_to_end(key)
            return list(hit)
        result = self._lookup_uncached(entity, limit, predicates)
        if self.cache_size > 0:
            self._cache[key] = tuple(result)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return result

    def _lookup_uncached(self, entity: str, limit: int | None,
                         predicates: Sequence[str] | None) -> list[Triple]:
        name = self._norm(entity)
        sql = ("SELECT t.p, e.name FROM entities q JOIN triples t ON t.s = q.id "
               "JOIN entities e ON e.id = t.o WHERE q.name = ?")
        args: list[Any] = [name]
        if predicates is not None:
            pids = [p for p in (self.relation_id(x) for x in predicates) if p is not None]
            if not pids:
                return []
            sql += f" AND t.p IN ({','.join('?' * len(pids))})"
            args += pids
        sql += " ORDER BY t.id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        rels = self.relation_names()
        return [Triple(name, rels[p], o) for p, o in self.conn.execute(sql, args)]

    def lookup_many(self, entities: Iterable[str], limit: int | None = None,
                    predicates: Sequence[str] | None = None) -> dict[str, list[Triple]]:
        """``{entity: lookup(entity, limit, predicates)}`` for every entity given (unknown -> [])."""
        names = list(dict.fromkeys(entities))
        out: dict[str, list[Triple]] = {}
        todo = []
        pkey = tuple(predicates) if predicates is not None else None
        for n in names:
            hit = self._cache.get((n, limit, pkey)) if self._pid == os.getpid() else None
            if hit is not None:
                out[n] = list(hit)
            else:
                todo.append(n)
        for start in range(0, len(todo), 400):
            chunk = todo[start:start + 400]
            for n, triples in self._lookup_chunk(chunk, limit, predicates).items():
                out[n] = triples
                if self.cache_size > 0:
                    self._cache[(n, limit, pkey)] = tuple(triples)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return {n: out[n] for n in names}

    def _lookup_chunk(self, names: list[str], limit: int | None,
                      predicates: Sequence[str] | None) -> dict[str, list[Triple]]:
        result: dict[str, list[Triple]] = {n: [] for n in names}
        if limit is not None and limit <= 0:
            return result
        normed: dict[str, list[str]] = {}
        for n in names:
            normed.setdefault(self._norm(n), []).append(n)
        q = ",".join("?" * len(normed))
        ids = dict(self.conn.execute(f"SELECT id, name FROM entities WHERE name IN ({q})", list(normed)))
        if not ids:
            return result
        sql = (f"SELECT t.s, t.p, e.name FROM triples t JOIN entities e ON e.id = t.o "
               f"WHERE t.s IN ({','.join('?' * len(ids))})")
        args: list[Any] = list(ids)
        if predicates is not None:
            pids = [p for p in (self.relation_id(x) for x in predicates) if p is not None]
            if not pids:
                return result
            sql += f" AND t.p IN ({','.join('?' * len(pids))})"
            args += pids
        sql += " ORDER BY t.s, t.id"
        rels = self.relation_names()
        for s, p, o in self.conn.execute(sql, args):
            subject = ids[s]
            bucket = result[normed[subject][0]]
            if limit is None or len(bucket) < limit:
                bucket.append(Triple(subject, rels[p], o))
        for originals in normed.values():  # names that normalise to the same entity
            for other in originals[1:]:
                result[other] = list(result[originals[0]])
        return result

    # -- iteration ----------------------------------------------------------------------------
    def iter_batches(self, batch_size: int = 10_000, ids: bool = False) -> Iterator[list]:
        """All triples, as lists of up to ``batch_size``, grouped by subject id (ascending), each
        subject's triples in first-appearance order (for an input whose subjects' triples are
        contiguous, that is the input order).

        With ``ids=True`` each item is an ``(s_id, p_id, o_id)`` tuple of ints (for embeddings),
        otherwise a :class:`Triple` of names.
        """
        rels = self.relation_names()
        if ids:
            rows = self._rows_by_subject("SELECT s, p, o, id FROM triples ORDER BY s", batch_size)
            for batch in _chunks(((s, p, o) for s, p, o, _ in rows), batch_size):
                yield batch
            return
        rows = self._rows_by_subject(
            "SELECT es.name, t.p, eo.name, t.id FROM triples t JOIN entities es ON es.id = t.s "
            "JOIN entities eo ON eo.id = t.o ORDER BY t.s", batch_size)
        for batch in _chunks((Triple(s, rels[p], o) for s, p, o, _ in rows), batch_size):
            yield batch

    def _rows_by_subject(self, sql: str, batch_size: int) -> Iterator[tuple]:
        """Rows (subject, ..., id) of ``sql`` (ordered by subject), re-sorted by id per subject."""
        cur = self.conn.execute(sql)
        group: list[tuple] = []
        while rows := cur.fetchmany(batch_size):
            for row in rows:
                if group and row[0] != group[0][0]:
                    group.sort(key=_last)
                    yield from group
                    group = []
                group.append(row)
        group.sort(key=_last)
        yield from group

    def iter_triples(self, batch_size: int = 10_000) -> Iterator[Triple]:
        """Every triple in storage order (see :meth:`iter_batches`), one at a time."""
        for batch in self.iter_batches(batch_size):
            yield from batch

    def __iter__(self) -> Iterator[Triple]:
        return self.iter_triples()

    def neighbourhood(self, entities: Iterable[str], hops: int = 1,
                      direction: str = "out") -> list[Triple]:
        """Triples within ``hops`` of ``entities`` (breadth first), each once, in storage order.

        ``direction``: ``"out"`` follows subject -> object edges, ``"both"`` also object ->
        subject (a point lookup when the store was built with ``index_objects=True``, otherwise
        a scan of the triples per hop).
        """
        if direction not in ("out", "both"):
            raise ValueError("direction must be 'out' or 'both'")
        frontier = {i for i in (self.entity_id(e) for e in entities) if i is not None}
        seen_nodes = set(frontier)
        found: set[tuple[int, int, int, int]] = set()
        for _ in range(max(hops, 0)):
            if not frontier:
                break
            nxt: set[int] = set()
            front = sorted(frontier)
            for start in range(0, len(front), 400):
                chunk = front[start:start + 400]
                q = ",".join("?" * len(chunk))
                sql = f"SELECT s, id, p, o FROM triples WHERE s IN ({q})"
                args = list(chunk)
                if direction == "both":
                    sql += f" UNION SELECT s, id, p, o FROM triples WHERE o IN ({q})"
                    args += chunk
                for row in self.conn.execute(sql, args):
                    found.add(row)
                    nxt.update((row[0], row[3]))
            frontier = nxt - seen_nodes
            seen_nodes |= nxt
        rels = self.relation_names()
        names = self._names(sorted({r[0] for r in found} | {r[3] for r in found}))
        return [Triple(names[s], rels[p], names[o]) for s, _, p, o in sorted(found)]

    def _names(self, ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(ids), 400):
            chunk = list(ids[start:start + 400])
            q = ",".join("?" * len(chunk))
            out.update(self.conn.execute(f"SELECT id, name FROM entities WHERE id IN ({q})", chunk))
        return out
