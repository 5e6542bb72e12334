"""End to end on a tiny model: the sparse head, loss falls, the checkpoint layout and loading,
resume equivalence, continuation from a bert-base-chinese-layout checkpoint, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from kgbert.pretraining.run import run_pretraining
from tests.pretraining.helpers import tiny_config


def _losses(run_dir: Path) -> list[float]:
    recs = [json.loads(l) for l in (run_dir / "train_log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in recs if "loss" in r]


def test_sparse_head_matches_dense_bert_for_masked_lm():
    from transformers import BertConfig, BertForMaskedLM

    from kgbert.models.modeling_pretraining import BertForSparseMaskedLM

    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    dense = BertForMaskedLM(cfg).eval()
    sparse = BertForSparseMaskedLM(cfg).eval()
    sparse.load_state_dict(dense.state_dict())
    ids = torch.randint(5, 50, (3, 12))
    labels = torch.full_like(ids, -100)
    labels[0, 2] = 7
    labels[1, 5] = 9
    labels[2, [1, 10]] = 11
    d, s = dense(input_ids=ids, labels=labels), sparse(input_ids=ids, labels=labels)
    assert s.logits.shape == (4, 50)
    torch.testing.assert_close(s.loss, d.loss)
    torch.testing.assert_close(s.logits, d.logits[labels != -100])
    assert sparse(input_ids=ids).logits.shape == (3, 12, 50)  # no labels: the usual full logits
    s.loss.backward()
    assert sparse.bert.embeddings.word_embeddings.weight.grad is not None


@pytest.mark.slow
def test_tiny_pretraining_run_and_checkpoint_layout(tmp_path):
    from transformers import AutoModelForMaskedLM

    from kgbert.models import build_model

    cfg = tiny_config(tmp_path, **{"training.max_steps": 16, "training.save_steps": 8})
    info = run_pretraining(cfg)
    run = cfg.run_dir
    losses = _losses(run)
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.3, losses
    best = run / "best"
    cfg_json = json.loads((best / "config.json").read_text())
    assert cfg_json["model_type"] == "bert" and cfg_json["architectures"] == ["BertForMaskedLM"]
    keys = load_file(str(best / "model.safetensors")).keys()
    assert {k.split(".")[0] for k in keys} == {"bert", "cls"} and any(k.startswith("cls.predictions.") for k in keys)
    assert (best / "vocab.txt").is_file() and not (best / "training_args.bin").exists()
    card = (best / "README.md").read_text(encoding="utf-8")
    assert "| steps / tokens (this run) | 16 / 4,096 |" in card and "paras" in card
    assert (run / "checkpoints" / "checkpoint-8" / "vocab.txt").is_file()
    assert info["tokens_seen"] == 16 * 8 * 32
    assert "eval_paras_accuracy" in info["heldout"] and "paras" in info["unigram_baseline"]
    from kgbert.pretraining.report import main as report_main

    assert report_main([str(run)]) == 0
    assert (run / "progress.png").is_file() and "| 8 | " in (run / "progress.md").read_text(encoding="utf-8")
    mlm = AutoModelForMaskedLM.from_pretrained(str(best), local_files_only=True)
    assert type(mlm).__name__ == "BertForMaskedLM"
    emb = load_file(str(best / "model.safetensors"))["bert.embeddings.word_embeddings.weight"]
    for encoder in ("bert", "kbert"):
        for task in ("sequence", "pair", "token"):
            m = build_model(encoder, task, 3, backbone=str(best))
            torch.testing.assert_close(m.bert.embeddings.word_embeddings.weight, emb)


class _StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step >= self.step:
            control.should_training_stop = True
        return control


@pytest.mark.slow
def test_resume_gives_the_same_weights(tmp_path):
    full = tiny_config(tmp_path / "a", **{"training.max_steps": 8, "training.save_steps": 4})
    run_pretraining(full)
    part = tiny_config(tmp_path / "b", **{"training.max_steps": 8, "training.save_steps": 4})
    run_pretraining(part, callbacks=[_StopAt(4)])  # "interrupted" after the step-4 checkpoint
    assert (part.run_dir / "checkpoints" / "checkpoint-4").is_dir()
    info = run_pretraining(part)
    assert info["resumed_from"] and info["resumed_from"].endswith("checkpoint-4")
    a = load_file(str(full.run_dir / "best" / "model.safetensors"))
    b = load_file(str(part.run_dir / "best" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def _bert_base_chinese_layout(path: Path, words: list[str]) -> None:
    """A random checkpoint in bert-base-chinese's layout: BertForPreTraining keys (pooler,
    cls.predictions, cls.seq_relationship), [unused] slots and specials at 0/100-103."""
    from transformers import BertConfig, BertForPreTraining

    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += sorted({c for w in words for c in w.lower()} | set("，。0123456789abcdefghijklmnopqrstuvwxyz"))
    path.mkdir(parents=True)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}))
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                     max_position_embeddings=64)
    torch.manual_seed(1)
    BertForPreTraining(cfg).save_pretrained(path)


@pytest.mark.slow
def test_continue_from_bert_base_chinese_layout(tmp_path):
    from kgbert.checkpoints import load_tokenizer
    from tests.pretraining.helpers import WORDS

    init = tmp_path / "bbc"
    _bert_base_chinese_layout(init, WORDS)
    keys0 = load_file(str(init / "model.safetensors"))
    assert any(k.startswith("cls.seq_relationship.") for k in keys0)
    cfg = tiny_config(tmp_path, **{"model.init_from": str(init), "model.config": {}, "training.max_steps": 4})
    tok = load_tokenizer(init)
    assert tok.mask_token_id == 103
    from kgbert.pretraining.run import build_pretraining_model

    model = build_pretraining_model(cfg, tok)
    torch.testing.assert_close(model.bert.embeddings.word_embeddings.weight, keys0["bert.embeddings.word_embeddings.weight"])
    torch.testing.assert_close(model.cls.predictions.transform.dense.weight, keys0["cls.predictions.transform.dense.weight"])
    info = run_pretraining(cfg)
    assert info["global_step"] == 4
    out = load_file(str(cfg.run_dir / "best" / "model.safetensors"))
    assert out["bert.embeddings.word_embeddings.weight"].shape == keys0["bert.embeddings.word_embeddings.weight"].shape
    assert (cfg.run_dir / "best" / "vocab.txt").read_text(encoding="utf-8") == (init / "vocab.txt").read_text(encoding="utf-8")
    assert not (cfg.run_dir / "init").exists()  # the checkpoint's vocabulary is used as it is


def test_collator_random_ids_skip_bert_base_chinese_specials(tmp_path):
    from kgbert.checkpoints import load_tokenizer
    from kgbert.data.collators import build_collator
    from tests.pretraining.helpers import WORDS

    _bert_base_chinese_layout(tmp_path / "bbc", WORDS)
    col = build_collator("mlm", load_tokenizer(tmp_path / "bbc"))
    assert not {0, 100, 101, 102, 103} & set(col.random_ids.tolist())


@pytest.mark.slow
def test_cli_errors_and_print_config(tmp_path, capsys):
    from kgbert.pretrain import main

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'run'}\ndata:\n  corpus:\n    - {{path: {bad}}}\ntraining: {{progress: false}}\n")
    assert main([str(cfg), "vocab.min_count=1"]) == 2
    assert f"{bad}:2: invalid UTF-8" in capsys.readouterr().err
    assert not (tmp_path / "run" / "init").exists()  # nothing half-written is left to trust
    assert main([str(cfg), "trianing.lr=1"]) == 2
    assert "unknown key 'trianing'" in capsys.readouterr().err
    assert main([str(cfg), "--print-config"]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["bert", "kbert"])
def test_fine_tune_from_pretrained_backbone(tmp_path, encoder):
    """``model.backbone=RUN/best`` in a fine-tuning config: the pretrained weights are the start."""
    from kgbert.training import config_from_dict, run_training
    from tests.training.helpers import ner_config

    cfg = tiny_config(tmp_path / "pre", **{"training.max_steps": 4})
    run_pretraining(cfg)
    best = cfg.run_dir / "best"
    ft = ner_config(tmp_path / "ft", encoder=encoder, n_train=16, max_steps=2)
    ft["model"].pop("backbone_config")
    ft["model"]["backbone"] = str(best)
    res = run_training(config_from_dict(ft))
    assert res["global_step"] == 2
    from kgbert.checkpoints import load_tokenizer
    from kgbert.training.trainer import load_best

    model, tok, _ = load_best(tmp_path / "ft" / "run")
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 2
    assert tok.get_vocab() == load_tokenizer(best).get_vocab()


def test_time_budget_schedule(tmp_path, monkeypatch):
    """The LR decays with max(step, time) progress and reaches 0 when the budget is spent."""
    import kgbert.pretraining.run as run

    now = [1000.0]
    monkeypatch.setattr(run.time, "time", lambda: now[0])
    budget = run.TimeBudget(tmp_path, budget_s=100.0, max_steps=1000)
    f = run.budget_lr_lambda(budget, warmup_steps=10, kind="linear")
    assert f(5) == pytest.approx(0.5 * (1 - 5 / 1000))  # warmup, times the decay already under way
    assert f(100) == pytest.approx(0.9)  # step progress 0.1, time progress 0
    now[0] = 1050.0
    assert f(100) == pytest.approx(0.5)  # time progress 0.5 wins
    assert run.budget_lr_lambda(budget, 10, "cosine")(100) == pytest.approx(0.5)
    now[0] = 1100.0
    assert f(100) == 0.0 and budget.progress(100) == 1.0
    # a resumed run keeps the deadline of the first start
    now[0] = 5000.0
    assert run.TimeBudget(tmp_path, budget_s=999.0, max_steps=1000).progress(0) == 1.0


@pytest.mark.slow
def test_time_budget_stops_and_exports(tmp_path):
    cfg = tiny_config(tmp_path, **{"training.max_steps": 100000, "training.time_budget_s": 3.0, "training.save_steps": 100000})
    info = run_pretraining(cfg)
    assert 0 < info["global_step"] < 100000
    assert (cfg.run_dir / "best" / "model.safetensors").is_file()
    assert (cfg.run_dir / "checkpoints" / f"checkpoint-{info['global_step']}").is_dir()  # saved on stop


def test_fp16_export_loads_as_float32(tmp_path):
    from transformers import AutoModelForMaskedLM, BertConfig

    from kgbert.checkpoints import make_random_checkpoint
    from kgbert.models import build_model
    from kgbert.pretraining.export import export_checkpoint_dir

    src = make_random_checkpoint(tmp_path / "src", texts=["高血压患者服用依那普利"], hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=32)
    out = export_checkpoint_dir(src, tmp_path / "fp16", fp16=True)
    w16 = load_file(str(out / "model.safetensors"))
    w32 = load_file(str(src / "model.safetensors"))
    assert all(v.dtype == torch.float16 for v in w16.values())
    assert (out / "model.safetensors").stat().st_size < 0.6 * (src / "model.safetensors").stat().st_size
    m = AutoModelForMaskedLM.from_pretrained(str(out))
    assert next(m.parameters()).dtype == torch.float32
    k = "bert.embeddings.word_embeddings.weight"
    torch.testing.assert_close(m.bert.embeddings.word_embeddings.weight, w32[k].half().float())
    assert next(build_model("kbert", "token", 3, backbone=str(out)).parameters()).dtype == torch.float32
    assert BertConfig.from_pretrained(str(out)).vocab_size == len((out / "vocab.txt").read_text(encoding="utf-8").splitlines())


def test_export_and_reinit_never_replace_a_directory_that_is_not_a_checkpoint(tmp_path):
    from kgbert.files import atomic_checkpoint_dir

    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "precious.txt").write_text("x", encoding="utf-8")
    with pytest.raises(FileExistsError, match="not a checkpoint directory"):
        with atomic_checkpoint_dir(mine) as tmp:
            (tmp / "config.json").write_text("{}", encoding="utf-8")
    assert (mine / "precious.txt").read_text(encoding="utf-8") == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["notes"]  # no temporary left behind
    ckpt = tmp_path / "ckpt"
    with atomic_checkpoint_dir(ckpt) as tmp:
        (tmp / "config.json").write_text("{}", encoding="utf-8")
    with atomic_checkpoint_dir(ckpt) as tmp:  # a checkpoint dir may be replaced
        (tmp / "config.json").write_text('{"v": 2}', encoding="utf-8")
    assert (ckpt / "config.json").read_text(encoding="utf-8") == '{"v": 2}'


def test_run_with_given_vocab_and_short_sequences(tmp_path):
    from kgbert.pretraining.vocab import build_corpus_vocab

    base = tiny_config(tmp_path / "a")
    vocab, _ = build_corpus_vocab(base.data.corpus, base.vocab, progress=False)
    given = tmp_path / "vocab.txt"
    given.write_text("\n".join(vocab + ["[extra]"]) + "\n", encoding="utf-8")
    cfg = tiny_config(tmp_path / "b", **{"vocab.path": str(given), "data.short_seq_prob": 0.3, "training.max_steps": 4})
    run_pretraining(cfg)
    assert (cfg.run_dir / "best" / "vocab.txt").read_text(encoding="utf-8").split() == vocab + ["[extra]"]
    assert _losses(cfg.run_dir)


def test_cumulative_counts_a_continued_checkpoint_without_cumulative_record(tmp_path):
    """A run continued from a checkpoint whose pretrain.json predates the "cumulative" record (the
    shipped backbone) adds that checkpoint's own tokens and wall time."""
    import json
    from types import SimpleNamespace

    from kgbert.pretraining.run import _cumulative

    init = tmp_path / "init"
    init.mkdir()
    (init / "pretrain.json").write_text(json.dumps({"tokens_seen": 1000, "wall_seconds_this_run": 50.0}))
    config = SimpleNamespace(model=SimpleNamespace(init_from=str(init)))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    got = _cumulative(config, run_dir, 24)
    assert got["tokens"] == 1024 and got["wall_seconds"] >= 50.0
    (init / "pretrain.json").write_text(json.dumps({"tokens_seen": 1000, "cumulative": {"tokens": 5000, "wall_seconds": 9.0}}))
    assert _cumulative(config, run_dir, 24)["tokens"] == 5024
