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
]
