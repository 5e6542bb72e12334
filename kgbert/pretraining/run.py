"""``run_pretraining(config)``: the pretraining loop on ``transformers.Trainer``.

Run directory layout::

    config.yaml        the resolved config
    corpus.json        the corpus files (size, SHA-256, format, hold-out share) that went in
    init/              the tokenizer (vocab.txt built from the corpus) and its character counts
    train_log.jsonl    one JSON line per Trainer log event (loss, lr, tokens/s, held-out accuracy)
    checkpoints/       Trainer checkpoints (each a loadable BERT checkpoint; resumed automatically)
    best/              the final model: a plain BERT checkpoint (config model_type "bert",
                       model.safetensors with bert.* and cls.predictions.*, vocab.txt, tokenizer
                       files) + pretrain.json (recipe, tokens, wall time, held-out scores)
                       (model.family albert: a plain ALBERT checkpoint; electra: the discriminator
                       as a plain BERT checkpoint; see kgbert.pretraining.families)
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from kgbert.data.collators import IGNORE_INDEX, MaskingCollator, build_collator
from kgbert.pretraining.config import ConfigError, PretrainConfig, dump_pretrain_config
from kgbert.pretraining.corpus import check_sources
from kgbert.pretraining.data import PackedCorpus, PairedCorpus, heldout_sequences

EVAL_SEED_OFFSET = 1_000_003


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=2, default=float)
    os.replace(tmp, path)


def write_vocab_txt(tokenizer, out_dir: str | os.PathLike) -> Path:
    """``vocab.txt`` (one token a line, line number = id) beside the tokenizer files, so
    ``BertTokenizer``/``BertTokenizerFast`` and other tools read the checkpoint as they are."""
    vocab = tokenizer.get_vocab()
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError("the tokenizer's vocabulary ids are not contiguous; cannot write vocab.txt")
    path = Path(out_dir) / "vocab.txt"
    tmp = path.with_name("vocab.txt.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(tok + "\n" for tok, _ in by_id)
    os.replace(tmp, path)
    return path


class VocabOnSave(TrainerCallback):
    """Put ``vocab.txt`` into every Trainer checkpoint (each one is then a complete BERT checkpoint)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir():
                write_vocab_txt(self.tokenizer, ckpt)


class EvalSet:
    """A fixed, statically masked held-out set (same masks at every evaluation)."""

    def __init__(self, name: str, sequences: list[dict], collator: MaskingCollator, batch_size: int) -> None:
        self.name = name
        self.batches = []
        for i in range(0, len(sequences), batch_size):
            feats = [{**s, "key": EVAL_SEED_OFFSET + i + j} for j, s in enumerate(sequences[i:i + batch_size])]
            self.batches.append(collator(feats))
        self.n_sequences = len(sequences)

    def targets(self) -> torch.Tensor:
        return torch.cat([b["labels"][b["labels"] != IGNORE_INDEX] for b in self.batches]) if self.batches else torch.zeros(0, dtype=torch.long)

    def __len__(self) -> int:
        return self.n_sequences


@torch.no_grad()
def masked_accuracy(model: torch.nn.Module, batches: Sequence[dict], device: torch.device | str = "cpu") -> dict[str, float]:
    """Loss and accuracy of the masked-token predictions over pre-masked batches (with dEA
    batches also ``entity_accuracy``: the aligned positions whose entity is ranked first among
    the batch's candidates)."""
    was_training = model.training
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    ent_correct, ent_n = 0, 0
    for b in batches:
        b = {k: v.to(device) for k, v in b.items()}
        out = model(**b)
        target = b["labels"][b["labels"] != IGNORE_INDEX]
        logits = out.logits if out.logits.dim() == 2 else out.logits[b["labels"] != IGNORE_INDEX]
        loss_sum += torch.nn.functional.cross_entropy(logits.float(), target, reduction="sum").item()
        correct += (logits.argmax(-1) == target).sum().item()
        n += target.numel()
        if getattr(out, "entity_logits", None) is not None:
            ent_correct += (out.entity_logits.argmax(-1) == out.entity_targets).sum().item()
            ent_n += out.entity_targets.numel()
    if was_training:
        model.train()
    res = {"loss": loss_sum / max(n, 1), "accuracy": correct / max(n, 1), "n_predictions": n}
    if ent_n:
        res["entity_accuracy"] = ent_correct / ent_n
    return res


