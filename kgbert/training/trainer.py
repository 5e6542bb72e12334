"""The common fine-tuning trainer: a thin layer over ``transformers.Trainer``.

The trainer only sees ``Examples -> featuriser -> collate -> model(**batch) -> ModelOutput``
plus a :class:`~kgbert.training.tasks.TaskSpec` (decode, score, write predictions). Encoders
differ only in what their featuriser puts in a batch and what their model's ``forward`` takes,
so adding one (ERNIE's entity ids, SemBERT's SRL tags, ...) changes nothing here. Mixed
precision, gradient accumulation, checkpointing, resuming, DDP and logging are
``transformers.Trainer``'s. A ``loss_fn`` hook (e.g. distillation with a teacher beside the
student) replaces the model's own loss.

Run directory layout::

    .kgbert-run          marker: this directory is a kgbert run (see kgbert.training.rundir)
    config.yaml          the resolved config
    train_log.jsonl      one JSON line per Trainer log event
    init/                random-init backbone + char vocab (only without model.backbone)
    checkpoints/         Trainer checkpoints (resumed from automatically)
    best/                best model (weights, config, tokenizer), kg.json, kgbert.json (relation runs:
                         ``relation.markers``, the entity markers the reader inserted)
    predictions/{dev,test}.jsonl
    metrics.json
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm
from transformers import EvalPrediction, Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from kgbert.data.example import Example
from kgbert.data.readers import DEFAULT_MARKERS, DataError, check_labels, collect_labels, read_examples
from kgbert.training.config import ConfigError, RunConfig, dump_config
from kgbert.training.resources import attach_annotations, kg_info, prepare_backbone, resolve_kg
from kgbert.training.rundir import check_run_dir, prepare_run_dir
from kgbert.training.splits import carve_dev, split_stats
from kgbert.training.threads import resolve_threads
from kgbert.training.tasks import TaskSpec

LossFn = Callable[..., Any]
"""``loss_fn(model, inputs, return_outputs=False) -> loss | (loss, outputs)``."""

class FeatureDataset(Dataset):
    """Featurised examples of one split; keeps the examples for decoding and prediction files."""

    def __init__(self, name: str, examples: Sequence[Example], features: Sequence[dict]) -> None:
        self.name = name
        self.examples = list(examples)
        self.features = list(features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict:
        return self.features[i]


def featurize(featurizer: Any, examples: Sequence[Example], desc: str, progress: bool = True) -> list[dict]:
    """Run the featuriser over a split; an error names the example's ``file:line``."""
    out = []
    for ex in tqdm(examples, desc=f"featurise {desc}", disable=not progress, leave=False):
        try:
            out.append(featurizer(ex))
        except (ValueError, KeyError) as e:
            msg = str(e)
            raise DataError(msg if ex.source and ex.source in msg else f"{ex.source}: {msg}") from e
    return out


class SplitMetrics:
    """``compute_metrics`` that decodes against the split currently being evaluated."""

    def __init__(self, task: TaskSpec) -> None:
        self.task = task
        self.split: FeatureDataset | None = None
        self.last_preds: list[Any] | None = None

    def __call__(self, ep: EvalPrediction) -> dict[str, float]:
        split = self.split
        if split is None:
            raise RuntimeError("SplitMetrics.split is not set")
        out = np.asarray(ep.predictions)
        probs = None
        if self.task.type != "token" and not self.task.multi_label and out.ndim == 2:
            # (N, 1 + C) from TaskSpec.reduce_logits: class id, class probabilities
            out, probs = out[:, 0].astype(np.int64), out[:, 1:]
        preds = self.task.decode(out, split.features, split.examples)
        self.last_preds = preds
        if any((ex.tags if self.task.type == "token" else ex.label) is None for ex in split.examples):
            return {}
        return self.task.score(split.examples, preds, probs)


class KgTrainer(Trainer):
    """``transformers.Trainer`` that tells the metric function which split it scores and
    accepts a ``loss_fn`` hook (distillation, auxiliary losses)."""

    def __init__(self, *args: Any, split_metrics: SplitMetrics | None = None, loss_fn: LossFn | None = None, **kw: Any):
        super().__init__(*args, compute_metrics=split_metrics, **kw)
        self.split_metrics = split_metrics
        self.loss_fn = loss_fn

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.loss_fn is None:
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        return self.loss_fn(model, inputs, return_outputs=return_outputs)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        if self.split_metrics is not None:
            self.split_metrics.split = eval_dataset if eval_dataset is not None else self.eval_dataset
        return super().evaluate(eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)

    def predict(self, test_dataset, ignore_keys=None, metric_key_prefix="test"):
        if self.split_metrics is not None:
            self.split_metrics.split = test_dataset
        return super().predict(test_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)


