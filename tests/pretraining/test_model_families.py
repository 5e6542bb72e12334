"""Pretraining model families (``model.family``): config checks, ALBERT (sparse MLM + SOP) and
ELECTRA (replaced token detection), each trained a few steps on a tiny model and fine-tuned."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from kgbert.pretraining.config import ConfigError
from kgbert.pretraining.families import FAMILIES
from kgbert.pretraining.run import run_pretraining
from tests.pretraining.helpers import tiny_config

TINY_BERT = {"vocab_size": 60, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def _losses(run_dir: Path, key: str = "loss") -> list[float]:
    recs = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    return [r[key] for r in recs if key in r]


def _falls(losses: list[float], by: float) -> bool:
    return sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - by


# ---------------------------------------------------------------------- config
def test_family_is_a_config_value_with_clear_errors(tmp_path):
    assert set(FAMILIES) >= {"bert", "albert", "electra"}
    assert tiny_config(tmp_path).model.family == "bert"
    with pytest.raises(ConfigError, match="model.family: unknown 'robert'"):
        tiny_config(tmp_path, **{"model.family": "robert"})
    with pytest.raises(ConfigError, match=r"family 'electra' trains \['mlm'\], not \['sop'\]"):
        tiny_config(tmp_path, **{"model.family": "electra", "model.objectives": ["mlm", "sop"]})
    with pytest.raises(ConfigError, match="unknown \\['generator_width'\\] for family 'electra'"):
        tiny_config(tmp_path, **{"model.family": "electra", "model.family_options": {"generator_width": 0.5}})
    with pytest.raises(ConfigError, match="generator_size must be in"):
        tiny_config(tmp_path, **{"model.family": "electra", "model.family_options": {"generator_size": 0}})
    with pytest.raises(ConfigError, match="unknown \\['generator_size'\\] for family 'albert'"):
        tiny_config(tmp_path, **{"model.family": "albert", "model.family_options": {"generator_size": 0.5}})


# ---------------------------------------------------------------------- ALBERT
def test_albert_sparse_heads_match_transformers_dense_ones():
    from transformers import AlbertConfig, AlbertForPreTraining

    from kgbert.models.modeling_pretraining_albert import AlbertForSparseMaskedLM, AlbertForSparsePreTraining

    cfg = AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                       intermediate_size=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                       classifier_dropout_prob=0.0)
    torch.manual_seed(0)
    dense = AlbertForPreTraining(cfg).eval()
    sparse = AlbertForSparsePreTraining(cfg).eval()
    sparse.load_state_dict(dense.state_dict())
    assert len(sparse.albert.encoder.albert_layer_groups) == 1  # one set of layer weights for 3 layers
    ids = torch.randint(5, 50, (3, 12))
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[1, 5], labels[2, 1], labels[2, 10] = 7, 9, 11, 11
    order = torch.tensor([0, 1, 0])
    d = dense(input_ids=ids, labels=labels, sentence_order_label=order)
    s = sparse(input_ids=ids, labels=labels, next_sentence_label=order)
    assert s.logits.shape == (4, 50)
    torch.testing.assert_close(s.logits, d.prediction_logits[labels != -100])
    torch.testing.assert_close(s.seq_relationship_logits, d.sop_logits)
    torch.testing.assert_close(s.loss, d.loss)
    mlm = AlbertForSparseMaskedLM(cfg).eval()
    mlm.load_state_dict({k: v for k, v in dense.state_dict().items() if not k.startswith(("sop_", "albert.pooler"))})
    torch.testing.assert_close(mlm(input_ids=ids, labels=labels).logits, s.logits)


@pytest.mark.slow
def test_tiny_albert_pretraining_with_sop_and_fine_tuning(tmp_path):
    from transformers import AutoModelForMaskedLM

    from kgbert.models import build_model

    model_cfg = {"embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                 "intermediate_size": 64, "max_position_embeddings": 64, "hidden_dropout_prob": 0.0,
                 "attention_probs_dropout_prob": 0.0, "classifier_dropout_prob": 0.0}
    cfg = tiny_config(tmp_path, **{"model.family": "albert", "model.objectives": ["mlm", "sop"], "model.config": model_cfg,
                                   "training.max_steps": 16, "training.save_steps": 16, "training.lr": 1e-2})
    info = run_pretraining(cfg)
    assert _falls(_losses(cfg.run_dir), 0.3), _losses(cfg.run_dir)
    assert info["recipe"]["family"] == "albert" and info["recipe"]["model"]["embedding_size"] == 16
    best = cfg.run_dir / "best"
    cfg_json = json.loads((best / "config.json").read_text())
    assert cfg_json["model_type"] == "albert" and cfg_json["architectures"] == ["AlbertForPreTraining"]
    weights = load_file(str(best / "model.safetensors"))
    assert {k.split(".")[0] for k in weights} == {"albert", "predictions", "sop_classifier"}
    assert weights["albert.embeddings.word_embeddings.weight"].shape[1] == 16  # factorised: E = 16, H = 32
    assert "ALBERT (2 layers sharing 1 set(s) of weights" in (best / "README.md").read_text(encoding="utf-8")
    assert type(AutoModelForMaskedLM.from_pretrained(str(best), local_files_only=True)).__name__ == "AlbertForMaskedLM"
    emb = weights["albert.embeddings.word_embeddings.weight"]
    for task in ("sequence", "pair", "token"):
        m = build_model("albert", task, 3, backbone=str(best))
        torch.testing.assert_close(m.albert.embeddings.word_embeddings.weight, emb)
    for encoder in ("kbert", "bert"):  # BERT-based encoders cannot take an ALBERT checkpoint: a clear error
        with pytest.raises(ValueError, match=f"encoder '{encoder}' .* cannot use the ALBERT checkpoint .*encoders for ALBERT"):
            build_model(encoder, "sequence", 3, backbone=str(best))
    with pytest.raises(ValueError, match="soft positions"):
        build_model("kbert", "token", 3, backbone=str(best))


# ---------------------------------------------------------------------- ELECTRA
def _electra(seed: int = 0, **over):
    from transformers import BertConfig

    from kgbert.models.modeling_pretraining_electra import ElectraForReplacedTokenDetection

    cfg = BertConfig(**{**TINY_BERT, "generator_size": 0.25, "discriminator_weight": 50.0, "temperature": 1.0, **over})
    torch.manual_seed(seed)
    return ElectraForReplacedTokenDetection(cfg)


def _masked_batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    original = torch.randint(5, 60, (4, 12), generator=g)
    pick = torch.rand(4, 12, generator=g) < 0.3
    pick[:, 0] = True
    labels = torch.where(pick, original, torch.full_like(original, -100))
    ids = torch.where(pick, torch.full_like(original, 4), original)  # [MASK] = 4
    mask = torch.ones_like(ids)
    mask[3, 9:] = 0
    return original, ids, labels, mask


def test_replaced_token_labels_count_a_sampled_original_as_original():
    from kgbert.models.modeling_pretraining_electra import replaced_token_labels

    ids = torch.tensor([[2, 4, 4, 9, 4, 3]])  # [CLS] [MASK] [MASK] 9 [MASK] [SEP]
    labels = torch.tensor([[-100, 7, 8, -100, 5, -100]])
    sampled = torch.tensor([[2, 7, 6, 9, 5, 3]])  # position 1 and 4: the original drawn again; 2: replaced
    assert replaced_token_labels(ids, labels, sampled).tolist() == [[0, 0, 1, 0, 0, 0]]
    # a random replacement by the collator (input 11 where the original was 5) that the sampler turns back
    assert replaced_token_labels(torch.tensor([[11]]), torch.tensor([[5]]), torch.tensor([[5]])).tolist() == [[0]]


def test_electra_discriminator_labels_are_one_exactly_where_the_sample_differs():
    original, ids, labels, mask = _masked_batch()
    model = _electra()
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    picked = labels != -100
    assert torch.equal(out.corrupted_ids[~picked], ids[~picked])  # only masked positions are resampled
    assert torch.equal(out.discriminator_labels.bool(), picked & (out.corrupted_ids != original))
    assert out.logits.shape == (int(picked.sum()), 60) and out.discriminator_logits.shape == ids.shape
    assert not out.corrupted_ids.requires_grad
    # the generator made certain of the original token: sampled == original everywhere, all labels 0
    forced = _electra()
    with torch.no_grad():
        forced.generator.bias.fill_(-1e4)
        forced.generator.bias[7] = 1e4
    labels7 = torch.where(picked, torch.full_like(ids, 7), labels)
    out7 = forced(input_ids=ids, attention_mask=mask, labels=labels7)
    assert torch.equal(out7.corrupted_ids[picked], torch.full_like(ids, 7)[picked])
    assert out7.discriminator_labels.sum() == 0
    # the loss is generator MLM + 50 x the discriminator's BCE over non-padding positions
    keep = mask.bool()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out.discriminator_logits[keep], out.discriminator_labels[keep].float())
    torch.testing.assert_close(out.loss, out.generator_loss + 50 * bce)


def test_electra_generator_is_a_fraction_of_the_width_and_shares_the_embeddings():
    model = _electra(hidden_size=64, num_attention_heads=4, intermediate_size=128)
    gen = model.generator.encoder.config
    assert (gen.hidden_size, gen.num_attention_heads, gen.intermediate_size, gen.num_hidden_layers) == (16, 1, 32, 2)
    assert not any("word_embeddings" in k or "position_embeddings" in k for k, _ in model.generator.named_parameters())
    _, ids, labels, mask = _masked_batch(1)
    # the generator's MLM loss alone reaches the shared word and position embeddings
    from kgbert.objectives.mlm import MaskedLM

    shared = model.discriminator.bert.embeddings
    hidden = model.generator(shared(input_ids=ids), mask)
    _, loss = MaskedLM.logits_and_loss(lambda h: model.generator.head(h, shared.word_embeddings.weight), hidden, labels)
    loss.backward()
    assert shared.word_embeddings.weight.grad.abs().sum() > 0 and shared.position_embeddings.weight.grad.abs().sum() > 0
    assert model.discriminator.discriminator_predictions.dense.weight.grad is None  # generator loss only


@pytest.mark.slow
def test_tiny_electra_pretraining_exports_the_discriminator_as_bert(tmp_path):
    from kgbert.models import build_model

    cfg = tiny_config(tmp_path, **{"model.family": "electra", "masking.mask_replace": 0.85, "masking.random_replace": 0.0,
                                   "training.max_steps": 16, "training.save_steps": 16})
    info = run_pretraining(cfg)
    losses = _losses(cfg.run_dir)
    assert _falls(losses, 3.0), losses
    assert info["recipe"]["family"] == "electra" and info["recipe"]["model"]["generator_size"] == 0.25
    assert "eval_paras_accuracy" in info["heldout"]  # the generator's held-out masked-token accuracy
    best = cfg.run_dir / "best"
    cfg_json = json.loads((best / "config.json").read_text())
    assert cfg_json["model_type"] == "bert" and cfg_json["architectures"] == ["BertModel"]
    weights = load_file(str(best / "model.safetensors"))
    assert {k.split(".")[0] for k in weights} == {"bert", "discriminator_predictions"}  # the generator is dropped
    emb = weights["bert.embeddings.word_embeddings.weight"]
    for encoder in ("bert", "kbert"):
        for task in ("sequence", "token"):
            m = build_model(encoder, task, 3, backbone=str(best))
            torch.testing.assert_close(m.bert.embeddings.word_embeddings.weight, emb)
    assert "ELECTRA discriminator" in (best / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------- XLNet
def test_permutation_collator_is_even_deterministic_and_predicts_only_spans():
    from kgbert.checkpoints import make_tokenizer
    from kgbert.data.permutation import PermutationCollator

    tok = make_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [chr(0x4E00 + i) for i in range(40)])
    feats = [{"input_ids": [2] + list(range(5, 5 + n)) + [3], "key": 7} for n in (25, 18)]  # lengths 27 and 20
    coll = PermutationCollator(tok, seed=1)
    a, b = coll(feats), coll(feats)
    assert a["input_ids"].shape == (2, 28)  # padded to an even length
    assert all(torch.equal(a[k], b[k]) for k in a)  # same key, same permutation
    assert not torch.equal(coll([{**f, "key": 8} for f in feats])["perm_mask"], a["perm_mask"])
    assert a["perm_mask"].shape == a["target_mapping"].shape == (2, 28, 28)
    assert a["attention_mask"][1, 20:].sum() == 0 and a["attention_mask"][0, :27].all()
    spans = a["labels"] != -100
    assert spans.any() and (a["input_ids"][spans] == 4).all()  # predicted positions are masked in the input
    originals = torch.tensor([f["input_ids"] + [0] * (28 - len(f["input_ids"])) for f in feats])
    assert torch.equal(a["labels"][spans], originals[spans])
    assert not spans[:, 0].any() and not spans[0, 26] and not spans[1, 19:].any()  # never specials or padding


@pytest.mark.slow
def test_tiny_xlnet_pretraining_and_its_checkpoint_in_the_xlnet_encoder(tmp_path):
    from kgbert.models import build_model

    with pytest.raises(ConfigError, match="data.max_length must be even"):
        tiny_config(tmp_path, **{"model.family": "xlnet", "data.max_length": 33})
    cfg = tiny_config(tmp_path, **{"model.family": "xlnet", "training.max_steps": 16, "training.save_steps": 16,
                                   "model.family_options": {"plm_probability": 0.25}})
    info = run_pretraining(cfg)
    assert _falls(_losses(cfg.run_dir), 0.3), _losses(cfg.run_dir)
    assert info["recipe"]["model"]["intermediate_size"] == 64 and info["heldout"]["eval_paras_accuracy"] >= 0
    best = cfg.run_dir / "best"
    cfg_json = json.loads((best / "config.json").read_text())
    assert cfg_json["model_type"] == "xlnet" and cfg_json["d_model"] == 32 and cfg_json["dropout"] == 0.1
    weights = load_file(str(best / "model.safetensors"))
    assert {k.split(".")[0] for k in weights} == {"transformer", "lm_loss"}
    emb = weights["transformer.word_embedding.weight"]
    for task in ("sequence", "pair", "token"):
        m = build_model("xlnet", task, 3, backbone=str(best))
        torch.testing.assert_close(m.transformer.word_embedding.weight, emb)
    with pytest.raises(ValueError, match="cannot use the XLNET checkpoint"):
        build_model("bert", "token", 3, backbone=str(best))
