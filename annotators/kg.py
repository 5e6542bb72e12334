"""KG mention matching for the annotators: one :class:`knowledge.EntityMatcher` per process and setting.

The tokenizer (to keep mentions whole) and the ``kg_entities`` component (to label them) both need
the mentions of the same text; :class:`KGMentions` memoises the last text so the automaton runs once.
The matcher is an in-memory Aho-Corasick automaton that holds no SQLite handle (the store is
opened only to build or load it), so a forked worker may use its parent's; a spawned worker
(or an unpickled pipeline) reopens the store and loads the persisted automaton itself.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

_LOCK = threading.Lock()
_MATCHERS: dict[tuple, object] = {}


def _read_stoplist(stoplist: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if stoplist is None:
        return None
    if isinstance(stoplist, (str, os.PathLike)):
        path = Path(stoplist)
        if not path.is_file():
            raise FileNotFoundError(f"KG stoplist not found: {path}")
        with open(path, encoding="utf-8") as fh:
            return tuple(sorted({line.strip() for line in fh if line.strip()}))
    return tuple(sorted(set(stoplist)))


def get_matcher(kg: str | os.PathLike, min_len: int = 2, stoplist: str | Sequence[str] | None = None):
    """The :class:`knowledge.EntityMatcher` for store ``kg``, built once per process and setting."""
    try:
        from knowledge import EntityMatcher
    except ImportError as exc:  # the knowledge package is part of this repository
        raise ImportError(f"KG matching needs knowledge.EntityMatcher: {exc}") from None
    path = Path(kg).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"KG store not found: {path} (build one with knowledge.build_kg / python -m kgbert.build_kg)")
    stop = _read_stoplist(stoplist)
    key = (str(path.resolve()), int(min_len), stop)
    with _LOCK:
        matcher = _MATCHERS.get(key)
        if matcher is None:
            matcher = EntityMatcher.for_store(str(path.resolve()), min_len=int(min_len), stoplist=list(stop) if stop else None)
            _MATCHERS[key] = matcher
        return matcher


class KGMentions:
    """Picklable handle on a KG matcher: ``find(text) -> [Match(start, end, name, entity_id)]``.

    Only the settings are pickled; the receiving process gets its matcher from :func:`get_matcher`.
    """

    def __init__(self, kg: str | os.PathLike, min_len: int = 2, stoplist: str | Sequence[str] | None = None) -> None:
        self.kg = str(kg)
        self.min_len = int(min_len)
        self.stoplist = _read_stoplist(stoplist)
        self._last: tuple[str, list] | None = None
        self._matcher = get_matcher(self.kg, self.min_len, self.stoplist)  # fails early: missing store, bad stoplist

    def __reduce__(self):
        return (KGMentions, (self.kg, self.min_len, self.stoplist))

    def find(self, text: str) -> list:
        """Non-overlapping mentions of KG entity names in ``text`` (longest first, sorted by start)."""
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        matches = list(self._matcher.find(text))
        self._last = (text, matches)
        return matches

    def same_as(self, kg: str | os.PathLike, min_len: int, stoplist) -> bool:
        """Whether this handle matches with the given settings."""
        return (
            Path(self.kg).resolve() == Path(kg).resolve()
            and self.min_len == int(min_len)
            and self.stoplist == _read_stoplist(stoplist)
        )
