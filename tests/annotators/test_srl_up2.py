"""Universal PropBank 2.0 layout: reader, writer, layout sniffing, and dev-selected training."""
from __future__ import annotations

import json

import pytest
import torch

from annotators.srl import SrlArg, SrlFormatError, SrlFrame, SrlSentence, SrlTagger, bio_labels
from annotators.srl.conll import read_up, read_up2, sniff_up_layout, write_up2
from annotators.srl.train import _resolve_files, evaluate, featurize, main, train_tagger
from tests.conftest import shared_data

# the 8-column layout of ../shared/data/srl_up2_chinese_gsd: ID FORM UPOS HEAD DEPREL UP:PRED UP:ARGHEADS UP:ARGSPANS
UP2 = (
    "# sent_id = dev-s9\n"
    "# text = 他昨天買了那本書，想看。\n"
    "1\t他\tPRON\t3\tnsubj\t_\t_\t_\n"
    "2\t昨天\tNOUN\t3\tobl:tmod\t_\t_\t_\n"
    "3\t買\tVERB\t0\troot\tbuy.01\tA0:1|AM-TMP:2|A1:6\tA0:1-1|AM-TMP:2-2|A1:5-6\n"
    "4\t了\tAUX\t3\taux\t_\t_\t_\n"
    "5\t那本\tDET\t6\tdet\t_\t_\t_\n"
    "6\t書\tNOUN\t3\tobj\t_\t_\t_\n"
    "7\t，\tPUNCT\t3\tpunct\t_\t_\t_\n"
    "8\t想\tAUX\t9\taux\t_\t_\t_\n"
    "9\t看\tVERB\t3\tconj\tsee.01\tA0:1|AM-MOD:8\tA0:1-1|AM-MOD:8-8\n"
    "10\t。\tPUNCT\t3\tpunct\t_\t_\t_\n"
    "\n"
    "# sent_id = dev-s10\n"
    "# text = 是嗎？\n"
    "1\t是\tVERB\t0\troot\tbe.01\t_\t_\n"
    "2\t嗎\tPART\t1\tdiscourse\t_\t_\t_\n"
    "3\t？\tPUNCT\t1\tpunct\t_\t_\t_\n"
    "\n"
)

# the 13-column .conllup layout (10 CoNLL-U columns + the 3 UP columns)
CONLLUP = (
    "# sent_id = s1\n"
    "1\t他\t他\tPRON\tPRP\t_\t2\tnsubj\t_\t_\t_\t_\t_\n"
    "2\t走\t走\tVERB\tVV\t_\t0\troot\t_\tSpaceAfter=No\twalk.01\tA0:1\tA0:1-1\n"
    "3\t了\t了\tAUX\tAS\t_\t2\taux\t_\t_\t_\t_\t_\n"
    "\n"
)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_read_up2_frames_are_argument_heads(tmp_path):
    sents = read_up2(_write(tmp_path, "a.conllu", UP2))
    assert len(sents) == 2
    s = sents[0]
    assert s.words[:3] == ["他", "昨天", "買"] and s.pos[2] == "VERB" and s.lemmas is None
    assert s.frames == [
        SrlFrame((2, 3), (SrlArg("A0", 0, 1), SrlArg("AM-TMP", 1, 2), SrlArg("A1", 5, 6)), sense="buy.01"),
        SrlFrame((8, 9), (SrlArg("A0", 0, 1), SrlArg("AM-MOD", 7, 8)), sense="see.01"),
    ]
    assert s.columns["up_argspans"][2] == "A0:1-1|AM-TMP:2-2|A1:5-6"  # spans kept verbatim
    assert s.columns["deprel"][1] == "obl:tmod"
    assert s.source.endswith("a.conllu:3")
    assert sents[1].frames == [SrlFrame((0, 1), (), sense="be.01")]  # a predicate without arguments


