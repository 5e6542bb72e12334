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
from typing import Callable, Iterable, Iterator

from annotators.srl.data import SrlArg, SrlFormatError, SrlFrame, SrlSentence

UP_BASE_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "flag", "sense")
_UP_KEPT = ("xpos", "feats", "head", "deprel")
_CONLL12_KEPT = ("doc_id", "part", "parse", "pred_lemma", "frameset", "word_sense", "speaker", "ne", "coref")
_BRACKET = re.compile(r"^(?:\(([^()*\s]+))?\*(\))?$")


def _check_word(path: str | os.PathLike, lineno: int, c: list[str], expected_id: int) -> None:
    """The ID and FORM cells of one word line (UP 1.0 and 2.0 alike): a plain word number in sequence,
    a non-empty form."""
    if not c[0].isdigit():
        raise SrlFormatError(f"{path}:{lineno}: ID {c[0]!r} is not a word number (multi-word tokens and empty nodes are not supported)")
    if int(c[0]) != expected_id:
        raise SrlFormatError(f"{path}:{lineno}: ID {c[0]} out of sequence (expected {expected_id})")
    if not c[1]:
        raise SrlFormatError(f"{path}:{lineno}: empty FORM")


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
        _check_word(path, lineno, c, len(cells) + 1)
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


_Lines = list[tuple[int, str]]


def _read_sentences(path: Path, parse: Callable[[Path, _Lines, _Lines], SrlSentence]) -> list[SrlSentence]:
    """Every non-empty block of ``path`` parsed by ``parse(path, comments, rows)``; raises on an empty file."""
    sentences = [parse(path, comments, rows) for comments, rows in _blocks(path) if rows]
    if not sentences:
        raise SrlFormatError(f"{path}: no sentences found")
    return sentences


def read_up(path: str | os.PathLike) -> list[SrlSentence]:
    """Read a Universal Propositions file (see the module docstring); raises on an empty file."""
    return _read_sentences(Path(path), _parse_up_sentence)


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


def _write_sentences(sentences: Iterable[SrlSentence], path: str | os.PathLike, head: str,
                     lines_of: Callable[[SrlSentence, str], Iterator[str]]) -> None:
    """Validate each sentence and write ``lines_of(sentence, head)`` atomically (nothing half-written)."""
    if head not in ("error", "first", "last"):
        raise ValueError(f"head must be 'error', 'first' or 'last', got {head!r}")

    def lines() -> Iterator[str]:
        for s in sentences:
            s.validate()
            yield from lines_of(s, head)

    _atomic_write_lines(path, lines())


def write_up(sentences: Iterable[SrlSentence], path: str | os.PathLike, *, head: str = "error") -> None:
    """Write sentences in the UP format. Multi-word spans raise unless ``head`` is ``first``/``last``."""
    _write_sentences(sentences, path, head, _up_lines)


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


# =========================================================================== UP 2.0
#: The merged 8-column layout of ``../shared/data/srl_up2_chinese_gsd``.
UP2_COLUMNS = ("id", "form", "upos", "head", "deprel", "up_pred", "up_argheads", "up_argspans")
#: The 13-column ``.conllup`` layout that UP 2.0's ``merge_ud_up.py`` writes (10 UD columns + 3).
UP2_CONLLUP_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc", "up_pred", "up_argheads", "up_argspans")
_UP2_LAYOUTS = {len(UP2_COLUMNS): UP2_COLUMNS, len(UP2_CONLLUP_COLUMNS): UP2_CONLLUP_COLUMNS}
_UP2_ARG = re.compile(r"^([^:|\s]+):([0-9]+)$")
_UP2_SPAN = re.compile(r"^([^:|\s]+):([0-9]+)-([0-9]+)$")


def _up2_items(path: Path, lineno: int, value: str, pattern: re.Pattern, column: str) -> list[re.Match]:
    items = []
    for item in value.split("|"):
        m = pattern.match(item)
        if m is None:
            form = "ROLE:id" if column == "UP:ARGHEADS" else "ROLE:start-end"
            raise SrlFormatError(f"{path}:{lineno}: {column} item {item!r} is not {form} ({form}|{form}... or _)")
        items.append(m)
    return items


