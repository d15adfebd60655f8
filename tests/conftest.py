"""Suite-wide settings and fixtures.

No background builder (engine/fused.py) while tests run: the app starts building fused graphs in a
child process when a page asks for one; in a test run that would spend minutes of CPU the other
tests need. Tests of the fused engine compile explicitly (simulate(engine="fused")) or turn the
background builder on for themselves.
"""

import os

import pytest
import torch

os.environ.setdefault("GRADSCAPE_BACKGROUND_COMPILE", "0")


@pytest.fixture
def float64_default():
    """torch's default dtype set to float64 for the test: torch.optim and the reference packages keep
    scalar state (step counts, NAdam's μ product, ASGD's η and μ) in the default dtype, so a float64
    comparison needs it."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
