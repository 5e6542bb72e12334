"""Annotations at training time: an :class:`annotators.Annotation` per example, for the featuriser.

Two sources (``data.annotations`` / ``data.annotate`` in a run config):

- **a JSONL file the user supplies**, one line per example of the split, in order: an
  :class:`~annotators.Annotation` record (``{"text": ..., "words": ..., "entities": ...}``) for
  single texts, ``{"a": {...}, "b": {...}}`` for pairs. Each record's ``text`` must be the
  example's text (``text_a``; for NER the concatenated tokens): a mismatch is an error naming the
  annotation file's line and the example's ``file:line``.
- **computed by the annotators** (:func:`annotators.make_pipeline` with the encoder's annotators)
  once and cached as such a JSONL file, keyed by the split file's content, the components and
  their versions (factory names end in ``_v<N>``), the KG store's content, the content of a model
  directory an option names (``srl_model``: a tagger retrained into the same directory is a new
  key) and the package versions of spaCy and jieba. A cached file is never rewritten (written to a temporary file and
  renamed), so runs and seeds share it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

from annotators import Annotation, AnnotationError
from kgbert.data.example import Example
from kgbert.files import file_sha256

ANNOTATION_CACHE_VERSION = 1


class AnnotationFileError(ValueError):
    """An annotation file that does not fit its examples; names the file and line."""


def _record(ex: Example) -> dict[str, Any]:
    return {"a": ex.ann_a.to_dict(), "b": ex.ann_b.to_dict()} if ex.ann_b is not None else ex.ann_a.to_dict()  # type: ignore[union-attr]


def _check_text(ann: Annotation, text: str | None, where: str, ex: Example) -> None:
    if ann.text != text:
        raise AnnotationFileError(
            f"{where}: annotation text {ann.text[:30]!r} does not match the text of example {ex.source} ({(text or '')[:30]!r})"
        )


def read_annotations(path: str | os.PathLike, examples: Sequence[Example]) -> list[Example]:
    """``examples`` with ``ann_a``/``ann_b`` set from the JSONL file ``path`` (one line per example)."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationFileError(f"{path}: no such annotation file")
    out: list[Example] = []
    with open(path, encoding="utf-8") as fh:
        lines = [(i, line) for i, line in enumerate(fh, 1) if line.strip()]
    if len(lines) != len(examples):
        raise AnnotationFileError(f"{path}: {len(lines)} annotation records for {len(examples)} examples")
    for (lineno, line), ex in zip(lines, examples):
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
            pair = isinstance(obj, dict) and "a" in obj and "text" not in obj
            ann_a = Annotation.from_dict(obj["a"] if pair else obj)
            ann_b = Annotation.from_dict(obj["b"]) if pair and obj.get("b") is not None else None
        except (json.JSONDecodeError, AnnotationError, KeyError, TypeError) as e:
            raise AnnotationFileError(f"{where}: invalid annotation record ({e})") from None
        _check_text(ann_a, ex.text_a, where, ex)
        if ex.text_b is not None:
            if ann_b is None:
                raise AnnotationFileError(f"{where}: example {ex.source} is a pair: expected {{\"a\": ..., \"b\": ...}}")
            _check_text(ann_b, ex.text_b, where, ex)
        out.append(Example(**{**ex.__dict__, "ann_a": ann_a, "ann_b": ann_b}))
    return out


def write_annotations(path: str | os.PathLike, examples: Sequence[Example]) -> None:
    """Write the examples' annotations as one JSONL line each (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for ex in examples:
                fh.write(json.dumps(_record(ex), ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def annotator_fingerprint(components: Sequence[str], kg_path: str | os.PathLike | None, options: dict[str, Any]) -> dict[str, Any]:
    """What annotations depend on besides the text: components with their versions, the KG's
    content, the annotator options and the versions of spaCy and jieba."""
    from importlib.metadata import PackageNotFoundError, version

    from annotators.names import ANNOTATORS

    unknown = [c for c in components if c not in ANNOTATORS]
    if unknown:
        raise ValueError(f"unknown annotator(s) {unknown}; known: {list(ANNOTATORS)}")
    versions: dict[str, str | None] = {}
    for pkg in ("spacy", "jieba"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    kg_sha = None
    if kg_path is not None:
        p = Path(kg_path)
        kg_sha = file_sha256(p) if p.is_file() else str(p.resolve())
    fingerprint = {
        "v": ANNOTATION_CACHE_VERSION,
        "components": [ANNOTATORS[c] for c in components],
        "kg": kg_sha,
        "options": options,
        "packages": versions,
    }
    if "srl" in components and options.get("srl_model") is not None:
        fingerprint["srl_model_files"] = _model_dir_digest(options["srl_model"])
    return fingerprint


def _model_dir_digest(path: str | os.PathLike) -> dict[str, str] | None:
    """SHA-256 of each file of a saved model directory (None when it is not a directory: the
    annotators then report the missing model)."""
    p = Path(path)
    if not p.is_dir():
        return None
    return {f.name: file_sha256(f) for f in sorted(p.iterdir()) if f.is_file()}


def annotate_examples(
    examples: Sequence[Example],
    components: Sequence[str],
    *,
    kg_path: str | os.PathLike | None,
    cache_path: str | os.PathLike | None = None,
    options: dict[str, Any] | None = None,
    progress: bool = True,
    desc: str = "annotate",
) -> list[Example]:
    """``examples`` annotated by the annotators ``components`` (read from ``cache_path`` when it
    exists, else computed and written there)."""
    if cache_path is not None and Path(cache_path).is_file():
        return read_annotations(cache_path, examples)
    import annotators
    from annotators.names import pipeline_components
    from tqdm.auto import tqdm

    nlp = annotators.make_pipeline(
        kg=None if kg_path is None else str(kg_path), components=pipeline_components(components), **(options or {})
    )
    texts = [ex.text_a for ex in examples]
    pairs = [ex.text_b for ex in examples if ex.text_b is not None]
    docs = nlp.pipe(texts + pairs, batch_size=64)
    anns = [annotators.to_annotation(d) for d in tqdm(docs, total=len(texts) + len(pairs), desc=desc, disable=not progress, leave=False)]
    out = []
    k = len(texts)
    for i, ex in enumerate(examples):
        ann_b = None
        if ex.text_b is not None:
            ann_b, k = anns[k], k + 1
        out.append(Example(**{**ex.__dict__, "ann_a": anns[i], "ann_b": ann_b}))
    if cache_path is not None:
        write_annotations(cache_path, out)
    return out


def annotation_cache_key(examples: Sequence[Example], fingerprint: dict[str, Any]) -> str:
    """Cache key of one split's annotations: the annotator fingerprint and the texts of the examples
    annotated, in order (so a dev carved from train, another limit or another file each get their own
    entry, and an unchanged split keeps its entry whatever the file is called)."""
    h = hashlib.sha256()
    h.update(json.dumps(fingerprint, sort_keys=True, default=str).encode())
    for ex in examples:
        h.update(b"\x1e" + ex.text_a.encode())
        if ex.text_b is not None:
            h.update(b"\x1f" + ex.text_b.encode())
    return h.hexdigest()


__all__ = [
    "AnnotationFileError",
    "annotate_examples",
    "annotation_cache_key",
    "annotator_fingerprint",
    "read_annotations",
    "write_annotations",
]
