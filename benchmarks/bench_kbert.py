"""K-BERT benchmarks: featurisation speed vs the reference algorithm, model throughput vs BERT,
and memory of the cached features vs the dense L x L visible matrix.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.bench_kbert [--quick]

Prints Markdown tables and writes ``benchmarks/results/bench_kbert.json``.

**What is compared (featurisation).** Both sides start from raw text and produce token ids,
soft positions, segment ids and the visibility information, with the same KG (HowNet + Medical,
``max_entities=2``, ``max_length=256`` for ChnSentiCorp, 128 for medical NER).

- *ours*: :class:`kgbert.data.kbert.KBertFeaturizer` (WordPiece via the tokenizer's Rust backend,
  Aho-Corasick entity matching over the KG subjects, SQLite lookups with the store's cache,
  O(L) ids). "cold" = first pass over the data (every lookup hits SQLite), "warm" = second pass.
- *reference*: a re-statement, written here from the description in REFERENCES.md section 1,
  of K-BERT's ``add_knowledge_with_vm``: KG loaded into a dict ``subject -> set(values)``,
  segmentation by jieba with every KG subject added as a user word (pkuseg is not installed;
  jieba stands in), knowledge only for words equal to a subject, ``list(set)[:2]`` triples,
  character-level tree with soft/absolute positions, a dense float64 ``n x n`` visible matrix
  filled by Python loops, padded/truncated to ``max_length``, then the vocab lookup of every
  character (done in the reference's dataset reader). Timed twice: with the jieba segmentation,
  and the knowledge step alone on pre-segmented words (segmentation excluded).
The matching differs (leftmost-longest substring matching vs whole-word equality after
segmentation), so the tables also give entities and branches per sentence for both.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KGBERT_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"


# ------------------------------------------------------------------------------------ data
def read_chnsenticorp(path: Path, limit: int | None) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    texts = [ln.split("\t", 1)[1] for ln in lines if "\t" in ln]
    return texts[:limit]


def read_medical_ner(path: Path, limit: int | None) -> list[tuple[list[str], list[str]]]:
    out = []
    for ln in path.read_text(encoding="utf-8").splitlines()[1:]:
        if "\t" in ln:
            toks, tags = ln.split("\t")
            out.append((toks.split(), tags.split()))
    return out[:limit]


# ------------------------------------------------------------------------------------ reference
def load_reference_kg(spo_files: Sequence[Path], predicate: bool) -> dict[str, set[str]]:
    """The reference's KG: subject -> set of values (pred+obj, or obj)."""
    table: dict[str, set[str]] = {}
    for path in spo_files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 3:
                    continue
                s, p, o = parts
                table.setdefault(s, set()).add(p + o if predicate else o)
    return table


def reference_add_knowledge_with_vm(
    words: list[str], table: dict[str, set[str]], vocab: dict[str, int], unk: int,
    max_entities: int = 2, max_length: int = 256,
) -> tuple[list[int], list[int], np.ndarray, list[int]]:
    """A re-statement of the reference algorithm for one segmented sentence (see module doc)."""
    special = {"[CLS]", "[SEP]", "[PAD]"}
    sent_tree = []
    pos_idx_tree = []
    abs_idx_tree = []
    pos_idx = -1
    abs_idx = -1
    abs_idx_src: list[int] = []
    for token in words:
        entities = list(table.get(token, ()))[:max_entities]
        sent_tree.append((token, entities))
        if token in special:
            token_pos_idx = [pos_idx + 1]
            token_abs_idx = [abs_idx + 1]
        else:
            token_pos_idx = [pos_idx + i for i in range(1, len(token) + 1)]
            token_abs_idx = [abs_idx + i for i in range(1, len(token) + 1)]
        abs_idx = token_abs_idx[-1]
        entities_pos_idx = []
        entities_abs_idx = []
        for ent in entities:
            entities_pos_idx.append([token_pos_idx[-1] + i for i in range(1, len(ent) + 1)])
            ent_abs = [abs_idx + i for i in range(1, len(ent) + 1)]
            abs_idx = ent_abs[-1]
            entities_abs_idx.append(ent_abs)
        pos_idx_tree.append((token_pos_idx, entities_pos_idx))
        pos_idx = token_pos_idx[-1]
        abs_idx_tree.append((token_abs_idx, entities_abs_idx))
        abs_idx_src += token_abs_idx
    know_sent: list[str] = []
    pos: list[int] = []
    seg: list[int] = []
    for i, (word, entities) in enumerate(sent_tree):
        chars = [word] if word in special else list(word)
        know_sent += chars
        seg += [0] * len(chars)
        pos += pos_idx_tree[i][0]
        for j, ent in enumerate(entities):
            know_sent += list(ent)
            seg += [1] * len(ent)
            pos += pos_idx_tree[i][1][j]
    n = len(know_sent)
    vm = np.zeros((n, n))
    for src_ids, ents in abs_idx_tree:
        for idx in src_ids:
            vm[idx, abs_idx_src + [k for ent in ents for k in ent]] = 1
        for ent in ents:
            for idx in ent:
                vm[idx, ent + src_ids] = 1
    if n < max_length:
        pad = max_length - n
        know_sent += ["[PAD]"] * pad
        seg += [0] * pad
        pos += [max_length - 1] * pad
        vm = np.pad(vm, ((0, pad), (0, pad)), "constant")
    else:
        know_sent, seg, pos = know_sent[:max_length], seg[:max_length], pos[:max_length]
        vm = vm[:max_length, :max_length]
    ids = [vocab.get(t, unk) for t in know_sent]
    return ids, pos, vm, seg


