"""SemBERT (``sembert``): featuriser rules, vectorised word pooling, padding invariance, the
reduction to word-pooled BERT, save/load, and a tiny run through the common trainer + Pipeline.

The conformance suite runs on ``sembert`` from ``test_encoder_conformance.py`` (its registry entry).
"""
from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, BertModel

from annotators import Annotation, Argument, Frame
from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import Example, build_featurizer
from kgbert.models import build_model
from kgbert.models.modeling_sembert import label_summary, reverse_within_length, word_cnn_max_pool
from tests.models._tiny import TEXTS

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64}
PREDICATES = "是有吃爱说"


def fake_srl(text: str) -> Annotation:
    """A stand-in SRL annotator: words are 2-character chunks; every character of PREDICATES is a
    predicate with A0 = the (up to) 2 characters before it and A1 = the 2 after it."""
    words = [(i, min(i + 2, len(text))) for i in range(0, len(text), 2)]
    frames = []
    for p, ch in enumerate(text):
        if ch in PREDICATES:
            args = []
            if p > 0:
                args.append(Argument("A0", max(0, p - 2), p))
            if p + 1 < len(text):
                args.append(Argument("A1", p + 1, min(len(text), p + 3)))
            frames.append(Frame((p, p + 1), tuple(args)))
    return Annotation(text=text, words=words, srl=frames)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_random_checkpoint(tmp_path_factory.mktemp("sem") / "ck", texts=TEXTS, seed=1, **TINY)


def featurizer(ckpt, task="sequence", **options):
    labels = ["O", "B-X", "I-X"] if task == "token" else ["a", "b"]
    return build_featurizer("sembert", load_tokenizer(ckpt), task=task, label_list=labels, max_length=40, **options)


def examples(task="sequence"):
    out = []
    for i, text in enumerate(TEXTS[:4]):
        if task == "token":
            out.append(Example(text, tokens=list(text), tags=["O"] * len(text), ann_a=fake_srl(text)))
        elif task == "pair":
            other = TEXTS[(i + 1) % 4]
            out.append(Example(text, text_b=other, label="ab"[i % 2], ann_a=fake_srl(text), ann_b=fake_srl(other)))
        else:
            out.append(Example(text, label="ab"[i % 2], ann_a=fake_srl(text)))
    return out


# --------------------------------------------------------------------------- featuriser
def test_frames_become_word_level_bio_labels_with_the_reference_padding(ckpt):
    feat = featurizer(ckpt)
    feat.fit(examples())
    assert feat.role_vocabulary[:3] == ["[PAD]", "O", "[UNK]"] and {"B-V", "B-A0", "B-A1"} <= set(feat.roles)
    ex = Example("我爱吃苹果哈", label="a", ann_a=fake_srl("我爱吃苹果哈"))  # words 我爱|吃苹|果哈; predicates 爱, 吃
    f = feat(ex)
    assert f["word_ids"] == [1, 2, 2, 3, 3, 4, 4, 5]  # [CLS], three 2-char words, [SEP]
    frames = feat.frames_report(f)
    assert frames[0] == ["O", "B-V", "B-A1", "O", "O"]  # 爱: V on 我爱 (first overlap), A1 吃苹
    assert frames[1] == ["O", "B-A0", "B-V", "B-A1", "O"]  # 吃: A0 我爱, V 吃苹, A1 苹果 -> 果哈 (吃苹 taken)
    assert frames[2] == frames[1]  # the missing third slot: a copy of the richest frame
    empty = featurizer(ckpt, frame_padding="empty", roles=feat.roles)
    assert empty.frames_report(empty(ex))[2] == ["O"] * 5
    none = feat(Example("头痛发热", label="a", ann_a=Annotation(text="头痛发热", words=[(0, 2), (2, 4)])))
    assert none["role_ids"] == [[1, 1, 1, 1]] * 3  # no predicate: all-O frames
    bare = feat(Example("头痛发热", label="a"))  # no annotation: every token a word
    assert bare["word_ids"] == [1, 2, 3, 4, 5, 6] and len(bare["role_ids"][0]) == 6