def _parse_up2_sentence(path: Path, comments: list[tuple[int, str]], rows: list[tuple[int, str]]) -> SrlSentence:
    first = rows[0][0]
    width = len(rows[0][1].split("\t"))
    if width not in _UP2_LAYOUTS:
        raise SrlFormatError(
            f"{path}:{first}: {width} tab-separated columns; UP 2.0 has 8 (ID FORM UPOS HEAD DEPREL UP:PRED "
            "UP:ARGHEADS UP:ARGSPANS) or 13 (the 10 CoNLL-U columns + UP:PRED UP:ARGHEADS UP:ARGSPANS)"
        )
    names = _UP2_LAYOUTS[width]
    col = {name: k for k, name in enumerate(names)}
    cells: list[list[str]] = []
    for lineno, line in rows:
        c = line.split("\t")
        if len(c) != width:
            raise SrlFormatError(f"{path}:{lineno}: {len(c)} columns, but the sentence's first line (line {first}) has {width}")
        _check_word(path, lineno, c, len(cells) + 1)
        cells.append(c)
    n = len(cells)
    frames = []
    for (lineno, _), c in zip(rows, cells):
        sense, heads, spans = c[col["up_pred"]], c[col["up_argheads"]], c[col["up_argspans"]]
        if sense == "_":
            if heads != "_" or spans != "_":
                raise SrlFormatError(f"{path}:{lineno}: arguments (UP:ARGHEADS/UP:ARGSPANS) on a word that is not a predicate (UP:PRED is _)")
            continue
        if (heads == "_") != (spans == "_"):
            raise SrlFormatError(f"{path}:{lineno}: UP:ARGHEADS is {heads!r} but UP:ARGSPANS is {spans!r}: both or neither must be _")
        head_items = [] if heads == "_" else _up2_items(path, lineno, heads, _UP2_ARG, "UP:ARGHEADS")
        span_items = [] if spans == "_" else _up2_items(path, lineno, spans, _UP2_SPAN, "UP:ARGSPANS")
        if [m.group(1) for m in head_items] != [m.group(1) for m in span_items]:
            raise SrlFormatError(f"{path}:{lineno}: UP:ARGHEADS and UP:ARGSPANS name different roles ({heads!r} vs {spans!r})")
        seen: set[int] = set()
        args = []
        for m in head_items:
            h = int(m.group(2))
            if not 1 <= h <= n:
                raise SrlFormatError(f"{path}:{lineno}: argument {m.group(0)!r}: word {h} is outside the sentence ({n} words)")
            if h in seen:
                raise SrlFormatError(f"{path}:{lineno}: word {h} heads two arguments of this predicate")
            seen.add(h)
            args.append(SrlArg(m.group(1), h - 1, h))
        for m in span_items:
            s, e = int(m.group(2)), int(m.group(3))
            if not 1 <= s <= e <= n:
                raise SrlFormatError(f"{path}:{lineno}: argument span {m.group(0)!r} is not within 1..{n} with start <= end")
        p = int(c[0]) - 1
        frames.append(SrlFrame(predicate=(p, p + 1), args=tuple(args), sense=sense, lemma=c[col["lemma"]] if "lemma" in col else None))
    kept = [name for name in names if name not in ("id", "form", "upos", "lemma")]
    return SrlSentence(
        words=[c[1] for c in cells],
        frames=frames,
        pos=[c[col["upos"]] for c in cells],
        lemmas=[c[col["lemma"]] for c in cells] if "lemma" in col else None,
        columns={name: [c[col[name]] for c in cells] for name in kept},
        comments=[line for _, line in comments],
        source=f"{path}:{first}",
    )


def read_up2(path: str | os.PathLike) -> list[SrlSentence]:
    """Read a Universal PropBank 2.0 file: arguments on the predicate's own row.

    Columns (tab-separated): either the 8 of ``../shared/data/srl_up2_chinese_gsd`` (``ID FORM
    UPOS HEAD DEPREL UP:PRED UP:ARGHEADS UP:ARGSPANS``) or the 13 of a ``.conllup`` file (the 10
    CoNLL-U columns, then the same three). ``UP:PRED`` is the roleset (``represent.01``) or ``_``;
    ``UP:ARGHEADS`` is ``ROLE:id|ROLE:id...`` (or ``_``), ``UP:ARGSPANS`` the same roles in the
    same order as ``ROLE:start-end`` (ids inclusive).

    Each argument is read as its **head word** (``UP:ARGHEADS``), as in UP 1.0, so that the two
    releases train and score alike. The spans are checked (same roles, within the sentence) and
    kept verbatim in ``columns["up_argspans"]``; they are not used as argument extents (in
    Chinese-GSD train, 147 argument-span pairs of one predicate overlap, which BIO cannot hold).
    Raises :class:`SrlFormatError` naming ``file:line`` on a malformed record or an empty file.
    """
    return _read_sentences(Path(path), _parse_up2_sentence)


