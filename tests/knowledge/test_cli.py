"""``python -m kgbert.build_kg``: defaults, exit codes, summary."""
from __future__ import annotations

import json
import subprocess
import sys

from kgbert.build_kg import main
from knowledge import KnowledgeGraph
from tests.conftest import REPO
from tests.knowledge.helpers import leftovers, write


def test_no_inputs_builds_the_demo_kg(tmp_path, capsys):
    out = tmp_path / "demo.sqlite"
    assert main(["--out", str(out), "--no-progress", "--json", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    for key in ("triples read", "duplicates", "bad lines", "entities", "relations",
                "top predicates", "throughput", "store size"):
        assert key in text
    kg = KnowledgeGraph.open(out)
    assert kg.name == "demo" and kg.num_triples > 300 and kg.lookup("高血压")
    assert json.loads((tmp_path / "r.json").read_text())["kept"] == kg.num_triples


def test_existing_out_needs_force(tmp_path, capsys):
    out = tmp_path / "demo.sqlite"
    assert main(["--out", str(out), "--no-progress"]) == 0
    assert main(["--out", str(out), "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["--out", str(out), "--no-progress", "--force"]) == 0


def test_options_reach_the_build(tmp_path):
    src = write(tmp_path / "a.txt", "高血压\t症状\t头晕\n高血压\t别名\t原发性高血压\nＡ\t類別\tx\n")
    out = tmp_path / "kg.sqlite"
    assert main([str(src), "--out", str(out), "--format", "spo", "--name", "tiny",
                 "--normalize", "t2s", "--skip-predicates", "别名", "--min-entity-len", "1",
                 "--no-progress"]) == 0
    kg = KnowledgeGraph.open(out)
    assert kg.name == "tiny" and kg.lookup("A") == [("A", "类别", "x")]
    assert kg.lookup("高血压") == [("高血压", "症状", "头晕")]


def test_strict_exit_code_and_no_leftovers(tmp_path):
    src = write(tmp_path / "bad.spo", "a\tb\tc\nbroken line\n")
    out = tmp_path / "out" / "kg.sqlite"
    res = subprocess.run([sys.executable, "-m", "kgbert.build_kg", str(src), "--out", str(out),
                          "--strict", "--no-progress"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1
    assert f"{src}:2: expected 3 tab-separated fields, found 1" in res.stderr
    assert not out.exists() and leftovers(out.parent) == []
    res = subprocess.run([sys.executable, "-m", "kgbert.build_kg", str(src), "--out", str(out),
                          "--no-progress", "--max-errors", "5"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and f"bad line: {src}:2" in res.stderr
    assert "| bad lines      | 1 |" in res.stdout
