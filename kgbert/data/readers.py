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
  ``-DOCSTART-`` lines are skipped; tags may be BIO, BIOES or BMES; ``scheme="bio"`` converts
  BMES/BIOES tags to BIO.
- ``cluener``: CLUENER-style JSON lines ``{"text", "label": {type: {mention: [[start, end_inclusive]]}}}``
  (token task, BIO tags; a record without ``label`` is unlabelled).
- ``spans_jsonl``: generic JSON lines with character spans ``{"text", "spans": [{"start", "end",
  "label"}]}`` (``end`` exclusive; token task, BIO tags).
- ``csv``: comma-separated with a header (a UTF-8 BOM is tolerated); columns ``text_a``/``text``/
  ``sentence``/``sentence1``, ``text_b``/``sentence2`` (pairs) and ``label`` (optional); the names
  can be set with ``text_a_key``/``text_b_key``/``label_key``.
- ``relation_tsv``: relation classification (FinRE): ``head<TAB>tail<TAB>relation<TAB>sentence``
  a line (blank lines ignored). The first occurrence of ``head`` and the first occurrence of
  ``tail`` that does not overlap it are wrapped in entity markers (R-BERT style, default ``$``
  around the head and ``#`` around the tail: ``"$东方航空$AH股...与#上航#合并"``); the marked
  sentence is ``text_a``, the spans (in the unmarked sentence) are in ``meta``.
- ``typing_tsv``: entity typing (ERNIE's OpenEntity/FIGER task): ``mention<TAB>types<TAB>sentence``
  a line, ``types`` separated by ``|`` (one or several). The first occurrence of ``mention`` is
  wrapped in markers (default ``$``); ``text_a`` is the marked sentence, ``label`` the types as
  given (``|``-joined), ``meta`` holds ``types`` (a list), ``span`` (in the unmarked sentence) and
  ``sentence``. Read as task ``entity_typing`` (one or several types; ``task.multi_label``) or
  ``sequence`` (the ``|``-joined types as one class); :func:`typing_targets` makes multi-hot rows.
- ``ner_mentions``: entity typing **derived** from any NER set (FIGER-style, the way FIGER turns
  Wikipedia anchors into typed mentions): every gold mention of every sentence becomes one
  example, the sentence with that mention wrapped in markers (default ``$``) and the mention's
  NER type as its single label (coarse, single-label typing: as many types as the NER set has).
  Reader options: ``source_format`` (the NER file's format, one of the token formats, default
  ``ner_tsv``; its own options pass through, e.g. ``scheme``), ``markers``, ``context`` (characters
  kept on each side of the mention, default the whole sentence: long sentences cut by
  ``max_length`` could otherwise lose the mention). ``source`` is the sentence's ``file:line``;
  ``meta`` holds ``types``, ``span`` (in the unmarked sentence), ``sentence``, ``mention`` (its
  index in the sentence) and ``id`` (``line:mention``). Malformed NER input is reported by the
  NER reader (``file:line``); a file without a single mention is an error.
"""
from __future__ import annotations

import json
import os
from itertools import accumulate
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from kgbert.data.example import Example
from kgbert.metrics import bmes_to_bio, get_entities

FORMATS = ("tsv", "jsonl", "ner_tsv", "conll", "cluener", "spans_jsonl", "csv", "relation_tsv", "typing_tsv", "ner_mentions")
TOKEN_FORMATS = ("ner_tsv", "conll", "cluener", "spans_jsonl")
TYPING_FORMATS = ("typing_tsv", "ner_mentions")


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
    for src, obj in _json_records(path):
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
        # split on the ASCII space only (as K-BERT does): a token may be another space character
        # (financial_ner has U+00A0 tokens), which str.split() would drop
        tokens = [t for t in fields[ia].split(" ") if t]
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
    if fmt in TOKEN_FORMATS and task != "token":
        raise ValueError(f"format {fmt!r} is for task 'token', not {task!r}")
    if fmt not in TOKEN_FORMATS and task == "token":
        raise ValueError(f"format {fmt!r} is not for task 'token' (the NER formats: {TOKEN_FORMATS})")
    if (fmt == "relation_tsv") != (task == "relation"):
        raise ValueError(f"task 'relation' is read with format 'relation_tsv' (got format {fmt!r}, task {task!r})")
    if task == "entity_typing" and fmt not in TYPING_FORMATS:
        raise ValueError(f"task 'entity_typing' is read with a typing format {TYPING_FORMATS}, not {fmt!r}")
    if fmt in TYPING_FORMATS and task not in ("entity_typing", "sequence"):
        raise ValueError(f"format {fmt!r} is read as task 'entity_typing' (or 'sequence'), not {task!r}")
    if fmt == "tsv":
        it: Iterable[Example] = read_tsv(path, task=task, **options)
    elif fmt == "jsonl":
        it = read_jsonl(path, task=task, **options)
    elif fmt == "ner_tsv":
        it = read_ner_tsv(path, **options)
    elif fmt == "conll":
        it = read_conll(path, **options)
    elif fmt == "cluener":
        it = read_cluener(path, **options)
    elif fmt == "spans_jsonl":
        it = read_spans_jsonl(path, **options)
    elif fmt == "csv":
        it = read_csv(path, task=task, **options)
    elif fmt == "relation_tsv":
        it = read_relation_tsv(path, **options)
    elif fmt == "typing_tsv":
        it = read_typing_tsv(path, **options)
    elif fmt == "ner_mentions":
        it = read_ner_mentions(path, **options)
    else:
        raise ValueError(f"unknown data format {fmt!r}; expected one of {FORMATS}")
    out = list(it)
    if not out:
        raise DataError(f"{path}: no examples")
    return out


def collect_labels(examples: Sequence[Example], task: str) -> list[str]:
    """The label list seen in ``examples``: sorted classes (entity typing: sorted types), or for
    tags ``O`` first then sorted."""
    if task == "token":
        seen = {t for ex in examples for t in (ex.tags or [])}
        return ["O"] + sorted(seen - {"O"})
    if task == "entity_typing":
        return sorted({t for ex in examples if ex.label is not None for t in ex.types})
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
        elif task == "entity_typing":
            for t in ex.types if ex.label is not None else []:
                if t not in known:
                    raise DataError(f"{ex.source}: unknown type {t!r} (known: {list(label_list)})")
        elif ex.label is not None and ex.label not in known:
            raise DataError(f"{ex.source}: unknown label {ex.label!r} (known: {list(label_list)})")


# ---------------------------------------------------------------------------- span-based NER
def spans_to_bio(text: str, spans: Sequence[tuple[int, int, str]], src: str) -> list[str]:
    """BIO tags (one per character) of end-exclusive character ``spans``; bounds and overlaps are
    checked (``src`` names the record)."""
    tags = ["O"] * len(text)
    for start, end, label in sorted(spans):
        if not (isinstance(start, int) and isinstance(end, int)) or not 0 <= start < end <= len(text):
            raise DataError(f"{src}: span [{start}, {end}) of {label!r} is outside the text (length {len(text)})")
        if not label or any(c.isspace() for c in label):
            raise DataError(f"{src}: malformed span label {label!r}")
        if any(t != "O" for t in tags[start:end]):
            raise DataError(f"{src}: span [{start}, {end}) {label!r} overlaps another span")
        tags[start] = f"B-{label}"
        tags[start + 1:end] = [f"I-{label}"] * (end - start - 1)
    return tags


def _json_records(path: str | os.PathLike) -> Iterator[tuple[str, dict]]:
    """(``file:line``, object) of every non-blank line of a JSON-lines file."""
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
        yield src, obj
    if empty:
        raise DataError(f"{path}: empty file")


def _json_text(obj: dict, key: str, src: str) -> str:
    text = obj.get(key)
    if not isinstance(text, str):
        raise DataError(f"{src}: missing or non-string {key!r}")
    _check_text(text, src, key)
    return text


def _token_example_from_spans(text: str, tags: list[str] | None, src: str, meta: dict) -> Example:
    return Example(text_a=text, tokens=list(text), tags=tags, source=src, meta=meta)


def read_cluener(path: str | os.PathLike, *, text_key: str = "text", label_key: str = "label") -> Iterator[Example]:
    """CLUENER JSON lines: ``{"text", "label": {type: {mention: [[start, end_inclusive], ...]}}}``.

    Every span must spell its mention; a record without ``label`` is unlabelled (tags None).
    """
    for src, obj in _json_records(path):
        text = _json_text(obj, text_key, src)
        meta = {"id": obj["id"]} if "id" in obj else {}
        if obj.get(label_key) is None:
            yield _token_example_from_spans(text, None, src, meta)
            continue
        label = obj[label_key]
        if not isinstance(label, dict):
            raise DataError(f"{src}: {label_key!r} must be an object {{type: {{mention: [[start, end]]}}}}")
        spans = []
        for typ, mentions in label.items():
            if not isinstance(mentions, dict):
                raise DataError(f"{src}: entities of type {typ!r} must be an object {{mention: [[start, end]]}}")
            for mention, positions in mentions.items():
                if not isinstance(positions, list):
                    raise DataError(f"{src}: positions of {mention!r} must be a list of [start, end]")
                for pos in positions:
                    if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(x, int) for x in pos)):
                        raise DataError(f"{src}: position {pos!r} of {mention!r} is not [start, end_inclusive]")
                    start, end = pos[0], pos[1] + 1
                    if text[start:end] != mention:
                        raise DataError(f"{src}: span {pos} is {text[start:end]!r} in the text, not {mention!r}")
                    spans.append((start, end, str(typ)))
        yield _token_example_from_spans(text, spans_to_bio(text, spans, src), src, meta)


def read_spans_jsonl(path: str | os.PathLike, *, text_key: str = "text", spans_key: str = "spans") -> Iterator[Example]:
    """JSON lines with character spans: ``{"text", "spans": [{"start", "end", "label"}]}``
    (``end`` exclusive); a record without ``spans`` is unlabelled (tags None)."""
    for src, obj in _json_records(path):
        text = _json_text(obj, text_key, src)
        meta = {"id": obj["id"]} if "id" in obj else {}
        raw = obj.get(spans_key)
        if raw is None:
            yield _token_example_from_spans(text, None, src, meta)
            continue
        if not isinstance(raw, list):
            raise DataError(f"{src}: {spans_key!r} must be a list of {{start, end, label}}")
        spans = []
        for sp in raw:
            if not (isinstance(sp, dict) and {"start", "end", "label"} <= set(sp)):
                raise DataError(f"{src}: span {sp!r} needs 'start', 'end' and 'label'")
            spans.append((sp["start"], sp["end"], str(sp["label"])))
        yield _token_example_from_spans(text, spans_to_bio(text, spans, src), src, meta)


# ---------------------------------------------------------------------------- CSV
def read_csv(
    path: str | os.PathLike,
    *,
    task: str = "sequence",
    text_a_key: str | None = None,
    text_b_key: str | None = None,
    label_key: str = "label",
    delimiter: str = ",",
) -> Iterator[Example]:
    """CSV with a header line (a UTF-8 BOM is tolerated; quoted fields as in RFC 4180).

    Default columns: text ``text_a``/``text``/``sentence``/``sentence1``; second text (task
    ``pair``) ``text_b``/``sentence2``; ``label`` (absent column: unlabelled).
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file") from None
        except csv.Error as e:
            raise DataError(f"{path}:1: malformed CSV header ({e})") from None
        header = [h.strip() for h in header]

        def pick(key: str | None, candidates: tuple[str, ...], what: str) -> int:
            names = (key,) if key else candidates
            for n in names:
                if n in header:
                    return header.index(n)
            raise DataError(f"{path}:1: header {header!r} has no {what} column (looked for {list(names)})")

        ia = pick(text_a_key, ("text_a", "text", "sentence", "sentence1"), "text")
        ib = pick(text_b_key, ("text_b", "sentence2"), "second text") if task == "pair" else None
        il = header.index(label_key) if label_key in header else None
        prev = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raise DataError(f"{path}:{prev + 1}: malformed CSV ({e})") from None
            src = f"{path}:{prev + 1}"
            prev = reader.line_num
            if not row or not any(f.strip() for f in row):
                continue
            if len(row) != len(header):
                raise DataError(f"{src}: expected {len(header)} columns {header}, found {len(row)}")
            text_a = row[ia].strip()
            _check_text(text_a, src, header[ia])
            text_b = None
            if ib is not None:
                text_b = row[ib].strip()
                _check_text(text_b, src, header[ib])
            label = row[il].strip() if il is not None else None
            if label == "":
                raise DataError(f"{src}: empty label")
            yield Example(text_a=text_a, text_b=text_b, label=label, source=src)


# ---------------------------------------------------------------------------- relations
DEFAULT_MARKERS = ("$", "$", "#", "#")
"""Entity markers of ``relation_tsv``: head open/close, tail open/close (R-BERT, Wu & He 2019)."""


def _occurrences(text: str, sub: str) -> list[int]:
    out, i = [], text.find(sub)
    while i >= 0:
        out.append(i)
        i = text.find(sub, i + 1)
    return out


def locate_pair(sentence: str, head: str, tail: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """End-exclusive spans of ``head`` and ``tail`` in ``sentence``: the first occurrence of each
    when they do not overlap, else the first non-overlapping pair (head occurrences in order, then
    tail occurrences in order); None when there is none."""
    for h in _occurrences(sentence, head):
        for t in _occurrences(sentence, tail):
            if t >= h + len(head) or t + len(tail) <= h:
                return (h, h + len(head)), (t, t + len(tail))
    return None


def mark_pair(sentence: str, head: tuple[int, int], tail: tuple[int, int], markers: Sequence[str] = DEFAULT_MARKERS) -> str:
    """``sentence`` with the head span wrapped in ``markers[0:2]`` and the tail in ``markers[2:4]``."""
    inserts = sorted([(head[0], 0, markers[0]), (head[1], 1, markers[1]), (tail[0], 0, markers[2]), (tail[1], 1, markers[3])],
                     key=lambda x: (x[0], -x[1]))
    out, last = [], 0
    for pos, _, mark in inserts:
        out.append(sentence[last:pos])
        out.append(mark)
        last = pos
    out.append(sentence[last:])
    return "".join(out)


def read_typing_tsv(path: str | os.PathLike, *, markers: Sequence[str] = ("$", "$")) -> Iterator[Example]:
    """Entity-typing TSV: ``mention<TAB>type1|type2...<TAB>sentence`` (see module notes)."""
    if len(markers) != 2 or not all(isinstance(m, str) and m for m in markers):
        raise ValueError(f"markers must be 2 non-empty strings (open, close), got {markers!r}")
    for src, (mention, types_field, sentence) in _tsv_fields(path, ("mention", "types", "sentence")):
        types = [t.strip() for t in types_field.split("|")]
        if any(not t for t in types):
            raise DataError(f"{src}: empty type in {types_field!r}")
        start = sentence.find(mention)
        if start < 0:
            raise DataError(f"{src}: mention {mention!r} is not found in the sentence")
        end = start + len(mention)
        yield Example(text_a=mark_mention(sentence, start, end, markers), label="|".join(types),
                      source=src, meta={"types": types, "span": [start, end], "sentence": sentence})


def mark_mention(sentence: str, start: int, end: int, markers: Sequence[str] = ("$", "$"), context: int | None = None) -> str:
    """``sentence`` with ``[start, end)`` wrapped in ``markers``; with ``context``, only that many
    characters are kept on each side of the mention."""
    left = sentence[:start] if context is None else sentence[max(0, start - context):start]
    right = sentence[end:] if context is None else sentence[end:end + context]
    return left + markers[0] + sentence[start:end] + markers[1] + right


def read_ner_mentions(
    path: str | os.PathLike,
    *,
    source_format: str = "ner_tsv",
    markers: Sequence[str] = ("$", "$"),
    context: int | None = None,
    **source_options,
) -> Iterator[Example]:
    """Typing examples derived from an NER file: one per gold mention (see module notes)."""
    if source_format not in TOKEN_FORMATS:
        raise ValueError(f"source_format must be an NER format {TOKEN_FORMATS}, got {source_format!r}")
    if len(markers) != 2 or not all(isinstance(m, str) and m for m in markers):
        raise ValueError(f"markers must be 2 non-empty strings (open, close), got {markers!r}")
    if context is not None and (isinstance(context, bool) or not isinstance(context, int) or context < 0):
        raise ValueError(f"context must be an int >= 0 (characters each side) or None, got {context!r}")
    n = 0
    for sent in read_examples(path, source_format, "token", **source_options):
        if sent.tags is None:
            raise DataError(f"{sent.source}: unlabelled sentence (ner_mentions needs gold NER tags)")
        tokens = sent.tokens or []
        offsets = [0, *accumulate(len(t) for t in tokens)]
        sentence = "".join(tokens)
        line = (sent.source or "").rsplit(":", 1)[-1]
        for k, (typ, s, e) in enumerate(get_entities(sent.tags)):
            start, end = offsets[s], offsets[e]
            n += 1
            yield Example(text_a=mark_mention(sentence, start, end, markers, context), label=typ, source=sent.source,
                          meta={"types": [typ], "span": [start, end], "sentence": sentence, "mention": k,
                                "id": f"{line}:{k}"})
    if n == 0:
        raise DataError(f"{path}: no entity mentions (every sentence is tagged O only)")


def _tsv_fields(path: str | os.PathLike, names: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """(``file:line``, stripped fields) of every non-blank line of a TSV file with exactly the
    fields ``names``, each non-empty; an empty file is a :class:`DataError`."""
    n = 0
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        src = f"{path}:{lineno}"
        fields = line.split("\t")
        if len(fields) != len(names):
            raise DataError(f"{src}: expected {len(names)} tab-separated fields {', '.join(names)}; found {len(fields)}")
        values = [f.strip() for f in fields]
        for name, value in zip(names, values):
            _check_text(value, src, name)
        n += 1
        yield src, values
    if n == 0:
        raise DataError(f"{path}: empty file")


def typing_targets(examples: Sequence[Example], type_list: Sequence[str] | None = None) -> tuple[list[str], list[list[float]]]:
    """(the type list: given, or every type seen, sorted; one multi-hot row per example) for the
    ``entity_typing`` head. A type not in a given list is a :class:`DataError` naming the example."""
    types = list(type_list) if type_list is not None else sorted({t for ex in examples for t in ex.types})
    index = {t: i for i, t in enumerate(types)}
    rows = []
    for ex in examples:
        row = [0.0] * len(types)
        for t in ex.types:
            if t not in index:
                raise DataError(f"{ex.source}: type {t!r} is not in the type list")
            row[index[t]] = 1.0
        rows.append(row)
    return types, rows


def read_relation_tsv(path: str | os.PathLike, *, markers: Sequence[str] = DEFAULT_MARKERS) -> Iterator[Example]:
    """FinRE-style relation TSV: ``head<TAB>tail<TAB>relation<TAB>sentence`` (see module notes)."""
    if len(markers) != 4 or not all(isinstance(m, str) and m for m in markers):
        raise ValueError(f"markers must be 4 non-empty strings (head open/close, tail open/close), got {markers!r}")
    for src, (head, tail, rel, sentence) in _tsv_fields(path, ("head", "tail", "relation", "sentence")):
        found = locate_pair(sentence, head, tail)
        if found is None:
            raise DataError(f"{src}: head {head!r} and tail {tail!r} are not both found (without overlap) in the sentence")
        hs, ts = found
        yield Example(text_a=mark_pair(sentence, hs, ts, markers), label=rel, source=src,
                      meta={"head": list(hs), "tail": list(ts), "sentence": sentence})
