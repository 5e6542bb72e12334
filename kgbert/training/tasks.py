"""Task-specific pieces the trainer plugs in: decoding model outputs, scoring, writing predictions.

The trainer is task-agnostic: it hands a :class:`TaskSpec` the evaluated split (examples and their
features) and the arg-maxed model outputs, and gets back per-example predictions, a metric dict
and a JSONL prediction file. A new task (e.g. span extraction) is a new ``TaskSpec``; a new
encoder needs nothing here.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kgbert.constants import RUN_TASK_MODEL
from kgbert.data.example import Example
from kgbert.data.token_map import first_positions
from kgbert.metrics import classification_scores, entity_scores


@dataclass
class TaskSpec:
    """Decode/score/write for one task type (``sequence``, ``pair`` or ``token``)."""

    type: str
    label_list: list[str]

    @property
    def default_metric(self) -> str:
        """The metric that picks the best checkpoint (relation: macro-F1, 44 skewed classes)."""
        return "f1" if self.type == "token" else "macro_f1" if self.type == "relation" else "accuracy"

    @property
    def model_task(self) -> str:
        """The featuriser/model task: ``relation`` is classified as a ``sequence`` (marked sentence)."""
        return RUN_TASK_MODEL.get(self.type, self.type)

    def decode(self, pred_ids: np.ndarray, features: Sequence[dict], examples: Sequence[Example]) -> list[Any]:
        """Per-example predictions from arg-maxed outputs.

        ``pred_ids``: (N,) class ids, or for ``token`` (N, L) ids per position (padded with -100).
        For ``token`` each original token takes the prediction at its first position
        (``token_map``); tokens cut off by ``max_length`` are predicted ``O``, so metrics count
        their entities as missed, as an honest full-sentence evaluation must.
        """
        if len(pred_ids) != len(examples):
            raise ValueError(f"{len(pred_ids)} predictions for {len(examples)} examples")
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
        """Metrics for a labelled split: entity P/R/F1 (token) or accuracy + macro-F1 (+ ROC AUC for
        two classes when the class probabilities ``probs`` (N, C) are given)."""
        if self.type == "token":
            s = entity_scores([ex.tags for ex in examples], preds)
            return {k: s[k] for k in ("precision", "recall", "f1", "n_gold", "n_pred", "n_correct")}
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
