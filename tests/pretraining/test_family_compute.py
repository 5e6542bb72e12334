"""The equal-compute comparison of BERT's pretraining family: the FLOPs estimate
(benchmarks/pretraining_family_flops.py), the XLNet recipe and the bench config's grid."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.pretraining_family_flops import (
    MEMBERS,
    equal_flops_steps,
    plan,
    pretrain_overrides,
    recipe_flops,
    sequence_flops,
)
from kgbert.pretraining.config import ConfigError, load_pretrain_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "pretrain"
BERT = {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}


def test_bert_flops_are_six_n_tokens_plus_attention():
    H, F, n, L, V, p = 256, 1024, 4, 128, 6000, 0.15
    c = sequence_flops("bert", BERT, ["mlm"], V, L, mlm_probability=p)
    assert c.encoder == 6 * n * (4 * H * H + 2 * H * F) * L
    assert c.attention == 3 * n * 4 * L * H * L
    assert c.heads == pytest.approx(6 * p * (H * H + H * V) * L)
    assert c.embedding_projection == 0 and c.positions == L
    assert c.total == c.encoder + c.attention + c.heads
    # more masked positions cost more head; a longer sequence costs more attention per token
    assert sequence_flops("bert", BERT, ["mlm"], V, L, mlm_probability=0.3).heads == pytest.approx(2 * c.heads)
    long = sequence_flops("bert", BERT, ["mlm"], V, 2 * L)
    assert long.attention / (2 * L) == pytest.approx(2 * c.attention / L)


def test_objective_heads_add_their_cost():
    V, L = 6000, 128
    mlm = sequence_flops("bert", BERT, ["mlm"], V, L)
    sbo = sequence_flops("bert", BERT, ["mlm", "sbo"], V, L)
    wso = sequence_flops("bert", BERT, ["mlm", "wso"], V, L, shuffle_fraction=0.05, shuffle_k=3)
    sso = sequence_flops("bert", BERT, ["mlm", "sso"], V, L)
    assert sbo.encoder == mlm.encoder and sbo.heads > mlm.heads
    assert wso.heads == pytest.approx(2 * mlm.heads)  # 5 % x 3 shuffled positions = the 15 % masked ones
    assert 0 < sso.heads - mlm.heads < 0.01 * mlm.total  # the pooler, once per sequence


def test_albert_sharing_saves_no_compute_and_electra_pays_for_its_generator():
    V, L = 6000, 128
    bert = sequence_flops("bert", BERT, ["mlm"], V, L)
    albert_cfg = {**BERT, "embedding_size": 128, "num_hidden_groups": 1}
    albert = sequence_flops("albert", albert_cfg, ["mlm"], V, L)
    unshared = sequence_flops("albert", {**albert_cfg, "num_hidden_groups": 4}, ["mlm"], V, L)
    assert albert.encoder == bert.encoder == unshared.encoder and albert.attention == bert.attention
    assert albert.embedding_projection == 6 * 128 * 256 * L and albert.heads < bert.heads  # factorised head
    quarter = sequence_flops("electra", BERT, ["mlm"], V, L, generator_size=0.25)
    half = sequence_flops("electra", BERT, ["mlm"], V, L, generator_size=0.5)
    gen_layers = 6 * 4 * (4 * 64 * 64 + 2 * 64 * 256) * L
    assert quarter.encoder == bert.encoder + gen_layers
    assert bert.total < quarter.total < half.total < 2 * bert.total


def test_xlnet_two_streams_cost_twice_bert_layers_and_more_attention():
    V, L = 6000, 128
    bert = sequence_flops("bert", BERT, ["mlm"], V, L)
    xl = sequence_flops("xlnet", {"d_model": 256, "n_layer": 4, "d_inner": 1024}, ["mlm"], V, L)
    # content stream + position projection (4H^2 + 2HF + 2H^2) and query stream (2H^2 + 2HF): twice BERT's layer
    assert xl.encoder == 2 * bert.encoder and xl.attention == 5 * bert.attention
    assert xl.heads == 6 * 256 * V * L  # dense LM head at every position
    with pytest.raises(ValueError, match="unknown family"):
        sequence_flops("gpt", BERT, ["mlm"], V, L)


def test_equal_flops_steps():
    steps = equal_flops_steps({"a": 10.0, "b": 25.0, "c": 3.0}, "a", 100)
    assert steps == {"a": 100, "b": 40, "c": 333}
    assert equal_flops_steps({"a": 1.0, "b": 1e9}, "a", 1)["b"] == 1  # at least one step


def test_plan_gives_every_member_the_mlm_budget():
    rows = {r["member"]: r for r in plan(128)}  # the runs use 256 (the default); 128 keeps the arithmetic visible
    assert set(rows) == set(MEMBERS)
    budget = rows["mlm"]["flops"]
    for r in rows.values():
        assert abs(r["flops"] - budget) <= r["flops_per_step"] / 2  # nearest step
        assert r["tokens"] == r["steps"] * r["sequences_per_step"] * 128
    assert rows["mlm"]["steps"] == 128 and rows["roberta"]["steps"] == 16  # 8x larger updates, same tokens
    assert rows["xlnet"]["steps"] < 0.5 * 128 and rows["albert"]["steps"] > 128
    over = pretrain_overrides(rows["spanbert"])
    assert f"training.max_steps={rows['spanbert']['steps']}" in over and "vocab.path=backbones/kgbert-zh-small-wwm" in over


def test_members_share_corpus_vocabulary_and_size():
    base = load_pretrain_config(CONFIGS / "zh_small_equal_budget.yaml")
    for name, (recipe, overrides) in MEMBERS.items():
        cfg = load_pretrain_config(CONFIGS / f"{recipe}.yaml", overrides)
        assert cfg.data.corpus == base.data.corpus and cfg.data.max_length == base.data.max_length, name
        assert Path(cfg.vocab.path or "").name == "kgbert-zh-small-wwm", name
        assert cfg.training.batch_size == 32, name
        mc = dict(cfg.model.config)
        assert (mc["hidden_size"], mc["num_hidden_layers"], mc["intermediate_size"]) == (256, 4, 1024), name
        assert recipe_flops(cfg, 6255)["flops_per_sequence"] > 0


def test_xlnet_recipe_parses_and_matches_the_wwm_recipe():
    xl = load_pretrain_config(CONFIGS / "zh_small_xlnet.yaml")
    wwm = load_pretrain_config(CONFIGS / "zh_small_wwm.yaml")
    assert xl.model.family == "xlnet" and xl.model.objectives == ["mlm"] and xl.masking.strategy == "mlm"
    assert xl.data.corpus == wwm.data.corpus and xl.data.max_length % 2 == 0
    assert xl.training == wwm.training
    for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
        assert xl.model.config[k] == wwm.model.config[k]
    assert xl.model.family_options["max_span_length"] == 5
    with pytest.raises(ConfigError, match="even"):
        load_pretrain_config(CONFIGS / "zh_small_xlnet.yaml", ["data.max_length=127"])


def test_family_bench_config_grid(monkeypatch):
    from kgbert.bench.config import cell_dict, load_bench

    monkeypatch.setenv("KGBERT_FAMILY_RUNS", "/x/runs")
    cfg = load_bench(REPO / "configs" / "bench" / "pretraining_family.yaml")
    assert set(cfg.encoders) == {"bert_random", *MEMBERS} and set(cfg.tasks) == {"chnsenticorp", "afqmc", "msra_ner"}
    assert cfg.seeds == [1, 2, 3]
    for task in cfg.tasks:
        budgets = set()
        for enc in cfg.encoders:
            d = cell_dict(cfg, task, enc, 1)
            assert d["model"]["backbone"].startswith("/x/runs/")
            want = {"albert": "albert", "xlnet": "xlnet"}.get(enc, "bert")
            assert d["model"]["encoder"] == want
            budgets.add(repr((d["data"].get("limit_train"), d["data"]["max_length"], d["training"])))
        assert len(budgets) == 1, task  # identical fine-tuning budget in every row of a task


def test_report_reads_time_v_and_judges_the_spread(tmp_path):
    from benchmarks.pretraining_family_report import time_v, verdict

    log = tmp_path / "pre_x.log"
    log.write_text("step logs ...\n\tUser time (seconds): 190.68\n\tSystem time (seconds): 5.35\n"
                   "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:06:35.12\n", encoding="utf-8")
    t = time_v(log)
    assert t["cpu_s"] == pytest.approx(196.03) and t["wall_s"] == pytest.approx(3600 + 6 * 60 + 35.12)
    assert time_v(tmp_path / "missing.log") == {}
    a, b = {"mean": 60.0, "std": 2.0, "n": 3}, {"mean": 57.0, "std": 1.0, "n": 3}
    assert verdict(a, b) == (3.0, "beyond") and verdict(b, a) == (-3.0, "beyond")
    assert verdict({**a, "std": 4.0}, b) == (3.0, "within")
    assert verdict({**a, "n": 1}, b)[1] == "one seed" and verdict(a, None) == (None, "")