def test_role_vocabulary_is_bounded_saved_and_unknown_falls_back(ckpt):
    feat = featurizer(ckpt, max_roles=5)
    feat.fit(examples())
    assert len(feat.role_vocabulary) == 5
    saved = feat.saved_options({"max_roles": 5})
    assert saved["roles"] == feat.roles
    again = featurizer(ckpt, **saved)
    ex = examples()[1]
    assert again(ex) == feat(ex)
    full = featurizer(ckpt)
    full.fit(examples())
    assert feat.roles == full.roles[:2]  # the most frequent labels
    unknown = 0
    for ex in examples():
        for bounded, labels in zip(feat(ex)["role_ids"], full.frames_report(full(ex))):
            assert bounded == [feat.role2id.get(lab, 2) for lab in labels]  # outside the bound: [UNK] = 2
            unknown += bounded.count(2)
    assert unknown > 0
    with pytest.raises(ValueError, match="exceed max_roles"):
        featurizer(ckpt, max_roles=4, roles=["B-V", "I-V"])


def test_pair_segments_have_their_own_frames(ckpt):
    feat = featurizer(ckpt, task="pair")
    feat.fit(examples("pair"))
    a, b = "我爱吃苹果哈", "头痛发热是感冒的症状"
    f = feat(Example(a, text_b=b, label="a", ann_a=fake_srl(a), ann_b=fake_srl(b)))
    single = featurizer(ckpt, roles=feat.roles)
    fa = single(Example(a, label="a", ann_a=fake_srl(a)))
    fb = single(Example(b, label="a", ann_a=fake_srl(b)))
    # words: [CLS] a-words [SEP] b-words [SEP]; frame k = frame k of a, then frame k of b
    for k in range(3):
        assert feat.frames_report(f)[k] == feat.frames_report(fa)[k] + feat.frames_report(fb)[k][1:]
    assert max(f["word_ids"]) == len(f["role_ids"][0])