class TimeBudget:
    """A wall-clock budget (Cramming, Geiping and Goldstein 2022): progress is the larger of
    ``step / max_steps`` and ``elapsed / budget``, measured from the run's first start (kept in
    ``run_dir/time_budget.json``, so a resumed run keeps the same deadline). The learning rate
    decays with that progress and training stops when it reaches 1, so a run on a busy machine
    still ends on time with a fully decayed schedule and a saved model."""

    def __init__(self, run_dir: Path, budget_s: float, max_steps: int) -> None:
        path = run_dir / "time_budget.json"
        if path.is_file():
            with open(path, encoding="utf-8") as fh:
                rec = json.load(fh)
        else:
            rec = {"start": time.time(), "budget_s": budget_s}
            _write_json(path, rec)
        self.start, self.budget_s, self.max_steps = float(rec["start"]), float(rec["budget_s"]), max_steps

    def progress(self, step: int) -> float:
        p_time = (time.time() - self.start) / self.budget_s
        p_step = step / self.max_steps if self.max_steps > 0 else 0.0
        return min(1.0, max(p_time, p_step))


def budget_lr_lambda(budget: TimeBudget, warmup_steps: int, kind: str):
    import math

    def factor(step: int) -> float:
        if step < warmup_steps:
            return max(step, 1) / max(1, warmup_steps) * (1.0 - budget.progress(step))
        p = budget.progress(step)
        return 0.5 * (1.0 + math.cos(math.pi * p)) if kind == "cosine" else max(0.0, 1.0 - p)

    return factor


class BudgetStop(TrainerCallback):
    """Stop (and save a checkpoint) when the time budget is spent."""

    def __init__(self, budget: TimeBudget) -> None:
        self.budget = budget

    def on_step_end(self, args, state, control, **kwargs):
        if self.budget.progress(state.global_step) >= 1.0:
            control.should_training_stop = True
            control.should_save = True
        return control


class CollatorProgress(TrainerCallback):
    """Tell a collator with stages (``ernie``'s ``stages``) how far training is, every step."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator

    def on_step_begin(self, args, state, control, **kwargs):
        if state.max_steps:
            self.collator.set_progress(state.global_step / state.max_steps)


class PretrainTrainer(Trainer):
    """``Trainer`` whose evaluation is masked-token accuracy on fixed held-out sets, with an
    optional wall-clock budget schedule (:class:`TimeBudget`)."""

    def __init__(self, *args: Any, eval_sets: dict[str, EvalSet] | None = None, time_budget: TimeBudget | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.eval_sets = eval_sets or {}
        self.time_budget = time_budget

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.time_budget is None:
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            from torch.optim.lr_scheduler import LambdaLR

            kind = self.args.lr_scheduler_type
            kind = getattr(kind, "value", kind)
            if kind not in ("linear", "cosine"):
                raise ConfigError(f"training.time_budget_s works with lr_scheduler linear or cosine, not {kind!r}")
            self.lr_scheduler = LambdaLR(optimizer if optimizer is not None else self.optimizer,
                                         budget_lr_lambda(self.time_budget, int(self.args.warmup_steps), kind))
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        metrics: dict[str, float] = {}
        total = {"loss": 0.0, "correct": 0.0, "n": 0}
        for name, es in self.eval_sets.items():
            r = masked_accuracy(self.model, es.batches, self.args.device)
            metrics[f"{metric_key_prefix}_{name}_accuracy"] = r["accuracy"]
            metrics[f"{metric_key_prefix}_{name}_loss"] = r["loss"]
            if "entity_accuracy" in r:
                metrics[f"{metric_key_prefix}_{name}_entity_accuracy"] = r["entity_accuracy"]
            total["loss"] += r["loss"] * r["n_predictions"]
            total["correct"] += r["accuracy"] * r["n_predictions"]
            total["n"] += r["n_predictions"]
        if total["n"]:
            metrics[f"{metric_key_prefix}_accuracy"] = total["correct"] / total["n"]
            metrics[f"{metric_key_prefix}_loss"] = total["loss"] / total["n"]
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class JsonlLog(TrainerCallback):
    """Append every log event (with tokens/s since the previous one) to ``train_log.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: tuple[float, int] | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        now, seen = time.time(), int(getattr(state, "num_input_tokens_seen", 0) or 0)
        rec = {"step": state.global_step, "time": now, "tokens_seen": seen, **logs}
        if "loss" in logs and self._last is not None and now > self._last[0] and seen > self._last[1]:
            rec["tokens_per_second"] = (seen - self._last[1]) / (now - self._last[0])
        if "loss" in logs:
            self._last = (now, seen)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, default=float) + "\n")


