"""The encoder registry: one :class:`EncoderSpec` says everything the rest of kgbert needs to know.

An entry names (classes directly, or ``"module:attribute"`` strings resolved on first use, the way
transformers' Auto mappings name their classes, so this module imports nothing of kgbert):

- ``config``: the config class (a subclass of its backbone family's config, ``BertConfig`` by
  default, with its own ``model_type``),
- ``heads``: head kind -> model class (``"sequence"``, ``"token"``, optionally ``"mlm"``: the
  masked-LM pretraining head, registered with ``AutoModelForMaskedLM``, and ``"entity_typing"``:
  the type(s) of a marked entity, registered with ``kgbert``'s ``AutoModelForEntityTyping``). The
  head kind of each fine-tuning task is :data:`kgbert.constants.TASK_HEADS`; the Auto class each
  head kind registers with is :data:`HEAD_AUTO_CLASSES`,
- ``featurizer``: the featuriser class (a :class:`kgbert.data.featurize.Featurizer` subclass),
- ``annotators``: the :func:`annotators.make_pipeline` components whose output the featuriser
  reads (words, KG entities, phrases, SRL frames, entity ids). Training computes them when asked
  (``data.annotate``), the run directory records them, and :class:`kgbert.pipeline.Pipeline`
  runs exactly those,
- ``pipeline_output``: ``f(featurizer, prepared_input) -> dict`` merged into every
  :class:`~kgbert.pipeline.Pipeline` result (K-BERT: the injected triples), or None,
- ``bert_without_inputs``: given only BERT's inputs the encoder is exactly BERT (default; the
  conformance suite checks it bit for bit). ``False`` declares an encoder whose heads read its
  own inputs (SemBERT: the fused word + SRL-label vector): it must then raise a ValueError.
- ``backbone``: the backbone family whose checkpoints the encoder loads (:data:`BACKBONES`:
  ``"bert"``, the default, ``"albert"`` or ``"xlnet"``). ``build_model`` refuses a checkpoint of another
  family with an error naming both (K-BERT's soft positions and visible matrix live inside BERT's
  parts: it cannot take an ALBERT checkpoint).

The option sets are derived, never listed by hand: model options are the fields the config class
adds to its backbone family's config (``BertConfig``, ``AlbertConfig``) (class annotations and ``__init__`` parameters), featuriser options the
keyword parameters the featuriser's ``__init__`` adds to the base featuriser's.

A new encoder is its own files plus one :func:`register_encoder` call (for the built-in ones: one
entry in :data:`BUILTIN_ENCODERS`). A new head kind is one entry in :data:`HEAD_AUTO_CLASSES` and
one class per encoder in its ``heads`` (see ``docs/extending.md``).
"""
from __future__ import annotations

import importlib
import inspect
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from kgbert.constants import TASK_HEADS, TASKS

HEAD_AUTO_CLASSES: dict[str, str] = {
    "sequence": "transformers:AutoModelForSequenceClassification",
    "token": "transformers:AutoModelForTokenClassification",
    "mlm": "transformers:AutoModelForMaskedLM",
    "entity_typing": "kgbert.models.auto_entity_typing:AutoModelForEntityTyping",
}
"""Head kind -> the transformers Auto class its model classes are registered with."""


def resolve(ref: Any) -> Any:
    """A ``"package.module:attribute"`` reference -> the object (anything else is returned as is)."""
    if not isinstance(ref, str):
        return ref
    module, sep, attr = ref.partition(":")
    if not sep:
        raise ValueError(f"expected a 'module:attribute' reference, got {ref!r}")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


BACKBONES: dict[str, dict[str, Any]] = {
    "bert": {"config": "transformers:BertConfig", "model_types": ("bert",)},
    "albert": {"config": "transformers:AlbertConfig", "model_types": ("albert",)},
    "xlnet": {"config": "transformers:XLNetConfig", "model_types": ("xlnet",)},
}
"""Backbone family -> its transformers config class and the checkpoint ``model_type`` values it
reads (an encoder's own fine-tuned ``model_type`` counts for its family; anything unknown is
taken for BERT, as before families existed)."""


