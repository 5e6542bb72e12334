"""Run a bench grid: every (task, encoder, seed) cell through the common trainer.

Each cell writes ``<output_dir>/cells/<task>/<encoder>/seed<N>/`` (the trainer's run directory)
and, when it ends, ``cell.json`` (temp file + rename) holding:

- ``status`` (``ok`` | ``failed``), ``task``, ``encoder``, ``seed``, ``split``, ``metric``,
  ``score`` (the metric on the reported split) and ``scores`` (every metric of dev and test);
- cost: ``train_wall_s`` (the trainer's ``train_runtime``, evaluations during training included),
  ``eval_wall_s`` (final dev + test prediction), ``cell_wall_s`` (everything: data, KG, featurising),
  ``train_seq_per_s`` (the trainer's ``train_samples_per_second``), ``train_tokens_per_s``
  (that x the mean non-padding input tokens of a training sequence, injected knowledge included),
  ``infer_seq_per_s`` / ``infer_tokens_per_s`` (prediction on the reported split),
  ``peak_rss_mb`` / ``peak_cuda_mb`` (:class:`~kgbert.bench.measure.PeakMemory`), ``n_parameters``;
- ``data``: per-split sizes and truncation (examples and original tokens cut to fit ``max_length``);
- ``environment`` (device, library versions, git commit), ``config_hash`` and, for a failed cell,
  ``error`` (type, message, traceback tail). A failed cell does not stop the grid.

Resuming: a cell whose ``cell.json`` says ``ok`` is skipped (its record is reused); a failed or
interrupted cell is run again (the trainer continues from the cell's last checkpoint). A finished
cell whose run config changed since is an error (use another ``output_dir`` or delete that cell):
the table never mixes two budgets.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm.auto import tqdm

from kgbert.bench.config import BenchConfig, cell_config, cell_dir, task_metric, task_split
from kgbert.bench.measure import PeakMemory, environment
from kgbert.training.config import ConfigError, RunConfig
from kgbert.training.rundir import mark_run_dir

CELL_FILE = "cell.json"


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=2, default=float)
    os.replace(tmp, path)


def config_hash(run: RunConfig) -> str:
    """Hash of what decides a cell's result (not where it is written, nor progress bars)."""
    d = run.to_dict()
    for key in ("resume", "overwrite", "output_dir"):
        d.pop(key, None)
    d["training"].pop("progress", None)
    d["kg"].pop("cache_dir", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def cell_record(metrics: dict[str, Any], split: str, metric: str) -> dict[str, Any]:
    """The measurements of a finished cell from the trainer's ``metrics.json`` content."""
    train = metrics.get("train", {})
    data = metrics.get("data", {})
    scores = {s: {k: v for k, v in metrics[s].items() if k != "per_type"} for s in ("dev", "test") if s in metrics}
    if split not in scores:
        raise ConfigError(f"the reported split {split!r} was not evaluated (splits: {sorted(scores)})")
    if metric not in scores[split]:
        raise ConfigError(f"metric {metric!r} not in the {split} scores {sorted(scores[split])}")
    tr = data.get("train", {})
    tok_per_seq = _ratio(tr.get("input_tokens"), tr.get("examples"))
    train_sps = train.get("train_samples_per_second")
    ev = data.get(split, {})
    ev_runtime = scores[split].get("runtime")
    return {
        "score": float(scores[split][metric]),
        "scores": scores,
        "train_wall_s": train.get("train_runtime"),
        "eval_wall_s": sum(scores[s].get("runtime") or 0.0 for s in scores),
        "train_seq_per_s": train_sps,
        "train_tokens_per_s": train_sps * tok_per_seq if train_sps and tok_per_seq else None,
        "infer_seq_per_s": scores[split].get("samples_per_second"),
        "infer_tokens_per_s": _ratio(ev.get("input_tokens"), ev_runtime),
        "n_parameters": metrics.get("n_parameters"),
        "global_step": metrics.get("global_step"),
        # a resumed cell's train throughput is the trainer's (all samples / this session's time): too high
        "resumed_from": metrics.get("resumed_from"),
        "torch_threads": metrics.get("torch_threads"),
        "data": data,
    }


def run_cell(run: RunConfig, *, task: str, encoder: str, split: str, metric: str,
             trainer: Callable[[RunConfig], dict] | None = None, env: dict | None = None) -> dict[str, Any]:
    """Run one cell; never raises for a failure inside the cell (it is recorded). ``env``: the
    environment taken when the grid started (the git commit of the code this process imported)."""
    if trainer is None:
        from kgbert.training.trainer import run_training as trainer
    rec: dict[str, Any] = {"task": task, "encoder": encoder, "seed": run.seed, "split": split, "metric": metric,
                           "run_dir": str(run.run_dir), "config_hash": config_hash(run), "started": time.time()}
    t0 = time.perf_counter()
    mem = PeakMemory()
    try:
        with mem:
            metrics = trainer(run)
        rec.update(cell_record(metrics, split, metric))
        rec["status"] = "ok"
    except Exception as e:  # noqa: BLE001 - a failed cell is recorded and the grid goes on
        rec["status"] = "failed"
        rec["error"] = {"type": type(e).__name__, "message": str(e),
                        "traceback": traceback.format_exc(limit=20)[-4000:]}
    rec["cell_wall_s"] = time.perf_counter() - t0
    rec.update(mem.as_dict())
    _release_memory()
    rec["environment"] = env if env is not None else environment()
    return rec


def _release_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_cell(path: Path) -> dict[str, Any] | None:
    f = path / CELL_FILE
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # a torn record is rerun


def plan(cfg: BenchConfig, tasks: Sequence[str] | None = None, encoders: Sequence[str] | None = None) -> list[tuple[str, str, int]]:
    """The grid's cells in run order (task, encoder, seed)."""
    for kind, chosen, known in (("task", tasks, cfg.tasks), ("encoder", encoders, cfg.encoders)):
        bad = sorted(set(chosen or ()) - set(known))
        if bad:
            raise ConfigError(f"unknown {kind}(s) {bad}; the config has {sorted(known)}")
    return [(t, e, s) for t in cfg.tasks if not tasks or t in tasks
            for e in cfg.encoders if not encoders or e in encoders for s in cfg.seeds]


def run_bench(
    cfg: BenchConfig,
    *,
    where: str = "bench",
    tasks: Sequence[str] | None = None,
    encoders: Sequence[str] | None = None,
    progress: bool = True,
    trainer: Callable[[RunConfig], dict] | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run (or resume) the grid; returns every cell's record (run now or earlier)."""
    cells = plan(cfg, tasks, encoders)
    records = []
    runs = {c: cell_config(cfg, c[0], c[1], c[2], where) for c in cells}
    for (t, e, s), run in runs.items():  # refuse before running anything
        old = load_cell(cell_dir(cfg, t, e, s))
        if old and old.get("status") == "ok" and old.get("config_hash") != config_hash(run):
            raise ConfigError(
                f"{cell_dir(cfg, t, e, s)} holds a finished cell run with another config; "
                "use another output_dir (or delete that cell to rerun it)"
            )
    env = environment()  # once, before any cell: the code this process runs is the code imported now
    bar = tqdm(cells, desc=f"bench {cfg.name}", disable=not progress, unit="cell")
    for t, e, s in bar:
        bar.set_postfix_str(f"{t}/{e}/seed{s}")
        path = cell_dir(cfg, t, e, s)
        old = load_cell(path)
        if old and old.get("status") == "ok":
            records.append(old)
            continue
        run = runs[(t, e, s)]
        entry = cfg.tasks[t]
        rec = run_cell(run, task=t, encoder=e, split=task_split(entry, run), metric=task_metric(entry, run), trainer=trainer,
                       env=env)
        mark_run_dir(path)  # the cell dir is the bench's own: a cell that failed early stays rerunnable
        write_json(path / CELL_FILE, rec)
        if rec["status"] != "ok":
            log(f"cell {t}/{e}/seed{s} failed: {rec['error']['type']}: {rec['error']['message']}")
        records.append(rec)
    return records
