"""The bench harness end to end on a tiny synthetic grid (no shared data needed)."""
from __future__ import annotations

import json
import re

import pytest

from kgbert.bench.config import bench_from_dict, cell_dir, load_bench
from kgbert.bench.report import write_results
from kgbert.bench.runner import run_bench
from kgbert.training.config import ConfigError
from kgbert.training.trainer import run_training
from tests.bench.helpers import tiny_bench

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Interrupt(KeyboardInterrupt):
    pass


def _md_scores(md: str) -> dict[tuple[str, str], str]:
    """(task, encoder) -> score cell of results.md."""
    out, task = {}, None
    for line in md.splitlines():
        if line.startswith("## "):
            task = line[3:].strip()
        elif line.startswith("| ") and task and not line.startswith("| encoder") and not line.startswith("| task"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            out[(task, cells[0])] = cells[3]
    return out


@pytest.mark.slow
def test_quick_grid_resume_failure_and_reports(tmp_path):
    raw = tiny_bench(tmp_path, bad={"model": {"encoder": "kbert", "featurizer": {"max_entities": -1}}})
    cfg = bench_from_dict(raw, quick=True)
    calls: list[str] = []

    def counting(run):
        calls.append(str(run.run_dir))
        if len(calls) == 4 and interrupt["on"]:
            raise Interrupt()
        return run_training(run)

    # 1) interrupted at the 4th cell (a KeyboardInterrupt is not a cell failure: it stops the grid)
    interrupt = {"on": True}
    with pytest.raises(Interrupt):
        run_bench(cfg, progress=False, trainer=counting)
    # order: ner/bert, ner/kbert, ner/bad (fails: recorded, the grid goes on), pair/bert (interrupted)
    done = calls[:2]
    assert len(calls) == 4 and calls[2] == str(cell_dir(cfg, "ner", "bad", 1))
    assert (cell_dir(cfg, "ner", "bad", 1) / "cell.json").is_file()
    assert not (cell_dir(cfg, "pair", "bert", 1) / "cell.json").exists()
    # 2) resumed: the 2 finished cells are not run again; the failed and the remaining ones are
    calls.clear()
    interrupt["on"] = False
    records = run_bench(cfg, progress=False, trainer=counting, log=lambda m: None)
    assert not set(done) & set(calls)
    assert len(calls) == 4 and len(records) == 6
    by = {(r["task"], r["encoder"]): r for r in records}
    # the failing cell is recorded with its error; the cells after it ran
    bad = by[("ner", "bad")]
    assert bad["status"] == "failed" and "max_entities" in bad["error"]["message"]
    assert by[("pair", "bert")]["status"] == "ok" and by[("pair", "kbert")]["status"] == "ok"
    ok = by[("ner", "kbert")]
    for key in ("score", "train_wall_s", "eval_wall_s", "train_seq_per_s", "train_tokens_per_s", "infer_seq_per_s",
                "infer_tokens_per_s", "peak_rss_mb", "n_parameters", "environment", "data"):
        assert ok[key] is not None, key
    assert ok["environment"]["versions"]["torch"] and "commit" in ok["environment"]["git"]
    run_now = [r for r in records if r["run_dir"] in calls]
    assert all(r["environment"] == run_now[0]["environment"] for r in run_now)  # taken once per grid
    assert ok["data"]["test"]["examples"] == 8 and "truncated_tokens" in ok["data"]["test"]
    assert ok["n_parameters"] > 0 and 0.0 <= ok["score"] <= 1.0
    # 3) a third call reruns only the failed cells
    calls.clear()
    run_bench(cfg, progress=False, trainer=counting, log=lambda m: None)
    assert calls == [str(cell_dir(cfg, "ner", "bad", 1)), str(cell_dir(cfg, "pair", "bad", 1))]

    result = write_results(cfg, records, quick=True)
    out = cfg.out_dir
    js = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert js["summary"] == json.loads(json.dumps(result["summary"]))
    md = (out / "results.md").read_text(encoding="utf-8")
    scores = _md_scores(md)
    for row in js["summary"]:
        cell = scores[(row["task"], row["encoder"])]
        if row["mean"] is None:
            assert cell == "failed"
            continue
        m = re.fullmatch(r"(\*\*)?([\d.]+) ± ([\d.]+)(\*\*)?", cell)
        assert m, cell
        assert float(m.group(2)) == pytest.approx(row["mean"], abs=0.005)
        assert float(m.group(3)) == pytest.approx(row["std"], abs=0.005)
        assert bool(m.group(1)) == row["best"]
        assert row["mean"] == pytest.approx(100 * by[(row["task"], row["encoder"])]["score"])
    assert "## Failed cells" in md and "| ner | bad | 1 | ValueError: max_entities" in md
    assert "| 50.0 |" in md  # the paper column
    for png in ("scores.png", "throughput.png"):
        data = (out / png).read_bytes()
        assert data[:8] == PNG_MAGIC
        import matplotlib.image

        assert matplotlib.image.imread(out / png).shape[0] > 50


def test_changed_config_of_finished_cell_is_refused(tmp_path):
    cfg = bench_from_dict(tiny_bench(tmp_path), quick=True)
    fake = {"task": "ner", "encoder": "bert", "seed": 1, "status": "ok", "config_hash": "0" * 16}
    d = cell_dir(cfg, "ner", "bert", 1)
    d.mkdir(parents=True)
    (d / "cell.json").write_text(json.dumps(fake))
    with pytest.raises(ConfigError, match="another config"):
        run_bench(cfg, progress=False, trainer=lambda run: pytest.fail("must not run"))


def test_bench_config_errors(tmp_path):
    raw = tiny_bench(tmp_path)
    with pytest.raises(ConfigError, match=r"unknown key 'data.fromat' in <dict> \[task ner, encoder bert\]"):
        bench_from_dict({**raw, "tasks": {"ner": {"run": {"data": {"fromat": "x"}}}}})
    with pytest.raises(ConfigError, match="unknown encoder rows"):
        bench_from_dict({**raw, "tasks": {"ner": {**raw["tasks"]["ner"], "paper": {"ernie": 1}}}})
    with pytest.raises(ConfigError, match="no 'quick' section"):
        bench_from_dict({k: v for k, v in raw.items() if k != "quick"}, quick=True)
    cfg = bench_from_dict(raw, overrides=["seeds=[4, 5]", "base.training.epochs=2"])
    assert cfg.seeds == [4, 5] and cfg.base["training"]["epochs"] == 2


def test_shipped_bench_configs_parse():
    from pathlib import Path

    paths = sorted(Path("configs/bench").glob("*.yaml"))
    assert paths
    for p in paths:
        for quick in (False, True):
            cfg = load_bench(p, quick=quick)
            assert cfg.encoders and cfg.tasks


@pytest.mark.slow
def test_cli_subset_report_only_and_exit_codes(tmp_path, capsys):
    import yaml

    from kgbert.bench.__main__ import main

    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(tiny_bench(tmp_path)), encoding="utf-8")
    assert main([str(path), "--quick", "--no-progress", "--tasks", "pair", "--encoders", "bert"]) == 0
    out = capsys.readouterr().out
    assert "## pair" in out and "## ner" not in out and "(quick mode)" in out
    cells = list((tmp_path / "bench" / "cells").glob("*/*/*/cell.json"))
    assert [c.parent.parent.parent.name for c in cells] == ["pair"]
    assert main([str(path), "--quick", "--report-only", "--tasks", "pair"]) == 0  # nothing rerun
    assert len(list((tmp_path / "bench" / "cells").glob("*/*/*/cell.json"))) == 1
    assert main([str(path), "--quick", "--tasks", "nope"]) == 2
    assert "unknown task(s) ['nope']" in capsys.readouterr().err


