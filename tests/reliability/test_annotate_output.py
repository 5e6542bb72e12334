"""Issue 8, items 2 and 9: annotate never loses a file it did not write, resumes only its own
output for the same input, and one bad record never aborts the run."""
from __future__ import annotations

import io
import json

import pytest

import annotators.annotate as annotate_mod
from annotators.annotate import OutputError, annotate_file, main, sidecar_path
from tests.annotators._shared import pipeline

TEXTS = ["李明去了上海", "北京大学的学生", "伴有眼睛发红", "今天天气很好", "我们明天见", "这是第六句"]


def _nlp():
    return pipeline(kg=False, components=("entities",))


def _input(tmp_path, texts=TEXTS):
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return inp


def _run(inp, out, **kw):
    return annotate_file(_nlp(), inp, out, progress=False, log=io.StringIO(), batch_size=2, **kw)


def test_out_equal_to_in_is_refused_and_the_input_kept(tmp_path, capsys):
    inp = _input(tmp_path)
    before = inp.read_bytes()
    rc = main(["--in", str(inp), "--out", str(inp), "--components", "entities", "--no-progress"])
    assert rc == 2 and "is the input file" in capsys.readouterr().err
    rc = main(["--in", str(inp), "--out", str(inp), "--components", "entities", "--no-progress", "--overwrite"])
    assert rc == 2
    rc = main(["--in", str(inp), "--out", str(tmp_path / "o.jsonl"), "--errors", str(inp),
               "--components", "entities", "--no-progress"])
    assert rc == 2
    assert inp.read_bytes() == before


def test_a_file_with_no_valid_lines_is_not_truncated(tmp_path):
    inp, out = _input(tmp_path), tmp_path / "notes.jsonl"
    out.write_text("my notes, not JSON\n", encoding="utf-8")
    with pytest.raises(OutputError, match="not written by annotators.annotate"):
        _run(inp, out)
    assert out.read_text(encoding="utf-8") == "my notes, not JSON\n"


def test_an_unrelated_jsonl_is_not_taken_for_finished_records(tmp_path):
    inp, out = _input(tmp_path), tmp_path / "other.jsonl"
    other = "".join(json.dumps({"text": f"x{i}"}) + "\n" for i in range(3))
    out.write_text(other, encoding="utf-8")
    with pytest.raises(OutputError):
        _run(inp, out)
    assert out.read_text(encoding="utf-8") == other
    summary = _run(inp, out, overwrite=True)  # asked for: replaced
    assert (summary.resumed, summary.written) == (0, len(TEXTS))


def test_resume_only_for_the_same_input(tmp_path):
    inp, out = _input(tmp_path), tmp_path / "out.jsonl"
    _run(inp, out)
    full = out.read_bytes()
    assert json.loads(sidecar_path(out).read_text())["input_sha256"]
    lines = full.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:3]) + lines[3][:10])  # killed mid-write
    summary = _run(inp, out)
    assert (summary.resumed, summary.written) == (3, 3) and out.read_bytes() == full
    # the input changed since: its output is not resumed (and not touched)
    inp.write_text("\n".join(TEXTS[::-1]) + "\n", encoding="utf-8")
    with pytest.raises(OutputError, match="another input"):
        _run(inp, out)
    assert out.read_bytes() == full


def test_bad_meta_and_lone_surrogate_are_bad_lines_not_a_crash(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("\n".join([
        json.dumps({"text": "李明去了上海"}, ensure_ascii=False),
        json.dumps({"text": "患者服用阿司匹林", "meta": 5}, ensure_ascii=False),
        json.dumps({"text": "患者服用阿司匹林", "words": [[0, 2]], "meta": 5}, ensure_ascii=False),
        '{"text": "坏\\ud800的"}',
        '{"text": "好的", "id": "\\udfff"}',
        json.dumps({"text": "今天天气很好"}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    summary = _run(inp, out)
    assert (summary.written, summary.bad) == (2, 4)
    assert [json.loads(l)["text"] for l in out.read_text(encoding="utf-8").splitlines()] == ["李明去了上海", "今天天气很好"]
    rows = (tmp_path / "out.jsonl.errors.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert [int(r.split("\t")[1]) for r in rows] == [2, 3, 4, 5]


def test_a_record_the_pipeline_fails_on_is_reported_and_resume_stays_aligned(tmp_path, monkeypatch):
    real = annotate_mod.annotate_batch

    def flaky(nlp, jobs):
        if any(p == TEXTS[3] for p, _ in jobs):
            raise RuntimeError("boom")
        return real(nlp, jobs)

    monkeypatch.setattr(annotate_mod, "annotate_batch", flaky)
    inp, out = _input(tmp_path), tmp_path / "out.jsonl"
    summary = _run(inp, out)
    assert (summary.written, summary.bad) == (5, 1)
    rows = (tmp_path / "out.jsonl.errors.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert rows == [f"{inp}\t4\tannotation failed: RuntimeError: boom"]
    done = out.read_bytes()
    lines = done.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:4]))  # records of lines 1, 2, 3, 5: resume must go on at 6
    summary = _run(inp, out)
    assert summary.written == 1 and out.read_bytes() == done
