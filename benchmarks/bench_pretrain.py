"""Pretraining speed: collator throughput per masking strategy, and training tokens/s of
``kgbert.pretrain``'s recipe against transformers' plain one, measured side by side.

    nice -n 10 python -m benchmarks.bench_pretrain [--steps 6] [--rounds 3] [--threads 1] [--skip-train] [--collators-only]
    nice -n 10 python -m benchmarks.bench_pretrain --collators-only --baseline main --rounds 7  # before/after

Text: ``../shared/data/corpus_cluecorpussmall/CLUECorpusSmall_bert_sampled.txt`` (web text, one
sentence a line), vocabulary built from it, words from the jieba annotator (the wwm cache).
Times are CPU seconds of this process (the machine is shared; with one thread CPU time is the
compute time a dedicated core would take).

1. *Collators* (sequences per CPU-second, median of ``--rounds``): the same 1,024 packed 128-token sequences
   through ``mlm``, ``wwm`` (jieba words), ``ernie`` (words as phrases/entities stand-in:
   the unit logic is what is timed), ``span`` (SpanBERT, jieba words; ``span+sbo`` with the SBO
   boundaries) and ``mlm+wso`` (StructBERT's shuffled trigrams), batches of 32, round-robin;
   ``--baseline REV`` adds the ``mlm``/``wwm``/``ernie`` collators of git revision ``REV`` to the same
   rounds (before/after side by side). ``--collators-only`` measures only this and writes
   ``benchmarks/results/pretrain_collators/collators.json``.
2. *Training* (tokens per CPU-second of real, non-padding tokens, one thread, median of ``--rounds`` round-robin rounds of
   ``--steps`` optimizer steps each, same model config, AdamW, batch 32):
   - ``transformers``: ``BertForMaskedLM`` (vocabulary-wide head) + ``DataCollatorForLanguageModeling``
     over one example per line (truncated at 128, padded to the longest in the batch);
   - ``kgbert``: ``BertForSparseMaskedLM`` (head only at masked positions) + the ``mlm`` collator
     over FULL-SENTENCES packed 128-token sequences (no padding).
   Both loops are the same hand loop (forward, backward, clip, AdamW step), so only the recipe
   differs.
3. *Word annotation* for ``wwm`` (sentences per CPU-second): the jieba annotator against the spaCy
   pipeline's tokenizer, which yields the same words (tested).
Writes ``benchmarks/results/pretrain.json`` and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KGBERT_SHARED_DATA", REPO.parent / "shared" / "data"))
MODEL = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
             max_position_embeddings=512, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def setup(cache_dir: Path):
    from kgbert.checkpoints import make_tokenizer
    from kgbert.pretraining.annotate import AnnotatedSource, JiebaWordAnnotator, build_cache
    from kgbert.pretraining.config import CorpusSource, VocabConfig
    from kgbert.pretraining.data import PackedCorpus
    from kgbert.pretraining.vocab import build_corpus_vocab

    src = CorpusSource(name="web", path=str(SHARED / "corpus_cluecorpussmall" / "CLUECorpusSmall_bert_sampled.txt"))
    vocab, _ = build_corpus_vocab([src], VocabConfig(min_count=3), progress=False)
    tok = make_tokenizer(vocab)
    ann = JiebaWordAnnotator()
    annotated = {"web": AnnotatedSource(src, build_cache(src, ann, cache_dir, progress=False), ann.fields)}
    seqs = list(itertools.islice(iter(PackedCorpus([src], tok, 128, seed=0, shuffle_buffer=64, annotated=annotated)), 1024))
    for s in seqs:  # stand-ins for the ernie levels (timing only)
        s["phrase_ids"] = s["entity_ids"] = s["word_ids"]
    lines = [l.strip() for l in itertools.islice(open(src.path, encoding="utf-8"), 20000) if l.strip()]
    return tok, seqs, lines


def _collators(build, tok, prefix: str = "") -> dict:
    return {f"{prefix}mlm": build("mlm", tok, seed=0), f"{prefix}wwm": build("wwm", tok, seed=0),
            f"{prefix}ernie": build("ernie", tok, seed=0, levels={"basic": 1, "phrase": 1, "entity": 1})}


def _baseline_module(ref: str):
    """``kgbert/data/collators.py`` as it was at git revision ``ref``, imported under another name."""
    import importlib.util
    import subprocess
    import tempfile

    src = subprocess.run(["git", "show", f"{ref}:kgbert/data/collators.py"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "collators_baseline.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("collators_baseline", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bench_collators(tok, seqs, rounds: int, baseline: str | None = None) -> dict:
    """Collators per strategy; with ``baseline`` (a git revision), that revision's collators too,
    round-robin in the same run (before/after side by side)."""
    from kgbert.data.collators import build_collator

    cols = _collators(build_collator, tok)
    cols.update({"span": build_collator("span", tok, seed=0),  # SpanBERT, jieba words
                 "span+sbo": build_collator("span", tok, seed=0, boundaries=True),  # + SBO boundaries
                 "mlm+wso": build_collator("mlm", tok, seed=0, shuffle_fraction=0.05)})  # + StructBERT's shuffled trigrams
    if baseline:
        cols.update(_collators(_baseline_module(baseline).build_collator, tok, prefix=f"{baseline}:"))
    times = {k: [] for k in cols}
    for _ in range(rounds):
        for name, col in cols.items():
            t = time.process_time()
            for i in range(0, len(seqs), 32):
                col(seqs[i:i + 32])
            times[name].append(time.process_time() - t)
    out = {k: len(seqs) / statistics.median(v) for k, v in times.items()}
    cost = {k: out[k.rsplit(":", 1)[0] + ":mlm" if ":" in k else "mlm"] / v for k, v in out.items()}
    return {"sequences_per_second": out, "cost_vs_mlm": cost, "rounds": rounds, "baseline": baseline}


def bench_annotation(lines, n_fast: int = 5000, n_spacy: int = 500) -> dict:
    """Words for wwm: the jieba annotator against the spaCy pipeline's tokenizer (same words)."""
    from annotators import make_pipeline, to_annotation

    from kgbert.pretraining.annotate import JiebaWordAnnotator

    ann = JiebaWordAnnotator()
    ann(lines[:10])
    t = time.process_time()
    ann(lines[:n_fast])
    fast = n_fast / (time.process_time() - t)
    nlp = make_pipeline(components=[])
    list(nlp.pipe(lines[:10]))
    t = time.process_time()
    for doc in nlp.pipe(lines[:n_spacy]):
        to_annotation(doc)
    slow = n_spacy / (time.process_time() - t)
    return {"sentences_per_cpu_second": {"jieba_words": fast, "spacy_tokenizer_words": slow}, "speedup": fast / slow}


