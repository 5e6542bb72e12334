"""The SRL tagger: tokenisation, predicate identification, argument labelling, save/load.

Words are the unit of prediction. Each word is tokenised on its own (a Chinese BERT vocabulary
gives one token per character); a word's tags are read off its *first* token and its other
tokens are ignored (label -100 in training), as allennlp's ``srl_bert`` does with word pieces.
Arguments are decoded per predicate with constrained (valid-BIO) Viterbi over the words.

Predicates come, in order of preference, from the caller (``predicates=``), from the model's
predicate-identification head (when it was trained), or from POS tags: a word is a predicate
when its tag starts with ``v``/``V`` (jieba ``v``/``vn``/``vd``, UPOS ``VERB``, CTB ``VV``...);
without tags jieba's POS tagger is run on each word.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import torch

from annotators.annotation import Argument, Frame
from annotators.srl.configuration_srl import SrlBertConfig
from annotators.srl.data import OUTSIDE, SrlFrame, frame_to_tags, tags_to_spans
from annotators.srl.decoding import bio_constraints, viterbi_decode
from annotators.srl.modeling_srl import SrlBertForSrl

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
IGNORE = -100


# --------------------------------------------------------------------------- script conversion
@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese, always length-preserving (character by character if needed)."""
    out = _t2s().convert(text)
    if len(out) == len(text):
        return out
    chars = [_t2s().convert(ch) for ch in text]
    return "".join(c if len(c) == 1 else o for c, o in zip(chars, text))


def convert_script(text: str, conversion: str | None) -> str:
    if conversion is None:
        return text
    if conversion == "t2s":
        return to_simplified(text)
    raise ValueError(f"unknown script conversion {conversion!r} (use 't2s' or None)")


