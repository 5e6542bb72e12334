"""The batch service: python -m annotators.annotate."""
from __future__ import annotations

import io
import json

import pytest

from annotators import Annotation
from annotators.annotate import annotate_file, main, prepare_output, read_records, sidecar_path
from tests.annotators._shared import corpus_sentences, medical_kg, pipeline

LONG = "长" * 50


def _write_txt(path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


def _read_out(path) -> list[Annotation]:
    return [Annotation.from_json(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _txt_input(tmp_path):
    inp = tmp_path / "texts.txt"
    _write_txt(inp, [
        "患者服用阿司匹林后胃出血".encode(),
        b"",
        "伴有眼睛发红".encode(),
        b"\xff\xfe broken",
        LONG.encode(),
        "北京大学的学生".encode(),
        "   ".encode(),
        "李明去了上海".encode(),
    ])
    return inp


def test_bad_lines_are_reported_with_line_numbers_and_skipped(tmp_path):
    nlp = pipeline(kg=False, components=("entities", "phrases"))
    inp, out = _txt_input(tmp_path), tmp_path / "out.jsonl"
    log = io.StringIO()
    summary = annotate_file(nlp, inp, out, max_chars=40, progress=False, log=log)
    recs = _read_out(out)
    assert [r.text for r in recs] == ["患者服用阿司匹林后胃出血", "伴有眼睛发红", "北京大学的学生", "李明去了上海"]
    assert [r.meta["source"] for r in recs] == ["texts.txt:1", "texts.txt:3", "texts.txt:6", "texts.txt:8"]
    assert (summary.written, summary.bad, summary.resumed) == (4, 4, 0)
    errors = (tmp_path / "out.jsonl.errors.tsv").read_text(encoding="utf-8").splitlines()
    assert errors[0] == "file\tline\treason"
    reasons = {int(line.split("\t")[1]): line.split("\t")[2] for line in errors[1:]}
    assert set(reasons) == {2, 4, 5, 7}
    assert reasons[2] == "empty text" and "UTF-8" in reasons[4] and "too long" in reasons[5]
    assert f"{inp}:4: skipped: not valid UTF-8" in log.getvalue()


@pytest.mark.data
def test_resume_after_a_partial_write_gives_the_same_output(tmp_path):
    nlp = pipeline()
    texts = corpus_sentences(20)
    inp = tmp_path / "texts.txt"
    inp.write_text("\n".join(texts[:7] + [""] + texts[7:]) + "\n", encoding="utf-8")
    full = tmp_path / "full.jsonl"
    annotate_file(nlp, inp, full, progress=False, log=io.StringIO())
    data = full.read_bytes()
    lines = data.splitlines(keepends=True)
    assert len(lines) == 20
    # crash after 9 complete records and half of the 10th
    part = tmp_path / "part.jsonl"
    part.write_bytes(b"".join(lines[:9]) + lines[9][: len(lines[9]) // 2])
    # (the sidecar naming the input is what makes an output resumable)
    sidecar_path(part).write_bytes(sidecar_path(full).read_bytes())
    summary = annotate_file(nlp, inp, part, progress=False, log=io.StringIO())
    assert (summary.resumed, summary.written, summary.bad) == (9, 11, 1)
    assert part.read_bytes() == data
    # a complete output: nothing left to do
    summary = annotate_file(nlp, inp, part, progress=False, log=io.StringIO())
    assert (summary.resumed, summary.written) == (20, 0)
    assert part.read_bytes() == data


def test_prepare_output_refuses_a_foreign_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"text": "a"}\nnot json\n{"text": "b"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"out\.jsonl:2"):
        prepare_output(out)
    assert prepare_output(out, overwrite=True) == 0 and out.read_bytes() == b""


def test_jsonl_and_tsv_inputs_and_user_annotations(tmp_path):
    nlp = pipeline(kg=False, components=("entities",))
    inp = tmp_path / "in.jsonl"
    user = {"text": "李明在北京大学读书", "id": 7,
            "words": [[0, 2], [2, 3], [3, 5], [5, 7], [7, 9]],
            "entities": [{"start": 3, "end": 5, "label": "CITY", "source": "user"}]}
    bad_user = {"text": "李明", "entities": [{"start": 0, "end": 9, "label": "X", "source": "user"}]}
    misaligned = {"text": "李明", "words": [[0, 2]], "entities": [{"start": 1, "end": 2, "label": "X", "source": "user"}]}
    inp.write_text("\n".join([
        json.dumps({"text": "上海很大", "id": 1, "label": "pos"}, ensure_ascii=False),
        "{not json",
        json.dumps(user, ensure_ascii=False),
        json.dumps(bad_user, ensure_ascii=False),
        json.dumps({"txt": "no text"}),
        json.dumps(misaligned, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    summary = annotate_file(nlp, inp, out, progress=False, log=io.StringIO())
    recs = _read_out(out)
    assert summary.bad == 4 and len(recs) == 2
    assert recs[0].meta == {"id": 1, "label": "pos", "source": "in.jsonl:1"}
    # the user's words and entity are kept; the entities component still runs on the other words
    assert recs[1].words == [(0, 2), (2, 3), (3, 5), (5, 7), (7, 9)]
    ents = [(e.start, e.end, e.label, e.source) for e in recs[1].entities]
    assert (3, 5, "CITY", "user") in ents
    assert recs[1].meta == {"id": 7, "source": "in.jsonl:3"}
    errors = (tmp_path / "out.jsonl.errors.tsv").read_text(encoding="utf-8")
    assert "\t2\tinvalid JSON" in errors and "\t4\tinvalid annotation" in errors and "\t5\tno 'text' field" in errors
    assert "\t6\tinvalid annotation: entities[0] [1, 2) '明' does not start and end on word boundaries" in errors

    tsv = tmp_path / "in.tsv"
    tsv.write_text("label\ttext_a\n1\t北京大学很好\n0\n1\t\n", encoding="utf-8")
    items = list(read_records(tsv))
    assert [type(i).__name__ for i in items] == ["Record", "BadLine", "BadLine"]
    assert items[0].text == "北京大学很好" and items[0].meta == {"label": "1"} and items[0].line == 2
    assert items[1].line == 3 and "columns" in items[1].reason


@pytest.mark.data
def test_cli_with_kg_and_two_processes(tmp_path, capsys):
    inp = _txt_input(tmp_path)
    out1, out2 = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    args = ["--kg", medical_kg(), "--in", str(inp), "--max-chars", "40", "--no-progress"]
    assert main(args + ["--out", str(out1)]) == 0
    assert main(args + ["--out", str(out2), "--n-process", "2", "--batch-size", "2"]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    recs = _read_out(out1)
    assert any(e.source == "kg" and e.name == "阿司匹林" for e in recs[0].entities)
    assert "annotated 4 record(s); skipped 4 bad line(s)" in capsys.readouterr().err
    assert main(["--in", str(inp), "--out", str(tmp_path / "x.jsonl"), "--components", "kg_entities"]) == 2
