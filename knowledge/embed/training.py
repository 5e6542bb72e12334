"""Training and filtered rank-based evaluation of KG embeddings with PyKEEN (sLCWA).

The model, loss, negative sampler and optimizer are PyKEEN components chosen by name, so any
interaction model PyKEEN offers (TransE, RotatE, DistMult, ComplEx, ...) is one config value
away. Early stopping evaluates filtered MRR on the validation triples every ``eval_every``
epochs, keeps the best weights in memory and restores them at the end (also when the
``max_minutes`` wall-clock or ``max_cpu_minutes`` CPU-time budget stops training).
"""
from __future__ import annotations

import copy
import inspect
import logging
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Sequence

import numpy as np

from .triples import TripleSplits, to_pykeen

logger = logging.getLogger("knowledge.embed")

#: short loss names -> PyKEEN loss classes
LOSSES = {"margin": "MarginRankingLoss", "nssa": "NSSALoss", "self-adversarial": "NSSALoss"}
#: short negative sampler names -> PyKEEN samplers
SAMPLERS = {"uniform": "basic", "basic": "basic", "bernoulli": "bernoulli"}
SIDES = ("head", "tail", "both")
#: metric columns: (our name, PyKEEN metric key)
METRICS = (("MR", "arithmetic_mean_rank"), ("MRR", "inverse_harmonic_mean_rank"),
           ("Hits@1", "hits_at_1"), ("Hits@3", "hits_at_3"), ("Hits@10", "hits_at_10"))


class MissingDependency(ImportError):
    """PyKEEN is not installed."""


def require_pykeen() -> None:
    try:
        import pykeen  # noqa: F401
    except ImportError as exc:
        raise MissingDependency("training KG embeddings needs PyKEEN: pip install 'kgbert[kge]' "
                                "(or pip install pykeen)") from exc


def quiet_library_logs() -> None:
    """PyKEEN logs every step at INFO and torch_max_mem warns that CPU is "not safe": keep
    warnings from PyKEEN and errors from torch_max_mem."""
    import pykeen  # noqa: F401  (its import configures its loggers)

    for name in list(logging.root.manager.loggerDict):
        if name == "pykeen" or name.startswith("pykeen."):
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("torch_max_mem").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*pin_memory.*no accelerator.*")
    # PyKEEN steps LR schedulers with step(epoch=...), which torch deprecates (same result)
    warnings.filterwarnings("ignore", message="The epoch parameter in `scheduler.step")


