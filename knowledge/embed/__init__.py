"""KG embeddings (TransE and any other PyKEEN interaction model) for a ``build_kg`` store.

- :mod:`.triples`: a store or benchmark triple files -> id-mapped splits (the store's own ids)
  -> PyKEEN triples factory;
- :mod:`.training`: training from an :class:`EmbedConfig`, early stopping on validation MRR,
  filtered rank-based evaluation (PyKEEN; the optional ``kge`` extra);
- :mod:`.export`: safetensors tables + JSON id maps tied to the store's ``build_id``, loaded
  memory-mapped (needs neither PyKEEN nor torch);
- ``python -m knowledge.embed``: the command line.

>>> from knowledge.embed import load_embeddings                     # doctest: +SKIP
>>> emb = load_embeddings("runs/kge/medical", kg="runs/kg/medical.sqlite")
>>> emb.entity[kg.entity_id("高血压")]                              # its TransE vector
"""
from __future__ import annotations

from .export import (BuildMismatchError, ExportExistsError, KGEmbeddings, is_export,
                     load_embeddings, write_export)
from .triples import TripleSplits, from_files, from_store, read_triple_file, split_triples

_LAZY = {"EmbedConfig", "TrainResult", "train", "evaluate", "build_model", "metrics_markdown",
         "representations", "MissingDependency"}


def __getattr__(name: str):
    # .train imports nothing heavy itself, but keep PyKEEN-facing names behind one door
    if name in _LAZY:
        from . import training as _train

        return getattr(_train, name)
    raise AttributeError(f"module 'knowledge.embed' has no attribute {name!r}")


__all__ = ["BuildMismatchError", "EmbedConfig", "ExportExistsError", "KGEmbeddings",
           "MissingDependency", "TrainResult", "TripleSplits", "build_model", "evaluate",
           "from_files", "from_store", "is_export", "load_embeddings", "metrics_markdown",
           "read_triple_file", "representations", "split_triples", "train", "write_export"]
