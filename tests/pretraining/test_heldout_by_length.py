"""benchmarks/heldout_by_length.py: masked-token accuracy by input length, on the shipped backbone
and a re-initialised copy (same vocabulary, so the same masks)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from benchmarks import heldout_by_length as hbl

BACKBONE = Path(__file__).resolve().parents[2] / "backbones" / "kgbert-zh-small-wwm"
TEXTS = ["酒店的服务很好，房间也很干净，下次还会再来。", "手机用了三天就坏了，客服态度也很差。",
         "这本书写得非常精彩，值得一读。", "价格太贵了，不值这个钱。"] * 3


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "chnsenticorp").mkdir()
    rows = ["label\ttext_a"] + [f"{i % 2}\t{t}" for i, t in enumerate(TEXTS)]
    (tmp_path / "chnsenticorp" / "dev.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


def test_lengths_models_and_shared_masks(tmp_path: Path, data_dir: Path):
    fresh = tmp_path / "fresh"
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig.from_pretrained(BACKBONE, local_files_only=True)).save_pretrained(fresh)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        (fresh / name).write_bytes((BACKBONE / name).read_bytes())
    rows = hbl.run({"shipped": str(BACKBONE), "fresh": str(fresh)}, [8, 32], ["chnsenticorp"], str(data_dir),
                   None, limit=10, batch_size=4)
    assert torch.is_grad_enabled()  # scoring must not switch autograd off for the rest of the process
    assert {(r["model"], r["length"]) for r in rows} == {(m, n) for m in ("shipped", "fresh") for n in (8, 32)}
    by = {(r["model"], r["length"]): r for r in rows}
    for n in (8, 32):  # the same masked positions for both models
        assert by[("shipped", n)]["n_predictions"] == by[("fresh", n)]["n_predictions"] > 0
        assert by[("shipped", n)]["loss"] < by[("fresh", n)]["loss"] - 1.0
    assert by[("shipped", 8)]["n_predictions"] < by[("shipped", 32)]["n_predictions"]  # cut to the length
    table = hbl.markdown(rows)
    assert table.count("\n") == 4 and "| dev:chnsenticorp | 8 | 10 |" in table


def test_refuses_checkpoints_with_different_vocabularies(tmp_path: Path, data_dir: Path):
    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer_config.json"):
        (other / name).write_bytes((BACKBONE / name).read_bytes())
    vocab = (BACKBONE / "vocab.txt").read_text(encoding="utf-8").splitlines()
    vocab[-1], vocab[-2] = vocab[-2], vocab[-1]
    (other / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="do not share a vocabulary"):
        hbl.run({"a": str(BACKBONE), "b": str(other)}, [8], ["chnsenticorp"], str(data_dir), None, limit=4, batch_size=4)
