"""Pretraining objectives, one per file, by name (``model.objectives`` in a pretraining config)."""
from kgbert.objectives.mlm import MaskedLM

OBJECTIVES = {"mlm": MaskedLM}

__all__ = ["OBJECTIVES", "MaskedLM"]
