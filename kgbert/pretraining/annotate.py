"""Corpus annotation for word- and knowledge-aware masking, cached on disk once.

The cache is one Apache Arrow file per corpus source (written with Hugging Face ``datasets``'
``ArrowWriter``, read memory-mapped with ``datasets.Dataset.from_file``): a row per document with
its lines and, per line, flat character spans ``[s0, e0, s1, e1, ...]`` of ``words``,
``entities`` and ``phrases``. Arrow because it is memory-mappable (the corpus never sits in RAM),
streams row by row, and every tool reads it.

The cache key is the SHA-256 of the source file's bytes, the source's reading options, the
annotator's name, version and options, and :data:`CACHE_VERSION`. Spans are *character*
offsets, aligned to tokens at packing time with the fast tokenizer's offset mapping, so one
annotation serves every vocabulary (a tokenizer change needs no re-annotation; the alignment
is the only tokenizer-dependent step and costs microseconds per line).

A build writes into a temporary directory and renames it into place only when complete (with
``meta.json`` written last inside it), so an interrupted build leaves nothing a later run
trusts; a temporary directory whose process is gone is removed by the next build.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from kgbert.pretraining.config import CorpusSource
from kgbert.pretraining.corpus import Document, is_heldout, iter_documents
from kgbert.pretraining.kg_links import KgLinkAnnotator, kg_id_units

CACHE_VERSION = 1
SPAN_FIELDS = ("words", "entities", "phrases")
UNIT_FIELD = {"words": "word_ids", "entities": "entity_ids", "phrases": "phrase_ids", "kg_ids": "entity_kg_ids"}
ID_FIELDS = frozenset({"entity_kg_ids"})  # per-token values are KG ids, not unit indices: never renumbered


class JiebaWordAnnotator:
    """Words from the project's segmenter (:class:`annotators.segment.Segmenter`, jieba), exactly
    the words the spaCy pipeline's tokenizer reports (whitespace dropped) when no KG protects
    spans. Fast: no spaCy ``Doc`` is built."""

    name = "jieba_words"
    fields = ("words",)

    def __init__(self, hmm: bool = True, user_dicts: Sequence[str] = ()) -> None:
        from annotators.segment import Segmenter

        self.options = {"hmm": bool(hmm), "user_dicts": [str(p) for p in user_dicts]}
        self.segmenter = Segmenter(segmenter="jieba", hmm=hmm, user_dicts=user_dicts)

    @property
    def version(self) -> str:
        import jieba

        return f"jieba-{jieba.__version__}"

    def __call__(self, lines: Sequence[str]) -> list[dict[str, list[int]]]:
        out = []
        for text in lines:
            flat: list[int] = []
            for s, e, _ in self.segmenter.segment(text):
                if not text[s:e].isspace():
                    flat += (s, e)
            out.append({"words": flat})
        return out


class SpacyAnnotator:
    """Words, entities (KG mentions and named entities) and phrases from the project's spaCy
    pipeline (:func:`annotators.make_pipeline` + :func:`annotators.to_annotation`): what ERNIE's
    phrase- and entity-level masking needs."""

    name = "spacy_pipeline"
    fields = ("words", "entities", "phrases")

    def __init__(self, kg: str | None = None, components: Sequence[str] | None = None, batch_size: int = 256) -> None:
        from annotators import make_pipeline

        self.options = _pipeline_options(kg, components)
        self.nlp = make_pipeline(kg=kg, components=components)
        self.batch_size = batch_size

    @property
    def version(self) -> str:
        import spacy

        return f"spacy-{spacy.__version__}"

    def __call__(self, lines: Sequence[str]) -> list[dict[str, list[int]]]:
        from annotators import to_annotation

        out = []
        for doc in self.nlp.pipe(lines, batch_size=self.batch_size):
            a = to_annotation(doc)
            out.append({
                "words": [x for w in a.words for x in w],
                "entities": [x for e in a.entities for x in (e.start, e.end)],
                "phrases": [x for p in a.phrases for x in (p.start, p.end)],
            })
        return out


class FastPipelineAnnotator:
    """The words, entities and phrases of :class:`SpacyAnnotator` (identical, tested), computed
    without spaCy ``Doc`` objects by :class:`annotators.fast.FastAnnotator`, about 4x faster per core
    (``benchmarks/bench_annotate_corpus.py``).
    Same options as ``spacy_pipeline`` (a KG store or None, the components)."""

    name = "fast_pipeline"
    fields = ("words", "entities", "phrases")

    def __init__(self, kg: str | None = None, components: Sequence[str] | None = None) -> None:
        from annotators.fast import FastAnnotator

        self.options = _pipeline_options(kg, components)
        self.annotator = FastAnnotator(kg=kg, components=components)

    @property
    def version(self) -> str:
        import jieba

        return f"fast-{FAST_PIPELINE_VERSION}-jieba-{jieba.__version__}"

    def __call__(self, lines: Sequence[str]) -> list[dict[str, list[int]]]:
        out = []
        for text in lines:
            words, entities, phrases = self.annotator.annotate(text)
            out.append({
                "words": [x for w in words for x in w],
                "entities": [x for e in entities for x in e],
                "phrases": [x for p in phrases for x in p],
            })
        return out


FAST_PIPELINE_VERSION = 1
ANNOTATORS = {"jieba_words": JiebaWordAnnotator, "spacy_pipeline": SpacyAnnotator, "fast_pipeline": FastPipelineAnnotator,
               "kg_links": KgLinkAnnotator}


def build_annotator(name: str, **options: Any):
    try:
        cls = ANNOTATORS[name]
    except KeyError:
        raise ValueError(f"unknown annotator {name!r}; known: {sorted(ANNOTATORS)}") from None
    return cls(**options)


def _pipeline_options(kg: str | None, components: Sequence[str] | None) -> dict[str, Any]:
    """The cache-key options of the pipeline annotators (the KG store's content hash included)."""
    return {"kg": kg, "components": list(components) if components else None,
            "kg_sha256": _file_sha256(kg) if kg and Path(kg).is_file() else None}


def _file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def cache_key(src: CorpusSource, annotator: Any) -> str:
    payload = {
        "v": CACHE_VERSION,
        "file_sha256": _file_sha256(src.path),
        "source": {k: getattr(src, k) for k in ("format", "reader", "task", "column", "header", "strip_spaces")},
        "annotator": {"name": annotator.name, "version": annotator.version, "options": annotator.options},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _features(fields: Sequence[str]):
    from datasets import Features, List, Value

    feats = {"lines": List(Value("string"))}
    for f in fields:
        feats[f] = List(List(Value("int32")))
    return Features(feats)


_WORKER_ANNOTATOR: Any = None


def _init_worker(annotator: Any) -> None:
    global _WORKER_ANNOTATOR
    _WORKER_ANNOTATOR = annotator


def _annotate_doc(doc: Document) -> list[dict[str, list[int]]]:
    return _WORKER_ANNOTATOR(doc)


def _batched(it: Iterator[Document], n: int) -> Iterator[list[Document]]:
    while batch := list(itertools.islice(it, n)):
        yield batch


def annotate_documents(docs: Iterator[Document], annotator: Any, workers: int = 1) -> Iterator[tuple[Document, list]]:
    """``(document, annotator(document))`` in corpus order; ``workers`` > 1 annotates in that many
    forked processes (bounded read-ahead: the corpus is never read whole; the output order, and
    so the cache, is the same for any ``workers``)."""
    if workers <= 1:
        for doc in docs:
            yield doc, annotator(doc)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(annotator,)) as pool:
        pending = None
        for batch in _batched(docs, 256 * workers):
            nxt = (batch, pool.map_async(_annotate_doc, batch, chunksize=32))  # next batch runs while this one is written
            if pending is not None:
                yield from zip(pending[0], pending[1].get())
            pending = nxt
        if pending is not None:
            yield from zip(pending[0], pending[1].get())


def build_cache(src: CorpusSource, annotator: Any, cache_root: str | os.PathLike, progress: bool = True,
                workers: int = 1) -> Path:
    """The cache directory of ``src`` under ``annotator`` (built now unless already complete);
    ``workers``: annotation processes (the cache is the same for any number)."""
    from datasets.arrow_writer import ArrowWriter

    key = cache_key(src, annotator)
    root = Path(cache_root)
    final = root / f"{Path(src.path).name}-{annotator.name}-{key[:16]}"
    if (final / "meta.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{final.name}.*"):  # an interrupted build (its process is gone): never trusted
        if not _owner_alive(stale):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    (tmp / "pid").write_text(str(os.getpid()))
    t0 = time.time()
    n_docs = n_lines = 0
    try:
        with ArrowWriter(features=_features(annotator.fields), path=str(tmp / "data.arrow")) as writer:
            bar = tqdm(desc=f"annotate {src.label}", unit=" lines", disable=not progress, leave=False)
            for doc, spans in annotate_documents(iter_documents(src), annotator, workers):
                row: dict[str, Any] = {"lines": doc}
                for f in annotator.fields:
                    row[f] = [s[f] for s in spans]
                writer.write(row)
                n_docs += 1
                n_lines += len(doc)
                bar.update(len(doc))
            bar.close()
            writer.finalize()
        meta = {"key": key, "source": os.path.abspath(src.path), "annotator": annotator.name, "version": annotator.version,
                "options": annotator.options, "documents": n_docs, "lines": n_lines, "seconds": time.time() - t0,
                "cache_version": CACHE_VERSION}
        with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
            json.dump(meta, fh, ensure_ascii=False, indent=1)
        (tmp / "pid").unlink()
        if (final / "meta.json").is_file():  # another process finished the same build first
            shutil.rmtree(tmp)
            return final
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _owner_alive(tmp: Path) -> bool:
    """Whether the process that writes the temporary build directory ``tmp`` still runs."""
    try:
        pid = int((tmp / "pid").read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AnnotatedSource:
    """Documents of one source read from its cache (memory-mapped), with their spans."""

    def __init__(self, src: CorpusSource, cache_dir: Path, fields: Sequence[str]) -> None:
        from datasets import Dataset

        self.src = src
        self.fields = tuple(fields)
        self.ds = Dataset.from_file(str(cache_dir / "data.arrow"))
        missing = set(self.fields) - set(self.ds.column_names)
        if missing:
            raise ValueError(f"annotation cache {cache_dir} lacks {sorted(missing)}")

    def iter_split(self, split: str) -> Iterator[tuple[Document, dict[str, list[list[int]]]]]:
        want = split == "heldout"
        for batch in self.ds.iter(batch_size=256):
            for i, lines in enumerate(batch["lines"]):
                if is_heldout(lines, self.src.holdout) == want:
                    yield lines, {f: batch[f][i] for f in self.fields}


def align_units(offsets: Sequence[tuple[int, int]], flat_spans: Sequence[int], cover: bool) -> list[int]:
    """Per token: the index of the span (``[s0, e0, s1, e1, ...]``) holding its first character,
    -1 outside every span. ``cover``: spans tile the text (words), so a token between spans
    (whitespace dropped) gets -1 as well."""
    n = len(offsets)
    if n == 0:
        return []
    if len(flat_spans) == 0:
        return [-1] * n
    spans = np.asarray(flat_spans, dtype=np.int64).reshape(-1, 2)
    starts = np.asarray([o[0] for o in offsets], dtype=np.int64)
    idx = np.searchsorted(spans[:, 0], starts, side="right") - 1
    ok = (idx >= 0) & (starts < spans[np.clip(idx, 0, None), 1])
    return np.where(ok, idx, -1).tolist()


def units_for_lines(tokenizer: Any, lines: Sequence[str], spans: dict[str, list[list[int]]]) -> tuple[list[list[int]], list[dict[str, list[int]]]]:
    """Token ids per line and, per line, per-token unit ids for every span field."""
    enc = tokenizer(list(lines), add_special_tokens=False, return_offsets_mapping=True)
    units = []
    for j, offs in enumerate(enc["offset_mapping"]):
        u = {UNIT_FIELD[f]: align_units(offs, spans[f][j], f == "words") for f in spans if f != "kg_ids"}
        if "kg_ids" in spans:  # kg_links: the mention's KG id on its first token
            u[UNIT_FIELD["kg_ids"]] = kg_id_units(offs, spans["entities"][j], spans["kg_ids"][j])
        units.append(u)
    return enc["input_ids"], units


__all__ = ["ANNOTATORS", "AnnotatedSource", "CACHE_VERSION", "FastPipelineAnnotator", "ID_FIELDS", "JiebaWordAnnotator", "KgLinkAnnotator",
           "SpacyAnnotator", "align_units", "annotate_documents", "build_annotator", "build_cache", "cache_key", "units_for_lines"]
