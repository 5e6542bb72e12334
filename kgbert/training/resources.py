"""Run resources prepared before training: the knowledge graph store, annotations and the backbone.

- :func:`resolve_kg`: open ``kg.path``, or build ``kg.sources`` into a cache keyed by the
  sources' content hash and the build options (built once, reused by every run and seed).
- :func:`attach_annotations`: an :class:`annotators.Annotation` per example, from the user's
  JSONL files (``data.annotations``) or computed by the encoder's annotators once and cached
  (``data.annotate``; see :mod:`kgbert.data.annotations`).
- :func:`prepare_backbone`: a local checkpoint dir as given, or for a random init a checkpoint
  with a char vocab from the training data (+ ``model.vocab_sources``) written into the run dir.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from kgbert.data.example import Example
from kgbert.files import file_sha256
from kgbert.training.config import ConfigError, DataConfig, KGConfig, ModelConfig

KG_CACHE_VERSION = 1


def kg_cache_key(sources: Sequence[str], build_options: dict[str, Any]) -> str:
    """Hash of the sources' contents (in order), the build options and the store format version
    (a newer ``knowledge`` store format gets a fresh build instead of an unreadable cache)."""
    from knowledge import FORMAT_VERSION

    h = hashlib.sha256()
    payload = {"v": KG_CACHE_VERSION, "store_format": FORMAT_VERSION, "options": build_options}
    h.update(json.dumps(payload, sort_keys=True, default=str).encode())
    for src in sources:
        h.update(file_sha256(src).encode())
    return h.hexdigest()


def resolve_kg(cfg: KGConfig) -> Path | None:
    """The KG store path for this run (building it into the cache when needed), or None."""
    if cfg.path and cfg.sources:
        raise ConfigError("kg.path and kg.sources are exclusive: give an existing store or sources to build")
    if cfg.path:
        path = Path(cfg.path)
        if not path.exists():
            raise ConfigError(f"kg.path: no such KG store {path}")
        return path
    if not cfg.sources:
        return None
    for src in cfg.sources:
        if not Path(src).is_file():
            raise ConfigError(f"kg.sources: no such file {src}")
    from knowledge import build_kg

    key = kg_cache_key(cfg.sources, cfg.build_options)
    stem = Path(cfg.sources[0]).stem
    # One folder per store: files the KG tools keep beside a store (the matcher) stay with it.
    out = Path(cfg.cache_dir) / f"{stem}-{key[:16]}" / f"{stem}.sqlite"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        build_kg([str(s) for s in cfg.sources], str(out), **cfg.build_options)
    return out


def kg_info(path: Path | None, cfg: KGConfig) -> dict[str, Any]:
    """What goes into ``best/kg.json``: the store's path, content hash, counts and sources."""
    if path is None:
        return {"path": None}
    from knowledge import KnowledgeGraph

    kg = KnowledgeGraph.open(path)
    try:
        info = {
            "path": str(Path(path).resolve()),
            "sha256": file_sha256(path) if Path(path).is_file() else None,
            "name": getattr(kg, "name", None),
            "num_entities": kg.num_entities,
            "num_relations": kg.num_relations,
            "num_triples": kg.num_triples,
        }
    finally:
        if hasattr(kg, "close"):
            kg.close()
    info["sources"] = [{"path": str(Path(s).resolve()), "sha256": file_sha256(s)} for s in cfg.sources]
    return info


def attach_annotations(
    splits: dict[str, list[Example]],
    data: DataConfig,
    components: Sequence[str],
    kg_path: Path | None,
    progress: bool = True,
) -> dict[str, list[Example]]:
    """The splits with annotations: ``data.annotations[split]`` read as given, else (with
    ``data.annotate`` and an encoder that reads annotations) computed by ``components`` and
    cached under ``data.annotation_cache_dir``; other splits are returned unchanged (featurisers
    that need annotations then compute what they need themselves)."""
    from kgbert.data.annotations import annotate_examples, annotation_cache_key, annotator_fingerprint, read_annotations

    unknown = set(data.annotations) - {"train", "dev", "test"}
    if unknown:
        raise ConfigError(f"data.annotations: unknown split(s) {sorted(unknown)} (expected train, dev, test)")
    out = dict(splits)
    fingerprint = None
    for name, exs in splits.items():
        if name in data.annotations:
            out[name] = read_annotations(data.annotations[name], exs)
        elif data.annotate and components:
            if fingerprint is None:
                fingerprint = annotator_fingerprint(components, kg_path, data.annotator_options)
            source = getattr(data, name) or data.train  # a dev carved from train (data.dev_fraction)
            key = annotation_cache_key(exs, fingerprint)
            cache = Path(data.annotation_cache_dir) / f"{Path(source).stem}-{name}-{key[:16]}.jsonl"
            out[name] = annotate_examples(
                exs, components, kg_path=kg_path, cache_path=cache, options=data.annotator_options,
                progress=progress, desc=f"annotate {name}",
            )
    return out


def vocab_texts(examples: Sequence[Example], extra_files: Sequence[str]) -> list[str]:
    """Texts whose characters make the random-init char vocab (train texts + extra files)."""
    texts = [ex.text_a for ex in examples] + [ex.text_b for ex in examples if ex.text_b]
    for f in extra_files:
        if not Path(f).is_file():
            raise ConfigError(f"model.vocab_sources: no such file {f}")
        with open(f, encoding="utf-8") as fh:
            texts.extend(fh.read().splitlines())
    return texts


def prepare_backbone(cfg: ModelConfig, train_examples: Sequence[Example], run_dir: Path, seed: int) -> Path:
    """A local checkpoint dir: ``model.backbone``, or a random init written to ``run_dir/init``.

    The random init is seeded with ``seed`` and reused when the run resumes. Two configs with
    the same data, ``vocab_sources``, ``backbone_config`` and seed get the same vocab and weights.
    """
    if cfg.backbone and cfg.backbone_config:
        raise ConfigError("model.backbone and model.backbone_config are exclusive")
    if cfg.backbone:
        path = Path(cfg.backbone)
        if not (path / "config.json").is_file():
            raise ConfigError(f"model.backbone: {path} is not a checkpoint directory (no config.json)")
        return path
    if cfg.backbone_config is None:
        raise ConfigError("give model.backbone (a local checkpoint dir) or model.backbone_config (random init)")
    out = run_dir / "init"
    if (out / "config.json").is_file():
        return out
    from kgbert.checkpoints import build_char_vocab, make_random_checkpoint

    vocab = build_char_vocab(
        vocab_texts(train_examples, cfg.vocab_sources), min_count=cfg.vocab_min_count, max_size=cfg.vocab_max_size
    )
    from kgbert.registry import get_encoder

    make_random_checkpoint(out, vocab=vocab, seed=seed, family=get_encoder(cfg.encoder).backbone, **cfg.backbone_config)
    return out
