"""Featurisers: :class:`~kgbert.data.Example` -> plain Python ids (O(L) per sample), and collation.

``build_featurizer(encoder, tokenizer, task=..., label_list=..., max_length=..., kg=None, **options)``
returns the featuriser of a registered encoder (:mod:`kgbert.registry`).

Every featuriser runs the same three steps (:meth:`Featurizer.__call__`): :meth:`~Featurizer.segments`
(tokenise each original text into a :class:`Segment`: ids, labels, ``token_map``),
:meth:`~Featurizer.truncate` (the one truncation rule) and :meth:`~Featurizer.build`, which
assembles the sequence with a :class:`SequenceBuilder` (special tokens, token types, labels,
``token_map``). An encoder overrides only what it adds: K-BERT attaches entity branches to its
segments and builds with the branches inserted after their anchors, plus its own position,
anchor and branch ids. ``feat(example)`` gives a dict of lists/ints that is cheap to cache
(pickle/JSON); ``feat.collate(features)`` pads a batch and returns only the model's forward
kwargs (+ ``labels``) as tensors.

Tokenisation (shared by every encoder, so encoders differ only in what they add; exactly the
tokenizer's own output, computed through the cached :class:`~kgbert.data.fast_tokenize.FastBertTokenizer`):

- ``sequence``/``pair``: the tokenizer's own WordPiece (one token per CJK character), ``[CLS] a
  [SEP]`` or ``[CLS] a [SEP] b [SEP]``; over-long pairs are truncated longest-first.
- ``entity_typing``: as ``sequence`` (the text with its mention marked); the label is one type
  id, or with ``multi_label`` (:func:`build_featurizer`) a multi-hot row over the types (the
  head then uses one sigmoid per type).
- ``token`` (NER): one input token per original token (usually a character): a vocab lookup of the
  token, then of the token as the tokenizer normalises it (lower case, accents stripped), else
  ``[UNK]``. Labels are -100 on ``[CLS]``, ``[SEP]`` and padding. ``token_map`` gives, per
  position, the index of the original token (-1 elsewhere), so predictions map back to the
  original tokens. Original tokens beyond ``max_length - 2`` are cut (counted in
  ``feat.stats["truncated_examples"]``, logged once): they get no prediction.
"""
from __future__ import annotations

import logging
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kgbert.constants import IGNORE_INDEX, TASKS
from kgbert.data.example import Example
from kgbert.data.fast_tokenize import FastBertTokenizer
from kgbert.registry import get_encoder

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

# Padding value per feature key (None: pad with the position index, as BERT's default positions).
PAD_VALUES: dict[str, int | None] = {
    "token_type_ids": 0,
    "position_ids": None,
    "anchor_ids": 0,
    "branch_ids": 0,
    "labels": IGNORE_INDEX,
}


class FeaturizeError(ValueError):
    """An example cannot be featurised (unknown label, tags/tokens mismatch...); names its source."""


def _where(example: Example) -> str:
    return example.source or "<example>"


class Segment:
    """One original text of an example, tokenised (``n``: tokens kept after truncation).

    ``starts``/``ends``: character offsets of the tokens (sequence/pair), else None; ``labels``:
    tag ids (token task, labelled), else None. In the token task token i is original token i.
    Encoders may hang more on it (K-BERT: ``units``, its entities with their branches).
    """

    __slots__ = ("ids", "starts", "ends", "labels", "n", "units")

    def __init__(
        self,
        ids: list[int],
        starts: list[int] | None = None,
        ends: list[int] | None = None,
        labels: list[int] | None = None,
    ) -> None:
        self.ids = ids
        self.starts = starts
        self.ends = ends
        self.labels = labels
        self.n = len(ids)
        self.units: list[Any] = []


