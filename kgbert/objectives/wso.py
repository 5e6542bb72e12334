"""StructBERT's word structural objective (Wang et al. 2020): windows of K = 3 consecutive
unmasked tokens, starting at 5 % of the positions, are shuffled by the collator
(:func:`kgbert.data.collators.shuffle_ngrams`; ``masking.shuffle_fraction``, ``masking.shuffle_k``),
and the model predicts the original token at every shuffled position (the paper's
``P(pos_1 = t_1, ..., pos_K = t_K)``) through the masked-LM head: no parameters of its own."""
from __future__ import annotations

from kgbert.objectives.mlm import MaskedLM
from kgbert.objectives.plugin import PluginObjective


class WordStructuralObjective(PluginObjective):
    """``wso``: cross-entropy over the vocabulary at the shuffled positions (``shuffle_labels``)."""

    name = "wso"
    input_keys = ("shuffle_labels",)

    def collator_options(self, masking):
        return {"shuffle_fraction": masking.shuffle_fraction, "shuffle_k": masking.shuffle_k}

    def loss(self, head, ctx, inputs):
        return MaskedLM.logits_and_loss(ctx.mlm_head, ctx.sequence_output, inputs["shuffle_labels"])[1]