def test_per_task_encoder_overrides(tmp_path):
    from kgbert.bench.config import cell_dict

    raw = tiny_bench(tmp_path, kbert_b={"model": {"encoder": "kbert", "featurizer": {"max_entities": 2}}})
    other = str(tmp_path / "other.spo")
    raw["tasks"]["pair"]["encoder_overrides"] = {"kbert*": {"kg": {"sources": [other]}},
                                                 "kbert_b": {"model": {"featurizer": {"max_entities": 3}}}}
    cfg = bench_from_dict(raw)
    ner_kg = raw["encoders"]["kbert"]["kg"]["sources"]
    # only the matching rows of that task change; later fragments win; other keys of the row stay
    assert cell_dict(cfg, "ner", "kbert", 1)["kg"]["sources"] == ner_kg
    assert "kg" not in cell_dict(cfg, "ner", "kbert_b", 1)
    assert cell_dict(cfg, "pair", "kbert", 1)["kg"] == {"sources": [other], "cache_dir": raw["encoders"]["kbert"]["kg"]["cache_dir"]}
    assert cell_dict(cfg, "pair", "kbert_b", 1)["kg"]["sources"] == [other]
    assert cell_dict(cfg, "pair", "kbert_b", 1)["model"]["featurizer"]["max_entities"] == 3
    assert "kg" not in cell_dict(cfg, "pair", "bert", 1)
    raw["tasks"]["pair"]["encoder_overrides"] = {"ernie*": {"kg": {"sources": [other]}}}
    with pytest.raises(ConfigError, match=r"'ernie\*' matches no encoder row"):
        bench_from_dict(raw)
    raw["tasks"]["pair"]["encoder_overrides"] = {"kbert": {"model": {"fromat": 1}}}
    with pytest.raises(ConfigError, match=r"\[task pair, encoder kbert\]"):
        bench_from_dict(raw)


def test_also_metrics_are_summarised_beside_the_score(tmp_path):
    """``also: [auc]``: the further metric of the reported split, mean ± std over the ok cells, in its own
    column of results.md and under ``also`` in results.json; cells that lack it are left out of it."""
    raw = tiny_bench(tmp_path)
    raw["tasks"]["pair"]["also"] = ["auc", "macro_f1"]
    cfg = bench_from_dict(raw)
    records = []
    for seed, auc in ((1, 0.60), (2, 0.70), (3, None)):
        test = {"accuracy": 0.5, "macro_f1": 0.4, **({} if auc is None else {"auc": auc})}
        records.append({"task": "pair", "encoder": "bert", "seed": seed, "split": "test", "metric": "accuracy",
                        "status": "ok", "score": 0.5, "scores": {"test": test}, "data": {}})
    result = write_results(cfg, records)
    row = next(r for r in result["summary"] if r["task"] == "pair")
    assert row["also"]["auc"] == {"n": 2, "mean": pytest.approx(65.0), "std": pytest.approx(7.0711, abs=1e-4)}
    assert row["also"]["macro_f1"]["n"] == 3
    md = (cfg.out_dir / "results.md").read_text(encoding="utf-8")
    header = next(line for line in md.splitlines() if line.startswith("| encoder"))
    assert "| score (mean ± std, %) | auc (mean ± std, %) | macro_f1 (mean ± std, %) | n |" in header
    assert "| bert | test | accuracy | **50.00 ± 0.00** | 65.00 ± 7.07 | 40.00 ± 0.00 | 3 |" in md
    assert _md_scores(md)[("pair", "bert")] == "**50.00 ± 0.00**"
