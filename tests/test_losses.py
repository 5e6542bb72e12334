"""kgbert.losses: the distillation loss, alone and through run_training's loss_fn hook."""
from __future__ import annotations

import json

import pytest
import torch
from torch.nn import functional as F

from kgbert.losses import DistillationLoss
from kgbert.models import build_model

TINY = {"vocab_size": 60, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 32, "max_position_embeddings": 32, "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0}


def _batch(token: bool):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 60, (3, 7), generator=g)
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[2, 5:] = 0
    if token:
        labels = torch.randint(0, 3, (3, 7), generator=g)
        labels[:, 0] = -100
        labels[2, 5:] = -100
    else:
        labels = torch.tensor([0, 2, 1])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _models(task):
    torch.manual_seed(1)
    student = build_model("bert", task, 3, backbone_config=TINY)
    torch.manual_seed(2)
    teacher = build_model("bert", task, 3, backbone_config={**TINY, "num_hidden_layers": 3})
    return student, teacher


@pytest.mark.parametrize("task", ["sequence", "token"])
def test_parts_match_their_definitions(task):
    student, teacher = _models(task)
    batch = _batch(task == "token")
    T, alpha = 3.0, 0.25
    loss_fn = DistillationLoss(teacher, temperature=T, alpha=alpha)
    loss, out = loss_fn(student, batch, return_outputs=True)
    with torch.no_grad():
        s = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        t = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        hard = student(**batch).loss
    if task == "token":  # only original-token positions count
        keep = batch["labels"] != -100
        s, t = s[keep], t[keep]
    p_t = F.softmax(t / T, dim=-1)
    kl = (p_t * (p_t.log() - F.log_softmax(s / T, dim=-1))).sum(-1).mean() * T * T
    assert torch.allclose(loss, alpha * hard + (1 - alpha) * kl, atol=1e-5)
    assert torch.allclose(out.loss, hard)


def test_alpha_one_is_the_models_own_loss_and_self_distillation_is_zero():
    student, teacher = _models("sequence")
    batch = _batch(False)
    assert torch.allclose(DistillationLoss(teacher, alpha=1.0)(student, batch), student(**batch).loss)
    twin = build_model("bert", "sequence", 3, backbone_config=TINY)
    twin.load_state_dict(student.state_dict())
    assert DistillationLoss(twin, alpha=0.0)(student, batch).abs() < 1e-6


def test_gradients_reach_the_student_only_and_hidden_mse_counts():
    student, teacher = _models("token")
    batch = _batch(True)
    no_hidden = DistillationLoss(teacher, alpha=0.0)(student, batch)
    loss_fn = DistillationLoss(teacher, alpha=0.0, hidden_weight=2.0)
    loss = loss_fn(student, batch)
    assert loss > no_hidden and loss_fn.last_parts["hidden"] > 0
    loss.backward()
    assert student.head.classifier.weight.grad is not None
    assert all(p.grad is None for p in teacher.parameters())
    with pytest.raises(ValueError, match="shapes"):
        wide = build_model("bert", "token", 3, backbone_config={**TINY, "hidden_size": 32})
        DistillationLoss(wide, alpha=0.0, hidden_weight=1.0)(student, batch)
    with pytest.raises(ValueError, match="needs labels"):
        DistillationLoss(teacher, alpha=0.5)(student, {k: v for k, v in batch.items() if k != "labels"})


def test_through_run_training_loss_fn(tmp_path):
    from kgbert.training.config import config_from_dict
    from kgbert.training.trainer import load_best, run_training
    from tests.training.helpers import ner_config

    cfg = ner_config(tmp_path / "teacher", max_steps=4, epochs=1)
    run_training(config_from_dict(cfg))
    teacher, _, _ = load_best(tmp_path / "teacher/run")
    student_cfg = ner_config(tmp_path / "student", max_steps=4, epochs=1)
    student_cfg["model"]["backbone"] = str(tmp_path / "teacher/run/init")  # same vocab as the teacher
    del student_cfg["model"]["backbone_config"]
    loss_fn = DistillationLoss(teacher, temperature=2.0, alpha=0.5)
    calls = []
    orig = loss_fn.compute

    def counting(model, inputs):
        calls.append(1)
        return orig(model, inputs)

    loss_fn.compute = counting  # type: ignore[method-assign]
    metrics = run_training(config_from_dict(student_cfg), loss_fn=loss_fn)
    assert metrics["global_step"] == 4 and len(calls) >= 4
    log = [json.loads(x) for x in (tmp_path / "student/run/train_log.jsonl").read_text("utf-8").splitlines()]
    assert any("loss" in r for r in log)
