"""Training losses, one per module (in the style of sentence-transformers' ``losses/``).

Every loss is a :class:`~kgbert.losses.base.TrainingLoss`: a callable
``loss(model, inputs, return_outputs=False) -> loss | (loss, outputs)``, which is exactly the
``loss_fn`` hook of :func:`kgbert.training.trainer.run_training`, so any of them replaces the
model's own loss without touching the trainer.

- :class:`DistillationLoss` (:mod:`kgbert.losses.distillation`): KL on temperature-softened
  logits against a teacher, plus the hard-label loss and an optional hidden-state MSE.
"""
from kgbert.losses.base import TrainingLoss
from kgbert.losses.distillation import DistillationLoss

__all__ = ["TrainingLoss", "DistillationLoss"]
