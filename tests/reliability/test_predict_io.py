"""Issue 8, items 10 and 11 (predict): invalid UTF-8 is a bad line, not a crash; blank lines are
counted; a killed run's temporary file is removed by the next; the output follows the umask."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from kgbert.predict import main
from tests.test_pipeline_api import trained_run


def _predict(run, inp, out):
    return main([str(run), "--in", str(inp), "--out", str(out), "--no-annotate", "--no-progress"])


def test_invalid_utf8_is_a_bad_line_and_blank_lines_are_counted(tmp_path, capsys):
    inp = tmp_path / "in.txt"
    inp.write_bytes("头痛\n".encode() + b"\xff\xfe broken\n" + b"\n   \n" + "发热\n".encode())
    out = tmp_path / "preds.jsonl"
    rc = _predict(trained_run("ner"), inp, out)
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"{inp}:2: not valid UTF-8" in err and "Traceback" not in err
    assert "2 blank line(s) skipped" in err and "skipped 1 bad line" in err
    recs = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [r["source"] for r in recs] == [f"{inp}:1", f"{inp}:5"]


def test_stale_temporary_of_a_killed_run_is_removed_and_mode_follows_umask(tmp_path, capsys):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.kill()  # like kill -9 of a predict run: its pid is gone
    proc.wait()
    stale = tmp_path / f".preds.jsonl.{proc.pid}.deadbeef.tmp"
    stale.write_bytes(b"x" * 1000)
    running = tmp_path / f".preds.jsonl.{os.getpid()}.cafebabe.tmp"  # a live run's file stays
    running.write_bytes(b"x")
    inp = tmp_path / "in.txt"
    inp.write_text("头痛\n", encoding="utf-8")
    old = os.umask(0o022)
    try:
        rc = _predict(trained_run("ner"), inp, tmp_path / "preds.jsonl")
    finally:
        os.umask(old)
    assert rc == 0, capsys.readouterr().err
    assert not stale.exists() and running.exists()
    assert (tmp_path / "preds.jsonl").stat().st_mode & 0o777 == 0o644


def test_lone_surrogate_in_jsonl_is_a_bad_line(tmp_path, capsys):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"text": "头痛"}\n{"text": "坏\\ud800的"}\n{"text": "发热", "id": "\\udfff"}\n{"text": "咳嗽"}\n',
                   encoding="utf-8")
    out = tmp_path / "preds.jsonl"
    rc = _predict(trained_run("ner"), inp, out)
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"{inp}:2: lone surrogate" in err and f"{inp}:3: lone surrogate" in err
    recs = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [r["source"] for r in recs] == [f"{inp}:1", f"{inp}:4"]
