"""Annotated inference over a trained run: ``python -m kgbert.predict RUN_DIR --in texts.txt --out preds.jsonl``.

Input formats (by extension, or ``--format``):

- ``txt``: one text per line (pair models: ``text_a<TAB>text_b``); blank lines are skipped.
- ``jsonl``: one JSON object per line: ``text`` (or ``text_a`` / ``sentence1``), for pair models
  also ``text_b`` (or ``sentence2``); an object that also has ``words``/``entities``/``phrases``/
  ``srl`` is an :class:`annotators.Annotation` record and is used as it is (pair models: ``text_a``
  and ``text_b`` may be Annotation objects). ``id`` is copied to the output.
  A record with ``head``/``tail`` (mentions) or ``head_span``/``tail_span`` (end-exclusive
  character offsets) is a relation input (text in ``text`` or ``sentence``), see
  :mod:`kgbert.pipeline`: relation models insert their entity markers themselves.
- ``tsv``: a header naming the columns: ``text_a`` (pair models also ``text_b``), optional ``id``;
  other columns (e.g. ``label``) are ignored. For a relation model (one whose ``kgbert.json``
  records its markers) a file whose first line has no ``text_a`` column has no header and one
  relation a line: ``head<TAB>tail<TAB>sentence`` or the training layout
  ``head<TAB>tail<TAB>relation<TAB>sentence`` (the relation is ignored); fields are stripped as
  the ``relation_tsv`` reader strips them.

Output: one JSON line per valid input line, in input order: ``source`` (``file:line``), ``id`` (if
given), then the :class:`kgbert.pipeline.Pipeline` result. The output is written to a temporary
file beside ``--out`` and renamed when complete: a failed run leaves no partial file (one killed
with ``kill -9`` leaves ``.<out>.<pid>.<hex>.tmp``, removed by the next run). The output gets the
usual mode of a new file (the user's umask). A text longer than the model's limit is predicted
on overlapping windows (see :mod:`kgbert.windowing`; its record has ``"windows": n``);
``--no-window`` skips it as a bad line instead, ``--truncate`` cuts it. A bad input line (invalid
UTF-8, invalid JSON, missing field, empty text, wrong shape for the model) is reported on stderr
as ``file:line: reason`` and skipped; blank lines are skipped and counted in the summary.

Exit codes: 0 success (bad lines skipped and reported), 1 nothing to predict (empty input or
every line bad: no output written), 2 usage errors (no such run dir or input file).
"""
from __future__ import annotations

from kgbert.cli import doc_summary

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator, TextIO

from knowledge.tempfiles import exit_on_sigterm, remove_stale_temporaries, temp_path

FORMATS = ("txt", "jsonl", "tsv")
ANNOTATION_FIELDS = ("words", "entities", "phrases", "srl")
TEXT_KEYS = ("text", "text_a", "sentence1")
TEXT_B_KEYS = ("text_b", "sentence2")
RELATION_FIELDS = ("head", "tail", "head_span", "tail_span")


class BadLine(ValueError):
    """One input line that cannot be used; the message says why (without file:line)."""


def detect_format(path: Path, fmt: str | None) -> str:
    """``fmt`` if given, else from the file extension."""
    if fmt:
        return fmt
    ext = path.suffix.lower().lstrip(".")
    if ext in FORMATS:
        return ext
    if ext == "json":
        return "jsonl"
    raise BadLine(f"cannot tell the input format of {path} from its extension; use --format {{{','.join(FORMATS)}}}")


def _text_or_annotation(value: Any, key: str):
    from annotators import Annotation, AnnotationError

    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        try:
            return Annotation.from_dict(value)
        except AnnotationError as e:
            raise BadLine(f"invalid annotation in {key!r}: {e}") from None
    raise BadLine(f"{key!r} must be a string or an annotation object, got {type(value).__name__}")


def _first_key(obj: dict, keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in obj), None)