# --------------------------------------------------------------------------- tokenizer helpers
def char_vocab(texts: Iterable[str], min_count: int = 1) -> list[str]:
    """A BERT-Chinese-style character vocabulary: specials, printable ASCII, then ``texts``'
    characters by descending frequency (ties by code point), Latin lower-cased."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(ch.lower() for ch in t if not ch.isspace())
    ascii_chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    vocab = SPECIAL_TOKENS + ascii_chars + ["##" + c for c in ascii_chars if c.isalnum()]
    seen = set(vocab)
    ranked = sorted((c for c, n in counts.items() if n >= min_count and c not in seen), key=lambda c: (-counts[c], c))
    return vocab + ranked


def char_tokenizer(vocab: list[str]):
    """A BERT WordPiece tokenizer over an in-memory vocab (``vocab=``; ``vocab_file=`` is ignored in transformers 5)."""
    from transformers import BertTokenizer

    return BertTokenizer(vocab={tok: i for i, tok in enumerate(vocab)}, do_lower_case=True, tokenize_chinese_chars=True)


def is_verb_tag(tag: str) -> bool:
    """Verb POS tags: anything starting with ``v``/``V`` (jieba v/vn/vd, UPOS VERB, CTB VV/VA/VC/VE)."""
    return tag[:1] in ("v", "V")


def jieba_verbs(words: Sequence[str]) -> list[int]:
    """Indices of the words jieba's POS tagger tags as verbs (any piece of the word tagged ``v*``).

    jieba's dictionary is simplified Chinese: convert traditional words first.
    """
    import jieba.posseg as pseg

    return [i for i, w in enumerate(words) if any(is_verb_tag(p.flag) for p in pseg.lcut(w, HMM=False))]


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling directory that replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / "x")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- the tagger
class SrlTagger:
    """Predicate identification + argument labelling over words, with constrained decoding."""

    def __init__(self, model: SrlBertForSrl, tokenizer, device: str | torch.device = "cpu"):
        self.model = model.to(device)
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.labels: list[str] = list(model.config.srl_labels)
        self.label2id = {t: i for i, t in enumerate(self.labels)}
        self._allowed, self._start = bio_constraints(self.labels)
        self._piece_cache: dict[str, list[int]] = {}

    # ---------------------------------------------------------------- construction / io
    @classmethod
    def from_scratch(cls, srl_labels: list[str], texts: Iterable[str], *, script_conversion: str | None = "t2s", **bert_kwargs) -> "SrlTagger":
        """A randomly initialised tagger with a character vocabulary built from ``texts``."""
        vocab = char_vocab(convert_script(t, script_conversion) for t in texts)
        config = SrlBertConfig(vocab_size=len(vocab), srl_labels=srl_labels, script_conversion=script_conversion, **bert_kwargs)
        return cls(SrlBertForSrl(config), char_tokenizer(vocab))

    @classmethod
    def from_backbone(cls, backbone: str | os.PathLike, srl_labels: list[str], *, script_conversion: str | None = "t2s") -> "SrlTagger":
        """Random heads on a local BERT checkpoint directory (weights + tokenizer)."""
        from transformers import AutoTokenizer

        model = SrlBertForSrl.from_backbone(str(backbone), srl_labels, script_conversion=script_conversion)
        return cls(model, AutoTokenizer.from_pretrained(str(backbone), local_files_only=True))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "SrlTagger":
        """Load a tagger saved with :meth:`save_pretrained`."""
        from transformers import AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path}: not an SRL tagger directory (no config.json)")
        model = SrlBertForSrl.from_pretrained(str(path), local_files_only=True)
        model.eval()
        return cls(model, AutoTokenizer.from_pretrained(str(path), local_files_only=True), device=device)

    def write_to(self, directory: str | os.PathLike) -> None:
        """Write model + tokenizer into an existing directory (non-atomic; see :meth:`save_pretrained`)."""
        self.model.save_pretrained(str(directory))
        self.tokenizer.save_pretrained(str(directory))

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Save model + tokenizer to ``path`` atomically (temp dir + rename)."""
        with atomic_dir(path) as tmp:
            self.write_to(tmp)
        return Path(path)

    @property
    def config(self) -> SrlBertConfig:
        return self.model.config

    # ---------------------------------------------------------------- featurisation
    def word_pieces(self, word: str) -> list[int]:
        """Token ids of one word (after script conversion); ``[UNK]`` when it yields none."""
        ids = self._piece_cache.get(word)
        if ids is None:
            pieces = self.tokenizer.tokenize(convert_script(word, self.config.script_conversion))
            ids = self.tokenizer.convert_tokens_to_ids(pieces) or [self.tokenizer.unk_token_id]
            self._piece_cache[word] = ids
        return ids

    def encode(
        self,
        words: Sequence[str],
        predicate: tuple[int, int] | None = None,
        tags: Sequence[str] | None = None,
        is_predicate: Sequence[bool] | None = None,
    ) -> dict[str, list[int]]:
        """Ids for one (sentence, predicate) pair; with ``tags``/``is_predicate`` also the labels.

        Returns ``input_ids``, ``token_type_ids`` (1 on the predicate's tokens), ``first``
        (position of each word's first token) and, when given, ``labels``/``predicate_labels``
        (-100 except on first tokens).
        """
        ids = [self.tokenizer.cls_token_id]
        types = [0]
        first = []
        for i, w in enumerate(words):
            pieces = self.word_pieces(w)
            first.append(len(ids))
            ids += pieces
            marked = predicate is not None and predicate[0] <= i < predicate[1]
            types += [1 if marked else 0] * len(pieces)
        ids.append(self.tokenizer.sep_token_id)
        types.append(0)
        limit = self.config.max_position_embeddings
        if len(ids) > limit:
            raise ValueError(f"a sentence of {len(words)} words needs {len(ids)} tokens, more than the model's maximum of {limit}; split it")
        out: dict[str, list[int]] = {"input_ids": ids, "token_type_ids": types, "first": first}
        if tags is not None or is_predicate is not None:
            labels = [IGNORE] * len(ids)
            pred_labels = [IGNORE] * len(ids)
            for i, pos in enumerate(first):
                if tags is not None:
                    if tags[i] not in self.label2id:
                        raise ValueError(f"unknown tag {tags[i]!r} (the model knows {len(self.labels)} tags)")
                    labels[pos] = self.label2id[tags[i]]
                if is_predicate is not None:
                    pred_labels[pos] = int(bool(is_predicate[i]))
            out["labels"], out["predicate_labels"] = labels, pred_labels
        return out

    def collate(self, features: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        """Pad features into model-forward tensors (drops ``first``)."""
        width = max(len(f["input_ids"]) for f in features)
        pad = self.tokenizer.pad_token_id

        def padded(key: str, value: int) -> torch.Tensor:
            return torch.tensor([f[key] + [value] * (width - len(f[key])) for f in features])  # (B, T)

        batch = {
            "input_ids": padded("input_ids", pad),
            "token_type_ids": padded("token_type_ids", 0),
            "attention_mask": torch.tensor([[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in features]),
        }
        if "labels" in features[0]:
            batch["labels"] = padded("labels", IGNORE)
            batch["predicate_labels"] = padded("predicate_labels", IGNORE)
        return batch

    def training_features(self, words: Sequence[str], frames: Sequence[SrlFrame], *, predicate_example: bool = True) -> list[dict[str, list[int]]]:
        """One argument-labelling feature per frame, plus one predicate-identification feature.

        Roles missing from the model's tag set are dropped (tagged ``O``).
        """
        feats = []
        for fr in frames:
            tags = [t if t in self.label2id else OUTSIDE for t in frame_to_tags(fr, len(words))]
            f = self.encode(words, fr.predicate, tags=tags)
            f["predicate_labels"] = [IGNORE] * len(f["input_ids"])
            feats.append(f)
        if predicate_example:
            marked = [False] * len(words)
            for fr in frames:
                for i in range(*fr.predicate):
                    marked[i] = True
            f = self.encode(words, None, is_predicate=marked)
            f["labels"] = [IGNORE] * len(f["input_ids"])
            feats.append(f)
        for f in feats:
            f.pop("first")
        return feats

    # ---------------------------------------------------------------- inference
    @torch.no_grad()
    def _forward(self, features: Sequence[dict[str, list[int]]]):
        self.model.eval()
        batch = {k: v.to(self.device) for k, v in self.collate(features).items()}
        return self.model(**batch)

    def identify_predicates(
        self, sentences: Sequence[Sequence[str]], pos: Sequence[Sequence[str] | None] | None = None, batch_size: int = 32
    ) -> list[list[int]]:
        """Predicate word indices per sentence: the model's head if trained, else POS verbs."""
        if not self.config.predicate_head:
            out = []
            for k, words in enumerate(sentences):
                tags = pos[k] if pos is not None else None
                if tags is not None and len(tags) != len(words):
                    raise ValueError(f"sentence {k}: {len(tags)} POS tags for {len(words)} words")
                if tags is None:
                    out.append(jieba_verbs([convert_script(w, self.config.script_conversion) for w in words]))
                else:
                    out.append([i for i, t in enumerate(tags) if is_verb_tag(t)])
            return out
        out = []
        for b in range(0, len(sentences), batch_size):
            chunk = sentences[b : b + batch_size]
            feats = [self.encode(words) for words in chunk]
            logits = self._forward(feats).predicate_logits  # (B, T, 2)
            pred = logits.argmax(-1).tolist()  # (B, T)
            for f, row in zip(feats, pred):
                out.append([i for i, p in enumerate(f["first"]) if row[p] == 1])
        return out

    def label_arguments(
        self,
        sentences: Sequence[Sequence[str]],
        predicates: Sequence[Sequence[tuple[int, int]]],
        batch_size: int = 32,
        constrained: bool = True,
    ) -> list[list[SrlFrame]]:
        """Arguments of the given predicates (word spans), constrained-Viterbi decoded (or, with
        ``constrained=False``, the per-word argmax; a stray ``I-X`` then starts a span)."""
        decoder = "viterbi" if constrained else "argmax"
        return self.decode_arguments(sentences, predicates, batch_size, (decoder,))[decoder]

    def decode_arguments(
        self,
        sentences: Sequence[Sequence[str]],
        predicates: Sequence[Sequence[tuple[int, int]]],
        batch_size: int = 32,
        decoders: Sequence[str] = ("viterbi",),
    ) -> dict[str, list[list[SrlFrame]]]:
        """Frames per decoder (``viterbi``: valid-BIO constrained; ``argmax``: per word) from one
        forward pass. Jobs (sentence, predicate) are batched by length (less padding); each
        sentence's frames keep the order of its ``predicates``."""
        unknown = set(decoders) - {"viterbi", "argmax"}
        if unknown:
            raise ValueError(f"unknown decoder(s) {sorted(unknown)} (use 'viterbi' or 'argmax')")
        jobs = [(k, p) for k, preds in enumerate(predicates) for p in preds]
        order = sorted(range(len(jobs)), key=lambda j: sum(len(self.word_pieces(w)) for w in sentences[jobs[j][0]]))
        paths: dict[str, list[list[int]]] = {d: [[] for _ in jobs] for d in decoders}
        for b in range(0, len(order), batch_size):
            chunk = order[b : b + batch_size]
            feats = [self.encode(sentences[jobs[j][0]], jobs[j][1]) for j in chunk]
            logits = self._forward(feats).logits.float()  # (B, T, K)
            width = max(len(f["first"]) for f in feats)
            index = torch.tensor([f["first"] + [0] * (width - len(f["first"])) for f in feats], device=logits.device)  # (B, W)
            word_scores = logits.gather(1, index.unsqueeze(-1).expand(-1, -1, logits.size(-1))).log_softmax(-1)  # (B, W, K)
            lengths = [len(f["first"]) for f in feats]
            for d in decoders:
                if d == "viterbi":
                    mask = torch.arange(width, device=logits.device).unsqueeze(0) < torch.tensor(lengths, device=logits.device).unsqueeze(1)  # (B, W)
                    decoded = viterbi_decode(word_scores, mask, self._allowed, self._start)
                else:
                    decoded = [row[:n] for row, n in zip(word_scores.argmax(-1).tolist(), lengths)]
                for j, path in zip(chunk, decoded):
                    paths[d][j] = path
        out: dict[str, list[list[SrlFrame]]] = {}
        for d in decoders:
            frames: list[list[SrlFrame]] = [[] for _ in sentences]
            for (k, p), path in zip(jobs, paths[d]):
                frames[k].append(SrlFrame(predicate=tuple(p), args=tuple(tags_to_spans([self.labels[i] for i in path]))))
            out[d] = frames
        return out

    def predict_words(
        self,
        sentences: Sequence[Sequence[str]],
        pos: Sequence[Sequence[str] | None] | None = None,
        predicates: Sequence[Sequence[int]] | None = None,
        batch_size: int = 32,
    ) -> list[list[SrlFrame]]:
        """Word-level frames for many sentences (``predicates``: word indices, else identified)."""
        if predicates is None:
            predicates = self.identify_predicates(sentences, pos, batch_size)
        spans = [[(i, i + 1) for i in sorted(set(p))] for p in predicates]
        for k, (words, preds) in enumerate(zip(sentences, spans)):
            if any(not 0 <= s < len(words) for s, _ in preds):
                raise ValueError(f"sentence {k}: predicate index outside its {len(words)} words")
        return self.label_arguments(sentences, spans, batch_size)

    def predict(
        self,
        text: str,
        words: Sequence[tuple[int, int]],
        pos: Sequence[str] | None = None,
        predicates: Sequence[int] | None = None,
    ) -> list[Frame]:
        """Frames for one text. ``words``: sorted, non-overlapping ``(start, end)`` character spans
        of ``text``; ``pos``: optional per-word POS tags (the fallback when the model has no
        predicate head); ``predicates``: optional word indices of the predicates. Offsets in the
        returned frames are character offsets into ``text``. The text is tagged as one sentence
        (see :meth:`predict_texts` to tag each sentence of a longer text on its own)."""
        words = _checked_words(text, words, pos)
        if not words:
            return []
        strings = [text[s:e] for s, e in words]
        frames = self.predict_words([strings], [pos] if pos is not None else None, [list(predicates)] if predicates is not None else None)[0]
        return _to_offsets(frames, words)

    def predict_texts(
        self,
        texts: Sequence[str],
        words: Sequence[Sequence[tuple[int, int]]],
        pos: Sequence[Sequence[str] | None] | None = None,
        batch_size: int = 32,
    ) -> list[list[Frame]]:
        """Frames for many texts, each split into sentences that are tagged on their own, all
        sentences of all texts batched together (by length).

        A sentence ends after a word made only of sentence-final punctuation (``。！？!?；;…``) or
        line breaks; a sentence still longer than the model's positions is cut into pieces that
        fit. ``words``/``pos`` per text as in :meth:`predict`. Frames come back in character
        offsets into their text, in sentence order."""
        if len(words) != len(texts) or (pos is not None and len(pos) != len(texts)):
            raise ValueError(f"{len(texts)} texts but {len(words)} word lists{'' if pos is None else f' and {len(pos)} POS lists'}")
        limit = self.config.max_position_embeddings - 2  # [CLS] ... [SEP]
        sentences, sent_pos, owners = [], [], []
        for k, text in enumerate(texts):
            spans = _checked_words(text, words[k], pos[k] if pos is not None else None, where=f"text {k}: ")
            strings = [text[s:e] for s, e in spans]
            for a, b in sentence_ranges(strings, [len(self.word_pieces(w)) for w in strings], limit):
                sentences.append(strings[a:b])
                sent_pos.append(list(pos[k][a:b]) if pos is not None and pos[k] is not None else None)
                owners.append((k, spans[a:b]))
        frames = self.predict_words(sentences, sent_pos, batch_size=batch_size) if sentences else []
        out: list[list[Frame]] = [[] for _ in texts]
        for (k, spans), fr in zip(owners, frames):
            out[k] += _to_offsets(fr, spans)
        return out


SENTENCE_END = set("。！？!?；;…\n\r")


def sentence_ranges(words: Sequence[str], pieces: Sequence[int], limit: int) -> list[tuple[int, int]]:
    """Word index ranges ``[a, b)`` of the sentences of ``words``: a sentence ends after a word made
    only of :data:`SENTENCE_END` characters (whitespace allowed); a sentence of more than ``limit``
    tokens (``pieces``: tokens per word) is cut into consecutive pieces of at most ``limit`` tokens."""
    ranges, start = [], 0
    for i, w in enumerate(words):
        stripped = w.strip(" \t")
        if (stripped and set(stripped) <= SENTENCE_END) or i == len(words) - 1:
            ranges.append((start, i + 1))
            start = i + 1
    out = []
    for a, b in ranges:
        size = 0
        for i in range(a, b):
            if size and size + pieces[i] > limit:
                out.append((a, i))
                a, size = i, 0
            size += pieces[i]
        out.append((a, b))
    return out


def _checked_words(text: str, words: Sequence[tuple[int, int]], pos: Sequence[str] | None, where: str = "") -> list[tuple[int, int]]:
    """``words`` as tuples, checked: sorted, non-overlapping, inside ``text``; ``pos`` of the same length."""
    words = [tuple(w) for w in words]
    prev_end = 0
    for i, (s, e) in enumerate(words):
        if not (isinstance(s, int) and isinstance(e, int) and prev_end <= s < e <= len(text)):
            raise ValueError(f"{where}words[{i}] = [{s}, {e}) is empty, out of order, overlapping or outside the text (length {len(text)})")
        prev_end = e
    if pos is not None and len(pos) != len(words):
        raise ValueError(f"{where}{len(pos)} POS tags for {len(words)} words")
    return words


def _to_offsets(frames: Sequence[SrlFrame], words: Sequence[tuple[int, int]]) -> list[Frame]:
    """Word-level frames -> :class:`Frame` with the character offsets of ``words``."""
    out = []
    for fr in frames:
        (ps, pe) = fr.predicate
        args = tuple(Argument(a.role, words[a.start][0], words[a.end - 1][1]) for a in fr.args)
        out.append(Frame(predicate=(words[ps][0], words[pe - 1][1]), args=args))
    return out
