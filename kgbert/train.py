"""Fine-tune an encoder on a task: ``python -m kgbert.train configs/X.yaml [key=value ...]``.

Overrides are dotted keys with YAML values, checked against the config's types, e.g.
``training.lr=3e-5 seed=2 model.backbone=/path/to/bert-base-chinese``. The run directory
(``output_dir``, default ``runs/<name>/seed<seed>``) is resumed when it holds checkpoints.
"""
from __future__ import annotations

import sys
from typing import Any

from kgbert.cli import run_config_command, shutdown_distributed
from kgbert.training.config import ConfigError, load_config


def _run(config: Any) -> Any:
    from kgbert.training.trainer import run_training

    return run_training(config)


def _user_errors() -> tuple[type[BaseException], ...]:
    from kgbert.data.readers import DataError

    return (ConfigError, DataError)


def _summary(config: Any, results: dict[str, Any]) -> dict[str, Any]:
    summary = {k: results[k] for k in ("dev", "test") if k in results}
    for v in summary.values():
        v.pop("per_type", None)
    return {"run_dir": str(config.run_dir), **summary}


def main(argv: list[str] | None = None) -> int:
    return run_config_command(argv, prog="python -m kgbert.train", doc=__doc__, config_help="YAML run config (configs/*.yaml)",
                              load=load_config, run=_run, user_errors=_user_errors, summary=_summary)


__all__ = ["main", "shutdown_distributed"]

if __name__ == "__main__":
    sys.exit(main())