def parse_json_record(line: str, pair: bool) -> tuple[Any, dict[str, Any]]:
    """(pipeline input, extra output fields) of one JSON line; raises :class:`BadLine`."""
    from annotators import Annotation, AnnotationError

    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadLine(f"invalid JSON ({e.msg}, column {e.colno})") from None
    if not isinstance(obj, dict):
        raise BadLine(f"expected a JSON object, got {type(obj).__name__}")
    if "\\u" in line:  # a lone surrogate ("\ud800") is no character: it cannot be written out
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            raise BadLine(f"lone surrogate {e.object[e.start]!r} (a \\u escape that is no character)") from None
    extra = {"id": obj["id"]} if "id" in obj else {}
    if any(k in obj for k in RELATION_FIELDS):  # a relation input: the pipeline checks and marks it
        key = _first_key(obj, (*TEXT_KEYS, "sentence"))
        if key is None:
            raise BadLine(f"relation record without a text: expected 'text' or 'sentence' (found keys {sorted(obj)})")
        return {"text": obj[key], **{k: obj[k] for k in RELATION_FIELDS if k in obj}}, extra
    if pair:
        ka, kb = _first_key(obj, TEXT_KEYS), _first_key(obj, TEXT_B_KEYS)
        if ka is None or kb is None:
            raise BadLine(f"a pair model needs {TEXT_KEYS[1]!r} and {TEXT_B_KEYS[0]!r} (found keys {sorted(obj)})")
        return (_text_or_annotation(obj[ka], ka), _text_or_annotation(obj[kb], kb)), extra
    if _first_key(obj, TEXT_B_KEYS) is not None:
        raise BadLine("this model takes one text per input, but the record has a second text (text_b/sentence2)")
    key = _first_key(obj, TEXT_KEYS)
    if key is None:
        raise BadLine(f"missing text: expected one of {list(TEXT_KEYS)} (found keys {sorted(obj)})")
    if any(k in obj for k in ANNOTATION_FIELDS):
        rec = {k: obj[k] for k in (*ANNOTATION_FIELDS, "meta") if k in obj}
        rec["text"] = obj[key]
        try:
            return Annotation.from_dict(rec), extra
        except AnnotationError as e:
            raise BadLine(f"invalid annotation: {e}") from None
    return _text_or_annotation(obj[key], key), extra


def read_inputs(path: Path, fmt: str, pair: bool, counts: dict[str, int] | None = None,
                relation: bool = False) -> Iterator[tuple[int, Any, dict[str, Any] | None, str | None]]:
    """Yield ``(line number, input, extra fields, None)`` or ``(line number, None, None, error)``.
    A line that is not valid UTF-8 is an error of that line; blank lines are counted in
    ``counts["blank"]`` (when given) and skipped. ``relation``: a TSV without a ``text_a`` header
    holds relation lines (see the module notes)."""
    with open(path, "rb") as fh:
        yield from _read(_decoded(fh), fmt, pair, counts, relation)


