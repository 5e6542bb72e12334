"""Packing a streamed corpus into full-length training sequences (RoBERTa's FULL-SENTENCES).

Each source is tokenised line by line and its documents concatenated across sentence and
document boundaries (an extra [SEP] between documents) into sequences of exactly ``max_length``
tokens ``[CLS] ... [SEP]``; the sources' sequences are interleaved at random in proportion to
``size x weight`` (so a mix of registers is seen from the first step) and a shuffle buffer mixes
neighbouring sequences. The stream is endless (a source starts over when exhausted, counting its
passes; every pass packs the same sequences), deterministic for a seed, and never holds the
corpus in memory. Each sequence carries ``key`` (its position
in the stream: dynamic masking) and ``pass`` (static masking).
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
from torch.utils.data import IterableDataset

from kgbert.pretraining.config import CorpusSource
from kgbert.pretraining.annotate import ID_FIELDS as _ID_FIELDS  # per-token KG ids: never renumbered
from kgbert.pretraining.corpus import iter_split, source_size


class Packer:
    """Concatenate token lines into ``[CLS] x1..x(L-2) [SEP]`` sequences.

    ``add(ids, units)`` takes one line's token ids and, optionally, per-token unit id arrays by
    field name (``word_ids``: -1 outside any unit, unit ids local to the line); unit ids are made
    unique in the stream. ``new_document()`` puts a [SEP] before the next line when text is
    pending.
    """

    def __init__(self, max_length: int, cls_id: int, sep_id: int, fields: Sequence[str] = ()) -> None:
        self.body = max_length - 2
        self.cls_id, self.sep_id = cls_id, sep_id
        self.fields = tuple(fields)
        self.ids: list[int] = []
        self.units: dict[str, list[int]] = {f: [] for f in self.fields}
        self.offset = {f: 0 for f in self.fields}
        self.pending_boundary = False

    def new_document(self) -> None:
        if self.ids:
            self.pending_boundary = True

    def add(self, ids: Sequence[int], units: dict[str, Sequence[int]] | None = None) -> Iterator[dict[str, Any]]:
        if not ids:
            return
        if self.pending_boundary:
            self.ids.append(self.sep_id)
            for f in self.fields:
                self.units[f].append(-1)
            self.pending_boundary = False
        self.ids.extend(ids)
        for f in self.fields:
            if f in _ID_FIELDS:  # KG ids: kept as they are
                self.units[f].extend(units[f])
                continue
            local = np.asarray(units[f], dtype=np.int64)
            shifted = np.where(local >= 0, local + self.offset[f], -1)
            self.offset[f] += int(local.max()) + 1 if len(local) and local.max() >= 0 else 0
            self.units[f].extend(shifted.tolist())
        while len(self.ids) >= self.body:
            yield self._emit(self.body)

    def flush(self) -> Iterator[dict[str, Any]]:
        if self.ids:
            yield self._emit(len(self.ids))

    def _emit(self, n: int) -> dict[str, Any]:
        seq = {"input_ids": [self.cls_id, *self.ids[:n], self.sep_id]}
        del self.ids[:n]
        for f in self.fields:
            seq[f] = [-1, *self.units[f][:n], -1]
            del self.units[f][:n]
        return seq


def tokenize_lines(tokenizer: Any, lines: list[str]) -> list[list[int]]:
    return tokenizer(lines, add_special_tokens=False)["input_ids"]


class PackedCorpus(IterableDataset):
    """The endless, shuffled stream of packed training sequences (see the module notes)."""

    def __init__(
        self,
        sources: Sequence[CorpusSource],
        tokenizer: Any,
        max_length: int,
        *,
        seed: int = 0,
        shuffle_buffer: int = 2048,
        annotated: dict[str, Any] | None = None,
    ) -> None:
        self.sources = list(sources)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.seed = seed
        self.shuffle_buffer = max(1, shuffle_buffer)
        # source label -> kgbert.pretraining.annotate.AnnotatedSource (wwm/ernie): documents with spans
        self.annotated = annotated
        sizes = np.asarray([source_size(s) * s.weight for s in self.sources], dtype=float)
        self.probs = sizes / sizes.sum()

    def _source_stream(self, k: int) -> Iterator[dict[str, Any]]:
        """Source ``k``'s packed sequences, pass after pass, forever. Each pass packs the source
        on its own, so every pass yields the same sequences (what static masking needs); the
        tokens left over at the end of a pass (less than one sequence) are dropped."""
        p = 0
        while True:
            n = 0
            for seq in self._pack_pass(k, p):
                n += 1
                yield seq
            if n == 0:
                raise ValueError(f"{self.sources[k].path}: no training text (all documents held out?)")
            p += 1

    def _pack_pass(self, k: int, p: int) -> Iterator[dict[str, Any]]:
        packer = Packer(self.max_length, self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, _unit_fields(self.annotated))
        n = 0
        for doc in _split_docs(self.sources[k], "train", self.annotated):
            packer.new_document()
            ids, units = _tokenize_doc(self.tokenizer, doc)
            for line_ids, line_units in zip(ids, units):
                for seq in packer.add(line_ids, line_units):
                    seq["pass"] = p
                    n += 1
                    yield seq
        if n == 0:  # a source shorter than one sequence: its one short sequence
            for seq in packer.flush():
                seq["pass"] = p
                yield seq

    def _sequences(self, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        streams = [self._source_stream(k) for k in range(len(self.sources))]
        while True:
            k = int(rng.choice(len(self.sources), p=self.probs))
            yield next(streams[k])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng([self.seed, 11])
        buf: list[dict[str, Any]] = []
        key = 0
        for seq in self._sequences(rng):
            if len(buf) < self.shuffle_buffer:
                buf.append(seq)
                continue
            j = int(rng.integers(0, len(buf)))
            out, buf[j] = buf[j], seq
            out["key"] = key
            key += 1
            yield out


def _split_docs(src: CorpusSource, split: str, annotated: dict[str, Any] | None) -> Iterator[Any]:
    """Plain documents (list of lines), or (lines, spans) from the annotation cache."""
    if annotated is None:
        return iter_split(src, split)
    return annotated[src.label].iter_split(split)


def _unit_fields(annotated: dict[str, Any] | None) -> tuple[str, ...]:
    from kgbert.pretraining.annotate import UNIT_FIELD

    if not annotated:
        return ()
    first = next(iter(annotated.values()))
    return tuple(UNIT_FIELD[f] for f in first.fields)


def _tokenize_doc(tokenizer: Any, doc: Any) -> tuple[list[list[int]], list[Any]]:
    if isinstance(doc, tuple):
        from kgbert.pretraining.annotate import units_for_lines

        return units_for_lines(tokenizer, doc[0], doc[1])
    return tokenize_lines(tokenizer, doc), [None] * len(doc)


def heldout_sequences(
    src: CorpusSource, tokenizer: Any, max_length: int, limit: int, annotated: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The first ``limit`` packed sequences of ``src``'s held-out documents, in file order."""
    packer = Packer(max_length, tokenizer.cls_token_id, tokenizer.sep_token_id, _unit_fields(annotated))
    out: list[dict[str, Any]] = []
    for doc in _split_docs(src, "heldout", annotated):
        packer.new_document()
        ids, units = _tokenize_doc(tokenizer, doc)
        for line_ids, line_units in zip(ids, units):
            out.extend(packer.add(line_ids, line_units))
            if len(out) >= limit:
                return out[:limit]
    out.extend(packer.flush())
    return out[:limit]


