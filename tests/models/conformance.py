"""The conformance suite every registered encoder runs (in the style of transformers' ``ModelTesterMixin``).

:class:`EncoderConformance` holds the checks; a test class provides the ``encoder`` fixture (a
registered name). ``tests/models/test_encoder_conformance.py`` runs it over every registered
encoder; an encoder registered inside a test file (``tests/test_extending.py``) subclasses it.

Inputs come from the encoder's own featuriser, on a tiny KG and examples that carry annotations
(words and KG entities), so an encoder is checked on the inputs it will really get.
"""
from __future__ import annotations

import inspect

import pytest
import torch
from transformers import (
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    BertForMaskedLM,
)

from annotators import Annotation, Entity
from kgbert.checkpoints import load_tokenizer, make_random_checkpoint
from kgbert.constants import IGNORE_INDEX
from kgbert.data import Example, build_featurizer
from kgbert.data.featurize import Featurizer
from kgbert.models import build_model
from kgbert.models.auto import _backbone_config_dict
from kgbert.models.auto_entity_typing import AutoModelForEntityTyping
from kgbert.models.heads import EntityTypingHead
from kgbert.models.modeling_base import BERT_INPUT_NAMES
from kgbert.objectives.mlm import MaskedLM
from kgbert.registry import auto_class_for_task, get_encoder
from tests.models._kg import FRUIT_SPO, make_kg
from tests.models._tiny import TEXTS

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64}
TAGS = ["O", "B-X", "I-X"]
CLASSES = ["a", "b", "c"]
KG_NAMES = sorted({line.split("\t")[0] for line in FRUIT_SPO.splitlines()}, key=len, reverse=True)
AUTO = {"sequence": AutoModelForSequenceClassification, "pair": AutoModelForSequenceClassification,
        "token": AutoModelForTokenClassification}


def annotate(text: str, kg) -> Annotation:
    """Words (2-character chunks) and KG entities (every non-overlapping KG name, longest first)."""
    words = [(i, min(i + 2, len(text))) for i in range(0, len(text), 2)]
    taken = [False] * len(text)
    ents = []
    for name in KG_NAMES:
        start = text.find(name)
        while start >= 0:
            if not any(taken[start : start + len(name)]):
                ents.append(Entity(start, start + len(name), "KG", kg.entity_id(name), name, "kg"))
                for k in range(start, start + len(name)):
                    taken[k] = True
            start = text.find(name, start + 1)
    return Annotation(text=text, words=words, entities=sorted(ents, key=lambda e: e.start))


