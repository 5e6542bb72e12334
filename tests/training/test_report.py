"""Multi-seed aggregation: mean +- sample std, Markdown table, JSON and PNG."""
import json

import pytest

from kgbert.training.report import load_group, main, summarize


def _run(d, seed, f1, dev_f1):
    d.mkdir(parents=True)
    m = {"task": "token", "seed": seed, "wall_seconds": 60.0,
         "test": {"precision": f1, "recall": f1, "f1": f1}, "dev": {"precision": 0, "recall": 0, "f1": dev_f1}}
    (d / "metrics.json").write_text(json.dumps(m))


def test_summary_and_outputs(tmp_path):
    for seed, f1 in [(1, 0.80), (2, 0.82), (3, 0.84)]:
        _run(tmp_path / "a" / f"seed{seed}", seed, f1, 0.5)
    _run(tmp_path / "b" / "seed1", 1, 0.9, 0.6)
    (tmp_path / "b" / "seed2").mkdir()  # an unfinished run (no metrics.json) is left out
    s = summarize({"a": load_group(tmp_path / "a"), "b": load_group(tmp_path / "b")})
    assert s["a"]["n"] == 3 and s["a"]["f1"]["mean"] == pytest.approx(82.0) and s["a"]["f1"]["std"] == pytest.approx(2.0)
    assert s["b"]["n"] == 1 and s["b"]["f1"]["std"] == 0.0
    out = tmp_path / "res" / "r"
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out), "--paper", "a=92.5"]) == 0
    md = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| a | 3 | 82.00 ± 2.00 | 82.00 ± 2.00 | 82.00 ± 2.00 | 50.00 ± 0.00 | 1.0 | 92.5 |" in md
    assert out.with_suffix(".png").stat().st_size > 1000 and json.loads(out.with_suffix(".json").read_text())["b"]
