"""Every registered encoder runs the conformance suite (``tests/models/conformance.py``)."""
from __future__ import annotations

import pytest

from kgbert.registry import encoder_names
from tests.models.conformance import EncoderConformance


class TestRegisteredEncoders(EncoderConformance):
    @pytest.fixture(params=encoder_names(), scope="class")
    @classmethod
    def encoder(cls, request):
        return request.param


def test_every_builtin_encoder_has_a_head_for_every_task():
    """Each built-in encoder serves every fine-tuning task (``TASK_HEADS``: sequence, pair, token,
    entity_typing), each head kind named once in its registry entry."""
    from kgbert.constants import TASK_HEADS
    from kgbert.registry import BUILTIN_ENCODERS

    for spec in BUILTIN_ENCODERS:
        assert set(TASK_HEADS.values()) <= set(spec.heads), (spec.name, sorted(spec.heads))
        classes = [spec.model_class(h) for h in spec.heads]
        assert len(set(classes)) == len(classes), spec.name  # no class serves two head kinds
