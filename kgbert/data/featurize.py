"""Featurisers: :class:`~kgbert.data.Example` -> plain Python ids (O(L) per sample), and collation.

``build_featurizer(encoder, tokenizer, task=..., label_list=..., max_length=..., kg=None, **options)``
returns a callable featuriser. ``feat(example)`` gives a dict of lists/ints that is cheap to cache
(pickle/JSON); ``feat.collate(features)`` pads a batch and returns only the model's forward
kwargs (+ ``labels``) as tensors.

Tokenisation (shared by every encoder, so encoders differ only in what they add; exactly the
tokenizer's own output, computed through the cached :class:`~kgbert.data.fast_tokenize.FastBertTokenizer`):

- ``sequence``/``pair``: the tokenizer's own WordPiece (one token per CJK character), ``[CLS] a
  [SEP]`` or ``[CLS] a [SEP] b [SEP]``; over-long pairs are truncated longest-first.
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

from kgbert.data.example import Example
from kgbert.data.fast_tokenize import FastBertTokenizer

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

TASKS = ("sequence", "pair", "token")
IGNORE_INDEX = -100

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


class Featurizer:
    """Base featuriser (the BERT baseline's behaviour); encoders subclass it and add ids.

    Args:
        tokenizer: a transformers BERT tokenizer (fast; see :func:`kgbert.checkpoints.load_tokenizer`).
        task: "sequence" | "pair" | "token".
        label_list: label names (sequence/pair) or tag names (token); index = label id.
        max_length: total length budget including special tokens.
    """

    encoder = "bert"
    model_input_names: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
    options: frozenset[str] = frozenset()
    """Options this featuriser uses."""
    ignored_options: frozenset[str] = frozenset()
    """Options of the same encoder that belong to the model: accepted and ignored."""

    def __init__(self, tokenizer, *, task: str, label_list: Sequence[str], max_length: int) -> None:
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
            ids = [self.token_id(t) for t in tokens]
        return ids

    # ------------------------------------------------------------------ labels
    def encode_label(self, example: Example) -> int | None:
        if example.label is None:
            return None
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
        return ids

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
        and ``token_map`` for the token task."""
        self.stats["examples"] += 1
        if self.task == "token":
            return self._featurize_token(example)
        ids_a = self.tokenize_spans(example.text_a)[0]
        if self.task == "pair":
            ids_b = self.tokenize_spans(self._pair_text_b(example))[0]
            n_a, n_b = self.truncate_pair(len(ids_a), len(ids_b))
            if (n_a, n_b) != (len(ids_a), len(ids_b)):
                self._note_truncation(example, n_a + n_b, len(ids_a) + len(ids_b))
            input_ids = [self.cls_id, *ids_a[:n_a], self.sep_id, *ids_b[:n_b], self.sep_id]
            token_type_ids = [0] * (n_a + 2) + [1] * (n_b + 1)
        else:
            n_a = min(len(ids_a), self.max_length - 2)
            if n_a < len(ids_a):
                self._note_truncation(example, n_a, len(ids_a))
            input_ids = [self.cls_id, *ids_a[:n_a], self.sep_id]
            token_type_ids = [0] * len(input_ids)
        f: dict[str, Any] = {"input_ids": input_ids, "token_type_ids": token_type_ids}
        label = self.encode_label(example)
        if label is not None:
            f["labels"] = label
        return f

    def _featurize_token(self, example: Example) -> dict[str, Any]:
        tokens = self._token_example(example)
        tags = self.encode_tags(example)
        n = min(len(tokens), self.max_length - 2)
        if n < len(tokens):
            self._note_truncation(example, n, len(tokens))
        f: dict[str, Any] = {
            "input_ids": [self.cls_id, *self.token_ids(tokens[:n]), self.sep_id],
            "token_type_ids": [0] * (n + 2),
            "token_map": [-1, *range(n), -1],
        }
        if tags is not None:
            f["labels"] = [IGNORE_INDEX, *tags[:n], IGNORE_INDEX]
        return f

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
            else:
                batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)  # (B,)
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


def _featurizer_class(encoder: str) -> type[Featurizer]:
    if encoder == "bert":
        return Featurizer
    if encoder == "kbert":
        from kgbert.data.kbert import KBertFeaturizer

        return KBertFeaturizer
    raise ValueError(f"unknown encoder {encoder!r}; known: ['bert', 'kbert']")


def build_featurizer(
    encoder: str,
    tokenizer,
    *,
    task: str,
    label_list: Sequence[str],
    max_length: int,
    kg=None,
    **encoder_options: Any,
) -> Featurizer:
    """Build the featuriser of ``encoder`` (see module docstring and :mod:`kgbert.data.kbert`).

    ``kg`` is a :class:`knowledge.KnowledgeGraph` (used by knowledge encoders, ignored by
    ``bert``). ``encoder_options`` are the encoder's featuriser options; the encoder's model
    options (e.g. K-BERT's ``use_vm``) are accepted and ignored, so one options dict can be given
    to both :func:`build_featurizer` and :func:`kgbert.models.build_model`.
    """
    cls = _featurizer_class(encoder)
    unknown = set(encoder_options) - cls.options - cls.ignored_options
    if unknown:
        raise ValueError(
            f"unknown option(s) {sorted(unknown)} for the {encoder!r} featuriser; known: {sorted(cls.options)}"
        )
    used = {k: v for k, v in encoder_options.items() if k in cls.options}
    if cls is Featurizer:
        return Featurizer(tokenizer, task=task, label_list=label_list, max_length=max_length)
    return cls(tokenizer, task=task, label_list=label_list, max_length=max_length, kg=kg, **used)


def _cumulative_starts(tokens: Sequence[str]) -> list[int]:
    """Character start offset of each token of ``"".join(tokens)``."""
    return [0, *accumulate(len(t) for t in tokens)][:-1] if tokens else []


__all__ = ["Featurizer", "BertFeaturizer", "FeaturizeError", "build_featurizer", "TASKS", "IGNORE_INDEX"]
