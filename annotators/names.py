"""Component names (a leaf module: importing it loads neither spaCy nor any other part)."""
from __future__ import annotations

COMPONENTS: dict[str, str] = {
    "kg_entities": "kgbert_kg_entities_v1",
    "entities": "kgbert_entities_v1",
    "phrases": "kgbert_phrases_v1",
    "srl": "kgbert_srl_v1",
}
"""Short component name -> factory name (its version is the factory's ``_v<N>``), in pipeline order."""

KG_COMPONENTS: tuple[str, ...] = ("kg_entities",)
"""Components that need a KG store."""



def usable_components(components: "tuple[str, ...] | list[str]", has_kg: bool) -> tuple[str, ...]:
    """``components`` without those that need a KG when there is none."""
    return tuple(c for c in components if has_kg or c not in KG_COMPONENTS)


__all__ = ["COMPONENTS", "KG_COMPONENTS", "usable_components"]
