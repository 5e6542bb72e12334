"""Knowledge graphs: import, store, lookup, mention matching, interop and embeddings.

This package never imports ``kgbert``.

>>> from knowledge import build_kg, KnowledgeGraph, EntityMatcher, demo_kg_source
>>> build_kg([demo_kg_source()], "demo.sqlite", force=True)          # doctest: +SKIP
>>> kg = KnowledgeGraph.open("demo.sqlite")                          # doctest: +SKIP
>>> kg.lookup("高血压", limit=2)                                      # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from .build import BadInputError, BadLine, BuildError, BuildReport, build_kg
from .matcher import EntityMatcher, Match
from .store import FORMAT_VERSION, KnowledgeGraph, StoreChangedError, Triple

_DATA = Path(__file__).resolve().parent / "data"


def demo_kg_source() -> Path:
    """The bundled demo KG (``knowledge/data/demo_kg.spo``: a small medical + finance KG written
    for this project; see ``knowledge/data/README.md``)."""
    return _DATA / "demo_kg.spo"


def __getattr__(name: str):
    # interop pulls in rdflib / networkx: import it only when used
    if name in ("to_rdf", "to_rdflib", "to_networkx"):
        from . import interop

        return getattr(interop, name)
    raise AttributeError(f"module 'knowledge' has no attribute {name!r}")


__all__ = ["BadInputError", "BadLine", "BuildError", "BuildReport", "EntityMatcher", "FORMAT_VERSION",
           "KnowledgeGraph", "Match", "StoreChangedError", "Triple", "build_kg", "demo_kg_source", "to_networkx",
           "to_rdf", "to_rdflib"]
