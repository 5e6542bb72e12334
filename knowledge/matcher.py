"""Entity mention matching: an Aho-Corasick automaton (pyahocorasick) over a store's entity names.

``EntityMatcher.find(text)`` returns **leftmost-longest, non-overlapping** matches on the raw
characters of ``text``: scanning left to right, at the first position where some name starts, the
longest name starting there is taken, and scanning resumes after it. So with names 中国, 中国银行
and 银行, "中国银行" gives one match (中国银行), not 中国 + 银行.

The automaton is built once and persisted beside the store as ``<store>.matcher`` (for the
default options; other options get ``<store>.<digest>.matcher``). The file starts with a JSON
header naming the store's ``build_id`` and the options; a header that does not match (the store
was rebuilt, or the options differ) makes the matcher rebuild and rewrite it.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Iterable, NamedTuple

import ahocorasick

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
                 size: int = 0) -> None:
        self.automaton = automaton
        self.min_len = min_len
        self.size = size

    def __len__(self) -> int:
        return self.size

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_names(cls, names: Iterable[tuple[int, str]], *, min_len: int = 2,
                   stoplist: Iterable[str] | PathLike | None = None) -> "EntityMatcher":
        """Build from ``(entity_id, name)`` pairs (names shorter than ``min_len`` or in the stop
        list are left out; for a repeated name the first id wins)."""
        stop = _load_stoplist(stoplist)
        auto = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        size = 0
        for eid, name in names:
            if len(name) < min_len or len(name) > _MAX_LEN or name in stop or name in auto:
                continue
            auto.add_word(name, (int(eid) << _LEN_BITS) | len(name))
            size += 1
        auto.make_automaton()
        return cls(auto, min_len=min_len, size=size)

    @classmethod
    def for_store(cls, kg_or_path: KnowledgeGraph | PathLike, min_len: int = 2,
                  stoplist: Iterable[str] | PathLike | None = None, *,
                  subjects_only: bool = False, persist: bool = True) -> "EntityMatcher":
        """The matcher for a store: loaded from ``<store>.matcher`` when it is current, otherwise
        built from the store's entity names (all entities, or only subjects of some triple with
        ``subjects_only=True``) and persisted (atomically; silently skipped if the folder is
        read-only)."""
        kg = kg_or_path if isinstance(kg_or_path, KnowledgeGraph) else KnowledgeGraph.open(kg_or_path)
        stop = sorted(_load_stoplist(stoplist))
        header = {"matcher_version": MATCHER_VERSION, "build_id": kg.build_id,
                  "min_len": int(min_len), "subjects_only": bool(subjects_only),
                  "stoplist_sha1": hashlib.sha1("\n".join(stop).encode()).hexdigest()}
        path = cls.persisted_path(kg.path, min_len=min_len, stoplist=stop, subjects_only=subjects_only)
        loaded = cls._load(path, header)
        if loaded is not None:
            return loaded
        if subjects_only:
            rows = kg.conn.execute(
                "SELECT id, name FROM entities WHERE id IN (SELECT DISTINCT s FROM triples) ORDER BY id")
            names: Iterable[tuple[int, str]] = iter(rows)
        else:
            names = kg.iter_entities()
        matcher = cls.from_names(names, min_len=min_len, stoplist=stop)
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
    def _load(cls, path: Path, header: dict) -> "EntityMatcher | None":
        try:
            with open(path, "rb") as fh:
                first = json.loads(fh.readline())
                if {k: first.get(k) for k in header} != header:
                    return None
                auto = pickle.load(fh)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError):
            return None
        return cls(auto, min_len=header["min_len"], size=int(first.get("size", len(auto))))

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

    def find_many(self, texts: Iterable[str]) -> list[list[Match]]:
        """``[find(t) for t in texts]``."""
        return [self.find(t) for t in texts]