def bench_training(tok, seqs, lines, steps: int, rounds: int) -> dict:
    from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling

    from kgbert.data.collators import build_collator
    from kgbert.models.modeling_pretraining import BertForSparseMaskedLM

    cfg = BertConfig(vocab_size=len(tok), **MODEL)
    torch.manual_seed(0)
    models = {"transformers": BertForMaskedLM(cfg), "kgbert": BertForSparseMaskedLM(cfg)}
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.98)) for k, m in models.items()}
    hf_col = DataCollatorForLanguageModeling(tok, mlm_probability=0.15)
    hf_examples = [{"input_ids": ids} for ids in tok(lines, truncation=True, max_length=128)["input_ids"]]
    kg_col = build_collator("mlm", tok, seed=0)
    cursor = {"transformers": 0, "kgbert": 0}

    def batch(name):
        i = cursor[name]
        cursor[name] += 32
        if name == "transformers":
            ex = [hf_examples[(i + j) % len(hf_examples)] for j in range(32)]
            return hf_col(ex)
        return kg_col([{**seqs[(i + j) % len(seqs)], "key": i + j} for j in range(32)])

    def run(name):
        m, opt = models[name], opts[name]
        m.train()
        tokens = 0
        t = time.process_time()
        for _ in range(steps):
            b = batch(name)
            tokens += int(b["attention_mask"].sum())
            out = m(**b)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
            opt.step()
            opt.zero_grad(set_to_none=True)
        return tokens / (time.process_time() - t)

    for name in models:  # warm-up
        steps_saved, steps = steps, 1
        run(name)
        steps = steps_saved
    res = {k: [] for k in models}
    for _ in range(rounds):
        for name in models:
            res[name].append(run(name))
    med = {k: statistics.median(v) for k, v in res.items()}
    return {"tokens_per_second": med, "all_rounds": res, "speedup": med["kgbert"] / med["transformers"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--collators-only", action="store_true",
                    help="only the collator table, written to benchmarks/results/pretrain_collators/collators.json")
    ap.add_argument("--baseline", default=None,
                    help="also time the collators of this git revision (before/after in one run), e.g. main")
    ap.add_argument("--cache-dir", default=str(REPO / "runs" / "pretrain_cache"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    tok, seqs, lines = setup(Path(args.cache_dir))
    result = {"threads": args.threads, "vocab_size": len(tok), "model": MODEL,
              "collators": bench_collators(tok, seqs, args.rounds, args.baseline)}
    print("| collator | sequences per CPU-second | cost vs mlm (same code) |\n|---|---:|---:|")
    c = result["collators"]
    for k, v in c["sequences_per_second"].items():
        print(f"| {k} | {v:,.0f} | {c['cost_vs_mlm'][k]:.2f}x |")
    if args.collators_only:
        out = REPO / "benchmarks" / "results" / "pretrain_collators" / "collators.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**c, "vocab_size": len(tok), "sequences": len(seqs)}, indent=1, default=float) + "\n")
        return 0
    result["annotation"] = a = bench_annotation(lines)
    print("\n| word annotation (CLUECorpusSmall sentences) | sentences per CPU-second |\n|---|---:|")
    for k, v in a["sentences_per_cpu_second"].items():
        print(f"| {k} | {v:,.0f} |")
    if not args.skip_train:
        result["training"] = bench_training(tok, seqs, lines, args.steps, args.rounds)
        t = result["training"]
        print(f"\n| recipe (4 layers, hidden 256, batch 32, {args.threads} thread) | tokens per CPU-second (median of {args.rounds}) |\n|---|---:|")
        for k, v in t["tokens_per_second"].items():
            print(f"| {k} | {v:,.0f} |")
        print(f"\nspeed-up kgbert / transformers: {t['speedup']:.2f}x")
    _write_result(result, "pretrain.json")
    return 0


def _write_result(result: dict, name: str) -> None:
    out = REPO / "benchmarks" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, default=float))
    os.replace(tmp, out)


if __name__ == "__main__":
    raise SystemExit(main())
