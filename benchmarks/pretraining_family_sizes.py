"""Parameters of each pretraining family at the zh_small size (no training: models are only built).

    python -m benchmarks.pretraining_family_sizes

Recipes ``configs/pretrain/zh_small_{wwm,albert,electra}.yaml`` and, for XLNet (no recipe), the
zh_small_wwm config with ``model.family=xlnet`` (same width, depth, heads and FFN); the vocabulary
of the shipped backbone (``backbones/kgbert-zh-small-wwm/vocab.txt``). Columns: parameters
trained during pretraining, in the exported ``best/`` checkpoint, and in the backbone a
fine-tuning encoder loads (without its task head). Writes
``benchmarks/results/pretraining_family/sizes.{json,md}`` and prints the Markdown table.
"""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPES = {"bert (zh_small_wwm)": ("zh_small_wwm", []), "albert (zh_small_albert)": ("zh_small_albert", []),
           "electra (zh_small_electra)": ("zh_small_electra", []), "xlnet (zh_small_wwm sizes)": ("zh_small_wwm", ["model.family=xlnet", "masking.strategy=mlm"])}


def count(module) -> int:
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())


def main() -> None:
    import torch

    from kgbert.checkpoints import make_tokenizer
    from kgbert.pretraining.config import load_pretrain_config
    from kgbert.pretraining.families import get_family

    torch.set_num_threads(1)
    vocab = (REPO / "backbones" / "kgbert-zh-small-wwm" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    tok = make_tokenizer(vocab)
    rows = []
    for label, (recipe, overrides) in RECIPES.items():
        cfg = load_pretrain_config(REPO / "configs" / "pretrain" / f"{recipe}.yaml", overrides)
        model = get_family(cfg.model.family).build(cfg, tok)
        exported = getattr(model, "discriminator", model)  # what best/ holds (ELECTRA: the discriminator)
        backbone = getattr(exported, exported.base_model_prefix)
        rows.append({"family": label, "objectives": cfg.model.objectives, "trained": count(model),
                     "exported": count(exported), "backbone": count(backbone), "vocab": len(tok)})
    lines = ["| family (recipe) | objectives | trained in pretraining | in best/ | backbone for fine-tuning |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['family']} | {', '.join(r['objectives'])} | {r['trained'] / 1e6:.2f}M | {r['exported'] / 1e6:.2f}M "
                     f"| {r['backbone'] / 1e6:.2f}M |")
    table = "\n".join(lines)
    out = REPO / "benchmarks" / "results" / "pretraining_family"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sizes.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    (out / "sizes.md").write_text(f"Vocabulary {len(tok):,} (the shipped backbone's).\n\n{table}\n", encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
