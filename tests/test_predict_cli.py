"""python -m kgbert.predict: bad lines reported with file:line and skipped, atomic output."""
from __future__ import annotations

import json

import pytest

from kgbert.pipeline import Pipeline
from kgbert.predict import main, markdown_table, predict_file
from tests.test_pipeline_api import trained_run


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_txt_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path, capsys):
    inp = tmp_path / "in.txt"
    inp.write_text("服用阿司匹林后头痛\n\n" + "头" * 31 + "\n   \t \nABC 发热 2 天\n", encoding="utf-8")
    out = tmp_path / "preds.jsonl"
    rc = main([str(trained_run("ner")), "--in", str(inp), "--out", str(out), "--no-annotate", "--no-progress",
               "--batch-size", "1", "--table", "--no-window"])  # (by default a long text is windowed)
    cap = capsys.readouterr()
    assert rc == 0
    assert f"{inp}:3: text too long: 31 characters" in cap.err and "at most 30" in cap.err
    assert f"{inp}:4" not in cap.err  # a blank (whitespace-only) line is not an error
    recs = _records(out)
    assert [r["source"] for r in recs] == [f"{inp}:1", f"{inp}:5"]
    assert recs[1]["annotation"]["text"] == "ABC 发热 2 天" and len(recs[1]["tags"]) == 10
    assert any(k["name"] == "阿司匹林" for k in recs[0]["knowledge"])
    assert "| # | text | prediction | knowledge used |" in cap.out and "阿司匹林: 类别 药物" in cap.out
    assert "skipped 1 bad line" in cap.err


def test_jsonl_and_tsv_inputs(tmp_path, capsys):
    run = str(trained_run("ner"))
    inp = tmp_path / "in.jsonl"
    ann = {"text": "服用 阿司匹林", "entities": [{"start": 3, "end": 7, "label": "Drug", "name": "阿司匹林", "source": "user"}]}
    inp.write_text("\n".join([
        json.dumps({"id": "a", "text": "头痛三天"}, ensure_ascii=False),
        "{not json",
        json.dumps({"sentence": "x"}),
        json.dumps({"id": 2, **ann}, ensure_ascii=False),
        json.dumps({"text": "头痛", "entities": [{"start": 0, "end": 9}]}),
        json.dumps({"text": "头痛", "text_b": "发热"}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main([run, "--in", str(inp), "--out", str(out), "--no-annotate", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"{inp}:2: invalid JSON" in err and f"{inp}:3: missing text" in err
    assert f"{inp}:5: invalid annotation" in err and "outside the text" in err
    assert f"{inp}:6: this model takes one text per input" in err
    recs = _records(out)
    assert [(r["source"], r["id"]) for r in recs] == [(f"{inp}:1", "a"), (f"{inp}:4", 2)]
    assert recs[1]["annotation"]["entities"] == ann["entities"]
    assert recs[1]["knowledge"][0]["triples"] == [["阿司匹林", "类别", "药物"]]

    tsv = tmp_path / "in.tsv"
    tsv.write_text("id\ttext_a\tlabel\nx1\t服用布洛芬\t0\nx2\t头痛\n", encoding="utf-8")
    assert main([run, "--in", str(tsv), "--out", str(out), "--no-annotate", "--no-progress"]) == 0
    assert f"{tsv}:3: expected 3 tab-separated columns" in capsys.readouterr().err
    assert [(r["id"], r["annotation"]["text"]) for r in _records(out)] == [("x1", "服用布洛芬")]
    tsv.write_text("text\n头痛\n", encoding="utf-8")
    assert main([run, "--in", str(tsv), "--out", str(out), "--no-annotate", "--no-progress"]) == 1
    assert "has no ['text_a'] column" in capsys.readouterr().err


def test_output_is_atomic(tmp_path, capsys):
    run = trained_run("ner")
    out = tmp_path / "preds.jsonl"
    out.write_text("old\n", encoding="utf-8")
    inp = tmp_path / "in.txt"
    inp.write_text("头痛\n" * 20, encoding="utf-8")
    with Pipeline.from_pretrained(run, annotate=False) as pipe:
        calls = []
        real = pipe.predict_prepared

        def failing(items, batch_size=32):
            calls.append(len(items))
            if len(calls) == 2:
                raise RuntimeError("boom")
            return real(items, batch_size=batch_size)

        pipe.predict_prepared = failing
        with pytest.raises(RuntimeError, match="boom"):
            predict_file(pipe, inp, out, batch_size=1, progress=False)  # chunks of 8: fails on the 2nd
        assert calls == [8, 8]
        assert out.read_text(encoding="utf-8") == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "preds.jsonl"]

    # every line bad: exit 1, nothing written, the old output untouched
    inp.write_text("头" * 40 + "\n", encoding="utf-8")
    assert main([str(run), "--in", str(inp), "--out", str(out), "--no-annotate", "--no-progress", "--no-window"]) == 1
    assert "nothing to predict" in capsys.readouterr().err and out.read_text(encoding="utf-8") == "old\n"
    assert main([str(run), "--in", str(tmp_path / "missing.txt"), "--out", str(out)]) == 2
    assert main([str(tmp_path / "norun"), "--in", str(inp), "--out", str(out)]) == 2


def test_pair_model_txt_and_table(tmp_path, capsys):
    inp = tmp_path / "pairs.txt"
    inp.write_text("今天头痛\t服用阿司匹林\n只有一段\n", encoding="utf-8")
    out = tmp_path / "p.jsonl"
    assert main([str(trained_run("pair")), "--in", str(inp), "--out", str(out), "--no-annotate", "--no-progress"]) == 0
    assert f"{inp}:2: a pair model needs 'text_a<TAB>text_b'" in capsys.readouterr().err
    recs = _records(out)
    assert len(recs) == 1 and recs[0]["annotation_b"]["text"] == "服用阿司匹林"
    table = markdown_table(recs)
    assert "今天头痛 ‖ 服用阿司匹林" in table and f"{recs[0]['label']} (" in table
