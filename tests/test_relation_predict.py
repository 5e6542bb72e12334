"""Relation models at inference: Pipeline and kgbert.predict insert the trained entity markers."""
from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from kgbert.data.readers import mark_pair, read_relation_tsv
from kgbert.pipeline import Pipeline, PipelineError
from kgbert.predict import main
from tests.training.helpers import ner_config, relation_lines

MARKERS = ["@", "@", "%", "%"]  # not the default ones: the recorded markers must be used


def _relation_file(path: Path, n: int, seed: int) -> Path:
    path.write_text("\n".join(relation_lines(n, seed)) + "\n", encoding="utf-8")
    return path


@functools.lru_cache(maxsize=None)
def relation_run() -> Path:
    """A tiny BERT relation run with custom markers, trained once per test process."""
    from kgbert.training import config_from_dict, run_training

    root = Path(tempfile.mkdtemp(prefix="kgbert-rel-"))
    atexit.register(shutil.rmtree, root, True)
    cfg = ner_config(root, max_steps=4, lr=1e-2)
    cfg["task"] = {"type": "relation"}
    cfg["data"] = {"format": "relation_tsv", "max_length": 32, "reader_options": {"markers": MARKERS},
                   "train": str(_relation_file(root / "train.txt", 32, 0)),
                   "dev": str(_relation_file(root / "dev.txt", 8, 1)),
                   "test": str(_relation_file(root / "test.txt", 12, 2))}
    run_training(config_from_dict(cfg))
    return root


@pytest.fixture(scope="module")
def pipe():
    with Pipeline.from_pretrained(relation_run() / "run", annotate=False) as p:
        yield p


def test_checkpoint_records_the_markers(pipe):
    info = json.loads((relation_run() / "run/best/kgbert.json").read_text("utf-8"))
    assert info["run_task"] == "relation" and info["relation"] == {"markers": MARKERS}
    assert pipe.relation_markers == tuple(MARKERS)


def test_relation_input_is_marked_as_the_reader_marks_it(pipe):
    root = relation_run()
    exs = list(read_relation_tsv(root / "test.txt", markers=MARKERS))
    rows = [line.split("\t") for line in (root / "test.txt").read_text("utf-8").splitlines()]
    out = pipe([{"text": s, "head": h, "tail": t} for h, t, _, s in rows])  # same batches: same numbers
    by_hand = pipe([ex.text_a for ex in exs])
    trainer = [json.loads(line) for line in (root / "run/predictions/test.jsonl").read_text("utf-8").splitlines()]
    for o, ref, ex, tr in zip(out, by_hand, exs, trainer):
        assert o["marked_text"] == ex.text_a == o["annotation"]["text"] and ex.text_a.count("@") == 2
        assert o["scores"] == ref["scores"] and o["label"] == ref["label"] == tr["pred"]
        assert [o["head"]["start"], o["head"]["end"]] == ex.meta["head"]
        assert [o["tail"]["start"], o["tail"]["end"]] == ex.meta["tail"]
        assert o["head"]["text"] == ex.meta["sentence"][slice(*ex.meta["head"])]


def test_explicit_spans(pipe):
    text = "甲公司说甲公司收购乙集团"
    res = pipe({"text": text, "head_span": [4, 7], "tail_span": [9, 12], "head": "甲公司"})
    assert res["marked_text"] == mark_pair(text, (4, 7), (9, 12), MARKERS) == "甲公司说@甲公司@收购%乙集团%"
    assert res["scores"] == pipe("甲公司说@甲公司@收购%乙集团%")["scores"]
    assert (res["head"], res["tail"]) == ({"start": 4, "end": 7, "text": "甲公司"}, {"start": 9, "end": 12, "text": "乙集团"})
    assert pipe({"text": text, "head": "甲公司", "tail": "乙集团"})["head"]["start"] == 0  # located: first occurrence


