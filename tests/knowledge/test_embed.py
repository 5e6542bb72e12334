"""KG embeddings: id-preserving adapter, training beats random, export/load, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge import BadInputError, KnowledgeGraph, build_kg
from knowledge.embed import (BuildMismatchError, ExportExistsError, from_files, from_store,
                             load_embeddings, write_export)
from tests.knowledge.helpers import write


def _pykeen():
    return pytest.importorskip("pykeen", reason="PyKEEN not installed (pip install 'kgbert[kge]')")


def _store(tmp_path, text: str, name: str = "kg.sqlite"):
    src = write(tmp_path / (name + ".spo"), text)
    out = tmp_path / name
    build_kg([src], out, force=True)
    return KnowledgeGraph.open(out)


SPO = "甲\t相邻\t乙\n乙\t相邻\t丙\n丙\t属于\t组一\n甲\t属于\t组一\n丁\t相邻\t甲\n"


# -- adapter ----------------------------------------------------------------------------------
def test_store_ids_are_preserved(tmp_path):
    kg = _store(tmp_path, SPO)
    data = from_store(kg)
    assert data.build_id == kg.build_id
    assert data.entity_names == [kg.entity_name(i) for i in range(kg.num_entities)]
    assert data.relation_names == kg.relation_names()
    got = {(data.entity_names[h], data.relation_names[r], data.entity_names[t])
           for h, r, t in data.splits["train"].tolist()}
    assert got == set(kg.iter_triples())
    for h, r, _t in data.splits["train"].tolist():  # ids are the store's, not a relabelling
        assert kg.entity_id(data.entity_names[h]) == h and kg.relation_id(data.relation_names[r]) == r


def test_pykeen_factory_keeps_ids_and_split_keeps_every_entity_in_train(tmp_path):
    _pykeen()
    from knowledge.embed import split_triples
    from knowledge.embed.triples import to_pykeen

    lines = "".join(f"e{i}\tr{i % 3}\te{(i * 7 + 1) % 40}\n" for i in range(120))
    kg = _store(tmp_path, lines)
    data = from_store(kg)
    factory = to_pykeen(data.splits["train"], data.num_entities, data.num_relations)
    assert np.array_equal(factory.mapped_triples.numpy(), data.splits["train"])
    assert factory.num_entities == kg.num_entities
    parts = split_triples(data, (0.8, 0.1, 0.1), seed=3)
    assert sum(len(v) for v in parts.splits.values()) == len(data.splits["train"])
    assert set(np.unique(parts.splits["train"][:, [0, 2]])) == set(range(kg.num_entities))
    assert {tuple(t) for t in parts.all_triples().tolist()} == {tuple(t) for t in data.splits["train"].tolist()}


def test_files_get_first_appearance_ids(tmp_path):
    tr = write(tmp_path / "train.txt", "a\tr\tb\nc\ts\ta\n\n")
    te = write(tmp_path / "test.txt", "d\tr\tb\n")
    data = from_files(tr, None, te)
    assert data.entity_names == ["a", "b", "c", "d"] and data.relation_names == ["r", "s"]
    assert data.splits["train"].tolist() == [[0, 0, 1], [2, 1, 0]]
    assert data.splits["test"].tolist() == [[3, 0, 1]]
    assert data.build_id == from_files(tr, None, te).build_id  # deterministic
    write(te, "d\tr\tc\n")
    assert from_files(tr, None, te).build_id != data.build_id  # tied to the content


@pytest.mark.parametrize("bad, reason", [("x\ty\n", "expected 3 tab-separated fields"),
                                         ("x\t\tz\n", "empty field"),
                                         ("x\ty\tz\tw\n", "got 4")])
def test_malformed_line_names_file_and_line(tmp_path, bad, reason):
    tr = write(tmp_path / "train.txt", "a\tr\tb\n")
    va = write(tmp_path / "valid.txt", "a\tr\tb\n\nc\tr\td\n" + bad)
    with pytest.raises(BadInputError, match=f"{va}:4: .*{reason}"):
        from_files(tr, va)


# -- export -----------------------------------------------------------------------------------
def _export(tmp_path, kg, out=None, force=False, seed=0):
    rng = np.random.default_rng(seed)
    ent = rng.standard_normal((kg.num_entities, 8)).astype(np.float32)
    rel = rng.standard_normal((kg.num_relations, 8)).astype(np.float32)
    out = out or tmp_path / "emb"
    write_export(out, entity=ent, relation=rel, entity_names=kg.entity_names(),
                 relation_names=kg.relation_names(), build_id=kg.build_id,
                 meta={"config": {"model": "TransE"}}, metrics_md="| x |\n", force=force)
    return out, ent, rel


def test_export_round_trip_memory_mapped(tmp_path):
    kg = _store(tmp_path, SPO)
    out, ent, rel = _export(tmp_path, kg)
    emb = load_embeddings(out, kg=kg)
    assert isinstance(emb.entity, np.memmap) and not emb.entity.flags.writeable
    assert np.array_equal(emb.entity, ent) and np.array_equal(emb.relation, rel)
    assert emb.entity_names() == kg.entity_names() and emb.relation_names() == kg.relation_names()
    assert np.array_equal(emb.entity[kg.entity_id("丙")], ent[kg.entity_id("丙")])
    assert emb.tensor("entity").shape == (kg.num_entities, 8)
    # the tables are plain safetensors: any reader sees the same numbers
    from safetensors.numpy import load_file

    assert np.array_equal(load_file(str(out / "embeddings.safetensors"))["entity"], ent)
    assert (out / "metrics.md").read_text() == "| x |\n"
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_loading_against_another_build_fails_clearly(tmp_path):
    kg = _store(tmp_path, SPO)
    out, _, _ = _export(tmp_path, kg)
    other = _store(tmp_path, SPO, name="rebuilt.sqlite")  # same triples, new build
    assert other.build_id != kg.build_id
    with pytest.raises(BuildMismatchError, match=f"trained on store build {kg.build_id}.*"
                                                 f"is build {other.build_id}"):
        load_embeddings(out, kg=other)
    with pytest.raises(BuildMismatchError):
        load_embeddings(out, build_id="0" * 32)
    assert load_embeddings(out, build_id=kg.build_id).num_entities == kg.num_entities


def test_export_refuses_to_overwrite_without_force(tmp_path):
    kg = _store(tmp_path, SPO)
    out, ent, _ = _export(tmp_path, kg)
    with pytest.raises(ExportExistsError, match="--force"):
        _export(tmp_path, kg, out=out, seed=1)
    assert np.array_equal(load_embeddings(out).entity, ent)  # untouched
    _, ent2, _ = _export(tmp_path, kg, out=out, seed=1, force=True)
    assert np.array_equal(load_embeddings(out).entity, ent2)
    mine = tmp_path / "not_an_export"
    mine.mkdir()
    (mine / "keep.txt").write_text("user data")
    with pytest.raises(ExportExistsError, match="not an embedding export"):
        _export(tmp_path, kg, out=mine, force=True)
    assert (mine / "keep.txt").read_text() == "user data"


def test_damaged_export_is_rejected(tmp_path):
    kg = _store(tmp_path, SPO)
    out, _, _ = _export(tmp_path, kg)
    meta = json.loads((out / "meta.json").read_text())
    meta["build_id"] = "f" * 32
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="disagree"):
        load_embeddings(out)


# -- training ---------------------------------------------------------------------------------
def _grouped_graph(tmp_path):
    """8 groups of 6 members: member_of (member -> hub), has_member (hub -> member), and a ring
    of peers inside each group; one member_of triple per group held out for valid and for test."""
    train, valid, test = [], [], []
    for g in range(8):
        hub = f"hub{g}"
        members = [f"m{g}_{k}" for k in range(6)]
        for k, m in enumerate(members):
            (test if k == 0 else valid if k == 1 else train).append((m, "member_of", hub))
            train.append((hub, "has_member", m))
            train.append((m, "peer", members[(k + 1) % 6]))
    paths = []
    for name, rows in (("train", train), ("valid", valid), ("test", test)):
        paths.append(write(tmp_path / f"{name}.txt", "".join("\t".join(t) + "\n" for t in rows)))
    return paths


@pytest.mark.slow
def test_tiny_graph_trains_and_beats_random_embeddings(tmp_path):
    _pykeen()
    from knowledge.embed.training import EmbedConfig, build_model, evaluate, train
    from knowledge.embed.triples import to_pykeen

    data = from_files(*_grouped_graph(tmp_path))
    config = EmbedConfig(dim=32, norm=1, margin=1.0, lr=0.02, batch_size=64, epochs=40,
                         eval_every=10, patience=5, seed=0)
    result = train(data, config, use_tqdm=False)
    known = [data.splits["train"], data.splits["valid"]]
    random_model = build_model(config, to_pykeen(data.splits["train"], data.num_entities,
                                                 data.num_relations), seed=1)
    baseline = evaluate(random_model, data.splits["test"], known, use_tqdm=False)
    trained = result.metrics
    assert trained == evaluate(result.model, data.splits["test"], known, use_tqdm=False)
    assert result.validation_history and result.best_epoch is not None
    for side in ("tail", "both"):
        assert trained[side]["MRR"] > 2 * baseline[side]["MRR"], (trained, baseline)
    assert trained["both"]["Hits@10"] > baseline["both"]["Hits@10"] + 0.2
    for side in ("head", "tail", "both"):
        assert set(trained[side]) == {"MR", "MRR", "Hits@1", "Hits@3", "Hits@10"}
        assert 1 <= trained[side]["MR"] <= data.num_entities


def test_time_budget_stops_training_and_keeps_best(tmp_path):
    _pykeen()
    from knowledge.embed.training import EmbedConfig, train

    data = from_files(*_grouped_graph(tmp_path))
    result = train(data, EmbedConfig(dim=8, epochs=1000, eval_every=1000, max_minutes=0.0,
                                     batch_size=64), use_tqdm=False)
    assert result.epochs_run == 1 and result.stopped_by.startswith("time budget")
    assert result.validation_history and result.validation_history[0][0] == 1


def test_cpu_time_budget_stops_training_and_records_cpu_seconds(tmp_path):
    _pykeen()
    import time

    from knowledge.embed.training import EmbedConfig, train

    data = from_files(*_grouped_graph(tmp_path))
    # a generous wall budget never triggers; the CPU budget (process CPU time) does
    cpu0 = time.process_time()
    result = train(data, EmbedConfig(dim=8, epochs=1000, eval_every=1000, max_minutes=60.0,
                                     max_cpu_minutes=0.0, batch_size=64), use_tqdm=False)
    used = time.process_time() - cpu0
    assert result.epochs_run == 1 and result.stopped_by == "time budget (0.0 CPU min)"
    assert 0 < result.cpu_seconds_train <= used and 0 <= result.cpu_seconds_eval <= used
    assert len(result.validation_cpu_seconds) == len(result.validation_history) == 1
    assert 0 < result.validation_cpu_seconds[0] <= result.cpu_seconds_train
    # no CPU budget and a wall budget that is not reached: the epoch count decides
    result = train(data, EmbedConfig(dim=8, epochs=3, eval_every=1000, max_minutes=60.0,
                                     batch_size=64), use_tqdm=False)
    assert result.epochs_run == 3 and result.stopped_by == "epochs"


def test_lr_scheduler_decays_the_learning_rate_per_epoch(tmp_path):
    _pykeen()
    from knowledge.embed.training import EmbedConfig, train

    data = from_files(*_grouped_graph(tmp_path))
    result = train(data, EmbedConfig(dim=8, epochs=4, eval_every=1, patience=10, lr=0.01,
                                     batch_size=64, lr_scheduler="ExponentialLR",
                                     lr_scheduler_kwargs={"gamma": 0.5}), use_tqdm=False)
    # the lr used in epochs 1..4 (recorded at each validation): 0.01 halved after every epoch
    assert [e for e, _ in result.validation_history] == [1, 2, 3, 4]
    assert result.validation_lr == pytest.approx([0.01, 0.005, 0.0025, 0.00125])
    # without a scheduler the lr stays put
    result = train(data, EmbedConfig(dim=8, epochs=3, eval_every=1, patience=10, lr=0.01,
                                     batch_size=64), use_tqdm=False)
    assert result.validation_lr == pytest.approx([0.01] * 3)


def test_reduce_on_plateau_is_stepped_with_validation_mrr(tmp_path):
    _pykeen()
    from knowledge.embed import training
    from knowledge.embed.training import EmbedConfig, train

    data = from_files(*_grouped_graph(tmp_path))
    mrrs = [0.5, 0.4, 0.4, 0.6, 0.3, 0.3]  # validation MRR improves at evaluations 1 and 4 only

    def fake_evaluate(*args, **kwargs):  # validation, then the test evaluation
        mrr = mrrs.pop(0) if mrrs else 0.0
        return {side: {"MR": 1.0, "MRR": mrr, "Hits@1": 0.0, "Hits@3": 0.0, "Hits@10": 0.0}
                for side in ("head", "tail", "both")}

    original = training.evaluate
    training.evaluate = fake_evaluate
    try:
        result = train(data, EmbedConfig(dim=8, epochs=6, eval_every=1, patience=10, lr=0.01,
                                         batch_size=64, lr_scheduler="ReduceLROnPlateau",
                                         lr_scheduler_kwargs={"factor": 0.1, "patience": 1}),
                       use_tqdm=False)
    finally:
        training.evaluate = original
    # mode "max": two evaluations without a higher MRR (patience 1) cut the lr tenfold
    assert result.validation_lr == pytest.approx([0.01, 0.01, 0.01, 0.001, 0.001, 0.001])


@pytest.mark.parametrize("settings, message", [
    ({"lr_scheduler": "NoSuchLR"}, "unknown lr_scheduler"),
    ({"lr_scheduler": "ExponentialLR", "lr_scheduler_kwargs": {"gama": 0.9}}, "not arguments"),
    ({"lr_scheduler_kwargs": {"gamma": 0.9}}, "without an lr_scheduler"),
])
def test_bad_lr_scheduler_settings_fail_before_training(settings, message):
    _pykeen()
    from knowledge.embed.training import EmbedConfig, lr_scheduler_class

    with pytest.raises(ValueError, match=message):
        lr_scheduler_class(EmbedConfig(**settings))


def test_cli_reads_lr_scheduler_settings(tmp_path):
    from knowledge.embed.cli import make_config, parse_args

    cfg = write(tmp_path / "c.yaml", "lr: 0.002\nlr_scheduler: StepLR\n"
                                      "lr_scheduler_kwargs: {step_size: 50, gamma: 0.3}\n")
    config = make_config(parse_args(["--train", "t.txt", "--out", "o", "--config", str(cfg)]))
    assert (config.lr_scheduler, config.lr_scheduler_kwargs) == ("StepLR", {"step_size": 50, "gamma": 0.3})
    config = make_config(parse_args(["--train", "t.txt", "--out", "o", "--config", str(cfg),
                                     "--lr-scheduler", "ExponentialLR",
                                     "--lr-scheduler-kwargs", '{"gamma": 0.98}']))
    assert (config.lr_scheduler, config.lr_scheduler_kwargs) == ("ExponentialLR", {"gamma": 0.98})


# -- CLI --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_end_to_end_on_a_tiny_store(tmp_path, capsys):
    _pykeen()
    from knowledge import demo_kg_source
    from knowledge.embed.cli import main

    store = tmp_path / "demo.sqlite"
    build_kg([demo_kg_source()], store, force=True)
    out = tmp_path / "kge"
    args = ["--kg", str(store), "--out", str(out), "--model", "transe", "--dim", "16",
            "--epochs", "6", "--eval-every", "3", "--batch-size", "256", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| side | MR | MRR | Hits@1 | Hits@3 | Hits@10 |" in printed and f"wrote {out}" in printed
    kg = KnowledgeGraph.open(store)
    emb = load_embeddings(out, kg=kg)
    assert emb.entity.shape == (kg.num_entities, 16) and emb.relation.shape == (kg.num_relations, 16)
    assert np.isfinite(emb.entity).all()
    meta = emb.meta
    assert meta["config"]["model"] == "transe" and meta["epochs_run"] == 6
    assert meta["cpu_seconds"]["total"] >= meta["cpu_seconds"]["train"] > 0
    assert len(meta["validation_cpu_seconds"]) == len(meta["validation_history"]) == len(meta["validation_lr"])
    assert "CPU time (process)" in (out / "metrics.md").read_text()
    assert sum(meta["splits"].values()) == kg.num_triples
    assert "| both |" in (out / "metrics.md").read_text()
    before = (out / "embeddings.safetensors").read_bytes()
    assert main(args) == 2 and "--force" in capsys.readouterr().err
    assert (out / "embeddings.safetensors").read_bytes() == before
    assert main(args + ["--force", "--seed", "1"]) == 0
    assert (out / "embeddings.safetensors").read_bytes() != before


def test_cli_rejects_a_malformed_file_before_training(tmp_path, capsys):
    _pykeen()
    from knowledge.embed.cli import main

    tr = write(tmp_path / "train.txt", "a\tr\tb\nbroken line\n")
    assert main(["--train", str(tr), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert f"{tr}:2: expected 3 tab-separated fields" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("norm", [1, 2])
def test_cdist_scoring_equals_pykeen_scoring(tmp_path, norm):
    _pykeen()
    import torch
    from pykeen.nn.modules import TransEInteraction

    from knowledge.embed.training import EmbedConfig, build_model
    from knowledge.embed.triples import to_pykeen

    data = from_files(*_grouped_graph(tmp_path))
    model = build_model(EmbedConfig(dim=16, norm=norm), to_pykeen(
        data.splits["train"], data.num_entities, data.num_relations))
    assert type(model.interaction).__name__ == "CdistTransEInteraction"
    batch = torch.as_tensor(data.splits["train"][:10])
    fast_t, fast_h = model.score_t(batch[:, :2]), model.score_h(batch[:, 1:])
    model.interaction.__class__ = TransEInteraction
    assert torch.allclose(fast_t, model.score_t(batch[:, :2]), atol=1e-4)
    assert torch.allclose(fast_h, model.score_h(batch[:, 1:]), atol=1e-4)
    assert not torch.allclose(fast_t, fast_h)


@pytest.mark.parametrize("model", ["DistMult", "RotatE"])
def test_other_pykeen_models_are_one_config_value_away(tmp_path, model):
    _pykeen()
    from knowledge.embed.training import EmbedConfig, representations, train

    data = from_files(*_grouped_graph(tmp_path))
    result = train(data, EmbedConfig(model=model, dim=8, epochs=2, eval_every=1, batch_size=64,
                                     loss="nssa", num_negs=4), use_tqdm=False)
    entity, relation, is_complex = representations(result.model)
    assert is_complex == (model == "RotatE")
    width = 16 if is_complex else 8
    assert entity["entity"].shape == (data.num_entities, width)
    assert relation["relation"].shape[0] == data.num_relations
    assert 0 < result.metrics["both"]["MRR"] <= 1
    out = write_export(tmp_path / "e", entity=entity, relation=relation,
                       entity_names=data.entity_names, relation_names=data.relation_names,
                       build_id=data.build_id, meta={"config": {"model": model}})
    assert np.array_equal(load_embeddings(out, build_id=data.build_id).entity, entity["entity"])


def test_embed_never_imports_kgbert_and_loading_needs_no_pykeen():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys, knowledge.embed.cli, knowledge.embed.training; "
            "from knowledge.embed import load_embeddings; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('kgbert', 'pykeen', 'torch')); "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


KGE_CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "kge").glob("*.yaml"))


@pytest.mark.parametrize("path", KGE_CONFIGS, ids=lambda p: p.name)
def test_shipped_kge_configs_load(path):
    """Every shipped configs/kge/*.yaml parses into an EmbedConfig whose LR scheduler resolves."""
    from knowledge.embed.cli import make_config, parse_args
    from knowledge.embed.training import lr_scheduler_class

    config = make_config(parse_args(["--train", "t.txt", "--out", "o", "--config", str(path)]))
    scheduler, _ = lr_scheduler_class(config)
    assert (scheduler is None) == (config.lr_scheduler is None)
    assert config.max_cpu_minutes is None or config.max_cpu_minutes <= 30
