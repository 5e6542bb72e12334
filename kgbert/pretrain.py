"""Pretrain a BERT: ``python -m kgbert.pretrain configs/pretrain/X.yaml [key=value ...]``.

Overrides are dotted keys with YAML values, checked against the config's types, e.g.
``training.max_steps=2000 training.threads=1 output_dir=runs/pretrain/x``. The run directory is
resumed when it holds checkpoints; its ``best/`` is a plain BERT checkpoint that
``model.backbone=RUN/best`` takes in every fine-tuning config.
"""
from __future__ import annotations

import sys
from typing import Any

from kgbert.cli import run_config_command
from kgbert.pretraining.config import ConfigError, load_pretrain_config


def _run(config: Any) -> Any:
    from kgbert.pretraining.run import run_pretraining

    return run_pretraining(config)


def _user_errors() -> tuple[type[BaseException], ...]:
    from kgbert.pretraining.corpus import CorpusError

    return (ConfigError, CorpusError)


def _summary(config: Any, info: dict[str, Any]) -> dict[str, Any]:
    return {"run_dir": str(config.run_dir), "global_step": info["global_step"], "tokens_seen": info["tokens_seen"],
            "heldout": info["heldout"], "unigram_baseline": info["unigram_baseline"]}


def main(argv: list[str] | None = None) -> int:
    return run_config_command(argv, prog="python -m kgbert.pretrain", doc=__doc__,
                              config_help="YAML pretraining config (configs/pretrain/*.yaml)",
                              load=load_pretrain_config, run=_run, user_errors=_user_errors, summary=_summary)


if __name__ == "__main__":
    sys.exit(main())