def test_read_up2_conllup_layout(tmp_path):
    s = read_up2(_write(tmp_path, "a.conllup", CONLLUP))[0]
    assert s.frames == [SrlFrame((1, 2), (SrlArg("A0", 0, 1),), sense="walk.01", lemma="走")]
    assert s.lemmas == ["他", "走", "了"] and s.columns["misc"][1] == "SpaceAfter=No"


@pytest.mark.parametrize("text", [UP2, CONLLUP])
def test_up2_round_trip_is_byte_identical(tmp_path, text):
    src = _write(tmp_path, "a.conllu", text)
    out = tmp_path / "b.conllu"
    write_up2(read_up2(src), out)
    assert out.read_bytes() == src.read_bytes()


def test_up2_writer_spans_for_changed_arguments_and_needs_a_sense(tmp_path):
    s = read_up2(_write(tmp_path, "a.conllu", UP2))[0]
    s.frames[0] = SrlFrame((2, 3), (SrlArg("A1", 4, 6),), sense="buy.01")  # heads changed: its own span is written
    write_up2([s], tmp_path / "b.conllu", head="last")
    row = (tmp_path / "b.conllu").read_text(encoding="utf-8").splitlines()[4].split("\t")
    assert row[5:] == ["buy.01", "A1:6", "A1:5-6"]
    assert read_up2(tmp_path / "b.conllu")[0].frames[1] == s.frames[1]  # the untouched frame keeps its spans
    s.frames[0] = SrlFrame((2, 3), ())
    with pytest.raises(SrlFormatError, match="no sense"):
        write_up2([s], tmp_path / "c.conllu")
    assert not (tmp_path / "c.conllu").exists()


@pytest.mark.parametrize(
    "line_no, new, message",
    [
        (5, "3\t買\tVERB\t0\troot\tbuy.01\tA0:1\n", "7 columns"),
        (4, "1\t昨天\tNOUN\t3\tobl:tmod\t_\t_\t_\n", "out of sequence"),
        (4, "2\t昨天\tNOUN\t3\tobl:tmod\t_\tA0:1\tA0:1-1\n", "not a predicate"),
        (5, "3\t買\tVERB\t0\troot\tbuy.01\tA0:1|A1\tA0:1-1|A1:6-6\n", "UP:ARGHEADS item 'A1' is not ROLE:id"),
        (5, "3\t買\tVERB\t0\troot\tbuy.01\tA0:1\tA0:1\n", "UP:ARGSPANS item 'A0:1' is not ROLE:start-end"),
        (5, "3\t買\tVERB\t0\troot\tbuy.01\tA0:1|A1:6\tA0:1-1|A2:6-6\n", "different roles"),
        (5, "3\t買\tVERB\t0\troot\tbuy.01\tA0:11\tA0:11-11\n", "outside the sentence"),
        (5, "3\t買\tVERB\t0\troot\tbuy.01\tA0:1\tA0:2-1\n", "start <= end"),
        (5, "3\t買\tVERB\t0\troot\tbuy.01\tA0:1|A1:1\tA0:1-1|A1:1-1\n", "heads two arguments"),
        (5, "3\t買\tVERB\t0\troot\tbuy.01\tA0:1\t_\n", "both or neither"),
        (5, "3-4\t買了\tVERB\t0\troot\t_\t_\t_\n", "multi-word"),
    ],
)
def test_up2_malformed_lines_name_file_and_line(tmp_path, line_no, new, message):
    lines = UP2.splitlines(keepends=True)
    lines[line_no - 1] = new
    p = _write(tmp_path, "bad.conllu", "".join(lines))
    with pytest.raises(SrlFormatError, match=message) as exc:
        read_up2(p)
    assert f"bad.conllu:{line_no}:" in str(exc.value)


