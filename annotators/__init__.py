"""Annotators: word segmentation, entity and phrase detection, SRL, and the annotation contract.

This package never imports ``kgbert``.
"""
from annotators.annotation import (
    Annotation,
    AnnotationError,
    Argument,
    Entity,
    Frame,
    Span,
    read_jsonl,
    resolve_entity_overlaps,
    write_jsonl,
)

__all__ = [
    "Annotation",
    "AnnotationError",
    "Argument",
    "Entity",
    "Frame",
    "Span",
    "read_jsonl",
    "resolve_entity_overlaps",
    "write_jsonl",
    "make_pipeline",
    "to_annotation",
    "from_annotation",
    "register_extensions",
]

# spaCy-based parts load on first use, so ``import annotators`` stays light for readers of records.
_LAZY = {
    "make_pipeline": "annotators.pipeline",
    "to_annotation": "annotators.convert",
    "from_annotation": "annotators.convert",
    "register_extensions": "annotators.extensions",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'annotators' has no attribute {name!r}")
