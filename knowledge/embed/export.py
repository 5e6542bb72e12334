"""Embedding exports: safetensors tables + JSON id maps, tied to the store's ``build_id``.

An export is a directory::

    embeddings.safetensors  entity [num_entities, d] and relation [num_relations, d'] float32
                            (extra representations of a model as entity.1, relation.1, ...);
                            header metadata: format, build_id, model
    ids.json                {"build_id", "entities": [name of id 0, ...], "relations": [...]}
    meta.json               build_id, source, model and training config, metrics, timings
    metrics.md              the metrics table (Markdown)

Row ``i`` of ``entity`` is the store's entity id ``i`` (``KnowledgeGraph.entity_id(name)``).
Loading maps the tables read-only straight from the file (``numpy.memmap`` at the offsets of the
safetensors header), so opening takes milliseconds whatever the table size; rows are read from
disk (or the page cache) when touched. Only safetensors and JSON are read: no file here can run
code. Nothing here imports PyKEEN or torch (``tensor()`` imports torch when called).
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ..store import KnowledgeGraph, PathLike

EXPORT_FORMAT = "kgbert-kge"
EXPORT_VERSION = 1
TABLES = "embeddings.safetensors"
IDS = "ids.json"
META = "meta.json"
METRICS_MD = "metrics.md"
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": None}


class BuildMismatchError(ValueError):
    """The embeddings were trained on another build of the store than the one given."""


class ExportExistsError(FileExistsError):
    """The output directory exists and overwriting was not asked for."""


# -- writing --------------------------------------------------------------------------------------
def check_writable(out: PathLike, force: bool = False) -> Path:
    """Fail early if ``out`` exists (without ``force``) or is not an export we may replace."""
    out = Path(out)
    if out.exists():
        if not force:
            raise ExportExistsError(f"{out} already exists; pass --force (force=True) to replace it")
        if not is_export(out):
            raise ExportExistsError(f"{out} exists and is not an embedding export "
                                    f"(no {META} with format {EXPORT_FORMAT!r}); refusing to replace it")
    return out


def is_export(path: PathLike) -> bool:
    meta = Path(path) / META
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("format") == EXPORT_FORMAT
    except (OSError, ValueError):
        return False


def write_export(out: PathLike, *, entity: Mapping[str, np.ndarray] | np.ndarray,
                 relation: Mapping[str, np.ndarray] | np.ndarray, entity_names: list[str],
                 relation_names: list[str], build_id: str, meta: dict[str, Any] | None = None,
                 metrics_md: str | None = None, force: bool = False) -> Path:
    """Write an export directory atomically (temp directory beside ``out``, then rename).

    ``entity`` / ``relation``: one ``[n, d]`` array, or ``{"entity": ..., "entity.1": ...}``.
    An existing ``out`` is replaced only with ``force`` and only if it is an export itself.
    """
    from safetensors.numpy import save_file

    out = check_writable(out, force)
    tensors: dict[str, np.ndarray] = {}
    for kind, tables, names in (("entity", entity, entity_names), ("relation", relation, relation_names)):
        if isinstance(tables, np.ndarray):
            tables = {kind: tables}
        if kind not in tables:
            raise ValueError(f"no {kind!r} table given")
        for key, arr in tables.items():
            arr = np.ascontiguousarray(arr, dtype=np.float32)
            if arr.ndim != 2 or arr.shape[0] != len(names):
                raise ValueError(f"{key}: expected shape [{len(names)}, d], got {list(arr.shape)}")
            tensors[key] = arr
    header = {"format": EXPORT_FORMAT, "format_version": str(EXPORT_VERSION), "build_id": build_id,
              "model": str((meta or {}).get("config", {}).get("model", ""))}
    full_meta = {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, "build_id": build_id,
                 "num_entities": len(entity_names), "num_relations": len(relation_names),
                 "tables": {k: list(v.shape) for k, v in tensors.items()}, **(meta or {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        save_file(tensors, str(tmp / TABLES), metadata=header)
        _write_json(tmp / IDS, {"build_id": build_id, "entities": entity_names,
                                "relations": relation_names})
        _write_json(tmp / META, full_meta, indent=2)
        if metrics_md is not None:
            (tmp / METRICS_MD).write_text(metrics_md, encoding="utf-8")
        _default_permissions(tmp)
        _replace_dir(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_json(path: Path, obj: Any, indent: int | None = None) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=indent)
        fh.write("\n")


def _default_permissions(folder: Path) -> None:
    """mkdtemp makes a private (0700) folder: give the export the usual umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    for f in folder.iterdir():
        f.chmod(0o666 & ~umask)
    folder.chmod(0o777 & ~umask)


def _replace_dir(tmp: Path, out: Path, force: bool) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    check_writable(out, force)  # re-check right before replacing
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, old / out.name)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old / out.name, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


