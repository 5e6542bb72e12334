"""Annotator names (a leaf module: importing it loads neither spaCy nor any other part).

An encoder names the annotations it reads (:class:`kgbert.registry.EncoderSpec` ``annotators``)
with these names: ``words`` (the pipeline tokenizer's segmentation, there whenever the pipeline
runs) and the pipeline components of :data:`COMPONENTS`.
"""
from __future__ import annotations

from typing import Sequence

COMPONENTS: dict[str, str] = {
    "kg_entities": "kgbert_kg_entities_v1",
    "entities": "kgbert_entities_v1",
    "phrases": "kgbert_phrases_v1",
    "srl": "kgbert_srl_v2",
}
"""Short component name -> factory name (its version is the factory's ``_v<N>``), in pipeline order."""

WORDS = "words"
TOKENIZER = "kgbert.zh_tokenizer.v1"

ANNOTATORS: dict[str, str] = {WORDS: TOKENIZER, **COMPONENTS}
"""Every annotator name -> its versioned factory (what a cache of annotations is keyed by)."""

KG_COMPONENTS: tuple[str, ...] = ("kg_entities",)
"""Components that need a KG store."""


def usable_components(names: Sequence[str], has_kg: bool) -> tuple[str, ...]:
    """``names`` without those that need a KG when there is none."""
    unknown = [n for n in names if n not in ANNOTATORS]
    if unknown:
        raise ValueError(f"unknown annotator(s) {unknown}; known: {list(ANNOTATORS)}")
    return tuple(n for n in names if has_kg or n not in KG_COMPONENTS)


def pipeline_components(names: Sequence[str]) -> tuple[str, ...]:
    """The :func:`annotators.make_pipeline` components of ``names`` (``words`` needs none: the
    tokenizer makes them), in pipeline order."""
    return tuple(c for c in COMPONENTS if c in names)


__all__ = ["ANNOTATORS", "COMPONENTS", "KG_COMPONENTS", "TOKENIZER", "WORDS", "pipeline_components", "usable_components"]