def make_jieba(subjects: Sequence[str]):
    import jieba

    seg = jieba.Tokenizer()
    seg.initialize()
    for s in subjects:
        seg.add_word(s)
    return seg


# ------------------------------------------------------------------------------------ helpers
def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


BLOCK = 200
"""Sentences per interleaved block (ours / reference alternate, so machine load hits both alike)."""


def cpu_timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of this process (robust to other processes sharing the cores) and the result."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(x: Any) -> str:
        if isinstance(x, float):
            return f"{x:,.1f}" if abs(x) >= 10 else f"{x:.3g}"
        if isinstance(x, int):
            return f"{x:,}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ parts
def bench_featurize(work: Path, n_cls: int | None, n_ner: int | None) -> dict[str, Any]:
    from kgbert.checkpoints import build_char_vocab, make_tokenizer
    from kgbert.data import Example, build_featurizer
    from knowledge import KnowledgeGraph, build_kg

    spo = [SHARED / "kg_hownet" / "HowNet.spo", SHARED / "kg_medical" / "Medical.spo"]
    cls_texts = read_chnsenticorp(SHARED / "chnsenticorp" / "train.tsv", n_cls)
    ner_rows = read_medical_ner(SHARED / "medical_ner" / "train.tsv", n_ner)
    print(f"data: {len(cls_texts)} ChnSentiCorp train texts, {len(ner_rows)} medical_ner train sentences", file=sys.stderr)
    t_build, _ = timed(lambda: build_kg(spo, work / "kg.sqlite", force=True))
    kg = KnowledgeGraph.open(work / "kg.sqlite")
    vocab_list = build_char_vocab(cls_texts + ["".join(t) for t, _ in ner_rows] + [p.read_text(encoding="utf-8") for p in spo])
    tok = make_tokenizer(vocab_list)
    vocab = {t: i for i, t in enumerate(vocab_list)}
    unk = vocab["[UNK]"]
    results: dict[str, Any] = {"kg_build_s": t_build, "kg_triples": kg.num_triples, "rows": []}

    # matcher load/build (one-off, like the reference's dict + user dict)
    feat_cls = build_featurizer("kbert", tok, task="sequence", label_list=["0", "1"], max_length=256, kg=kg)
    t_match, _ = timed(lambda: feat_cls.matcher)
    results["matcher_build_s"] = t_match
    results["matcher_backend"] = "ahocorasick_rs" if getattr(feat_cls.matcher, "use_rs", False) else "pyahocorasick"
    ref_tab_cls = load_reference_kg(spo, predicate=True)
    ref_tab_ner = load_reference_kg(spo, predicate=False)
    t_jieba, jb = timed(lambda: make_jieba(sorted(ref_tab_cls)))
    results["reference_jieba_userdict_s"] = t_jieba

    datasets = {
        "chnsenticorp (seq, L=256, pred+obj)": (
            [Example(t) for t in cls_texts], cls_texts, feat_cls, ref_tab_cls, 256),
        "medical_ner (token, L=128, obj)": (
            [Example("".join(t), tokens=t, tags=g) for t, g in ner_rows],
            ["".join(t) for t, _ in ner_rows],
            build_featurizer("kbert", tok, task="token", label_list=sorted({x for _, g in ner_rows for x in g}),
                             max_length=128, kg=kg),
            ref_tab_ner, 128),
    }
    for name, (examples, texts, feat, table, L) in datasets.items():
        _ = feat.matcher  # loaded (persisted beside the store)
        if hasattr(kg, "_cache"):
            kg._cache.clear()
        feat._branch_cache.clear()
        n = len(examples)
        # interleaved blocks, CPU time of this process: ours (cold), jieba, reference knowledge step
        t_cold = t_seg = t_ref = 0.0
        feats: list[dict] = []
        words: list[list[str]] = []
        for b0 in range(0, n, BLOCK):
            blk_ex, blk_tx = examples[b0:b0 + BLOCK], texts[b0:b0 + BLOCK]
            dt, out = cpu_timed(lambda: [feat(e) for e in blk_ex])
            t_cold += dt
            feats += out
            dt, ws = cpu_timed(lambda: [jb.lcut(t) for t in blk_tx])
            t_seg += dt
            words += ws
            dt, _ = cpu_timed(lambda: [reference_add_knowledge_with_vm(["[CLS]", *w], table, vocab, unk, 2, L) for w in ws])
            t_ref += dt
        t_warm, _ = cpu_timed(lambda: [feat(e) for e in examples])
        refs = [reference_add_knowledge_with_vm(["[CLS]", *words[0]], table, vocab, unk, 2, L)]
        ours_br = sum(max(f["branch_ids"]) for f in feats) / n
        ours_ent = feat.stats["entities"] / feat.stats["examples"]
        ref_ent = sum(1 for w in words for x in w if x in table) / n
        ref_br = sum(min(2, len(table[x])) for w in words for x in w if x in table) / n
        row = {
            "dataset": name, "n": n,
            "ours_cold_per_s": rate(n, t_cold), "ours_warm_per_s": rate(n, t_warm),
            "ref_knowledge_per_s": rate(n, t_ref), "ref_with_jieba_per_s": rate(n, t_ref + t_seg),
            "speedup_cold_vs_ref_knowledge": (t_ref / t_cold), "speedup_cold_vs_ref_with_jieba": ((t_ref + t_seg) / t_cold),
            "ours_entities_per_sent": ours_ent, "ours_branches_per_sent": ours_br,
            "ref_entities_per_sent": ref_ent, "ref_branches_per_sent_before_truncation": ref_br,
            "ours_feature_bytes_int32": statistics.mean(4 * sum(len(f[k]) for k in ("input_ids", "token_type_ids", "position_ids", "anchor_ids", "branch_ids")) for f in feats),
            "ours_feature_bytes_pickled": statistics.mean(len(pickle.dumps(f, protocol=5)) for f in feats[:2000]),
            "ref_vm_bytes_float64": float(L * L * 8), "ref_vm_bytes_bool": float(L * L),
            "mean_len_ours": statistics.mean(len(f["input_ids"]) for f in feats),
        }
        assert refs[0][2].shape == (L, L)
        results["rows"].append(row)
        print(f"{name}: ours cold {row['ours_cold_per_s']:.0f}/s, reference {row['ref_knowledge_per_s']:.0f}/s", file=sys.stderr)
    return results