# -- loading --------------------------------------------------------------------------------------
def _safetensors_layout(path: Path) -> tuple[int, dict[str, Any]]:
    """(data start offset, header dict) of a safetensors file."""
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: not a safetensors file (too short)")
        (n,) = struct.unpack("<Q", raw)
        if n > 100_000_000:
            raise ValueError(f"{path}: not a safetensors file (header size {n})")
        header = json.loads(fh.read(n))
    return 8 + n, header


@dataclass
class KGEmbeddings:
    """Entity and relation vectors of an export, memory-mapped read-only.

    ``entity[i]`` is the vector of the store's entity id ``i``; ``relation[j]`` of relation ``j``.
    """

    path: Path
    tables: dict[str, np.ndarray]
    build_id: str
    meta: dict[str, Any]
    _ids: dict[str, Any] | None = None

    @property
    def entity(self) -> np.ndarray:
        return self.tables["entity"]

    @property
    def relation(self) -> np.ndarray:
        return self.tables["relation"]

    @property
    def num_entities(self) -> int:
        return int(self.entity.shape[0])

    @property
    def dim(self) -> int:
        return int(self.entity.shape[1])

    def _id_maps(self) -> dict[str, Any]:
        if self._ids is None:
            self._ids = json.loads((self.path / IDS).read_text(encoding="utf-8"))
        return self._ids

    def entity_names(self) -> list[str]:
        """Entity names indexed by id (parsed from ``ids.json`` on first use)."""
        return self._id_maps()["entities"]

    def relation_names(self) -> list[str]:
        return self._id_maps()["relations"]

    def check_build(self, build_id: str, what: str = "the given store") -> None:
        """Raise :class:`BuildMismatchError` unless the export belongs to build ``build_id``."""
        if build_id != self.build_id:
            raise BuildMismatchError(
                f"the embeddings at {self.path} were trained on store build {self.build_id} "
                f"({self.meta.get('source', {}).get('path', '?')}), but {what} is build {build_id}: "
                f"entity ids differ between builds; retrain them with "
                f"python -m knowledge.embed --kg <store> --out <dir>")

    def tensor(self, name: str = "entity", dtype: Any = None, device: Any = None):
        """A torch tensor copy of table ``name`` (e.g. for a frozen ``nn.Embedding``)."""
        import torch

        t = torch.from_numpy(np.array(self.tables[name]))
        return t.to(device=device, dtype=dtype) if (dtype is not None or device is not None) else t

    def iter_tables(self) -> Iterator[tuple[str, np.ndarray]]:
        yield from self.tables.items()


def load_embeddings(path: PathLike, kg: PathLike | KnowledgeGraph | None = None, *,
                    build_id: str | None = None) -> KGEmbeddings:
    """Open an export (memory-mapped); with ``kg`` or ``build_id``, check it belongs to that build."""
    path = Path(path)
    tables_path = path / TABLES
    if not tables_path.is_file():
        raise FileNotFoundError(f"no embedding export at {path} (missing {TABLES}); "
                                f"train one with python -m knowledge.embed")
    meta = json.loads((path / META).read_text(encoding="utf-8"))
    if meta.get("format") != EXPORT_FORMAT or int(meta.get("format_version", -1)) > EXPORT_VERSION:
        raise ValueError(f"{path}: unsupported export (format {meta.get('format')!r} "
                         f"v{meta.get('format_version')}; this code reads {EXPORT_FORMAT} "
                         f"v{EXPORT_VERSION})")
    start, header = _safetensors_layout(tables_path)
    header_meta = header.pop("__metadata__", {}) or {}
    if header_meta.get("build_id") != meta.get("build_id"):
        raise ValueError(f"{path}: {TABLES} (build {header_meta.get('build_id')}) and {META} "
                         f"(build {meta.get('build_id')}) disagree; the export is damaged")
    tables: dict[str, np.ndarray] = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{tables_path}: table {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if end - begin != int(np.prod(shape)) * np.dtype(dtype).itemsize:
            raise ValueError(f"{tables_path}: table {name} has inconsistent offsets")
        tables[name] = np.memmap(tables_path, dtype=dtype, mode="r", offset=start + begin, shape=shape)
    emb = KGEmbeddings(path=path, tables=tables, build_id=str(meta["build_id"]), meta=meta)
    if kg is not None:
        store = kg if isinstance(kg, KnowledgeGraph) else KnowledgeGraph.open(kg)
        emb.check_build(store.build_id, f"the store {store.path}")
        if store.num_entities != emb.num_entities:
            raise BuildMismatchError(f"{path}: {emb.num_entities} entity vectors, but the store "
                                     f"{store.path} has {store.num_entities} entities")
    if build_id is not None:
        emb.check_build(build_id)
    return emb
