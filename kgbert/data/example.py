"""The task-level example every reader produces and every featuriser consumes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from annotators import Annotation


@dataclass
class Example:
    """One labelled (or unlabelled) input.

    - sequence classification: ``text_a`` + ``label``
    - sentence-pair classification: ``text_a`` + ``text_b`` + ``label``
    - token classification (NER): ``tokens`` (one entry per original token, usually a character;
      ``text_a == "".join(tokens)``) + ``tags`` (one tag per token)
    - entity typing: ``text_a`` with the mention marked + ``label``, the ``|``-joined types
      (:attr:`types`; the readers also put the list in ``meta["types"]``)
    ``ann_a``/``ann_b`` carry annotations (entities, words, phrases, SRL) when the pipeline made
    them; featurisers that need annotations and find none compute what they need themselves.
    ``source`` is ``"file:line"`` for error messages.
    """

    text_a: str
    text_b: str | None = None
    label: str | None = None
    tokens: list[str] | None = None
    tags: list[str] | None = None
    ann_a: Annotation | None = None
    ann_b: Annotation | None = None
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def types(self) -> list[str]:
        """Entity typing: the example's types (``meta["types"]``, else its ``|``-separated label; [] unlabelled)."""
        types = self.meta.get("types")
        if types is not None:
            return list(types)
        return [] if self.label is None else self.label.split("|")
