"""Streaming corpus reading for pretraining: plain or gzip files, documents as lists of lines.

Nothing here holds a corpus in memory whole (``examples`` sources, small labelled training
sets read with the project's readers, are the exception). Every problem is a
:class:`CorpusError` naming the file and, where there is one, the line: an unreadable file,
invalid UTF-8, a file without any text.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Iterator

from kgbert.pretraining.config import CorpusSource


class CorpusError(ValueError):
    """Unreadable or invalid corpus input; the message names the file (and line)."""


Document = list[str]
"""A document: its non-empty lines (sentences or paragraphs), stripped."""


def _open_binary(path: Path):
    try:
        fh = open(path, "rb")
        magic = fh.read(2)
        fh.seek(0)
    except OSError as e:
        raise CorpusError(f"{path}: cannot read corpus file ({e.strerror or e})") from None
    if magic == b"\x1f\x8b":
        fh.close()
        return gzip.open(path, "rb")  # owns (and closes) its file
    return fh


def iter_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line without newline); invalid UTF-8 names the line."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such corpus file")
    fh = _open_binary(path)
    try:
        lineno = 0
        try:
            for lineno, raw in enumerate(fh, 1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise CorpusError(f"{path}:{lineno}: invalid UTF-8 at byte {e.start} of the line") from None
                if lineno == 1 and text.startswith("\ufeff"):
                    text = text[1:]
                yield lineno, text.rstrip("\r\n")
        except (OSError, EOFError, zlib.error) as e:
            raise CorpusError(f"{path}:{lineno + 1}: cannot read corpus file ({e})") from None
    finally:
        fh.close()


def _docs_plain(src: CorpusSource) -> Iterator[Document]:
    if src.format == "docs":
        for _, line in iter_lines(src.path):
            line = line.strip()
            if line:
                yield [line]
        return
    doc: Document = []
    for _, line in iter_lines(src.path):
        line = line.strip()
        if line:
            doc.append(line)
        elif doc:
            yield doc
            doc = []
    if doc:
        yield doc


def _docs_tsv_column(src: CorpusSource) -> Iterator[Document]:
    skip = src.header
    for lineno, line in iter_lines(src.path):
        if not line.strip():
            continue
        if skip:
            skip = False
            continue
        fields = line.split("\t")
        if src.column >= len(fields):
            raise CorpusError(f"{src.path}:{lineno}: expected at least {src.column + 1} tab-separated columns, found {len(fields)}")
        text = fields[src.column].strip()
        if src.strip_spaces:
            text = "".join(text.split())
        if text:
            yield [text]


def _docs_examples(src: CorpusSource) -> Iterator[Document]:
    from kgbert.data.readers import DataError, read_examples

    try:
        examples = read_examples(src.path, src.reader, src.task)
    except DataError as e:
        raise CorpusError(str(e)) from None
    except UnicodeDecodeError as e:
        raise CorpusError(f"{src.path}: invalid UTF-8 ({e.reason} at byte {e.start})") from None
    for ex in examples:
        yield [t for t in (ex.text_a, ex.text_b) if t]


def iter_documents(src: CorpusSource) -> Iterator[Document]:
    """The documents of one source, in file order; a source without any text is an error."""
    if src.format in ("docs", "paragraphs"):
        it = _docs_plain(src)
    elif src.format == "tsv_column":
        it = _docs_tsv_column(src)
    elif src.format == "examples":
        it = _docs_examples(src)
    else:
        raise CorpusError(f"{src.path}: unknown corpus format {src.format!r}")
    n = 0
    for doc in it:
        n += 1
        yield doc
    if n == 0:
        raise CorpusError(f"{src.path}: empty corpus file (no text)")


def is_heldout(doc: Document, fraction: float) -> bool:
    """Stable document-level hold-out: a hash of the text, below ``fraction`` of the range."""
    if fraction <= 0:
        return False
    h = zlib.crc32("\n".join(doc).encode("utf-8"))
    return h < fraction * 2**32


def iter_split(src: CorpusSource, split: str) -> Iterator[Document]:
    """Documents of ``src`` in ``split`` ("train": not held out, "heldout": held out)."""
    want = split == "heldout"
    for doc in iter_documents(src):
        if is_heldout(doc, src.holdout) == want:
            yield doc


def source_size(src: CorpusSource) -> int:
    """Bytes on disk (the sampling weight of a source is proportional to it)."""
    try:
        return os.path.getsize(src.path)
    except OSError as e:
        raise CorpusError(f"{src.path}: cannot read corpus file ({e.strerror or e})") from None


def check_sources(sources: list[CorpusSource]) -> None:
    if not sources:
        raise CorpusError("data.corpus is empty: give at least one corpus file")
    for src in sources:
        p = Path(src.path)
        if not p.is_file():
            raise CorpusError(f"{p}: no such corpus file")
        if not os.access(p, os.R_OK):
            raise CorpusError(f"{p}: cannot read corpus file (permission denied)")
        if p.stat().st_size == 0:
            raise CorpusError(f"{p}: empty corpus file (0 bytes)")


__all__ = ["CorpusError", "Document", "check_sources", "is_heldout", "iter_documents", "iter_lines", "iter_split", "source_size"]
