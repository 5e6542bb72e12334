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
