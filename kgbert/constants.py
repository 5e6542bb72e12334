"""Constants shared by data, models and training (a leaf module: imports nothing of kgbert).

- :data:`TASKS`: the fine-tuning tasks. ``sequence``: one text -> label; ``pair``: two texts ->
  label (same head, two segments); ``token``: one label per original token (NER);
  ``entity_typing``: the type(s) of the mention marked in one text (its own head: one type,
  cross-entropy, or several, one sigmoid per type).
- :data:`RUN_TASKS`: the tasks a run config may name (:data:`TASKS` plus those trained as one of them).
- :data:`TASK_HEADS`: the head kind (a key of an encoder's ``heads``) each task uses.
- :data:`IGNORE_INDEX`: label value left out of every loss (special, padding and injected positions).
"""
from __future__ import annotations

TASKS: tuple[str, ...] = ("sequence", "pair", "token", "entity_typing")
TASK_HEADS: dict[str, str] = {"sequence": "sequence", "pair": "sequence", "token": "token", "entity_typing": "entity_typing"}
RUN_TASK_MODEL: dict[str, str] = {"relation": "sequence"}
"""Run-config tasks beyond :data:`TASKS` -> the model task they are trained as (``relation``: a
sentence with marked head and tail entities, classified as a ``sequence``)."""
RUN_TASKS: tuple[str, ...] = TASKS + tuple(RUN_TASK_MODEL)
IGNORE_INDEX = -100

__all__ = ["TASKS", "TASK_HEADS", "RUN_TASKS", "RUN_TASK_MODEL", "IGNORE_INDEX"]
