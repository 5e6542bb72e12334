"""Pretraining model families: ``model.family`` in a pretraining config -> how the model is built.

A family says which model a run trains (from scratch with ``model.config``, or continued from
``model.init_from``), which options it takes (``model.family_options``), and what the exported
``best/`` checkpoint is. The data, the masking collators, the objectives and the loop are shared.

- ``bert`` (default): :class:`~kgbert.models.modeling_pretraining.BertForSparseMaskedLM`, or
  ``BertForSparsePreTraining`` with NSP/SOP; ``best/`` is a plain BERT checkpoint.
- ``albert``: transformers' ALBERT (factorised embedding size ``model.config.embedding_size``,
  cross-layer parameter sharing ``num_hidden_groups: 1``), sparse MLM (+ SOP);
  ``best/`` is a plain ALBERT checkpoint, fine-tuned with the ``albert`` encoder.
- ``electra``: replaced token detection (:mod:`kgbert.models.modeling_pretraining_electra`);
  ``best/`` is the discriminator as a plain BERT checkpoint (every BERT-based encoder fine-tunes it).
- ``xlnet``: transformers' ``XLNetLMHeadModel`` on permutation LM batches
  (:class:`kgbert.data.permutation.PermutationCollator`; held-out accuracy is then over the
  permutation targets); ``best/`` is a plain XLNet checkpoint, fine-tuned with the ``xlnet`` encoder.

A new family is a :class:`PretrainFamily` subclass and one entry in :data:`FAMILIES`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgbert.registry import resolve
from kgbert.training.config import ConfigError

if TYPE_CHECKING:
    import torch

    from kgbert.pretraining.config import PretrainConfig

class PretrainFamily:
    """A family of pretraining models (see the module docstring); the base is BERT's."""

    name = "bert"
    config_class = "transformers:BertConfig"
    mlm_model = "kgbert.models.modeling_pretraining:BertForSparseMaskedLM"
    pretraining_model = "kgbert.models.modeling_pretraining:BertForSparsePreTraining"  # mlm + nsp/sop
    architectures = {"mlm": "BertForMaskedLM", "pretraining": "BertForPreTraining"}
    defaults: dict[str, Any] = {"max_position_embeddings": 512, "type_vocab_size": 2}  # under model.config
    options: dict[str, Any] = {}  # model.family_options and their defaults
    objectives: tuple[str, ...] | None = None  # objectives the family allows (None: any the config allows)
    summary_keys: tuple[str, ...] = ()  # config values recorded in pretrain.json beyond BERT's sizes
    dropout_keys: tuple[str, ...] = ("hidden_dropout_prob", "attention_probs_dropout_prob")  # set by model.export_dropout

    # ------------------------------------------------------------------ config
    def validate(self, config: PretrainConfig, where: str) -> None:
        unknown = set(config.model.family_options) - set(self.options)
        if unknown:
            raise ConfigError(f"model.family_options: unknown {sorted(unknown)} for family {self.name!r}; "
                              f"known: {sorted(self.options)} (in {where})")
        from kgbert.objectives import OBJECTIVES

        need = {o: getattr(OBJECTIVES.get(o), "requires_family", None) for o in config.model.objectives}
        owned = [o for o, fam in need.items() if fam not in (None, self.name)]
        if owned:  # dea: trained by the ernie_thu family only
            raise ConfigError(f"model.objectives: {owned} need(s) model.family {need[owned[0]]!r}, "
                              f"found {self.name!r} (in {where})")
        if self.objectives is not None:
            bad = [o for o in config.model.objectives if o not in self.objectives]
            if bad:
                raise ConfigError(f"model.objectives: family {self.name!r} trains {list(self.objectives)}, not {bad} (in {where})")

    def option(self, config: PretrainConfig, key: str) -> Any:
        return config.model.family_options.get(key, self.options[key])

    # ------------------------------------------------------------------ model
    def model_class(self, config: PretrainConfig) -> Any:
        """``pretraining_model`` with a sentence objective (nsp, sop), else ``mlm_model``."""
        from kgbert.objectives import sentence_objective

        sentence = sentence_objective(list(config.model.objectives)) is not None
        return resolve(self.pretraining_model if sentence else self.mlm_model)

    def config_values(self, config: PretrainConfig) -> dict[str, Any]:
        """Values put into the model config beyond ``model.config`` (BERT: the plug-in objectives
        sbo/wso/sso whose heads the sparse models add, ``pretraining_objectives``)."""
        from kgbert.objectives import plugin_objectives

        objectives = list(config.model.objectives)
        return {"pretraining_objectives": objectives} if plugin_objectives(objectives) else {}

    def build(self, config: PretrainConfig, tokenizer: Any) -> torch.nn.Module:
        """The model of ``config_class`` / ``model_class``: from ``model.init_from`` (a checkpoint
        of this family, ``model.config`` overriding its config) or from scratch (seeded)."""
        from transformers import set_seed

        model_cls, config_cls = self.model_class(config), resolve(self.config_class)
        if config.model.init_from:
            path = config.model.init_from
            if not os.path.isfile(os.path.join(path, "config.json")):
                raise ConfigError(f"model.init_from: {path!r} is not a checkpoint directory (no config.json)")
            overrides = {**config.model.config, **self.config_values(config)}
            bc = config_cls.from_pretrained(path, local_files_only=True, **overrides)
            if bc.vocab_size != len(tokenizer):
                raise ConfigError(f"model.init_from: vocab_size {bc.vocab_size} != tokenizer size {len(tokenizer)} in {path}")
            return model_cls.from_pretrained(path, config=bc, local_files_only=True)
        cfg = {**self.defaults, **config.model.config, **self.config_values(config)}
        bc = config_cls(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **cfg)
        set_seed(config.seed)
        return model_cls(bc)

    def summary(self, model: Any) -> dict[str, Any]:
        """The model's sizes recorded in ``pretrain.json`` (``recipe.model``)."""
        sizes = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
        return {k: getattr(model.config, k) for k in (*sizes, *self.summary_keys)}

    def collators(self, config: PretrainConfig, tokenizer: Any, train: Any, heldout: Any) -> tuple[Any, Any]:
        """The training and held-out collators (default: the masking strategy's and BERT token masking)."""
        return train, heldout

    # ------------------------------------------------------------------ export
    def save(self, trainer: Any, out_dir: Path) -> None:
        """Write the model and tokenizer files of ``best/`` into ``out_dir``."""
        trainer.save_model(str(out_dir))

    def architecture(self, sentence_head: bool) -> list[str]:
        """The ``architectures`` of ``best/config.json`` (``sentence_head``: the NSP/SOP head was trained and kept)."""
        return [self.architectures["pretraining" if sentence_head else "mlm"]]

    def describe(self, mc: dict[str, Any]) -> str:
        """The model card's first line (``mc``: the recipe's model sizes)."""
        return (f"Standard post-LN BERT ({mc['num_hidden_layers']} layers, hidden {mc['hidden_size']}, {mc['num_attention_heads']} heads, "
                f"FFN {mc['intermediate_size']}, vocabulary {mc['vocab_size']}); loads with `AutoModelForMaskedLM.from_pretrained` and as "
                "`model.backbone=` of every kgbert fine-tuning config.")