def _up2_lines(sent: SrlSentence, head: str) -> Iterator[str]:
    n = len(sent.words)
    where = sent.source or "sentence"
    names = UP2_CONLLUP_COLUMNS if "deps" in sent.columns else UP2_COLUMNS
    pred: dict[int, tuple[str, str, str]] = {}
    for f in sent.frames:
        p = _head_word(*f.predicate, head, f"{where}: predicate")
        if p in pred:
            raise SrlFormatError(f"{where}: two frames share a predicate word; UP 2.0 has one per word")
        items = [(a.role, _head_word(a.start, a.end, head, f"{where}: argument {a.role}"), a.start, a.end) for a in f.args]
        heads = "|".join(f"{r}:{h + 1}" for r, h, _, _ in items) or "_"
        kept_heads, kept_spans = (sent.columns.get(k, [None] * n)[p] for k in ("up_argheads", "up_argspans"))
        # the file's spans when this predicate's arguments (heads) are those read; else each argument's own words
        spans = kept_spans if kept_heads == heads and kept_spans else ("|".join(f"{r}:{s + 1}-{e}" for r, _, s, e in items) or "_")
        pred[p] = (f.sense or "_", heads, spans)
    for c in sent.comments or [f"# text = {''.join(sent.words)}"]:
        yield c
    for i, w in enumerate(sent.words):
        if "\t" in w or "\n" in w:
            raise SrlFormatError(f"{where}: word {i} contains a tab or newline")
        up = pred.get(i, ("_", "_", "_"))
        if up[0] == "_" and i in pred:
            raise SrlFormatError(f"{where}: the frame of word {i} has no sense (UP:PRED marks predicates by their roleset)")
        value = {"id": str(i + 1), "form": w, "upos": sent.pos[i] if sent.pos else "_", "lemma": sent.lemmas[i] if sent.lemmas else "_",
                 "up_pred": up[0], "up_argheads": up[1], "up_argspans": up[2]}
        yield "\t".join(value[name] if name in value else (sent.columns[name][i] if name in sent.columns else "_") for name in names)
    yield ""


def write_up2(sentences: Iterable[SrlSentence], path: str | os.PathLike, *, head: str = "error") -> None:
    """Write sentences in the UP 2.0 layout (13 columns when they were read from a ``.conllup``
    file, else the 8 of the shared data). Each frame needs a ``sense`` (it marks the predicate).
    A predicate whose argument heads are those read keeps the file's ``UP:ARGSPANS``; other
    arguments are written with their own word span. Multi-word arguments need ``head``
    (``first``/``last``) to pick the ``UP:ARGHEADS`` word."""
    _write_sentences(sentences, path, head, _up2_lines)


def sniff_up_layout(path: str | os.PathLike) -> str:
    """``"up"`` (UP 1.0: 10 columns, then one per predicate) or ``"up2"`` (UP 2.0: 8 or 13
    columns), from the file's first sentence. A 13-column sentence is UP 1.0 when its 9th column
    is a ``Y``/``_`` flag with exactly 3 ``Y`` (one argument column per predicate)."""
    path = Path(path)
    for _, rows in _blocks(path):
        if not rows:
            continue
        cells = [line.split("\t") for _, line in rows]
        width = len(cells[0])
        if width == len(UP2_COLUMNS):
            return "up2"
        if width == len(UP2_CONLLUP_COLUMNS):
            flags = [c[8] if len(c) > 8 else "" for c in cells]
            return "up" if set(flags) <= {"Y", "_"} and flags.count("Y") == width - len(UP_BASE_COLUMNS) else "up2"
        return "up"
    raise SrlFormatError(f"{path}: no sentences found")