def _flatten(segment: list[tuple[list[int], Any]], fields: Sequence[str]) -> tuple[list[int], dict[str, list[int]]]:
    """Concatenate a segment's lines; unit ids are made unique across its lines."""
    ids: list[int] = []
    units: dict[str, list[int]] = {f: [] for f in fields}
    offset = {f: 0 for f in fields}
    for line_ids, line_units in segment:
        ids.extend(line_ids)
        for f in fields:
            if f in _ID_FIELDS:
                units[f].extend(line_units[f])
                continue
            local = np.asarray(line_units[f], dtype=np.int64)
            units[f].extend(np.where(local >= 0, local + offset[f], -1).tolist())
            if len(local) and local.max() >= 0:
                offset[f] += int(local.max()) + 1
    return ids, units


class PairedCorpus(PackedCorpus):
    """Sentence pairs for NSP/SOP (BERT's ``create_pretraining_data``): consecutive lines of a
    document fill up to ``max_length - 3`` tokens and are split at a random line boundary into
    A and B; the objective then relabels the pair (NSP: B from another document; SOP: swapped;
    SSO: either, or neither). Sequences are ``[CLS] A [SEP] B [SEP]`` with token types 0/1 and the
    objective's label (``next_sentence_label``; SSO: ``sentence_structure_label``)."""

    def __init__(self, *args: Any, objective: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.objective = objective

    def _pack_pass(self, k: int, p: int) -> Iterator[dict[str, Any]]:
        from collections import deque

        from kgbert.objectives.sentence import split_chunk

        rng = np.random.default_rng([self.seed, 13, k, p])  # pairs are drawn anew every pass (BERT's duplicates)
        fields = _unit_fields(self.annotated)
        target = self.max_length - 3
        pool: deque = deque(maxlen=16)  # recent documents: where NSP's random segments come from

        def random_segment():
            if not pool:
                return None
            doc = pool[int(rng.integers(0, len(pool)))]
            start = int(rng.integers(0, len(doc)))
            seg, n = [], 0
            for line in doc[start:]:
                seg.append(line)
                n += len(line[0])
                if n >= target // 2:
                    break
            return seg

        for doc in _split_docs(self.sources[k], "train", self.annotated):
            ids, units = _tokenize_doc(self.tokenizer, doc)
            lines = [(i, u if u is not None else {}) for i, u in zip(ids, units) if i]
            chunk, n = [], 0
            for j, line in enumerate(lines):
                chunk.append(line)
                n += len(line[0])
                if n < target and j < len(lines) - 1:
                    continue
                a, b = split_chunk(chunk, rng)
                chunk, n = [], 0
                if not b:
                    continue
                a, b, label = self.objective.make_label(a, b, rng, random_segment)
                yield self._pair(a, b, label, fields, p, target)
            if lines:
                pool.append(lines)

    def _pair(self, a, b, label: int, fields: Sequence[str], p: int, target: int) -> dict[str, Any]:
        ia, ua = _flatten(a, fields)
        ib, ub = _flatten(b, fields)
        while len(ia) + len(ib) > target:  # truncate the longer segment at its end
            if len(ia) >= len(ib):
                ia.pop()
                for f in fields:
                    ua[f].pop()
            else:
                ib.pop()
                for f in fields:
                    ub[f].pop()
        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        out: dict[str, Any] = {
            "input_ids": [cls, *ia, sep, *ib, sep],
            "token_type_ids": [0] * (len(ia) + 2) + [1] * (len(ib) + 1),
            self.objective.label_key: label,
            "pass": p,
        }
        for f in fields:
            shift = 0 if f in _ID_FIELDS else max(ua[f], default=-1) + 1
            out[f] = [-1, *ua[f], -1, *[u + shift if u >= 0 else -1 for u in ub[f]], -1]
        return out
