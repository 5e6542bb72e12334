"""ERNIE-THU pretraining with the denoising entity auto-encoder (dEA): the ``kg_links`` corpus
annotator and its token alignment, the corruption shares on a large batch, a falling loss on a
tiny model, no gradient to the frozen table, a ``kgbert.pretrain`` run and its save/load round trip."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kgbert.objectives.dea import DenoisingEntityAutoEncoder
from kgbert.pretraining.kg_links import KgLinkAnnotator, kg_id_units
from knowledge.embed import write_export
from tests.models._kg import make_kg
from tests.pretraining.helpers import tiny_config

MED_SPO = ("高血压\t类别\t疾病\n依那普利\t治疗\t高血压\n头痛\t类别\t症状\n血常规\t类别\t检查\n"
           "公司\t发布\t公告\n股票\t类别\t金融\n公园\t类别\t地点\n")
DIM = 8
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "entity_attention_heads": 2}


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    store = make_kg(tmp_path_factory.mktemp("dea_kg"), MED_SPO, "med")
    yield store
    store.close()


@pytest.fixture(scope="module")
def export(kg, tmp_path_factory):
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("dea_kge") / "kge"
    return write_export(out, entity=rng.normal(size=(kg.num_entities, DIM)).astype(np.float32),
                        relation=rng.normal(size=(kg.num_relations, DIM)).astype(np.float32),
                        entity_names=kg.entity_names(), relation_names=[f"r{i}" for i in range(kg.num_relations)],
                        build_id=kg.build_id)


def test_kg_links_spans_ids_and_first_token_alignment(kg):
    ann = KgLinkAnnotator(kg=str(kg.path))
    text = "患者服用依那普利治疗高血压和头痛"
    (out,) = ann([text])
    names = [text[s:e] for s, e in zip(out["entities"][::2], out["entities"][1::2])]
    assert names == ["依那普利", "高血压", "头痛"]
    assert out["kg_ids"] == [kg.entity_id(n) for n in names]
    assert ann.options["build_id"] == kg.build_id  # a rebuilt store gets a new cache key
    offsets = [(i, i + 1) for i in range(len(text))]  # one token per character
    units = kg_id_units(offsets, out["entities"], out["kg_ids"])
    expect = [-1] * len(text)
    for n in names:
        expect[text.index(n)] = kg.entity_id(n)
    assert units == expect
    # a token covering two characters: the id goes to the first token starting inside the mention
    assert kg_id_units([(0, 2), (2, 4), (4, 6)], [3, 5], [7]) == [-1, -1, 7]


def test_corruption_shares_on_a_large_batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 500, (64, 512), generator=g)
    ids[torch.rand(64, 512, generator=g) > 0.3] = 0  # ~30 % of positions aligned
    dea = DenoisingEntityAutoEncoder()
    out = dea.corrupt(ids, torch.Generator().manual_seed(1))
    pos = ids > 0
    n = int(pos.sum())
    new = out["entity_ids"][pos]
    orig = ids[pos]
    masked = (new == 0).float().mean().item()
    replaced = ((new != 0) & (new != orig)).float().mean().item()
    kept = (new == orig).float().mean().item()
    assert n > 9000
    assert abs(replaced - 0.05) < 0.01 and abs(masked - 0.15) < 0.015 and abs(kept - 0.80) < 0.02
    assert torch.equal(out["entity_ids"][~pos], ids[~pos])  # nothing appears off the aligned positions
    cand, target = dea.candidates(out["entity_labels"])
    assert torch.equal(cand, torch.unique(orig))  # candidates: the batch's entities
    assert torch.equal(cand[target], orig)  # targets: the original entities
    assert (out["entity_labels"][~pos] == -100).all()
    assert torch.isin(new[new != 0], cand).all()  # replacements come from the batch's candidates
    assert out["entity_corruption"].tolist() == [round(kept * n), round(replaced * n), round(masked * n)]


def test_corruption_off_and_single_candidate():
    ids = torch.tensor([[0, 5, 0, 5, 5]])
    dea = DenoisingEntityAutoEncoder(replace=1.0, mask=0.0)
    out = dea.corrupt(ids, torch.Generator().manual_seed(0))
    assert torch.equal(out["entity_ids"], ids)  # one candidate: nothing else to draw, kept
    off = DenoisingEntityAutoEncoder().corrupt(ids, corrupt=False)
    assert torch.equal(off["entity_ids"], ids) and off["entity_labels"].tolist() == [[-100, 5, -100, 5, 5]]


def _tiny_model(export):
    from kgbert.models.configuration_ernie_thu import ErnieThuConfig
    from kgbert.models.modeling_ernie_thu import ErnieThuForPreTraining

    torch.manual_seed(0)
    return ErnieThuForPreTraining(ErnieThuConfig(vocab_size=40, entity_embeddings=str(export), **TINY))


def _batch(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    B, L = 8, 16
    input_ids = torch.randint(5, 40, (B, L), generator=g)
    labels = torch.full((B, L), -100)
    labels[:, 3] = input_ids[:, 3]
    input_ids[:, 3] = 4
    ent = torch.zeros(B, L, dtype=torch.long)
    ent[:, 1] = torch.randint(1, model.config.num_entities + 1, (B,), generator=g)
    ent[:4, 6] = torch.randint(1, model.config.num_entities + 1, (4,), generator=g)
    batch = {"input_ids": input_ids, "attention_mask": torch.ones(B, L, dtype=torch.long), "labels": labels}
    batch.update({k: v for k, v in DenoisingEntityAutoEncoder().corrupt(ent, g).items() if k != "entity_corruption"})
    return batch


def test_loss_falls_and_no_gradient_reaches_the_table(export):
    model = _tiny_model(export).train()
    table = model.entity_table.clone()
    assert "entity_table" not in dict(model.named_parameters())
    batch = _batch(model)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        out = model(**batch)
        assert out.mlm_loss is not None and out.dea_loss is not None
        losses.append((out.mlm_loss.item(), out.dea_loss.item()))
        opt.zero_grad()
        out.loss.backward()
        if step == 0:
            assert model.entity_predictions.dense.weight.grad.abs().sum() > 0
            assert model.entity_fusion[0].entity_in.weight.grad.abs().sum() > 0
            assert model.entity_table.grad is None and not model.entity_table.requires_grad
        opt.step()
    assert losses[-1][0] < 0.6 * losses[0][0] and losses[-1][1] < 0.6 * losses[0][1]
    assert torch.equal(model.entity_table, table)


def test_pretrain_run_with_dea_and_round_trip(tmp_path, kg, export):
    from transformers import AutoConfig

    from kgbert.models import build_model
    from kgbert.models.modeling_ernie_thu import ErnieThuForPreTraining
    from kgbert.pretraining.run import run_pretraining

    cfg = tiny_config(tmp_path, **{
        "model.family": "ernie_thu",
        "model.objectives": ["mlm", "dea"],
        "model.config": {**TINY, "entity_embeddings": str(export)},
        "masking.annotator": "kg_links",
        "masking.annotator_options": {"kg": str(kg.path)},
        "data.cache_dir": str(tmp_path / "cache"),
    })
    info = run_pretraining(cfg)
    assert info["global_step"] == 8
    best = tmp_path / "run" / "best"
    assert json.loads((best / "config.json").read_text())["model_type"] == "ernie_thu"
    assert "eval_paras_entity_accuracy" in info["heldout"]
    logs = [json.loads(x) for x in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in logs if "loss" in r)
    assert AutoConfig.from_pretrained(best).model_type == "ernie_thu"
    model = ErnieThuForPreTraining.from_pretrained(best).eval()
    before = ErnieThuForPreTraining.from_pretrained(best).eval()
    assert torch.equal(model.entity_table, before.entity_table)
    batch = _batch(model)
    with torch.no_grad():
        a, b = model(**batch), before(**batch)
    assert torch.allclose(a.loss, b.loss) and torch.allclose(a.entity_logits, b.entity_logits)
    # the dEA checkpoint is a fine-tuning backbone of ernie_thu: text layers, fusion and table load
    ft = build_model("ernie_thu", "token", 3, backbone=best, entity_embeddings=str(export))  # as a run config names it
    assert torch.equal(ft.entity_table, model.entity_table)
    sd, ft_sd = model.state_dict(), ft.state_dict()
    for k in ("bert.encoder.layer.1.output.dense.weight", "entity_fusion.0.entity_in.weight"):
        assert torch.equal(sd[k], ft_sd[k])


def test_dea_config_errors(tmp_path, kg, export):
    from kgbert.training.config import ConfigError

    with pytest.raises(ConfigError, match="need\\(s\\) model.family 'ernie_thu', found 'bert'"):
        tiny_config(tmp_path, **{"model.objectives": ["mlm", "dea"]})
    with pytest.raises(ConfigError, match="masking.annotator: kg_links"):
        tiny_config(tmp_path, **{"model.family": "ernie_thu", "model.objectives": ["mlm", "dea"],
                                 "model.config": {"entity_embeddings": str(export)}})
    with pytest.raises(ConfigError, match="needs model.config.entity_embeddings"):
        tiny_config(tmp_path, **{"model.family": "ernie_thu", "model.objectives": ["mlm", "dea"],
                                 "masking.annotator": "kg_links", "masking.annotator_options": {"kg": str(kg.path)}})
