"""A BERT-Chinese style vocabulary built from a pretraining corpus.

Specials ([PAD]=0, [UNK], [CLS], [SEP], [MASK]), printable ASCII and ``##`` continuations of
letters and digits (so Latin text and numbers never become [UNK]), the most frequent
lower-case Latin words as whole pieces, then every other character seen at least
``min_count`` times, by descending frequency (ties by code point: deterministic). The result
is a plain ``vocab.txt`` that ``BertTokenizer``/``BertTokenizerFast`` read as it is.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from tqdm.auto import tqdm

from kgbert.checkpoints import SPECIAL_TOKENS
from kgbert.pretraining.config import CorpusSource, VocabConfig
from kgbert.pretraining.corpus import iter_split

_LATIN = re.compile(r"[a-z]{2,}")


def count_corpus(sources: Iterable[CorpusSource], max_lines: int | None = None, progress: bool = True) -> tuple[Counter, Counter]:
    """(character counts, Latin word counts) over the training documents (held-out text excluded)."""
    chars: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for src in sources:
        n = 0
        bar = tqdm(desc=f"count {src.label}", unit=" lines", disable=not progress, leave=False)
        for doc in iter_split(src, "train"):
            for line in doc:
                line = line.lower()
                chars.update(line)
                words.update(_LATIN.findall(line))
                n += 1
            bar.update(len(doc))
            if max_lines and n >= max_lines:
                break
        bar.close()
    return chars, words


def vocab_from_counts(chars: Counter, words: Counter, cfg: VocabConfig) -> list[str]:
    ascii_chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    continuations = ["##" + c for c in ascii_chars if c.isalnum()]
    vocab = list(SPECIAL_TOKENS) + ascii_chars + continuations
    seen = set(vocab)
    latin = [w for w, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if n >= cfg.min_count and w not in seen]
    latin = latin[: cfg.latin_words]
    vocab += latin
    seen.update(latin)
    ranked = sorted(
        (c for c, n in chars.items() if n >= cfg.min_count and c not in seen and not c.isspace()),
        key=lambda c: (-chars[c], c),
    )
    if cfg.max_size is not None:
        ranked = ranked[: max(0, cfg.max_size - len(vocab))]
    return vocab + ranked


def build_corpus_vocab(sources: list[CorpusSource], cfg: VocabConfig, progress: bool = True) -> tuple[list[str], Counter]:
    """The vocabulary and the character counts it came from."""
    chars, words = count_corpus(sources, cfg.max_lines, progress)
    return vocab_from_counts(chars, words, cfg), chars
