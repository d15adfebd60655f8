"""The scenes of the modern optimizers (assets/presets.json) and the scene facts they need: each
claim a scene's text makes is checked here against the engine's runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from engine.lessons import scene_facts
from scene.config import from_query
from surfaces import get_surface

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {p["name"]: p for p in json.loads((ROOT / "assets" / "presets.json").read_text(encoding="utf-8"))}


def facts_of(query: dict):
    cfg, warnings = from_query(query)
    assert not warnings
    return scene_facts(cfg)


# ---- the facts the scenes use ---------------------------------------------------------------------


def test_unrotated_variant_runs_the_same_start_relative_to_the_floor_on_the_ravine_at_zero_degrees():
    f = facts_of({"surface": "ravine", "s.angle": "45", "opt": "sgd", "steps": "50"})
    rotated, flat = f.run("sgd"), f.run("sgd", "unrotated")
    surface = get_surface("ravine", angle=45.0)
    # Gradient descent is rotation-invariant: the unrotated path is the rotated one turned back.
    u, v = surface.to_ravine_coords(rotated.xy[0, :, 0].numpy(), rotated.xy[0, :, 1].numpy())
    np.testing.assert_allclose(np.stack([u, v], axis=1), flat.xy[0].numpy(), rtol=0, atol=1e-12)
    assert f["unrotated_sgd_below"] == f["sgd_below"]


def test_unrotated_variant_is_refused_on_a_surface_without_rotation():
    f = facts_of({"surface": "rosenbrock", "opt": "sgd", "steps": "20"})
    with pytest.raises(KeyError, match="rotation"):
        f["unrotated_sgd_below"]


def test_stepmedian_is_the_median_length_of_a_step():
    f = facts_of({"surface": "ravine", "opt": "sgd", "steps": "40"})
    xy = f.run("sgd").xy[0].numpy()
    want = float(np.median(np.hypot(*(xy[1:] - xy[:-1]).T)))
    assert math.isclose(float(f["sgd_stepmedian"]), want, rel_tol=5e-3)
