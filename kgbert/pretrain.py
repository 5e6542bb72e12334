"""Pretrain a BERT: ``python -m kgbert.pretrain configs/pretrain/X.yaml [key=value ...]``.

Overrides are dotted keys with YAML values, checked against the config's types, e.g.
``training.max_steps=2000 training.threads=1 output_dir=runs/pretrain/x``. The run directory is
resumed when it holds checkpoints; its ``best/`` is a plain BERT checkpoint that
``model.backbone=RUN/best`` takes in every fine-tuning config.
"""
from __future__ import annotations

import argparse
import json
import sys

from kgbert.pretraining.config import ConfigError, load_pretrain_config
from kgbert.train import shutdown_distributed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kgbert.pretrain", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="YAML pretraining config (configs/pretrain/*.yaml)")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. training.max_steps=100")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    args = parser.parse_intermixed_args(argv)
    try:
        config = load_pretrain_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        print(yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False))
        return 0
    from kgbert.pretraining.corpus import CorpusError
    from kgbert.pretraining.run import run_pretraining

    try:
        info = run_pretraining(config)
    except (ConfigError, CorpusError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        shutdown_distributed()
    print(json.dumps({"run_dir": str(config.run_dir), "global_step": info["global_step"], "tokens_seen": info["tokens_seen"],
                      "heldout": info["heldout"], "unigram_baseline": info["unigram_baseline"]}, ensure_ascii=False, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
