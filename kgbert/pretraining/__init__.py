"""Pretraining: typed configs, streaming corpus reading and packing, vocabulary, the run loop."""
from kgbert.pretraining.config import PretrainConfig, load_pretrain_config, pretrain_config_from_dict

__all__ = ["PretrainConfig", "load_pretrain_config", "pretrain_config_from_dict"]