# --------------------------------------------------------------------------- model pieces
def slow_word_pool(hidden, word_ids, num_words, weight, bias):
    """The reference: per example and word, conv1d over its tokens (zero padding), ReLU, max."""
    B, L, D = hidden.shape
    out = torch.zeros(B, num_words, weight.shape[0])
    for b in range(B):
        for w in range(1, num_words + 1):
            pos = [t for t in range(L) if int(word_ids[b, t]) == w]
            if not pos:
                continue
            x = hidden[b, pos].T.unsqueeze(0)  # (1, D, T)
            y = torch.relu(torch.nn.functional.conv1d(x, weight, bias, padding=weight.shape[-1] // 2))
            out[b, w - 1] = y[0].max(dim=-1).values
    return out


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_vectorised_word_pooling_equals_a_slow_loop(kernel):
    g = torch.Generator().manual_seed(kernel)
    for trial in range(5):
        B, L, D, W = 3, 17, 8, 12
        word_ids = torch.zeros(B, L, dtype=torch.long)
        for b in range(B):  # random contiguous words, random padding at the end
            n = int(torch.randint(3, L + 1, (1,), generator=g))
            w, t = 0, 0
            while t < n and w < W:
                size = int(torch.randint(1, 5, (1,), generator=g))
                w += 1
                word_ids[b, t : min(n, t + size)] = w
                t += size
        hidden = torch.randn(B, L, D, generator=g) - 0.3  # some conv outputs negative: ReLU zeros compete
        hidden[word_ids == 0] = 1e4  # padding would win any max it entered
        weight, bias = torch.randn(D, D, kernel, generator=g), torch.randn(D, generator=g)
        fast = word_cnn_max_pool(hidden, word_ids, W, weight, bias)
        assert torch.allclose(fast, slow_word_pool(hidden, word_ids, W, weight, bias), atol=1e-4), trial


def test_reverse_within_length():
    x = torch.arange(10.0).view(2, 5, 1)
    got = reverse_within_length(x, torch.tensor([3, 5]))[..., 0]
    assert got.tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]


def model(ckpt, task, **options):
    torch.manual_seed(0)
    return build_model("sembert", task, 3 if task == "token" else 2, backbone=ckpt,
                       backbone_config={"attn_implementation": "eager"}, **options).eval()


@pytest.mark.parametrize("task,label_pooling", [("sequence", "cls"), ("pair", "cls"), ("token", "cls"),
                                               ("sequence", "mean"), ("pair", "mean")])
@pytest.mark.parametrize("label_encoder", ["bigru", "linear"])
def test_padding_does_not_change_outputs(ckpt, task, label_pooling, label_encoder):
    feat = featurizer(ckpt, task=task)
    exs = examples(task)
    feat.fit(exs)
    m = model(ckpt, task, label_encoder=label_encoder, label_pooling=label_pooling)
    feats = [feat(ex) for ex in exs]
    with torch.no_grad():
        together = m(**{k: v for k, v in feat.collate(feats).items() if k != "labels"}).logits
        for i, f in enumerate(feats):
            alone = m(**{k: v for k, v in feat.collate([f]).items() if k != "labels"}).logits[0]
            n = len(f["input_ids"])
            if task == "token":
                assert torch.allclose(together[i, :n], alone[:n], atol=1e-5)
            else:
                assert torch.allclose(together[i], alone, atol=1e-5)
    widths = [len(f["role_ids"][0]) for f in feats]
    assert len(set(widths)) > 1 and len({len(f["input_ids"]) for f in feats}) > 1  # padding really happened


def zero_label_branch(m):
    with torch.no_grad():
        for mod in [m.label_encoder, getattr(m, "label_pooler", None)]:
            if mod is not None:
                for p in mod.parameters():
                    p.zero_()


@pytest.mark.parametrize("task", ["sequence", "token"])
def test_zeroed_label_branch_with_all_o_frames_is_word_pooled_bert(ckpt, task):
    """With every label-branch parameter 0 the fused label half is exactly 0, and SemBERT is
    word-pooled BERT: sequence: classifier[:, :D] on BERT's pooler over the per-word-CNN +
    max-pooled [CLS] word; token: classifier[:, :D] on BERT's token vectors (plain BERT's token
    head). Computed here independently: a plain BertModel with the same weights + the slow loop."""
    feat = featurizer(ckpt, task=task)
    exs = [Example(ex.text_a, tokens=ex.tokens, tags=ex.tags, label=ex.label,
                   ann_a=Annotation(text=ex.text_a, words=ex.ann_a.words)) for ex in examples(task)]  # no frames
    feats = [feat(ex) for ex in exs]
    assert all(i == 1 for f in feats for fr in f["role_ids"] for i in fr)  # all O
    batch = {k: v for k, v in feat.collate(feats).items() if k != "labels"}
    m = model(ckpt, task)
    zero_label_branch(m)
    bert = BertModel(m.config, add_pooling_layer=task != "token").eval()
    bert.load_state_dict({k[len("bert."):]: v for k, v in m.state_dict().items() if k.startswith("bert.")})
    D = m.config.hidden_size
    W_cls, b_cls = m.head.classifier.weight[:, :D], m.head.classifier.bias
    with torch.no_grad():
        out = bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   token_type_ids=batch["token_type_ids"])
        if task == "token":
            expected = out.last_hidden_state @ W_cls.T + b_cls
        else:
            words = slow_word_pool(out.last_hidden_state, batch["word_ids"], batch["role_ids"].shape[-1],
                                   m.word_cnn.weight, m.word_cnn.bias)
            expected = bert.pooler.activation(bert.pooler.dense(words[:, 0])) @ W_cls.T + b_cls
        got = m(**batch).logits
    assert torch.allclose(got, expected, atol=1e-5)
    with torch.no_grad():  # and the label branch does count when it is not zeroed
        assert not torch.allclose(model(ckpt, task)(**batch).logits, got, rtol=1e-3, atol=0)


@pytest.mark.parametrize("task", ["sequence", "token"])
@pytest.mark.parametrize("label_encoder", ["bigru", "linear"])
def test_save_load_round_trip(ckpt, task, label_encoder, tmp_path):
    """Also: loading leaves the label branch's saved weights alone (its own init does not run over them)."""
    feat = featurizer(ckpt, task=task, max_frames=2, max_roles=16)
    exs = examples(task)
    feat.fit(exs)
    m = model(ckpt, task, label_encoder=label_encoder, num_frames=2, num_role_labels=16, role_hidden_size=6)
    batch = {k: v for k, v in feat.collate([feat(ex) for ex in exs]).items() if k != "labels"}
    m.save_pretrained(tmp_path)
    auto = AutoModelForTokenClassification if task == "token" else AutoModelForSequenceClassification
    back = auto.from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert type(back) is type(m) and back.config.label_encoder == label_encoder and back.config.num_frames == 2
    with torch.no_grad():
        assert torch.equal(m(**batch).logits, back(**batch).logits)