class AlbertFamily(PretrainFamily):
    """ALBERT (Lan et al., ICLR 2020): factorised embeddings, cross-layer sharing, MLM + SOP."""

    name = "albert"
    config_class = "transformers:AlbertConfig"
    mlm_model = "kgbert.models.modeling_pretraining_albert:AlbertForSparseMaskedLM"
    pretraining_model = "kgbert.models.modeling_pretraining_albert:AlbertForSparsePreTraining"
    architectures = {"mlm": "AlbertForMaskedLM", "pretraining": "AlbertForPreTraining"}
    objectives = ("mlm", "nsp", "sop")  # the plug-in objectives (sbo, wso, sso) have heads on BERT's models only
    summary_keys = ("embedding_size", "num_hidden_groups", "inner_group_num")

    def config_values(self, config: PretrainConfig) -> dict[str, Any]:
        return {}

    def describe(self, mc: dict[str, Any]) -> str:
        return (f"ALBERT ({mc['num_hidden_layers']} layers sharing {mc.get('num_hidden_groups', 1)} set(s) of weights, "
                f"embedding size {mc.get('embedding_size')}, hidden {mc['hidden_size']}, {mc['num_attention_heads']} heads, "
                f"FFN {mc['intermediate_size']}, vocabulary {mc['vocab_size']}); loads with `AutoModelForMaskedLM.from_pretrained` "
                "and as `model.backbone=` of kgbert fine-tuning configs with `model.encoder: albert`.")


