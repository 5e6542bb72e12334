"""Train and evaluate the SRL tagger.

    python -m annotators.srl.train --data ../shared/data/srl_up_chinese --out runs/srl_up
    python -m annotators.srl.train --train a.gold_conll --test b.gold_conll --format conll2012 \
        --backbone /path/to/bert-base-chinese --out runs/srl_ontonotes

``--data`` names a Universal Propositions folder. With a train split (UP 2.0, e.g.
``../shared/data/srl_up2_chinese_gsd``: ``train/dev/test.conllu``) the model trains on train,
``dev`` picks the epoch (argument F1 with gold predicates, evaluated after every epoch; the best
epoch's weights are kept) and test is reported. Without one (UP 1.0: ``*-dev.conllu`` and
``*-test.conllu`` only) it trains on dev and is evaluated on test (no tuning set; fixed epochs).
The folder's layout (UP 1.0 or 2.0) is read off its files. ``--also-test FILE`` evaluates the
final model on more files (e.g. UP 1.0 test for a UP 2.0 model).
Training uses :class:`transformers.Trainer`. The output directory holds the tagger
(``SrlTagger.from_pretrained(out)``), ``metrics.json`` (span P/R/F1, CoNLL-2005 style, for
predicate identification, argument labelling with gold predicates, and end to end),
``train_log.jsonl`` and ``predictions/test.conllu`` (UP format, gold predicates). It is written to
a temporary directory and renamed at the end, so a failed run leaves nothing behind.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

import torch

from annotators.srl.conll import read_conll2012, read_up, read_up2, sniff_up_layout, write_up, write_up2
from annotators.srl.data import SrlFrame, SrlSentence, bio_labels
from annotators.srl.metrics import argument_items, per_role, predicate_items, span_prf
from annotators.srl.tagger import SrlTagger, atomic_dir, convert_script, is_verb_tag, jieba_verbs

READERS = {"up": read_up, "up2": read_up2, "conll2012": read_conll2012}


def load_split(path: str | Path, fmt: str, limit: int | None = None) -> list[SrlSentence]:
    """Read one split; ``limit`` keeps the first sentences only."""
    sentences = READERS[fmt](path)
    return sentences[:limit] if limit else sentences


def build_tagger(
    train: Sequence[SrlSentence],
    *,
    backbone: str | None,
    script_conversion: str | None,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    predicate_head: bool,
    seed: int,
) -> SrlTagger:
    """A tagger whose tag set is the roles of ``train``: from a local BERT dir, or from scratch."""
    torch.manual_seed(seed)
    labels = bio_labels([a.role for s in train for f in s.frames for a in f.args])
    if backbone:
        tagger = SrlTagger.from_backbone(backbone, labels, script_conversion=script_conversion)
    else:
        tagger = SrlTagger.from_scratch(
            labels,
            ("".join(s.words) for s in train),
            script_conversion=script_conversion,
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=4 * hidden_size,
            max_position_embeddings=512,
        )
    tagger.model.config.predicate_head = predicate_head
    return tagger


def featurize(tagger: SrlTagger, sentences: Sequence[SrlSentence], predicate_head: bool) -> tuple[list[dict], int]:
    """Training features; sentences too long for the model are skipped (returned count)."""
    feats, skipped = [], 0
    for s in sentences:
        try:
            feats += tagger.training_features(s.words, s.frames, predicate_example=predicate_head)
        except ValueError as exc:
            if "more than the model's maximum" not in str(exc):
                raise ValueError(f"{s.source}: {exc}") from None
            skipped += 1
    return feats, skipped


def param_groups(model: torch.nn.Module, lr: float, weight_decay: float, layer_decay: float = 1.0, freeze_embeddings: bool = False) -> list[dict]:
    """AdamW parameter groups with layer-wise learning-rate decay.

    The heads train at ``lr``, encoder layer ``i`` (of ``L``) at ``lr * layer_decay ** (L - i)``, the
    embeddings at ``lr * layer_decay ** (L + 1)``; with ``freeze_embeddings`` the embeddings do not
    train at all (``requires_grad`` off). Biases and LayerNorm weights get no weight decay.
    """
    n_layers = model.config.num_hidden_layers
    groups: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if name.startswith("bert.embeddings."):
            if freeze_embeddings:
                param.requires_grad_(False)
                continue
            depth = n_layers + 1
        elif name.startswith("bert.encoder.layer."):
            depth = n_layers - int(name.split(".")[3])
        else:
            depth = 0
        if not param.requires_grad:
            continue
        decay = 0.0 if name.endswith("bias") or "LayerNorm" in name else weight_decay
        groups.setdefault((lr * layer_decay**depth, decay), []).append(param)
    return [{"params": ps, "lr": g_lr, "weight_decay": wd} for (g_lr, wd), ps in sorted(groups.items(), reverse=True)]


def train_tagger(
    tagger: SrlTagger,
    features: list[dict],
    *,
    epochs: float,
    batch_size: int,
    lr: float,
    seed: int,
    max_steps: int,
    workdir: Path,
    layer_decay: float = 1.0,
    freeze_embeddings: bool = False,
    dev: Sequence[SrlSentence] | None = None,
) -> list[dict]:
    """Fit with :class:`transformers.Trainer` (AdamW over :func:`param_groups`, linear warm-up and
    decay); returns its log history.

    With ``dev``, the tagger is evaluated on it after every epoch (:func:`evaluate`, no POS-verb
    baselines; a ``{"dev_epoch": ...}`` row per epoch in the log) and the weights of the epoch
    with the best dev argument F1 (gold predicates) are restored at the end (ties: the earlier).
    """
    from transformers import Trainer, TrainerCallback, TrainingArguments

    class _DevSelection(TrainerCallback):
        def __init__(self) -> None:
            self.best_f1 = -1.0
            self.rows: list[dict] = []
            self.best_state: dict | None = None
            self.best_row: dict = {}

        def on_epoch_end(self, args, state, control, **kwargs):
            t0 = time.time()
            m = evaluate(tagger, dev, baselines=False)
            tagger.model.train()
            f1 = m["arguments_gold_predicates"]["f1"]
            row = {"dev_epoch": round(state.epoch or 0.0, 2), "step": state.global_step, "dev_arguments_gold_predicates_f1": round(f1, 4),
                   "dev_arguments_end_to_end_f1": round(m["arguments_end_to_end"]["f1"], 4),
                   "dev_predicate_identification_f1": round(m["predicate_identification"].get("model", {"f1": float("nan")})["f1"], 4),
                   "dev_eval_seconds": round(time.time() - t0, 1)}
            print(json.dumps(row), file=sys.stderr, flush=True)
            self.rows.append(row)
            if f1 > self.best_f1:
                self.best_f1 = f1
                self.best_state = {k: v.detach().clone() for k, v in tagger.model.state_dict().items()}
                self.best_row = row

    steps = max_steps if max_steps > 0 else int(epochs * ((len(features) + batch_size - 1) // batch_size))
    args = TrainingArguments(
        output_dir=str(workdir),
        per_device_train_batch_size=batch_size,
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=lr,
        warmup_steps=max(1, steps // 10),
        weight_decay=0.01,
        lr_scheduler_type="linear",
        logging_steps=max(1, min(50, steps // 20)),
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length",  # batches of similar length: less padding
        label_names=["labels", "predicate_labels"],
        seed=seed,
    )
    tagger.model.train()
    optimizer = torch.optim.AdamW(param_groups(tagger.model, lr, args.weight_decay, layer_decay, freeze_embeddings), lr=lr)
    selection = _DevSelection() if dev else None
    trainer = Trainer(model=tagger.model, args=args, train_dataset=features, data_collator=tagger.collate, optimizers=(optimizer, None),
                      callbacks=[selection] if selection else None)
    trainer.train()
    log = list(trainer.state.log_history)
    if selection is not None and selection.best_state is not None:
        tagger.model.load_state_dict(selection.best_state)
        log += selection.rows + [{"selected": selection.best_row}]
    tagger.model.eval()
    tagger.model.to(tagger.device)
    return log


def evaluate(tagger: SrlTagger, test: Sequence[SrlSentence], batch_size: int = 32, baselines: bool = True, drop_roles: Sequence[str] = ()) -> dict:
    """Span P/R/F1 on ``test``: predicate identification (model head and, with ``baselines``, the
    POS-verb fallbacks), argument labelling with gold predicates, and end to end (predicted predicates).

    ``drop_roles``: predicted arguments with these roles are removed before scoring (a role the
    test data does not annotate, e.g. ``AM-MOD`` for a UP 2.0 model scored on UP 1.0)."""
    words = [s.words for s in test]
    gold_preds = [[i for f in s.frames for i in range(*f.predicate)] for s in test]
    gold_args = argument_items([s.frames for s in test])
    metrics: dict = {"test_sentences": len(test), "test_predicates": sum(len(s.frames) for s in test)}
    pred_id = {}
    if tagger.config.predicate_head:
        found = tagger.identify_predicates(words, batch_size=batch_size)
        pred_id["model"] = span_prf(predicate_items(gold_preds), predicate_items(found))
    if baselines and all(s.pos for s in test):
        pred_id["gold_pos_verbs"] = span_prf(predicate_items(gold_preds), predicate_items([[i for i, t in enumerate(s.pos) if is_verb_tag(t)] for s in test]))
    simplified = [[convert_script(w, tagger.config.script_conversion) for w in ws] for ws in words]
    if baselines:
        pred_id["jieba_verbs"] = span_prf(predicate_items(gold_preds), predicate_items([jieba_verbs(w) for w in simplified]))
    metrics["predicate_identification"] = pred_id
    decoded = tagger.decode_arguments(words, [[f.predicate for f in s.frames] for s in test], batch_size, ("viterbi", "argmax"))
    if drop_roles:
        decoded = {d: _without_roles(fs, drop_roles) for d, fs in decoded.items()}
    frames = decoded["viterbi"]
    pred_args = argument_items(frames)
    metrics["arguments_gold_predicates"] = span_prf(gold_args, pred_args)
    metrics["arguments_gold_predicates_argmax"] = span_prf(gold_args, argument_items(decoded["argmax"]))
    metrics["arguments_gold_predicates_per_role"] = per_role(gold_args, pred_args)
    e2e = _without_roles(tagger.predict_words(words, pos=[s.pos for s in test], batch_size=batch_size), drop_roles)
    metrics["arguments_end_to_end"] = span_prf(gold_args, argument_items(e2e))
    metrics["_frames"] = frames
    return metrics


def _without_roles(frames: list[list[SrlFrame]], roles: Sequence[str]) -> list[list[SrlFrame]]:
    if not roles:
        return frames
    return [[dataclasses.replace(f, args=tuple(a for a in f.args if a.role not in roles)) for f in fs] for fs in frames]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m annotators.srl.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="a Universal Propositions folder: train/dev/test (UP 2.0), or *-dev/*-test only (UP 1.0: trains on dev)")
    p.add_argument("--train", help="training file (instead of --data)")
    p.add_argument("--dev", help="tuning file (instead of --data): picks the epoch by argument F1, gold predicates")
    p.add_argument("--test", help="test file (instead of --data)")
    p.add_argument("--format", choices=sorted(READERS), default="up", help="format of --train/--dev/--test (with --data: read off the files)")
    p.add_argument("--also-test", action="append", default=[], metavar="FILE",
                   help="also evaluate the final model on FILE (UP 1.0 or 2.0, layout read off the file); repeatable")
    p.add_argument("--out", required=True, help="output directory (the saved tagger + metrics.json)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--backbone", help="local BERT checkpoint directory (default: train from scratch)")
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--epochs", type=float, default=8)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, help="learning rate (default 5e-5 with --backbone, 5e-4 from scratch)")
    p.add_argument("--layer-decay", type=float, default=1.0,
                   help="layer-wise lr decay: encoder layer i of L trains at lr * d**(L - i), embeddings at lr * d**(L + 1)")
    p.add_argument("--freeze-embeddings", action="store_true", help="do not train the embedding layer")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--script", choices=["t2s", "none"], default="t2s", help="convert traditional to simplified before tokenising")
    p.add_argument("--no-predicate-head", action="store_true", help="do not train predicate identification (POS fallback)")
    p.add_argument("--max-train-sentences", type=int, help="use only the first N training sentences")
    p.add_argument("--max-test-sentences", type=int, help="evaluate (and tune) on the first N test (and dev) sentences")
    args = p.parse_args(argv)
    if bool(args.data) == bool(args.train and args.test):
        p.error("give either --data or both --train and --test")
    return args


def _resolve_files(data: str | None, train: str | None, dev: str | None, test: str | None) -> tuple[Path, Path | None, Path]:
    """(train, dev or None, test). A folder with a train split trains on it and tunes on dev; one
    without (UP 1.0) trains on dev, with no tuning file."""
    if not data:
        return Path(train), Path(dev) if dev else None, Path(test)
    folder = Path(data)
    trains, devs, tests = (sorted(folder.glob(f"*{split}.conllu")) for split in ("train", "dev", "test"))
    if len(devs) != 1 or len(tests) != 1 or len(trains) > 1:
        raise SystemExit(f"{folder}: expected one *dev.conllu, one *test.conllu and at most one *train.conllu file")
    if trains:
        return trains[0], devs[0], tests[0]
    return devs[0], None, tests[0]


def _exit_on_sigterm(signum: int, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds, so the temporary output directory is removed


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    train_path, dev_path, test_path = _resolve_files(args.data, args.train, args.dev, args.test)
    options = dict(
        train_path=train_path,
        dev_path=dev_path,
        test_path=test_path,
        also_test=[Path(f) for f in args.also_test],
        fmt=sniff_up_layout(train_path) if args.data else args.format,
        out=Path(args.out),
        overwrite=args.overwrite,
        backbone=args.backbone,
        hidden_size=args.hidden_size,
        num_layers=args.layers,
        num_heads=args.heads,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        layer_decay=args.layer_decay,
        freeze_embeddings=args.freeze_embeddings,
        seed=args.seed,
        script_conversion=None if args.script == "none" else "t2s",
        predicate_head=not args.no_predicate_head,
        max_train_sentences=args.max_train_sentences,
        max_test_sentences=args.max_test_sentences,
    )
    if threading.current_thread() is not threading.main_thread():
        metrics = run(**options)
    else:
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            metrics = run(**options)
        finally:
            signal.signal(signal.SIGTERM, previous)
    summary = {
        "predicate_identification_f1": {k: round(v["f1"], 4) for k, v in metrics["predicate_identification"].items()},
        "arguments_gold_predicates_f1": round(metrics["arguments_gold_predicates"]["f1"], 4),
        "arguments_gold_predicates_argmax_f1": round(metrics["arguments_gold_predicates_argmax"]["f1"], 4),
        "arguments_end_to_end_f1": round(metrics["arguments_end_to_end"]["f1"], 4),
    }
    if metrics.get("selected_epoch"):
        summary["selected_epoch"] = metrics["selected_epoch"]
    for name, m in metrics.get("also_test", {}).items():
        summary[f"also_test {name}: arguments_gold_predicates_f1"] = round(m["arguments_gold_predicates"]["f1"], 4)
    print(json.dumps(summary, indent=2), file=sys.stderr)
    return 0


def run(
    *,
    train_path: Path,
    test_path: Path,
    fmt: str,
    out: Path,
    dev_path: Path | None = None,
    also_test: Sequence[Path] = (),
    overwrite: bool = False,
    backbone: str | None = None,
    hidden_size: int = 256,
    num_layers: int = 4,
    num_heads: int = 4,
    epochs: float = 8,
    max_steps: int = -1,
    batch_size: int = 16,
    lr: float | None = None,
    layer_decay: float = 1.0,
    freeze_embeddings: bool = False,
    seed: int = 13,
    script_conversion: str | None = "t2s",
    predicate_head: bool = True,
    max_train_sentences: int | None = None,
    max_test_sentences: int | None = None,
) -> dict:
    """Train on ``train_path`` (picking the epoch on ``dev_path`` when given), evaluate on
    ``test_path`` (and each of ``also_test``), save tagger + metrics to ``out``; returns the metrics."""
    if out.exists() and not overwrite:
        raise SystemExit(f"{out} exists; pass --overwrite to replace it")
    random.seed(seed)
    train = load_split(train_path, fmt, max_train_sentences)
    test = load_split(test_path, fmt, max_test_sentences)
    dev = load_split(dev_path, fmt, max_test_sentences) if dev_path else None
    tagger = build_tagger(
        train,
        backbone=backbone,
        script_conversion=script_conversion,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        predicate_head=predicate_head,
        seed=seed,
    )
    features, skipped = featurize(tagger, train, predicate_head)
    if lr is None:
        lr = 5e-5 if backbone else 5e-4
    with atomic_dir(out) as tmp:
        t0 = time.time()
        log = train_tagger(tagger, features, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, max_steps=max_steps, workdir=tmp / "trainer",
                           layer_decay=layer_decay, freeze_embeddings=freeze_embeddings, dev=dev)
        train_s = time.time() - t0
        metrics = evaluate(tagger, test)
        frames = metrics.pop("_frames")
        if dev is not None:
            metrics["dev_file"] = str(dev_path)
            metrics["dev_per_epoch"] = [row for row in log if "dev_epoch" in row]
            metrics["selected_epoch"] = next((row["selected"] for row in log if "selected" in row), None)
        if also_test:
            metrics["also_test"] = {}
            for extra in also_test:
                m = evaluate(tagger, READERS[sniff_up_layout(extra)](extra))
                m.pop("_frames")
                metrics["also_test"][str(extra)] = m
        metrics.update(
            train_file=str(train_path),
            test_file=str(test_path),
            format=fmt,
            init=f"backbone {backbone}" if backbone else "from scratch (random init, char vocab of the training split)",
            model={
                "hidden_size": tagger.config.hidden_size,
                "layers": tagger.config.num_hidden_layers,
                "parameters": sum(p.numel() for p in tagger.model.parameters()),
            },
            train_sentences=len(train),
            train_features=len(features),
            skipped_too_long=skipped,
            epochs=epochs,
            max_steps=max_steps,
            batch_size=batch_size,
            lr=lr,
            layer_decay=layer_decay,
            freeze_embeddings=freeze_embeddings,
            seed=seed,
            script_conversion=tagger.config.script_conversion,
            train_seconds=round(train_s, 1),
        )
        shutil.rmtree(tmp / "trainer", ignore_errors=True)
        tagger.write_to(tmp)
        (tmp / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
        with open(tmp / "train_log.jsonl", "w", encoding="utf-8") as fh:
            for row in log:
                fh.write(json.dumps(row) + "\n")
        predicted = [  # gold predicates: each predicted frame takes its gold frame's sense
            SrlSentence(words=s.words, frames=[dataclasses.replace(f, sense=g.sense, lemma=g.lemma) for f, g in zip(fs, s.frames)],
                        pos=s.pos, lemmas=s.lemmas, columns=s.columns if fmt == "up2" else {}, comments=s.comments)
            for s, fs in zip(test, frames)
        ]
        (write_up2 if fmt == "up2" else write_up)(predicted, tmp / "predictions" / "test.conllu", head="last")
    return metrics


if __name__ == "__main__":
    raise SystemExit(main())