def checkpoint_family(model_type: str | None) -> str:
    """The backbone family of a checkpoint whose ``config.json`` says ``model_type``."""
    for name, fam in BACKBONES.items():
        if model_type in fam["model_types"]:
            return name
    for spec in list(ENCODERS.values()):
        if getattr(spec.config_class, "model_type", None) == model_type:
            return spec.backbone
    return "bert"


def _added_config_fields(config_class: type, base: type | None = None) -> frozenset[str]:
    """Fields ``config_class`` adds to ``base`` (default BertConfig): class annotations and
    ``__init__`` parameters."""
    if base is None:
        from transformers import BertConfig

        base = BertConfig
    names: set[str] = set()
    for klass in config_class.__mro__:
        if klass is base or not issubclass(klass, base):
            break
        names.update(klass.__dict__.get("__annotations__", {}))
    return frozenset(names | _added_init_parameters(config_class, base))


def _added_init_parameters(cls: type, base: type) -> frozenset[str]:
    """Keyword parameters of ``cls.__init__`` that ``base.__init__`` does not have."""
    own = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    inherited = inspect.signature(base.__init__).parameters  # type: ignore[misc]
    return frozenset(
        n for n, p in own.items()
        if n not in inherited and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


@dataclass(frozen=True)
class EncoderSpec:
    """Everything kgbert knows about one encoder (see the module docstring)."""

    name: str
    config: Any  # type[BertConfig] | "module:Class"
    heads: Mapping[str, Any]  # head kind -> type[PreTrainedModel] | "module:Class"
    featurizer: Any  # type[Featurizer] | "module:Class"
    annotators: tuple[str, ...] = ()
    pipeline_output: Any = None  # Callable[[featurizer, PreparedInput], dict] | "module:function" | None
    description: str = ""
    bert_without_inputs: bool = True  # no inputs beyond BERT's gives exactly BERT (conformance checks it);
    # False: the encoder cannot run without its own inputs and must raise a ValueError then (SemBERT)
    backbone: str = "bert"  # the backbone family (BACKBONES) whose checkpoints the encoder loads
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------ classes
    @property
    def config_class(self) -> type:
        return self._get("config", lambda: resolve(self.config))

    @property
    def backbone_config_class(self) -> type:
        """The transformers config class of the encoder's backbone family (``BertConfig``...)."""
        if self.backbone not in BACKBONES:
            raise ValueError(f"encoder {self.name!r}: unknown backbone family {self.backbone!r}; known: {sorted(BACKBONES)}")
        return self._get("backbone_config", lambda: resolve(BACKBONES[self.backbone]["config"]))

    @property
    def featurizer_class(self) -> type:
        return self._get("featurizer", lambda: resolve(self.featurizer))

    def model_class(self, head: str) -> type:
        """The model class of head kind ``head`` ("sequence", "token", ...)."""
        if head not in self.heads:
            raise ValueError(f"encoder {self.name!r} has no {head!r} head; it has: {sorted(self.heads)}")
        return self._get(f"head:{head}", lambda: resolve(self.heads[head]))

    def model_class_for_task(self, task: str) -> type:
        """The model class for fine-tuning task ``task`` ("sequence" | "pair" | "token" | "entity_typing")."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")
        return self.model_class(TASK_HEADS[task])

    def pipeline_hook(self) -> Callable[..., dict[str, Any]] | None:
        if self.pipeline_output is None:
            return None
        return self._get("pipeline_output", lambda: resolve(self.pipeline_output))

    # ------------------------------------------------------------------ options
    @property
    def model_options(self) -> frozenset[str]:
        """Options of the model config (what the config class adds to its backbone family's config)."""
        return self._get("model_options", lambda: _added_config_fields(self.config_class, self.backbone_config_class))

    @property
    def featurizer_options(self) -> frozenset[str]:
        """Options of the featuriser (what its ``__init__`` adds to the base featuriser's)."""
        cls = self.featurizer_class
        root = cls.__mro__[-2]  # the base featuriser (kgbert.data.featurize.Featurizer) under object
        return self._get("featurizer_options", lambda: _added_init_parameters(cls, root))

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise a ValueError naming any option that is neither a model nor a featuriser option."""
        unknown = set(options) - self.model_options - self.featurizer_options
        if unknown:
            raise ValueError(
                f"unknown option(s) {sorted(unknown)} for encoder {self.name!r}; model options: "
                f"{sorted(self.model_options)}, featuriser options: {sorted(self.featurizer_options)}"
            )

    def _get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


BUILTIN_ENCODERS: tuple[EncoderSpec, ...] = (
    EncoderSpec(
        name="bert",
        config="kgbert.models.configuration_bert_baseline:BertBaselineConfig",
        heads={
            "sequence": "kgbert.models.modeling_bert_baseline:BertBaselineForSequenceClassification",
            "token": "kgbert.models.modeling_bert_baseline:BertBaselineForTokenClassification",
            "entity_typing": "kgbert.models.modeling_bert_baseline:BertBaselineForEntityTyping",
            "mlm": "kgbert.models.modeling_bert_baseline:BertBaselineForMaskedLM",
        },
        featurizer="kgbert.data.featurize:Featurizer",
        description="plain BERT (the control in every comparison)",
    ),
    EncoderSpec(
        name="kbert",
        config="kgbert.models.configuration_kbert:KBertConfig",
        heads={
            "sequence": "kgbert.models.modeling_kbert:KBertForSequenceClassification",
            "token": "kgbert.models.modeling_kbert:KBertForTokenClassification",
            "entity_typing": "kgbert.models.modeling_kbert:KBertForEntityTyping",
            "mlm": "kgbert.models.modeling_kbert:KBertForMaskedLM",
        },
        featurizer="kgbert.data.kbert:KBertFeaturizer",
        annotators=("kg_entities",),
        pipeline_output="kgbert.data.kbert:knowledge_report",
        description="K-BERT (Liu et al., AAAI 2020): KG triples as branches, soft positions, visible matrix",
    ),
    EncoderSpec(
        name="sembert",
        config="kgbert.models.configuration_sembert:SemBertConfig",
        heads={
            "sequence": "kgbert.models.modeling_sembert:SemBertForSequenceClassification",
            "token": "kgbert.models.modeling_sembert:SemBertForTokenClassification",
            "entity_typing": "kgbert.models.modeling_sembert:SemBertForEntityTyping",
        },
        featurizer="kgbert.data.sembert:SemBertFeaturizer",
        annotators=("words", "srl"),
        pipeline_output="kgbert.data.sembert:frames_report",
        description="SemBERT (Zhang et al., AAAI 2020): SRL frames, BiGRU label encoder, word pooling, fusion",
        bert_without_inputs=False,
    ),
    EncoderSpec(
        name="ernie_thu",
        config="kgbert.models.configuration_ernie_thu:ErnieThuConfig",
        heads={
            "sequence": "kgbert.models.modeling_ernie_thu:ErnieThuForSequenceClassification",
            "token": "kgbert.models.modeling_ernie_thu:ErnieThuForTokenClassification",
            "entity_typing": "kgbert.models.modeling_ernie_thu:ErnieThuForEntityTyping",
        },
        featurizer="kgbert.data.ernie_thu:ErnieThuFeaturizer",
        annotators=("kg_entities",),
        pipeline_output="kgbert.data.ernie_thu:entities_report",
        description="ERNIE, Tsinghua (Zhang et al., ACL 2019): frozen KG entity vectors fused into BERT's last layers",
    ),
    EncoderSpec(
        name="albert",
        config="kgbert.models.configuration_albert:AlbertEncoderConfig",
        heads={
            "sequence": "kgbert.models.modeling_albert:AlbertEncoderForSequenceClassification",
            "token": "kgbert.models.modeling_albert:AlbertEncoderForTokenClassification",
            "entity_typing": "kgbert.models.modeling_albert:AlbertEncoderForEntityTyping",
        },
        featurizer="kgbert.data.featurize:Featurizer",
        description="ALBERT (Lan et al., ICLR 2020): factorised embeddings, cross-layer sharing; ALBERT checkpoints",
        backbone="albert",
    ),
    EncoderSpec(
        name="xlnet",
        config="kgbert.models.configuration_xlnet:XLNetEncoderConfig",
        heads={
            "sequence": "kgbert.models.modeling_xlnet:XLNetEncoderForSequenceClassification",
            "token": "kgbert.models.modeling_xlnet:XLNetEncoderForTokenClassification",
            "entity_typing": "kgbert.models.modeling_xlnet:XLNetEncoderForEntityTyping",
        },
        featurizer="kgbert.data.featurize:Featurizer",
        description="XLNet (Yang et al., NeurIPS 2019): two-stream relative-position Transformer-XL; XLNet checkpoints",
        backbone="xlnet",
    ),
)
"""The encoders that ship with kgbert (a new built-in encoder is one more entry here)."""

ENCODERS: dict[str, EncoderSpec] = {spec.name: spec for spec in BUILTIN_ENCODERS}
"""Every registered encoder by name (the built-ins plus any :func:`register_encoder` added)."""

_LOCK = threading.Lock()


def register_auto_classes(spec: EncoderSpec | None = None) -> None:
    """Register ``spec``'s (default: every registered encoder's) config and head classes with
    transformers' Auto classes (idempotent)."""
    if spec is None:
        for each in list(ENCODERS.values()):
            register_auto_classes(each)
        return
    from transformers import AutoConfig

    config_class: Any = spec.config_class
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    for head in spec.heads:
        if head in HEAD_AUTO_CLASSES:
            resolve(HEAD_AUTO_CLASSES[head]).register(config_class, spec.model_class(head), exist_ok=True)


def register_encoder(spec: EncoderSpec, *, replace: bool = False) -> EncoderSpec:
    """Add ``spec`` to :data:`ENCODERS` and register its classes with the Auto classes.

    A name already taken by another spec is an error unless ``replace=True``.
    """
    if not isinstance(spec, EncoderSpec):
        raise TypeError(f"expected an EncoderSpec, got {type(spec).__name__}")
    unknown = set(spec.heads) - set(HEAD_AUTO_CLASSES)
    if unknown:
        raise ValueError(f"encoder {spec.name!r}: unknown head kind(s) {sorted(unknown)}; known: {sorted(HEAD_AUTO_CLASSES)}")
    with _LOCK:
        old = ENCODERS.get(spec.name)
        if old is not None and old is not spec and not replace:
            raise ValueError(f"encoder {spec.name!r} is already registered (use replace=True)")
        ENCODERS[spec.name] = spec
    register_auto_classes(spec)
    return spec


def unregister_encoder(name: str) -> None:
    """Remove an encoder from :data:`ENCODERS` (tests; the Auto classes keep their registration)."""
    with _LOCK:
        ENCODERS.pop(name, None)


def get_encoder(name: str) -> EncoderSpec:
    """The registry entry of ``name``; a clear error naming the known encoders otherwise."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}") from None


def auto_class_for_task(task: str) -> Any:
    """The Auto class a model fine-tuned for ``task`` reloads with (through its head kind)."""
    if task not in TASK_HEADS:
        raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")
    return resolve(HEAD_AUTO_CLASSES[TASK_HEADS[task]])


def encoder_names() -> list[str]:
    """Names of every registered encoder, sorted."""
    return sorted(ENCODERS)


__all__ = [
    "BACKBONES",
    "auto_class_for_task",
    "BUILTIN_ENCODERS",
    "ENCODERS",
    "EncoderSpec",
    "HEAD_AUTO_CLASSES",
    "encoder_names",
    "checkpoint_family",
    "get_encoder",
    "register_auto_classes",
    "register_encoder",
    "resolve",
    "unregister_encoder",
]
