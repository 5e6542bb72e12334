"""K-BERT model: equals BERT without knowledge, hides what the visible matrix hides (eager and
SDPA), soft positions/visibility on hand-built trees, save/load round trip."""
from __future__ import annotations

import random

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import Example, build_featurizer
from kgbert.models import KBertForSequenceClassification, build_model, knowledge_visible_mask
from tests.models._kg import make_kg
from tests.models._tiny import TEXTS

TAGS = ["O", "B-X", "I-X"]
NER = [("我爱吃苹果哈", "OOOB-XI-XO"), ("感冒可以吃阿司匹林吗", "B-XI-XOOOB-XI-XI-XI-XO")]


def _tags(s: str) -> list[str]:
    out, i = [], 0
    while i < len(s):
        for t in ("B-X", "I-X", "O"):
            if s.startswith(t, i):
                out.append(t)
                i += len(t)
    return out


def _examples(task: str) -> list[Example]:
    if task == "token":
        return [Example(t, tokens=list(t), tags=_tags(g)) for t, g in NER]
    if task == "pair":
        return [Example(TEXTS[0], TEXTS[2], label="a"), Example(TEXTS[1], TEXTS[3], label="b")]
    return [Example(t, label="a") for t in TEXTS[:4]]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_random_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", texts=TEXTS + ["类别水果颜色红色产地山东药物治疗头痛症状发热疾病"])


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    return make_kg(tmp_path_factory.mktemp("kg"))


@pytest.fixture(scope="module")
def empty_kg(tmp_path_factory):
    return make_kg(tmp_path_factory.mktemp("kg0"), spo="", name="empty")


def _pair(ckpt, task: str, attn: str, **opts):
    """A BERT baseline and a K-BERT model with identical weights."""
    labels = TAGS if task == "token" else ["a", "b"]
    bert = build_model("bert", task, len(labels), backbone=ckpt, backbone_config={"attn_implementation": attn}).eval()
    kbert = build_model("kbert", task, len(labels), backbone=ckpt, backbone_config={"attn_implementation": attn}, **opts).eval()
    missing = kbert.load_state_dict(bert.state_dict())
    assert not missing.missing_keys and not missing.unexpected_keys
    return bert, kbert, labels


