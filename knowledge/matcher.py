"""Entity mention matching: an Aho-Corasick automaton (pyahocorasick) over a store's entity names.

``EntityMatcher.find(text)`` returns **leftmost-longest, non-overlapping** matches on the raw
characters of ``text``: scanning left to right, at the first position where some name starts, the
longest name starting there is taken, and scanning resumes after it. So with names 中国, 中国银行
and 银行, "中国银行" gives one match (中国银行), not 中国 + 银行.

The automaton is built once and persisted beside the store as ``<store>.matcher`` (for the
default options; other options get ``<store>.<digest>.matcher``). The file is a JSON header line
naming the store's ``build_id``, the options and the automaton's parameters, then the automaton's
entity ids and name lengths (raw int64/uint16 arrays), then the automaton's raw node data
(pyahocorasick's own serialisation, taken from ``Automaton.__reduce__``, written without pickle). **Loading never unpickles and never runs code from the file**: the header is
parsed as JSON, every field is type-checked, and the node data is accepted only with a valid
HMAC-SHA256 tag made with this user's key (``~/.cache/kgbert/matcher.key``, created 0600 on first
use; ``KGBERT_KEY_DIR`` moves it). A file that was not written by this user on this machine (a
planted or copied file, a damaged one, a wrong header, another store's or another version's
automaton) is ignored and the automaton is rebuilt from the store and rewritten. Loading 1M names
takes 0.7-2 s on the 2-core test machine (about 1.4x the pickle it replaces), rebuilding them
35-86 s (``benchmarks/bench_matcher_load.py``).

**Latin and digit runs.** By default (``latin_boundaries=True``) no mention starts or ends inside a
run of Latin letters or digits: the KG name ``100`` is not found in ``U100`` or ``1000``, ``GB`` not
in ``GBK``; ``100`` is still found in ``100元`` and ``共100人``. Matches are resolved leftmost-longest
among the allowed ones. ``latin_boundaries=False`` matches on raw characters as before.

**Speed.** pyahocorasick's ``iter`` costs about 1 us per character on Chinese text (a trie node
with thousands of children), so when the optional ``ahocorasick_rs`` package (Rust, its own
``MatchKind.LeftmostLongest``) is installed, ``find`` runs on an ``ahocorasick_rs`` automaton built
(about 0.3 s for 60k names) from the persisted pyahocorasick one: same names, same ids, same
matches (tests compare both paths), 5-6x faster. Its build time grows faster than linearly (about
8 s for 300k names, 40 s for 1M on the 2-core test machine), so by default (``use_rs=None``) it is
used only up to :data:`RS_MAX_NAMES` names; ``use_rs=True`` forces it. Without it (or with
``use_rs=False``), ``find`` resolves leftmost-longest from all of pyahocorasick's occurrences.
pyahocorasick's own ``iter_long`` is not used: it misses leftmost-longest matches in some cases.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
from array import array
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import ahocorasick

try:  # optional accelerator (see module doc)
    import ahocorasick_rs as _ars
except ImportError:  # pragma: no cover - depends on the environment
    _ars = None  # type: ignore[assignment]

from .store import KnowledgeGraph, PathLike

MATCHER_VERSION = 2
#: by default ``ahocorasick_rs`` is used up to this many names (its build time grows superlinearly)
RS_MAX_NAMES = 200_000
_KEY_BYTES = 32
_MAX_HEADER = 1 << 20
# The automaton's value of a name is its index i (pyahocorasick's STORE_INTS holds 32-bit ints);
# ``ids[i]`` is the entity id and ``lens[i]`` the name's length.
_LEN_BITS = 12
_MAX_LEN = (1 << _LEN_BITS) - 1
_IDX_MASK = (1 << 40) - 1  # find() packs start, length and index in one int


def _key_path() -> Path:
    base = os.environ.get("KGBERT_KEY_DIR")
    if base:
        return Path(base) / "matcher.key"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "kgbert" / "matcher.key"


def _secret_key(create: bool) -> bytes | None:
    """This user's key for authenticating persisted automata (None if unavailable)."""
    path = _key_path()
    try:
        key = path.read_bytes()
        return key if len(key) == _KEY_BYTES else None
    except FileNotFoundError:
        if not create:
            return None
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return _secret_key(False)
    except OSError:
        return None
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(_KEY_BYTES))
    return _secret_key(False)


def _tag(key: bytes, header: dict, chunks: Iterable[bytes]) -> str:
    mac = hmac.new(key, json.dumps(header, sort_keys=True).encode(), hashlib.sha256)
    for chunk in chunks:
        mac.update(chunk)
    return mac.hexdigest()