@dataclass
class EmbedConfig:
    """Everything that decides a training run (saved in the export's ``meta.json``)."""

    model: str = "TransE"
    dim: int = 100
    #: TransE/ TransH/ ... distance norm (1 = L1, 2 = L2); passed as ``scoring_fct_norm``
    norm: int | None = 1
    #: ``margin`` (margin ranking), ``nssa`` (self-adversarial negative sampling) or a PyKEEN loss name
    loss: str = "margin"
    margin: float = 1.0
    adversarial_temperature: float = 1.0
    #: ``uniform`` or ``bernoulli`` (Wang et al. 2014) corruption of head or tail
    negatives: str = "bernoulli"
    num_negs: int = 1
    optimizer: str = "adam"
    lr: float = 0.001
    #: learning-rate schedule: a torch scheduler name (``ExponentialLR``, ``StepLR``,
    #: ``MultiStepLR``, ``ReduceLROnPlateau``, ...) built with ``lr_scheduler_kwargs``. PyKEEN steps
    #: it after every epoch; ``ReduceLROnPlateau`` is instead stepped with each validation MRR
    #: (``mode="max"``), i.e. its ``patience`` counts validation evaluations, not epochs
    lr_scheduler: str | None = None
    lr_scheduler_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1024
    epochs: int = 100
    #: early stopping: evaluate validation MRR every ``eval_every`` epochs, stop after
    #: ``patience`` evaluations without a relative improvement of ``min_delta``
    eval_every: int = 10
    patience: int = 3
    min_delta: float = 0.0
    #: evaluate early stopping on at most this many (seeded random) validation triples
    valid_max: int | None = None
    eval_batch_size: int | None = 32
    #: stop training after this many minutes of wall-clock time (the best validated weights are kept)
    max_minutes: float | None = None
    #: stop training after this many minutes of this process's CPU time (user + system, all
    #: threads; ``time.process_time``): the fair budget on a shared, contended machine, where a
    #: wall-clock cap gives a low-priority run only a fraction of a core
    max_cpu_minutes: float | None = None
    #: for a store without splits: train/valid/test fractions
    split: tuple[float, ...] = (0.9, 0.05, 0.05)
    seed: int = 0
    device: str = "cpu"
    #: extra keyword arguments of the PyKEEN model
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EmbedConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown embedding config keys {unknown}; known: {sorted(known)}")
        data = dict(data)
        if "split" in data and data["split"] is not None:
            data["split"] = tuple(float(x) for x in data["split"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["split"] = list(self.split)
        return d


@dataclass
class TrainResult:
    model: Any
    metrics: dict[str, dict[str, float]]
    epochs_run: int
    best_epoch: int | None
    validation_history: list[tuple[int, float]]
    seconds_train: float
    seconds_eval: float
    stopped_by: str
    #: part of ``seconds_train`` spent evaluating validation MRR
    validation_seconds: float = 0.0
    #: process CPU seconds (``time.process_time``) of training (incl. validation) and of the test evaluation
    cpu_seconds_train: float = 0.0
    cpu_seconds_eval: float = 0.0
    #: process CPU seconds since the start of training at each entry of ``validation_history``
    validation_cpu_seconds: list[float] = field(default_factory=list)
    #: learning rate at each entry of ``validation_history``
    validation_lr: list[float] = field(default_factory=list)


def build_model(config: EmbedConfig, training, *, seed: int | None = None):
    """The PyKEEN model of ``config`` over the training factory (randomly initialised)."""
    require_pykeen()
    import torch
    from pykeen.losses import loss_resolver
    from pykeen.models import model_resolver
    from pykeen.utils import set_random_seed

    set_random_seed(config.seed if seed is None else seed)
    loss_name = LOSSES.get(config.loss.lower(), config.loss)
    loss_cls = loss_resolver.lookup(loss_name)
    loss_kwargs: dict[str, Any] = {}
    loss_params = inspect.signature(loss_cls).parameters
    if "margin" in loss_params:
        loss_kwargs["margin"] = config.margin
    if "adversarial_temperature" in loss_params:
        loss_kwargs["adversarial_temperature"] = config.adversarial_temperature
    model_cls = model_resolver.lookup(config.model)
    kwargs: dict[str, Any] = {"embedding_dim": config.dim}
    if config.norm is not None and "scoring_fct_norm" in inspect.signature(model_cls).parameters:
        kwargs["scoring_fct_norm"] = config.norm
    kwargs.update(config.model_kwargs)
    model = model_cls(triples_factory=training, loss=loss_cls(**loss_kwargs),
                      random_seed=config.seed if seed is None else seed, **kwargs)
    fast_scoring(model)
    return model.to(torch.device(config.device))


def _cdist_transe_class():
    """A TransE interaction that scores all heads / all tails with ``torch.cdist``.

    PyKEEN's TransE scores ``(h, r, all tails)`` by broadcasting to a ``[batch, entities, dim]``
    tensor and taking its norm; ``torch.cdist`` computes the same distances without it (5x
    faster for L1, 18x for L2 on this CPU), which is what makes filtered evaluation of
    FB15k-237 affordable on a CPU. Other shapes (training) use PyKEEN's own code.
    """
    import torch
    from pykeen.nn.modules import TransEInteraction

    class CdistTransEInteraction(TransEInteraction):
        def forward(self, h, r, t):
            if not self.power_norm and h.ndim == r.ndim == t.ndim == 3 and self.p in (1, 2):
                b, n = max(h.shape[0], t.shape[0]), max(h.shape[1], t.shape[1])
                if t.shape[0] == 1 and h.shape[1] == r.shape[1] == 1 and n > 1:  # all tails
                    return -torch.cdist((h + r)[:, 0], t[0], p=self.p).view(b, n)
                if h.shape[0] == 1 and t.shape[1] == r.shape[1] == 1 and n > 1:  # all heads
                    return -torch.cdist((t - r)[:, 0], h[0], p=self.p).view(b, n)
            return super().forward(h=h, r=r, t=t)

    return CdistTransEInteraction


def fast_scoring(model) -> None:
    """Switch a PyKEEN TransE model to the cdist scoring of :func:`_cdist_transe_class` (same
    scores up to float rounding; other models are left unchanged)."""
    from pykeen.nn.modules import TransEInteraction

    if type(getattr(model, "interaction", None)) is TransEInteraction:
        model.interaction.__class__ = _cdist_transe_class()


def evaluate(model, triples: np.ndarray, filter_triples: Sequence[np.ndarray], *,
             batch_size: int | None = 32, use_tqdm: bool = True) -> dict[str, dict[str, float]]:
    """Filtered rank-based metrics (realistic ranks): ``{side: {MR, MRR, Hits@1/3/10}}``.

    ``filter_triples``: the known true triples (train, valid, ...) removed from the candidates;
    ``triples`` themselves are always filtered.
    """
    import torch
    from pykeen.evaluation import RankBasedEvaluator

    evaluator = RankBasedEvaluator(filtered=True)
    mapped = torch.as_tensor(triples, dtype=torch.long)
    extra = [torch.as_tensor(t, dtype=torch.long) for t in filter_triples if len(t)]
    model.eval()
    result = evaluator.evaluate(model=model, mapped_triples=mapped, additional_filter_triples=extra,
                                batch_size=batch_size, use_tqdm=use_tqdm)
    return {side: {ours: float(result.get_metric(f"{side}.realistic.{key}")) for ours, key in METRICS}
            for side in SIDES}


def _subsample(triples: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or len(triples) <= limit:
        return triples
    rng = np.random.default_rng(seed)
    return triples[np.sort(rng.choice(len(triples), size=limit, replace=False))]


def train(data: TripleSplits, config: EmbedConfig, *, use_tqdm: bool = True) -> TrainResult:
    """Train ``config`` on ``data`` (train split), early-stop on valid, evaluate on test."""
    require_pykeen()
    from pykeen.optimizers import optimizer_resolver
    from pykeen.stoppers.early_stopping import EarlyStoppingLogic
    from pykeen.training import SLCWATrainingLoop
    from pykeen.training.callbacks import TrainingCallback

    train_np = data.splits["train"]
    valid_np = data.splits.get("valid")
    test_np = data.splits.get("test")
    training = to_pykeen(train_np, data.num_entities, data.num_relations)
    model = build_model(config, training)
    optimizer = optimizer_resolver.make(config.optimizer, params=model.get_grad_params(), lr=config.lr)
    sampler = SAMPLERS.get(config.negatives.lower())
    if sampler is None:
        raise ValueError(f"unknown negative sampling {config.negatives!r}: use uniform or bernoulli")
    scheduler_cls, on_validation = lr_scheduler_class(config)
    if on_validation and valid_np is None:
        raise ValueError(f"lr_scheduler {config.lr_scheduler} is stepped with validation MRR: "
                         "it needs validation triples")
    per_epoch = scheduler_cls if scheduler_cls is not None and not on_validation else None
    loop = SLCWATrainingLoop(model=model, triples_factory=training, optimizer=optimizer,
                             negative_sampler=sampler,
                             negative_sampler_kwargs={"num_negs_per_pos": config.num_negs},
                             lr_scheduler=per_epoch,
                             lr_scheduler_kwargs=dict(config.lr_scheduler_kwargs) if per_epoch else None)
    es_valid = _subsample(valid_np, config.valid_max, config.seed) if valid_np is not None else None
    logic = EarlyStoppingLogic(patience=config.patience, relative_delta=config.min_delta,
                               larger_is_better=True)
    state: dict[str, Any] = {"best": None, "best_epoch": None, "history": [], "stopped_by": "epochs",
                             "epochs": 0, "eval_seconds": 0.0, "history_cpu": [], "history_lr": [],
                             "plateau": None}
    start, cpu_start = time.perf_counter(), time.process_time()

    def over_budget() -> str | None:
        if config.max_minutes is not None and time.perf_counter() - start > 60 * config.max_minutes:
            return f"time budget ({config.max_minutes} min wall)"
        if (config.max_cpu_minutes is not None
                and time.process_time() - cpu_start > 60 * config.max_cpu_minutes):
            return f"time budget ({config.max_cpu_minutes} CPU min)"
        return None

    class _EarlyStopping(TrainingCallback):
        def post_epoch(self, epoch: int, epoch_loss: float, **kwargs: Any) -> None:
            state["epochs"] = epoch
            over = over_budget()
            last = epoch >= config.epochs
            if es_valid is not None and (epoch % config.eval_every == 0 or over or last):
                t0 = time.perf_counter()
                mrr = evaluate(model, es_valid, [train_np], batch_size=config.eval_batch_size,
                               use_tqdm=False)["both"]["MRR"]
                state["eval_seconds"] += time.perf_counter() - t0
                model.train()
                lr_now = float(self.training_loop.optimizer.param_groups[0]["lr"])
                state["history"].append((epoch, mrr))
                state["history_cpu"].append(time.process_time() - cpu_start)
                state["history_lr"].append(lr_now)
                stop = logic.report_result(metric=mrr, epoch=epoch)
                logger.info("epoch %d: loss %.4f, validation MRR %.4f, lr %.3g (%.1f CPU min, "
                            "%.1f min wall)", epoch, epoch_loss, mrr, lr_now,
                            state["history_cpu"][-1] / 60, (time.perf_counter() - start) / 60)
                if on_validation:
                    if state["plateau"] is None:  # the loop's optimizer exists once training runs
                        kwargs = {"mode": "max", **config.lr_scheduler_kwargs}
                        state["plateau"] = scheduler_cls(self.training_loop.optimizer, **kwargs)
                    state["plateau"].step(mrr)
                if logic.best_epoch == epoch:
                    state["best"] = copy.deepcopy(model.state_dict())
                    state["best_epoch"] = epoch
                if stop:
                    state["stopped_by"] = "early stopping"
                    self.training_loop._should_stop = True  # how PyKEEN's own stopper callback stops
            if over and not self.training_loop._should_stop:
                state["stopped_by"] = over
                self.training_loop._should_stop = True

    loop.train(triples_factory=training, num_epochs=config.epochs, batch_size=config.batch_size,
               use_tqdm=use_tqdm, use_tqdm_batch=False, callbacks=[_EarlyStopping()])
    seconds_train = time.perf_counter() - start
    cpu_train = time.process_time() - cpu_start
    if state["best"] is not None:
        model.load_state_dict(state["best"])
    metrics: dict[str, dict[str, float]] = {}
    t0, cpu0 = time.perf_counter(), time.process_time()
    if test_np is not None:
        known = [train_np] + ([valid_np] if valid_np is not None else [])
        metrics = evaluate(model, test_np, known, batch_size=config.eval_batch_size, use_tqdm=use_tqdm)
    return TrainResult(model=model, metrics=metrics, epochs_run=state["epochs"],
                       best_epoch=state["best_epoch"], validation_history=state["history"],
                       seconds_train=seconds_train, seconds_eval=time.perf_counter() - t0,
                       stopped_by=state["stopped_by"], validation_seconds=state["eval_seconds"],
                       cpu_seconds_train=cpu_train, cpu_seconds_eval=time.process_time() - cpu0,
                       validation_cpu_seconds=state["history_cpu"], validation_lr=state["history_lr"])


def lr_scheduler_class(config: EmbedConfig) -> tuple[Any, bool]:
    """The torch LR scheduler class of ``config`` (None without one) and whether it is stepped
    with validation MRR (``ReduceLROnPlateau``) rather than after every epoch."""
    if not config.lr_scheduler:
        if config.lr_scheduler_kwargs:
            raise ValueError("lr_scheduler_kwargs given without an lr_scheduler")
        return None, False
    from class_resolver.contrib.torch import lr_scheduler_resolver
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    try:
        cls = lr_scheduler_resolver.lookup(config.lr_scheduler)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown lr_scheduler {config.lr_scheduler!r}; known: "
                         f"{sorted(lr_scheduler_resolver.lookup_dict)}") from exc
    params = inspect.signature(cls).parameters
    unknown = sorted(set(config.lr_scheduler_kwargs) - set(params) - {"optimizer"})
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise ValueError(f"lr_scheduler_kwargs {unknown} are not arguments of {cls.__name__}")
    return cls, issubclass(cls, ReduceLROnPlateau)


def representations(model) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], bool]:
    """The model's entity and relation tables as float32 ``[n, d]`` arrays (``entity``,
    ``entity.1``, ...; complex tables as [real parts | imaginary parts], flagged by the bool)."""
    import torch

    is_complex = False
    out: list[dict[str, np.ndarray]] = []
    for kind, reps in (("entity", model.entity_representations),
                       ("relation", model.relation_representations)):
        tables: dict[str, np.ndarray] = {}
        for i, rep in enumerate(reps):
            with torch.no_grad():
                t = rep(indices=None).detach().cpu()
            if t.is_complex():
                is_complex = True
                t = torch.cat([t.real, t.imag], dim=-1)
            tables[kind if i == 0 else f"{kind}.{i}"] = t.reshape(t.shape[0], -1).float().numpy()
        out.append(tables)
    return out[0], out[1], is_complex


def metrics_markdown(metrics: dict[str, dict[str, float]], title: str = "") -> str:
    """A Markdown table: one row per side (head, tail, both)."""
    lines = [f"### {title}", ""] if title else []
    lines += ["| side | " + " | ".join(m for m, _ in METRICS) + " |",
              "|---|" + "---:|" * len(METRICS)]
    for side in SIDES:
        if side in metrics:
            vals = metrics[side]
            cells = [f"{vals['MR']:.1f}"] + [f"{vals[m]:.4f}" for m, _ in METRICS[1:]]
            lines.append(f"| {side} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