class EncoderConformance:
    """Checks every encoder passes; subclasses provide an ``encoder`` fixture."""

    @pytest.fixture(scope="class")
    @classmethod
    def ckpt(cls, tmp_path_factory, encoder):
        """A random masked-LM checkpoint of the encoder's backbone family (BERT, ALBERT)."""
        family = get_encoder(encoder).backbone
        extra = {"embedding_size": 16} if family == "albert" else {}  # factorised: E != H
        return make_random_checkpoint(tmp_path_factory.mktemp("conf") / "ck", texts=TEXTS + [FRUIT_SPO], seed=1,
                                      family=family, **TINY, **extra)

    @pytest.fixture(scope="class")
    @classmethod
    def kg(cls, tmp_path_factory):
        store = make_kg(tmp_path_factory.mktemp("conf_kg"))
        yield store
        store.close()

    # ------------------------------------------------------------------ helpers
    def batch(self, encoder, ckpt, kg, task, labels=True):
        tok = load_tokenizer(ckpt)
        label_list = TAGS if task == "token" else CLASSES
        feat = build_featurizer(encoder, tok, task=task, label_list=label_list, max_length=48, kg=kg)
        exs = []
        for i, text in enumerate(TEXTS[:4]):
            ann = annotate(text, kg)
            if task == "token":
                tags = ["B-X"] + ["I-X"] * (len(text) - 1) if i % 2 else ["O"] * len(text)
                exs.append(Example(text, tokens=list(text), tags=tags if labels else None, ann_a=ann))
            elif task == "pair":
                other = TEXTS[(i + 1) % 4]
                exs.append(Example(text, text_b=other, label=CLASSES[i % 3] if labels else None,
                                   ann_a=ann, ann_b=annotate(other, kg)))
            else:
                exs.append(Example(text, label=CLASSES[i % 3] if labels else None, ann_a=ann))
        feats = [feat(ex) for ex in exs]
        return feat, feats, feat.collate(feats)

    def model(self, encoder, ckpt, task, attn="eager"):
        torch.manual_seed(0)
        n = len(TAGS if task == "token" else CLASSES)
        return build_model(encoder, task, n, backbone=ckpt, backbone_config={"attn_implementation": attn}).eval()

    # ------------------------------------------------------------------ checks
    def test_registry_entry_is_complete(self, encoder):
        spec = get_encoder(encoder)
        assert issubclass(spec.featurizer_class, Featurizer)
        for head in ("sequence", "token"):
            cls = spec.model_class(head)
            assert cls.config_class is spec.config_class
        config = spec.config_class()
        for opt in spec.model_options:
            assert hasattr(config, opt), opt
        with pytest.raises(ValueError, match="unknown option"):
            spec.check_options({"no_such_option": 1})

    def test_featuriser_options_come_from_its_signature(self, encoder, ckpt, kg):
        spec = get_encoder(encoder)
        params = inspect.signature(spec.featurizer_class.__init__).parameters
        defaults = {o: params[o].default for o in spec.featurizer_options if params[o].default is not inspect._empty}
        # an option may belong to both sides (ERNIE-THU: the entity table's export): one dict for both
        options = {**{o: getattr(spec.config_class(), o) for o in spec.model_options}, **defaults}
        feat = build_featurizer(encoder, load_tokenizer(ckpt), task="sequence", label_list=CLASSES, max_length=32,
                                kg=kg, **options)
        assert isinstance(feat, spec.featurizer_class)

    @pytest.mark.parametrize("task", ["sequence", "pair", "token"])
    def test_featuriser_gives_what_the_model_takes(self, encoder, ckpt, kg, task):
        feat, feats, batch = self.batch(encoder, ckpt, kg, task)
        cls = get_encoder(encoder).model_class_for_task(task)
        takes = set(BERT_INPUT_NAMES) | set(cls.encoder_input_names()) | {"labels"}
        assert set(batch) <= takes and set(feat.model_input_names) <= takes
        if task == "token":  # -100 on every position that is not an original token
            for f in feats:
                assert all((lab == IGNORE_INDEX) == (t < 0) for lab, t in zip(f["labels"], f["token_map"]))

    @pytest.mark.parametrize("task", ["sequence", "token"])
    def test_save_and_load_through_the_auto_classes(self, encoder, ckpt, kg, task, tmp_path):
        model = self.model(encoder, ckpt, task)
        _, _, batch = self.batch(encoder, ckpt, kg, task, labels=False)
        model.save_pretrained(tmp_path)
        back = AUTO[task].from_pretrained(tmp_path, attn_implementation=model.config._attn_implementation).eval()
        assert type(back) is type(model)
        with torch.no_grad():
            assert torch.equal(model(**batch).logits, back(**batch).logits)

    @pytest.mark.parametrize("task", ["sequence", "pair", "token"])
    def test_loss_only_with_labels(self, encoder, ckpt, kg, task):
        model = self.model(encoder, ckpt, task)
        _, _, batch = self.batch(encoder, ckpt, kg, task)
        labels = batch.pop("labels")
        assert model(**batch).loss is None
        out = model(**batch, labels=labels)
        assert out.loss is not None and out.loss.dim() == 0 and torch.isfinite(out.loss)
        out.loss.backward()
        assert model.head.classifier.weight.grad is not None

    def test_ignored_positions_are_left_out_of_the_loss(self, encoder, ckpt, kg):
        model = self.model(encoder, ckpt, "token")
        _, _, batch = self.batch(encoder, ckpt, kg, "token")
        labels = batch.pop("labels")
        with torch.no_grad():
            logits = model(**batch).logits
            loss = model(**batch, labels=labels).loss
            keep = labels != IGNORE_INDEX
            assert keep.any() and (~keep).any()
            expected = torch.nn.functional.cross_entropy(logits[keep], labels[keep])
            assert torch.allclose(loss, expected, atol=1e-6)

    @pytest.mark.parametrize("task", ["sequence", "token"])
    def test_eager_and_sdpa_agree(self, encoder, ckpt, kg, task):
        if not get_encoder(encoder).model_class_for_task(task)._supports_sdpa:
            pytest.skip(f"encoder {encoder!r}'s backbone has no SDPA attention (transformers: eager only)")
        _, _, batch = self.batch(encoder, ckpt, kg, task, labels=False)
        with torch.no_grad():
            eager = self.model(encoder, ckpt, task, "eager")(**batch).logits
            sdpa = self.model(encoder, ckpt, task, "sdpa")(**batch).logits
        assert torch.allclose(eager, sdpa, atol=1e-5)

    def test_hidden_states_and_attentions_are_returned(self, encoder, ckpt, kg):
        model = self.model(encoder, ckpt, "token", "eager")
        _, _, batch = self.batch(encoder, ckpt, kg, "token")
        self.check_hidden_states_and_attentions(model, batch)

    def check_hidden_states_and_attentions(self, model, batch):
        """``output_hidden_states``/``output_attentions`` pass through (one per layer + embeddings, one
        per layer), nothing is returned unasked, and asking changes no logit."""
        with torch.no_grad():
            out = model(**batch, output_hidden_states=True, output_attentions=True)
            plain = model(**batch)
        B, L = batch["input_ids"].shape
        assert len(out.hidden_states) == TINY["num_hidden_layers"] + 1
        assert all(h.shape == (B, L, TINY["hidden_size"]) for h in out.hidden_states)
        assert len(out.attentions) == TINY["num_hidden_layers"]
        assert all(a.shape == (B, TINY["num_attention_heads"], L, L) for a in out.attentions)
        assert plain.hidden_states is None and plain.attentions is None
        assert torch.equal(out.logits, plain.logits)

    @pytest.mark.parametrize("task", ["sequence", "token"])
    def test_no_extra_inputs_gives_exactly_berts_logits(self, encoder, ckpt, kg, task):
        """Exactly BERT without the encoder's inputs, or (``bert_without_inputs=False`` declared in
        its registry entry) a clear ValueError instead of a silent different function."""
        model = self.model(encoder, ckpt, task)
        if get_encoder(encoder).backbone != "bert":
            self.check_backbone_without_inputs(encoder, model, ckpt, kg, task)
            return
        if not get_encoder(encoder).bert_without_inputs:
            _, _, batch = self.batch(encoder, ckpt, kg, task, labels=False)
            plain = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            with torch.no_grad(), pytest.raises(ValueError, match="needs"):
                model(**plain)
            return
        bert = self.model("bert", ckpt, task)
        state = model.state_dict()
        bert.load_state_dict({k: state[k] for k in bert.state_dict()})
        _, _, batch = self.batch(encoder, ckpt, kg, task, labels=False)
        plain = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad():
            assert torch.equal(model(**plain).logits, bert(**plain).logits)

    def check_backbone_without_inputs(self, encoder, model, ckpt, kg, task):
        """An encoder on another backbone family (ALBERT): given BERT's inputs, its encode step is
        exactly transformers' base model of that family with the checkpoint's weights (``AutoModel``)."""
        from transformers import AutoModel

        ref = AutoModel.from_pretrained(ckpt, attn_implementation="eager", local_files_only=True).eval()
        assert type(ref).__name__.lower().startswith(get_encoder(encoder).backbone)
        backbone = getattr(model, model.base_model_prefix)
        ref_pooler = getattr(ref, "pooler", None)  # ALBERT's; XLNet's base model has none (ours is new)
        if ref_pooler is not None and backbone.pooler is not None:  # a masked-LM checkpoint has no pooler weights
            ref_pooler.load_state_dict(backbone.pooler.state_dict())
        _, _, batch = self.batch(encoder, ckpt, kg, task, labels=False)
        plain = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad():
            ours, theirs = model.encode(**plain), ref(**plain)
            assert torch.equal(ours.last_hidden_state, theirs.last_hidden_state)
            if task == "sequence":
                pooled = theirs.pooler_output if ref_pooler is not None else backbone.pooler(theirs.last_hidden_state[:, 0])
                assert torch.equal(ours.pooler_output, pooled)
                assert torch.equal(model(**plain).logits, model.head(pooled).logits)
            else:
                assert torch.equal(model(**plain).logits, model.head(theirs.last_hidden_state).logits)
        with pytest.raises(ValueError, match="cannot use the BERT checkpoint"):  # a BERT checkpoint is refused
            bert_ckpt = make_random_checkpoint(ckpt.parent / "bert_ck", texts=TEXTS, seed=1, **TINY)
            build_model(encoder, task, 3, backbone=bert_ckpt)

    # ------------------------------------------------------------------ the "entity_typing" head
    def typing_model(self, encoder, ckpt, attn="eager"):
        """The encoder's "entity_typing" model on ``ckpt`` (3 types)."""
        if "entity_typing" not in get_encoder(encoder).heads:
            pytest.skip(f"encoder {encoder!r} declares no 'entity_typing' head")
        return self.model(encoder, ckpt, "entity_typing", attn)

    def typing_batch(self, encoder, ckpt, kg, multi_label, labels=True):
        """Texts with one mention marked (``$...$``, as the typing readers write them); one type per
        example (class ids (B,)) or, ``multi_label``, one or two (multi-hot rows (B, 3))."""
        tok = load_tokenizer(ckpt)
        feat = build_featurizer(encoder, tok, task="entity_typing", label_list=CLASSES, max_length=48, kg=kg,
                                multi_label=multi_label)
        exs = []
        for i, text in enumerate(TEXTS[:4]):
            marked = f"{text[:2]}${text[2:5]}${text[5:]}"
            label = ("a|b" if i % 2 else CLASSES[i % 3]) if multi_label else CLASSES[i % 3]
            exs.append(Example(marked, label=label if labels else None, ann_a=annotate(marked, kg)))
        return feat.collate([feat(ex) for ex in exs])

    @staticmethod
    def declared_head(encoder, kind, get):
        """``get(spec)``, the model class of head kind ``kind``, checked against the encoder's config
        class and the sequence head's inputs; None (after checking the clear error) when undeclared."""
        spec = get_encoder(encoder)
        if kind not in spec.heads:
            with pytest.raises(ValueError, match=f"{encoder!r} has no {kind!r} head"):
                get(spec)
            return None
        cls = get(spec)
        assert cls.config_class is spec.config_class
        assert set(cls.encoder_input_names()) == set(spec.model_class("sequence").encoder_input_names())
        return cls

    def test_entity_typing_head_is_declared_or_a_clear_error(self, encoder, ckpt, kg):
        cls = self.declared_head(encoder, "entity_typing", lambda spec: spec.model_class_for_task("entity_typing"))
        if cls is None:
            return
        assert isinstance(self.typing_model(encoder, ckpt).head, EntityTypingHead)
        batch = self.typing_batch(encoder, ckpt, kg, multi_label=False)
        assert set(batch) <= set(BERT_INPUT_NAMES) | set(cls.encoder_input_names()) | {"labels"}

    @pytest.mark.parametrize("multi_label", [False, True])
    def test_entity_typing_loss_only_with_labels(self, encoder, ckpt, kg, multi_label):
        """Logits (B, C); no loss without labels; with class ids (B,) the cross-entropy, with
        multi-hot rows (B, C) the mean binary cross-entropy of those logits; gradients reach the head."""
        model = self.typing_model(encoder, ckpt)
        batch = self.typing_batch(encoder, ckpt, kg, multi_label)
        labels = batch.pop("labels")
        assert labels.shape == ((4, len(CLASSES)) if multi_label else (4,))
        out = model(**batch)
        assert out.loss is None and out.logits.shape == (4, len(CLASSES))
        out = model(**batch, labels=labels)
        expected = (torch.nn.functional.binary_cross_entropy_with_logits(out.logits, labels.float()) if multi_label
                    else torch.nn.functional.cross_entropy(out.logits, labels))
        assert out.loss.dim() == 0 and torch.allclose(out.loss, expected, atol=1e-6)
        out.loss.backward()
        assert model.head.classifier.weight.grad is not None and model.head.classifier.weight.grad.abs().sum() > 0
        if multi_label:
            with pytest.raises(ValueError, match="multi-label entity typing needs labels of shape"):
                model(**batch, labels=labels[:, :2])

    def test_entity_typing_reads_the_sequence_heads_pooled_vector(self, encoder, ckpt, kg):
        """With the sequence model's weights (same names: the pooled vector and ``head.classifier``)
        the typing model gives the sequence model's logits: the summary vector (XLNet's pooler over its
        ``[CLS]`` position, SemBERT's fused ``[CLS]`` word) is the sequence head's, not a new one."""
        model = self.typing_model(encoder, ckpt)
        seq = self.model(encoder, ckpt, "sequence")
        model.load_state_dict(seq.state_dict())  # strict: the same parameters
        batch = self.typing_batch(encoder, ckpt, kg, multi_label=False, labels=False)
        with torch.no_grad():
            assert torch.equal(model(**batch).logits, seq(**batch).logits)

    def test_entity_typing_save_and_load_through_auto_model_for_entity_typing(self, encoder, ckpt, kg, tmp_path):
        model = self.typing_model(encoder, ckpt)
        batch = self.typing_batch(encoder, ckpt, kg, multi_label=True, labels=False)
        model.save_pretrained(tmp_path)
        assert auto_class_for_task("entity_typing") is AutoModelForEntityTyping
        back = AutoModelForEntityTyping.from_pretrained(tmp_path, attn_implementation="eager").eval()
        assert type(back) is type(model)
        with torch.no_grad():
            assert torch.equal(model(**batch).logits, back(**batch).logits)

    def test_entity_typing_hidden_states_and_attentions_are_returned(self, encoder, ckpt, kg):
        model = self.typing_model(encoder, ckpt)
        self.check_hidden_states_and_attentions(model, self.typing_batch(encoder, ckpt, kg, multi_label=False))

    # ------------------------------------------------------------------ the "mlm" head (pretraining)
    def mlm_model(self, encoder, ckpt, attn="eager"):
        """The encoder's "mlm" model with every weight of the plain BERT MLM checkpoint ``ckpt``."""
        spec = get_encoder(encoder)
        if "mlm" not in spec.heads:
            pytest.skip(f"encoder {encoder!r} declares no 'mlm' head")
        config = spec.config_class(**_backbone_config_dict(ckpt, {"attn_implementation": attn}))
        model, info = spec.model_class("mlm").from_pretrained(
            ckpt, config=config, attn_implementation=attn, local_files_only=True, output_loading_info=True)
        assert not info["missing_keys"], info  # bert.* and cls.predictions.* of BertForMaskedLM load
        return model.eval()

    def mlm_batch(self, encoder, ckpt, kg):
        """A sequence batch with MLM labels: the token id at every 3rd real position, -100 elsewhere."""
        _, _, batch = self.batch(encoder, ckpt, kg, "sequence", labels=False)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        pick = (torch.arange(ids.shape[1])[None, :] % 3 == 1) & mask.bool()
        labels = torch.where(pick, ids, torch.full_like(ids, IGNORE_INDEX))
        return batch, labels

    def test_mlm_head_is_declared_or_a_clear_error(self, encoder):
        self.declared_head(encoder, "mlm", lambda spec: spec.model_class("mlm"))

    def test_mlm_save_and_load_through_auto_model_for_masked_lm(self, encoder, ckpt, kg, tmp_path):
        model = self.mlm_model(encoder, ckpt)
        batch, labels = self.mlm_batch(encoder, ckpt, kg)
        model.save_pretrained(tmp_path)
        back = AutoModelForMaskedLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
        assert type(back) is type(model)
        assert back.cls.predictions.decoder.weight is back.bert.embeddings.word_embeddings.weight  # tied
        with torch.no_grad():
            assert torch.equal(model(**batch).logits, back(**batch).logits)
            assert torch.equal(model(**batch, labels=labels).loss, back(**batch, labels=labels).loss)

    def test_mlm_loss_only_with_labels(self, encoder, ckpt, kg):
        model = self.mlm_model(encoder, ckpt)
        batch, labels = self.mlm_batch(encoder, ckpt, kg)
        out = model(**batch)
        assert out.loss is None and out.logits.shape == (*batch["input_ids"].shape, model.config.vocab_size)
        out = model(**batch, labels=labels)
        assert out.loss is not None and out.loss.dim() == 0 and torch.isfinite(out.loss)
        out.loss.backward()
        assert model.cls.predictions.transform.dense.weight.grad is not None
        assert model.bert.embeddings.word_embeddings.weight.grad is not None

    def test_mlm_sparse_logits_and_loss_ignore_minus_100(self, encoder, ckpt, kg):
        """Sparse logits == the dense head's at the labelled positions; the loss is the mean
        cross-entropy there, and nothing at a -100 position (its hidden state, so its logits) counts."""
        model = self.mlm_model(encoder, ckpt)
        batch, labels = self.mlm_batch(encoder, ckpt, kg)
        keep = labels != IGNORE_INDEX
        assert keep.any() and (~keep).any()
        with torch.no_grad():
            dense = model(**batch).logits  # (B, L, V)
            out = model(**batch, labels=labels, output_hidden_states=True)
            assert out.logits.shape == (int(keep.sum()), model.config.vocab_size)
            assert torch.allclose(out.logits, dense[keep], atol=1e-5)
            assert torch.allclose(out.loss, torch.nn.functional.cross_entropy(dense[keep], labels[keep]), atol=1e-5)
            hidden = out.hidden_states[-1]
            assert torch.allclose(hidden, model.encode(**batch).last_hidden_state, atol=1e-6)  # its own inputs reach encode
            noisy = torch.where(keep[..., None], hidden, torch.randn_like(hidden) * 10)
            _, loss_noisy = MaskedLM.logits_and_loss(model.cls, noisy, labels)
            assert torch.allclose(loss_noisy, out.loss, atol=1e-6)
            more = labels.clone()  # the same check can fail: one more labelled position changes the loss
            pos = (~keep & batch["attention_mask"].bool()).nonzero()[0]
            more[pos[0], pos[1]] = (int(batch["input_ids"][pos[0], pos[1]]) + 1) % model.config.vocab_size
            assert not torch.allclose(model(**batch, labels=more).loss, out.loss)

    def test_mlm_hidden_states_and_attentions_are_returned(self, encoder, ckpt, kg):
        model = self.mlm_model(encoder, ckpt)
        batch, labels = self.mlm_batch(encoder, ckpt, kg)
        with torch.no_grad():
            out = model(**batch, labels=labels, output_hidden_states=True, output_attentions=True)
            plain = model(**batch, labels=labels)
        B, L = batch["input_ids"].shape
        assert len(out.hidden_states) == TINY["num_hidden_layers"] + 1
        assert all(h.shape == (B, L, TINY["hidden_size"]) for h in out.hidden_states)
        assert len(out.attentions) == TINY["num_hidden_layers"]
        assert all(a.shape == (B, TINY["num_attention_heads"], L, L) for a in out.attentions)
        assert plain.hidden_states is None and plain.attentions is None
        assert torch.equal(out.logits, plain.logits)

    def test_mlm_eager_and_sdpa_agree(self, encoder, ckpt, kg):
        batch, labels = self.mlm_batch(encoder, ckpt, kg)
        with torch.no_grad():
            eager = self.mlm_model(encoder, ckpt, "eager")(**batch, labels=labels)
            sdpa = self.mlm_model(encoder, ckpt, "sdpa")(**batch, labels=labels)
        assert torch.allclose(eager.logits, sdpa.logits, atol=1e-4)
        assert torch.allclose(eager.loss, sdpa.loss, atol=1e-5)

    def test_mlm_no_extra_inputs_gives_bert_for_masked_lm(self, encoder, ckpt, kg):
        """Given only BERT's inputs, the encoder's MLM model is transformers' BertForMaskedLM with the
        same weights: the same (B, L, V) logits, and at the labelled positions the same logits and loss."""
        model = self.mlm_model(encoder, ckpt)
        if not get_encoder(encoder).bert_without_inputs:
            pytest.skip(f"encoder {encoder!r} is not BERT without its inputs")
        bert = BertForMaskedLM.from_pretrained(ckpt, attn_implementation="eager", local_files_only=True).eval()
        batch, labels = self.mlm_batch(encoder, ckpt, kg)
        plain = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        keep = labels != IGNORE_INDEX
        with torch.no_grad():
            ref = bert(**plain, labels=labels)
            assert torch.equal(model(**plain).logits, bert(**plain).logits)
            ours = model(**plain, labels=labels)
            assert torch.allclose(ours.logits, ref.logits[keep], atol=1e-5)
            assert torch.allclose(ours.loss, ref.loss, atol=1e-5)
