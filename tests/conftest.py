"""Shared test fixtures. Real data is read from ../shared/data; tests needing it skip when absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KGBERT_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, skipping the calling test with a clear reason if it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not available: {p} (set KGBERT_SHARED_DATA to its folder)")
    return p


@pytest.fixture(autouse=True, scope="session")
def _cpu_threads():
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