def test_up2_layout_errors(tmp_path):
    with pytest.raises(SrlFormatError, match=r"x.conllu:1: 10 tab-separated columns; UP 2.0 has 8"):
        read_up2(_write(tmp_path, "x.conllu", "1\t好\t好\tADJ\tJJ\t_\t0\troot\t_\t_\n"))
    with pytest.raises(SrlFormatError, match="no sentences"):
        read_up2(_write(tmp_path, "empty.conllu", "# only a comment\n\n"))


def test_sniff_up_layout(tmp_path):
    assert sniff_up_layout(_write(tmp_path, "a.conllu", UP2)) == "up2"
    assert sniff_up_layout(_write(tmp_path, "b.conllu", CONLLUP)) == "up2"
    up1 = "1\t他\t他\tPRON\tPRP\t_\t2\tnsubj\t_\t_\tA0\n2\t走\t走\tVERB\tVV\t_\t0\troot\tY\twalk.01\t_\n"
    assert sniff_up_layout(_write(tmp_path, "c.conllu", up1)) == "up"
    # UP 1.0 with 3 predicates also has 13 columns: its 9th column is the Y/_ flag
    rows = [f"{i}\t字{i}\t字\tVERB\tVV\t_\t0\troot\tY\tdo.01\t_\t_\t_" for i in (1, 2, 3)]
    assert sniff_up_layout(_write(tmp_path, "d.conllu", "\n".join(rows) + "\n")) == "up"
    assert read_up(tmp_path / "d.conllu")[0].frames[2].predicate == (2, 3)


def test_resolve_files_uses_the_train_split_when_there_is_one(tmp_path):
    for name in ("train.conllu", "dev.conllu", "test.conllu"):
        (tmp_path / name).write_text(UP2, encoding="utf-8")
    assert _resolve_files(str(tmp_path), None, None, None) == (tmp_path / "train.conllu", tmp_path / "dev.conllu", tmp_path / "test.conllu")
    (tmp_path / "train.conllu").unlink()
    assert _resolve_files(str(tmp_path), None, None, None) == (tmp_path / "dev.conllu", None, tmp_path / "test.conllu")


TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)


def test_dev_selection_keeps_the_best_epoch(tmp_path):
    sents = read_up2(_write(tmp_path, "a.conllu", UP2))
    torch.manual_seed(0)
    labels = bio_labels([a.role for s in sents for f in s.frames for a in f.args])
    tagger = SrlTagger.from_scratch(labels, ["".join(s.words) for s in sents], **TINY)
    feats, _ = featurize(tagger, sents * 4, predicate_head=True)
    log = train_tagger(tagger, feats, epochs=3, batch_size=4, lr=5e-3, seed=0, max_steps=-1, workdir=tmp_path / "t", dev=sents)
    rows = [r for r in log if "dev_epoch" in r]
    assert [r["dev_epoch"] for r in rows] == [1.0, 2.0, 3.0]
    selected = next(r["selected"] for r in log if "selected" in r)
    best = max(r["dev_arguments_gold_predicates_f1"] for r in rows)
    assert selected["dev_arguments_gold_predicates_f1"] == best
    assert selected is next(r for r in rows if r["dev_arguments_gold_predicates_f1"] == best)  # ties: the earliest
    # the restored weights are the selected epoch's: re-evaluating dev gives its score
    assert round(evaluate(tagger, sents, baselines=False)["arguments_gold_predicates"]["f1"], 4) == selected["dev_arguments_gold_predicates_f1"]


def test_drop_roles_removes_predicted_roles_before_scoring():
    sents = [SrlSentence(words="我 想 吃 苹果 。".split(), frames=[SrlFrame((2, 3), (SrlArg("A0", 0, 1), SrlArg("A1", 3, 4)))])]
    torch.manual_seed(0)
    tagger = SrlTagger.from_scratch(bio_labels(["A0", "A1", "AM-MOD"]), ["我想吃苹果。"], **TINY)
    with torch.no_grad():  # a tagger that says AM-MOD everywhere
        tagger.model.classifier.weight.zero_()
        tagger.model.classifier.bias.zero_()
        tagger.model.classifier.bias[tagger.labels.index("B-AM-MOD")] = 10.0
    assert evaluate(tagger, sents, baselines=False)["arguments_gold_predicates"]["predicted"] > 0
    dropped = evaluate(tagger, sents, baselines=False, drop_roles=["AM-MOD"])
    assert dropped["arguments_gold_predicates"]["predicted"] == 0 and dropped["arguments_end_to_end"]["predicted"] == 0


