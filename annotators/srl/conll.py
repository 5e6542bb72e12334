"""Readers and writers for SRL column formats.

* **UP** (Universal Propositions, e.g. ``../shared/data/srl_up_chinese``): CoNLL-2009-style,
  tab-separated, one word per line: ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL FLAG SENSE``
  then one argument column per predicate (in order of appearance). ``FLAG`` is ``Y`` on
  predicates, ``SENSE`` their roleset (``cause.01``). Arguments are dependency heads: one word
  labelled with its role (``A0``, ``AM-TMP``), ``_`` elsewhere.
* **CoNLL-2012** (OntoNotes 5.0 ``*_conll`` files, the layout allennlp's SRL reader used):
  whitespace-separated ``doc_id part word_no word POS parse_bit pred_lemma frameset
  word_sense speaker NE args... coref``; each argument column is in bracket notation
  (``(ARG0*``, ``*``, ``*)``, ``(V*)``), one column per predicate. ``#begin document`` /
  ``#end document`` lines delimit documents.

Both read into :class:`~annotators.srl.data.SrlSentence` and write from it. Malformed input raises
:class:`~annotators.srl.data.SrlFormatError` naming ``file:line``. Writers write a temporary file
and rename it, so a failed write leaves nothing behind.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from annotators.srl.data import SrlArg, SrlFormatError, SrlFrame, SrlSentence

UP_BASE_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "flag", "sense")
_UP_KEPT = ("xpos", "feats", "head", "deprel")
_CONLL12_KEPT = ("doc_id", "part", "parse", "pred_lemma", "frameset", "word_sense", "speaker", "ne", "coref")
_BRACKET = re.compile(r"^(?:\(([^()*\s]+))?\*(\))?$")


def _blocks(path: Path) -> Iterator[tuple[list[tuple[int, str]], list[tuple[int, str]]]]:
    """Yield (comment lines, token lines) per blank-line-separated block, with line numbers."""
    comments: list[tuple[int, str]] = []
    rows: list[tuple[int, str]] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise SrlFormatError(f"{path}:{lineno}: not valid UTF-8 ({exc.reason})") from None
            if not line.strip():
                if rows or comments:
                    yield comments, rows
                comments, rows = [], []
            elif line.startswith("#") and not rows:
                comments.append((lineno, line))
            elif line.startswith("#"):
                # a comment right after token lines (e.g. "#end document") closes the sentence
                yield comments, rows
                comments, rows = [(lineno, line)], []
            else:
                rows.append((lineno, line))
    if rows or comments:
        yield comments, rows


def _atomic_write_lines(path: str | os.PathLike, lines: Iterable[str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for line in lines:
                fh.write(line)
                fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _head_word(span_start: int, span_end: int, head: str, what: str) -> int:
    if span_end - span_start == 1:
        return span_start
    if head == "first":
        return span_start
    if head == "last":
        return span_end - 1
    raise SrlFormatError(
        f"{what} spans words [{span_start}, {span_end}); the UP format labels one word per argument "
        "(pass head='first' or head='last' to pick one)"
    )


# =========================================================================== UP
def _parse_up_sentence(path: Path, comments: list[tuple[int, str]], rows: list[tuple[int, str]]) -> SrlSentence:
    first = rows[0][0]
    cells = []
    for lineno, line in rows:
        c = line.split("\t")
        if len(c) < len(UP_BASE_COLUMNS):
            raise SrlFormatError(f"{path}:{lineno}: expected at least {len(UP_BASE_COLUMNS)} tab-separated columns, got {len(c)}")
        if len(c) != len(rows[0][1].split("\t")):
            raise SrlFormatError(f"{path}:{lineno}: {len(c)} columns, but the sentence's first line (line {first}) has {len(rows[0][1].split(chr(9)))}")
        if not c[0].isdigit():
            raise SrlFormatError(f"{path}:{lineno}: ID {c[0]!r} is not a word number (multi-word tokens and empty nodes are not supported)")
        if int(c[0]) != len(cells) + 1:
            raise SrlFormatError(f"{path}:{lineno}: ID {c[0]} out of sequence (expected {len(cells) + 1})")
        if not c[1]:
            raise SrlFormatError(f"{path}:{lineno}: empty FORM")
        if c[8] not in ("Y", "_"):
            raise SrlFormatError(f"{path}:{lineno}: predicate flag must be 'Y' or '_', got {c[8]!r}")
        cells.append(c)
    pred_rows = [i for i, c in enumerate(cells) if c[8] == "Y"]
    n_arg_cols = len(cells[0]) - len(UP_BASE_COLUMNS)
    if n_arg_cols != len(pred_rows):
        raise SrlFormatError(f"{path}:{first}: sentence has {len(pred_rows)} predicates (flag Y) but {n_arg_cols} argument columns")
    frames = []
    for k, p in enumerate(pred_rows):
        args = tuple(
            SrlArg(c[10 + k], i, i + 1) for i, c in enumerate(cells) if c[10 + k] not in ("_", "")
        )
        sense = cells[p][9] if cells[p][9] != "_" else None
        frames.append(SrlFrame(predicate=(p, p + 1), args=args, sense=sense, lemma=cells[p][2]))
    return SrlSentence(
        words=[c[1] for c in cells],
        frames=frames,
        pos=[c[3] for c in cells],
        lemmas=[c[2] for c in cells],
        columns={name: [c[UP_BASE_COLUMNS.index(name)] for c in cells] for name in _UP_KEPT},
        comments=[line for _, line in comments],
        source=f"{path}:{first}",
    )


def read_up(path: str | os.PathLike) -> list[SrlSentence]:
    """Read a Universal Propositions file (see the module docstring); raises on an empty file."""
    path = Path(path)
    sentences = []
    for comments, rows in _blocks(path):
        if rows:
            sentences.append(_parse_up_sentence(path, comments, rows))
    if not sentences:
        raise SrlFormatError(f"{path}: no sentences found")
    return sentences


def _up_lines(sent: SrlSentence, head: str) -> Iterator[str]:
    n = len(sent.words)
    frames = sorted(sent.frames, key=lambda f: f.predicate)
    where = sent.source or "sentence"
    pred_word = [_head_word(*f.predicate, head, f"{where}: predicate") for f in frames]
    if len(set(pred_word)) != len(pred_word):
        raise SrlFormatError(f"{where}: two frames share a predicate word; the UP format has one per word")
    arg_cols = [["_"] * n for _ in frames]
    for k, f in enumerate(frames):
        for a in f.args:
            arg_cols[k][_head_word(a.start, a.end, head, f"{where}: argument {a.role}")] = a.role
    for c in sent.comments or [f"# sentence-text: {' '.join(sent.words)}"]:
        yield c
    for i, w in enumerate(sent.words):
        if "\t" in w or "\n" in w:
            raise SrlFormatError(f"{where}: word {i} contains a tab or newline")
        flag = "Y" if i in pred_word else "_"
        sense = "_"
        if flag == "Y":
            sense = frames[pred_word.index(i)].sense or "_"
        cols = [
            str(i + 1),
            w,
            sent.lemmas[i] if sent.lemmas else "_",
            sent.pos[i] if sent.pos else "_",
            *[sent.columns[name][i] if name in sent.columns else "_" for name in _UP_KEPT],
            flag,
            sense,
            *[col[i] for col in arg_cols],
        ]
        yield "\t".join(cols)
    yield ""


def write_up(sentences: Iterable[SrlSentence], path: str | os.PathLike, *, head: str = "error") -> None:
    """Write sentences in the UP format. Multi-word spans raise unless ``head`` is ``first``/``last``."""
    if head not in ("error", "first", "last"):
        raise ValueError(f"head must be 'error', 'first' or 'last', got {head!r}")

    def lines() -> Iterator[str]:
        for s in sentences:
            s.validate()
            yield from _up_lines(s, head)

    _atomic_write_lines(path, lines())


# =========================================================================== CoNLL-2012
def _parse_bracket_column(path: Path, rows: list[tuple[int, list[str]]], col: int, k: int) -> SrlFrame:
    args: list[SrlArg] = []
    predicate: tuple[int, int] | None = None
    open_role: str | None = None
    start = 0
    for i, (lineno, c) in enumerate(rows):
        m = _BRACKET.match(c[col])
        if m is None:
            raise SrlFormatError(f"{path}:{lineno}: argument column {k + 1}: {c[col]!r} is not '(ROLE*', '*', '*)' or '(ROLE*)'")
        role, closes = m.group(1), m.group(2)
        if role is not None:
            if open_role is not None:
                raise SrlFormatError(f"{path}:{lineno}: argument column {k + 1}: '({role}' opens inside the open '({open_role}'")
            open_role, start = role, i
        if closes:
            if open_role is None:
                raise SrlFormatError(f"{path}:{lineno}: argument column {k + 1}: ')' closes no open argument")
            if open_role == "V":
                if predicate is not None:
                    raise SrlFormatError(f"{path}:{lineno}: argument column {k + 1} has a second (V*) predicate")
                predicate = (start, i + 1)
            else:
                args.append(SrlArg(open_role, start, i + 1))
            open_role = None
    if open_role is not None:
        raise SrlFormatError(f"{path}:{rows[-1][0]}: argument column {k + 1}: '({open_role}' is never closed")
    if predicate is None:
        raise SrlFormatError(f"{path}:{rows[0][0]}: argument column {k + 1} has no (V*) predicate")
    p = rows[predicate[0]][1]
    return SrlFrame(
        predicate=predicate,
        args=tuple(args),
        sense=p[7] if p[7] != "-" else None,
        lemma=p[6] if p[6] != "-" else None,
    )


def _parse_conll12_sentence(path: Path, comments: list[tuple[int, str]], lines: list[tuple[int, str]]) -> SrlSentence:
    rows = [(lineno, line.split()) for lineno, line in lines]
    width = len(rows[0][1])
    for lineno, c in rows:
        if len(c) < 12:
            raise SrlFormatError(f"{path}:{lineno}: expected at least 12 whitespace-separated columns, got {len(c)}")
        if len(c) != width:
            raise SrlFormatError(f"{path}:{lineno}: {len(c)} columns, but the sentence's first line (line {rows[0][0]}) has {width}")
    frames = [_parse_bracket_column(path, rows, col, k) for k, col in enumerate(range(11, width - 1))]
    idx = {"doc_id": 0, "part": 1, "parse": 5, "pred_lemma": 6, "frameset": 7, "word_sense": 8, "speaker": 9, "ne": 10, "coref": -1}
    return SrlSentence(
        words=[c[3] for _, c in rows],
        frames=frames,
        pos=[c[4] for _, c in rows],
        columns={name: [c[idx[name]] for _, c in rows] for name in _CONLL12_KEPT},
        comments=[line for _, line in comments],
        source=f"{path}:{rows[0][0]}",
    )


def read_conll2012(path: str | os.PathLike) -> list[SrlSentence]:
    """Read a CoNLL-2012 (OntoNotes 5.0 ``*_conll``) file; raises on an empty file.

    ``#begin document`` / ``#end document`` lines are dropped (the writer regenerates them from
    the doc id / part columns); other comment lines are kept in the next sentence's ``comments``.
    """
    path = Path(path)
    sentences = []
    for comments, rows in _blocks(path):
        kept = [(n, c) for n, c in comments if not c.startswith(("#begin document", "#end document"))]
        if rows:
            sentences.append(_parse_conll12_sentence(path, kept, rows))
    if not sentences:
        raise SrlFormatError(f"{path}: no sentences found")
    return sentences


def _bracket_column(frame: SrlFrame, n: int) -> list[str]:
    col = ["*"] * n
    for role, s, e in [("V", *frame.predicate)] + [(a.role, a.start, a.end) for a in frame.args]:
        col[s] = f"({role}*"
        col[e - 1] = (col[e - 1] if e - 1 != s else f"({role}*") + ")"
    return col


def _conll12_lines(sent: SrlSentence, doc_id: str) -> Iterator[str]:
    n = len(sent.words)
    where = sent.source or "sentence"
    frames = sorted(sent.frames, key=lambda f: f.predicate)
    cols = [_bracket_column(f, n) for f in frames]
    kept = sent.columns
    pred_lemma = list(kept.get("pred_lemma", ["-"] * n))
    frameset = list(kept.get("frameset", ["-"] * n))
    if "pred_lemma" not in kept or "frameset" not in kept:
        for f in frames:
            p = f.predicate[0]
            if "pred_lemma" not in kept:
                pred_lemma[p] = f.lemma or (sent.lemmas[p] if sent.lemmas else sent.words[p])
            if "frameset" not in kept and f.sense:
                frameset[p] = f.sense
    for i, w in enumerate(sent.words):
        if any(ch.isspace() for ch in w):
            raise SrlFormatError(f"{where}: word {i} ({w!r}) contains whitespace, which the CoNLL-2012 format cannot hold")
        row = [
            kept["doc_id"][i] if "doc_id" in kept else doc_id,
            kept["part"][i] if "part" in kept else "0",
            str(i),
            w,
            sent.pos[i] if sent.pos else "-",
            kept["parse"][i] if "parse" in kept else "*",
            pred_lemma[i],
            frameset[i],
            kept["word_sense"][i] if "word_sense" in kept else "-",
            kept["speaker"][i] if "speaker" in kept else "-",
            kept["ne"][i] if "ne" in kept else "*",
            *[c[i] for c in cols],
            kept["coref"][i] if "coref" in kept else "-",
        ]
        yield " ".join(row)
    yield ""


def write_conll2012(sentences: Iterable[SrlSentence], path: str | os.PathLike, *, doc_id: str = "-") -> None:
    """Write sentences in the CoNLL-2012 column format, with ``#begin/#end document`` lines.

    Documents and parts come from the sentences' ``doc_id``/``part`` columns when they were read
    from CoNLL-2012, else everything is one document ``doc_id``, part 0.
    """

    def lines() -> Iterator[str]:
        current: tuple[str, str] | None = None
        for s in sentences:
            s.validate()
            key = (s.columns["doc_id"][0], s.columns["part"][0]) if "doc_id" in s.columns and "part" in s.columns else (doc_id, "0")
            if key != current:
                if current is not None:
                    yield "#end document"
                part = f"{int(key[1]):03d}" if key[1].isdigit() else key[1]
                yield f"#begin document ({key[0]}); part {part}"
                current = key
            yield from _conll12_lines(s, doc_id)
        if current is not None:
            yield "#end document"

    _atomic_write_lines(path, lines())