# ---------------------------------------------------------------- (1) empty KG == BERT, exactly
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("task", ["sequence", "pair", "token"])
def test_empty_kg_equals_bert_exactly(ckpt, empty_kg, kg, task, attn):
    tok = load_tokenizer(ckpt)
    bert, kbert, labels = _pair(ckpt, task, attn)
    exs = _examples(task)
    fb = build_featurizer("bert", tok, task=task, label_list=labels, max_length=64)
    bb = fb.collate([fb(e) for e in exs])
    for feat in (
        build_featurizer("kbert", tok, task=task, label_list=labels, max_length=64, kg=empty_kg),
        build_featurizer("kbert", tok, task=task, label_list=labels, max_length=64, kg=kg, max_entities=0),
    ):
        bk = feat.collate([feat(e) for e in exs])
        assert torch.equal(bk["input_ids"], bb["input_ids"]) and torch.equal(bk["labels"], bb["labels"])
        with torch.no_grad():
            ob, ok = bert(**bb), kbert(**bk)
        assert torch.equal(ob.logits, ok.logits)
        assert torch.equal(ob.loss, ok.loss)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_trivial_visible_matrix_matches_padding_mask(ckpt, attn):
    """The 4-D visible-matrix path itself (forced) agrees with the 2-D padding mask when there is
    no knowledge (the model short-cuts to the 2-D mask in that case)."""
    bert, kbert, _ = _pair(ckpt, "token", attn)
    ids = torch.tensor([[2, 10, 11, 12, 3], [2, 13, 3, 0, 0]])
    mask = (ids != 0).long()
    pos = torch.arange(5).expand(2, 5)
    vis = knowledge_visible_mask(pos, torch.zeros_like(ids), mask)
    assert torch.equal(vis, mask[:, None, :].bool().expand(2, 5, 5))
    from kgbert.models import visible_to_additive_mask

    with torch.no_grad():
        h4 = kbert.bert(input_ids=ids, attention_mask=visible_to_additive_mask(vis, torch.float32)).last_hidden_state
        h2 = bert.bert(input_ids=ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    assert torch.allclose(h4[real], h2[real], atol=1e-5, rtol=0)


# ---------------------------------------------------------------- (2) the visible matrix hides
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("task", ["sequence", "token"])
def test_hidden_tokens_do_not_leak(ckpt, kg, task, attn):
    """Within one attention layer, a token hidden from position i cannot change i's output.

    (Across layers information legitimately flows through the anchor: the anchor sees its
    branches and the trunk sees the anchor. So the check is on the first layer's output, for
    every (i, j) pair, plus the last layer's output of another sample in the batch.)
    """
    tok = load_tokenizer(ckpt)
    _, kbert, labels = _pair(ckpt, task, attn)
    feat = build_featurizer("kbert", tok, task=task, label_list=labels, max_length=64, kg=kg,
                            inject="predicate_object")
    f = feat(Example("我爱吃苹果哈", tokens=list("我爱吃苹果哈"), tags=["O"] * 6, label="a"))
    # [CLS] 我 爱 吃 苹 果 (类别水果)(颜色红色) 哈 [SEP]
    assert f["branch_ids"] == [0] * 6 + [1] * 4 + [2] * 4 + [0, 0]
    batch = feat.collate([f, feat(Example("感冒", tokens=["感", "冒"], tags=["O", "O"], label="b"))])
    vis = knowledge_visible_mask(batch["anchor_ids"], batch["branch_ids"], batch["attention_mask"])[0]
    # hand-checked spots: "爱"(2) and branch 1 (6..9) do not see branch 2 (10..13); the anchor (4, 5) does
    assert not vis[2, 11] and not vis[7, 11] and vis[4, 11] and vis[5, 11] and vis[11, 12]
    assert not vis[11, 2] and not vis[11, 14] and not vis[7, 14]  # branches do not see other trunk tokens
    substitute = tok.convert_tokens_to_ids("我")
    with torch.no_grad():
        base = kbert.bert(**_bert_kwargs(kbert, batch), output_hidden_states=True)
        for j in (2, 7, 11, 14):  # a trunk token, a token of each branch, a trunk token after the entity
            changed = {k: v.clone() for k, v in batch.items()}
            changed["input_ids"][0, j] = substitute
            out = kbert.bert(**_bert_kwargs(kbert, changed), output_hidden_states=True)
            h0, h1 = base.hidden_states[1][0], out.hidden_states[1][0]  # (L, H) after layer 1
            n = int(batch["attention_mask"][0].sum())
            for i in range(n):
                if vis[i, j]:
                    assert not torch.allclose(h0[i], h1[i]), (i, j)
                else:
                    assert torch.equal(h0[i], h1[i]), (i, j)
            assert torch.equal(base.last_hidden_state[1], out.last_hidden_state[1])  # other sample untouched
        # without the visible matrix (the ablation) "爱" sees branch 2 directly
        kbert.config.use_vm = False
        try:
            changed = {k: v.clone() for k, v in batch.items()}
            changed["input_ids"][0, 11] = substitute
            n0 = kbert.bert(**_bert_kwargs(kbert, batch), output_hidden_states=True).hidden_states[1]
            n1 = kbert.bert(**_bert_kwargs(kbert, changed), output_hidden_states=True).hidden_states[1]
        finally:
            kbert.config.use_vm = True
        assert not torch.allclose(n0[0, 2], n1[0, 2])


def _bert_kwargs(model, batch):
    mask = model.encoder_attention_mask(batch["attention_mask"], anchor_ids=batch["anchor_ids"], branch_ids=batch["branch_ids"])
    return dict(input_ids=batch["input_ids"], attention_mask=mask, token_type_ids=batch["token_type_ids"],
                position_ids=batch["position_ids"])


# ---------------------------------------------------------------- (3) hand-built trees
def test_visible_matrix_hand_built():
    # [CLS] 爱 吃 苹 果 (水 果) (红 色) 哈 [SEP] [PAD]
    anchor = torch.tensor([[0, 1, 2, 3, 3, 3, 3, 3, 3, 5, 6, 0]])
    branch = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 2, 2, 0, 0, 0]])
    mask = torch.tensor([[1] * 11 + [0]])
    T, F = 1, 0
    expected = [
        # C 爱 吃 苹 果 水 果 红 色 哈 S P
        [T, T, T, T, T, F, F, F, F, T, T, F],  # [CLS]
        [T, T, T, T, T, F, F, F, F, T, T, F],  # 爱
        [T, T, T, T, T, F, F, F, F, T, T, F],  # 吃
        [T, T, T, T, T, T, T, T, T, T, T, F],  # 苹 (anchor: sees both branches)
        [T, T, T, T, T, T, T, T, T, T, T, F],  # 果
        [F, F, F, T, T, T, T, F, F, F, F, F],  # 水 (branch 1: itself + anchor)
        [F, F, F, T, T, T, T, F, F, F, F, F],  # 果
        [F, F, F, T, T, F, F, T, T, F, F, F],  # 红 (branch 2)
        [F, F, F, T, T, F, F, T, T, F, F, F],  # 色
        [T, T, T, T, T, F, F, F, F, T, T, F],  # 哈
        [T, T, T, T, T, F, F, F, F, T, T, F],  # [SEP]
        [T, T, T, T, T, F, F, F, F, T, T, F],  # [PAD] row: padding keys hidden
    ]
    vis = knowledge_visible_mask(anchor, branch, mask)
    assert vis.tolist() == [[[bool(x) for x in row] for row in expected]]