def _is_run_char(c: str) -> bool:
    """A character of a Latin/digit run: digits, Latin (and other alphabetic non-CJK) letters,
    full-width Latin letters and digits."""
    o = ord(c)
    return (c.isalnum() and o < 0x2E80) or 0xFF10 <= o <= 0xFF19 or 0xFF21 <= o <= 0xFF3A or 0xFF41 <= o <= 0xFF5A


def _cuts_run(text: str, start: int, end: int) -> bool:
    """True if ``text[start:end]`` starts or ends inside a run of Latin letters or digits."""
    return ((start > 0 and _is_run_char(text[start - 1]) and _is_run_char(text[start]))
            or (end < len(text) and _is_run_char(text[end - 1]) and _is_run_char(text[end])))


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

    def __init__(self, automaton: "ahocorasick.Automaton", ids: "array[int]", lens: "array[int]", *,
                 min_len: int = 2, use_rs: bool | None = None, latin_boundaries: bool = True) -> None:
        if len(ids) != len(lens) or len(automaton) != len(ids):
            raise ValueError("automaton, ids and lengths disagree")
        self.automaton = automaton
        self.ids = ids
        self.lens = lens
        self.min_len = min_len
        self.size = size = len(ids)
        self.latin_boundaries = bool(latin_boundaries)
        self.use_rs = (_ars is not None and size <= RS_MAX_NAMES) if use_rs is None else bool(use_rs)
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
            entity = self.ids
            for name, i in self.automaton.items():
                if name:
                    names.append(name)
                    ids.append(entity[i])
        self._rs_ids = ids
        self._rs = _ars.AhoCorasick(names, matchkind=_ars.MatchKind.LeftmostLongest) if names else None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_rs"] = None  # not picklable: rebuilt from the automaton
        state["_rs_ids"] = []
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("latin_boundaries", True)
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
                   use_rs: bool | None = None, latin_boundaries: bool = True) -> "EntityMatcher":
        """Build from ``(entity_id, name)`` pairs (names shorter than ``min_len`` or in the stop
        list are left out; for a repeated name the first id wins). ``use_rs``: match with
        ``ahocorasick_rs`` (default: when installed and at most :data:`RS_MAX_NAMES` names).
        ``latin_boundaries``: no mention starts or ends inside a Latin/digit run (module doc)."""
        stop = _load_stoplist(stoplist)
        auto = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        ids, lens = array("q"), array("H")
        for eid, name in names:
            if len(name) < min_len or len(name) > _MAX_LEN or name in stop or name in auto:
                continue
            auto.add_word(name, len(ids))
            ids.append(int(eid))
            lens.append(len(name))
        auto.make_automaton()
        return cls(auto, ids, lens, min_len=min_len, use_rs=use_rs, latin_boundaries=latin_boundaries)

    @classmethod
    def for_store(cls, kg_or_path: KnowledgeGraph | PathLike, min_len: int = 2,
                  stoplist: Iterable[str] | PathLike | None = None, *,
                  subjects_only: bool = False, persist: bool = True,
                  use_rs: bool | None = None, latin_boundaries: bool = True) -> "EntityMatcher":
        """The matcher for a store: loaded from ``<store>.matcher`` when it is current, otherwise
        built from the store's entity names (all entities, or only subjects of some triple with
        ``subjects_only=True``) and persisted (atomically; silently skipped if the folder is
        read-only). ``use_rs`` and ``latin_boundaries`` as :meth:`from_names`."""
        kg = kg_or_path if isinstance(kg_or_path, KnowledgeGraph) else KnowledgeGraph.open(kg_or_path)
        stop = sorted(_load_stoplist(stoplist))
        header = {"matcher_version": MATCHER_VERSION, "build_id": kg.build_id,
                  "min_len": int(min_len), "subjects_only": bool(subjects_only),
                  "stoplist_sha1": hashlib.sha1("\n".join(stop).encode()).hexdigest()}
        path = cls.persisted_path(kg.path, min_len=min_len, stoplist=stop, subjects_only=subjects_only)
        loaded = cls._load(path, header, use_rs=use_rs, latin_boundaries=latin_boundaries)
        if loaded is not None:
            return loaded
        if subjects_only:
            rows = kg.conn.execute(
                "SELECT id, name FROM entities WHERE id IN (SELECT DISTINCT s FROM triples) ORDER BY id")
            names: Iterable[tuple[int, str]] = iter(rows)
        else:
            names = kg.iter_entities()
        matcher = cls.from_names(names, min_len=min_len, stoplist=stop, use_rs=use_rs,
                                 latin_boundaries=latin_boundaries)
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
    def _load(cls, path: Path, header: dict, *, use_rs: bool | None = None,
              latin_boundaries: bool = True) -> "EntityMatcher | None":
        """The persisted matcher, or None (then it is rebuilt) for a missing, stale, damaged,
        foreign or unauthenticated file. Never unpickles; see the module doc."""
        key = _secret_key(create=False)
        if key is None:
            return None
        try:
            with open(path, "rb") as fh:
                line = fh.readline(_MAX_HEADER)
                first = json.loads(line)
                if not isinstance(first, dict) or {k: first.get(k) for k in header} != header:
                    return None
                size, args, lengths, tag = first["size"], first["args"], first["chunks"], first["hmac"]
                if not (isinstance(size, int) and isinstance(tag, str) and isinstance(args, list)
                        and len(args) == 5 and all(type(a) is int for a in args)
                        and isinstance(lengths, list) and all(type(n) is int and n >= 0 for n in lengths)):
                    return None
                if first.get("byteorder") != sys.byteorder or size < 0:
                    return None
                lengths = [8 * size, 2 * size, *lengths]  # ids, name lengths, automaton nodes
                chunks = [fh.read(n) for n in lengths]
                if any(len(c) != n for c, n in zip(chunks, lengths)) or fh.read(1):
                    return None
        except (OSError, ValueError, KeyError):
            return None
        body = {k: v for k, v in first.items() if k != "hmac"}
        if not hmac.compare_digest(_tag(key, body, chunks), tag):
            return None  # not written by this user's kgbert: never handed to the C loader
        kind, store, key_type, count, longest = args
        if kind != ahocorasick.AHOCORASICK or store != ahocorasick.STORE_INTS or count != size:
            return None
        ids, lens = array("q"), array("H")
        ids.frombytes(chunks[0])
        lens.frombytes(chunks[1])
        try:
            auto = ahocorasick.Automaton(chunks[2:], kind, store, key_type, count, longest, None)
            return cls(auto, ids, lens, min_len=int(header.get("min_len", 2)), use_rs=use_rs,
                       latin_boundaries=latin_boundaries)
        except (ValueError, TypeError, MemoryError):
            return None

    def _save(self, path: Path, header: dict) -> None:
        key = _secret_key(create=True)
        if key is None:
            return  # no place for this user's key: the automaton is rebuilt next time
        if self.size == 0 or self.automaton.kind != ahocorasick.AHOCORASICK:
            return
        _, args = self.automaton.__reduce__()
        nodes, params = list(args[0]), [int(a) for a in args[1:6]]
        body = {**header, "size": self.size, "format": "ids+lengths+pyahocorasick-nodes",
                "byteorder": sys.byteorder, "args": params, "chunks": [len(c) for c in nodes]}
        chunks = [self.ids.tobytes(), self.lens.tobytes(), *nodes]
        from .tempfiles import remove_stale_temporaries, temp_path

        remove_stale_temporaries(path.parent, f".{path.name}.")
        tmp = temp_path(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode: the user's umask
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(json.dumps({**body, "hmac": _tag(key, body, chunks)}).encode() + b"\n")
                for chunk in chunks:
                    fh.write(chunk)
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
            found = [Match(s, e, text[s:e], ids[i]) for i, s, e in self._rs.find_matches_as_indexes(text)]
            if not (self.latin_boundaries and any(_cuts_run(text, m[0], m[1]) for m in found)):
                return found
            # a match cut a Latin/digit run: resolve exactly from all occurrences (rare)
        # one sortable int per occurrence: start, then longer first, then the entity id
        lens = self.lens
        keys = [((end + 1 - lens[i]) << 52) | ((_MAX_LEN - lens[i]) << 40) | i
                for end, i in self.automaton.iter(text)
                if not (self.latin_boundaries and _cuts_run(text, end + 1 - lens[i], end + 1))]
        if not keys:
            return []
        keys.sort()
        out: list[Match] = []
        last = 0
        for key in keys:
            start = key >> 52
            if start >= last:
                last = start + _MAX_LEN - ((key >> 40) & _MAX_LEN)
                out.append(Match(start, last, text[start:last], self.ids[key & _IDX_MASK]))
        return out

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """``[(start, end, name) for each Match of find(text)]`` as plain tuples (cheaper)."""
        if self.use_rs and text and self._rs is not None:
            found = [(s, e, text[s:e]) for _, s, e in self._rs.find_matches_as_indexes(text)]
            if not (self.latin_boundaries and any(_cuts_run(text, m[0], m[1]) for m in found)):
                return found
        return [(m[0], m[1], m[2]) for m in self.find(text)]

    def find_many(self, texts: Iterable[str]) -> list[list[Match]]:
        """``[find(t) for t in texts]``."""
        return [self.find(t) for t in texts]
