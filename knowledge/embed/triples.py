"""Id-mapped triples for embedding training, from a store or from benchmark triple files.

Ids are the store's own: entity ``i`` of a :class:`knowledge.KnowledgeGraph` is row ``i`` of
every array here and of the exported embedding table. Triple files (``head<TAB>relation<TAB>tail``,
one per line, e.g. FB15k-237 / WN18RR) get ids by first appearance over the files in the order
given (train, valid, test), a triple's head before its tail: the convention ``build_kg`` uses.

Nothing here imports PyKEEN; :func:`to_pykeen` converts to a PyKEEN triples factory.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..build import BadInputError, BadLine
from ..store import KnowledgeGraph, PathLike

if TYPE_CHECKING:  # pragma: no cover
    from pykeen.triples import CoreTriplesFactory

SPLITS = ("train", "valid", "test")


@dataclass
class TripleSplits:
    """Id-mapped triples: ``splits[name]`` is an ``int64`` array ``[n, 3]`` of (head, relation, tail).

    ``entity_names[i]`` / ``relation_names[j]`` name entity ``i`` / relation ``j``. ``build_id``
    identifies the source: the store's ``meta.build_id``, or for triple files a content hash
    (``files-...``), so an export can be checked against the graph it was trained on.
    """

    splits: dict[str, np.ndarray]
    entity_names: list[str]
    relation_names: list[str]
    build_id: str
    source: dict = field(default_factory=dict)

    @property
    def num_entities(self) -> int:
        return len(self.entity_names)

    @property
    def num_relations(self) -> int:
        return len(self.relation_names)

    def all_triples(self) -> np.ndarray:
        """All splits stacked (train first)."""
        return np.concatenate([self.splits[k] for k in self.splits], axis=0)


def from_store(store: PathLike | KnowledgeGraph, batch_size: int = 200_000) -> TripleSplits:
    """All triples of a ``build_kg`` store as one ``train`` split, with the store's ids."""
    kg = store if isinstance(store, KnowledgeGraph) else KnowledgeGraph.open(store)
    chunks = [np.asarray(batch, dtype=np.int64).reshape(-1, 3)
              for batch in kg.iter_batches(batch_size=batch_size, ids=True)]
    triples = np.concatenate(chunks, axis=0) if chunks else np.zeros((0, 3), dtype=np.int64)
    if len(triples) == 0:
        raise ValueError(f"{kg.path}: the store has no triples to embed")
    return TripleSplits(splits={"train": triples}, entity_names=kg.entity_names(),
                        relation_names=list(kg.relation_names()), build_id=kg.build_id,
                        source={"kind": "store", "path": str(Path(kg.path).resolve()),
                                "name": kg.name})


def read_triple_file(path: PathLike) -> list[tuple[str, str, str]]:
    """The (head, relation, tail) lines of a tab-separated file; blank lines are skipped.

    A line without exactly three non-empty tab-separated fields raises
    :class:`knowledge.BadInputError` naming ``file:line``.
    """
    path = Path(path)
    out: list[tuple[str, str, str]] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                raise BadInputError(BadLine(str(path), lineno,
                                            f"expected 3 tab-separated fields (head, relation, tail), "
                                            f"got {len(parts)}: {line[:80]!r}"))
            h, r, t = (p.strip() for p in parts)
            if not (h and r and t):
                raise BadInputError(BadLine(str(path), lineno, f"empty field in {line[:80]!r}"))
            out.append((h, r, t))
    return out


def from_files(train: PathLike, valid: PathLike | None = None,
               test: PathLike | None = None) -> TripleSplits:
    """Benchmark splits from triple files; ids by first appearance over train, valid, test."""
    paths = {k: Path(p) for k, p in zip(SPLITS, (train, valid, test)) if p is not None}
    ents: dict[str, int] = {}
    rels: dict[str, int] = {}
    splits: dict[str, np.ndarray] = {}
    digest = hashlib.sha256()
    for name, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"no triple file at {path} (--{name})")
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
        rows = []
        for h, r, t in read_triple_file(path):
            hi = ents.setdefault(h, len(ents))
            ri = rels.setdefault(r, len(rels))
            rows.append((hi, ri, ents.setdefault(t, len(ents))))
        if not rows:
            raise ValueError(f"{path}: no triples")
        splits[name] = np.asarray(rows, dtype=np.int64)
    return TripleSplits(splits=splits, entity_names=list(ents), relation_names=list(rels),
                        build_id="files-" + digest.hexdigest()[:32],
                        source={"kind": "files", **{k: str(p.resolve()) for k, p in paths.items()}})


def split_triples(data: TripleSplits, ratios: Sequence[float], seed: int = 0) -> TripleSplits:
    """Split the single ``train`` split of ``data`` into train/valid(/test) by ``ratios``.

    Uses PyKEEN's split (``method="cleanup"``): a seeded random split, then triples whose entity
    or relation does not occur in train are moved back into train, so valid/test can come out
    smaller than asked on sparse graphs (ids are unchanged). Ratios summing to less than 1 are
    completed by train.
    """
    if set(data.splits) != {"train"}:
        raise ValueError("split_triples expects data with only a train split")
    ratios = [float(r) for r in ratios]
    if not ratios or any(r < 0 for r in ratios) or sum(ratios) > 1 + 1e-9:
        raise ValueError(f"bad split ratios {ratios}: need non-negative fractions summing to <= 1")
    if len(ratios) == 1 or all(r == 0 for r in ratios[1:]):
        return data
    factory = to_pykeen(data.splits["train"], data.num_entities, data.num_relations)
    parts = factory.split(ratios, random_state=seed, method="cleanup")
    out = {name: part.mapped_triples.numpy().astype(np.int64)
           for name, part in zip(SPLITS, parts)}
    return TripleSplits(splits=out, entity_names=data.entity_names,
                        relation_names=data.relation_names, build_id=data.build_id,
                        source={**data.source, "split": ratios, "split_seed": seed})


def to_pykeen(triples: np.ndarray, num_entities: int, num_relations: int) -> "CoreTriplesFactory":
    """A PyKEEN triples factory over our ids (no relabelling: id ``i`` stays ``i``)."""
    import torch
    from pykeen.triples import CoreTriplesFactory

    mapped = torch.as_tensor(np.ascontiguousarray(triples, dtype=np.int64))
    return CoreTriplesFactory(mapped_triples=mapped, num_entities=num_entities,
                              num_relations=num_relations)