def _loop_visible(words: list[list[int]], branches: list[list[list[int]]]) -> tuple[list[int], list[int], list[list[bool]]]:
    """The reference rule re-stated with loops over a depth-1 tree: sentence tokens see every
    sentence token and the branches of their own word; branch tokens see their own branch and
    their anchor word. Returns (anchor_ids, branch_ids, visible) of the flattened tree."""
    order: list[tuple[str, int, int]] = []  # (kind, word index, branch number)
    k = 0
    for w, toks in enumerate(words):
        order += [("w", w, 0)] * len(toks)
        for br in branches[w]:
            k += 1
            order += [("b", w, k)] * len(br)
    n = len(order)
    vis = [[False] * n for _ in range(n)]
    for i, (ki, wi, bi) in enumerate(order):
        for j, (kj, wj, bj) in enumerate(order):
            if ki == "w":
                vis[i][j] = kj == "w" or wj == wi
            else:
                vis[i][j] = (kj == "b" and bj == bi) or (kj == "w" and wj == wi)
    return [w for _, w, _ in order], [b for _, _, b in order], vis


def test_visible_matrix_matches_loop_rule_on_random_trees():
    rng = random.Random(0)
    for _ in range(200):
        words = [[0] * rng.randint(1, 3) for _ in range(rng.randint(1, 6))]
        branches = [[[0] * rng.randint(1, 3) for _ in range(rng.choice([0, 0, 1, 2]))] for _ in words]
        anchor, branch, vis = _loop_visible(words, branches)
        got = knowledge_visible_mask(torch.tensor([anchor]), torch.tensor([branch]))
        assert got[0].tolist() == vis


def test_soft_positions_hand_built(ckpt, kg):
    tok = load_tokenizer(ckpt)
    feat = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, inject="object",
                            max_entities=1)
    f = feat(Example("爱吃苹果哈"))
    assert tok.convert_ids_to_tokens(f["input_ids"]) == ["[CLS]", "爱", "吃", "苹", "果", "水", "果", "哈", "[SEP]"]
    # issue #33: 爱吃苹果(水果)哈 -> 0,1,2,3,(4,5),4 ; shifted by one for [CLS]
    assert f["position_ids"] == [0, 1, 2, 3, 4, 5, 6, 5, 6]
    assert f["anchor_ids"] == [0, 1, 2, 3, 3, 3, 3, 5, 6]
    assert f["branch_ids"] == [0, 0, 0, 0, 0, 1, 1, 0, 0]
    assert f["token_type_ids"] == [0] * 9


