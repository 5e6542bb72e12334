"""Export a pretrained checkpoint for shipping: fp16 weights that load as float32.

    python -m kgbert.pretraining.export RUN/best OUT [--fp16]

Copies the tokenizer files, ``vocab.txt``, ``pretrain.json`` and the model card. With ``--fp16``
the safetensors hold float16 weights (half the size) while ``config.json`` keeps ``dtype:
float32``, so ``from_pretrained`` (transformers 5 loads ``dtype="auto"`` from the config) and every
fine-tuning config upcast them: training never runs in fp16 by accident. Temp dir + rename.
"""
from __future__ import annotations

from kgbert.cli import doc_summary

import argparse
import json
import os
import shutil
from pathlib import Path

from kgbert.files import atomic_checkpoint_dir

COPY = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "pretrain.json", "README.md")


def export_checkpoint_dir(src: str | os.PathLike, out: str | os.PathLike, fp16: bool = False) -> Path:
    from safetensors.torch import load_file, save_file

    src, out = Path(src), Path(out)
    if not (src / "config.json").is_file() or not (src / "model.safetensors").is_file():
        raise FileNotFoundError(f"{src} is not a checkpoint directory (config.json + model.safetensors)")
    with atomic_checkpoint_dir(out) as tmp:
        tensors = load_file(str(src / "model.safetensors"))
        if fp16:
            tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in tensors.items()}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
        cfg["dtype"] = "float32"  # load (and fine-tune) in float32 whatever the stored precision
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for name in COPY:
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
        if not (tmp / "vocab.txt").is_file():  # checkpoints from elsewhere: write it from the tokenizer
            from kgbert.checkpoints import load_tokenizer
            from kgbert.pretraining.run import write_vocab_txt

            write_vocab_txt(load_tokenizer(src), tmp)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kgbert.pretraining.export", description=doc_summary(__doc__))
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--fp16", action="store_true", help="store float16 weights (they load as float32)")
    args = ap.parse_args(argv)
    out = export_checkpoint_dir(args.src, args.out, args.fp16)
    print(f"{out} ({(out / 'model.safetensors').stat().st_size / 1e6:.1f} MB weights)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
