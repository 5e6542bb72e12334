"""Dataset readers: K-BERT TSV, AFQMC-style JSON lines, K-BERT NER TSV and char-per-line CoNLL.

Every reader yields :class:`kgbert.data.Example` with ``source="file:line"`` (1-based line of the
record; for CoNLL the first line of the sentence). Malformed input raises :class:`DataError`
naming the file and line. Labels are checked against a label list with :func:`check_labels`.

Formats (``data.format`` in a run config):

- ``tsv``: K-BERT classification TSV with a header naming the columns (``label``, ``text_a`` and,
  for pairs, ``text_b``), e.g. ChnSentiCorp ``label<TAB>text_a``.
- ``jsonl``: one JSON object a line with ``sentence1``, ``sentence2`` (optional) and ``label``
  (optional: absent for unlabelled test sets, e.g. AFQMC's test.json). Keys are configurable.
- ``ner_tsv``: K-BERT NER TSV, header ``text_a<TAB>label``, space-separated characters and tags.
- ``conll``: one ``token<WS>tag`` a line, blank line between sentences (e.g. Resume NER, BMES);
  ``scheme="bio"`` converts BMES/BIOES tags to BIO.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from kgbert.data.example import Example
from kgbert.metrics import bmes_to_bio

FORMATS = ("tsv", "jsonl", "ner_tsv", "conll")


class DataError(ValueError):
    """Malformed dataset input; the message names ``file:line``."""


def _lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without the newline); a missing file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, encoding="utf-8-sig") as fh:
        for i, line in enumerate(fh, 1):
            yield i, line.rstrip("\n").rstrip("\r")


def read_tsv(path: str | os.PathLike, *, task: str = "sequence") -> Iterator[Example]:
    """K-BERT classification TSV (``label<TAB>text_a[<TAB>text_b]``, header line first).

    The header names the columns; a file without a header (first field not ``label``/``text_a``)
    is an error. ``task="pair"`` requires a ``text_b`` column.
    """
    lines = _lines(path)
    header = None
    for lineno, line in lines:  # noqa: B007 (lineno names the header line below)
        if line.strip():
            header = line.split("\t")
            break
    if header is None:
        raise DataError(f"{path}: empty file")
    cols = {name.strip(): i for i, name in enumerate(header)}
    if "text_a" not in cols:
        raise DataError(f"{path}:{lineno}: header {header!r} has no 'text_a' column")
    if task == "pair" and "text_b" not in cols:
        raise DataError(f"{path}:{lineno}: header {header!r} has no 'text_b' column (task 'pair')")
    n_cols = len(header)
    for lineno, line in lines:
        if not line.strip():
            continue
        src = f"{path}:{lineno}"
        fields = line.split("\t")
        if len(fields) != n_cols:
            raise DataError(f"{src}: expected {n_cols} tab-separated columns {header}, found {len(fields)}")
        text_a = fields[cols["text_a"]].strip()
        text_b = fields[cols["text_b"]].strip() if task == "pair" else None
        label = fields[cols["label"]].strip() if "label" in cols else None
        _check_text(text_a, src, "text_a")
        if task == "pair":
            _check_text(text_b, src, "text_b")
        if label == "":
            raise DataError(f"{src}: empty label")
        yield Example(text_a=text_a, text_b=text_b, label=label, source=src)


def read_jsonl(
    path: str | os.PathLike,
    *,
    task: str = "pair",
    text_a_key: str = "sentence1",
    text_b_key: str = "sentence2",
    label_key: str = "label",
) -> Iterator[Example]:
    """JSON lines (AFQMC style). A missing ``label`` gives an unlabelled example (label None)."""
    empty = True
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        empty = False
        src = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{src}: invalid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{src}: expected a JSON object")
        if text_a_key not in obj:
            raise DataError(f"{src}: missing key {text_a_key!r}")
        text_a = str(obj[text_a_key]).strip()
        _check_text(text_a, src, text_a_key)
        text_b = None
        if task == "pair":
            if text_b_key not in obj:
                raise DataError(f"{src}: missing key {text_b_key!r}")
            text_b = str(obj[text_b_key]).strip()
            _check_text(text_b, src, text_b_key)
        label = obj.get(label_key)
        label = None if label is None else str(label).strip()
        meta = {"id": obj["id"]} if "id" in obj else {}
        yield Example(text_a=text_a, text_b=text_b, label=label, source=src, meta=meta)
    if empty:
        raise DataError(f"{path}: empty file")


def read_ner_tsv(path: str | os.PathLike) -> Iterator[Example]:
    """K-BERT NER TSV: header ``text_a<TAB>label``; space-separated tokens and tags, one each."""
    lines = _lines(path)
    header = None
    for lineno, line in lines:  # noqa: B007 (lineno names the header line below)
        if line.strip():
            header = [h.strip() for h in line.split("\t")]
            break
    if header is None:
        raise DataError(f"{path}: empty file")
    if "text_a" not in header or "label" not in header:
        raise DataError(f"{path}:{lineno}: header {header!r} must name 'text_a' and 'label' columns")
    ia, il = header.index("text_a"), header.index("label")
    for lineno, line in lines:
        if not line.strip():
            continue
        src = f"{path}:{lineno}"
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(f"{src}: expected {len(header)} tab-separated columns {header}, found {len(fields)}")
        tokens = fields[ia].split()
        tags = fields[il].split()
        yield _ner_example(tokens, tags, src)


def read_conll(path: str | os.PathLike, *, scheme: str | None = None) -> Iterator[Example]:
    """Char-per-line CoNLL (``token<WS>tag``; the tag is the last column); blank lines separate
    sentences. ``scheme="bio"`` converts BMES/BIOES to BIO; ``None`` keeps the tags as they are."""
    if scheme not in (None, "bio"):
        raise ValueError(f"unknown tag scheme {scheme!r} (expected None or 'bio')")
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    n = 0
    for lineno, line in _lines(path):
        if not line.strip():
            if tokens:
                n += 1
                yield _ner_example(tokens, bmes_to_bio(tags) if scheme == "bio" else tags, f"{path}:{start}")
            tokens, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        fields = line.split()
        if len(fields) < 2:
            raise DataError(f"{path}:{lineno}: expected 'token tag', found {line!r}")
        if not tokens:
            start = lineno
        tokens.append(fields[0])
        tags.append(fields[-1])
    if tokens:
        n += 1
        yield _ner_example(tokens, bmes_to_bio(tags) if scheme == "bio" else tags, f"{path}:{start}")
    if n == 0:
        raise DataError(f"{path}: empty file (no sentences)")


def _check_text(text: str | None, src: str, column: str) -> None:
    if not text:
        raise DataError(f"{src}: empty {column}")


def _ner_example(tokens: list[str], tags: list[str], src: str) -> Example:
    if not tokens:
        raise DataError(f"{src}: empty text")
    if len(tokens) != len(tags):
        raise DataError(f"{src}: {len(tokens)} tokens but {len(tags)} tags")
    for t in tags:
        if t != "O" and not (len(t) > 2 and t[0] in "BIMES" and t[1] == "-"):
            raise DataError(f"{src}: malformed tag {t!r} (expected O or B-/I-/M-/E-/S-<TYPE>)")
    return Example(text_a="".join(tokens), tokens=list(tokens), tags=list(tags), source=src)


def read_examples(path: str | os.PathLike, fmt: str, task: str, **options) -> list[Example]:
    """Read a whole file of ``fmt`` (one of :data:`FORMATS`) for ``task``; see the module notes."""
    if fmt == "tsv":
        it: Iterable[Example] = read_tsv(path, task=task, **options)
    elif fmt == "jsonl":
        it = read_jsonl(path, task=task, **options)
    elif fmt == "ner_tsv":
        it = read_ner_tsv(path, **options)
    elif fmt == "conll":
        it = read_conll(path, **options)
    else:
        raise ValueError(f"unknown data format {fmt!r}; expected one of {FORMATS}")
    if fmt in ("ner_tsv", "conll") and task != "token":
        raise ValueError(f"format {fmt!r} is for task 'token', not {task!r}")
    if fmt in ("tsv", "jsonl") and task == "token":
        raise ValueError(f"format {fmt!r} is for tasks 'sequence'/'pair', not 'token'")
    out = list(it)
    if not out:
        raise DataError(f"{path}: no examples")
    return out


def collect_labels(examples: Sequence[Example], task: str) -> list[str]:
    """The label list seen in ``examples``: sorted classes, or for tags ``O`` first then sorted."""
    if task == "token":
        seen = {t for ex in examples for t in (ex.tags or [])}
        return ["O"] + sorted(seen - {"O"})
    labels = {ex.label for ex in examples if ex.label is not None}
    return sorted(labels, key=lambda s: (not s.lstrip("-").isdigit(), int(s) if s.lstrip("-").isdigit() else 0, s))


def check_labels(examples: Sequence[Example], label_list: Sequence[str], task: str) -> None:
    """Raise :class:`DataError` (``file:line``) at the first label or tag not in ``label_list``."""
    known = set(label_list)
    for ex in examples:
        if task == "token":
            for i, t in enumerate(ex.tags or []):
                if t not in known:
                    raise DataError(f"{ex.source}: unknown tag {t!r} at token {i} (known: {sorted(known)})")
        elif ex.label is not None and ex.label not in known:
            raise DataError(f"{ex.source}: unknown label {ex.label!r} (known: {list(label_list)})")
