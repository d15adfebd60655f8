"""Fixtures shared by the optimizer tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def float64_default():
    """torch's default dtype set to float64 for the test: torch.optim and the reference packages keep
    scalar state (step counts, NAdam's μ product, ASGD's η and μ) in the default dtype, so a float64
    comparison needs it."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
