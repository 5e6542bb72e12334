"""Issue 8, item 13: long texts are windowed (NER over a 5,000-character text whose entities are
spread over its whole length), not refused or cut; truncate=True stays an explicit option."""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch

from kgbert.pipeline import Pipeline, PipelineError
from kgbert.windowing import plan_windows, window_tokens
from tests.test_pipeline_api import trained_run
from tests.training.helpers import ENTITIES, FILLER


def _long_text(n_chars: int, seed: int = 0) -> tuple[str, list[tuple[int, int, str, str]]]:
    """Filler characters (and some spaces) around the synthetic entities, up to ``n_chars``."""
    rng = random.Random(seed)
    parts, gold, pos = [], [], 0
    while pos < n_chars - 12:
        filler = "".join(rng.choices(FILLER + [" "], k=rng.randint(2, 9))).strip() or "的"
        typ = rng.choice(sorted(ENTITIES))
        word = rng.choice(ENTITIES[typ])
        parts += [filler, word]
        gold.append((pos + len(filler), pos + len(filler) + len(word), typ, word))
        pos += len(filler) + len(word)
    parts.append("的" * (n_chars - pos))
    text = "".join(parts)
    assert len(text) == n_chars
    return text, gold


class _Oracle(torch.nn.Module):
    """A context-free tagger: each character's tag is fixed (阿 B-Drug, 司 I-Drug, ...)."""

    def __init__(self, tokenizer, labels: list[str]) -> None:
        super().__init__()
        table = torch.full((len(tokenizer),), labels.index("O"), dtype=torch.long)
        for typ, words in ENTITIES.items():
            for w in words:
                for k, ch in enumerate(w):
                    table[tokenizer.convert_tokens_to_ids(ch)] = labels.index(("B-" if k == 0 else "I-") + typ)
        self.register_buffer("table", table)
        self.n = len(labels)

    def forward(self, input_ids, **kwargs):
        return SimpleNamespace(logits=torch.nn.functional.one_hot(self.table[input_ids], self.n).float() * 10)


@pytest.fixture(scope="module")
def ner_pipe():
    with Pipeline.from_pretrained(trained_run("ner"), annotate=False) as pipe:
        yield pipe


def test_5000_characters_entities_over_the_whole_length(ner_pipe):
    text, gold = _long_text(5000)
    assert ner_pipe.max_text_tokens == 30 and gold[-1][0] > 4900
    real_model = ner_pipe.model
    ner_pipe.model = _Oracle(ner_pipe.tokenizer, ner_pipe.labels)
    try:
        res = ner_pipe(text)
    finally:
        ner_pipe.model = real_model
    assert res["windows"] > 100 and len(res["tags"]) == len(text) and "truncated" not in res
    got = [(e["start"], e["end"], e["label"], e["text"]) for e in res["entities"]]
    assert got == gold  # every entity, whole, at its original offsets, also across window edges
    # knowledge is injected per window (as far as the branches fit), over the whole text
    spans = {(s, e) for s, e, _, _ in gold}
    know = {(k["start"], k["end"]) for k in res["knowledge"] if k["triples"]}
    assert know <= spans and len(know) >= len(spans) // 2 and max(know)[0] > 4500
    assert all(text[k["start"]:k["end"]] == k["text"] == k["name"] for k in res["knowledge"])


def test_merged_prediction_is_the_most_central_windows_own(ner_pipe):
    """With the real (tiny) model: a token's tag equals the one the model gives it when the text
    of its most central window is predicted on its own."""
    text, _ = _long_text(600, seed=1)
    res = ner_pipe(text)
    offsets = [i for i, c in enumerate(text) if not c.isspace()]
    ranges = plan_windows(len(offsets), window_tokens(ner_pipe))
    assert res["windows"] == len(ranges) > 1
    for k in (0, len(ranges) // 2, len(ranges) - 1):
        a, b = ranges[k]
        mid = (a + b) // 2  # the middle token of window k is most central there
        window_text = text[offsets[a]:offsets[b - 1] + 1]
        alone = ner_pipe(window_text)
        assert res["tags"][offsets[mid]] == alone["tags"][offsets[mid] - offsets[a]]


def test_refusal_and_truncation_stay_explicit():
    text, _ = _long_text(100)
    with Pipeline.from_pretrained(trained_run("ner"), annotate=False, window=False) as pipe:
        with pytest.raises(PipelineError, match="text too long"):
            pipe(text)
    with Pipeline.from_pretrained(trained_run("ner"), annotate=False, truncate=True) as pipe:
        res = pipe(text)
        assert res["truncated"] and "windows" not in res


def test_sequence_classification_windows_average_the_probabilities():
    base = Pipeline.from_pretrained(trained_run("pair"), annotate=False)
    info = {**base.info, "task": "sequence", "labels": ["neg", "pos"], "max_length": 12}

    class Votes(torch.nn.Module):  # P(pos) = share of the character 好 among the window's tokens
        def __init__(self, good_id):
            super().__init__()
            self.good_id = good_id

        def forward(self, input_ids, attention_mask, **kwargs):
            share = ((input_ids == self.good_id) & (attention_mask > 0)).float().sum(1) / 10
            p = share.clamp(1e-4, 1 - 1e-4)
            return SimpleNamespace(logits=torch.stack([torch.log(1 - p), torch.log(p)], dim=1))

    good = base.tokenizer.convert_tokens_to_ids("好")
    pipe = Pipeline(Votes(good), base.tokenizer, info, kg=None)  # no KG: windows of the full limit
    text = "好" * 10 + "的" * 30  # 40 tokens: windows of 10, stride 8
    res = pipe(text)
    ranges = plan_windows(40, 10)
    expected = sum(sum(1 for t in range(a, b) if t < 10) / 10 for a, b in ranges) / len(ranges)
    assert res["windows"] == len(ranges) == 5
    assert res["scores"]["pos"] == pytest.approx(expected, abs=1e-3)
    base.close()


def test_plan_windows_covers_everything_with_overlap():
    for n in (1, 29, 30, 31, 100, 5000):
        ranges = plan_windows(n, 30)
        assert ranges[0][0] == 0 and ranges[-1][1] == n and all(b - a <= 30 for a, b in ranges)
        assert all(b1 - a2 >= 7 for (_, b1), (a2, _) in zip(ranges, ranges[1:]))  # overlap >= 30 // 4
