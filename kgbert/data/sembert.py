"""SemBERT featuriser: tokens + word ids + word-level SRL role labels of up to ``max_frames`` frames.

**Words.** The words of a text are its annotation's ``words`` (the segmentation the SRL tagger
labelled); a token belongs to the word containing its first character; a token outside every word
(or every token, without an annotation or without words) is a word of its own. The example's
word sequence is ``[CLS]``, the words of text_a, ``[SEP]`` (pairs: the words of text_b, ``[SEP]``):
``word_ids`` gives each token's word, 1-based (0 on padding), so the model pools sub-word tokens
to words. Words cut by truncation are gone with their tokens.

**Frames** (``annotation.srl``, character offsets): each frame becomes one BIO label per word:
``B-V``/``I-V`` on the words overlapping the predicate, ``B-<role>``/``I-<role>`` on those
overlapping an argument (the first such word ``B-``), ``O`` elsewhere. Per sentence (per segment
in pairs: each segment has its own frames) the first ``max_frames`` frames in sentence order
(predicate start) are kept; a sentence without predicates gets one all-``O`` frame; missing slots
are filled by ``frame_padding``:

- ``"copy_richest"`` (the reference's rule, default): copies of the frame with the most non-``O``
  labels (the first such),
- ``"empty"``: all-``O`` frames.

Frame k of a pair is frame k of text_a and frame k of text_b side by side; special words are ``O``.

**Role vocabulary**: id 0 padding, 1 ``O``, 2 unknown, then the labels of ``roles`` in order.
``fit(train_examples)`` builds ``roles`` from the training annotations (most frequent first, ties
by name) bounded to ``max_roles`` ids in all; ``saved_options`` records them, so inference uses the
training vocabulary. A label outside it is the unknown id. ``max_roles`` must not exceed the
model's ``num_role_labels`` and ``max_frames`` must equal its ``num_frames``.

``role_ids`` is (F, W) per example, padded by :meth:`SemBertFeaturizer.collate` to (B, F, W).
"""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Sequence

from kgbert.constants import IGNORE_INDEX
from kgbert.data.example import Example
from kgbert.data.featurize import Featurizer, FeaturizeError, Segment, SequenceBuilder, _where

if TYPE_CHECKING:
    import torch

PAD, O, UNK = "[PAD]", "O", "[UNK]"
SPECIAL_ROLES = (PAD, O, UNK)
FRAME_PADDING = ("copy_richest", "empty")


def frame_labels(frame: Any, words: Sequence[tuple[int, int]]) -> list[str]:
    """BIO labels of ``words`` (character spans) for one SRL frame (``annotators.Frame``)."""
    spans = [(frame.predicate[0], frame.predicate[1], "V")] + [(a.start, a.end, a.role) for a in frame.args]
    labels = [O] * len(words)
    for start, end, role in spans:
        first = True
        for i, (ws, we) in enumerate(words):
            if ws < end and start < we and labels[i] == O:
                labels[i] = ("B-" if first else "I-") + role
                first = False
    return labels


def select_frames(frames: list[list[str]], n_words: int, max_frames: int, padding: str) -> list[list[str]]:
    """Exactly ``max_frames`` label sequences (the rule of the module docstring)."""
    kept = frames[:max_frames] or [[O] * n_words]
    if len(kept) < max_frames:
        if padding == "copy_richest":
            fill = max(kept, key=lambda f: sum(lab != O for lab in f))  # max keeps the first of ties
        else:
            fill = [O] * n_words
        kept = kept + [list(fill) for _ in range(max_frames - len(kept))]
    return kept