def test_soft_positions_pair_two_entities(ckpt, kg):
    tok = load_tokenizer(ckpt)
    feat = build_featurizer("kbert", tok, task="pair", label_list=["a"], max_length=64, kg=kg, inject="object")
    f = feat(Example("吃苹果", "感冒"))
    assert tok.convert_ids_to_tokens(f["input_ids"]) == [
        "[CLS]", "吃", "苹", "果", "水", "果", "红", "色", "[SEP]", "感", "冒", "发", "热", "[SEP]"]
    assert f["position_ids"] == [0, 1, 2, 3, 4, 5, 4, 5, 4, 5, 6, 7, 8, 7]
    assert f["anchor_ids"] == [0, 1, 2, 2, 2, 2, 2, 2, 4, 5, 5, 5, 5, 7]
    assert f["branch_ids"] == [0, 0, 0, 0, 1, 1, 2, 2, 0, 0, 0, 3, 3, 0]
    assert f["token_type_ids"] == [0] * 9 + [1] * 5


# ---------------------------------------------------------------- (4) save / load round trip
@pytest.mark.parametrize("task,auto", [("sequence", AutoModelForSequenceClassification), ("token", AutoModelForTokenClassification)])
def test_save_load_round_trip(ckpt, kg, tmp_path, task, auto):
    tok = load_tokenizer(ckpt)
    labels = TAGS if task == "token" else ["a", "b"]
    model = build_model("kbert", task, len(labels), backbone=ckpt, use_vm=True).eval()
    feat = build_featurizer("kbert", tok, task=task, label_list=labels, max_length=64, kg=kg)
    batch = feat.collate([feat(e) for e in _examples(task)])
    assert batch["branch_ids"].any()
    model.save_pretrained(tmp_path / "m")
    loaded = auto.from_pretrained(tmp_path / "m").eval()
    assert type(loaded) is type(model) and loaded.config.use_vm is True
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded(**batch).logits)


def test_use_vm_false_changes_output_and_is_saved(ckpt, kg, tmp_path):
    tok = load_tokenizer(ckpt)
    feat = build_featurizer("kbert", tok, task="sequence", label_list=["a", "b"], max_length=64, kg=kg)
    batch = feat.collate([feat(e) for e in _examples("sequence")])
    with_vm = build_model("kbert", "sequence", 2, backbone=ckpt).eval()
    no_vm = build_model("kbert", "sequence", 2, backbone=ckpt, use_vm=False).eval()
    no_vm.load_state_dict(with_vm.state_dict())
    with torch.no_grad():
        assert not torch.allclose(with_vm(**batch).logits, no_vm(**batch).logits)
    no_vm.save_pretrained(tmp_path / "m")
    assert KBertForSequenceClassification.from_pretrained(tmp_path / "m").config.use_vm is False


def test_featurizer_options_are_accepted_by_build_model(ckpt):
    m = build_model("kbert", "token", 3, backbone=ckpt, max_entities=2, inject="object")
    assert m.config.use_vm is True
    with pytest.raises(ValueError, match="unknown option"):
        build_model("kbert", "token", 3, backbone=ckpt, max_entity=2)


def test_forward_compiles_without_graph_breaks(ckpt, kg):
    """No device-to-host sync in the forward: ``torch.compile(fullgraph=True)`` captures it whole
    (a ``bool(tensor.any())`` in the forward fails here with a data-dependent guard error)."""
    tok = load_tokenizer(ckpt)
    feat = build_featurizer("kbert", tok, task="token", label_list=["O", "B-X"], max_length=32, kg=kg)
    batch = feat.collate([feat(Example(t, tokens=list(t), tags=["O"] * len(t))) for t in ("我爱吃苹果哈", "感冒")])
    assert batch["branch_ids"].any()
    model = build_model("kbert", "token", 2, backbone=ckpt).eval()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    with torch.no_grad():
        got = compiled(**batch)
        want = model(**batch)
    assert torch.allclose(got.logits, want.logits, atol=1e-6) and torch.allclose(got.loss, want.loss, atol=1e-6)
