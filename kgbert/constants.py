"""Constants shared by data, models and training (a leaf module: imports nothing of kgbert).

- :data:`TASKS`: the fine-tuning tasks. ``sequence``: one text -> label; ``pair``: two texts ->
  label (same head, two segments); ``token``: one label per original token (NER).
- :data:`TASK_HEADS`: the head kind (a key of an encoder's ``heads``) each task uses.
- :data:`IGNORE_INDEX`: label value left out of every loss (special, padding and injected positions).
"""
from __future__ import annotations

TASKS: tuple[str, ...] = ("sequence", "pair", "token")
TASK_HEADS: dict[str, str] = {"sequence": "sequence", "pair": "sequence", "token": "token"}
IGNORE_INDEX = -100

__all__ = ["TASKS", "TASK_HEADS", "IGNORE_INDEX"]