def test_train_cli_on_an_up2_folder_tunes_on_dev(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train.conllu", "dev.conllu", "test.conllu"):
        (data / name).write_text(UP2, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["--data", str(data), "--out", str(out), "--hidden-size", "32", "--layers", "1", "--heads", "2", "--epochs", "2",
                 "--batch-size", "4", "--also-test", str(data / "test.conllu")]) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["format"] == "up2" and metrics["dev_file"].endswith("dev.conllu")
    assert [r["dev_epoch"] for r in metrics["dev_per_epoch"]] == [1.0, 2.0]
    assert metrics["selected_epoch"]["dev_epoch"] in (1.0, 2.0)
    also = metrics["also_test"][str(data / "test.conllu")]
    assert also["arguments_gold_predicates"] == metrics["arguments_gold_predicates"]  # same file, same model
    predicted = read_up2(out / "predictions" / "test.conllu")  # written in the UP 2.0 layout, gold senses
    assert [f.sense for f in predicted[0].frames] == ["buy.01", "see.01"]


@pytest.mark.data
def test_real_up2_chinese_gsd_reads_and_round_trips(tmp_path):
    path = shared_data("srl_up2_chinese_gsd", "dev.conllu")
    sents = read_up2(path)
    assert len(sents) == 500
    assert sum(len(s.frames) for s in sents) == 675
    assert sum(len(f.args) for s in sents for f in s.frames) == 976
    write_up2(sents, tmp_path / "dev.conllu")
    assert (tmp_path / "dev.conllu").read_bytes() == path.read_bytes()
    assert sniff_up_layout(path) == "up2"


def _fake_run(root, name, dev_f1s, test_f1):
    """A run directory's metrics.json as train writes it (no model: the bench reads only metrics here)."""
    prf = {"precision": test_f1, "recall": test_f1, "f1": test_f1, "correct": 1, "predicted": 1, "gold": 1}
    rows = [{"dev_epoch": float(k + 1), "step": k + 1, "dev_arguments_gold_predicates_f1": f} for k, f in enumerate(dev_f1s)]
    best = max(rows, key=lambda r: r["dev_arguments_gold_predicates_f1"])
    metrics = {"lr": 1e-3, "epochs": len(dev_f1s), "seed": 13, "train_seconds": 1.0, "dev_per_epoch": rows, "selected_epoch": best,
               "test_sentences": 1, "test_predicates": 1, "arguments_gold_predicates": prf, "arguments_gold_predicates_argmax": prf,
               "arguments_end_to_end": prf, "arguments_gold_predicates_per_role": {"A0": prf},
               "predicate_identification": {"model": prf, "gold_pos_verbs": prf, "jieba_verbs": prf}}
    (root / name).mkdir()
    (root / name / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return root / name


def test_bench_srl_up2_selects_the_run_on_dev_not_on_test(tmp_path, capsys):
    from benchmarks.bench_srl_up2 import main as bench

    good_on_dev = _fake_run(tmp_path, "a", [0.2, 0.4], test_f1=0.3)
    good_on_test = _fake_run(tmp_path, "b", [0.1, 0.3], test_f1=0.5)
    assert bench([str(good_on_test), str(good_on_dev), "--json", str(tmp_path / "up2.json")]) == 0
    out = json.loads((tmp_path / "up2.json").read_text(encoding="utf-8"))
    assert out["selected_run"] == str(good_on_dev)
    assert "| a **(selected on dev)** |" in capsys.readouterr().out