def label_and_word_halves(m, batch):
    """Mean |value| of the label half and of the BERT half of the fused sequence vector."""
    with torch.no_grad():
        hidden = m.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        words = m.word_vectors(hidden, batch["word_ids"], batch["role_ids"].shape[-1])
        word_half = m.bert.pooler.activation(m.bert.pooler.dense(words[:, 0]))
        label_half = torch.tanh(m.label_pooler(m.label_encoder(batch["role_ids"])[:, 0]))
    return label_half.abs().mean().item(), word_half.abs().mean().item()


@pytest.mark.parametrize("label_encoder", ["bigru", "linear"])
def test_label_init_puts_the_label_half_at_berts_scale(ckpt, label_encoder):
    """``label_init="torch"`` (default): the label half starts in tanh's working range (mean |x| of
    0.05-0.9; on the shipped 4x256 backbone 0.18 against BERT's half at 0.10); ``"bert"`` (normal(0,
    0.02) in four layers in a row, the reference code) starts near 0 and far below BERT's half."""
    feat = featurizer(ckpt)
    exs = examples()
    feat.fit(exs)
    batch = {k: v for k, v in feat.collate([feat(ex) for ex in exs]).items() if k != "labels"}
    label, word = label_and_word_halves(model(ckpt, "sequence", label_encoder=label_encoder), batch)
    assert 0.05 < label < 0.9
    label, word = label_and_word_halves(model(ckpt, "sequence", label_encoder=label_encoder, label_init="bert"), batch)
    assert label < 1e-3 and label < word / 5
    with pytest.raises(ValueError, match="label_init"):
        model(ckpt, "sequence", label_init="xavier")


@pytest.mark.parametrize("label_encoder", ["bigru", "linear"])
def test_mean_label_pooling_reads_every_real_word(ckpt, label_encoder):
    """``label_pooling="mean"``: the label summary is the mean of the label encoder's vectors over each
    example's own words (computed here per example, unpadded); ``"cls"`` is the ``[CLS]`` word's. With
    the linear encoder (no context across words) a role change on a later word moves the logits under
    "mean" and leaves them bit-identical under "cls"."""
    feat = featurizer(ckpt)
    exs = examples()
    feat.fit(exs)
    feats = [feat(ex) for ex in exs]
    batch = {k: v for k, v in feat.collate(feats).items() if k != "labels"}
    m = model(ckpt, "sequence", label_encoder=label_encoder, label_pooling="mean")
    with torch.no_grad():
        got = label_summary(m.label_encoder(batch["role_ids"]), batch["role_ids"], "mean")
        for i, f in enumerate(feats):
            alone = m.label_encoder(torch.tensor([f["role_ids"]]))[0]  # (W_i, R): this example's words only
            assert torch.allclose(got[i], alone.mean(dim=0), atol=1e-6)
        assert torch.equal(label_summary(m.label_encoder(batch["role_ids"]), batch["role_ids"], "cls"),
                           m.label_encoder(batch["role_ids"])[:, 0])
    if label_encoder != "linear":
        return
    changed = dict(batch, role_ids=batch["role_ids"].clone())
    w = len(feats[0]["role_ids"][0]) - 2  # a real word of example 0, not [CLS]
    changed["role_ids"][0, :, w] = torch.where(changed["role_ids"][0, :, w] == 1, 3, 1)
    with torch.no_grad():
        assert not torch.allclose(m(**batch).logits[0], m(**changed).logits[0], rtol=0, atol=1e-6)
        cls = model(ckpt, "sequence", label_encoder="linear")
        assert torch.equal(cls(**batch).logits, cls(**changed).logits)
    with pytest.raises(ValueError, match="label_pooling"):
        model(ckpt, "sequence", label_pooling="max")


def test_frame_count_mismatch_is_a_clear_error(ckpt):
    feat = featurizer(ckpt, max_frames=2)
    batch = {k: v for k, v in feat.collate([feat(ex) for ex in examples()]).items() if k != "labels"}
    with pytest.raises(ValueError, match="max_frames"):
        model(ckpt, "sequence")(**batch)


