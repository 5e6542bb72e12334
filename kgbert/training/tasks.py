"""Task-specific pieces the trainer plugs in: decoding model outputs, scoring, writing predictions.

The trainer is task-agnostic: it hands a :class:`TaskSpec` the evaluated split (examples and their
features) and the arg-maxed model outputs, and gets back per-example predictions, a metric dict
and a JSONL prediction file. A new task (e.g. span extraction) is a new ``TaskSpec``; a new
encoder needs nothing here.

``entity_typing`` (a marked mention -> its type, or with ``multi_label`` its types) is its own
model task with its own head (``entity_typing``); single-label it is scored like ``sequence``
(accuracy, macro-F1 over the types), multi-label with :func:`kgbert.metrics.typing_scores`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kgbert.constants import RUN_TASK_MODEL
from kgbert.data.example import Example
from kgbert.data.token_map import first_positions
from kgbert.metrics import classification_scores, entity_scores, typing_scores

if TYPE_CHECKING:
    import torch


@dataclass
class TaskSpec:
    """Decode/score/write for one task type (``sequence``, ``pair``, ``token``, ``relation`` or
    ``entity_typing``; ``multi_label``: typing with several types per mention)."""

    type: str
    label_list: list[str]
    multi_label: bool = False

    def __post_init__(self) -> None:
        if self.multi_label and self.type != "entity_typing":
            raise ValueError(f"multi_label is an option of task 'entity_typing', not {self.type!r}")

    @property
    def default_metric(self) -> str:
        """The metric that picks the best checkpoint (relation: macro-F1, 44 skewed classes;
        multi-label typing: loose micro-F1, ERNIE's OpenEntity metric)."""
        if self.type == "token":
            return "f1"
        if self.multi_label:
            return "loose_micro_f1"
        return "macro_f1" if self.type == "relation" else "accuracy"

    def reduce_logits(self, logits: Any, labels: Any = None) -> "torch.Tensor":
        """``preprocess_logits_for_metrics``: keep only what :meth:`decode` needs (no (N, L, C)
        logits in memory): class ids (N, L) for token tasks, (class id, class probabilities) rows
        (N, 1 + C) for example-level tasks, or for multi-label typing a multi-hot (N, C)
        of the types with a positive logit plus the top type (every mention gets at least one
        type, as ERNIE's typing evaluation does)."""
        import torch

        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        top = logits.argmax(dim=-1)
        if not self.multi_label:
            if logits.dim() != 2 or self.type == "token":
                return top
            # example-level: (N, 1 + C), column 0 the class id, then the class probabilities (ROC AUC)
            return torch.cat([top.unsqueeze(-1).to(torch.float32), logits.float().softmax(dim=-1)], dim=-1)
        chosen = logits > 0
        chosen[torch.arange(len(top), device=top.device), top] = True
        return chosen.long()

    @property
    def model_task(self) -> str:
        """The featuriser/model task: ``relation`` is classified as a ``sequence`` (marked sentence)."""
        return RUN_TASK_MODEL.get(self.type, self.type)

    def decode(self, pred_ids: np.ndarray, features: Sequence[dict], examples: Sequence[Example]) -> list[Any]:
        """Per-example predictions from arg-maxed outputs.

        ``pred_ids``: (N,) class ids, for ``token`` (N, L) ids per position (padded with -100),
        for multi-label typing (N, C) multi-hot rows (predictions: the ``|``-joined types).
        For ``token`` each original token takes the prediction at its first position
        (``token_map``); tokens cut off by ``max_length`` are predicted ``O``, so metrics count
        their entities as missed, as an honest full-sentence evaluation must.
        """
        if len(pred_ids) != len(examples):
            raise ValueError(f"{len(pred_ids)} predictions for {len(examples)} examples")
        if self.multi_label:
            return ["|".join(t for t, on in zip(self.label_list, row) if on) for row in pred_ids]
        if self.type != "token":
            return [self.label_list[int(i)] for i in pred_ids]
        out = []
        for row, feat, ex in zip(pred_ids, features, examples):
            tags = ["O"] * len(ex.tokens or [])
            for tok, pos in enumerate(first_positions(feat["token_map"], len(tags))):
                if 0 <= pos < len(row) and row[pos] >= 0:
                    tags[tok] = self.label_list[int(row[pos])]
            out.append(tags)
        return out

    def score(self, examples: Sequence[Example], preds: Sequence[Any], probs: np.ndarray | None = None) -> dict[str, float]:
        """Metrics for a labelled split: entity P/R/F1 (token), strict accuracy + loose macro/micro
        P/R/F1 (multi-label typing) or accuracy + macro-F1 over the classes (the others; + ROC AUC
        for two classes when the class probabilities ``probs`` (N, C) are given)."""
        if self.type == "token":
            s = entity_scores([ex.tags for ex in examples], preds)
            return {k: s[k] for k in ("precision", "recall", "f1", "n_gold", "n_pred", "n_correct")}
        if self.multi_label:
            return typing_scores([ex.types for ex in examples], [p.split("|") if p else [] for p in preds])
        return classification_scores([ex.label for ex in examples], preds, self.label_list, probs)

    def per_type(self, examples: Sequence[Example], preds: Sequence[Any]) -> dict | None:
        """Per-entity-type scores for token tasks (None otherwise)."""
        if self.type != "token":
            return None
        return entity_scores([ex.tags for ex in examples], preds)["per_type"]

    def write(self, path: str | os.PathLike, examples: Sequence[Example], preds: Sequence[Any]) -> None:
        """One JSON line per example: source, the original text/characters, gold and predicted."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for ex, pred in zip(examples, preds):
                if self.type == "token":
                    rec = {"source": ex.source, "tokens": ex.tokens, "gold": ex.tags, "pred": pred}
                else:
                    rec = {"source": ex.source, "text_a": ex.text_a}
                    if ex.text_b is not None:
                        rec["text_b"] = ex.text_b
                    rec.update(gold=ex.label, pred=pred)
                    if ex.meta.get("id") is not None:
                        rec["id"] = ex.meta["id"]
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