class SequenceBuilder:
    """Assembles one featurised input: ``[CLS] seg_a [SEP] (seg_b [SEP])`` with anything an encoder
    inserts, and the ``input_ids``, ``token_type_ids``, ``labels`` and ``token_map`` that go with it.

    ``trunk(seg, i, j)`` appends original tokens i..j-1 of a segment (with their labels and, in
    the token task, their indices as ``token_map``), ``insert(ids)`` appends added tokens (label
    -100, ``token_map`` -1), ``end_segment()`` appends ``[SEP]`` and closes the segment (token
    type 0 for ``[CLS]`` and the first segment with its insertions, 1 for the second).
    :meth:`plain` builds the same features in one go when nothing is inserted (the hot path of
    every encoder; tested equal to the step-by-step build).
    """

    __slots__ = ("featurizer", "example", "token_task", "ids", "labels", "tmap", "first_len")

    def __init__(self, featurizer: "Featurizer", example: Example) -> None:
        self.featurizer = featurizer
        self.example = example
        self.token_task = featurizer.task == "token"
        self.ids: list[int] = [featurizer.cls_id]
        self.labels: list[int] = [IGNORE_INDEX]
        self.tmap: list[int] = [-1]
        self.first_len = 0  # length of [CLS] + the first segment + its [SEP], once closed

    def trunk(self, seg: Segment, start: int, end: int) -> None:
        self.ids += seg.ids[start:end]
        if self.token_task:
            if seg.labels is not None:
                self.labels += seg.labels[start:end]
            self.tmap += range(start, end)

    def insert(self, ids: Sequence[int]) -> None:
        self.ids += ids
        if self.token_task:
            m = len(ids)
            self.labels += [IGNORE_INDEX] * m
            self.tmap += [-1] * m

    def end_segment(self) -> None:
        self.ids.append(self.featurizer.sep_id)
        if self.token_task:
            self.labels.append(IGNORE_INDEX)
            self.tmap.append(-1)
        if not self.first_len:
            self.first_len = len(self.ids)

    @staticmethod
    def plain(featurizer: "Featurizer", example: Example, segs: Sequence[Segment]) -> dict[str, Any]:
        """The features of the segments with nothing inserted (= ``trunk`` + ``end_segment`` per
        segment, then :meth:`features`), built without the per-step bookkeeping."""
        sep = featurizer.sep_id
        a = segs[0]
        ids = [featurizer.cls_id, *a.ids[: a.n], sep]
        if len(segs) == 2:
            b = segs[1]
            ids += b.ids[: b.n]
            ids.append(sep)
            typ = [0] * (a.n + 2) + [1] * (b.n + 1)
        else:
            typ = [0] * len(ids)
        f: dict[str, Any] = {"input_ids": ids, "token_type_ids": typ}
        if featurizer.task == "token":
            f["token_map"] = [-1, *range(a.n), -1]
            if a.labels is not None:
                f["labels"] = [IGNORE_INDEX, *a.labels[: a.n], IGNORE_INDEX]
        else:
            label = featurizer.encode_label(example)
            if label is not None:
                f["labels"] = label
        return f

    def features(self, labelled: bool) -> dict[str, Any]:
        """``input_ids``, ``token_type_ids``, then ``token_map`` (token task) and ``labels`` (when
        ``labelled`` for the token task; when the example has a label otherwise)."""
        n = len(self.ids)
        typ = [0] * n if self.first_len == n else [0] * self.first_len + [1] * (n - self.first_len)
        f: dict[str, Any] = {"input_ids": self.ids, "token_type_ids": typ}
        if self.token_task:
            f["token_map"] = self.tmap
            if labelled:
                f["labels"] = self.labels
        else:
            label = self.featurizer.encode_label(self.example)
            if label is not None:
                f["labels"] = label
        return f


