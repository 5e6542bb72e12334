"""Batch annotation: texts in, one :class:`annotators.Annotation` JSON line per good input record out.

    python -m annotators.annotate --kg STORE --in texts.(txt|jsonl|tsv) --out annotated.jsonl \\
        [--components kg_entities,entities,phrases] [--n-process N] [--batch-size B] [--max-chars 10000]

Input formats (by extension, or ``--format``):

- ``txt``: one text per line.
- ``jsonl``: one JSON object per line with a ``text`` field (``--text-field``). Objects that also
  carry annotation fields (``words``, ``entities``, ``phrases``, ``srl``) are *user annotations*:
  they are validated, loaded with :func:`annotators.from_annotation`, and only the requested
  components run on top (the user's entities win over ours). Other fields go to ``meta``.
- ``tsv``: a header line, then tab-separated rows; the text column is ``--text-field`` (default:
  the first of ``text``, ``text_a``, ``sentence``); the other columns go to ``meta``.

Every output record gets ``meta["source"] = "<input name>:<line>"``. Bad input lines (empty text,
invalid UTF-8, invalid JSON, a text longer than ``--max-chars``, an invalid user annotation) are
*skipped*: reported on stderr and in ``<out>.errors.tsv`` (``file``, ``line``, ``reason``) and
counted in the summary; the batch goes on.

A record that makes the pipeline itself fail (e.g. a ``meta`` that is not an object, a lone
surrogate such as ``"\ud800"`` in its text) is a bad line too: the other records are kept.

Resuming: the output is written in input order and flushed after every batch. Beside it,
``<out>.annotate.json`` names the input, its size and SHA-256, and the reading options. A rerun
resumes only an output whose sidecar matches the same input and options: it counts the valid JSON
lines already in ``--out`` (truncating a partially written last line), skips that many good input
records, and appends the rest. Any other existing, non-empty ``--out`` (a user's file, an output of
another input, a file changed since) is refused and left untouched; ``--overwrite`` starts from
scratch instead. ``--out`` (or ``--errors``) naming the input is always refused.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence, TextIO

ANNOTATION_FIELDS = ("words", "entities", "phrases", "srl")
TEXT_COLUMNS = ("text", "text_a", "sentence")
DEFAULT_MAX_CHARS = 10_000


@dataclass
class Record:
    """One good input record: its line number, text, metadata and (optional) user annotation."""

    line: int
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    annotation: dict[str, Any] | None = None


@dataclass
class BadLine:
    """An input line that is skipped, with the reason."""

    line: int
    reason: str


@dataclass
class Summary:
    """Counts of one run (printed at the end)."""

    written: int = 0
    resumed: int = 0
    bad: int = 0
    errors_path: str | None = None

    def __str__(self) -> str:
        s = f"annotated {self.written} record(s)"
        if self.resumed:
            s += f" (after {self.resumed} already in the output)"
        s += f"; skipped {self.bad} bad line(s)"
        if self.bad and self.errors_path:
            s += f" (see {self.errors_path})"
        return s


# --------------------------------------------------------------------------- input
def detect_format(path: Path, fmt: str | None = None) -> str:
    """``txt``, ``jsonl`` or ``tsv`` from ``fmt`` or the file extension."""
    if fmt:
        if fmt not in ("txt", "jsonl", "tsv"):
            raise ValueError(f"unknown input format {fmt!r}; use txt, jsonl or tsv")
        return fmt
    suffix = path.suffix.lower()
    for fmt_, suffixes in (("jsonl", (".jsonl", ".json", ".ndjson")), ("tsv", (".tsv",)), ("txt", (".txt", ".text"))):
        if suffix in suffixes:
            return fmt_
    raise ValueError(f"{path}: cannot tell the input format from the extension {suffix!r}; pass --format")


def _check_text(text: Any, max_chars: int) -> str | None:
    """The reason a text is bad, or None."""
    if not isinstance(text, str):
        return f"text is not a string ({type(text).__name__})"
    if not text.strip():
        return "empty text"
    if len(text) > max_chars:
        return f"text too long ({len(text)} characters > --max-chars {max_chars})"
    return None


def read_records(path: str | os.PathLike, fmt: str | None = None, *, text_field: str | None = None,
                 max_chars: int = DEFAULT_MAX_CHARS) -> Iterator[Record | BadLine]:
    """Stream the input as :class:`Record` / :class:`BadLine` items, in file order."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    header: list[str] | None = None
    text_col = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield BadLine(lineno, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            if lineno == 1:
                line = line.lstrip("\ufeff")
            line = line.rstrip("\r\n")
            if fmt == "tsv" and header is None:
                header = line.split("\t")
                wanted = [text_field] if text_field else list(TEXT_COLUMNS)
                found = [c for c in wanted if c in header]
                if not found:
                    raise ValueError(f"{path}:1: no text column {wanted} in the TSV header {header}")
                text_col = header.index(found[0])
                continue
            if fmt == "txt":
                reason = _check_text(line, max_chars)
                yield BadLine(lineno, reason) if reason else Record(lineno, line)
            elif fmt == "tsv":
                assert header is not None
                cells = line.split("\t")
                if not line.strip():
                    yield BadLine(lineno, "empty line")
                    continue
                if len(cells) != len(header):
                    yield BadLine(lineno, f"{len(cells)} columns, the header has {len(header)}")
                    continue
                text = cells[text_col]
                reason = _check_text(text, max_chars)
                meta = {h: c for i, (h, c) in enumerate(zip(header, cells)) if i != text_col}
                yield BadLine(lineno, reason) if reason else Record(lineno, text, meta)
            else:
                yield _jsonl_record(lineno, line, text_field or "text", max_chars)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _jsonl_record(lineno: int, line: str, text_field: str, max_chars: int) -> Record | BadLine:
    if not line.strip():
        return BadLine(lineno, "empty line")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadLine(lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(obj, dict):
        return BadLine(lineno, f"expected a JSON object, got {type(obj).__name__}")
    if text_field not in obj:
        return BadLine(lineno, f"no {text_field!r} field")
    text = obj[text_field]
    reason = _check_text(text, max_chars)
    if reason:
        return BadLine(lineno, reason)
    if "meta" in obj and not isinstance(obj["meta"], (dict, type(None))):
        return BadLine(lineno, f"'meta' must be a JSON object, got {type(obj['meta']).__name__}")
    if _SURROGATE_ESCAPE.search(line):
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            return BadLine(lineno, f"lone surrogate {exc.object[exc.start]!r} (a \\u escape that is no character)")
    if any(k in obj for k in ANNOTATION_FIELDS):
        from annotators.annotation import Annotation, AnnotationError

        ann = {k: obj[k] for k in ANNOTATION_FIELDS if k in obj}
        meta = dict(obj.get("meta") or {})
        meta.update({k: v for k, v in obj.items() if k not in ANNOTATION_FIELDS and k not in (text_field, "meta")})
        try:
            Annotation.from_dict({"text": text, **ann})
        except AnnotationError as exc:
            return BadLine(lineno, f"invalid annotation: {exc}")
        return Record(lineno, text, meta, {"text": text, **ann})
    meta = {k: v for k, v in obj.items() if k != text_field}
    return Record(lineno, text, meta)


# --------------------------------------------------------------------------- output / resume
SIDECAR_SUFFIX = ".annotate.json"


class OutputError(ValueError):
    """``--out`` cannot be used without losing data (see the module doc); says why."""


def sidecar_path(out: str | os.PathLike) -> Path:
    """The resume sidecar of ``out``: ``<out>.annotate.json``."""
    return Path(str(out) + SIDECAR_SUFFIX)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_identity(inp: Path, *, fmt: str | None, text_field: str | None, max_chars: int) -> dict[str, Any]:
    """What a resumable output must have been written from: the input and the reading options."""
    return {"tool": "annotators.annotate", "input": str(inp.resolve()), "input_bytes": inp.stat().st_size,
            "input_sha256": _sha256(inp), "format": detect_format(inp, fmt), "text_field": text_field,
            "max_chars": int(max_chars)}


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(inp: Path, out: Path, identity: dict[str, Any], *, overwrite: bool,
                 errors_path: Path | None = None) -> bool:
    """Decide whether ``out`` may be written; returns True when it is resumed (else it is started
    afresh). Raises :class:`OutputError` for ``--out``/``--errors`` naming the input, and for an
    existing non-empty ``out`` that this tool did not write for this input (without ``overwrite``)."""
    for what, path in (("--out", out), ("--errors", errors_path)):
        if path is not None and (_same_file(inp, path) or inp.resolve() == path.resolve()):
            raise OutputError(f"{path}: {what} is the input file; refusing to overwrite the input")
    if overwrite or not out.exists() or out.stat().st_size == 0:
        return False
    side = sidecar_path(out)
    try:
        recorded = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    if not isinstance(recorded, dict):
        raise OutputError(f"{out}: exists and was not written by annotators.annotate (no valid {side.name} "
                          "beside it); not resuming into it, nothing changed (use --overwrite to replace it, "
                          "or choose another --out)")
    diff = [k for k in identity if recorded.get(k) != identity[k]]
    if diff:
        raise OutputError(f"{out}: was written for another input or options ({', '.join(diff)} differ from "
                          f"{side.name}); not resuming, nothing changed (use --overwrite to start again)")
    return True


def prepare_output(out: Path, overwrite: bool = False) -> int:
    """Count the complete, valid JSON lines of ``out`` and cut off anything after them.

    Returns the count (0 for a missing file). A partially written or invalid *last* line is
    truncated; an invalid line followed by valid ones means the file is not ours: ``ValueError``.
    """
    if overwrite or not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"")
        return 0
    n = 0
    good_end = 0
    bad_at: int | None = None
    with open(out, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            ok = raw.endswith(b"\n")
            if ok:
                try:
                    ok = isinstance(json.loads(raw), dict)
                except ValueError:
                    ok = False
            if not ok:
                if bad_at is None:
                    bad_at = lineno
                continue
            if bad_at is not None:
                raise ValueError(f"{out}:{bad_at}: not a valid annotation line, and valid lines follow it; "
                                 "not resuming (use --overwrite to start again)")
            n += 1
            good_end += len(raw)
    if good_end < out.stat().st_size:
        with open(out, "r+b") as fh:
            fh.truncate(good_end)
    return n


def _last_source_line(out: Path, name: str) -> int | None:
    """The input line of the last record in ``out`` (from ``meta["source"]``), or None. Resuming
    after it (rather than after as many good records as there are lines) stays right when a
    record the pipeline failed on was left out."""
    last = b""
    with open(out, "rb") as fh:
        for raw in fh:
            if raw.strip():
                last = raw
    try:
        source = json.loads(last)["meta"]["source"]
        file, line = str(source).rsplit(":", 1)
        return int(line) if file == name else None
    except (ValueError, KeyError, TypeError):
        return None


def _write_sidecar(out: Path, identity: dict[str, Any]) -> None:
    from knowledge.tempfiles import remove_stale_temporaries, temp_path

    side = sidecar_path(out)
    remove_stale_temporaries(side.parent, f".{side.name}.")
    tmp = temp_path(side)
    tmp.write_text(json.dumps(identity, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, side)


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


# --------------------------------------------------------------------------- the run
Job = tuple[Any, dict[str, Any]]
"""One unit of work: (text, or a user annotation as a dict; the record's meta)."""

_WORKER_NLP = None  # the pipeline in a worker process (inherited on fork, sent once on spawn)


def annotate_batch(nlp, jobs: Sequence[Job]) -> list[str]:
    """Annotate one batch with ``nlp.pipe``: the output JSON lines, in order, meta merged in."""
    from annotators.convert import from_annotation, to_annotation

    inputs = [from_annotation(nlp, payload) if isinstance(payload, dict) else payload for payload, _ in jobs]
    lines = []
    for doc, (_, meta) in zip(nlp.pipe(inputs, batch_size=max(1, len(jobs))), jobs):
        ann = to_annotation(doc)
        ann.meta = {**ann.meta, **meta}
        lines.append(ann.to_json())
    return lines


class Failed:
    """A record the pipeline raised on (the rest of its batch is kept): line and reason."""

    __slots__ = ("line", "reason")

    def __init__(self, line: int | str, reason: str) -> None:
        self.line, self.reason = line, reason


def annotate_batch_safe(nlp, jobs: Sequence[Job]) -> list[str | Failed]:
    """:func:`annotate_batch`, but a batch that raises is redone record by record, and each record
    that still raises becomes a :class:`Failed` (named by the line in its ``meta["source"]``)."""
    try:
        return list(annotate_batch(nlp, jobs))
    except Exception:  # noqa: BLE001 - any error of one record must not lose the others
        pass
    out: list[str | Failed] = []
    for job in jobs:
        try:
            out += annotate_batch(nlp, [job])
        except Exception as exc:  # noqa: BLE001
            source = str(job[1].get("source", "?"))
            out.append(Failed(source.rsplit(":", 1)[-1], f"annotation failed: {type(exc).__name__}: {exc}"))
    return out


def _init_worker(nlp) -> None:
    global _WORKER_NLP
    if nlp is not None:
        _WORKER_NLP = nlp


def _worker_batch(jobs: Sequence[Job]) -> list[str | Failed]:
    return annotate_batch_safe(_WORKER_NLP, jobs)


def annotate_batches(nlp, jobs: Iterator[Job], *, n_process: int = 1,
                     batch_size: int = 64) -> Iterator[list[str | Failed]]:
    """Yield the output lines batch by batch, in input order, over ``n_process`` processes.

    Workers run ``nlp.pipe`` on whole batches and send back JSON lines. (spaCy's own
    ``nlp.pipe(n_process=N)`` also works with these components, but it ships every ``Doc`` back
    through ``Doc.to_bytes``, which costs milliseconds per doc here because srsly's msgpack looks
    up its encoder registry on every call; see the benchmark.) At most ``2 * n_process`` batches
    are in flight, so the input is streamed, never read whole. With the ``srl`` component the
    workers are spawned (each loads the model itself) rather than forked.
    """
    import itertools
    import multiprocessing as mp
    from collections import deque

    batches = iter(lambda: list(itertools.islice(jobs, batch_size)), [])
    if n_process <= 1:
        for batch in batches:
            yield annotate_batch_safe(nlp, batch)
        return
    global _WORKER_NLP
    # torch (the srl component) is not fork-safe once its thread pools exist: spawn workers then
    ctx = mp.get_context("spawn") if "srl" in nlp.pipe_names else mp.get_context()
    fork = ctx.get_start_method() == "fork"
    if fork:
        nlp(".")  # load jieba and the KG matcher once, before forking: the workers inherit them
        _WORKER_NLP = nlp
    try:
        with ctx.Pool(n_process, initializer=_init_worker, initargs=(None if fork else nlp,)) as pool:
            pending: deque = deque()
            for batch in batches:
                pending.append(pool.apply_async(_worker_batch, (batch,)))
                if len(pending) >= 2 * n_process:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
    finally:
        if fork:
            _WORKER_NLP = None


def annotate_file(
    nlp,
    inp: str | os.PathLike,
    out: str | os.PathLike,
    *,
    fmt: str | None = None,
    text_field: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    n_process: int = 1,
    batch_size: int = 64,
    overwrite: bool = False,
    errors_path: str | os.PathLike | None = None,
    progress: bool = True,
    log: TextIO | None = None,
    max_errors_shown: int = 20,
) -> Summary:
    """Annotate ``inp`` into ``out`` with the spaCy pipeline ``nlp`` (see module doc)."""
    from tqdm import tqdm

    from annotators.annotation import AnnotationError
    from annotators.convert import from_annotation

    inp, out = Path(inp), Path(out)
    log = sys.stderr if log is None else log
    errors_path = Path(errors_path) if errors_path else Path(str(out) + ".errors.tsv")
    if not inp.is_file():
        raise FileNotFoundError(f"{inp}: no such input file")
    identity = run_identity(inp, fmt=fmt, text_field=text_field, max_chars=max_chars)
    resuming = check_output(inp, out, identity, overwrite=overwrite, errors_path=errors_path)
    summary = Summary(errors_path=str(errors_path))
    summary.resumed = done = prepare_output(out, overwrite=not resuming)
    last_line = _last_source_line(out, inp.name) if done else None
    _write_sidecar(out, identity)
    bar = tqdm(total=_count_lines(inp), unit="line", desc="annotate", disable=not progress, file=log)
    good_seen = 0

    def records(err_fh) -> Iterator[Job]:
        nonlocal good_seen

        def report(bad: BadLine) -> None:
            summary.bad += 1
            err_fh.write(f"{inp}\t{bad.line}\t{bad.reason}\n")
            if summary.bad <= max_errors_shown:
                bar.write(f"{inp}:{bad.line}: skipped: {bad.reason}", file=log)

        for item in read_records(inp, fmt, text_field=text_field, max_chars=max_chars):
            bar.update(1)
            if isinstance(item, BadLine):
                report(item)
                continue
            if item.annotation is not None:
                try:  # spans that cut through the user's words cannot become spaCy spans
                    from_annotation(nlp, item.annotation)
                except AnnotationError as exc:
                    report(BadLine(item.line, f"invalid annotation: {exc}"))
                    continue
            good_seen += 1
            if (item.line <= last_line) if last_line is not None else (good_seen <= done):
                continue
            meta = {**item.meta, "source": f"{inp.name}:{item.line}"}
            yield (item.annotation if item.annotation is not None else item.text, meta)

    with open(errors_path, "w", encoding="utf-8") as err_fh, open(out, "a", encoding="utf-8") as out_fh:
        err_fh.write("file\tline\treason\n")
        for lines in annotate_batches(nlp, records(err_fh), n_process=n_process, batch_size=batch_size):
            for line in lines:
                if isinstance(line, Failed):  # the pipeline failed on this record alone
                    summary.bad += 1
                    err_fh.write(f"{inp}\t{line.line}\t{line.reason}\n")
                    if summary.bad <= max_errors_shown:
                        bar.write(f"{inp}:{line.line}: skipped: {line.reason}", file=log)
                    continue
                out_fh.write(line)
                out_fh.write("\n")
                summary.written += 1
            out_fh.flush()
            err_fh.flush()
    bar.close()
    if summary.bad == 0:
        errors_path.unlink(missing_ok=True)
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m annotators.annotate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--in", dest="inp", required=True, help="input texts (.txt, .jsonl or .tsv)")
    p.add_argument("--out", required=True,
                   help="output JSONL (resumed when this tool wrote it for the same input; see OUT.annotate.json)")
    p.add_argument("--kg", help="KG store (knowledge.build_kg output); needed by kg_entities")
    p.add_argument("--components", default=None,
                   help="comma-separated: kg_entities,entities,phrases,srl "
                        "(default: kg_entities,entities,phrases with --kg, entities,phrases without)")
    p.add_argument("--user-dict", action="append", default=[], help="jieba user dictionary (repeatable)")
    p.add_argument("--no-pos", action="store_true", help="no jieba POS tagging (faster; no 'entities', fewer phrases)")
    p.add_argument("--srl-model", help="directory of a trained SRL tagger (for the srl component)")
    p.add_argument("--format", choices=["txt", "jsonl", "tsv"], help="input format (default: by extension)")
    p.add_argument("--text-field", help="JSONL key / TSV column of the text")
    p.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="longer texts are skipped as bad lines")
    p.add_argument("--n-process", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--errors", help="where to write bad lines (default: OUT.errors.tsv)")
    p.add_argument("--overwrite", action="store_true", help="start from scratch instead of resuming")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from annotators.pipeline import make_pipeline

    if args.components:
        components = tuple(c.strip() for c in args.components.split(",") if c.strip())
    else:
        components = ("kg_entities", "entities", "phrases") if args.kg else ("entities", "phrases")
        if args.no_pos:  # the default list adapts; an explicit one is checked by make_pipeline
            components = tuple(c for c in components if c != "entities")
    try:
        nlp = make_pipeline(kg=args.kg, components=components, user_dicts=args.user_dict,
                            pos=False if args.no_pos else None, srl_model=args.srl_model)
        summary = annotate_file(
            nlp, args.inp, args.out, fmt=args.format, text_field=args.text_field, max_chars=args.max_chars,
            n_process=args.n_process, batch_size=args.batch_size, overwrite=args.overwrite,
            errors_path=args.errors, progress=not args.no_progress,
        )
    except (ValueError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
