"""K-BERT featuriser: entity sources, budget, labels, token_map, determinism, real data."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from annotators import Annotation
from annotators.annotation import Entity
from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import Example, FeaturizeError, build_featurizer
from tests.conftest import REPO, shared_data
from tests.models._kg import FRUIT_SPO, make_kg

VOCAB_TEXTS = ["我爱吃苹果哈感冒可以吃阿司匹林吗患者服用后胃出血", "类别水果颜色红色产地山东药物治疗头痛症状发热疾病"]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return load_tokenizer(make_random_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", texts=VOCAB_TEXTS))


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    return make_kg(tmp_path_factory.mktemp("kg"))


def _trunk(f: dict, tok) -> list[str]:
    return [t for t, b in zip(tok.convert_ids_to_tokens(f["input_ids"]), f["branch_ids"]) if b == 0]


def _branches(f: dict, tok) -> list[str]:
    toks = tok.convert_ids_to_tokens(f["input_ids"])
    out: dict[int, str] = {}
    for t, b in zip(toks, f["branch_ids"]):
        if b:
            out[b] = out.get(b, "") + t
    return [out[k] for k in sorted(out)]


def test_inject_modes_and_store_order(tok, kg):
    po = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg)
    assert _branches(po(Example("吃苹果")), tok) == ["类别水果", "颜色红色"]  # store order, first 2
    ob = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, inject="object",
                          max_entities=3)
    assert _branches(ob(Example("吃苹果")), tok) == ["水果", "红色", "山东"]
    ner = build_featurizer("kbert", tok, task="token", label_list=["O"], max_length=64, kg=kg)
    assert ner.inject == "object"
    sel = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, predicates=["产地"])
    assert _branches(sel(Example("吃苹果")), tok) == ["产地山东"]
    with pytest.raises(ValueError, match="inject"):
        build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, inject="subject")


def test_annotation_entities_are_used_instead_of_matching(tok, kg):
    feat = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, inject="object")
    text = "感冒吃苹果"
    # only the annotated entity gets knowledge (the matcher would also find 苹果)
    ann = Annotation(text, entities=[Entity(0, 2, name="感冒")])
    assert _branches(feat(Example(text, ann_a=ann)), tok) == ["发热"]
    # name wins over the surface text; kg_id is resolved through the store
    ann = Annotation(text, entities=[Entity(3, 5, name="阿司匹林")])
    assert _branches(feat(Example(text, ann_a=ann)), tok) == ["药物", "头痛"]
    ann = Annotation(text, entities=[Entity(3, 5, kg_id=kg.entity_id("苹果"))])
    assert _branches(feat(Example(text, ann_a=ann)), tok) == ["水果", "红色"]
    ann = Annotation(text, entities=[])  # an annotation with no entities: no knowledge
    assert _branches(feat(Example(text, ann_a=ann)), tok) == []
    with pytest.raises(FeaturizeError, match="dev.tsv:4"):
        feat(Example("别的", ann_a=Annotation(text), source="dev.tsv:4"))


def test_budget_never_drops_original_tokens(tok, kg):
    text = "苹果感冒阿司匹林苹果胃出血"  # 13 characters, 5 entities with knowledge
    full = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=128, kg=kg)
    n_branches = max(full(Example(text))["branch_ids"])
    assert n_branches == 8  # 苹果 2 + 感冒 1 + 阿司匹林 2 + 苹果 2 + 胃出血 1
    prev_branches = None
    for L in range(15, 60):
        feat = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=L, kg=kg)
        f = feat(Example(text))
        assert len(f["input_ids"]) <= L
        assert "".join(_trunk(f, tok)[1:-1]) == text  # every original token, in order
        br = _branches(f, tok)
        # branches are dropped from the end backwards: what is kept is a prefix of the full list
        assert br == _branches(full(Example(text)), tok)[: len(br)]
        assert prev_branches is None or len(br) >= prev_branches
        prev_branches = len(br)
    assert prev_branches == n_branches
    # the text alone over budget: the text is truncated, no knowledge at all
    f = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=8, kg=kg)(Example(text))
    assert "".join(_trunk(f, tok)[1:-1]) == text[:6] and max(f["branch_ids"]) == 0


def test_pair_budget_per_segment(tok, kg):
    a, b = "苹果苹果苹果", "感冒"
    feat = build_featurizer("kbert", tok, task="pair", label_list=["a"], max_length=6 + 2 + 3 + 8, kg=kg, inject="object")
    f = feat(Example(a, b))
    # 8 tokens of room: 4 for each segment. text_a's 6 branches alone could take it all, but
    # text_b's "发热" (2 tokens) is kept; text_a gets 4 + the 2 text_b leaves unused.
    assert _branches(f, tok) == ["水果", "红色", "水果", "发热"]
    assert "".join(_trunk(f, tok)) == "[CLS]" + a + "[SEP]" + b + "[SEP]"
    seg_of_branch = {bb: t for bb, t in zip(f["branch_ids"], f["token_type_ids"]) if bb}
    assert seg_of_branch == {1: 0, 2: 0, 3: 0, 4: 1}
    # over-long pair: longest-first truncation of the originals, no knowledge
    f = build_featurizer("kbert", tok, task="pair", label_list=["a"], max_length=7, kg=kg)(Example(a, b))
    assert "".join(_trunk(f, tok)) == "[CLS]苹果[SEP]感冒[SEP]"


def test_ner_labels_and_token_map(tok, kg):
    tags = ["O", "B-DRUG", "I-DRUG"]
    feat = build_featurizer("kbert", tok, task="token", label_list=tags, max_length=64, kg=kg)
    text = "吃阿司匹林哈"
    ex = Example(text, tokens=list(text), tags=["O", "B-DRUG", "I-DRUG", "I-DRUG", "I-DRUG", "O"])
    f = feat(ex)
    toks = tok.convert_ids_to_tokens(f["input_ids"])
    assert toks == ["[CLS]", "吃", "阿", "司", "匹", "林", "药", "物", "头", "痛", "哈", "[SEP]"]
    assert f["labels"] == [-100, 0, 1, 2, 2, 2, -100, -100, -100, -100, 0, -100]
    assert f["token_map"] == [-1, 0, 1, 2, 3, 4, -1, -1, -1, -1, 5, -1]
    # predictions map back to exactly the original tokens
    kept = [(i, m) for i, m in enumerate(f["token_map"]) if m >= 0]
    assert [m for _, m in kept] == list(range(len(text)))
    assert all(f["labels"][i] == tags.index(ex.tags[m]) for i, m in kept)
    assert all(lab == -100 for lab, b in zip(f["labels"], f["branch_ids"]) if b)
    batch = feat.collate([f, feat(Example("哈", tokens=["哈"], tags=["O"]))])
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "position_ids", "anchor_ids",
                          "branch_ids", "labels"}
    assert batch["position_ids"][1].tolist() == [0, 1, 2] + list(range(3, 12))


def test_no_knowledge_gives_baseline_ids(tok, kg):
    base = build_featurizer("bert", tok, task="pair", label_list=["a"], max_length=20)
    for feat in (
        build_featurizer("kbert", tok, task="pair", label_list=["a"], max_length=20, kg=None),
        build_featurizer("kbert", tok, task="pair", label_list=["a"], max_length=20, kg=kg, max_entities=0),
    ):
        ex = Example("患者服用阿司匹林后胃出血", "感冒可以吃苹果吗", label="a")
        f, g = feat(ex), base(ex)
        assert f["input_ids"] == g["input_ids"] and f["token_type_ids"] == g["token_type_ids"]
        assert f["position_ids"] == list(range(20)) and f["branch_ids"] == [0] * 20


def test_chinese_is_not_unk(tok, kg):
    feat = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg)
    f = feat(Example("患者服用阿司匹林后胃出血"))
    assert max(f["branch_ids"]) > 0
    assert tok.unk_token_id not in f["input_ids"]


_DETERMINISM_SCRIPT = """
import json, sys
from tokenizers import Tokenizer
from kgbert.data import Example, build_featurizer
from knowledge import KnowledgeGraph

