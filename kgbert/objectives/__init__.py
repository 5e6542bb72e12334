"""Pretraining objectives, one per file, by name (``model.objectives`` in a pretraining config).

``mlm`` is always on. A sentence objective (at most one: ``nsp`` (BERT), ``sop`` (ALBERT) or
``sso`` (StructBERT's 3-way next/previous/random)) switches the data from FULL-SENTENCES packing to
sentence pairs and the model to :class:`~kgbert.models.modeling_pretraining.BertForSparsePreTraining`.
Plug-in objectives (:class:`~kgbert.objectives.plugin.PluginObjective`: ``sbo`` (SpanBERT's span
boundary objective), ``wso`` (StructBERT's word structural objective), ``sso``) add their loss and
head to the sparse pretraining models and ask the collator for what they read. ``dea`` (ERNIE-THU's
denoising entity auto-encoder) is trained by the ``ernie_thu`` family
(:class:`~kgbert.models.modeling_ernie_thu.ErnieThuForPreTraining`) on a corpus with KG links.
"""
from __future__ import annotations

from kgbert.objectives.dea import DenoisingEntityAutoEncoder
from kgbert.objectives.mlm import MaskedLM
from kgbert.objectives.nsp import NextSentencePrediction
from kgbert.objectives.plugin import HeadContext, PluginObjective
from kgbert.objectives.sbo import SpanBoundaryObjective
from kgbert.objectives.sentence import SentenceObjective
from kgbert.objectives.sop import SentenceOrderPrediction
from kgbert.objectives.sso import SentenceStructuralObjective
from kgbert.objectives.wso import WordStructuralObjective

OBJECTIVES: dict[str, type] = {
    "mlm": MaskedLM,
    "nsp": NextSentencePrediction,
    "sop": SentenceOrderPrediction,
    "sbo": SpanBoundaryObjective,
    "wso": WordStructuralObjective,
    "sso": SentenceStructuralObjective,
    "dea": DenoisingEntityAutoEncoder,
}


def sentence_objective(objectives: list[str]) -> SentenceObjective | None:
    """The sentence objective among ``objectives`` (an instance), or None."""
    names = [o for o in objectives if getattr(OBJECTIVES.get(o), "sentence", False)]
    return OBJECTIVES[names[0]]() if names else None


def plugin_objectives(objectives: list[str]) -> list[PluginObjective]:
    """Instances of the plug-in objectives among ``objectives``, in order."""
    return [OBJECTIVES[o]() for o in objectives if issubclass(OBJECTIVES[o], PluginObjective)]


def check_objectives(objectives: list[str], strategy: str) -> str | None:
    """What is wrong with an objective list for a masking strategy (a message), or None."""
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown:
        return f"unknown objective(s) {unknown}; known: {sorted(OBJECTIVES)}"
    if "mlm" not in objectives or len(set(objectives)) != len(objectives):
        return f"model.objectives must contain mlm once and no objective twice, found {objectives}"
    sentence = [o for o in objectives if getattr(OBJECTIVES[o], "sentence", False)]
    if len(sentence) > 1:
        return f"at most one sentence objective, found {sentence}"
    for o in objectives:
        need = getattr(OBJECTIVES[o], "requires_strategy", None)
        if need and need != strategy:
            return f"objective {o!r} needs masking.strategy {need!r}, found {strategy!r}"
    return None


def entity_objective(objectives: list[str], **options: float) -> DenoisingEntityAutoEncoder | None:
    """The entity objective (``dea``) when ``objectives`` names it, else None."""
    return DenoisingEntityAutoEncoder(**options) if "dea" in objectives else None


__all__ = ["OBJECTIVES", "DenoisingEntityAutoEncoder", "HeadContext", "MaskedLM", "NextSentencePrediction", "PluginObjective", "SentenceObjective",
           "SentenceOrderPrediction", "SentenceStructuralObjective", "SpanBoundaryObjective", "WordStructuralObjective",
           "check_objectives", "entity_objective", "plugin_objectives", "sentence_objective"]
