"""The backbone shipped in git (backbones/kgbert-zh-small-wwm): a standard BERT checkpoint that
transformers' own classes load, small enough for git, and actually pretrained (its masked-LM loss
on text written for this test is far below that of the same architecture re-initialised)."""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, BertConfig, BertForMaskedLM, BertTokenizer, BertTokenizerFast

BACKBONE = Path(__file__).resolve().parents[1] / "backbones" / "kgbert-zh-small-wwm"

# Written for this test (not from any corpus): news, finance and clinical registers.
TEXTS = [
    "国务院总理在北京主持召开常务会议，研究部署进一步稳定经济增长的政策措施。",
    "公司发布公告称，预计今年上半年净利润同比增长百分之三十，股价当天上涨。",
    "患者三天前出现发热、咳嗽症状，医生建议住院治疗并完善相关检查。",
    "中国是世界上人口最多的国家之一，首都是北京，有着悠久的历史和文化。",
]


def _mlm_loss(model: torch.nn.Module, tok: BertTokenizerFast) -> float:
    # one full-length sequence, as in pretraining (FULL-SENTENCES packing: the backbone has never
    # seen short padded sequences, and its loss on them is much higher; see the model card)
    enc = tok(["".join(TEXTS)], return_tensors="pt")
    labels = torch.full_like(enc["input_ids"], -100)
    inputs = enc["input_ids"].clone()
    for i in range(inputs.shape[0]):
        n = int(enc["attention_mask"][i].sum())
        for j in range(2, n - 1, 6):  # every 6th character, never [CLS]/[SEP]
            labels[i, j] = inputs[i, j]
            inputs[i, j] = tok.mask_token_id
    model.eval()
    with torch.no_grad():
        return float(model(input_ids=inputs, attention_mask=enc["attention_mask"], labels=labels).loss)


def test_backbone_is_a_plain_bert_checkpoint_with_a_card():
    assert (BACKBONE / "README.md").is_file(), "model card missing"
    size = (BACKBONE / "model.safetensors").stat().st_size
    assert size < 30 * 2**20, f"{size} bytes: too large for git"
    config = BertConfig.from_pretrained(BACKBONE, local_files_only=True)
    assert config.model_type == "bert"
    model = AutoModelForMaskedLM.from_pretrained(BACKBONE, local_files_only=True)
    assert isinstance(model, BertForMaskedLM) and next(model.parameters()).dtype == torch.float32
    slow = BertTokenizer.from_pretrained(BACKBONE, local_files_only=True)
    fast = BertTokenizerFast.from_pretrained(BACKBONE, local_files_only=True)
    assert slow(TEXTS[0])["input_ids"] == fast(TEXTS[0])["input_ids"]
    assert slow.unk_token_id not in fast(TEXTS[0])["input_ids"]


def test_backbone_is_pretrained():
    tok = BertTokenizerFast.from_pretrained(BACKBONE, local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(BACKBONE, local_files_only=True)
    torch.manual_seed(0)
    fresh = BertForMaskedLM(BertConfig.from_pretrained(BACKBONE, local_files_only=True))
    pretrained_loss, fresh_loss = _mlm_loss(model, tok), _mlm_loss(fresh, tok)
    assert pretrained_loss < fresh_loss - 1.0, (pretrained_loss, fresh_loss)
