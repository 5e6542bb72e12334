"""kgbert.pipeline: annotated inference over tiny runs trained here by the real trainer."""
from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

from annotators import Annotation, Entity
from kgbert.pipeline import Pipeline, PipelineError
from tests.training.helpers import make_pair_tsv, make_spo, ner_config

TINY_BACKBONE = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "intermediate_size": 64, "max_position_embeddings": 64}


@functools.lru_cache(maxsize=None)
def trained_run(kind: str) -> Path:
    """A tiny K-BERT run dir (``ner`` or ``pair``), trained once per test process."""
    from kgbert.training import config_from_dict, run_training

    root = Path(tempfile.mkdtemp(prefix=f"kgbert-pipe-{kind}-"))
    atexit.register(shutil.rmtree, root, True)
    if kind == "ner":
        cfg = ner_config(root, encoder="kbert", n_train=96, epochs=4)
    else:
        data = root / "data"
        data.mkdir()
        cfg = {
            "name": "pair", "output_dir": str(root / "run"), "seed": 1,
            "task": {"type": "pair"},
            "data": {"format": "tsv", "train": str(make_pair_tsv(data / "train.tsv", 24, 0)),
                     "dev": str(make_pair_tsv(data / "dev.tsv", 8, 1)), "max_length": 40},
            "model": {"encoder": "kbert", "backbone_config": TINY_BACKBONE,
                      "vocab_sources": [str(make_spo(data / "kg.spo"))]},
            "kg": {"sources": [str(data / "kg.spo")], "cache_dir": str(root / "kg_cache")},
            "training": {"max_steps": 3, "batch_size": 8, "threads": 1, "progress": False},
        }
    run_training(config_from_dict(cfg))
    return root / "run"


@pytest.fixture(scope="module")
def ner_pipe():
    with Pipeline.from_pretrained(trained_run("ner"), annotate=False) as pipe:
        yield pipe


def _no_space(text: str) -> tuple[str, list[int]]:
    keep = [i for i, c in enumerate(text) if not c.isspace()]
    return "".join(text[i] for i in keep), keep


def test_ner_agrees_with_the_trainers_own_predictions(ner_pipe):
    recs = [json.loads(line) for line in (trained_run("ner") / "predictions/test.jsonl").read_text("utf-8").splitlines()]
    out = ner_pipe(["".join(r["tokens"]) for r in recs], batch_size=5)
    assert [o["tags"] for o in out] == [r["pred"] for r in recs]


def test_ner_offsets_map_back_to_the_original_text(ner_pipe):
    texts = ["服用阿司匹林后头痛", "Patient 服用 阿司匹林 100mg 后 头痛，发热 2 天", "  布洛芬 3 片  ", "ABC 头痛\t咳嗽 x9"]
    found = 0
    for text in texts:
        res = ner_pipe(text)
        assert len(res["tags"]) == len(text) and res["annotation"]["text"] == text
        compact, keep = _no_space(text)
        ref = ner_pipe(compact)  # the model sees exactly these characters
        assert [res["tags"][i] for i in keep] == ref["tags"]
        assert len(res["entities"]) == len(ref["entities"])
        for e, r in zip(res["entities"], ref["entities"]):
            assert text[e["start"]:e["end"]] == e["text"] and not e["text"][0].isspace() and not e["text"][-1].isspace()
            assert (e["start"], e["end"] - 1) == (keep[r["start"]], keep[r["end"] - 1]) and e["label"] == r["label"]
        for ent in res["annotation"]["entities"]:
            assert text[ent["start"]:ent["end"]] == ent["name"]
        found += len(res["entities"])
    assert found >= len(texts)  # the tiny model does predict entities (else this test would prove little)