@pytest.mark.parametrize("x, message", [
    ({"text": "甲公司收购乙集团", "head": "甲公司", "tail": "丙银行"}, "'丙银行' are not both found"),
    ({"text": "甲公司收购乙集团", "head": "甲公司"}, "needs 'head' and 'tail'"),
    ({"text": "甲公司收购乙集团", "head": "甲公司", "tail": "乙集团", "label": "x"}, "unknown key"),
    ({"text": "", "head": "甲公司", "tail": "乙集团"}, "'text' must be a non-empty string"),
    ({"text": "甲公司收购乙集团", "head_span": [0, 3], "tail_span": [2, 5]}, "overlap"),
    ({"text": "甲公司收购乙集团", "head_span": [0, 3], "tail_span": [5, 9]}, "is not a non-empty span"),
    ({"text": "甲公司收购乙集团", "head_span": [0, 3], "tail_span": [5, 8], "tail": "丙银行"}, "not tail '丙银行'"),
])
def test_bad_relation_inputs(pipe, x, message):
    with pytest.raises(PipelineError, match=message):
        pipe(x)
    with pytest.raises(PipelineError, match="^input 1: "):
        pipe(["甲@公司@收购%乙集团%", x])


def test_checkpoints_without_the_record_behave_as_before(pipe, tmp_path):
    ckpt = tmp_path / "best"
    shutil.copytree(relation_run() / "run/best", ckpt)
    info = json.loads((ckpt / "kgbert.json").read_text("utf-8"))
    del info["relation"]
    (ckpt / "kgbert.json").write_text(json.dumps(info), encoding="utf-8")
    marked = "的@甲公司@收购%乙集团%了"
    with Pipeline.from_pretrained(ckpt, annotate=False) as old:
        assert old.task == "sequence" and old.relation_markers is None
        assert old(marked)["scores"] == pipe(marked)["scores"]
        with pytest.raises(PipelineError, match="does not record its entity markers"):
            old({"text": "甲公司收购乙集团", "head": "甲公司", "tail": "乙集团"})
    del info["run_task"]  # a plain sequence classifier: relation inputs are refused
    (ckpt / "kgbert.json").write_text(json.dumps(info), encoding="utf-8")
    with Pipeline.from_pretrained(ckpt, annotate=False) as seq:
        with pytest.raises(PipelineError, match="needs a relation model; this one is a sequence model"):
            seq({"text": "甲公司收购乙集团", "head": "甲公司", "tail": "乙集团"})


def test_predict_cli_relation_records(tmp_path, capsys):
    run = str(relation_run() / "run")
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join([
        json.dumps({"id": 1, "text": "甲公司收购乙集团", "head": "甲公司", "tail": "乙集团"}, ensure_ascii=False),
        json.dumps({"sentence": "丙银行起诉丁证券", "head": "丁证券", "tail": "戊基金"}, ensure_ascii=False),
        "{not json",
        json.dumps({"sentence": "丙银行起诉丁证券", "head_span": [0, 3], "tail_span": [5, 8]}, ensure_ascii=False),
        json.dumps({"head": "甲公司", "tail": "乙集团"}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main([run, "--in", str(inp), "--out", str(out), "--no-annotate", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"{inp}:2: head '丁证券' and tail '戊基金' are not both found" in err
    assert f"{inp}:3: invalid JSON" in err and f"{inp}:5: relation record without a text" in err
    recs = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["source"] for r in recs] == [f"{inp}:1", f"{inp}:4"] and recs[0]["id"] == 1
    assert recs[0]["marked_text"] == "@甲公司@收购%乙集团%" and recs[1]["marked_text"] == "@丙银行@起诉%丁证券%"

    tsv = tmp_path / "in.tsv"  # headerless: head, tail[, relation], sentence
    tsv.write_text("甲公司\t乙集团\t 甲公司收购乙集团 \n\n丙银行\t丁证券\t诉讼\t丙银行起诉丁证券\n甲公司\t乙集团\n", encoding="utf-8")
    assert main([run, "--in", str(tsv), "--out", str(out), "--no-annotate", "--no-progress"]) == 0
    assert f"{tsv}:4: a relation line is" in capsys.readouterr().err
    recs = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["marked_text"] for r in recs] == ["@甲公司@收购%乙集团%", "@丙银行@起诉%丁证券%"]
    # a TSV with a text_a header is read as before (already marked texts)
    tsv.write_text("text_a\tlabel\n@甲公司@收购%乙集团%\tx\n", encoding="utf-8")
    assert main([run, "--in", str(tsv), "--out", str(out), "--no-annotate", "--no-progress"]) == 0
    rec = json.loads(out.read_text("utf-8"))
    assert rec["annotation"]["text"] == "@甲公司@收购%乙集团%" and "marked_text" not in rec