class ElectraFamily(PretrainFamily):
    """ELECTRA (Clark et al., ICLR 2020): a small MLM generator, a discriminator trained on
    every position to tell replaced tokens from original ones; the discriminator is exported."""

    name = "electra"
    options = {"generator_size": 0.25, "discriminator_weight": 50.0, "temperature": 1.0}
    objectives = ("mlm",)
    summary_keys = ("generator_size", "discriminator_weight")

    def model_class(self, config: PretrainConfig) -> Any:
        return resolve("kgbert.models.modeling_pretraining_electra:ElectraForReplacedTokenDetection")

    def validate(self, config: PretrainConfig, where: str) -> None:
        super().validate(config, where)
        size = self.option(config, "generator_size")
        if not 0 < float(size) <= 1:
            raise ConfigError(f"model.family_options.generator_size must be in (0, 1], found {size} (in {where})")
        if config.model.init_from:
            raise ConfigError(f"model.init_from: family 'electra' trains its generator and discriminator from scratch (in {where})")

    def config_values(self, config: PretrainConfig) -> dict[str, Any]:
        return {k: self.option(config, k) for k in self.options}  # generator_size, discriminator_weight, temperature

    def save(self, trainer: Any, out_dir: Path) -> None:
        """Only the discriminator (``bert.*`` + its head ``discriminator_predictions.*``, model type
        ``bert``) and the tokenizer: the generator is discarded, as in the paper."""
        trainer.model.discriminator.save_pretrained(str(out_dir))
        trainer.processing_class.save_pretrained(str(out_dir))

    def architecture(self, sentence_head: bool) -> list[str]:
        return ["BertModel"]

    def describe(self, mc: dict[str, Any]) -> str:
        return (f"ELECTRA discriminator as a plain post-LN BERT ({mc['num_hidden_layers']} layers, hidden {mc['hidden_size']}, "
                f"{mc['num_attention_heads']} heads, FFN {mc['intermediate_size']}, vocabulary {mc['vocab_size']}; generator "
                f"{mc.get('generator_size')} of its width, discarded); loads as `model.backbone=` of every kgbert fine-tuning config "
                "(the replaced-token head is kept under `discriminator_predictions.*`; the pooler was not trained).")


