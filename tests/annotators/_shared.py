"""Helpers shared by the annotator tests: one KG store and one pipeline per setting, per session.

Cached at module level (not as fixtures) so several test modules share the jieba dictionary load
and the KG build; everything real comes from ../shared/data through ``shared_data`` (skips if absent).
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from tests.conftest import shared_data

_TMP = Path(tempfile.mkdtemp(prefix="kgbert-annotators-tests-"))
atexit.register(shutil.rmtree, _TMP, True)


@lru_cache(maxsize=None)
def medical_kg() -> str:
    """The K-BERT Medical KG built into a store (built once per session)."""
    import knowledge

    src = shared_data("kg_medical", "Medical.spo")
    out = _TMP / "medical.sqlite"
    if not out.exists():
        knowledge.build_kg([src], out)
    return str(out)


@lru_cache(maxsize=None)
def pipeline(kg: bool = True, components: tuple[str, ...] = ("kg_entities", "entities", "phrases"), pos: bool | None = None):
    import annotators

    return annotators.make_pipeline(kg=medical_kg() if kg else None, components=components, pos=pos)


def medical_sentences(n: int = 40) -> list[str]:
    """Real clinical sentences (medical_ner dev, characters joined back)."""
    path = shared_data("medical_ner", "dev.tsv")
    out = []
    with open(path, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            text = line.split("\t")[0].replace(" ", "")
            if text:
                out.append(text)
            if len(out) >= n:
                break
    return out


def corpus_sentences(n: int = 40) -> list[str]:
    """Real web/news sentences (CLUECorpusSmall, one sentence per line)."""
    path = shared_data("corpus_cluecorpussmall", "CLUECorpusSmall_bert_sampled.txt")
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.strip() and len(line) < 300:
                out.append(line)
            if len(out) >= n:
                break
    return out