class SemBertFeaturizer(Featurizer):
    """Featuriser for ``sembert`` (see module docstring).

    Args:
        tokenizer, task, label_list, max_length, kg: as :class:`~kgbert.data.featurize.Featurizer`.
        max_frames: frames per sentence (the paper's 3; equal to the model's ``num_frames``).
        max_roles: bound on the role vocabulary, the 3 special ids included (<= the model's
            ``num_role_labels``).
        roles: the role labels (``B-A0``, ``I-V``...) in id order from 3 on; ``None``: learnt by
            :meth:`fit` (saved with the model).
        frame_padding: "copy_richest" (reference) or "empty" (see module docstring).
    """

    model_input_names = ("input_ids", "attention_mask", "token_type_ids", "word_ids", "role_ids")

    def __init__(
        self,
        tokenizer,
        *,
        task: str,
        label_list: Sequence[str],
        max_length: int,
        kg=None,
        max_frames: int = 3,
        max_roles: int = 64,
        roles: Sequence[str] | None = None,
        frame_padding: str = "copy_richest",
    ) -> None:
        super().__init__(tokenizer, task=task, label_list=label_list, max_length=max_length, kg=kg)
        if not isinstance(max_frames, int) or max_frames < 1:
            raise ValueError(f"max_frames must be an int >= 1, got {max_frames!r}")
        if not isinstance(max_roles, int) or max_roles < len(SPECIAL_ROLES):
            raise ValueError(f"max_roles must be an int >= {len(SPECIAL_ROLES)}, got {max_roles!r}")
        if frame_padding not in FRAME_PADDING:
            raise ValueError(f"frame_padding must be one of {FRAME_PADDING}, got {frame_padding!r}")
        self.max_frames = max_frames
        self.max_roles = max_roles
        self.frame_padding = frame_padding
        self.roles: list[str] | None = None
        self.role2id: dict[str, int] = {}
        self._set_roles(roles)
        self.stats.update({"frames": 0, "frames_dropped": 0, "sentences_without_frames": 0})

    # ------------------------------------------------------------------ role vocabulary
    def _set_roles(self, roles: Sequence[str] | None) -> None:
        roles = list(roles) if roles is not None else None
        if roles is not None:
            bad = [r for r in roles if r in SPECIAL_ROLES or not isinstance(r, str)]
            if bad or len(set(roles)) != len(roles):
                raise ValueError(f"roles must be distinct label strings other than {SPECIAL_ROLES}, got {roles!r}")
            if len(roles) + len(SPECIAL_ROLES) > self.max_roles:
                raise ValueError(f"{len(roles)} roles + {len(SPECIAL_ROLES)} special ids exceed max_roles={self.max_roles}")
        self.roles = roles
        self.role2id = {r: i for i, r in enumerate([*SPECIAL_ROLES, *(roles or [])])}

    @property
    def role_vocabulary(self) -> list[str]:
        """Every role label by id (the 3 special ones first)."""
        return [*SPECIAL_ROLES, *(self.roles or [])]

    def fit(self, examples: Sequence[Example]) -> None:
        """Build ``roles`` from the training annotations (no-op when ``roles`` was given)."""
        if self.roles is not None:
            return
        counts: Counter[str] = Counter()
        for ex in examples:
            for seg_words, ann in self._segment_words(ex):
                for frame in ann.srl if ann is not None else []:
                    counts.update(lab for lab in frame_labels(frame, seg_words) if lab != O)
        ranked = sorted(counts, key=lambda r: (-counts[r], r))
        self._set_roles(ranked[: self.max_roles - len(SPECIAL_ROLES)])

    def saved_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options inference must use: ``roles`` resolved to the learnt vocabulary."""
        out = dict(options)
        out["roles"] = list(self.roles or [])
        return out

    # ------------------------------------------------------------------ words
    def _segment_words(self, example: Example) -> list[tuple[list[tuple[int, int]], Any]]:
        """(word spans, annotation) per original text (for fit: all words of the annotation)."""
        texts = [(example.ann_a)] + ([example.ann_b] if self.task == "pair" else [])
        return [(list(ann.words) if ann is not None else [], ann) for ann in texts]

    @staticmethod
    def _token_words(starts: list[int], ends: list[int], words: Sequence[tuple[int, int]]) -> tuple[list[int], list[tuple[int, int]]]:
        """Word index (0-based, per segment) of each token, and the spans of those words."""
        word_starts = [s for s, _ in words]
        of_token: list[int] = []
        spans: list[tuple[int, int]] = []
        last_word = -2
        for s, e in zip(starts, ends):
            k = bisect_right(word_starts, s) - 1
            inside = k >= 0 and s < words[k][1]
            if inside and k == last_word:
                of_token.append(len(spans) - 1)
                continue
            spans.append(words[k] if inside else (s, max(e, s + 1)))
            of_token.append(len(spans) - 1)
            last_word = k if inside else -2
        return of_token, spans

    def _segment_semantics(self, example: Example, seg: Segment, ann: Any, text: str) -> tuple[list[int], list[list[str]]]:
        """Word index per kept token and the selected frames' labels per word, for one segment."""
        if seg.starts is not None and seg.ends is not None:
            starts, ends = seg.starts[: seg.n], seg.ends[: seg.n]
        else:  # token task: character offsets of the original tokens
            tokens = example.tokens or []
            cum = [0, *accumulate(len(t) for t in tokens)]
            starts, ends = cum[: seg.n], cum[1 : seg.n + 1]
        if ann is not None and ann.text != text:
            raise FeaturizeError(f"{_where(example)}: annotation text does not match the example text")
        words = sorted(ann.words) if ann is not None else []
        of_token, spans = self._token_words(starts, ends, words)
        frames = sorted(ann.srl, key=lambda f: (f.predicate[0], f.predicate[1])) if ann is not None else []
        self.stats["frames"] += min(len(frames), self.max_frames)
        self.stats["frames_dropped"] += max(0, len(frames) - self.max_frames)
        if not frames:
            self.stats["sentences_without_frames"] += 1
        labelled = [frame_labels(f, spans) for f in frames[: self.max_frames]]
        return of_token, select_frames(labelled, len(spans), self.max_frames, self.frame_padding)

    # ------------------------------------------------------------------ featurisation
    def build(self, example: Example, segs: list[Segment]) -> dict[str, Any]:
        """The base features plus ``word_ids`` (per token) and ``role_ids`` (frames x words)."""
        f = SequenceBuilder.plain(self, example, segs)
        if self.task == "token":
            texts = ["".join(example.tokens or [])]
        else:
            texts = [example.text_a] + ([example.text_b or ""] if len(segs) == 2 else [])
        word_ids = [1]  # [CLS] is word 1
        frames: list[list[str]] = [[O] for _ in range(self.max_frames)]
        for seg, ann, text in zip(segs, (example.ann_a, example.ann_b), texts):
            of_token, seg_frames = self._segment_semantics(example, seg, ann, text)
            base = len(frames[0])  # words so far ([CLS] + earlier segments), 0-based next word = base
            word_ids += [base + 1 + w for w in of_token]
            for k in range(self.max_frames):
                frames[k] += seg_frames[k]
            n_words = len(frames[0])
            word_ids.append(n_words + 1)  # [SEP] word
            for k in range(self.max_frames):
                frames[k].append(O)
        unk = self.role2id[UNK]
        f["word_ids"] = word_ids
        f["role_ids"] = [[self.role2id.get(lab, unk) for lab in fr] for fr in frames]
        return f

    def frames_report(self, feature: dict[str, Any]) -> list[list[str]]:
        """The role labels of a feature's frames, by word (what the model read)."""
        vocab = self.role_vocabulary
        return [[vocab[i] for i in fr] for fr in feature["role_ids"]]

    # ------------------------------------------------------------------ collation
    def collate(self, features: Sequence[dict[str, Any]]) -> "dict[str, torch.Tensor]":
        """Pad token-level keys to the longest sample (``word_ids`` with 0) and ``role_ids`` to
        (B, F, W) with the longest word sequence (padding id 0)."""
        import torch

        if not features:
            raise ValueError("collate got an empty batch")
        lengths = [len(f["input_ids"]) for f in features]
        width = max(lengths)
        batch: dict[str, torch.Tensor] = {
            "input_ids": torch.tensor([f["input_ids"] + [self.pad_id] * (width - n) for f, n in zip(features, lengths)]),
            "attention_mask": torch.tensor([[1] * n + [0] * (width - n) for n in lengths]),
        }
        for key in ("token_type_ids", "word_ids"):
            batch[key] = torch.tensor([f[key] + [0] * (width - n) for f, n in zip(features, lengths)])
        n_words = max(len(f["role_ids"][0]) for f in features)
        batch["role_ids"] = torch.tensor(
            [[fr + [0] * (n_words - len(fr)) for fr in f["role_ids"]] for f in features], dtype=torch.long
        )  # (B, F, W)
        if all("labels" in f for f in features):
            if self.task == "token":
                batch["labels"] = torch.tensor(
                    [f["labels"] + [IGNORE_INDEX] * (width - n) for f, n in zip(features, lengths)], dtype=torch.long
                )
            else:
                batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return batch


def frames_report(featurizer: SemBertFeaturizer, item: Any) -> dict[str, Any]:
    """Pipeline output: the SRL frames the model read, as word-level BIO labels per frame."""
    return {"frames": featurizer.frames_report(item.feature)}


__all__ = ["FRAME_PADDING", "SemBertFeaturizer", "frame_labels", "frames_report", "select_frames"]