class XLNetFamily(PretrainFamily):
    """XLNet (Yang et al., NeurIPS 2019): permutation language modelling on the packed corpus."""

    name = "xlnet"
    config_class = "transformers:XLNetConfig"
    options = {"plm_probability": 1 / 6, "max_span_length": 5}
    objectives = ("mlm",)  # the family's token-prediction objective: here permutation LM
    dropout_keys = ("dropout",)
    architectures = {"mlm": "XLNetLMHeadModel", "pretraining": "XLNetLMHeadModel"}

    def model_class(self, config: PretrainConfig) -> Any:
        return resolve("kgbert.models.modeling_pretraining_xlnet:XLNetForPermutationLM")

    def validate(self, config: PretrainConfig, where: str) -> None:
        super().validate(config, where)
        if config.masking.strategy != "mlm":
            raise ConfigError(f"masking.strategy: family 'xlnet' chooses its spans itself (model.family_options "
                              f"plm_probability, max_span_length); leave the strategy at mlm (in {where})")
        if config.data.max_length % 2:
            raise ConfigError(f"data.max_length must be even for family 'xlnet' (its permutation mask), found "
                              f"{config.data.max_length} (in {where})")

    def build(self, config: PretrainConfig, tokenizer: Any) -> torch.nn.Module:
        from transformers import XLNetConfig, set_seed

        from kgbert.checkpoints import xlnet_config_kwargs

        if config.model.init_from:
            return super().build(config, tokenizer)
        cfg = xlnet_config_kwargs(dict(config.model.config))  # BERT-style names are accepted (hidden_size -> d_model)
        xc = XLNetConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **cfg)
        set_seed(config.seed)
        return self.model_class(config)(xc)

    def collators(self, config: PretrainConfig, tokenizer: Any, train: Any, heldout: Any) -> tuple[Any, Any]:
        from kgbert.data.permutation import PermutationCollator

        opts = {k: self.option(config, k) for k in self.options}
        return (PermutationCollator(tokenizer, seed=config.seed, **opts),
                PermutationCollator(tokenizer, seed=config.seed + 1_000_003, **opts))

    def summary(self, model: Any) -> dict[str, Any]:
        c = model.config
        return {"vocab_size": c.vocab_size, "hidden_size": c.d_model, "num_hidden_layers": c.n_layer,
                "num_attention_heads": c.n_head, "intermediate_size": c.d_inner}

    def describe(self, mc: dict[str, Any]) -> str:
        return (f"XLNet ({mc['num_hidden_layers']} layers, d_model {mc['hidden_size']}, {mc['num_attention_heads']} heads, "
                f"FFN {mc['intermediate_size']}, vocabulary {mc['vocab_size']}; relative positions, permutation LM); loads "
                "with `AutoModelForCausalLM`/`XLNetLMHeadModel.from_pretrained` and as `model.backbone=` of kgbert "
                "fine-tuning configs with `model.encoder: xlnet`.")


