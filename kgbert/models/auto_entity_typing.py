"""``AutoModelForEntityTyping``: the Auto class of head kind ``"entity_typing"`` (transformers has
none). Encoders register their entity-typing model with it through the registry
(:data:`kgbert.registry.HEAD_AUTO_CLASSES`), so a saved model reloads with
``AutoModelForEntityTyping.from_pretrained(dir)``."""
from __future__ import annotations

from collections import OrderedDict

from transformers.models.auto.auto_factory import _BaseAutoModelClass, _LazyAutoMapping


class AutoModelForEntityTyping(_BaseAutoModelClass):
    """Auto class for entity typing; filled by :func:`kgbert.registry.register_auto_classes`."""

    _model_mapping = _LazyAutoMapping(OrderedDict(), OrderedDict())  # type: ignore[assignment]


__all__ = ["AutoModelForEntityTyping"]
