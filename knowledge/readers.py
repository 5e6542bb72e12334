"""Streaming triple readers: K-BERT ``.spo``, N-Triples, Turtle, CSV/TSV (any of them gzipped).

Every reader is a generator of ``(subject, predicate, object)`` string tuples that reports each
malformed line through ``bad(line_number, reason)`` and goes on. Bytes are read in binary and
decoded line by line, so a line with invalid UTF-8 is one bad line, not a crashed build.
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path
from itertools import repeat
from typing import BinaryIO, Callable, Iterable, Iterator, cast
from urllib.parse import quote, unquote

BadFn = Callable[[int, str], None]
TripleIter = Iterable[tuple[str, str, str]]

#: Namespace used by :func:`knowledge.to_rdf` for entity and relation IRIs; importing N-Triples or
#: Turtle maps IRIs under it back to the plain names, so export -> import round-trips exactly.
ENTITY_NS = "http://kgbert.local/entity/"
RELATION_NS = "http://kgbert.local/relation/"
_GENID = "https://rdflib.github.io/.well-known/genid/rdflib/"

FORMATS = ("spo", "nt", "turtle", "csv", "tsv")
_EXTENSIONS = {".spo": "spo", ".txt": "spo", ".nt": "nt", ".ntriples": "nt", ".ttl": "turtle",
               ".turtle": "turtle", ".csv": "csv", ".tsv": "tsv"}
SUBJECT_COLUMNS = ("subject", "s", "head", "h", "subj", "主体", "实体")
PREDICATE_COLUMNS = ("predicate", "p", "relation", "r", "rel", "pred", "属性", "关系")
OBJECT_COLUMNS = ("object", "o", "tail", "t", "obj", "value", "值", "客体")


def is_gzip(path: Path) -> bool:
    """True for ``*.gz`` files or files starting with the gzip magic bytes."""
    if path.suffix == ".gz":
        return True
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def detect_format(path: Path) -> str:
    """Input format from the extension (``x.nt.gz`` -> ``nt``); ValueError when unknown."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise ValueError(f"{path}: cannot tell the format from the extension; pass --format "
                         f"({', '.join(FORMATS)})")
    return fmt


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(stream to read, raw file whose ``tell()`` counts the bytes consumed on disk)."""
    raw = open(path, "rb")
    if is_gzip(path):
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    return raw, raw


def _decode(raw: bytes, n: int, bad: BadFn) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad(n, f"invalid UTF-8 at byte {exc.start}")
        return None


Columns = tuple[list[str], list[str], list[str]]
#: bytes read per ``.spo`` chunk (1 MiB: larger chunks are no faster and cost peak memory)
SPO_CHUNK_BYTES = 1 << 20


class SpoReader:
    """K-BERT ``.spo`` reader: ``subject<TAB>predicate<TAB>object`` per line; blank lines skipped.

    Fields are stripped of surrounding whitespace; a line with a column count other than 3 or an
    empty field is bad. Iterating gives ``(s, p, o)`` tuples; :meth:`chunks` gives the same
    triples as column lists ``(subjects, predicates, objects)``, one per chunk of input bytes,
    which is what the fast build path consumes. A chunk is decoded, split and checked with a few
    whole-chunk string operations; only a chunk that holds a bad line, a blank line or invalid
    UTF-8 is parsed line by line (so bad lines are still reported at their exact line number).
    """

    def __init__(self, stream: BinaryIO, bad: BadFn, sep: str = "\t",
                 chunk_size: int | None = None) -> None:
        self.stream, self.bad, self.sep = stream, bad, sep
        self.chunk_size = chunk_size or SPO_CHUNK_BYTES

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        for subjects, predicates, objects in self.chunks():
            yield from zip(subjects, predicates, objects)

    def _raw_chunks(self) -> Iterator[bytes]:
        """Byte chunks of whole lines (the last newline of each chunk dropped)."""
        tail = b""
        while True:
            chunk = self.stream.read(self.chunk_size)
            if not chunk:
                if tail:
                    yield tail
                return
            chunk = tail + chunk if tail else chunk
            cut = chunk.rfind(b"\n")
            if cut < 0:
                tail = chunk
                continue
            tail = chunk[cut + 1:]
            yield chunk[:cut]

    def chunks(self) -> Iterator[Columns]:
        """Column lists per chunk; bad lines go to ``bad(line_number, reason)``."""
        n = 0  # lines before the current chunk
        sep = self.sep
        for chunk in self._raw_chunks():
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError:
                lines: list = chunk.split(b"\n")
                yield self._slow(lines, n)
                n += len(lines)
                continue
            if n == 0 and text[:1] == "\ufeff":
                text = text[1:]
            lines = text.split("\n")
            cols = _fast_columns(text, lines, sep)
            yield cols if cols is not None else self._slow(lines, n)
            n += len(lines)

    def _slow(self, lines: list, n: int) -> Columns:
        """Line-by-line parse of one chunk whose first line is line ``n + 1``."""
        subjects: list[str] = []
        predicates: list[str] = []
        objects: list[str] = []
        bad, sep = self.bad, self.sep
        for line in lines:
            n += 1
            if not isinstance(line, str):
                try:
                    line = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad(n, f"invalid UTF-8 at byte {exc.start}")
                    continue
            if n == 1 and line[:1] == "\ufeff":
                line = line[1:]
            parts = line.split(sep)
            if len(parts) == 3:
                s, p, o = parts
                s, p, o = s.strip(), p.strip(), o.strip()
                if s and p and o:
                    subjects.append(s)
                    predicates.append(p)
                    objects.append(o)
                    continue
                bad(n, "empty " + ", ".join(k for k, v in zip(("subject", "predicate", "object"),
                                                              (s, p, o)) if not v))
            elif len(parts) == 1 and not parts[0].strip():
                continue
            else:
                bad(n, f"expected 3 tab-separated fields, found {len(parts)}")
        return subjects, predicates, objects


def _fast_columns(text: str, lines: list[str], sep: str) -> Columns | None:
    """Columns of a chunk in which every line has exactly 3 non-blank fields, else None.

    All work is done by C-level string/list operations (no Python loop per line).
    """
    if text.count(sep) != 2 * len(lines):
        return None
    if list(map(str.count, lines, repeat(sep))).count(2) != len(lines):
        return None
    fields = list(map(str.strip, text.replace("\n", sep).split(sep)))
    if not all(fields):
        return None
    return fields[0::3], fields[1::3], fields[2::3]


def read_spo(stream: BinaryIO, bad: BadFn, sep: str = "\t",
             chunk_size: int | None = None) -> SpoReader:
    """K-BERT ``.spo`` triples (see :class:`SpoReader`); iterate it for ``(s, p, o)`` tuples."""
    return SpoReader(stream, bad, sep, chunk_size)


def iri_to_name(iri: str, names: str = "auto") -> str:
    """Entity/relation name for an IRI.

    ``auto``: IRIs in the kgbert namespaces are decoded back to the plain name, other IRIs are
    kept whole; ``local``: additionally reduce other IRIs to their percent-decoded local name
    (after the last ``#`` or ``/``).
    """
    for ns in (ENTITY_NS, RELATION_NS):
        if iri.startswith(ns):
            return unquote(iri[len(ns):])
    if iri.startswith(_GENID):
        return "_:" + iri[len(_GENID):]
    if names == "local":
        cut = max(iri.rfind("#"), iri.rfind("/"))
        local = unquote(iri[cut + 1:]) if cut >= 0 else iri
        return local or iri
    return iri


def name_to_iri(name: str, relation: bool = False) -> str:
    """The IRI used by :func:`knowledge.to_rdf` for an entity or relation name."""
    return (RELATION_NS if relation else ENTITY_NS) + quote(name, safe="")


def _term_name(term, names: str) -> str:
    from rdflib import BNode, Literal

    if isinstance(term, Literal):
        return str(term)
    if isinstance(term, BNode):
        return "_:" + str(term)
    return iri_to_name(str(term), names)


class _ListSink:
    def __init__(self) -> None:
        self.items: list = []

    def triple(self, s, p, o) -> None:  # noqa: D401 - rdflib sink protocol
        self.items.append((s, p, o))


def read_ntriples(stream: BinaryIO, bad: BadFn, names: str = "auto") -> TripleIter:
    """N-Triples, streamed line by line through rdflib's W3C N-Triples line parser.

    Literals become their lexical form (language tags and datatypes are dropped); blank nodes
    become ``_:label`` (their label in the document).
    """
    from rdflib.exceptions import ParserError
    from rdflib.plugins.parsers.ntriples import W3CNTriplesParser

    sink = _ListSink()
    parser = W3CNTriplesParser(sink)  # type: ignore[arg-type]  # rdflib annotates its own sinks only; ours duck-types them
    parser.skolemize = True
    for n, raw in enumerate(stream, 1):
        line = _decode(raw, n, bad)
        if line is None:
            continue
        parser.line = line.rstrip("\r\n")
        try:
            parser.parseline()
        except ParserError as exc:
            bad(n, f"broken N-Triples term: {str(exc)[:120]}")
            continue
        if sink.items:
            s, p, o = sink.items.pop()
            s, p, o = _term_name(s, names), _term_name(p, names), _term_name(o, names)
            if s.strip() and p.strip() and o.strip():
                yield s.strip(), p.strip(), o.strip()
            else:
                bad(n, "empty term")


class _TurtleError(Exception):
    pass


def read_turtle(stream: BinaryIO, bad: BadFn, names: str = "auto") -> TripleIter:
    """Turtle through rdflib (parsed whole: Turtle cannot be streamed), in document order.

    Blank nodes are renamed ``_:b1, _:b2, ...`` by first appearance (deterministic). A syntax
    error is reported at its line; the triples before it are kept, the rest of the file is lost.
    """
    import rdflib
    from rdflib import BNode

    log: list = []

    class _Recorder(rdflib.Graph):
        def add(self, triple):  # type: ignore[override]
            log.append(triple)
            return self

    data = stream.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad(data.count(b"\n", 0, exc.start) + 1, f"invalid UTF-8 at byte {exc.start}")
        return
    try:
        _Recorder().parse(data=text, format="turtle")
    except Exception as exc:  # rdflib raises BadSyntax and assorted others
        line = getattr(exc, "lines", None)
        line = int(line) + 1 if isinstance(line, int) else 0
        reason = str(getattr(exc, "_why", "") or exc).splitlines()[0][:160]
        bad(line, f"broken Turtle: {reason}")
    bnodes: dict[str, str] = {}

    def name(term) -> str:
        if isinstance(term, BNode):
            return bnodes.setdefault(str(term), f"_:b{len(bnodes) + 1}")
        return _term_name(term, names)

    for s, p, o in log:
        s, p, o = name(s).strip(), name(p).strip(), name(o).strip()
        if s and p and o:
            yield s, p, o


def _pick(header: list[str], wanted: tuple[str, ...], given: str | None) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for cand in ((given,) if given else wanted):
        if cand is not None and cand.lower() in lowered:
            return lowered.index(cand.lower())
    return None


def read_table(stream: BinaryIO, bad: BadFn, delimiter: str,
               columns: tuple[str, str, str] | None = None) -> TripleIter:
    """CSV/TSV with a header row naming the subject, predicate and object columns.

    Recognised names (case-insensitive): subject/s/head/h, predicate/p/relation/r,
    object/o/tail/t/value, or the three names given in ``columns``. Extra columns are ignored.
    """

    def lines() -> Iterator[str]:
        for n, raw in enumerate(stream, 1):
            text = _decode(raw, n, bad)
            yield "" if text is None else text

    reader = csv.reader(lines(), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    idx = [_pick(header, cands, columns[i] if columns else None)
           for i, cands in enumerate((SUBJECT_COLUMNS, PREDICATE_COLUMNS, OBJECT_COLUMNS))]
    if None in idx:
        missing = [k for k, i in zip(("subject", "predicate", "object"), idx) if i is None]
        bad(1, f"header {header!r} names no {', '.join(missing)} column "
               f"(name them subject,predicate,object, pass --columns, or use --format spo for "
               f"headerless tab-separated triples); file skipped")
        return
    width = len(header)
    si, pi, oi = cast("list[int]", idx)  # no None left (checked above)
    for row in reader:
        n = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            bad(n, f"expected {width} columns, found {len(row)}")
            continue
        s, p, o = row[si].strip(), row[pi].strip(), row[oi].strip()
        if s and p and o:
            yield s, p, o
        else:
            bad(n, "empty " + ", ".join(k for k, v in zip(("subject", "predicate", "object"),
                                                          (s, p, o)) if not v))


def read_triples(stream: BinaryIO, fmt: str, bad: BadFn, *, rdf_names: str = "auto",
                 columns: tuple[str, str, str] | None = None) -> TripleIter:
    """Dispatch to the reader for ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "spo":
        return read_spo(stream, bad)
    if fmt == "nt":
        return read_ntriples(stream, bad, rdf_names)
    if fmt == "turtle":
        return read_turtle(stream, bad, rdf_names)
    if fmt == "csv":
        return read_table(stream, bad, ",", columns)
    if fmt == "tsv":
        return read_table(stream, bad, "\t", columns)
    raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


__all__ = ["SpoReader", "FORMATS", "ENTITY_NS", "RELATION_NS", "detect_format", "open_binary", "read_triples",
           "iri_to_name", "name_to_iri"]
