"""Annotated inference over a trained run: ``Pipeline.from_pretrained(run_dir)``.

>>> from kgbert.pipeline import Pipeline
>>> pipe = Pipeline.from_pretrained("runs/demo/ner_kbert")            # doctest: +SKIP
>>> pipe("咳嗽、发热2天，体温38.5℃，伴乏力。")                          # doctest: +SKIP
{"entities": [{"start": 0, "end": 2, "label": "Symptom", "text": "咳嗽", "score": 0.93}, ...],
 "tags": ["B-Symptom", "I-Symptom", "O", ...], "annotation": {...},
 "knowledge": [{"start": 0, "end": 2, "text": "咳嗽", "name": "咳嗽", "triples": [["咳嗽", "类别", "症状"]]}, ...]}

A run directory (``python -m kgbert.train`` output) holds ``best/`` with the model, its tokenizer,
``kgbert.json`` (encoder, task, label list, ``max_length``, featuriser options, the annotators the
model reads) and ``kg.json`` (the KG store the model was trained with). :meth:`Pipeline.from_pretrained`
loads all of it (or a ``best/``-style checkpoint directory directly), reopens the KG (``kg=``
overrides it) and, with ``annotate=True``, runs exactly the :mod:`annotators` components the
encoder reads (its :class:`~kgbert.registry.EncoderSpec` ``annotators``, as recorded in
``kgbert.json``), so every prediction comes with the :class:`annotators.Annotation` it was made
from, plus what the encoder adds to the output (its spec's ``pipeline_output``; K-BERT: the
triples that were injected for each entity).

Inputs: a text (``str``), an :class:`annotators.Annotation` (its entities are used as they are:
annotations from another tool skip our annotators), a ``(text_a, text_b)`` pair for pair tasks,
a relation input (below) for relation models, or a list of these. Inference is batched, without
gradients, and deterministic (the model is in eval mode; the same inputs give the same outputs).

**NER offsets.** Token-classification models see one token per non-whitespace character (as the
K-BERT NER data). Predictions are mapped back through the featuriser's ``token_map`` to character
offsets of the *original* text, so ``text[start:end] == entity["text"]`` always holds, whatever
spaces, Latin letters or digits the text holds. ``tags`` has one tag per character of the text;
whitespace gets ``O``, or the entity's inside tag when it lies within a predicted entity.

**Long texts** are split into overlapping windows and the predictions merged (NER: entities over
the whole text, original offsets; classification: mean probabilities), see :mod:`kgbert.windowing`;
``window=False`` refuses them instead and ``truncate=True`` cuts them.

**Relation models** (run task ``relation``) classify the sentence with the head and tail mentions
wrapped in entity markers. A relation input is a dict ``{"text": sentence, "head": mention, "tail":
mention}`` (located with :func:`kgbert.data.readers.locate_pair`, the rule of the ``relation_tsv``
reader: first occurrences, without overlap) or ``{"text", "head_span": [s, e], "tail_span": [s, e]}``
(end-exclusive character offsets; with ``head``/``tail`` too they must match them). The markers
the model was trained with (``relation.markers`` of ``kgbert.json``) are inserted with
:func:`~kgbert.data.readers.mark_pair`, exactly as the reader does; the result adds ``head`` and
``tail`` (``{"start", "end", "text"}`` in the unmarked text) and ``marked_text``; ``annotation`` is
that of the marked text (the one the model read, as in training). A relation input is never split
into windows (a window could lose a marker): an over-long one is an error unless ``truncate=True``
(cut, as training cuts). A plain text given to a relation model is classified as it is: it must
already carry the markers (as before; checkpoints from before ``relation.markers`` was recorded
take only that).

**Errors** (:class:`PipelineError`, naming the input): empty text, a text longer than the model's
limit with ``window=False`` or for a pair model (the message gives the limit; ``truncate=True``
cuts instead), a single text given to a pair model or a pair given to a single-text model, a
relation input given to another model or whose mentions are missing or not found in the text.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence, Union

from annotators import Annotation, AnnotationError, Entity
from kgbert.data.example import Example
from kgbert.data.readers import locate_pair, mark_pair
from kgbert.data.featurize import FeaturizeError, build_featurizer
from kgbert.data.token_map import first_positions
from kgbert.metrics import get_entities
from kgbert.registry import get_encoder

TextInput = Union[str, Annotation]
PipelineInput = Union[TextInput, "tuple[TextInput, TextInput]", "dict[str, Any]"]
RELATION_KEYS = ("text", "head", "tail", "head_span", "tail_span")

class PipelineError(ValueError):
    """An input the pipeline cannot predict on, or a run directory it cannot load."""


@dataclass
class _Segment:
    """One text of an input, as the featuriser saw it."""

    annotation: Annotation  # over the original text (reported to the user)
    feat_annotation: Annotation  # over the text the featuriser sees (token task: whitespace removed)
    entity_spans: list[tuple[int, int]]  # original (start, end) of each feat_annotation entity
    char_offsets: list[int] | None = None  # token task: original char offset of each token
    tok_starts: list[int] | None = None  # sequence/pair: char starts of the WordPieces
    tok_ends: list[int] | None = None


@dataclass
class PreparedInput:
    """An input checked, annotated and featurised, ready for :meth:`Pipeline.predict_prepared`."""

    segments: list[_Segment]
    feature: dict[str, Any]
    truncated: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    windowed: Any = None  # kgbert.windowing.Windowed for a long text split into windows


def resolve_checkpoint(path: str | os.PathLike) -> tuple[Path, Path | None]:
    """(checkpoint dir with ``kgbert.json``, run dir or None) for a run dir or a checkpoint dir."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: no such run or checkpoint directory")
    if (path / "best" / "kgbert.json").is_file():
        return path / "best", path
    if (path / "kgbert.json").is_file():
        parent = path.parent
        return path, parent if (parent / "config.yaml").is_file() else None
    if (path / "config.yaml").is_file():
        raise PipelineError(
            f"{path}: run directory without a finished best checkpoint (no best/kgbert.json); "
            "has training finished?"
        )
    raise PipelineError(
        f"{path}: neither a run directory (with best/kgbert.json) nor a checkpoint directory (with kgbert.json)"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        raise PipelineError(f"{path}: cannot read ({e})") from None


def _open_store(path: str | os.PathLike):
    """Open a KG store; an unreadable one is a :class:`PipelineError` naming it."""
    from knowledge import KnowledgeGraph

    if not Path(path).exists():
        raise PipelineError(f"{path}: no such KG store (build one with python -m kgbert.build_kg)")
    try:
        return KnowledgeGraph.open(path)
    except Exception as e:  # sqlite3 errors, format version mismatch, ...
        raise PipelineError(f"{path}: cannot open the KG store ({e}); rebuild it with python -m kgbert.build_kg") from e


def _open_trained_kg(kg_json: dict[str, Any], where: Path):
    """The KG store named in ``kg.json`` (None when the model was trained without one)."""
    path = kg_json.get("path")
    if not path:
        return None
    p = Path(path)
    if not p.exists():
        sources = ", ".join(s.get("path", "?") for s in kg_json.get("sources", [])) or "unknown"
        raise PipelineError(
            f"{where}: the KG store this model was trained with is missing: {p} (built from: {sources}). "
            "Pass kg=PATH (--kg STORE) to use another store, e.g. one rebuilt with python -m kgbert.build_kg"
        )
    kg = _open_store(p)
    # the store file's hash changes with every build (it records a build id): compare the counts
    counts = {k: kg_json[k] for k in ("num_entities", "num_relations", "num_triples") if k in kg_json}
    now = {k: getattr(kg, k) for k in counts}
    if now != counts:
        warnings.warn(
            f"KG store {p} differs from the one the model was trained with ({where}: {counts}, now: {now}); "
            "predictions use the current store",
            stacklevel=3,
        )
    return kg


class Pipeline:
    """A trained model + tokenizer + featuriser (+ KG, + annotators) that predicts on raw text.

    Build it with :meth:`from_pretrained`; call it on texts (see the module docstring).
    """

    def __init__(
        self,
        model,
        tokenizer,
        info: dict[str, Any],
        *,
        kg=None,
        nlp=None,
        device: str = "cpu",
        truncate: bool = False,
        run_dir: Path | None = None,
        checkpoint_dir: Path | None = None,
        config: dict[str, Any] | None = None,
        kg_info: dict[str, Any] | None = None,
        window: bool = True,
    ) -> None:
        import torch

        self.info = dict(info)
        self.task: str = info["task"]
        self.encoder: str = info["encoder"]
        self.labels: list[str] = list(info["labels"])
        self.multi_label: bool = bool(info.get("multi_label", False))  # multi-label entity typing
        self.max_length: int = int(info["max_length"])
        markers = (info.get("relation") or {}).get("markers")  # None: not a relation model, or one from before
        self.relation_markers: tuple[str, ...] | None = tuple(markers) if markers else None
        self.kg = kg
        self.nlp = nlp
        self.truncate = truncate
        self.window = window
        self.run_dir = run_dir
        self.checkpoint_dir = checkpoint_dir
        self.config = config or {}
        self.kg_info = kg_info or {}
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.spec = get_encoder(self.encoder)
        self.featurizer = build_featurizer(
            self.encoder, tokenizer, task=self.task, label_list=self.labels, max_length=self.max_length,
            kg=kg, multi_label=self.multi_label, **dict(info.get("featurizer") or {}),
        )
        self._display_matcher = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        kg=None,
        annotate: bool = True,
        device: str = "cpu",
        *,
        annotator_components: Sequence[str] | None = None,
        annotator_options: dict[str, Any] | None = None,
        truncate: bool = False,
        window: bool = True,
    ) -> "Pipeline":
        """Load a run directory (``runs/X``, uses ``runs/X/best``) or a checkpoint directory.

        Args:
            path: a run directory or its ``best/`` checkpoint directory.
            kg: the KG store the model was trained with is reopened from ``kg.json``; give a store
                path or an open :class:`knowledge.KnowledgeGraph` to use another one, or ``False``
                for none (K-BERT then injects no knowledge).
            annotate: run the :mod:`annotators` components the model reads on raw texts;
                ``False`` (or a model that reads none): entities come from the featuriser's own
                matcher (for K-BERT the very matcher it was trained with) or, for display, the
                KG matcher, and words are not computed.
            device: torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
            annotator_components: annotators to run instead (names of :mod:`annotators.names`:
                ``words`` and the :func:`annotators.make_pipeline` components; default: the
                ``annotators`` recorded in ``kgbert.json``, i.e. the encoder's
                :class:`~kgbert.registry.EncoderSpec` ones; components that need a KG are left
                out without one).
            truncate: cut over-long texts (the cut part gets no prediction) instead of windowing.
            annotator_options: extra :func:`annotators.make_pipeline` arguments (e.g. ``{"srl_model":
                dir}``, the SRL tagger SemBERT's frames come from); default: the run's
                ``data.annotator_options`` (its ``config.yaml``), so the annotators are those it was trained with.
            window: split over-long texts into overlapping windows (:mod:`kgbert.windowing`);
                ``False`` (and no ``truncate``): raise :class:`PipelineError` for them.
        """
        import kgbert.models  # noqa: F401  (registers the Auto classes)
        from kgbert.registry import auto_class_for_task

        from kgbert.checkpoints import load_tokenizer

        ckpt, run_dir = resolve_checkpoint(path)
        info = _read_json(ckpt / "kgbert.json")
        missing = [k for k in ("encoder", "task", "labels", "max_length") if k not in info]
        if missing:
            raise PipelineError(f"{ckpt / 'kgbert.json'}: missing key(s) {missing}")
        kg_json = _read_json(ckpt / "kg.json") if (ckpt / "kg.json").is_file() else {"path": None}
        config = None
        if run_dir is not None and (run_dir / "config.yaml").is_file():
            import yaml

            with open(run_dir / "config.yaml", encoding="utf-8") as fh:
                config = yaml.safe_load(fh)

        if kg is None:
            store = _open_trained_kg(kg_json, ckpt / "kg.json")
        elif kg is False:
            store = None
        elif isinstance(kg, (str, os.PathLike)):
            store = _open_store(kg)
        else:
            store = kg

        model = auto_class_for_task(info["task"]).from_pretrained(str(ckpt), local_files_only=True)
        id2label = [model.config.id2label[i] for i in range(len(model.config.id2label))]
        if id2label != list(info["labels"]):
            raise PipelineError(f"{ckpt}: labels of config.json {id2label} differ from kgbert.json {info['labels']}")
        tokenizer = load_tokenizer(ckpt)

        nlp = None
        if annotate:
            store_path = getattr(store, "path", None)
            if annotator_components is None:
                annotator_components = model_annotators(info, has_kg=store_path is not None)
            if annotator_components:
                import annotators
                from annotators.names import pipeline_components

                if annotator_options is None:
                    annotator_options = dict(((config or {}).get("data") or {}).get("annotator_options") or {})
                nlp = annotators.make_pipeline(
                    kg=None if store_path is None else str(store_path),
                    components=pipeline_components(annotator_components),
                    **annotator_options,
                )
        return cls(
            model, tokenizer, info, kg=store, nlp=nlp, device=device, truncate=truncate,
            run_dir=run_dir, checkpoint_dir=ckpt, config=config, kg_info=kg_json, window=window,
        )

    def close(self) -> None:
        """Close the KG store (the pipeline cannot inject knowledge afterwards)."""
        if self.kg is not None and hasattr(self.kg, "close"):
            self.kg.close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ limits
    @property
    def max_text_tokens(self) -> int:
        """The most text tokens one input may have (``max_length`` minus the special tokens;
        for NER a token is a non-whitespace character; for pairs, both texts together)."""
        return self.max_length - (3 if self.task == "pair" else 2)

    # ------------------------------------------------------------------ preparation
    def _entities_for(self, text: str) -> list[Entity]:
        """KG entities of a raw text without the annotators (the featuriser's own matcher if it has one)."""
        if self.kg is None:
            return []
        matcher = self.featurizer.entity_matcher()
        if matcher is None:
            if self._display_matcher is None:
                from knowledge import EntityMatcher

                self._display_matcher = EntityMatcher.for_store(self.kg)
            matcher = self._display_matcher
        return [Entity(m.start, m.end, "KG", int(m.entity_id), m.name, "kg") for m in matcher.find(text)]

    def annotate(self, x: TextInput) -> Annotation:
        """The :class:`Annotation` of one text (an Annotation is returned as it is)."""
        if isinstance(x, Annotation):
            x.validate()
            ann = x
        elif isinstance(x, str):
            if self.nlp is not None and x.strip():
                import annotators

                ann = annotators.to_annotation(self.nlp(x))
            else:
                ann = Annotation(text=x, entities=self._entities_for(x) if x.strip() else [])
        else:
            raise PipelineError(f"expected a text (str) or an Annotation, got {type(x).__name__}")
        if not ann.text.strip():
            raise PipelineError("empty text")
        return ann

    def _too_long(self, n: int, what: str) -> PipelineError:
        return PipelineError(
            f"text too long: {n} {what}; this model takes at most {self.max_text_tokens} "
            f"(max_length={self.max_length} minus the special tokens); shorten it or use truncate=True"
        )

    def _token_segment(self, ann: Annotation) -> tuple[_Segment, list[str]]:
        text = ann.text
        offsets = [i for i, c in enumerate(text) if not c.isspace()]
        tokens = [text[i] for i in offsets]
        if len(offsets) == len(text):
            feat_ann, spans = ann, [(e.start, e.end) for e in ann.entities]
        else:  # the model sees the text without whitespace: move the entities there
            before = [0] * (len(text) + 1)  # non-whitespace characters before each offset
            for i, c in enumerate(text):
                before[i + 1] = before[i] + (not c.isspace())
            ents, spans = [], []
            for e in ann.entities:
                s, t = before[e.start], before[e.end]
                if s < t:
                    name = e.name if (e.name is not None or e.kg_id is not None) else text[e.start : e.end]
                    ents.append(Entity(s, t, e.label, e.kg_id, name, e.source))
                    spans.append((e.start, e.end))
            feat_ann = Annotation(text="".join(tokens), entities=ents)
        return _Segment(ann, feat_ann, spans, char_offsets=offsets), tokens

    def prepare(self, x: PipelineInput, *, long: str | None = None) -> PreparedInput:
        """Check, annotate and featurise one input; raises :class:`PipelineError`.

        ``long``: what to do with a text over the limit, ``"window"``, ``"truncate"`` or
        ``"error"`` (default: from the pipeline's ``truncate`` and ``window``)."""
        if long is None:
            long = "truncate" if self.truncate else ("window" if self.window else "error")
        if isinstance(x, dict):  # a relation input: mark it, then classify the marked text
            marked, rel = self._mark_relation(x)
            item = self.prepare(marked, long="truncate" if long == "truncate" else "error")
            item.meta.update(rel)
            return item
        pair = isinstance(x, (tuple, list))
        if self.task == "pair" and not (pair and len(x) == 2):
            got = f"a {type(x).__name__} of {len(x)}" if pair else f"a single {type(x).__name__}"
            raise PipelineError(f"this model classifies text pairs: give (text_a, text_b), got {got}")
        if self.task != "pair" and pair:
            raise PipelineError(
                f"this model ({self.task} task) takes one text per input, got a {type(x).__name__} of {len(x)}"
            )
        parts = list(x) if pair else [x]
        if self.task == "token" and isinstance(x, str) and long == "error":
            n = sum(not c.isspace() for c in x)  # checked before annotating a huge text
            if n > self.max_text_tokens:
                raise self._too_long(n, "characters (whitespace excluded)")
        try:
            anns = [self.annotate(p) for p in parts]
        except AnnotationError as e:
            raise PipelineError(f"invalid annotation: {e}") from None
        truncated = False
        if self.task == "token":
            seg, tokens = self._token_segment(anns[0])
            if len(tokens) > self.max_text_tokens:
                if long == "window":
                    return self._windowed([seg])
                if long != "truncate":
                    raise self._too_long(len(tokens), "characters (whitespace excluded)")
                truncated = True
            ex = Example(text_a=seg.feat_annotation.text, tokens=tokens, ann_a=seg.feat_annotation)
            segs = [seg]
        else:
            segs = []
            n = 0
            for ann in anns:
                _, starts, ends = self.featurizer.tokenize_spans(ann.text)
                if not starts:
                    raise PipelineError(f"text has no tokens the model can read: {ann.text!r}")
                n += len(starts)
                spans = [(e.start, e.end) for e in ann.entities]
                segs.append(_Segment(ann, ann, spans, tok_starts=starts, tok_ends=ends))
            if n > self.max_text_tokens:
                if long == "window" and not pair:
                    return self._windowed(segs)
                if long != "truncate":
                    raise self._too_long(n, "tokens" + (" in both texts" if pair else ""))
                truncated = True
            ex = Example(
                text_a=anns[0].text, text_b=anns[1].text if pair else None,
                ann_a=anns[0], ann_b=anns[1] if pair else None,
            )
        try:
            feature = self.featurizer(ex)
        except FeaturizeError as e:
            raise PipelineError(str(e).replace("<example>: ", "")) from None
        except KeyError as e:  # e.g. an annotated kg_id the KG store does not have
            raise PipelineError(f"annotation does not fit the KG: {e.args[0] if e.args else e}") from None
        return PreparedInput(segs, feature, truncated)

    def _mark_relation(self, x: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(the marked text, the result fields ``head``/``tail``/``marked_text``) of a relation input."""
        if self.relation_markers is None:
            if self.info.get("run_task") == "relation":
                raise PipelineError(
                    "this relation model's kgbert.json does not record its entity markers (trained before "
                    "relation.markers was saved): give the sentence with the markers already inserted, as a text"
                )
            task = self.info.get("run_task", self.task)
            raise PipelineError(f"a relation input (text, head, tail) needs a relation model; this one is a {task} model")
        unknown = sorted(set(x) - set(RELATION_KEYS))
        if unknown:
            raise PipelineError(f"relation input: unknown key(s) {unknown} (expected {list(RELATION_KEYS)})")
        text = x.get("text")
        if not isinstance(text, str) or not text.strip():
            raise PipelineError("relation input: 'text' must be a non-empty string")
        names = {"head": x.get("head"), "tail": x.get("tail")}
        for k, v in names.items():
            if v is not None and (not isinstance(v, str) or not v):
                raise PipelineError(f"relation input: {k!r} must be a non-empty string, got {v!r}")
        if "head_span" in x or "tail_span" in x:
            hs, ts = (self._span(x, k, text) for k in ("head", "tail"))
            if hs[0] < ts[1] and ts[0] < hs[1]:
                raise PipelineError(f"relation input: head_span {list(hs)} and tail_span {list(ts)} overlap")
        else:
            if names["head"] is None or names["tail"] is None:
                raise PipelineError("relation input needs 'head' and 'tail' (the mentions) or 'head_span' and 'tail_span'")
            found = locate_pair(text, names["head"], names["tail"])
            if found is None:
                raise PipelineError(
                    f"head {names['head']!r} and tail {names['tail']!r} are not both found (without overlap) in the text"
                )
            hs, ts = found
        marked = mark_pair(text, hs, ts, self.relation_markers)
        return marked, {"head": {"start": hs[0], "end": hs[1], "text": text[hs[0]:hs[1]]},
                        "tail": {"start": ts[0], "end": ts[1], "text": text[ts[0]:ts[1]]}, "marked_text": marked}

    @staticmethod
    def _span(x: dict[str, Any], which: str, text: str) -> tuple[int, int]:
        """The checked ``{which}_span`` of a relation input (and ``which`` matches it when given)."""
        span = x.get(f"{which}_span")
        if not (isinstance(span, (list, tuple)) and len(span) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in span)):
            raise PipelineError(f"relation input: '{which}_span' must be [start, end] (two ints), got {span!r}")
        s, e = span
        if not 0 <= s < e <= len(text):
            raise PipelineError(f"relation input: '{which}_span' {list(span)} is not a non-empty span of the "
                                f"text (length {len(text)}; end-exclusive)")
        if x.get(which) is not None and text[s:e] != x[which]:
            raise PipelineError(f"relation input: '{which}_span' {list(span)} is {text[s:e]!r}, not {which} {x[which]!r}")
        return s, e

    def _windowed(self, segs: list[_Segment]) -> PreparedInput:
        from kgbert.windowing import prepare_windows

        return PreparedInput(segs, {}, windowed=prepare_windows(self, segs[0].annotation))

    def _decode_windowed(self, item: PreparedInput, window_probs: list) -> dict[str, Any]:
        """Merge the windows' predictions into one result for the whole text."""
        import torch

        from kgbert.windowing import merge_token_probs, merge_window_outputs

        w, seg = item.windowed, item.segments[0]
        if w.kind == "token":
            n = len(seg.char_offsets or [])
            outside = self.labels.index("O") if "O" in self.labels else 0
            merged = merge_token_probs(w, window_probs, n, outside)
            out = self._decode_token(PreparedInput([seg], {"token_map": list(range(n))}), merged)
        else:
            out = self._decode_class(torch.stack(window_probs).mean(dim=0))
        out["annotation"] = seg.annotation.to_dict()
        extra = self.spec.pipeline_hook()
        if extra is not None:
            out.update(merge_window_outputs(w, [extra(self.featurizer, q) for q in w.windows], seg.annotation.text))
        if any(q.truncated for q in w.windows):
            out["truncated"] = True
        out["windows"] = len(w.windows)
        return out

    # ------------------------------------------------------------------ prediction
    def __call__(self, inputs: PipelineInput | Iterable[PipelineInput], batch_size: int = 32):
        """Predict on one input (returns a dict) or an iterable of inputs (returns a list of dicts).

        An invalid input raises :class:`PipelineError` naming its index; nothing is predicted then.
        """
        single = isinstance(inputs, (str, Annotation, dict)) or (
            self.task == "pair" and isinstance(inputs, tuple) and len(inputs) == 2
            and all(isinstance(p, (str, Annotation)) for p in inputs)
        )
        items = [inputs] if single else list(inputs)
        prepared = []
        for i, x in enumerate(items):
            try:
                prepared.append(self.prepare(x))
            except PipelineError as e:
                raise PipelineError(str(e) if single else f"input {i}: {e}") from None
        out = self.predict_prepared(prepared, batch_size=batch_size)
        return out[0] if single else out

    def predict_prepared(self, prepared: Sequence[PreparedInput], batch_size: int = 32) -> list[dict[str, Any]]:
        """Run the model on prepared inputs (batched by length, no grad); one dict per input, in order."""
        import torch

        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        # a windowed input contributes its windows; their predictions are merged afterwards
        flat: list[PreparedInput] = []
        owner: list[int] = []
        for i, p in enumerate(prepared):
            parts = p.windowed.windows if p.windowed is not None else [p]
            flat += parts
            owner += [i] * len(parts)
        window_probs: dict[int, list] = {}
        order = sorted(range(len(flat)), key=lambda i: (-len(flat[i].feature["input_ids"]), i))
        results: list[dict[str, Any] | None] = [None] * len(prepared)
        with torch.inference_mode():
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                batch = self.featurizer.collate([flat[i].feature for i in idx])
                batch.pop("labels", None)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                logits = self.model(**batch).logits  # (B, C) or (B, L, C)
                # (B, C) or (B, L, C); multi-label typing: one independent probability per type
                probs = (torch.sigmoid(logits.float()) if self.multi_label else torch.softmax(logits.float(), dim=-1)).cpu()
                for row, i in enumerate(idx):
                    if prepared[owner[i]].windowed is None:
                        results[owner[i]] = self._decode(flat[i], probs[row])
                    else:
                        window_probs.setdefault(owner[i], []).append((i, probs[row]))
        for i, rows in window_probs.items():
            results[i] = self._decode_windowed(prepared[i], [p for _, p in sorted(rows, key=lambda r: r[0])])
        return results  # type: ignore[return-value]

    def _decode(self, item: PreparedInput, probs) -> dict[str, Any]:
        out = self._decode_token(item, probs) if self.task == "token" else self._decode_class(probs)
        out["annotation"] = item.segments[0].annotation.to_dict()
        if self.task == "pair":
            out["annotation_b"] = item.segments[1].annotation.to_dict()
        extra = self.spec.pipeline_hook()
        if extra is not None:
            out.update(extra(self.featurizer, item))
        out.update(item.meta)  # relation inputs: head, tail, marked_text
        if item.truncated:
            out["truncated"] = True
        return out

    def _decode_class(self, probs) -> dict[str, Any]:
        p = probs.tolist()  # (C,)
        best = max(range(len(p)), key=lambda c: (p[c], -c))
        out = {"label": self.labels[best], "score": p[best], "scores": dict(zip(self.labels, p))}
        if self.multi_label:  # the types with p > 0.5, and always the top one (as the trainer decodes)
            out["labels"] = [t for c, t in enumerate(self.labels) if p[c] > 0.5 or c == best]
            out["label"] = "|".join(out["labels"])
        return out

    def _decode_token(self, item: PreparedInput, probs) -> dict[str, Any]:
        seg = item.segments[0]
        text = seg.annotation.text
        offsets = seg.char_offsets or []
        n = len(offsets)
        tags = ["O"] * n  # per model token (non-whitespace character); cut tokens stay O
        conf = [0.0] * n
        pred = probs.argmax(dim=-1).tolist()  # (L,)
        top = probs.max(dim=-1).values.tolist()  # (L,)
        for tok, pos in enumerate(first_positions(item.feature["token_map"], n)):
            if pos >= 0:
                tags[tok], conf[tok] = self.labels[pred[pos]], top[pos]
        char_tags = ["O"] * len(text)
        for k, off in enumerate(offsets):
            char_tags[off] = tags[k]
        entities = []
        for typ, s, e in get_entities(tags):
            start, end = offsets[s], offsets[e - 1] + 1
            inside = f"M-{typ}" if f"M-{typ}" in self.labels and f"I-{typ}" not in self.labels else f"I-{typ}"
            for c in range(start, end):
                if text[c].isspace():
                    char_tags[c] = inside
            entities.append({"start": start, "end": end, "label": typ, "text": text[start:end],
                             "score": sum(conf[s:e]) / (e - s)})
        return {"entities": entities, "tags": char_tags}

    def __repr__(self) -> str:
        where = self.run_dir or self.checkpoint_dir
        kg = getattr(self.kg, "path", None)
        return (f"Pipeline(encoder={self.encoder!r}, task={self.task!r}, labels={len(self.labels)}, "
                f"max_length={self.max_length}, kg={str(kg) if kg else None!r}, annotate={self.nlp is not None}, "
                f"from={str(where)!r})")


def model_annotators(info: dict[str, Any], has_kg: bool) -> tuple[str, ...]:
    """The annotator components a trained model reads: ``annotators`` of its ``kgbert.json``
    (runs from before that key: its encoder's spec), without KG components when there is no KG."""
    from annotators.names import usable_components

    names = info.get("annotators")
    if names is None:
        names = get_encoder(info["encoder"]).annotators
    return usable_components(tuple(names), has_kg)


__all__ = ["Pipeline", "PipelineError", "PreparedInput", "RELATION_KEYS", "model_annotators", "resolve_checkpoint"]
