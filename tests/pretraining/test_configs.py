"""Every shipped pretraining config parses and names existing strategies/objectives."""
from __future__ import annotations

from pathlib import Path

import pytest

from kgbert.data.collators import COLLATORS
from kgbert.pretraining.config import load_pretrain_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "pretrain").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_pretrain_config_parses(path):
    cfg = load_pretrain_config(path)
    assert cfg.masking.strategy in COLLATORS
    assert cfg.data.corpus and all(s.path for s in cfg.data.corpus)
    assert not any(part in s.path for s in cfg.data.corpus for part in ("/dev.", "/test.", "/valid."))  # train text only
