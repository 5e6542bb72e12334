"""Fine-tune an encoder on a task: ``python -m kgbert.train configs/X.yaml [key=value ...]``.

Overrides are dotted keys with YAML values, checked against the config's types, e.g.
``training.lr=3e-5 seed=2 model.backbone=/path/to/bert-base-chinese``. The run directory
(``output_dir``, default ``runs/<name>/seed<seed>``) is resumed when it holds checkpoints.
"""
from __future__ import annotations

import argparse
import json
import sys

from kgbert.training.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kgbert.train", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="YAML run config (configs/*.yaml)")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. training.epochs=2")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    args = parser.parse_intermixed_args(argv)
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        print(yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False))
        return 0
    from kgbert.data.readers import DataError
    from kgbert.training.trainer import run_training

    try:
        results = run_training(config)
    except (ConfigError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        shutdown_distributed()
    summary = {k: results[k] for k in ("dev", "test") if k in results}
    for v in summary.values():
        v.pop("per_type", None)
    print(json.dumps({"run_dir": str(config.run_dir), **summary}, ensure_ascii=False, indent=1, default=float))
    return 0


def shutdown_distributed() -> None:
    """Under torchrun: tear down the process group before exiting, so no rank exits while gloo's
    threads still run (seen here to abort a rank with "terminate called without an active exception")."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