def corpus_manifest(config: PretrainConfig) -> list[dict[str, Any]]:
    from kgbert.training.resources import file_sha256

    out = []
    for s in config.data.corpus:
        out.append({"name": s.label, "path": os.path.abspath(s.path), "format": s.format, "bytes": os.path.getsize(s.path),
                    "sha256": file_sha256(s.path), "holdout": s.holdout, "weight": s.weight})
    return out


def read_vocab_txt(path: str | os.PathLike) -> list[str]:
    """The tokens of ``path`` (a ``vocab.txt``, or a directory holding one), one a line, line number = id."""
    p = Path(path)
    if p.is_dir():
        p = p / "vocab.txt"
    if not p.is_file():
        raise ConfigError(f"vocab.path: {str(path)!r} is neither a vocab.txt file nor a directory holding one")
    with open(p, encoding="utf-8") as fh:
        vocab = [line.rstrip("\n") for line in fh]
    while vocab and not vocab[-1]:
        vocab.pop()
    for i, tok in enumerate(vocab, 1):
        if not tok or tok != tok.strip():
            raise ConfigError(f"{p}:{i}: empty token or surrounding whitespace in vocab.txt")
    missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t not in vocab]
    if missing:
        raise ConfigError(f"{p}: vocab.txt lacks the special tokens {missing}")
    if len(set(vocab)) != len(vocab):
        raise ConfigError(f"{p}: vocab.txt has duplicate tokens")
    return vocab


def prepare_tokenizer(config: PretrainConfig, run_dir: Path, is_main: bool = True):
    """The tokenizer: ``model.init_from``'s, the run's ``init/`` (resume), or a vocab built from the corpus."""
    from kgbert.checkpoints import load_tokenizer, make_tokenizer
    from kgbert.pretraining.vocab import build_corpus_vocab

    if config.model.init_from:
        return load_tokenizer(config.model.init_from), None
    init = run_dir / "init"
    if not (init / "vocab.txt").is_file() and is_main:
        if config.vocab.path:
            vocab, counts = read_vocab_txt(config.vocab.path), Counter()
        else:
            vocab, counts = build_corpus_vocab(config.data.corpus, config.vocab, config.training.progress)
        tmp = Path(tempfile.mkdtemp(prefix=".init.", dir=run_dir))
        try:
            tok = make_tokenizer(vocab)
            tok.save_pretrained(tmp)
            write_vocab_txt(tok, tmp)
            if counts:  # none with vocab.path (no unigram baseline then)
                _write_json(tmp / "char_counts.json", dict(counts.most_common()))
            if init.exists():
                shutil.rmtree(init)
            os.replace(tmp, init)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    counts = None
    if (init / "char_counts.json").is_file():
        with open(init / "char_counts.json", encoding="utf-8") as fh:
            counts = Counter(json.load(fh))
    return load_tokenizer(init), counts


DEFAULT_ANNOTATOR = {"wwm": "jieba_words", "ernie": "fast_pipeline", "span": "jieba_words"}