def test_whitespace_inside_a_predicted_entity_gets_the_inside_tag(ner_pipe):
    text = "x 阿司 匹林 y"
    item = ner_pipe.prepare(text)
    want = ["O", "B-Drug", "I-Drug", "I-Drug", "I-Drug", "O"]  # one per non-space character
    probs = torch.zeros(len(item.feature["input_ids"]), len(ner_pipe.labels))  # (L, C)
    for pos, tok in enumerate(item.feature["token_map"]):
        probs[pos, ner_pipe.labels.index(want[tok]) if tok >= 0 else 0] = 1.0
    res = ner_pipe._decode(item, probs)
    assert res["entities"] == [{"start": 2, "end": 7, "label": "Drug", "text": "阿司 匹林", "score": 1.0}]
    assert res["tags"] == ["O", "O", "B-Drug", "I-Drug", "I-Drug", "I-Drug", "I-Drug", "O", "O"]


def test_kbert_reports_the_injected_knowledge(ner_pipe):
    res = ner_pipe("服用阿司匹林后头痛")
    know = {k["name"]: k for k in res["knowledge"]}
    assert know["阿司匹林"]["triples"] == [["阿司匹林", "类别", "药物"]]
    assert (know["阿司匹林"]["start"], know["阿司匹林"]["end"]) == (2, 6)
    assert know["头痛"]["triples"] == [["头痛", "类别", "症状"]]
    # the injected branch tokens are really in the model input, after the entity
    item = ner_pipe.prepare("服用阿司匹林后头痛")
    assert max(item.feature["branch_ids"]) == 2
    # no room left for knowledge: the triples are reported as dropped
    limit = ner_pipe.max_text_tokens
    full = ner_pipe("阿司匹林" + "的" * (limit - 4))
    assert full["knowledge"] == [{"start": 0, "end": 4, "text": "阿司匹林", "name": "阿司匹林", "triples": [], "dropped": 1}]


def test_user_annotation_is_used_as_given(ner_pipe):
    text = "服用 阿司匹林后头痛"
    ann = Annotation(text=text, entities=[Entity(3, 7, "Drug", name="阿司匹林", source="user")])
    res = ner_pipe(ann)
    assert res["annotation"] == ann.to_dict()
    assert [(k["start"], k["end"], k["triples"]) for k in res["knowledge"]] == [(3, 7, [["阿司匹林", "类别", "药物"]])]


def test_same_input_same_output_and_batching_does_not_change_predictions(ner_pipe):
    texts = ["服用阿司匹林后头痛", "发热 咳嗽 三天", "布洛芬", "好的"] * 3
    a, b = ner_pipe(texts, batch_size=4), ner_pipe(texts, batch_size=4)
    assert a == b
    one = ner_pipe(texts, batch_size=1)
    assert [r["tags"] for r in one] == [r["tags"] for r in a]


def test_errors_name_the_problem_and_the_limit(ner_pipe):
    with pytest.raises(PipelineError, match="empty text"):
        ner_pipe("   ")
    with pytest.raises(PipelineError, match="input 1: empty text"):
        ner_pipe(["头痛", ""])
    limit = ner_pipe.max_text_tokens
    assert limit == 30  # max_length 32 of the tiny config
    with pytest.raises(PipelineError, match=r"31 characters .*at most 30 \(max_length=32"):
        ner_pipe.prepare("头" * 31, long="error")  # (by default a long text is windowed)
    ner_pipe("头 " * 30)  # whitespace does not count
    with pytest.raises(PipelineError, match="takes one text per input"):
        ner_pipe([("头痛", "发热")])
    with pytest.raises(PipelineError, match="expected a text"):
        ner_pipe([3])


def test_truncate_cuts_instead_of_raising():
    with Pipeline.from_pretrained(trained_run("ner") / "best", annotate=False, truncate=True) as pipe:
        res = pipe("头" * 40)
    assert res["truncated"] and len(res["tags"]) == 40 and res["tags"][30:] == ["O"] * 10


def test_annotators_pipeline_gives_words_and_kg_entities():
    with Pipeline.from_pretrained(trained_run("ner")) as pipe:
        res = pipe("患者服用阿司匹林后头痛")
    ann = res["annotation"]
    assert ann["words"] and all(0 <= s < e <= 11 for s, e in ann["words"])
    assert {(e["start"], e["end"], e["name"], e["source"]) for e in ann["entities"]} >= {(4, 8, "阿司匹林", "kg")}
    assert any(k["name"] == "阿司匹林" and k["triples"] for k in res["knowledge"])


