"""XLNet pretraining (``model.family: xlnet``): transformers' ``XLNetLMHeadModel`` on permutation LM batches.

Two-stream relative-position attention; the batches of :class:`kgbert.data.permutation.PermutationCollator`
(``perm_mask``, ``target_mapping``, ``labels``) make it predict each chosen span from a random
factorisation order. The saved checkpoint is a plain XLNet checkpoint (``transformer.*``,
``lm_loss.*``, model type ``xlnet``), fine-tuned with the ``xlnet`` encoder. The LM head is dense
(it projects every position of ``target_mapping``; only the spans carry labels).
"""
from __future__ import annotations

from transformers import XLNetLMHeadModel


class XLNetForPermutationLM(XLNetLMHeadModel):
    """``XLNetLMHeadModel`` whose loss is the mean over the labelled positions of the batch
    (the Trainer must not pass ``num_items_in_batch``)."""

    accepts_loss_kwargs = False


__all__ = ["XLNetForPermutationLM"]
