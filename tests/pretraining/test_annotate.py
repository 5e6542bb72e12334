"""The annotation cache (Arrow, keyed, atomic) and word alignment for whole-word masking."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from kgbert.checkpoints import make_tokenizer
from kgbert.pretraining.annotate import AnnotatedSource, JiebaWordAnnotator, align_units, build_cache, cache_key
from kgbert.pretraining.config import CorpusSource, VocabConfig
from kgbert.pretraining.data import PackedCorpus
from kgbert.pretraining.vocab import build_corpus_vocab
from tests.conftest import shared_data
from tests.pretraining.helpers import write_corpus


class _Failing(JiebaWordAnnotator):
    def __init__(self, fail_after):
        super().__init__()
        self.calls, self.fail_after = 0, fail_after

    def __call__(self, lines):
        self.calls += 1
        if self.calls > self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        return super().__call__(lines)


def test_cache_is_atomic_keyed_and_reused(tmp_path):
    p1, _ = write_corpus(tmp_path / "c", n_docs=40)
    src = CorpusSource(path=str(p1))
    root = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        build_cache(src, _Failing(5), root, progress=False)
    assert not [p for p in root.iterdir()]  # nothing half-written left behind
    killed = root / f".{p1.name}-jieba_words-{cache_key(src, JiebaWordAnnotator())[:16]}.xyz"
    killed.mkdir()  # as if a build was killed (-9): no live owner
    (killed / "pid").write_text("999999999")
    ann = JiebaWordAnnotator()
    d = build_cache(src, ann, root, progress=False)
    assert (d / "meta.json").is_file() and (d / "data.arrow").is_file() and not (d / "pid").exists()
    assert not killed.exists()
    mtime = (d / "data.arrow").stat().st_mtime_ns
    assert build_cache(src, ann, root, progress=False) == d and (d / "data.arrow").stat().st_mtime_ns == mtime
    assert cache_key(src, JiebaWordAnnotator(hmm=False)) != cache_key(src, ann)
    p1.write_text(p1.read_text(encoding="utf-8") + "新的一句。\n", encoding="utf-8")
    assert cache_key(src, ann) != cache_key(CorpusSource(path=str(p1), format="docs"), ann)
    docs = list(AnnotatedSource(src, d, ann.fields).iter_split("train"))
    assert len(docs) == 40 and all(len(lines) == len(sp["words"]) for lines, sp in docs)


def test_align_units():
    # "高血压 患者 abc" with words [0,3) [3,5) [6,9) (a space dropped)
    offsets = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9)]
    assert align_units(offsets, [0, 3, 3, 5, 6, 9], True) == [0, 0, 0, 1, 1, 2, 2, 2]
    assert align_units(offsets, [3, 5], False) == [-1, -1, -1, 0, 0, -1, -1, -1]
    assert align_units([], [0, 1], True) == []


def test_packed_word_ids_follow_jieba_words(tmp_path):
    import jieba

    p1, p2 = write_corpus(tmp_path / "c", n_docs=30)
    srcs = [CorpusSource(path=str(p1)), CorpusSource(path=str(p2), format="docs")]
    vocab, _ = build_corpus_vocab(srcs, VocabConfig(min_count=1), progress=False)
    tok = make_tokenizer(vocab)
    ann = JiebaWordAnnotator()
    annotated = {s.label: AnnotatedSource(s, build_cache(s, ann, tmp_path / "cache", progress=False), ann.fields) for s in srcs}
    seqs = list(itertools.islice(iter(PackedCorpus(srcs, tok, 24, seed=0, shuffle_buffer=4, annotated=annotated)), 40))
    words = {w.lower() for s in srcs for doc in open(s.path, encoding="utf-8") for w in jieba.cut(doc.strip())}
    n_multi = 0
    for s in seqs:
        ids, wid = np.asarray(s["input_ids"]), np.asarray(s["word_ids"])
        assert len(wid) == len(ids) and wid[0] == -1 and wid[-1] == -1
        for w in np.unique(wid[wid >= 0]):
            pos = np.flatnonzero(wid == w)
            assert np.all(np.diff(pos) == 1)  # a word is contiguous
            text = "".join(t.removeprefix("##") for t in tok.convert_ids_to_tokens(ids[pos].tolist()))
            if pos[0] > 0 and pos[-1] < len(ids) - 1 and wid[pos[0] - 1] != w:
                assert text in words or any(text in x for x in words), text  # (a word cut by a sequence end is partial)
            n_multi += len(pos) > 1
    assert n_multi > 20


def test_jieba_words_identical_to_spacy_pipeline():
    from annotators import make_pipeline, to_annotation

    path = shared_data("corpus_cluecorpussmall", "CLUECorpusSmall_bert_sampled.txt")
    lines = [l.strip() for l in itertools.islice(open(path, encoding="utf-8"), 300) if l.strip()][:200]
    lines += ["ABC 公司 2024年 发布了 iPhone15。", "  空格  在前后  "]
    nlp = make_pipeline(components=[])
    ann = JiebaWordAnnotator()
    fast = ann(lines)
    for doc, f, text in zip(nlp.pipe(lines), fast, lines):
        slow = [x for w in to_annotation(doc).words for x in w]
        assert f["words"] == slow, text


@pytest.mark.slow
def test_ernie_units_from_the_spacy_pipeline(tmp_path):
    """The spaCy annotator caches words, entities and phrases; ernie masks entities whole."""
    from kgbert.data.collators import build_collator
    from kgbert.data.collators import units_from_ids
    from kgbert.pretraining.annotate import SpacyAnnotator

    p = tmp_path / "c.txt"
    p.write_text("北京大学的张三教授在上海发表了重要讲话。\n\n李四昨天去了中国银行办理业务。\n", encoding="utf-8")
    src = CorpusSource(path=str(p))
    ann = SpacyAnnotator()
    d = build_cache(src, ann, tmp_path / "cache", progress=False)
    annotated = {src.label: AnnotatedSource(src, d, ann.fields)}
    vocab, _ = build_corpus_vocab([src], VocabConfig(min_count=1), progress=False)
    tok = make_tokenizer(vocab)
    seqs = list(itertools.islice(iter(PackedCorpus([src], tok, 16, seed=0, shuffle_buffer=1, annotated=annotated)), 6))
    assert all({"word_ids", "entity_ids", "phrase_ids"} <= set(s) for s in seqs)
    assert any(max(s["entity_ids"]) >= 0 for s in seqs) and any(max(s["phrase_ids"]) >= 0 for s in seqs)
    col = build_collator("ernie", tok, seed=0, levels={"entity": 1.0}, mlm_probability=0.5)
    for k in range(20):
        for s in seqs:
            lab = col([{**s, "key": k}])["labels"][0].numpy()
            chosen = lab != -100
            for u in units_from_ids(np.asarray(s["entity_ids"])):
                assert chosen[u].all() or not chosen[u].any()


@pytest.mark.slow
def test_second_strategy_reuses_the_annotation(tmp_path):
    """ernie builds the (fast pipeline's) annotation once; wwm with the same annotator reads it, no rebuild."""
    from kgbert.pretraining.run import prepare_annotations
    from tests.pretraining.helpers import tiny_config

    cache = tmp_path / "cache"
    ernie = tiny_config(tmp_path / "a", **{"masking.strategy": "ernie", "data.cache_dir": str(cache)})
    prepare_annotations(ernie)
    built = {p: p.stat().st_mtime_ns for p in cache.glob("*/data.arrow")}
    assert len(built) == 2
    wwm = tiny_config(tmp_path / "a", **{"masking.strategy": "wwm", "masking.annotator": "fast_pipeline",
                                         "data.cache_dir": str(cache)})
    annotated = prepare_annotations(wwm)
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*/data.arrow")} == built
    lines, spans = next(iter(annotated["paras"].iter_split("train")))
    assert len(spans["words"]) == len(lines) and spans["words"][0]


def test_fast_pipeline_cache_equals_spacy_pipeline_and_workers_do_not_change_it(tmp_path):
    """fast_pipeline writes the spans spacy_pipeline writes, under its own cache key; building with
    two processes writes the same rows in the same order."""
    from datasets import Dataset

    from kgbert.pretraining.annotate import FastPipelineAnnotator, SpacyAnnotator

    p1, _ = write_corpus(tmp_path / "c", n_docs=30)
    src = CorpusSource(path=str(p1))
    fast, spacy_ann = FastPipelineAnnotator(), SpacyAnnotator()
    assert cache_key(src, fast) != cache_key(src, spacy_ann)
    assert cache_key(src, FastPipelineAnnotator(components=["entities"])) != cache_key(src, fast)

    def rows(d):
        return Dataset.from_file(str(d / "data.arrow")).to_list()

    one = rows(build_cache(src, fast, tmp_path / "one", progress=False))
    two = rows(build_cache(src, fast, tmp_path / "two", progress=False, workers=2))
    ref = rows(build_cache(src, spacy_ann, tmp_path / "ref", progress=False))
    assert one == two == ref
    assert sum(len(x) for r in one for x in r["phrases"]) > 0 and sum(len(x) for r in one for x in r["entities"]) > 0
