"""Entity mention matching: an Aho-Corasick automaton (pyahocorasick) over a store's entity names.

``EntityMatcher.find(text)`` returns **leftmost-longest, non-overlapping** matches on the raw
characters of ``text``: scanning left to right, at the first position where some name starts, the
longest name starting there is taken, and scanning resumes after it. So with names 中国, 中国银行
and 银行, "中国银行" gives one match (中国银行), not 中国 + 银行.

The automaton is built once and persisted beside the store as ``<store>.matcher`` (for the
default options; other options get ``<store>.<digest>.matcher``). The file starts with a JSON
header naming the store's ``build_id`` and the options; a header that does not match (the store
was rebuilt, or the options differ) makes the matcher rebuild and rewrite it.

**Speed.** pyahocorasick's ``iter`` costs about 1 us per character on Chinese text (a trie node
with thousands of children), so when the optional ``ahocorasick_rs`` package (Rust, its own
``MatchKind.LeftmostLongest``) is installed, ``find`` runs on an ``ahocorasick_rs`` automaton built
(about 0.3 s for 60k names) from the persisted pyahocorasick one: same names, same ids, same
matches (tests compare both paths), 5-6x faster. Without it (or with ``use_rs=False``), ``find``
resolves leftmost-longest from all of pyahocorasick's occurrences. pyahocorasick's own
``iter_long`` is not used: it misses leftmost-longest matches in some cases.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import ahocorasick

try:  # optional accelerator (see module doc)
    import ahocorasick_rs as _ars
except ImportError:  # pragma: no cover - depends on the environment
    _ars = None  # type: ignore[assignment]

from .store import KnowledgeGraph, PathLike

MATCHER_VERSION = 1
_LEN_BITS = 12  # packed automaton value: entity_id << 12 | len(name)
_MAX_LEN = (1 << _LEN_BITS) - 1
_ID_MASK = (1 << 40) - 1  # entity ids below 2**40 (find() packs start, length and id in one int)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Match(NamedTuple):
    """A mention of entity ``entity_id`` (named ``name``) at ``text[start:end]``."""

    start: int
    end: int
    name: str
    entity_id: int


def _load_stoplist(stoplist: Iterable[str] | PathLike | None) -> frozenset[str]:
    if stoplist is None:
        return frozenset()
    if isinstance(stoplist, (str, os.PathLike)) and Path(stoplist).is_file():
        lines = Path(stoplist).read_text(encoding="utf-8").splitlines()
        return frozenset(x.strip() for x in lines if x.strip())
    if isinstance(stoplist, str):
        raise FileNotFoundError(f"stop list file not found: {stoplist} (pass a list of words or a file)")
    return frozenset(stoplist)  # type: ignore[arg-type]


class EntityMatcher:
    """Finds entity names of a store in text (see module doc for the matching rule)."""

    def __init__(self, automaton: "ahocorasick.Automaton", *, min_len: int = 2,
                 size: int = 0, use_rs: bool | None = None) -> None:
        self.automaton = automaton
        self.min_len = min_len
        self.size = size
        self.use_rs = _ars is not None if use_rs is None else bool(use_rs)
        if self.use_rs and _ars is None:
            raise ImportError("use_rs=True needs the ahocorasick_rs package")
        self._rs: Any = None
        self._rs_ids: list[int] = []
        if self.use_rs:
            self._build_rs()

    def _build_rs(self) -> None:
        """The ``ahocorasick_rs`` leftmost-longest automaton over the same names (and their ids)."""
        names: list[str] = []
        ids: list[int] = []
        if self.size:
            for name, value in self.automaton.items():
                if name:
                    names.append(name)
                    ids.append(value >> _LEN_BITS)
        self._rs_ids = ids
        self._rs = _ars.AhoCorasick(names, matchkind=_ars.MatchKind.LeftmostLongest) if names else None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_rs"] = None  # not picklable: rebuilt from the automaton
        state["_rs_ids"] = []
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.use_rs:
            if _ars is None:
                self.use_rs = False
            else:
                self._build_rs()

    def __len__(self) -> int:
        return self.size

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_names(cls, names: Iterable[tuple[int, str]], *, min_len: int = 2,
                   stoplist: Iterable[str] | PathLike | None = None,
                   use_rs: bool | None = None) -> "EntityMatcher":
        """Build from ``(entity_id, name)`` pairs (names shorter than ``min_len`` or in the stop
        list are left out; for a repeated name the first id wins). ``use_rs``: match with
        ``ahocorasick_rs`` (default: when installed)."""
        stop = _load_stoplist(stoplist)
        auto = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        size = 0
        for eid, name in names:
            if len(name) < min_len or len(name) > _MAX_LEN or name in stop or name in auto:
                continue
            auto.add_word(name, (int(eid) << _LEN_BITS) | len(name))
            size += 1
        auto.make_automaton()
        return cls(auto, min_len=min_len, size=size, use_rs=use_rs)

    @classmethod
    def for_store(cls, kg_or_path: KnowledgeGraph | PathLike, min_len: int = 2,
                  stoplist: Iterable[str] | PathLike | None = None, *,
                  subjects_only: bool = False, persist: bool = True,
                  use_rs: bool | None = None) -> "EntityMatcher":
        """The matcher for a store: loaded from ``<store>.matcher`` when it is current, otherwise
        built from the store's entity names (all entities, or only subjects of some triple with
        ``subjects_only=True``) and persisted (atomically; silently skipped if the folder is
        read-only). ``use_rs`` as :meth:`from_names`."""
        kg = kg_or_path if isinstance(kg_or_path, KnowledgeGraph) else KnowledgeGraph.open(kg_or_path)
        stop = sorted(_load_stoplist(stoplist))
        header = {"matcher_version": MATCHER_VERSION, "build_id": kg.build_id,
                  "min_len": int(min_len), "subjects_only": bool(subjects_only),
                  "stoplist_sha1": hashlib.sha1("\n".join(stop).encode()).hexdigest()}
        path = cls.persisted_path(kg.path, min_len=min_len, stoplist=stop, subjects_only=subjects_only)
        loaded = cls._load(path, header, use_rs=use_rs)
        if loaded is not None:
            return loaded
        if subjects_only:
            rows = kg.conn.execute(
                "SELECT id, name FROM entities WHERE id IN (SELECT DISTINCT s FROM triples) ORDER BY id")
            names: Iterable[tuple[int, str]] = iter(rows)
        else:
            names = kg.iter_entities()
        matcher = cls.from_names(names, min_len=min_len, stoplist=stop, use_rs=use_rs)
        if persist:
            matcher._save(path, header)
        return matcher

    @staticmethod
    def persisted_path(store: PathLike, *, min_len: int = 2, stoplist: Iterable[str] = (),
                       subjects_only: bool = False) -> Path:
        """Where the automaton for these options is persisted beside ``store``."""
        stop = sorted(stoplist)
        if min_len == 2 and not stop and not subjects_only:
            return Path(str(store) + ".matcher")
        key = json.dumps([min_len, stop, subjects_only], ensure_ascii=False).encode()
        return Path(f"{store}.{hashlib.sha1(key).hexdigest()[:10]}.matcher")

    @classmethod
    def _load(cls, path: Path, header: dict, *, use_rs: bool | None = None) -> "EntityMatcher | None":
        try:
            with open(path, "rb") as fh:
                first = json.loads(fh.readline())
                if {k: first.get(k) for k in header} != header:
                    return None
                auto = pickle.load(fh)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError):
            return None
        return cls(auto, min_len=header["min_len"], size=int(first.get("size", len(auto))), use_rs=use_rs)

    def _save(self, path: Path, header: dict) -> None:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError:
            return
        try:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual mode
            with os.fdopen(fd, "wb") as fh:
                fh.write(json.dumps({**header, "size": self.size}).encode() + b"\n")
                pickle.dump(self.automaton, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    # -- matching -----------------------------------------------------------------------------
    def find(self, text: str) -> list[Match]:
        """Leftmost-longest non-overlapping matches, sorted by start (character offsets,
        end-exclusive)."""
        if not text or self.size == 0:
            return []
        if self.use_rs:
            if self._rs is None:
                return []
            ids = self._rs_ids
            return [Match(s, e, text[s:e], ids[i]) for i, s, e in self._rs.find_matches_as_indexes(text)]
        # one sortable int per occurrence: start, then longer first, then the entity id
        keys = [((end + 1 - (v & _MAX_LEN)) << 52) | ((_MAX_LEN - (v & _MAX_LEN)) << 40)
                | (v >> _LEN_BITS) for end, v in self.automaton.iter(text)]
        if not keys:
            return []
        keys.sort()
        out: list[Match] = []
        last = 0
        for key in keys:
            start = key >> 52
            if start >= last:
                last = start + _MAX_LEN - ((key >> 40) & _MAX_LEN)
                out.append(Match(start, last, text[start:last], key & _ID_MASK))
        return out

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """``[(start, end, name) for each Match of find(text)]`` as plain tuples (cheaper)."""
        if self.use_rs and text and self._rs is not None:
            return [(s, e, text[s:e]) for _, s, e in self._rs.find_matches_as_indexes(text)]
        return [(m[0], m[1], m[2]) for m in self.find(text)]

    def find_many(self, texts: Iterable[str]) -> list[list[Match]]:
        """``[find(t) for t in texts]``."""
        return [self.find(t) for t in texts]