class Featurizer:
    """Base featuriser (the BERT baseline's behaviour); encoders subclass it and add ids.

    Args:
        tokenizer: a transformers BERT tokenizer (fast; see :func:`kgbert.checkpoints.load_tokenizer`).
        task: "sequence" | "pair" | "token".
        label_list: label names (sequence/pair) or tag names (token); index = label id.
        max_length: total length budget including special tokens.
        kg: a :class:`knowledge.KnowledgeGraph` for encoders that read one (kept as ``self.kg``;
            the baseline ignores it).
    """

    model_input_names: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
    """The keys :meth:`collate` returns (besides ``labels``): the model's forward inputs."""
    multi_label: bool = False
    """Task ``entity_typing`` with several types per mention: labels are multi-hot rows (set by
    :func:`build_featurizer`)."""

    def __init__(self, tokenizer, *, task: str, label_list: Sequence[str], max_length: int, kg: Any = None) -> None:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")
        if not isinstance(max_length, int) or max_length < (5 if task == "pair" else 3):
            raise ValueError(f"max_length must be an int large enough for the special tokens, got {max_length!r}")
        if len(set(label_list)) != len(label_list) or not label_list:
            raise ValueError(f"label_list must be non-empty and without duplicates, got {list(label_list)!r}")
        self.tokenizer = tokenizer
        self.task = task
        self.label_list = list(label_list)
        self.label2id = {lab: i for i, lab in enumerate(self.label_list)}
        self.max_length = max_length
        self.kg = kg
        self.cls_id = tokenizer.cls_token_id
        self.sep_id = tokenizer.sep_token_id
        self.pad_id = tokenizer.pad_token_id
        self.unk_id = tokenizer.unk_token_id
        self._vocab: dict[str, int] = dict(tokenizer.get_vocab())
        self._set_backend()
        self._token_cache: dict[str, int] = {}
        self.stats: dict[str, int] = {"examples": 0, "truncated_examples": 0, "truncated_tokens": 0}

    # ------------------------------------------------------------------ tokenisation
    def tokenize(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """WordPiece ids and character offsets of ``text`` (no special tokens)."""
        ids, starts, ends = self.tokenize_spans(text)
        return ids, list(zip(starts, ends))

    def tokenize_spans(self, text: str) -> tuple[list[int], list[int], list[int]]:
        """WordPiece ids of ``text`` and the character ``starts`` and ``ends`` of each token."""
        if self._fast is not None:
            return self._fast.encode_spans(text)
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        return enc["input_ids"], [a for a, _ in offsets], [b for _, b in offsets]

    def token_id(self, token: str) -> int:
        """The vocab id of one original token (NER): as is, then normalised, else ``[UNK]``."""
        tid = self._token_cache.get(token)
        if tid is None:
            tid = self._vocab.get(token)
            if tid is None and self._normalize is not None:
                tid = self._vocab.get(self._normalize(token).strip())
            if tid is None:
                tid = self._vocab.get(token.lower(), self.unk_id)
            self._token_cache[token] = tid
        return tid

    def token_ids(self, tokens: Sequence[str]) -> list[int]:
        """Vocab ids of original tokens, one id per token."""
        ids = list(map(self._token_cache.get, tokens))
        if None in ids:
            return [self.token_id(t) for t in tokens]
        return ids  # type: ignore[return-value]  # no None left

    # ------------------------------------------------------------------ labels
    def encode_label(self, example: Example) -> int | list[int] | None:
        if example.label is None:
            return None
        if self.multi_label:
            row = [0] * len(self.label_list)
            for t in example.types:
                if t not in self.label2id:
                    raise FeaturizeError(f"{_where(example)}: unknown type {t!r}; known: {self.label_list}")
                row[self.label2id[t]] = 1
            return row
        try:
            return self.label2id[example.label]
        except KeyError:
            raise FeaturizeError(
                f"{_where(example)}: unknown label {example.label!r}; known: {self.label_list}"
            ) from None

    def encode_tags(self, example: Example) -> list[int] | None:
        if example.tags is None:
            return None
        assert example.tokens is not None
        if len(example.tags) != len(example.tokens):
            raise FeaturizeError(
                f"{_where(example)}: {len(example.tags)} tags for {len(example.tokens)} tokens"
            )
        ids = list(map(self.label2id.get, example.tags))
        if None in ids:
            bad = example.tags[ids.index(None)]
            raise FeaturizeError(f"{_where(example)}: unknown tag {bad!r}; known: {self.label_list}")
        return ids  # type: ignore[return-value]  # no None left

    def _token_example(self, example: Example) -> list[str]:
        if example.tokens is None:
            raise FeaturizeError(f"{_where(example)}: task 'token' needs example.tokens")
        return example.tokens

    def _pair_text_b(self, example: Example) -> str:
        if example.text_b is None:
            raise FeaturizeError(f"{_where(example)}: task 'pair' needs example.text_b")
        return example.text_b

    # ------------------------------------------------------------------ truncation
    def truncate_pair(self, n_a: int, n_b: int) -> tuple[int, int]:
        """Lengths kept for a pair of original segments (longest first) within ``max_length - 3``."""
        budget = self.max_length - 3
        if n_a + n_b <= budget:
            return n_a, n_b
        short = min(n_a, n_b)
        if short <= budget // 2:
            return (n_a, budget - n_a) if n_a == short else (budget - n_b, n_b)
        half_a = budget - budget // 2
        return half_a, budget // 2

    def _note_truncation(self, example: Example, kept: int, total: int) -> None:
        self.stats["truncated_examples"] += 1
        self.stats["truncated_tokens"] = self.stats.get("truncated_tokens", 0) + total - kept
        if self.stats["truncated_examples"] == 1:
            logger.warning(
                "%s: %d original tokens cut to fit max_length=%d (further cuts are counted in feat.stats; the trainer writes them per split to metrics.json)",
                _where(example), total - kept, self.max_length,
            )

    # ------------------------------------------------------------------ featurisation
    def __call__(self, example: Example) -> dict[str, Any]:
        """Featurise one example: ``input_ids``, ``token_type_ids``, ``labels`` (if labelled),
        ``token_map`` for the token task, and what the encoder adds."""
        self.stats["examples"] += 1
        segs = self.segments(example)
        self.truncate(example, segs)
        return self.build(example, segs)

    def segments(self, example: Example) -> list[Segment]:
        """The example's original texts, tokenised (one segment; two for pairs)."""
        if self.task == "token":
            tokens = self._token_example(example)
            return [Segment(self.token_ids(tokens), labels=self.encode_tags(example))]
        segs = [Segment(*self.tokenize_spans(example.text_a))]
        if self.task == "pair":
            segs.append(Segment(*self.tokenize_spans(self._pair_text_b(example))))
        return segs

    def truncate(self, example: Example, segs: list[Segment]) -> None:
        """Cut the original tokens to fit ``max_length`` with the special tokens (pairs:
        longest first), counting and logging the cut (sets each ``seg.n``)."""
        if len(segs) == 1:
            seg = segs[0]
            if seg.n > self.max_length - 2:
                self._note_truncation(example, self.max_length - 2, seg.n)
                seg.n = self.max_length - 2
            return
        a, b = segs
        total = a.n + b.n
        a.n, b.n = self.truncate_pair(a.n, b.n)
        if a.n + b.n < total:
            self._note_truncation(example, a.n + b.n, total)

    def build(self, example: Example, segs: list[Segment]) -> dict[str, Any]:
        """Assemble the features of the (truncated) segments; encoders override to add theirs
        (with a :class:`SequenceBuilder` when they insert tokens)."""
        return SequenceBuilder.plain(self, example, segs)

    def window_tokens(self, limit: int) -> int:
        """Text tokens per window when :class:`kgbert.pipeline.Pipeline` splits a text longer than
        ``limit`` (the model's limit without special tokens): all of it; a featuriser that
        inserts tokens leaves room for them."""
        return limit

    def fit(self, examples: Sequence[Example]) -> None:
        """Learn options from the training examples before featurising (no-op here; K-BERT:
        its ``max_df`` block list). The trainer calls it on the train split."""

    def saved_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The featuriser options inference must use, as saved in ``kgbert.json`` (here: as given;
        K-BERT: ``max_df`` resolved into a ``stoplist``)."""
        return dict(options)

    def entity_matcher(self) -> Any:
        """The entity matcher this featuriser finds entities with when an example has no
        annotation (None: it reads no entities)."""
        return None

    # ------------------------------------------------------------------ collation
    def collate(self, features: Sequence[dict[str, Any]]) -> "dict[str, torch.Tensor]":
        """Pad a batch to its longest sample; returns the model's forward kwargs (+ ``labels``).

        ``attention_mask`` is 1 on tokens, 0 on padding; ``position_ids`` (when present) are padded
        with the position index; token labels with -100. ``labels`` is included only when every
        feature has one.
        """
        import torch  # only here: featurising alone needs no torch

        if not features:
            raise ValueError("collate got an empty batch")
        lengths = [len(f["input_ids"]) for f in features]
        width = max(lengths)
        batch: dict[str, torch.Tensor] = {}
        ids = [f["input_ids"] + [self.pad_id] * (width - n) for f, n in zip(features, lengths)]
        batch["input_ids"] = torch.tensor(ids, dtype=torch.long)  # (B, L)
        batch["attention_mask"] = torch.tensor(
            [[1] * n + [0] * (width - n) for n in lengths], dtype=torch.long
        )  # (B, L)
        for key in self.model_input_names:
            if key in ("input_ids", "attention_mask"):
                continue
            pad = PAD_VALUES.get(key, 0)
            rows = [
                f[key] + (list(range(n, width)) if pad is None else [pad] * (width - n))
                for f, n in zip(features, lengths)
            ]
            batch[key] = torch.tensor(rows, dtype=torch.long)  # (B, L)
        if all("labels" in f for f in features):
            if self.task == "token":
                batch["labels"] = torch.tensor(
                    [f["labels"] + [IGNORE_INDEX] * (width - n) for f, n in zip(features, lengths)],
                    dtype=torch.long,
                )  # (B, L)
            else:  # (B,) class ids, or (B, C) multi-hot rows (multi-label typing)
                batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return batch

    def _set_backend(self) -> None:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        self._fast = FastBertTokenizer(self.tokenizer) if backend is not None else None
        self._normalize: Callable[[str], str] | None = (
            backend.normalizer.normalize_str if backend is not None and backend.normalizer is not None else None
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fast"] = None  # re-derived from the tokenizer after unpickling
        state["_normalize"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._set_backend()


BertFeaturizer = Featurizer
"""The baseline ``bert`` featuriser."""


def build_featurizer(
    encoder: str,
    tokenizer,
    *,
    task: str,
    label_list: Sequence[str],
    max_length: int,
    kg=None,
    multi_label: bool = False,
    **encoder_options: Any,
) -> Featurizer:
    """Build the featuriser of a registered ``encoder`` (see module docstring and :mod:`kgbert.registry`).

    ``kg`` is a :class:`knowledge.KnowledgeGraph` (used by knowledge encoders, ignored by the
    others). ``multi_label`` (task ``entity_typing`` only): labels are multi-hot type rows.
    ``encoder_options`` are the encoder's featuriser options; its model options (e.g. K-BERT's
    ``use_vm``) are accepted and ignored, so one options dict can be given to both
    :func:`build_featurizer` and :func:`kgbert.models.build_model`.
    """
    spec = get_encoder(encoder)
    cls = spec.featurizer_class
    unknown = set(encoder_options) - spec.featurizer_options - spec.model_options
    if unknown:
        raise ValueError(
            f"unknown option(s) {sorted(unknown)} for the {encoder!r} featuriser; known: {sorted(spec.featurizer_options)}"
        )
    if multi_label and task != "entity_typing":
        raise ValueError(f"multi_label is an option of task 'entity_typing', not {task!r}")
    used = {k: v for k, v in encoder_options.items() if k in spec.featurizer_options}
    feat = cls(tokenizer, task=task, label_list=label_list, max_length=max_length, kg=kg, **used)
    feat.multi_label = bool(multi_label)
    return feat


def _cumulative_starts(tokens: Sequence[str]) -> list[int]:
    """Character start offset of each token of ``"".join(tokens)``."""
    return [0, *accumulate(len(t) for t in tokens)][:-1] if tokens else []


__all__ = [
    "Featurizer",
    "BertFeaturizer",
    "FeaturizeError",
    "Segment",
    "SequenceBuilder",
    "build_featurizer",
    "TASKS",
    "IGNORE_INDEX",
]
