"""Typed YAML run configs: strict keys, typed dotted overrides, env references."""
import pytest

from kgbert.training.config import ConfigError, config_from_dict, dump_config, load_config


def test_unknown_key_is_named_with_file(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("training:\n  lrr: 0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'training\.lrr' in .*x\.yaml \(did you mean 'training\.lr'\?\)"):
        load_config(p)
    with pytest.raises(ConfigError, match=r"unknown key 'trainng'"):
        config_from_dict({"trainng": {"lr": 1}}, "configs/x.yaml")


def test_overrides_are_typed(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("training:\n  lr: 5e-5\n", encoding="utf-8")  # YAML 1.1 reads 5e-5 as a string
    c = load_config(p, ["training.epochs=2", "seed=7", "resume=false", "model.backbone_config={hidden_size: 64}",
                        "task.labels=[O, B-X]"])
    assert c.training.lr == pytest.approx(5e-5) and isinstance(c.training.lr, float)
    assert c.training.epochs == 2.0 and c.seed == 7 and c.resume is False
    assert c.model.backbone_config == {"hidden_size": 64} and c.task.labels == ["O", "B-X"]
    with pytest.raises(ConfigError, match=r"training\.batch_size: expected an integer, found 'big'"):
        load_config(p, ["training.batch_size=big"])
    with pytest.raises(ConfigError, match=r"task\.type: 'ner' is not one of"):
        load_config(p, ["task.type=ner"])
    with pytest.raises(ConfigError, match=r"unknown key 'training\.nope'"):
        load_config(p, ["training.nope=1"])
    with pytest.raises(ConfigError, match="not of the form key=value"):
        load_config(p, ["training.lr"])


def test_env_references(monkeypatch):
    monkeypatch.setenv("KGB_TEST_DIR", "/data")
    c = config_from_dict({"data": {"train": "${KGB_TEST_DIR}/t.tsv", "dev": "${KGB_UNSET_VAR:-../d}/d.tsv"}})
    assert c.data.train == "/data/t.tsv" and c.data.dev == "../d/d.tsv"
    with pytest.raises(ConfigError, match="KGB_UNSET_VAR is not set"):
        config_from_dict({"data": {"train": "${KGB_UNSET_VAR}/t.tsv"}})


def test_dump_roundtrip(tmp_path):
    c = config_from_dict({"name": "a", "training": {"lr": 1e-3}, "model": {"options": {"use_vm": True}}})
    dump_config(c, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == c


def test_repo_configs_are_valid():
    from pathlib import Path

    for p in sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml")):
        if p.name.startswith("srl"):  # the SRL tagger has its own config schema
            continue
        load_config(p)
