"""Issue 8, items 3, 7 and 11 (build side): build_kg never overwrites its input, reports a
corrupt input or an unusable output as ``file: reason`` with a non-zero exit, warns about empty
inputs, removes temporaries a killed build left behind and honours the umask."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest

from kgbert.build_kg import main
from tests.conftest import REPO
from tests.knowledge.helpers import write

SPO = "北京\t首都\t中国\n上海\t位于\t中国\n"


def _run(capsys, *argv):
    rc = main([*map(str, argv), "--no-progress"])
    return rc, capsys.readouterr().err


def test_out_equal_to_input_is_refused_and_the_input_kept(tmp_path, capsys):
    src = write(tmp_path / "kg.spo", SPO)
    rc, err = _run(capsys, src, "--out", src, "--force")
    assert rc != 0 and "is also an input" in err and str(src) in err
    assert src.read_text(encoding="utf-8") == SPO


def test_truncated_and_fake_gzip_name_the_file(tmp_path, capsys):
    data = gzip.compress(SPO.encode() * 200)
    trunc = tmp_path / "trunc.spo.gz"
    trunc.write_bytes(data[: len(data) // 2])
    fake = write(tmp_path / "fake.spo.gz", SPO)
    for bad, reason in ((trunc, "truncated gzip"), (fake, "not a gzip file")):
        out = tmp_path / f"{bad.name}.sqlite"
        rc, err = _run(capsys, bad, "--out", out)
        assert rc == 1, err
        assert err.startswith(f"error: {bad}: ") and reason in err and "Traceback" not in err
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_out_is_a_directory_or_cannot_be_created(tmp_path, capsys):
    src = write(tmp_path / "kg.spo", SPO)
    folder = tmp_path / "adir"
    folder.mkdir()
    rc, err = _run(capsys, src, "--out", folder, "--force")
    assert rc == 1 and f"{folder}: is a directory" in err
    blocker = write(tmp_path / "afile", "x")
    rc, err = _run(capsys, src, "--out", blocker / "kg.sqlite")
    assert rc == 1 and "cannot create the output folder" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_unwritable_output_folder(tmp_path, capsys):
    src = write(tmp_path / "kg.spo", SPO)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, err = _run(capsys, src, "--out", ro / "kg.sqlite")
    finally:
        ro.chmod(0o755)
    assert rc == 1 and "not writable" in err


def test_unwritable_output_folder_as_seen_by_sqlite(tmp_path, capsys, monkeypatch):
    """Whatever makes SQLite fail to create the file gives ``file: reason``, not a traceback."""
    import sqlite3

    src = write(tmp_path / "kg.spo", SPO)
    real = sqlite3.connect

    def refuse(path, *a, **k):
        if str(path).endswith(".tmp"):
            raise sqlite3.OperationalError("unable to open database file")
        return real(path, *a, **k)

    monkeypatch.setattr(sqlite3, "connect", refuse)
    rc, err = _run(capsys, src, "--out", tmp_path / "kg.sqlite")
    assert rc == 1 and f"{tmp_path / 'kg.sqlite'}: cannot write the store" in err


def test_empty_input_and_wholly_skipped_csv_warn(tmp_path, capsys):
    empty = write(tmp_path / "empty.spo", "")
    csv = write(tmp_path / "w.csv", "x,y,z\n1,2,3\n")
    rc, err = _run(capsys, empty, csv, "--out", tmp_path / "kg.sqlite", "--json", tmp_path / "r.json")
    assert rc == 0
    assert f"warning: {empty}: no triples (empty input)" in err
    assert f"warning: {csv}: every line was bad" in err
    import json

    assert len(json.loads((tmp_path / "r.json").read_text())["warnings"]) == 2


def test_killed_build_leaves_temporaries_that_the_next_build_removes(tmp_path, capsys):
    src = write(tmp_path / "kg.spo", SPO)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=REPO)
    proc.kill()  # SIGKILL: a process that could not clean up; its pid is gone afterwards
    proc.wait()
    dead = proc.pid
    stale = [tmp_path / f".kg.sqlite.{dead}.0123abcd.tmp", tmp_path / f".kg.sqlite.{dead}.0123abcd.stage.tmp",
             tmp_path / f".kg.sqlite.{dead}.0123abcd.tmp-journal"]
    for p in stale:
        p.write_bytes(b"x" * 100)
    alive = tmp_path / f".kg.sqlite.{os.getpid()}.89abcdef.tmp"  # a running build (this process)
    alive.write_bytes(b"x")
    mine = write(tmp_path / ".kg.sqlite.notes.tmp", "user file")
    rc, err = _run(capsys, src, "--out", tmp_path / "kg.sqlite")
    assert rc == 0, err
    assert not any(p.exists() for p in stale)
    assert alive.exists() and mine.exists()


def test_store_mode_follows_the_umask(tmp_path, capsys):
    src = write(tmp_path / "kg.spo", SPO)
    old = os.umask(0o022)
    try:
        rc, _ = _run(capsys, src, "--out", tmp_path / "kg.sqlite")
    finally:
        os.umask(old)
    assert rc == 0 and (tmp_path / "kg.sqlite").stat().st_mode & 0o777 == 0o644


def test_sigterm_during_a_build_leaves_no_temporary_file(tmp_path):
    import signal
    import time

    from benchmarks.bench_kg_synthetic import write_synthetic_spo

    src = write_synthetic_spo(tmp_path / "big.spo", 400_000)
    out = tmp_path / "kg.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "kgbert.build_kg", str(src), "--out", str(out), "--no-progress"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".kg.sqlite.*.tmp")):
        if proc.poll() is not None:
            pytest.skip("the build finished before it could be interrupted")
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    if proc.returncode == 0:
        pytest.skip("the build finished before the signal arrived")
    assert proc.returncode == 143, proc.stderr.read()[-2000:]
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
