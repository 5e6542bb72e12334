"""Pretraining objectives, one per file, by name (``model.objectives`` in a pretraining config).

``mlm`` is always on; ``nsp`` (BERT) or ``sop`` (ALBERT) adds a sentence-pair target, which
switches the data from FULL-SENTENCES packing to sentence pairs and the model to
:class:`~kgbert.models.modeling_pretraining.BertForSparsePreTraining`. ``dea`` (ERNIE-THU's
denoising entity auto-encoder) switches the model to
:class:`~kgbert.models.modeling_ernie_thu.ErnieThuForPreTraining` and needs KG links in the corpus.
"""
from kgbert.objectives.dea import DenoisingEntityAutoEncoder
from kgbert.objectives.mlm import MaskedLM
from kgbert.objectives.nsp import NextSentencePrediction
from kgbert.objectives.sentence import SentenceObjective
from kgbert.objectives.sop import SentenceOrderPrediction

OBJECTIVES = {"mlm": MaskedLM, "nsp": NextSentencePrediction, "sop": SentenceOrderPrediction,
              "dea": DenoisingEntityAutoEncoder}


def sentence_objective(objectives: list[str]) -> SentenceObjective | None:
    """The sentence objective among ``objectives`` (an instance), or None."""
    names = [o for o in objectives if o in ("nsp", "sop")]
    return OBJECTIVES[names[0]]() if names else None


def entity_objective(objectives: list[str], **options: float) -> DenoisingEntityAutoEncoder | None:
    """The entity objective (``dea``) when ``objectives`` names it, else None."""
    return DenoisingEntityAutoEncoder(**options) if "dea" in objectives else None


__all__ = ["OBJECTIVES", "DenoisingEntityAutoEncoder", "MaskedLM", "NextSentencePrediction", "SentenceObjective",
           "SentenceOrderPrediction", "entity_objective", "sentence_objective"]
