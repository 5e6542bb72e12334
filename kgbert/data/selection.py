"""K-BERT knowledge selection: which entity mentions of a sentence get knowledge at all.

K-BERT hangs KG triples on every matched mention; a KG whose subjects include generic words
(the Medical KG's 治疗, 症状, 检查 ...) then injects noise into most sentences. Two featuriser
options (``model.featurizer`` in a run config, sweepable in the bench harness) drop mentions:

- ``stoplist``: names never given knowledge: a list of strings, or the path of a UTF-8 file with
  one name a line (``#`` starts a comment line).
- ``max_df``: a maximum document frequency: a mention name found (by the featuriser's own matcher
  or annotations) in more than this share of the *training* sentences is dropped (the share is
  computed once, by ``featurizer.fit(train_examples)``, which the trainer calls). The names it
  drops are saved into the run's ``best/kgbert.json`` as part of ``stoplist`` (and ``max_df`` is
  not saved), so inference drops exactly the same mentions without the training data.

The other two selection knobs were already K-BERT options: ``predicates`` (only triples with
these predicates) and ``max_entities`` (triples per entity).
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence


def load_stoplist(stoplist: str | os.PathLike | Sequence[str] | None) -> frozenset[str]:
    """A stoplist from a list of names or a file (one a line); empty when None."""
    if stoplist is None:
        return frozenset()
    if isinstance(stoplist, (str, os.PathLike)):
        path = Path(stoplist)
        if not path.is_file():
            raise ValueError(f"stoplist: no such file {path} (give a list of names or a file with one name a line)")
        names = []
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                names.append(line)
        return frozenset(names)
    if not all(isinstance(s, str) for s in stoplist):
        raise ValueError(f"stoplist must be a list of strings or a file path, got {stoplist!r}")
    return frozenset(s.strip() for s in stoplist if s.strip())


class KnowledgeSelection:
    """The set of mention names that get no knowledge (stoplist + names above ``max_df``)."""

    def __init__(self, stoplist: str | os.PathLike | Sequence[str] | None = None, max_df: float | None = None) -> None:
        if max_df is not None and not (isinstance(max_df, (int, float)) and 0.0 < max_df <= 1.0):
            raise ValueError(f"max_df must be a share in (0, 1], got {max_df!r}")
        self.stoplist = load_stoplist(stoplist)
        self.max_df = max_df
        self.frequent: frozenset[str] = frozenset()
        self.fitted = max_df is None
        self.df: Counter[str] = Counter()
        self.n_sentences = 0

    @property
    def blocked(self) -> frozenset[str]:
        return self.stoplist | self.frequent

    def fit(self, texts: Iterable[Any], names_of: Callable[[Any], Iterable[str]]) -> "KnowledgeSelection":
        """Count, per mention name, the training sentences it occurs in; block those above ``max_df``."""
        if self.max_df is None:
            return self
        df: Counter[str] = Counter()
        n = 0
        for item in texts:
            n += 1
            df.update(set(names_of(item)))
        self.df, self.n_sentences = df, n
        limit = self.max_df * n
        self.frequent = frozenset(name for name, c in df.items() if c > limit)
        self.fitted = True
        return self

    def saved_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` as inference must use them: ``max_df`` replaced by the names it blocked."""
        out = {k: v for k, v in options.items() if k not in ("max_df", "stoplist")}
        if self.blocked:
            out["stoplist"] = sorted(self.blocked)
        return out