def prepare_annotations(config: PretrainConfig) -> dict[str, Any] | None:
    """Annotation caches of every source (built once; see :mod:`kgbert.pretraining.annotate`),
    or None when the masking strategy needs no annotation (``span`` with ``words: false``)."""
    m = config.masking
    default = None if m.strategy == "span" and m.options.get("words") is False else DEFAULT_ANNOTATOR.get(m.strategy)
    name = m.annotator or default
    if name is None:
        return None
    from kgbert.pretraining.annotate import AnnotatedSource, build_annotator, build_cache

    annotator = build_annotator(name, **m.annotator_options)
    out = {}
    for s in config.data.corpus:
        d = build_cache(s, annotator, config.data.cache_dir, config.training.progress, workers=m.annotate_workers)
        out[s.label] = AnnotatedSource(s, d, annotator.fields)
    return out


def build_pretraining_model(config: PretrainConfig, tokenizer) -> torch.nn.Module:
    """The model of ``model.family`` (:mod:`kgbert.pretraining.families`); for ``bert``:
    ``BertForSparseMaskedLM`` (no sentence objective) or ``BertForSparsePreTraining`` (a sentence
    objective: nsp, sop or sso); plug-in objectives (sbo, wso, sso) add their heads
    (``BertConfig.pretraining_objectives``, dropped again on export)."""
    from kgbert.pretraining.families import get_family

    return get_family(config.model.family).build(config, tokenizer)


def objective_label_names(objectives: Sequence[str]) -> list[str]:
    """The batch keys that are targets of the run's objectives (the Trainer's ``label_names``)."""
    from kgbert.objectives import plugin_objectives, sentence_objective

    names = ["labels"]
    sentence = sentence_objective(list(objectives))
    if sentence is not None:
        names.append(sentence.label_key)
    names += [k for o in plugin_objectives(list(objectives)) for k in o.input_keys if k not in names]
    if "dea" in objectives:
        names.append("entity_labels")
    return names


def training_arguments(config: PretrainConfig, run_dir: Path, has_eval: bool) -> TrainingArguments:
    t = config.training
    eval_steps = t.eval_steps or t.save_steps
    return TrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.lr,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_steps,
        adam_beta1=t.adam_beta1,
        adam_beta2=t.adam_beta2,
        adam_epsilon=t.adam_epsilon,
        max_grad_norm=t.max_grad_norm,
        lr_scheduler_type=t.lr_scheduler,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_steps if has_eval else None,
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        include_num_input_tokens_seen=True,
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        bf16=t.bf16,
        fp16=t.fp16,
        dataloader_num_workers=0,
        ddp_backend=t.ddp_backend,
        disable_tqdm=not t.progress,
        remove_unused_columns=False,
        label_names=objective_label_names(config.model.objectives),
        use_cpu=not torch.cuda.is_available(),
    )


def _resume_point(config: PretrainConfig, ckpt_dir: Path) -> str | None:
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if config.resume is True and last is None:
        raise ConfigError(f"resume=true but {ckpt_dir} holds no checkpoint")
    return None if config.resume is False else last