class JsonlLogCallback(TrainerCallback):
    """Append every Trainer log event to ``train_log.jsonl`` (main process only)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            rec = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec, default=float) + "\n")


def load_splits(config: RunConfig) -> tuple[dict[str, list[Example]], list[str]]:
    """Read train/dev/test and the label list; every label is checked (file:line on error)."""
    d, task = config.data, config.task.type
    if d.dev_fraction is not None and d.dev:
        raise ConfigError("data.dev_fraction carves dev from train: leave data.dev empty (or drop dev_fraction)")
    splits: dict[str, list[Example]] = {}
    for name in ("train", "dev", "test"):
        path = getattr(d, name)
        if path:
            splits[name] = read_examples(path, d.format, task, **d.reader_options)
    if "train" not in splits:
        raise ConfigError("data.train is required")
    if d.dev_fraction is not None:
        try:
            splits["train"], splits["dev"] = carve_dev(splits["train"], d.dev_fraction, d.dev_seed)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    # labels from the whole train split, so data.limit_train (smoke runs) never shrinks the label set
    labels = list(config.task.labels) if config.task.labels else collect_labels(splits["train"], task)
    limits = {"train": d.limit_train, "dev": d.limit_dev if d.limit_dev is not None else d.limit_eval,
              "test": d.limit_test if d.limit_test is not None else d.limit_eval}
    for name in list(splits):
        if limits[name]:
            splits[name] = splits[name][: limits[name]]
    if task == "token" and "O" not in labels:
        raise ConfigError("task.labels must contain 'O' for token classification")
    if config.task.multi_label and task != "entity_typing":
        raise ConfigError(f"task.multi_label is an option of task 'entity_typing', not {task!r}")
    if task == "entity_typing" and not config.task.multi_label:
        for exs in splits.values():
            several = next((ex for ex in exs if len(ex.types) > 1), None)
            if several is not None:
                raise DataError(f"{several.source}: {len(several.types)} types {several.types} for one mention; "
                                "set task.multi_label: true for multi-label typing")
    for name, exs in splits.items():
        if name == "test" and not d.test_has_labels:
            continue
        check_labels(exs, labels, task)
    return splits, labels


def _placeholder_labels(examples: list[Example], labels: list[str], task: str) -> list[Example]:
    """Unlabelled examples get the first label so featurisers accept them (never scored)."""
    out = []
    for ex in examples:
        if task == "token" and ex.tags is None:
            ex = Example(**{**ex.__dict__, "tags": ["O"] * len(ex.tokens or [])})
        elif task != "token" and ex.label is None:
            ex = Example(**{**ex.__dict__, "label": labels[0]})
        out.append(ex)
    return out


def training_arguments(config: RunConfig, run_dir: Path, has_dev: bool, metric: str) -> TrainingArguments:
    """Map the ``training`` section onto ``TrainingArguments``."""
    t = config.training
    strategy = t.eval_strategy if has_dev else "epoch"
    steps = t.eval_steps if strategy == "steps" else None
    if strategy == "steps" and not steps:
        raise ConfigError("training.eval_steps is required when training.eval_strategy=steps")
    return TrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        learning_rate=t.lr,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        max_grad_norm=t.max_grad_norm,
        gradient_accumulation_steps=t.grad_accum,
        lr_scheduler_type=t.lr_scheduler,
        eval_strategy=strategy if has_dev else "no",
        eval_steps=steps,
        save_strategy=strategy,
        save_steps=steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=has_dev,
        metric_for_best_model=metric if has_dev else None,
        greater_is_better=(not metric.endswith("loss")) if has_dev else None,
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        bf16=t.bf16,
        fp16=t.fp16,
        dataloader_num_workers=t.num_workers,
        ddp_backend=t.ddp_backend,
        disable_tqdm=not t.progress,
        remove_unused_columns=False,
        label_names=["labels"],
        use_cpu=not torch.cuda.is_available(),
    )


def _resume_point(config: RunConfig, ckpt_dir: Path) -> str | None:
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if config.resume is True and last is None:
        raise ConfigError(f"resume=true but {ckpt_dir} holds no checkpoint")
    if config.resume is False:
        return None
    return last


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=2, default=float)
    os.replace(tmp, path)


def run_training(
    config: RunConfig,
    *,
    callbacks: Sequence[TrainerCallback] = (),
    loss_fn: LossFn | None = None,
) -> dict[str, Any]:
    """Train, select the best checkpoint on dev, evaluate dev/test, write the run directory.

    Returns the content of ``metrics.json``.
    """
    from annotators.names import usable_components

    from kgbert.checkpoints import load_tokenizer
    from kgbert.data import build_featurizer
    from kgbert.models import build_model
    from kgbert.registry import get_encoder

    t0 = time.time()
    threads = resolve_threads(config.training.threads)
    if threads:
        torch.set_num_threads(threads)
    run_dir = config.run_dir
    check_run_dir(run_dir)  # every rank, first: a directory that is not ours stops all of them
    task_type = config.task.type
    progress = config.training.progress

    splits, labels = load_splits(config)
    task = TaskSpec(task_type, labels, multi_label=config.task.multi_label)
    model_task = task.model_task  # relation -> sequence: the marked sentence is classified
    metric = config.training.metric_for_best or task.default_metric
    args = training_arguments(config, run_dir, "dev" in splits, metric)
    is_main = args.process_index == 0

    with args.main_process_first(desc="prepare run dir, KG and backbone"):
        if is_main:
            prepare_run_dir(run_dir, overwrite=config.overwrite, resume=config.resume)
            dump_config(config, run_dir / "config.yaml")
        kg_path = resolve_kg(config.kg)
        needed = usable_components(get_encoder(config.model.encoder).annotators, kg_path is not None)
        splits = attach_annotations(splits, config.data, needed, kg_path, progress and is_main)
        backbone = prepare_backbone(config.model, splits["train"], run_dir, config.seed)
    resume_from = _resume_point(config, run_dir / "checkpoints")

    kg = None
    if kg_path is not None:
        from knowledge import KnowledgeGraph

        kg = KnowledgeGraph.open(kg_path)
    tokenizer = load_tokenizer(backbone)
    featurizer = build_featurizer(
        config.model.encoder, tokenizer, task=model_task, label_list=labels,
        max_length=config.data.max_length, kg=kg, multi_label=task.multi_label, **config.model.featurizer,
    )
    featurizer.fit(splits["train"])  # options learnt from the training texts (e.g. K-BERT's max_df)
    datasets = {}
    data_stats = {}
    for name, exs in splits.items():
        if name == "test" and not config.data.test_has_labels:
            exs = _placeholder_labels(exs, labels, task_type)
        before = dict(featurizer.stats)
        feats = featurize(featurizer, exs, name, progress and is_main)
        data_stats[name] = split_stats(featurizer, exs, feats, before)
        datasets[name] = FeatureDataset(name, splits[name], feats)

    set_seed(config.seed)
    model = build_model(config.model.encoder, model_task, len(labels), backbone=str(backbone), **config.model.options)
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {l: i for i, l in enumerate(labels)}

    split_metrics = SplitMetrics(task)
    trainer = KgTrainer(
        model=model,
        args=args,
        data_collator=featurizer.collate,
        train_dataset=datasets["train"],
        eval_dataset=datasets.get("dev"),
        processing_class=tokenizer,
        split_metrics=split_metrics,
        loss_fn=loss_fn,
        callbacks=[JsonlLogCallback(run_dir / "train_log.jsonl"), *callbacks],
        preprocess_logits_for_metrics=task.reduce_logits,
    )
    train_out = trainer.train(resume_from_checkpoint=resume_from)

    results: dict[str, Any] = {
        "name": config.name,
        "encoder": config.model.encoder,
        "task": task_type,
        "seed": config.seed,
        "resumed_from": resume_from,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "global_step": trainer.state.global_step,
        "world_size": args.world_size,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
        "data": data_stats,
        "train": {k: v for k, v in train_out.metrics.items()},
    }
    for name in ("dev", "test"):
        if name not in datasets:
            continue
        ds = datasets[name]
        pred_out = trainer.predict(ds, metric_key_prefix=name)
        preds = split_metrics.last_preds
        if is_main:
            task.write(run_dir / "predictions" / f"{name}.jsonl", ds.examples, preds)
        scored = {k[len(name) + 1:]: v for k, v in pred_out.metrics.items() if k.startswith(name + "_")}
        results[name] = scored
        if task_type == "token" and (name != "test" or config.data.test_has_labels):
            results[name]["per_type"] = task.per_type(ds.examples, preds)

    if is_main:
        best = run_dir / "best"
        tmp_best = run_dir / ".best.tmp"
        if tmp_best.exists():
            shutil.rmtree(tmp_best)
        trainer.save_model(str(tmp_best))
        _write_json(tmp_best / "kg.json", kg_info(kg_path, config.kg))
        _write_json(tmp_best / "kgbert.json", {
            "encoder": config.model.encoder, "task": model_task, "run_task": task_type, "labels": labels,
            "multi_label": task.multi_label,
            "max_length": config.data.max_length, "featurizer": featurizer.saved_options(config.model.featurizer),
            "model_options": config.model.options, "annotators": list(needed),
            **({"relation": {"markers": list(config.data.reader_options.get("markers", DEFAULT_MARKERS))}}
               if task_type == "relation" else {}),  # what kgbert.pipeline marks relation inputs with
        })
        if best.exists():
            shutil.rmtree(best)
        os.replace(tmp_best, best)
        results["wall_seconds"] = time.time() - t0
        _write_json(run_dir / "metrics.json", results)
    if kg is not None and hasattr(kg, "close"):
        kg.close()
    return results


def load_best(run_dir: str | os.PathLike):
    """Reload ``run_dir/best``: (model, tokenizer, info from kgbert.json)."""
    import kgbert.models  # noqa: F401  (registers the Auto classes)
    from kgbert.checkpoints import load_tokenizer
    from kgbert.registry import auto_class_for_task

    best = Path(run_dir) / "best"
    with open(best / "kgbert.json", encoding="utf-8") as fh:
        info = json.load(fh)
    model = auto_class_for_task(info["task"]).from_pretrained(str(best), local_files_only=True)
    return model, load_tokenizer(best), info
