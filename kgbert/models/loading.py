"""Loading a backbone checkpoint under a task head without transformers' loading report.

``from_pretrained`` of a model whose head is new (always, when fine-tuning) or whose checkpoint
carries weights the model does not use (a pretraining head) prints a table of UNEXPECTED and
MISSING keys ending in "Consider training on your downstream task". For weights this project
itself decided not to load, that reads like an error. :func:`load_backbone` loads quietly and says
one line, only when a user's checkpoint lacks backbone weights the model needs (they start
random). A checkpoint written by :func:`kgbert.checkpoints.make_random_checkpoint` (marked with
:data:`RANDOM_INIT_MARKER`) is random anyway: nothing is said.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger("kgbert.models")

RANDOM_INIT_MARKER = "kgbert_random_init.json"


class _DropLoadReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


def load_backbone(model_cls: Any, path: str | os.PathLike, **kwargs: Any):
    """``model_cls.from_pretrained(path, **kwargs)``, with the loading report replaced by one line
    (see module doc). Errors (e.g. size mismatches) are raised as before."""
    from transformers.utils import logging as hf_logging

    hf_logger = hf_logging.get_logger("transformers.modeling_utils")
    quiet = _DropLoadReport()
    hf_logger.addFilter(quiet)
    try:
        model, info = model_cls.from_pretrained(os.fspath(path), output_loading_info=True, **kwargs)
    finally:
        hf_logger.removeFilter(quiet)
    if (Path(path) / RANDOM_INIT_MARKER).is_file():
        return model
    prefix = f"{model.base_model_prefix}."
    missing = sorted(k for k in info.get("missing_keys", ()) if k.startswith(prefix))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        logger.warning("%s lacks %d backbone weight(s) the model needs (%s): they start random",
                       path, len(missing), shown)
    return model
