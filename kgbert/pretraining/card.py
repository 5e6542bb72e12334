"""Write (or refresh) the model card ``README.md`` of a pretrained checkpoint from its ``pretrain.json``.

    python -m kgbert.pretraining.card RUN/best

Checkpoints exported by :func:`kgbert.pretraining.run.run_pretraining` already carry one; this
refreshes it (e.g. after adding fine-tuning scores to ``pretrain.json``) or writes it for
checkpoints from older versions (cumulative tokens/time then default to this run's).
"""
from __future__ import annotations

from kgbert.cli import doc_summary

import argparse
import json
import os
from pathlib import Path


def write_card(best: str | os.PathLike) -> Path:
    from kgbert.pretraining.run import model_card

    best = Path(best)
    with open(best / "pretrain.json", encoding="utf-8") as fh:
        info = json.load(fh)
    if "cumulative" not in info:
        run_dir = best.parent
        start = None
        for name in ("started.json", "time_budget.json"):
            if (run_dir / name).is_file():
                rec = json.loads((run_dir / name).read_text(encoding="utf-8"))
                start = rec.get("time", rec.get("start"))
                break
        wall = (os.path.getmtime(best / "pretrain.json") - start) if start else info.get("wall_seconds_this_run", 0.0)
        info["cumulative"] = {"tokens": info.get("tokens_seen", 0), "wall_seconds": wall}
    info.setdefault("init_from", None)
    info["recipe"].setdefault("warmup_steps", "?")
    info["recipe"].setdefault("lr_scheduler", "linear")
    out = best / "README.md"
    tmp = out.with_name("README.md.tmp")
    tmp.write_text(model_card(info), encoding="utf-8")
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kgbert.pretraining.card", description=doc_summary(__doc__))
    ap.add_argument("best", help="checkpoint directory with pretrain.json")
    print(write_card(ap.parse_args(argv).best))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
