"""Export a store (or the k-hop neighbourhood of some entities) to rdflib, networkx and RDF files.

Entity and relation names become IRIs in the kgbert namespaces (percent-encoded names, see
:func:`knowledge.readers.name_to_iri`); importing such a file with ``build_kg`` gives the names
back, so ``to_rdf`` -> ``build_kg`` round-trips exactly.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from .readers import name_to_iri
from .store import KnowledgeGraph, PathLike, Triple


def _kg(store: KnowledgeGraph | PathLike) -> KnowledgeGraph:
    return store if isinstance(store, KnowledgeGraph) else KnowledgeGraph.open(store)


def _triples(kg: KnowledgeGraph, entities: Iterable[str] | None, hops: int,
             direction: str) -> Iterator[Triple]:
    if entities is None:
        return kg.iter_triples()
    return iter(kg.neighbourhood(entities, hops=hops, direction=direction))


def to_rdflib(store: KnowledgeGraph | PathLike, entities: Iterable[str] | None = None,
              hops: int = 1, direction: str = "out"):
    """An ``rdflib.Graph`` of the whole store, or of the ``hops``-hop neighbourhood of
    ``entities`` (see :meth:`KnowledgeGraph.neighbourhood`). Loads everything in memory."""
    import rdflib

    g = rdflib.Graph()
    g.bind("kge", rdflib.Namespace(name_to_iri("")))
    g.bind("kgr", rdflib.Namespace(name_to_iri("", relation=True)))
    for s, p, o in _triples(_kg(store), entities, hops, direction):
        g.add((rdflib.URIRef(name_to_iri(s)), rdflib.URIRef(name_to_iri(p, relation=True)),
               rdflib.URIRef(name_to_iri(o))))
    return g


def to_networkx(store: KnowledgeGraph | PathLike, entities: Iterable[str] | None = None,
                hops: int = 1, direction: str = "out"):
    """A ``networkx.MultiDiGraph``: nodes are entity names (attribute ``id``), one edge
    subject -> object per triple with ``key`` and attribute ``predicate`` = the relation name."""
    import networkx as nx

    kg = _kg(store)
    g = nx.MultiDiGraph(name=kg.name)
    if entities is None:  # whole store: use the id maps instead of a query per node
        names = kg.entity_names()
        rels = kg.relation_names()
        g.add_nodes_from((name, {"id": i}) for i, name in enumerate(names))
        for batch in kg.iter_batches(ids=True):
            g.add_edges_from((names[s], names[o], rels[p], {"predicate": rels[p]}) for s, p, o in batch)
        return g
    for s, p, o in _triples(kg, entities, hops, direction):
        for node in (s, o):
            if node not in g:
                g.add_node(node, id=kg.entity_id(node))
        g.add_edge(s, o, key=p, predicate=p)
    return g


def to_rdf(store: KnowledgeGraph | PathLike, path: PathLike, format: str = "nt",
           entities: Iterable[str] | None = None, hops: int = 1, direction: str = "out") -> Path:
    """Write the store (or a neighbourhood) as N-Triples (``"nt"``, streamed, any size) or Turtle
    (``"turtle"``, through rdflib in memory). Written to a temp file, then renamed. ``.gz`` paths
    are gzip-compressed."""
    import gzip

    if format not in ("nt", "turtle"):
        raise ValueError("format must be 'nt' or 'turtle'")
    kg = _kg(store)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        from .matcher import _umask

        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual mode
        with os.fdopen(fd, "wb") as raw:
            fh = gzip.GzipFile(fileobj=raw, mode="wb") if path.suffix == ".gz" else raw
            if format == "nt":
                for s, p, o in _triples(kg, entities, hops, direction):
                    fh.write(f"<{name_to_iri(s)}> <{name_to_iri(p, True)}> <{name_to_iri(o)}> .\n"
                             .encode("utf-8"))
            else:
                fh.write(to_rdflib(kg, entities, hops, direction).serialize(format="turtle")
                         .encode("utf-8"))
            if fh is not raw:
                fh.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
