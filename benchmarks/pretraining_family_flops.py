"""Equal-compute budgets for BERT's pretraining family: training FLOPs per step of each recipe.

    python -m benchmarks.pretraining_family_flops [--mlm-steps 256] [--vocab 6255]

The budget is in FLOPs, not wall time: the runs share a contended 2-core machine, where wall time
depends on what else runs, and ELECTRA's claim (Clark et al. 2020) is about compute. The estimate is
the standard one (Kaplan et al. 2020): training FLOPs = 6 x (weights a token passes through) x
tokens (2 forward, 4 backward) + the attention matmuls (QK^T and attention x V: 4 x L x H forward
per token and layer, x 3 for training). Embedding lookups cost nothing; a weight counts at every
position where it is computed, so

- BERT (mlm, RoBERTa, SpanBERT, StructBERT): per layer 4H^2 (Q, K, V, output) + 2HF (FFN); the
  sparse MLM head (transform H^2 + output layer H x V) only at the masked share p of the positions;
  SpanBERT's SBO head (3H -> H, H -> H, output layer) at the same positions; StructBERT's word
  objective puts the shuffled share (shuffle_fraction x K) through the MLM head as well; sentence
  heads (pooler) once per sequence.
- ALBERT: the same per-layer cost (cross-layer sharing saves parameters, not compute), plus the
  embedding projection E x H at every position and the factorised head (H x E, E x V at the masked
  positions).
- ELECTRA: generator (H_g = generator_size x H, same depth, its projection H -> H_g, its MLM head at
  the masked positions, output layer tied to the H-wide embeddings) + discriminator (BERT's layers
  and the replaced-token head H^2 + H at every position).
- XLNet: two streams. The content stream is BERT's layer plus the relative-position projection
  (2L positions per sequence: 2H^2 per token); the query stream (training only, every position is a
  target of the one-to-one target_mapping) has its own Q and output projections (2H^2) and the FFN
  (2HF); attention per stream: content (L), position (2L) and value (L) terms, and the query stream's
  target_mapping maps (2 x L x H); the LM head H x V is dense (all positions).

A step processes ``batch_size x grad_accum`` sequences of ``data.max_length`` positions (padding
included: the model computes it). Steps per member = the mlm member's FLOPs / the member's FLOPs
per step, rounded to the nearest step.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]

VOCAB = "backbones/kgbert-zh-small-wwm"  # the shipped backbone's vocab.txt, as zh_small_equal_budget.yaml uses it
SHORT = "data.short_seq_prob=0.1"  # as zh_small_equal_budget.yaml, on every packed-corpus member (not sentence pairs)
MEMBERS: dict[str, tuple[str, list[str]]] = {
    "mlm": ("zh_small_equal_budget", []),
    "roberta": ("zh_small_roberta", [f"vocab.path={VOCAB}", SHORT]),
    "spanbert": ("zh_small_spanbert", [f"vocab.path={VOCAB}", SHORT]),
    "structbert": ("zh_small_structbert", [f"vocab.path={VOCAB}"]),
    "albert": ("zh_small_albert", [f"vocab.path={VOCAB}"]),
    "electra": ("zh_small_electra", [f"vocab.path={VOCAB}", SHORT]),
    "xlnet": ("zh_small_xlnet", [f"vocab.path={VOCAB}", SHORT]),
}
"""Member -> (recipe in configs/pretrain/, overrides): the recipe's objective, masking and model, the
corpus and vocabulary of zh_small_equal_budget.yaml (the masking-strategy comparison's mlm run)."""


@dataclass
class Cost:
    """Training FLOPs of one sequence, split by where they are spent."""

    encoder: float  # the transformer layers' weight matmuls (all streams / both networks)
    attention: float  # QK^T, attention x V (and XLNet's position terms and target mapping)
    heads: float  # output heads at the positions where they are computed
    embedding_projection: float  # ALBERT's E -> H, ELECTRA's generator projection
    positions: int  # positions per sequence (data.max_length)

    @property
    def total(self) -> float:
        return self.encoder + self.attention + self.heads + self.embedding_projection


def _get(mc: dict[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in mc:
            return mc[n]
    if default is None:
        raise KeyError(f"model.config lacks {names[0]}")
    return default


def sequence_flops(family: str, model_config: dict[str, Any], objectives: list[str], vocab_size: int, max_length: int,
                   mlm_probability: float = 0.15, shuffle_fraction: float = 0.05, shuffle_k: int = 3,
                   generator_size: float = 0.25) -> Cost:
    """Training FLOPs (forward + backward) of one ``max_length`` sequence for a recipe's model."""
    H = int(_get(model_config, "hidden_size", "d_model"))
    F = int(_get(model_config, "intermediate_size", "d_inner"))
    n = int(_get(model_config, "num_hidden_layers", "n_layer"))
    L, V, p = int(max_length), int(vocab_size), float(mlm_probability)
    train = 3.0  # forward 2 FLOPs per multiply-accumulate, backward twice the forward
    layer = 4 * H * H + 2 * H * F  # weights one position passes through in one layer
    attn = 4 * L * H  # forward FLOPs per position and layer: QK^T and attention x V
    seq_objectives = {"nsp", "sop", "sso"} & set(objectives)
    pooler = (H * H + 3 * H) / L if seq_objectives else 0.0  # per position (once per sequence)
    mlm_head = H * H + H * V
    encoder = attention = heads = proj = 0.0  # multiply-accumulates per position (attention: forward FLOPs)
    if family == "bert":
        encoder = n * layer
        attention = n * attn
        heads = p * mlm_head + pooler
        if "sbo" in objectives:
            heads += p * (3 * H * H + H * H + H * V)
        if "wso" in objectives:
            heads += shuffle_fraction * shuffle_k * mlm_head
    elif family == "albert":
        E = int(_get(model_config, "embedding_size"))
        encoder = n * layer  # every layer runs, shared weights or not
        attention = n * attn
        proj = E * H
        heads = p * (H * E + E * V) + pooler
    elif family == "electra":
        Hg = max(1, int(round(H * generator_size)))
        Fg = max(1, int(round(F * generator_size)))
        encoder = n * layer + n * (4 * Hg * Hg + 2 * Hg * Fg)
        attention = n * attn + n * 4 * L * Hg
        proj = H * Hg
        heads = p * (Hg * H + H * V) + (H * H + H)  # generator MLM head at the masked positions; RTD head everywhere
    elif family == "xlnet":
        content = layer + 2 * H * H  # + the relative-position projection of 2L positions per sequence
        query = 2 * H * H + 2 * H * F  # the query stream's Q and output projections and FFN
        encoder = n * (content + query)
        attention = n * (2 * 2 * (L + 2 * L + L) * H + 2 * 2 * L * H)  # two streams; target_mapping in and out
        heads = H * V  # dense LM head over every position
    else:
        raise ValueError(f"unknown family {family!r} (bert, albert, electra, xlnet)")
    return Cost(encoder=2 * train * encoder * L, attention=train * attention * L, heads=2 * train * heads * L,
                embedding_projection=2 * train * proj * L, positions=L)


def recipe_flops(config: Any, vocab_size: int) -> dict[str, Any]:
    """FLOPs per sequence and per optimizer step of a loaded :class:`PretrainConfig`."""
    m = config.model
    cost = sequence_flops(m.family, dict(m.config), list(m.objectives), vocab_size, config.data.max_length,
                          mlm_probability=config.masking.mlm_probability,
                          shuffle_fraction=config.masking.shuffle_fraction, shuffle_k=config.masking.shuffle_k,
                          generator_size=float(dict(m.family_options).get("generator_size", 0.25)))
    seqs = config.training.batch_size * config.training.grad_accum
    return {"family": m.family, "objectives": list(m.objectives), "flops_per_sequence": cost.total,
            "sequences_per_step": seqs, "positions_per_step": seqs * cost.positions,
            "flops_per_step": cost.total * seqs, "breakdown": asdict(cost)}


def equal_flops_steps(flops_per_step: dict[str, float], reference: str, reference_steps: int) -> dict[str, int]:
    """Steps giving every member the reference member's FLOPs (nearest step, at least 1)."""
    budget = flops_per_step[reference] * reference_steps
    return {k: max(1, round(budget / v)) for k, v in flops_per_step.items()}


def vocab_size() -> int:
    return len((REPO / "backbones" / "kgbert-zh-small-wwm" / "vocab.txt").read_text(encoding="utf-8").splitlines())


def plan(mlm_steps: int = 256, vocab: int | None = None, members: dict[str, tuple[str, list[str]]] | None = None) -> list[dict[str, Any]]:
    """One row per member: its FLOPs per step and the equal-FLOPs steps, tokens and total FLOPs."""
    from kgbert.pretraining.config import load_pretrain_config

    V = vocab or vocab_size()
    rows = {}
    for name, (recipe, overrides) in (members or MEMBERS).items():
        cfg = load_pretrain_config(REPO / "configs" / "pretrain" / f"{recipe}.yaml", overrides)
        rows[name] = {"member": name, "recipe": recipe, **recipe_flops(cfg, V)}
    steps = equal_flops_steps({k: r["flops_per_step"] for k, r in rows.items()}, "mlm", mlm_steps)
    for k, r in rows.items():
        r["steps"] = steps[k]
        r["tokens"] = steps[k] * r["positions_per_step"]
        r["flops"] = steps[k] * r["flops_per_step"]
        r["flops_vs_mlm_per_token"] = r["flops_per_sequence"] / rows["mlm"]["flops_per_sequence"]
    return list(rows.values())


COUNTED = ("mlm", "albert", "electra", "xlnet")
"""Members whose model the flop-counter check builds (one per family; their MLM-only step)."""


def counted_flops(member: str, batch_size: int = 2, extra: Sequence[str] = ()) -> float:
    """FLOPs of one forward + backward of ``member``'s model on a synthetic ``max_length`` batch,
    counted by ``torch.utils.flop_counter`` (matrix products and attention: what the estimate
    models), per sequence. A check of :func:`sequence_flops`; sentence objectives are left out
    (``model.objectives=[mlm]``: their pooler is under 0.1 % of a step)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from kgbert.checkpoints import make_tokenizer
    from kgbert.pretraining.config import load_pretrain_config
    from kgbert.pretraining.families import get_family

    recipe, overrides = MEMBERS[member]
    cfg = load_pretrain_config(REPO / "configs" / "pretrain" / f"{recipe}.yaml",
                               [*overrides, "model.objectives=[mlm]", "masking.strategy=mlm", *extra])
    vocab = (REPO / VOCAB / "vocab.txt").read_text(encoding="utf-8").splitlines()
    tok = make_tokenizer(vocab)
    torch.manual_seed(0)
    model = get_family(cfg.model.family).build(cfg, tok)
    model.train()
    L = cfg.data.max_length
    ids = torch.randint(len(tok) // 2, len(tok), (batch_size, L))
    if cfg.model.family == "xlnet":
        from kgbert.data.permutation import PermutationCollator

        batch = dict(PermutationCollator(tok, seed=0)([{"input_ids": row.tolist(), "key": i} for i, row in enumerate(ids)]))
    else:
        labels = torch.full_like(ids, -100)
        chosen = torch.rand(ids.shape) < cfg.masking.mlm_probability
        labels[chosen] = ids[chosen]
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    return counter.get_total_flops() / batch_size


def pretrain_overrides(row: dict[str, Any], warmup_share: float = 0.2) -> list[str]:
    """The ``kgbert.pretrain`` overrides of one planned member: its equal-FLOPs steps, warmup the same
    share of them for every member, one checkpoint at the end, held-out evaluation at half and end."""
    steps = int(row["steps"])
    return [*MEMBERS[row["member"]][1], f"training.max_steps={steps}", f"training.warmup_steps={max(1, round(warmup_share * steps))}",
            f"training.save_steps={steps}", f"training.eval_steps={max(1, steps // 2)}", "training.save_total_limit=1",
            "training.time_budget_s=null"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mlm-steps", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write the rows here")
    ap.add_argument("--count", action="store_true", help="also count one step's FLOPs with torch's flop counter (a check)")
    ap.add_argument("--member", default=None, help="print this member's recipe path and kgbert.pretrain overrides, one a line")
    args = ap.parse_args(argv)
    rows = plan(args.mlm_steps, args.vocab)
    if args.member:
        row = next(r for r in rows if r["member"] == args.member)
        print(f"configs/pretrain/{row['recipe']}.yaml")
        print("\n".join(pretrain_overrides(row)))
        return
    print("| member | recipe | FLOPs / token vs mlm | sequences / step | steps | tokens | training FLOPs |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['member']} | {r['recipe']} | {r['flops_vs_mlm_per_token']:.2f}x | {r['sequences_per_step']} | {r['steps']} "
              f"| {r['tokens']:,} | {r['flops']:.3g} |")
    if args.count:
        print("\n| member | estimated FLOPs / sequence | counted (torch flop counter) | estimate / counted |\n|---|---:|---:|---:|")
        for r in rows:
            if r["member"] not in COUNTED:
                continue
            c = counted_flops(r["member"])
            r["counted_flops_per_sequence"] = c
            print(f"| {r['member']} | {r['flops_per_sequence']:.3g} | {c:.3g} | {r['flops_per_sequence'] / c:.2f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