def pad_batch(batch: dict, L: int, pad_id: int) -> dict:
    """Pad every (B, l) tensor of a collated batch to (B, L) (positions continue, labels -100)."""
    import torch

    out = {}
    for k, v in batch.items():
        if v.ndim != 2 or v.shape[1] >= L:
            out[k] = v
            continue
        extra = L - v.shape[1]
        if k == "position_ids":
            fill = torch.arange(v.shape[1], L).expand(v.shape[0], extra)
        else:
            value = {"input_ids": pad_id, "labels": -100}.get(k, 0)
            fill = torch.full((v.shape[0], extra), value, dtype=v.dtype)
        out[k] = torch.cat([v, fill], dim=1)
    return out


def bench_model(threads: int, steps: int, L: int = 128, batch_size: int = 16) -> dict[str, Any]:
    import torch

    from kgbert.checkpoints import build_char_vocab, make_tokenizer
    from kgbert.data import Example, build_featurizer
    from kgbert.models import build_model
    from knowledge import KnowledgeGraph, build_kg

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    texts = read_chnsenticorp(SHARED / "chnsenticorp" / "train.tsv", 200)
    spo = [SHARED / "kg_hownet" / "HowNet.spo", SHARED / "kg_medical" / "Medical.spo"]
    with tempfile.TemporaryDirectory() as d:
        build_kg(spo, Path(d) / "kg.sqlite")
        kg = KnowledgeGraph.open(Path(d) / "kg.sqlite")
        vocab_list = build_char_vocab(texts + [p.read_text(encoding="utf-8") for p in spo])
        tok = make_tokenizer(vocab_list)
        fk = build_featurizer("kbert", tok, task="sequence", label_list=["0", "1"], max_length=L, kg=kg)
        fb = build_featurizer("bert", tok, task="sequence", label_list=["0", "1"], max_length=L)
        # texts with room for knowledge (the original alone fits in L), both padded to L
        exs = [Example(t, label="1") for t in texts if 60 <= len(t) <= L - 20]
        exs = [e for e in exs if max(fk(e)["branch_ids"]) > 0][:batch_size]
        bk = pad_batch(fk.collate([fk(e) for e in exs]), L, tok.pad_token_id)
        bb = pad_batch(fb.collate([fb(e) for e in exs]), L, tok.pad_token_id)
    assert bk["input_ids"].shape == bb["input_ids"].shape == (batch_size, L)
    cfg = dict(vocab_size=len(vocab_list), hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
               intermediate_size=1024, max_position_embeddings=512)
    rows = []
    for attn in ("sdpa", "eager"):
        models = {
            "bert": (build_model("bert", "sequence", 2, backbone_config={**cfg, "attn_implementation": attn}), bb),
            "kbert": (build_model("kbert", "sequence", 2, backbone_config={**cfg, "attn_implementation": attn}), bk),
        }
        models["kbert"][0].load_state_dict(models["bert"][0].state_dict())
        times: dict[str, dict[str, list[float]]] = {k: {"infer": [], "train": []} for k in models}
        opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-5) for k, (m, _) in models.items()}
        for step in range(steps + 1):  # interleaved; step 0 is warm-up
            for name, (model, batch) in models.items():
                model.eval()
                with torch.no_grad():
                    t, _ = cpu_timed(lambda: model(**batch).logits.sum().item())
                if step:
                    times[name]["infer"].append(t)
                model.train()
                def train_step():
                    opts[name].zero_grad(set_to_none=True)
                    loss = model(**batch).loss
                    loss.backward()
                    opts[name].step()
                    return loss.item()
                t, _ = cpu_timed(train_step)
                if step:
                    times[name]["train"].append(t)
        for mode in ("infer", "train"):
            mb = statistics.median(times["bert"][mode])
            mk = statistics.median(times["kbert"][mode])
            rows.append({"attn": attn, "mode": mode, "bert_seq_per_s": batch_size / mb, "kbert_seq_per_s": batch_size / mk,
                         "ratio_kbert_over_bert": mb / mk, "bert_median_s": mb, "kbert_median_s": mk})
            print(f"{attn} {mode}: bert {batch_size / mb:.1f}/s kbert {batch_size / mk:.1f}/s", file=sys.stderr)
    return {"threads": threads, "steps": steps, "L": L, "batch_size": batch_size, "config": cfg,
            "kbert_branches_in_batch": int(bk["branch_ids"].max(dim=1).values.sum()),
            "kbert_original_tokens_in_batch": int(((bk["branch_ids"] == 0) & (bk["attention_mask"] == 1)).sum()),
        "kbert_knowledge_tokens_in_batch": int((bk["branch_ids"] != 0).sum()),
        "bert_tokens_in_batch": int(bb["attention_mask"].sum()), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sentences and steps (smoke run)")
    ap.add_argument("--steps", type=int, default=5, help="timed model steps (after 1 warm-up)")
    ap.add_argument("--out", type=Path, default=RESULTS / "bench_kbert.json")
    ap.add_argument("--skip-model", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the model part (default: OMP_NUM_THREADS)")
    args = ap.parse_args(argv)
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if threads <= 0:
        ap.error("set OMP_NUM_THREADS explicitly (e.g. OMP_NUM_THREADS=1)")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for p in (SHARED / "chnsenticorp" / "train.tsv", SHARED / "medical_ner" / "train.tsv", SHARED / "kg_hownet" / "HowNet.spo"):
        if not p.exists():
            print(f"shared data missing: {p}", file=sys.stderr)
            return 2
    n_cls, n_ner = (1000, 1000) if args.quick else (None, None)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        feat = bench_featurize(Path(d), n_cls, n_ner)
    model = None if args.skip_model else bench_model(args.threads or threads, 2 if args.quick else args.steps)
    env = {"OMP_NUM_THREADS": threads, "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
           "machine": platform.machine(), "nice": os.nice(0)}
    print(f"\n## K-BERT featurisation (sentences per CPU-second of one process = per core; OMP_NUM_THREADS={threads}, nice {env['nice']})\n")
    print(md_table(
        ["dataset", "n", "ours cold", "ours warm", "reference knowledge step", "reference + jieba", "speed-up (cold vs ref. knowledge)",
         "speed-up (cold vs ref. + jieba)"],
        [[r["dataset"], r["n"], r["ours_cold_per_s"], r["ours_warm_per_s"], r["ref_knowledge_per_s"], r["ref_with_jieba_per_s"],
          f"{r['speedup_cold_vs_ref_knowledge']:.1f}x", f"{r['speedup_cold_vs_ref_with_jieba']:.1f}x"] for r in feat["rows"]]))
    print(f"\nMachine load average (1, 5, 15 min) at start {tuple(round(x, 1) for x in env['loadavg_start'])}, "
          f"at end {tuple(round(x, 1) for x in env['loadavg_end'])}, on {env['cpu_count']} cores: absolute rates are depressed "
          "by other processes; the ratios come from interleaved blocks of the same run.")
    print("\nWork done per sentence (matching differs: ours = leftmost-longest substrings over KG subjects; reference = jieba words equal to a subject):\n")
    print(md_table(["dataset", "ours entities", "ours branches kept", "ref. entities", "ref. branches (before truncation)"],
                   [[r["dataset"], r["ours_entities_per_sent"], r["ours_branches_per_sent"], r["ref_entities_per_sent"],
                     r["ref_branches_per_sent_before_truncation"]] for r in feat["rows"]]))
    print(f"\nOne-off costs: KG store build {feat['kg_build_s']:.1f} s ({feat['kg_triples']:,} triples), "
          f"matcher {feat['matcher_build_s']:.2f} s ({feat.get('matcher_backend', 'pyahocorasick')}); "
          f"reference jieba user dict {feat['reference_jieba_userdict_s']:.1f} s.")
    print("\n## Memory of the cached features per sample (bytes)\n")
    print(md_table(["dataset", "mean length (ours)", "ours: 5 id vectors as int32", "ours: pickled dict", "ref.: L x L float64", "L x L bool"],
                   [[r["dataset"], r["mean_len_ours"], r["ours_feature_bytes_int32"], r["ours_feature_bytes_pickled"],
                     r["ref_vm_bytes_float64"], r["ref_vm_bytes_bool"]] for r in feat["rows"]]))
    if model:
        print(f"\n## Model throughput, CPU (sequences/s; hidden 256, 4 layers, L={model['L']}, batch {model['batch_size']}, "
              f"median of {model['steps']} steps, torch threads {model['threads']})\n")
        print(md_table(["attention", "mode", "BERT", "K-BERT", "K-BERT / BERT"],
                       [[r["attn"], r["mode"], r["bert_seq_per_s"], r["kbert_seq_per_s"], f"{r['ratio_kbert_over_bert']:.2f}"] for r in model["rows"]]))
        print(f"\n(Same {model['batch_size']} ChnSentiCorp reviews, both padded to {model['L']}: BERT {model['bert_tokens_in_batch']} real tokens; "
              f"K-BERT {model['kbert_original_tokens_in_batch']} original + {model['kbert_knowledge_tokens_in_batch']} knowledge tokens in "
              f"{model['kbert_branches_in_batch']} branches. Medians of CPU time per step (one torch thread, so CPU time = compute time, "
              "robust to other processes), BERT and K-BERT steps interleaved.)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"env": env, "featurize": feat, "model": model}, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