def _decoded(fh) -> Iterator[tuple[int, str | BadLine]]:
    for lineno, raw in enumerate(fh, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield lineno, BadLine(f"not valid UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        yield lineno, (line.lstrip("\ufeff") if lineno == 1 else line)


def _relation_fields(fields: list[str]) -> dict[str, str]:
    """The relation input of a headerless relation TSV line (``head, tail[, relation], sentence``)."""
    if len(fields) not in (3, 4):
        raise BadLine(f"a relation line is 'head<TAB>tail<TAB>sentence' or 'head<TAB>tail<TAB>relation<TAB>sentence', "
                      f"found {len(fields)} tab-separated field(s)")
    values = [f.strip() for f in fields]
    for name, value in zip(("head", "tail", "relation", "sentence") if len(fields) == 4 else ("head", "tail", "sentence"),
                           values):
        if not value:
            raise BadLine(f"empty {name}")
    return {"text": values[-1], "head": values[0], "tail": values[1]}


def _read(lines, fmt: str, pair: bool, counts: dict[str, int] | None = None, relation: bool = False):
    header: dict[str, int] | None = None
    for lineno, raw in lines:
        if isinstance(raw, BadLine):
            yield lineno, None, None, str(raw)
            continue
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip():
            if counts is not None:
                counts["blank"] = counts.get("blank", 0) + 1
            continue
        try:
            if fmt == "txt":
                if pair:
                    fields = line.split("\t")
                    if len(fields) != 2:
                        raise BadLine(
                            f"a pair model needs 'text_a<TAB>text_b', found {len(fields)} tab-separated field(s)"
                        )
                    yield lineno, (fields[0], fields[1]), {}, None
                else:
                    yield lineno, line, {}, None
            elif fmt == "jsonl":
                x, extra = parse_json_record(line, pair)
                yield lineno, x, extra, None
            else:
                fields = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
                if header is None and relation and "text_a" not in {f.strip() for f in fields}:
                    header = {}  # no header: every line, this one too, is a relation
                if header == {}:
                    yield lineno, _relation_fields(fields), {}, None
                    continue
                if header is None:
                    header = {name.strip(): i for i, name in enumerate(fields)}
                    need = ["text_a", "text_b"] if pair else ["text_a"]
                    missing = [c for c in need if c not in header]
                    if missing:
                        raise _FatalInput(f"header {fields!r} has no {missing} column(s)")
                    continue
                if len(fields) != len(header):
                    raise BadLine(f"expected {len(header)} tab-separated columns {list(header)}, found {len(fields)}")
                extra = {"id": fields[header["id"]]} if "id" in header else {}
                a = fields[header["text_a"]]
                yield lineno, ((a, fields[header["text_b"]]) if pair else a), extra, None
        except BadLine as e:
            yield lineno, None, None, str(e)


class _FatalInput(Exception):
    """The input file as a whole is unusable (e.g. a TSV without the needed columns)."""


def count_lines(path: Path) -> int:
    """Non-blank lines of ``path`` (for the progress bar)."""
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def predict_file(
    pipe,
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    fmt: str | None = None,
    batch_size: int = 32,
    progress: bool = True,
    err: TextIO | None = None,
) -> dict[str, Any]:
    """Predict every line of ``in_path`` into ``out_path`` (JSONL, atomic); returns counts.

    Bad lines are reported on ``err`` (default stderr) as ``file:line: reason`` and skipped.
    Returns ``{"written", "skipped", "blank", "bad": [(line, reason), ...], "out": path or None}``
    (``blank``: blank lines, skipped without being errors); nothing is written when no line is
    valid. The temporary file is ``.<out>.<pid>.<hex>.tmp``; one left by a killed run is removed.
    """
    from tqdm.auto import tqdm

    from kgbert.pipeline import PipelineError

    err = err or sys.stderr
    in_path, out_path = Path(in_path), Path(out_path)
    fmt = detect_format(in_path, fmt)
    pair = pipe.task == "pair"
    relation = getattr(pipe, "relation_markers", None) is not None
    chunk = max(batch_size * 8, batch_size)
    bad: list[tuple[int, str]] = []
    counts = {"blank": 0}
    written = 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_path.parent, f".{out_path.name}.")  # left by a killed run
    tmp = str(temp_path(out_path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode: the user's umask
    bar = tqdm(total=count_lines(in_path), desc="predict", unit="line", disable=not progress, file=sys.stderr)

    def report(lineno: int, reason: str) -> None:
        bad.append((lineno, reason))
        msg = f"{in_path}:{lineno}: {reason} (skipped)"
        if progress:
            bar.write(msg, file=err)
        else:
            print(msg, file=err)

    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            buf: list[tuple[int, Any, dict[str, Any]]] = []

            def flush() -> int:
                results = pipe.predict_prepared([p for _, p, _ in buf], batch_size=batch_size)
                for (lineno, _, extra), res in zip(buf, results):
                    rec = {"source": f"{in_path}:{lineno}", **extra, **res}
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                bar.update(len(buf))
                n = len(buf)
                buf.clear()
                return n

            for lineno, x, extra, reason in read_inputs(in_path, fmt, pair, counts, relation):
                if reason is None:
                    try:
                        buf.append((lineno, pipe.prepare(x), extra))
                    except PipelineError as e:
                        reason = str(e)
                if reason is not None:
                    report(lineno, reason)
                    bar.update(1)
                if len(buf) >= chunk:
                    written += flush()
            if buf:
                written += flush()
        bar.close()
        if written == 0:
            os.unlink(tmp)
            return {"written": 0, "skipped": len(bad), "blank": counts["blank"], "bad": bad, "out": None}
        os.replace(tmp, out_path)
    except _FatalInput as e:
        bar.close()
        os.unlink(tmp)
        raise BadLine(f"{in_path}: {e}") from None
    except BaseException:
        bar.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"written": written, "skipped": len(bad), "blank": counts["blank"], "bad": bad, "out": str(out_path)}


def _cell(s: str, width: int = 60) -> str:
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


def markdown_table(records: list[dict[str, Any]], max_rows: int = 20) -> str:
    """A readable Markdown table of prediction records (text, prediction, injected knowledge)."""
    lines = ["| # | text | prediction | knowledge used |", "|---|---|---|---|"]
    for i, r in enumerate(records[:max_rows], 1):
        text = r.get("annotation", {}).get("text", "")
        if "annotation_b" in r:
            text += " ‖ " + r["annotation_b"]["text"]
        if "entities" in r:
            pred = ", ".join(f"{e['text']} [{e['label']}]" for e in r["entities"]) or "(no entity)"
        else:
            pred = f"{r['label']} ({r['score']:.2f})"
        know = "; ".join(
            f"{k['text']}: " + ", ".join(f"{p} {o}" for _, p, o in k["triples"])
            for k in r.get("knowledge", []) if k["triples"]
        ) or ("-" if "knowledge" in r else "n/a")
        lines.append(f"| {i} | {_cell(text)} | {_cell(pred)} | {_cell(know, 80)} |")
    if len(records) > max_rows:
        lines.append(f"\n({len(records) - max_rows} more rows not shown)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kgbert.predict", description=doc_summary(__doc__),
        epilog="See the module docstring for the input formats.",
    )
    parser.add_argument("run_dir", help="run directory of python -m kgbert.train (or its best/ checkpoint)")
    parser.add_argument("--in", dest="inp", required=True, help="input file (.txt, .jsonl or .tsv)")
    parser.add_argument("--out", required=True, help="output JSON lines (written atomically)")
    parser.add_argument("--format", choices=FORMATS, default=None, help="input format (default: from the extension)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--kg", default=None, help="KG store to use instead of the one the model was trained with")
    parser.add_argument("--no-kg", action="store_true", help="use no KG (K-BERT injects no knowledge)")
    parser.add_argument("--no-annotate", action="store_true",
                        help="skip the annotators pipeline (entities from the KG matcher only, no words)")
    parser.add_argument("--truncate", action="store_true", help="cut over-long texts instead of windowing them")
    parser.add_argument("--no-window", action="store_true",
                        help="skip over-long texts as bad lines instead of predicting on overlapping windows")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--table", action="store_true", help="print a Markdown table of the predictions")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    exit_on_sigterm()  # kill (SIGTERM) removes the temporary output like an error does
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    if args.kg and args.no_kg:
        parser.error("--kg and --no-kg are exclusive")
    in_path = Path(args.inp)
    if not in_path.is_file():
        print(f"error: {in_path}: no such input file", file=sys.stderr)
        return 2
    try:
        fmt = detect_format(in_path, args.format)
    except BadLine as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    import torch

    from kgbert.pipeline import Pipeline, PipelineError

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    try:
        pipe = Pipeline.from_pretrained(
            args.run_dir, kg=False if args.no_kg else args.kg, annotate=not args.no_annotate,
            device=args.device, truncate=args.truncate, window=not args.no_window,
        )
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        summary = predict_file(pipe, in_path, args.out, fmt=fmt, batch_size=args.batch_size,
                               progress=not args.no_progress)
    except BadLine as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        pipe.close()
    blank = f"; {summary['blank']} blank line(s) skipped" if summary["blank"] else ""
    if summary["written"] == 0:
        why = "every line was bad" if summary["skipped"] else "the input has no lines"
        print(f"error: nothing to predict in {in_path} ({why}{blank}); {args.out} not written", file=sys.stderr)
        return 1
    print(f"wrote {summary['written']} predictions to {args.out}"
          + (f"; skipped {summary['skipped']} bad line(s)" if summary["skipped"] else "") + blank, file=sys.stderr)
    if args.table:
        with open(args.out, encoding="utf-8") as fh:
            print(markdown_table([json.loads(line) for line in fh]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
