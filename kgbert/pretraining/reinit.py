"""A randomly re-initialised copy of a checkpoint: same config and vocabulary, fresh weights.

    python -m kgbert.pretraining.reinit BACKBONE OUT [--seed 1]

The control for "does pretraining help": fine-tune the pretrained backbone and this copy (same
architecture, same tokenizer) with identical budgets. Written to a temporary dir and renamed.
"""
from __future__ import annotations

from kgbert.cli import doc_summary

import argparse
import os
from pathlib import Path

from kgbert.files import atomic_checkpoint_dir


def reinit_checkpoint(src: str | os.PathLike, out: str | os.PathLike, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from kgbert.checkpoints import load_tokenizer
    from kgbert.pretraining.run import write_vocab_txt

    src, out = Path(src), Path(out)
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src} is not a checkpoint directory (no config.json)")
    with atomic_checkpoint_dir(out) as tmp:
        config = BertConfig.from_pretrained(str(src), local_files_only=True)
        torch.manual_seed(seed)
        BertForMaskedLM(config).save_pretrained(tmp)
        tok = load_tokenizer(src)
        tok.save_pretrained(tmp)
        write_vocab_txt(tok, tmp)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kgbert.pretraining.reinit", description=doc_summary(__doc__))
    ap.add_argument("backbone")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(reinit_checkpoint(args.backbone, args.out, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
