"""The shared shape of the config-driven commands (``kgbert.train``, ``kgbert.pretrain``).

``python -m kgbert.X CONFIG [key=value ...] [--print-config]``: load and validate the YAML config
with its dotted overrides, print it or run it, and turn the user's own errors (a bad config or bad
data, each naming the file and line) into ``error: ...`` on stderr with exit status 2, never a
traceback. Under torchrun the process group is torn down before the process exits.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable


def doc_summary(doc: str | None) -> str:
    """A module docstring's first paragraph on one line: the ``description`` of its ``--help``
    (the first line alone cuts a wrapped sentence in half)."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def run_config_command(argv: list[str] | None, *, prog: str, doc: str, config_help: str,
                       load: Callable[[str, list[str]], Any], run: Callable[[Any], Any],
                       user_errors: Callable[[], tuple[type[BaseException], ...]],
                       summary: Callable[[Any, Any], dict[str, Any]]) -> int:
    """Parse ``argv``, load the config with ``load(path, overrides)``, run ``run(config)`` and print
    ``summary(config, result)`` as JSON. ``user_errors()`` names the exceptions that mean bad input
    (imported lazily, so ``--help`` and ``--print-config`` stay fast)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc_summary(doc))
    parser.add_argument("config", help=config_help)
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. training.max_steps=100")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    args = parser.parse_intermixed_args(argv)
    errors = user_errors()
    try:
        config = load(args.config, args.overrides)
    except errors as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        print(yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False))
        return 0
    try:
        result = run(config)
    except errors as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        shutdown_distributed()
    print(json.dumps(summary(config, result), ensure_ascii=False, indent=1, default=float))
    return 0


def shutdown_distributed() -> None:
    """Under torchrun: tear down the process group before exiting, so no rank exits while gloo's
    threads still run (seen here to abort a rank with "terminate called without an active exception")."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["run_config_command", "shutdown_distributed"]