def export_checkpoint(trainer: Trainer, out_dir: Path, info: dict[str, Any], export_dropout: float | None = None,
                      family: str = "bert") -> None:
    """Write the final model as a plain checkpoint of its family (BERT, ALBERT; ELECTRA: the
    discriminator as BERT) (temp dir + rename)."""
    from kgbert.pretraining.families import get_family

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        fam = get_family(family)
        fam.save(trainer, tmp)
        write_vocab_txt(trainer.processing_class, tmp)
        (tmp / "training_args.bin").unlink(missing_ok=True)  # a pickle: never part of a shipped checkpoint
        objectives = list(info.get("recipe", {}).get("objectives") or [])
        has_nsp_head = "PreTraining" in type(trainer.model).__name__ and bool({"nsp", "sop"} & set(objectives))
        drop_pretraining_only_weights(tmp, keep_seq_relationship=has_nsp_head)
        cfg_path = tmp / "config.json"
        with open(cfg_path, encoding="utf-8") as fh:
            cfg = json.load(fh)
        cfg.pop("pretraining_objectives", None)
        cfg["architectures"] = fam.architecture(has_nsp_head)
        if export_dropout is not None:
            keys = fam.dropout_keys
            info = {**info, "pretraining_dropout": {k: cfg.get(k) for k in keys}}
            cfg.update(dict.fromkeys(keys, export_dropout))
        _write_json(cfg_path, cfg)
        _write_json(tmp / "pretrain.json", info)
        (tmp / "README.md").write_text(model_card(info), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def drop_pretraining_only_weights(ckpt: Path, keep_seq_relationship: bool = True) -> list[str]:
    """Remove the plug-in objectives' heads (``objective_heads.*``) and, unless kept, the unused
    2-way sentence head (``cls.seq_relationship.*``, untrained when the sentence objective was
    ``sso``) from a saved checkpoint, so it has BERT's layout. Returns the removed keys."""
    from safetensors.torch import load_file, save_file

    from kgbert.models.modeling_pretraining import HEADS_PREFIX

    def dropped(k: str) -> bool:
        return k.startswith(HEADS_PREFIX) or (not keep_seq_relationship and k.startswith("cls.seq_relationship."))

    removed: list[str] = []
    index = ckpt / "model.safetensors.index.json"
    files = sorted(ckpt.glob("*.safetensors"))
    for f in files:
        tensors = load_file(str(f))
        gone = [k for k in tensors if dropped(k)]
        if gone:
            save_file({k: v for k, v in tensors.items() if not dropped(k)}, str(f), metadata={"format": "pt"})
            removed += gone
    if removed and index.is_file():
        with open(index, encoding="utf-8") as fh:
            idx = json.load(fh)
        idx["weight_map"] = {k: v for k, v in idx["weight_map"].items() if not dropped(k)}
        _write_json(index, idx)
    return removed


def model_card(info: dict[str, Any]) -> str:
    """``best/README.md``: what the checkpoint is, how it was made, how it scores."""
    from kgbert.pretraining.families import get_family

    r = info["recipe"]
    mc = r["model"]
    family = r.get("family", "bert")
    lines = [
        f"# {info['name']}: a small Chinese {family.upper()} pretrained with kgbert",
        "",
        get_family(family).describe(mc),
        "",
        "| | |",
        "|---|---|",
        f"| masking | {r['masking']} ({'static' if r['static'] else 'dynamic'}), objectives {', '.join(r['objectives'])} |",
        f"| sequence x batch | {r['max_length']} x {r['batch_size']} (x{r['grad_accum']} accumulation) |",
        f"| optimiser | AdamW lr {r['lr']}, {r['warmup_steps']} warmup steps, {r['lr_scheduler']} decay"
        + (f" over a {r['time_budget_s']:.0f} s wall-clock budget" if r.get("time_budget_s") else "") + " |",
        f"| steps / tokens (this run) | {info['global_step']:,} / {info['tokens_seen']:,} |",
        f"| tokens / wall time (cumulative, incl. the checkpoint it continued from) | {info['cumulative']['tokens']:,} / "
        f"{info['cumulative']['wall_seconds'] / 3600:.2f} h |",
    ]
    if info.get("init_from"):
        lines.append(f"| continued from | {info['init_from']} |")
    lines += ["", "Held-out masked-token accuracy (token-level 15 % masks, documents never trained on):", "",
              "| held-out set | accuracy | unigram baseline |", "|---|---:|---:|"]
    held, base = info.get("heldout") or {}, info.get("unigram_baseline") or {}
    for k, v in held.items():
        if k.endswith("_accuracy") and k != "eval_accuracy":
            name = k[len("eval_"):-len("_accuracy")]
            b = base.get(name)
            lines.append(f"| {name} | {100 * v:.1f} % | {'' if b is None else f'{100 * b:.1f} %'} |")
    if "eval_accuracy" in held:
        lines.append(f"| all | {100 * held['eval_accuracy']:.1f} % | |")
    lines += ["", "Corpus (files, bytes, SHA-256; held-out share):", ""]
    for c in info.get("corpus") or []:
        lines.append(f"- `{c['path']}` ({c['format']}, {c['bytes']:,} bytes, sha256 {c['sha256'][:12]}…, holdout {c['holdout']}, weight {c['weight']})")
    return "\n".join(lines) + "\n"


def unigram_baseline(counts: Counter | None, tokenizer, eval_sets: dict[str, EvalSet]) -> dict[str, float]:
    """Accuracy of always predicting the corpus's most frequent character (per held-out set)."""
    if not counts:
        return {}
    vocab = tokenizer.get_vocab()
    top = next((c for c, _ in counts.most_common() if c in vocab), None)
    if top is None:
        return {}
    tid = vocab[top]
    out = {"token": top}
    for name, es in eval_sets.items():
        t = es.targets()
        out[name] = float((t == tid).float().mean()) if t.numel() else float("nan")
    return out


def _cumulative(config: PretrainConfig, run_dir: Path, tokens: int) -> dict[str, float]:
    """Tokens and wall time of this run (since its first start) plus those of ``model.init_from``."""
    prev = {"tokens": 0, "wall_seconds": 0.0}
    if config.model.init_from and (Path(config.model.init_from) / "pretrain.json").is_file():
        with open(Path(config.model.init_from) / "pretrain.json", encoding="utf-8") as fh:
            info = json.load(fh)
        # a checkpoint written before "cumulative" was recorded (e.g. the shipped backbone): its own run's figures
        prev = info.get("cumulative") or {"tokens": info.get("tokens_seen", 0),
                                           "wall_seconds": info.get("wall_seconds_this_run", 0.0)}
    started = time.time()
    if (run_dir / "started.json").is_file():
        with open(run_dir / "started.json", encoding="utf-8") as fh:
            started = json.load(fh)["time"]
    return {"tokens": prev["tokens"] + tokens, "wall_seconds": prev["wall_seconds"] + time.time() - started}


def run_pretraining(config: PretrainConfig, *, callbacks: Sequence[TrainerCallback] = ()) -> dict[str, Any]:
    """Pretrain; returns the content of ``best/pretrain.json``."""
    t0 = time.time()
    if config.training.threads:
        torch.set_num_threads(config.training.threads)
    check_sources(config.data.corpus)
    from kgbert.data.collators import COLLATORS

    if config.masking.strategy not in COLLATORS:
        raise ConfigError(f"masking.strategy: unknown {config.masking.strategy!r}; known: {sorted(COLLATORS)}")
    run_dir = config.run_dir
    sources = config.data.corpus
    has_eval = any(s.holdout > 0 for s in sources)
    args = training_arguments(config, run_dir, has_eval)
    is_main = args.process_index == 0
    with args.main_process_first(desc="vocabulary"):
        if is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            dump_pretrain_config(config, run_dir / "config.yaml")
            if not (run_dir / "corpus.json").is_file():
                _write_json(run_dir / "corpus.json", corpus_manifest(config))
            if not (run_dir / "started.json").is_file():
                _write_json(run_dir / "started.json", {"time": time.time()})
        tokenizer, counts = prepare_tokenizer(config, run_dir, is_main)
        annotated = prepare_annotations(config)  # main first: other ranks open the complete caches
    resume_from = _resume_point(config, run_dir / "checkpoints")

    m = config.masking
    from kgbert.objectives import plugin_objectives

    objective_options: dict[str, Any] = {}
    for plugin in plugin_objectives(list(config.model.objectives)):
        objective_options.update(plugin.collator_options(m))  # e.g. sbo: span boundaries; wso: shuffled trigrams
    collator = build_collator(
        m.strategy, tokenizer, mlm_probability=m.mlm_probability, mask_replace=m.mask_replace,
        random_replace=m.random_replace, static=m.static, duplicates=m.duplicates, seed=config.seed,
        **{**m.options, **objective_options},
    )
    # held-out accuracy always uses BERT token masking, whatever the training strategy: runs with
    # mlm, wwm and ernie are scored on the same positions of the same text
    eval_collator = build_collator(
        "mlm", tokenizer, mlm_probability=m.mlm_probability, mask_replace=m.mask_replace,
        random_replace=m.random_replace, static=False, seed=config.seed + EVAL_SEED_OFFSET,
    )
    from kgbert.pretraining.families import get_family

    family = get_family(config.model.family)
    collator, eval_collator = family.collators(config, tokenizer, collator, eval_collator)  # xlnet: permutation LM
    eval_sets = {}
    for s in sources:
        if s.holdout > 0:
            seqs = heldout_sequences(s, tokenizer, config.data.max_length, config.data.eval_sequences, annotated)
            if seqs:
                eval_sets[s.label] = EvalSet(s.label, seqs, eval_collator, config.training.batch_size)
    from kgbert.objectives import sentence_objective

    objective = sentence_objective(config.model.objectives)
    if objective is None:
        train_data = PackedCorpus(sources, tokenizer, config.data.max_length, seed=config.seed,
                                  shuffle_buffer=config.data.shuffle_buffer, annotated=annotated,
                                  short_seq_prob=config.data.short_seq_prob)
    else:
        train_data = PairedCorpus(sources, tokenizer, config.data.max_length, seed=config.seed,
                                  shuffle_buffer=config.data.shuffle_buffer, annotated=annotated, objective=objective)
    model = family.build(config, tokenizer)
    baseline = unigram_baseline(counts, tokenizer, eval_sets)
    if is_main:
        _write_json(run_dir / "heldout.json", {
            "unigram_baseline": baseline,
            "sets": {k: {"sequences": len(v), "predictions": int(v.targets().numel())} for k, v in eval_sets.items()},
        })

    budget = None
    extra_callbacks: list[TrainerCallback] = []
    if config.training.time_budget_s:
        budget = TimeBudget(run_dir, config.training.time_budget_s, config.training.max_steps)
        extra_callbacks.append(BudgetStop(budget))
    if hasattr(collator, "set_progress"):
        extra_callbacks.append(CollatorProgress(collator))
    trainer = PretrainTrainer(
        model=model,
        args=args,
        data_collator=collator,
        train_dataset=train_data,
        eval_dataset=eval_sets or None,
        processing_class=tokenizer,
        eval_sets=eval_sets,
        time_budget=budget,
        callbacks=[JsonlLog(run_dir / "train_log.jsonl"), VocabOnSave(tokenizer), *extra_callbacks, *callbacks],
    )
    train_out = trainer.train(resume_from_checkpoint=resume_from)
    final_eval = trainer.evaluate() if eval_sets else {}
    info = {
        "name": config.name,
        "recipe": {"masking": m.strategy, "static": m.static, "objectives": config.model.objectives,
                   "max_length": config.data.max_length, "batch_size": config.training.batch_size,
                   "grad_accum": config.training.grad_accum, "lr": config.training.lr, "max_steps": config.training.max_steps,
                   "warmup_steps": config.training.warmup_steps, "lr_scheduler": config.training.lr_scheduler,
                   "time_budget_s": config.training.time_budget_s,
                   "model": family.summary(model)},
        "global_step": trainer.state.global_step,
        "tokens_seen": int(getattr(trainer.state, "num_input_tokens_seen", 0) or 0),
        "resumed_from": resume_from,
        "train": dict(train_out.metrics),
        "heldout": final_eval,
        "unigram_baseline": baseline,
        "corpus": corpus_manifest(config) if is_main else None,
        "wall_seconds_this_run": time.time() - t0,
        "init_from": config.model.init_from,
    }
    if family.name != "bert":  # bert runs keep their pretrain.json as before families existed
        info["recipe"]["family"] = family.name
        info["recipe"]["family_options"] = dict(config.model.family_options)
    info["cumulative"] = _cumulative(config, run_dir, info["tokens_seen"])
    if is_main:
        export_checkpoint(trainer, run_dir / "best", info, config.model.export_dropout, family.name)
        _write_json(run_dir / "metrics.json", info)
    return info