class Tok:  # the parts of a transformers tokenizer the featuriser uses (importing transformers is slow)
    def __init__(self, path):
        self.backend_tokenizer = Tokenizer.from_file(path)
        for name in ("cls", "sep", "pad", "unk"):
            setattr(self, name + "_token_id", self.backend_tokenizer.token_to_id("[" + name.upper() + "]"))
    def get_vocab(self):
        return self.backend_tokenizer.get_vocab()

tok = Tok(sys.argv[1] + "/tokenizer.json")
kg = KnowledgeGraph.open(sys.argv[2])
feat = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, max_entities=2)
texts = ["吃苹果", "感冒吃阿司匹林", "胃出血和苹果"]
print(json.dumps([feat(Example(t)) for t in texts]))
"""


def test_deterministic_across_hash_seeds(tmp_path):
    # many triples per subject, in a file order that a set would scramble
    spo = "".join(f"苹果\\t关系{i}\\t对象{i}\\n" for i in range(30)) + FRUIT_SPO
    kg = make_kg(tmp_path / "kg", spo=spo.replace("\\t", "\t").replace("\\n", "\n"))
    ck = make_random_checkpoint(tmp_path / "ck", texts=VOCAB_TEXTS + ["关系对象0123456789"])
    procs = []
    for seed in ("0", "12345"):  # two interpreters with different string hashing, run side by side
        env = {**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, "-c", _DETERMINISM_SCRIPT, str(ck), str(kg.path)],
                                      env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert outs[0] == outs[1]
    tok = load_tokenizer(ck)
    feat = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg)
    assert outs[0] == [feat(Example(t)) for t in ["吃苹果", "感冒吃阿司匹林", "胃出血和苹果"]]
    assert tok.convert_ids_to_tokens(outs[0][0]["input_ids"])[4:12] == list("关系0对象0") + list("关系")


@pytest.mark.data
def test_real_medical_ner_with_medical_kg(tmp_path):
    spo = shared_data("kg_medical", "Medical.spo")
    ner = shared_data("medical_ner", "dev.tsv")
    lines = ner.read_text(encoding="utf-8").splitlines()[1:201]
    examples = []
    for i, line in enumerate(lines, 2):
        text, tags = line.split("\t")
        examples.append(Example("".join(text.split()), tokens=text.split(), tags=tags.split(), source=f"{ner}:{i}"))
    kg_src = tmp_path / "Medical.spo"
    kg_src.write_bytes(spo.read_bytes())
    from knowledge import KnowledgeGraph, build_kg

    build_kg([kg_src], tmp_path / "med.sqlite")
    kg = KnowledgeGraph.open(tmp_path / "med.sqlite")
    label_list = sorted({t for e in examples for t in e.tags})
    ck = make_random_checkpoint(tmp_path / "ck", texts=[e.text_a for e in examples] + ["类别症状疾病检查治疗药品部位"])
    tok = load_tokenizer(ck)
    feat = build_featurizer("kbert", tok, task="token", label_list=label_list, max_length=128, kg=kg)
    n_branches = 0
    for ex in examples:
        f = feat(ex)
        n = min(len(ex.tokens), 126)
        assert [m for m in f["token_map"] if m >= 0] == list(range(n))
        assert len(f["input_ids"]) <= 128
        n_branches += max(f["branch_ids"])
        assert tok.unk_token_id not in [i for i, m in zip(f["input_ids"], f["token_map"]) if m >= 0]
    assert n_branches > 20  # the medical KG does link entities in medical text


def test_featurizer_pickles_for_dataloader_workers(tok, kg):
    import pickle

    feat = build_featurizer("kbert", tok, task="pair", label_list=["a"], max_length=64, kg=kg)
    ex = Example("患者服用阿司匹林后胃出血", "感冒可以吃苹果吗")
    before = feat(ex)
    clone = pickle.loads(pickle.dumps(feat))
    assert clone._branch_cache == {} and clone(ex) == before


def test_bad_options(tok, kg):
    with pytest.raises(ValueError, match="max_entities"):
        build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, max_entities=-1)
    with pytest.raises(ValueError, match="unknown option"):
        build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, max_entity=1)
    # the model's option is accepted (one options dict for both builders)
    build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, use_vm=False)


def test_ner_budget_keeps_every_original_token(tok, kg):
    text = "吃阿司匹林治感冒"
    ex = Example(text, tokens=list(text), tags=["O"] * len(text))
    for L in range(len(text) + 2, len(text) + 12):
        f = build_featurizer("kbert", tok, task="token", label_list=["O"], max_length=L, kg=kg)(ex)
        assert len(f["input_ids"]) <= L
        assert [m for m in f["token_map"] if m >= 0] == list(range(len(text)))
        assert sum(lab == 0 for lab in f["labels"]) == len(text)
    f = build_featurizer("kbert", tok, task="token", label_list=["O"], max_length=len(text) + 6, kg=kg)(ex)
    assert _branches(f, tok) == ["药物", "头痛"]  # 4 tokens of room: 阿司匹林's two branches; 感冒's dropped
