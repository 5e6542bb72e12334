"""Knowledge distillation: a student matches a teacher's softened predictions (Hinton et al., 2015),
optionally its hidden states too (as in TinyBERT / DistilBERT's cosine/MSE terms)."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from kgbert.constants import IGNORE_INDEX
from kgbert.losses.base import TrainingLoss


class DistillationLoss(TrainingLoss):
    """``alpha * hard + (1 - alpha) * T^2 * KL(teacher_T || student_T) + hidden_weight * MSE(hidden)``.

    Args:
        teacher: a trained model that takes the same batch as the student (same featuriser
            inputs; e.g. the same encoder, larger); kept frozen in eval mode, never updated.
        temperature: ``T`` softening both distributions (> 0). The KL term is scaled by ``T^2``
            so its gradients keep their size as ``T`` changes.
        alpha: weight of the student's own hard-label loss (``outputs.loss``; needs ``labels``
            in the batch when > 0); ``1 - alpha`` is the weight of the KL term.
        hidden_weight: weight of the mean squared error between hidden states (0: off; the
            student is then run without ``output_hidden_states``).
        layer_map: ``(student_layer, teacher_layer)`` pairs of ``hidden_states`` indices
            (0 = embeddings) for the MSE; default: every student layer ``i`` paired with teacher
            layer ``round(i * n_teacher / n_student)``. Paired states must have the same width.

    Needs in the batch: the model inputs; ``labels`` when ``alpha > 0``. For token
    classification the KL and MSE terms are averaged over positions whose label is not -100
    (original tokens), or over non-padding positions when the batch has no labels.

    Returns: a scalar tensor (``(loss, student_outputs)`` with ``return_outputs=True``). The
    parts of the last batch are kept in ``self.last_parts`` (detached scalar tensors: ``hard``,
    ``kl``, ``hidden``; read them when logging: no host sync per step).

    Use: ``run_training(config, loss_fn=DistillationLoss(teacher, temperature=2.0, alpha=0.5))``.
    """

    def __init__(
        self,
        teacher: nn.Module,
        temperature: float = 2.0,
        alpha: float = 0.5,
        hidden_weight: float = 0.0,
        layer_map: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        if hidden_weight < 0:
            raise ValueError(f"hidden_weight must be >= 0, got {hidden_weight!r}")
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.hidden_weight = float(hidden_weight)
        self.layer_map = list(layer_map) if layer_map is not None else None
        self.last_parts: dict[str, torch.Tensor] = {}

    def train(self, mode: bool = True) -> "DistillationLoss":
        super().train(mode)
        self.teacher.eval()  # the teacher never trains (no dropout)
        return self

    def _positions(self, inputs: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor | None:
        """(B, L) bool of the positions that count for token logits; None for (B, C) logits."""
        if logits.dim() != 3:
            return None
        labels = inputs.get("labels")
        if labels is not None and labels.dim() == 2:
            return labels != IGNORE_INDEX
        mask = inputs.get("attention_mask")
        return mask.bool() if mask is not None else torch.ones(logits.shape[:2], dtype=torch.bool, device=logits.device)

    def _pairs(self, n_student: int, n_teacher: int) -> list[tuple[int, int]]:
        if self.layer_map is not None:
            return self.layer_map
        return [(i, round(i * (n_teacher - 1) / (n_student - 1)) if n_student > 1 else 0) for i in range(n_student)]

    def compute(self, model: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        want_hidden = self.hidden_weight > 0
        flags = {"output_hidden_states": True} if want_hidden else {}
        features = {k: v for k, v in inputs.items() if k != "labels"}
        labels = inputs.get("labels") if self.alpha > 0 else None
        if self.alpha > 0 and labels is None:
            raise ValueError("DistillationLoss with alpha > 0 needs labels in the batch")
        outputs = model(**features, labels=labels, **flags) if labels is not None else model(**features, **flags)
        with torch.no_grad():
            t_out = self.teacher(**features, **flags)
        s_logits, t_logits = outputs.logits, t_out.logits  # (B, C) or (B, L, C)
        if s_logits.shape != t_logits.shape:
            raise ValueError(f"student logits {tuple(s_logits.shape)} and teacher logits {tuple(t_logits.shape)} differ")
        T = self.temperature
        keep = self._positions(inputs, s_logits)
        s, t = (s_logits[keep], t_logits[keep]) if keep is not None else (s_logits, t_logits)  # (N, C)
        kl = F.kl_div(F.log_softmax(s / T, dim=-1), F.log_softmax(t / T, dim=-1), log_target=True,
                      reduction="batchmean") * T * T
        loss = (1.0 - self.alpha) * kl
        parts: dict[str, torch.Tensor] = {"kl": kl.detach()}
        if self.alpha > 0:
            loss = loss + self.alpha * outputs.loss
            parts["hard"] = outputs.loss.detach()
        if want_hidden:
            hs, ht = outputs.hidden_states, t_out.hidden_states
            if hs is None or ht is None:
                raise ValueError("hidden_weight > 0 needs models that return hidden_states")
            terms = []
            for i, j in self._pairs(len(hs), len(ht)):
                a, b = hs[i], ht[j]  # (B, L, H)
                if a.shape != b.shape:
                    raise ValueError(f"hidden states {i} (student) and {j} (teacher) have shapes {tuple(a.shape)} != {tuple(b.shape)}")
                if keep is not None:
                    a, b = a[keep], b[keep]
                elif inputs.get("attention_mask") is not None:
                    m = inputs["attention_mask"].bool()
                    a, b = a[m], b[m]
                terms.append(F.mse_loss(a, b))
            hidden = torch.stack(terms).mean()
            loss = loss + self.hidden_weight * hidden
            parts["hidden"] = hidden.detach()
        self.last_parts = parts
        return loss, outputs


__all__ = ["DistillationLoss"]