def test_pair_task_shapes_scores_and_knowledge_per_segment():
    with Pipeline.from_pretrained(trained_run("pair"), annotate=False) as pipe:
        res = pipe(("今天头痛", "服用阿司匹林"))
        assert res["label"] in pipe.labels and set(res["scores"]) == set(pipe.labels)
        assert abs(sum(res["scores"].values()) - 1) < 1e-5 and res["score"] == max(res["scores"].values())
        assert res["annotation"]["text"] == "今天头痛" and res["annotation_b"]["text"] == "服用阿司匹林"
        know = [(k["segment"], k["start"], k["end"], k["triples"]) for k in res["knowledge"]]
        assert know == [("a", 2, 4, [["头痛", "类别", "症状"]]), ("b", 2, 6, [["阿司匹林", "类别", "药物"]])]
        assert pipe([("好的", "是的"), ["在", "上"]])[1]["label"] in pipe.labels
        with pytest.raises(PipelineError, match=r"text pairs: give \(text_a, text_b\), got a single str"):
            pipe("今天头痛")
        with pytest.raises(PipelineError, match="input 0: .*got a tuple of 3"):
            pipe([("a", "b", "c")])
        with pytest.raises(PipelineError, match=r"at most 37 \(max_length=40"):
            pipe(("头" * 20, "痛" * 18))


def test_kg_override_and_missing_kg(tmp_path):
    run = trained_run("ner")
    with Pipeline.from_pretrained(run, kg=False, annotate=False) as pipe:
        assert pipe("服用阿司匹林后头痛")["knowledge"] == []
    # a copy of the run whose KG store has gone: a clear error, and kg= repairs it
    copy = tmp_path / "run"
    shutil.copytree(run / "best", copy / "best")
    kg_json = json.loads((copy / "best/kg.json").read_text())
    store = kg_json["path"]
    kg_json["path"] = str(tmp_path / "gone.sqlite")
    (copy / "best/kg.json").write_text(json.dumps(kg_json))
    with pytest.raises(PipelineError, match="KG store this model was trained with is missing.*kg=PATH"):
        Pipeline.from_pretrained(copy, annotate=False)
    with Pipeline.from_pretrained(copy, kg=store, annotate=False) as pipe:
        assert pipe("服用阿司匹林")["knowledge"][0]["triples"] == [["阿司匹林", "类别", "药物"]]
    with pytest.raises(PipelineError, match="neither a run directory"):
        Pipeline.from_pretrained(tmp_path)
    with pytest.raises(PipelineError, match="no such run"):
        Pipeline.from_pretrained(tmp_path / "nope")


def test_annotation_with_an_unknown_kg_id_is_a_clear_error(ner_pipe):
    ann = Annotation(text="服用某药", entities=[Entity(2, 4, "KG", kg_id=10**6, source="user")])
    with pytest.raises(PipelineError, match="annotation does not fit the KG: no entity with id 1000000"):
        ner_pipe(ann)


def test_pipeline_runs_exactly_the_annotators_the_model_records():
    from kgbert.pipeline import model_annotators

    assert model_annotators({"encoder": "kbert", "annotators": ["kg_entities"]}, has_kg=True) == ("kg_entities",)
    assert model_annotators({"encoder": "kbert", "annotators": ["kg_entities"]}, has_kg=False) == ()
    assert model_annotators({"encoder": "bert", "annotators": []}, has_kg=True) == ()
    assert model_annotators({"encoder": "kbert"}, has_kg=True) == ("kg_entities",)  # run dirs from before the key
    info = json.loads((trained_run("ner") / "best/kgbert.json").read_text("utf-8"))
    assert info["annotators"] == ["kg_entities"]
    with Pipeline.from_pretrained(trained_run("ner")) as pipe:
        assert pipe.nlp.pipe_names == ["kg_entities"]