# --------------------------------------------------------------------------- trainer + Pipeline
def test_trained_by_the_common_trainer_and_served_by_pipeline(tmp_path):
    from kgbert.pipeline import Pipeline
    from kgbert.training.config import config_from_dict
    from kgbert.training.trainer import run_training
    from tests.training.helpers import make_pair_tsv

    data = tmp_path / "data"
    data.mkdir()
    anns = {}
    for split, n, seed in (("train", 24, 0), ("dev", 8, 1)):
        path = make_pair_tsv(data / f"{split}.tsv", n, seed)
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
        anns[split] = str(data / f"{split}.ann.jsonl")
        with open(anns[split], "w", encoding="utf-8") as fh:
            for _, a, b in rows:
                fh.write(json.dumps({"a": fake_srl(a).to_dict(), "b": fake_srl(b).to_dict()}, ensure_ascii=False) + "\n")
    cfg = {
        "name": "sem", "output_dir": str(tmp_path / "run"), "seed": 1, "task": {"type": "pair"},
        "data": {"format": "tsv", "train": str(data / "train.tsv"), "dev": str(data / "dev.tsv"),
                 "max_length": 24, "annotations": anns},
        "model": {"encoder": "sembert", "options": {"num_frames": 2, "role_hidden_size": 8},
                  "featurizer": {"max_frames": 2}, "backbone_config": {
                      "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                      "intermediate_size": 64, "max_position_embeddings": 32}},
        "training": {"epochs": 1, "max_steps": 3, "batch_size": 8, "threads": 1, "progress": False},
    }
    metrics = run_training(config_from_dict(cfg))
    assert metrics["global_step"] == 3 and 0.0 <= metrics["dev"]["accuracy"] <= 1.0
    info = json.loads((tmp_path / "run/best/kgbert.json").read_text("utf-8"))
    assert info["encoder"] == "sembert" and info["annotators"] == ["words", "srl"]
    roles = info["featurizer"]["roles"]
    assert {"B-V", "B-A0", "B-A1"} <= set(roles) and info["featurizer"]["max_frames"] == 2  # learnt, saved
    with Pipeline.from_pretrained(tmp_path / "run", annotate=False) as pipe:
        assert pipe.featurizer.roles == roles and pipe.model.config.num_frames == 2
        a, b = "我爱吃苹果", "你是谁"
        res = pipe((fake_srl(a), fake_srl(b)))
    assert res["label"] in ("0", "1")
    assert res["annotation"]["srl"] and res["annotation_b"]["srl"]  # the frames come back with the prediction
    assert len(res["frames"]) == 2 and res["frames"][0][1:3] == ["B-V", "B-A1"]  # 我爱|吃苹|果: 爱 is V


@pytest.mark.slow
def test_frames_from_a_tiny_tagger_reach_training_and_pipeline(tmp_path):
    """``data.annotate`` with the SRL tagger (a tiny random one): the annotators compute words and
    frames once (cached), SemBERT trains on them, and Pipeline runs the same tagger on raw text
    (its ``srl_model`` taken from the run's ``data.annotator_options``)."""
    srl = pytest.importorskip("annotators.srl")
    from kgbert.pipeline import Pipeline
    from kgbert.training.config import config_from_dict
    from kgbert.training.trainer import run_training
    from tests.training.helpers import FILLER, make_pair_tsv

    tagger = srl.SrlTagger.from_scratch(srl.bio_labels(["A0", "A1"]), ["".join(FILLER)], hidden_size=16,
                                        num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    tagger.save_pretrained(tmp_path / "srl")
    data = tmp_path / "data"
    data.mkdir()
    cfg = {
        "name": "sem", "output_dir": str(tmp_path / "run"), "seed": 1, "task": {"type": "pair"},
        "data": {"format": "tsv", "train": str(make_pair_tsv(data / "train.tsv", 16, 0)),
                 "dev": str(make_pair_tsv(data / "dev.tsv", 8, 1)), "max_length": 24, "annotate": True,
                 "annotation_cache_dir": str(tmp_path / "ann"), "annotator_options": {"srl_model": str(tmp_path / "srl")}},
        "model": {"encoder": "sembert", "backbone_config": {
            "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
            "max_position_embeddings": 32}},
        "training": {"epochs": 1, "max_steps": 2, "batch_size": 8, "threads": 1, "progress": False},
    }
    assert run_training(config_from_dict(cfg))["global_step"] == 2
    recs = [json.loads(x) for x in next((tmp_path / "ann").glob("train-*.jsonl")).read_text("utf-8").splitlines()]
    assert len(recs) == 16 and any(r["a"]["srl"] or r["b"]["srl"] for r in recs)  # frames reached training
    with Pipeline.from_pretrained(tmp_path / "run") as pipe:
        res = pipe(("我们修改规则", "你是谁"))
    assert res["annotation"]["words"] and res["annotation"]["srl"] and len(res["frames"]) == 3  # 修改: a verb
    assert any(lab.endswith("-V") for lab in res["frames"][0])


@pytest.mark.parametrize("task", ["sequence", "token"])
@pytest.mark.parametrize("label_encoder", ["linear", "bigru"])
def test_forward_compiles_without_graph_breaks(ckpt, task, label_encoder):
    """No host read of a tensor's value in the forward: ``torch.compile(fullgraph=True)`` captures it
    whole (word pooling, frame fusion and the head included). Dynamo wraps ``nn.GRU`` only with its
    experimental ``allow_rnn`` switch, so the BiGRU variant is checked with it on."""
    import torch._dynamo

    feat = featurizer(ckpt, task=task)
    exs = examples(task)
    feat.fit(exs)
    batch = feat.collate([feat(ex) for ex in exs])
    m = model(ckpt, task, label_encoder=label_encoder)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(allow_rnn=label_encoder == "bigru"):
        compiled = torch.compile(m, backend="eager", fullgraph=True)
        with torch.no_grad():
            got, want = compiled(**batch), m(**batch)
    assert torch.allclose(got.logits, want.logits, atol=1e-6) and torch.allclose(got.loss, want.loss, atol=1e-6)


def test_windows_of_a_long_text_keep_their_frames():
    """Pipeline's windows of a long text carry the SRL frames inside them (shifted), so SemBERT
    reads frames in every window, not all-O ones."""
    from kgbert.windowing import slice_annotation

    ann = fake_srl("我爱吃苹果哈头痛是感冒")
    win = slice_annotation(ann, 6, 11)  # 头痛是感冒
    assert win.text == "头痛是感冒" and [f.to_dict() for f in win.srl] == [
        {"predicate": [2, 3], "args": [{"role": "A0", "start": 0, "end": 2}, {"role": "A1", "start": 3, "end": 5}]}]
    left = slice_annotation(ann, 0, 3)  # 我爱吃: 爱 keeps A0 我 only (A1 吃苹 crosses the edge); 吃's A1 is cut
    assert [(f.predicate, [a.role for a in f.args]) for f in left.srl] == [((1, 2), ["A0"]), ((2, 3), ["A0"])]


def test_token_task_through_the_trainer_and_pipeline(tmp_path):
    """NER with SemBERT: annotations from a JSONL file, a few steps, then Pipeline on an annotated
    text: one tag per character, the frames with the prediction."""
    from kgbert.pipeline import Pipeline
    from kgbert.training.config import config_from_dict
    from kgbert.training.trainer import run_training
    from tests.training.helpers import ner_config

    cfg = ner_config(tmp_path, encoder="sembert", n_train=16, max_steps=2, epochs=1)
    anns = {}
    for split in ("train", "dev", "test"):
        rows = (tmp_path / "data" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        anns[split] = str(tmp_path / "data" / f"{split}.ann.jsonl")
        with open(anns[split], "w", encoding="utf-8") as fh:
            for row in rows:
                text = "".join(row.split("\t")[0].split())
                fh.write(fake_srl(text).to_json() + "\n")
    cfg["data"]["annotations"] = anns
    metrics = run_training(config_from_dict(cfg))
    assert metrics["global_step"] == 2 and "f1" in metrics["test"]
    with Pipeline.from_pretrained(tmp_path / "run", annotate=False) as pipe:
        res = pipe(fake_srl("患者说吃阿司匹林后头痛"))
    assert len(res["tags"]) == 11 and res["annotation"]["srl"]
    assert len(res["frames"]) == 3 and len(res["frames"][0]) == 6 + 2  # 6 two-character words + [CLS], [SEP]
    assert res["frames"][0][1:3] == ["B-A0", "B-V"]  # 说 (in 患者|说吃): A0 患者, V 说吃
