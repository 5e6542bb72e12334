"""Chinese word segmentation: a dedicated jieba instance (plus optional POS), user dictionaries,
and *protected spans* (KG mentions) that always come out as single words.

Why not spaCy's built-in ``segmenter = "jieba"``: it calls the module-level ``jieba.cut``, whose
dictionary is process-global, so adding KG names or user words there would leak into every other
user of jieba in the process. Here every configuration gets its own ``jieba.Tokenizer`` instance,
built once per process and cached (:func:`get_jieba`), and KG mentions found on the raw characters
are cut out *before* jieba sees the text, so each mention is guaranteed to be one word even where
jieba's own dictionary route (or its regex, which splits on spaces and most punctuation) would
have split it.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Iterable, Sequence

Word = tuple[int, int, "str | None"]  # (start, end, POS tag or None); character offsets, end-exclusive

_LOCK = threading.Lock()
_JIEBA_CACHE: dict[tuple, object] = {}
_POS_CACHE: dict[tuple, object] = {}
_FAST_POS_CACHE: dict[tuple, object] = {}
_PKUSEG_CACHE: dict[tuple, object] = {}


def _quiet_jieba() -> None:
    """jieba logs 'Building prefix dict...' at DEBUG to stderr on every load; keep it to warnings."""
    logging.getLogger("jieba").setLevel(logging.WARNING)


def _dict_key(user_dicts: Sequence[str | os.PathLike]) -> tuple:
    """Cache key: resolved paths plus modification times, so an edited dictionary is reloaded."""
    key = []
    for p in user_dicts:
        path = Path(p).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"user dictionary not found: {path}")
        st = path.stat()
        key.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(key)


def get_jieba(user_dicts: Sequence[str | os.PathLike] = ()):
    """A ``jieba.Tokenizer`` with ``user_dicts`` loaded, built once per process and configuration.

    The base dictionary is loaded once (~1 s, from jieba's cache file); an instance with user
    dictionaries starts from a copy of the base instance's tables (tens of milliseconds).
    Forked workers (``nlp.pipe(n_process=N)`` on Linux) inherit the parent's instances; spawned
    ones build their own on first use.
    """
    key = _dict_key(user_dicts)
    with _LOCK:
        tok = _JIEBA_CACHE.get(key)
        if tok is not None:
            return tok
        import jieba

        _quiet_jieba()
        base = _JIEBA_CACHE.get(())
        if base is None:
            base = jieba.Tokenizer()
            base.initialize()
            _JIEBA_CACHE[()] = base
        if not key:
            return base
        tok = jieba.Tokenizer()
        tok.FREQ, tok.total, tok.initialized = dict(base.FREQ), base.total, True
        for p in user_dicts:
            try:
                tok.load_userdict(str(Path(p).expanduser().resolve()))
            except ValueError as exc:  # jieba names the file and line itself
                raise ValueError(f"bad user dictionary: {exc}") from None
        _JIEBA_CACHE[key] = tok
        return tok


def get_posseg(user_dicts: Sequence[str | os.PathLike] = (), fast: bool = False):
    """A ``jieba.posseg.POSTokenizer`` over :func:`get_jieba`'s instance (same dictionaries);
    ``fast``: :class:`annotators.posfast.FastPOSTokenizer` (the same words and tags, faster)."""
    key = _dict_key(user_dicts)
    tok = get_jieba(user_dicts)
    if fast:
        base = get_posseg(user_dicts)
        with _LOCK:
            fast_pt = _FAST_POS_CACHE.get(key)
            if fast_pt is None:
                from annotators.posfast import FastPOSTokenizer

                fast_pt = _FAST_POS_CACHE[key] = FastPOSTokenizer.sharing(base)
            return fast_pt
    with _LOCK:
        pt = _POS_CACHE.get(key)
        if pt is None:
            import jieba.posseg

            base = _POS_CACHE.get(())
            if base is None:
                base = jieba.posseg.POSTokenizer(_JIEBA_CACHE[()])  # built by get_jieba above
                _POS_CACHE[()] = base
            if not key:
                return base
            pt = object.__new__(jieba.posseg.POSTokenizer)  # skip re-reading the tag table from disk
            pt.tokenizer = tok
            pt.word_tag_tab = dict(base.word_tag_tab)
            _POS_CACHE[key] = pt
        return pt


def get_pkuseg(model_dir: str | os.PathLike, user_dicts: Sequence[str | os.PathLike] = ()):
    """A ``spacy_pkuseg.pkuseg`` segmenter from a user-supplied model directory (never downloaded)."""
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"pkuseg model directory not found: {path} (pkuseg needs a local model; use segmenter='jieba' otherwise)"
        )
    try:
        import spacy_pkuseg
    except ImportError:
        raise ImportError(
            "segmenter='pkuseg' needs the spacy-pkuseg package (pip install 'spacy-pkuseg>=0.0.27,<0.1.0')"
        ) from None
    key = (str(path.resolve()), _dict_key(user_dicts))
    with _LOCK:
        seg = _PKUSEG_CACHE.get(key)
        if seg is None:
            words: list[str] = []
            for p in user_dicts:
                with open(p, encoding="utf-8") as fh:
                    words.extend(line.split()[0] for line in fh if line.strip())
            seg = spacy_pkuseg.pkuseg(str(path.resolve()), user_dict=words or "default")
            _PKUSEG_CACHE[key] = seg
        return seg


def _align(text: str, offset: int, pieces: Iterable[tuple[str, str | None]]) -> list[Word]:
    """Turn segmenter output (word strings, in order) into character offsets within ``text``."""
    out: list[Word] = []
    pos = 0
    for piece, tag in pieces:
        if not piece:
            continue
        start = text.find(piece, pos)
        if start < 0:  # a segmenter that rewrote characters: offsets would be wrong, so refuse
            raise ValueError(f"segmenter output {piece!r} not found in {text[pos:pos + 20]!r}")
        if start > pos:  # characters the segmenter dropped (e.g. some whitespace): keep them as a word
            out.append((offset + pos, offset + start, None))
        out.append((offset + start, offset + start + len(piece), tag))
        pos = start + len(piece)
    if pos < len(text):
        out.append((offset + pos, offset + len(text), None))
    return out


class Segmenter:
    """Segments text into words (with jieba POS tags when ``pos``), keeping protected spans whole.

    Picklable: only the configuration travels; jieba/pkuseg are rebuilt (from the per-process
    cache) in the receiving process.
    """

    def __init__(
        self,
        *,
        segmenter: str = "jieba",
        pos: bool = False,
        user_dicts: Sequence[str | os.PathLike] = (),
        pkuseg_model: str | os.PathLike | None = None,
        hmm: bool = True,
        fast_pos: bool = False,
    ) -> None:
        if segmenter not in ("jieba", "pkuseg"):
            raise ValueError(f"unknown segmenter {segmenter!r}; use 'jieba' or 'pkuseg'")
        if segmenter == "pkuseg" and pkuseg_model is None:
            raise ValueError("segmenter='pkuseg' needs pkuseg_model: the directory of a local pkuseg model")
        if segmenter == "pkuseg" and pos:
            raise ValueError("POS tags come from jieba.posseg; use segmenter='jieba' with pos=True")
        self.segmenter = segmenter
        self.pos = bool(pos)
        self.user_dicts = tuple(str(p) for p in user_dicts)
        self.pkuseg_model = None if pkuseg_model is None else str(pkuseg_model)
        self.hmm = bool(hmm)
        self.fast_pos = bool(fast_pos)  # POS tags from annotators.posfast (same output as jieba.posseg)
        _dict_key(self.user_dicts)  # fail early on a missing dictionary
        if self.pkuseg_model is not None and segmenter == "pkuseg":
            get_pkuseg(self.pkuseg_model, self.user_dicts)  # fail early on a missing model/package

    def __reduce__(self):
        return (
            _rebuild_segmenter,
            (self.segmenter, self.pos, self.user_dicts, self.pkuseg_model, self.hmm, self.fast_pos),
        )

    def cut_plain(self, text: str) -> list[tuple[str, str | None]]:
        """Segment one stretch of text (no protected spans): ``[(word, tag_or_None)]``."""
        if not text:
            return []
        if self.segmenter == "pkuseg":
            return [(w, None) for w in get_pkuseg(self.pkuseg_model, self.user_dicts).cut(text)]  # type: ignore[arg-type]
        if self.pos:
            return [(p.word, p.flag) for p in get_posseg(self.user_dicts, self.fast_pos).cut(text, HMM=self.hmm)]
        return [(w, None) for w in get_jieba(self.user_dicts).cut(text, HMM=self.hmm)]

    def tag_of(self, word: str, default: str = "nz") -> str | None:
        """The dictionary POS tag of a whole word (protected spans, a user's words), else ``default``."""
        if not self.pos:
            return None
        pt = get_posseg(self.user_dicts)
        pt.makesure_userdict_loaded()
        return pt.word_tag_tab.get(word, default)

    def segment(self, text: str, protected: Iterable[tuple[int, int]] = (), boundaries: Iterable[int] = ()) -> list[Word]:
        """Words of ``text`` as ``(start, end, tag)``; every protected span is exactly one word.

        ``protected`` spans must not overlap each other (e.g. :meth:`EntityMatcher.find` output);
        outside them, a word boundary is also forced at every offset in ``boundaries``.
        Words cover the whole text, whitespace included (as their own words).
        """
        cuts = sorted(set(boundaries))
        words: list[Word] = []

        def cut_gap(a: int, b: int) -> None:
            points = [a] + [c for c in cuts if a < c < b] + [b]
            for s, e in zip(points, points[1:]):
                words.extend(_align(text[s:e], s, self.cut_plain(text[s:e])))

        pos = 0
        for start, end in sorted(protected):
            if start < pos or not 0 <= start < end <= len(text):
                raise ValueError(f"protected span [{start}, {end}) overlaps another or lies outside the text")
            if start > pos:
                cut_gap(pos, start)
            words.append((start, end, self.tag_of(text[start:end])))
            pos = end
        if pos < len(text):
            cut_gap(pos, len(text))
        return words


def _rebuild_segmenter(segmenter, pos, user_dicts, pkuseg_model, hmm, fast_pos=False) -> Segmenter:
    return Segmenter(segmenter=segmenter, pos=pos, user_dicts=user_dicts, pkuseg_model=pkuseg_model, hmm=hmm,
                     fast_pos=fast_pos)
