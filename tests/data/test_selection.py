"""K-BERT knowledge selection: stoplist, max_df (fitted on training sentences), saved options."""
from __future__ import annotations

import json

import pytest

from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.data import Example, build_featurizer
from kgbert.data.selection import KnowledgeSelection, load_stoplist
from tests.data.test_kbert import VOCAB_TEXTS, _branches
from tests.models._kg import make_kg


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return load_tokenizer(make_random_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", texts=VOCAB_TEXTS))


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    return make_kg(tmp_path_factory.mktemp("kg"))


def test_stoplist_list_and_file(tok, kg, tmp_path):
    ex = Example("吃苹果感冒")
    base = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg)
    assert _branches(base(ex), tok) == ["类别水果", "颜色红色", "症状发热"]
    stop = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, stoplist=["苹果"])
    assert _branches(stop(ex), tok) == ["症状发热"]
    f = tmp_path / "stop.txt"
    f.write_text("\ufeff# generic words\n感冒\n\n", encoding="utf-8")
    assert load_stoplist(str(f)) == {"感冒"}
    stop2 = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, stoplist=str(f))
    assert _branches(stop2(ex), tok) == ["类别水果", "颜色红色"]
    with pytest.raises(ValueError, match="no such file"):
        load_stoplist(str(tmp_path / "missing.txt"))


def test_max_df_fit_and_saved_options(tok, kg):
    train = [Example("吃苹果")] * 3 + [Example("感冒了")] + [Example("你好")] * 6  # 苹果 in 30 %, 感冒 in 10 %
    feat = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, max_df=0.2,
                            stoplist=["胃出血"])
    feat.fit(train)
    assert feat.selection.frequent == {"苹果"} and feat.selection.df["感冒"] == 1 and feat.selection.n_sentences == 10
    assert _branches(feat(Example("吃苹果感冒")), tok) == ["症状发热"]
    saved = feat.saved_options({"max_entities": 2, "max_df": 0.2, "stoplist": ["胃出血"]})
    assert saved == {"max_entities": 2, "stoplist": ["胃出血", "苹果"]}
    # inference from the saved options drops exactly the same mentions, without the training data
    again = build_featurizer("kbert", tok, task="sequence", label_list=["a"], max_length=64, kg=kg, **saved)
    assert again(Example("吃苹果感冒")) == feat(Example("吃苹果感冒"))
    with pytest.raises(ValueError, match="max_df must be a share"):
        KnowledgeSelection(max_df=0)


def test_token_task_fit_uses_tokens(tok, kg):
    feat = build_featurizer("kbert", tok, task="token", label_list=["O"], max_length=64, kg=kg, max_df=0.5)
    exs = [Example("吃苹果", tokens=list("吃苹果"), tags=["O"] * 3), Example("好", tokens=["好"], tags=["O"])]
    feat.fit(exs)
    assert feat.selection.frequent == set()  # 苹果 in exactly half: not above 0.5
    feat2 = build_featurizer("kbert", tok, task="token", label_list=["O"], max_length=64, kg=kg, max_df=0.4)
    feat2.fit(exs)
    assert feat2.selection.frequent == {"苹果"}
    f = feat2(exs[0])
    assert set(f["branch_ids"]) == {0}


@pytest.mark.slow
def test_trainer_saves_resolved_stoplist(tmp_path):
    from kgbert.training.config import config_from_dict
    from kgbert.training.trainer import run_training
    from tests.training.helpers import ner_config

    cfg = ner_config(tmp_path, encoder="kbert", max_steps=1)
    cfg["model"]["featurizer"] = {"max_entities": 1, "max_df": 0.05}
    run_training(config_from_dict(cfg))
    info = json.loads((tmp_path / "run" / "best" / "kgbert.json").read_text())
    assert "max_df" not in info["featurizer"] and info["featurizer"]["stoplist"]  # every synthetic entity is frequent
    assert info["featurizer"]["max_entities"] == 1