class ErnieThuFamily(PretrainFamily):
    """ERNIE-THU (Zhang et al., ACL 2019): BERT + a frozen KG entity table fused into the last layers,
    MLM + the denoising entity auto-encoder (``dea``; + ``nsp``/``sop``). ``model.config`` takes
    :class:`~kgbert.models.configuration_ernie_thu.ErnieThuConfig` values (``entity_embeddings``: the
    KG-embedding export; ``num_aggregator_layers``...); ``model.init_from`` a BERT checkpoint (its
    text layers and MLM head load, the entity parts start fresh) or an ERNIE-THU one. The corpus
    needs KG links (``masking.annotator: kg_links``). ``best/`` is an ``ernie_thu`` checkpoint,
    the ``model.backbone`` of ``ernie_thu`` fine-tuning. Options: ``dea_replace`` (0.05),
    ``dea_mask`` (0.15): shares of the aligned entity inputs replaced by another candidate / dropped."""

    name = "ernie_thu"
    config_class = "kgbert.models.configuration_ernie_thu:ErnieThuConfig"
    mlm_model = "kgbert.models.modeling_ernie_thu:ErnieThuForPreTraining"
    pretraining_model = "kgbert.models.modeling_ernie_thu:ErnieThuForPreTraining"
    architectures = {"mlm": "ErnieThuForPreTraining", "pretraining": "ErnieThuForPreTraining"}
    options = {"dea_replace": 0.05, "dea_mask": 0.15}
    objectives = ("mlm", "dea", "nsp", "sop")
    summary_keys = ("num_aggregator_layers", "entity_dim", "num_entities")

    def validate(self, config: PretrainConfig, where: str) -> None:
        super().validate(config, where)
        if "dea" in config.model.objectives:
            if config.masking.annotator != "kg_links":
                raise ConfigError(f"model.objectives dea needs KG links in the corpus: masking.annotator: kg_links "
                                  f"(with annotator_options.kg), found {config.masking.annotator!r} (in {where})")
            if not config.model.config.get("entity_embeddings") and not config.model.init_from:
                raise ConfigError(f"model.objectives dea needs model.config.entity_embeddings (a KG-embedding export) (in {where})")

    def config_values(self, config: PretrainConfig) -> dict[str, Any]:
        return {}

    def num_entities(self, config: PretrainConfig) -> int:
        """Rows of the entity table: the export's entities, or the ``init_from`` ERNIE-THU checkpoint's."""
        export = config.model.config.get("entity_embeddings")
        if export:
            from knowledge.embed import load_embeddings

            return int(load_embeddings(str(export)).num_entities)
        import json

        with open(os.path.join(str(config.model.init_from), "config.json"), encoding="utf-8") as fh:
            return int(json.load(fh).get("num_entities") or 0)

    def build(self, config: PretrainConfig, tokenizer: Any) -> torch.nn.Module:
        from transformers import BertConfig, set_seed

        from kgbert.models.configuration_ernie_thu import ErnieThuConfig
        from kgbert.models.loading import load_backbone
        from kgbert.models.modeling_ernie_thu import ErnieThuForPreTraining

        overrides = dict(config.model.config)
        if config.model.init_from:
            path = config.model.init_from
            if not os.path.isfile(os.path.join(path, "config.json")):
                raise ConfigError(f"model.init_from: {path!r} is not a checkpoint directory (no config.json)")
            base = BertConfig.from_pretrained(path, local_files_only=True).to_dict()
            for key in ("model_type", "architectures", "transformers_version", "_name_or_path"):
                base.pop(key, None)
            cfg = ErnieThuConfig(**{**base, **overrides})
            if cfg.vocab_size != len(tokenizer):
                raise ConfigError(f"model.init_from: vocab_size {cfg.vocab_size} != tokenizer size {len(tokenizer)} in {path}")
            return load_backbone(ErnieThuForPreTraining, path, config=cfg, local_files_only=True)
        cfg = ErnieThuConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **{**self.defaults, **overrides})
        set_seed(config.seed)
        return ErnieThuForPreTraining(cfg)

    def collators(self, config: PretrainConfig, tokenizer: Any, train: Any, heldout: Any) -> tuple[Any, Any]:
        """dEA on top of the masking strategy (:class:`kgbert.data.collators.EntityCollator`); held
        out: every entity input dropped, so entity accuracy says whether the text alone finds the
        linked entity among the batch's candidates (with inputs kept it would be a copy task)."""
        if "dea" not in config.model.objectives:
            return train, heldout
        from kgbert.data.collators import EntityCollator
        from kgbert.objectives.dea import DenoisingEntityAutoEncoder

        n = self.num_entities(config)
        dea = DenoisingEntityAutoEncoder(replace=self.option(config, "dea_replace"), mask=self.option(config, "dea_mask"))
        return (EntityCollator(train, dea, num_entities=n, seed=config.seed),
                EntityCollator(heldout, DenoisingEntityAutoEncoder(replace=0.0, mask=1.0), num_entities=n, seed=config.seed))

    def describe(self, mc: dict[str, Any]) -> str:
        return (f"ERNIE-THU (Zhang et al. 2019; {mc['num_hidden_layers']} layers, the last {mc.get('num_aggregator_layers')} "
                f"fusing a frozen table of {mc.get('num_entities')} x {mc.get('entity_dim')} KG entity vectors; hidden "
                f"{mc['hidden_size']}, vocabulary {mc['vocab_size']}); loads with `ErnieThuForPreTraining.from_pretrained` "
                "and as `model.backbone=` of `ernie_thu` fine-tuning.")


FAMILIES: dict[str, type[PretrainFamily]] = {"bert": PretrainFamily, "albert": AlbertFamily, "electra": ElectraFamily,
                                              "xlnet": XLNetFamily, "ernie_thu": ErnieThuFamily}
"""``model.family`` -> its class (a new family is one more entry)."""


def get_family(name: str) -> PretrainFamily:
    if name not in FAMILIES:
        raise ConfigError(f"model.family: unknown {name!r}; known: {sorted(FAMILIES)}")
    return FAMILIES[name]()


__all__ = ["FAMILIES", "AlbertFamily", "ElectraFamily", "PretrainFamily", "XLNetFamily", "get_family"]
