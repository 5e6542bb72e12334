"""Issue 8, item 1: ``overwrite: true`` only deletes a directory kgbert.train created."""
from __future__ import annotations

import pytest

from kgbert.training.config import ConfigError, config_from_dict
from kgbert.training.trainer import run_training
from tests.training.helpers import ner_config


def test_overwrite_refuses_a_users_folder_and_keeps_its_files(tmp_path):
    notes = tmp_path / "run"
    notes.mkdir()
    (notes / "precious.txt").write_text("x")
    cfg = config_from_dict({**ner_config(tmp_path, epochs=1, max_steps=1), "overwrite": True})
    with pytest.raises(ConfigError, match="not a kgbert run directory"):
        run_training(cfg)
    assert (notes / "precious.txt").read_text() == "x"
    assert sorted(p.name for p in notes.iterdir()) == ["precious.txt"]


def test_cli_overwrite_refuses_with_a_clear_message(tmp_path, capsys):
    from kgbert.train import main

    notes = tmp_path / "notes_dir"
    notes.mkdir()
    (notes / "precious.txt").write_text("x")
    import yaml

    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump({**ner_config(tmp_path, epochs=1, max_steps=1), "overwrite": True}))
    rc = main([str(conf), f"output_dir={notes}"])
    assert rc == 2
    assert "not a kgbert run directory" in capsys.readouterr().err
    assert (notes / "precious.txt").read_text() == "x"


def test_overwrite_replaces_its_own_run_and_resume_false_clears_checkpoints(tmp_path):
    from kgbert.training.rundir import MARKER, prepare_run_dir

    run = tmp_path / "run"
    prepare_run_dir(run, overwrite=False, resume=None)
    assert (run / MARKER).is_file()
    (run / "old.txt").write_text("stale")
    (run / "checkpoints").mkdir()
    prepare_run_dir(run, overwrite=False, resume=False)
    assert (run / "old.txt").exists() and not (run / "checkpoints").exists()
    prepare_run_dir(run, overwrite=True, resume=None)
    assert (run / MARKER).is_file() and not (run / "old.txt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare_run_dir(empty, overwrite=True, resume=None)  # an empty folder is fine to use
    assert (empty / MARKER).is_file()
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        prepare_run_dir(afile, overwrite=True, resume=None)


def test_a_bench_cell_that_failed_before_training_stays_rerunnable(tmp_path):
    """The bench writes cell.json into the cell's run dir; a cell that failed before the trainer
    created the directory must not be refused as "not a kgbert run directory" on the rerun."""
    from kgbert.bench.config import bench_from_dict
    from kgbert.bench.runner import run_bench
    from tests.bench.helpers import tiny_bench

    raw = tiny_bench(tmp_path)
    raw["tasks"]["ner"]["run"]["data"]["train"] = str(tmp_path / "missing.tsv")
    cfg = bench_from_dict(raw, quick=True)
    for _ in range(2):
        (rec,) = run_bench(cfg, tasks=["ner"], encoders=["bert"], progress=False, log=lambda m: None)
        assert rec["status"] == "failed" and "not a kgbert run directory" not in rec["error"]["message"]
        assert "missing.tsv" in rec["error"]["message"]
