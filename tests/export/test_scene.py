"""export.scene: presets, copied URLs and query strings to a Config; a Config to computed runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import simulate
from export.scene import (
    compute,
    find_preset,
    parse_query_string,
    preset_names,
    presets,
    resolve_scene,
    scene_from_preset,
    scene_from_query,
    slug,
)
from optimizers.schedules import make_schedule
from scene.config import Config, effective_hparams, from_query

SADDLE = "Saddle: who escapes first"


@pytest.mark.parametrize(
    "text",
    [
        "surface=ravine&opt=sgd,adam&steps=100",
        "?surface=ravine&opt=sgd,adam&steps=100",
        "  ?surface=ravine&opt=sgd,adam&steps=100\n",
        "http://localhost:8501/playground?surface=ravine&opt=sgd,adam&steps=100",
        "https://example.org/app/?surface=ravine&opt=sgd%2Cadam&steps=100#top",
        "localhost:8501/?surface=ravine&opt=sgd,adam&steps=100",
    ],
    ids=["bare", "question-mark", "whitespace", "url", "encoded-url-with-fragment", "url-without-scheme"],
)
def test_parse_query_string_forms(text):
    assert parse_query_string(text) == {"surface": "ravine", "opt": "sgd,adam", "steps": "100"}


def test_parse_query_string_decoding_and_repeats():
    q = parse_query_string("surface=formula&s.expr=x**2%2B3*y**2&seed=1&seed=2&empty=")
    assert q == {"surface": "formula", "s.expr": "x**2+3*y**2", "seed": "2", "empty": ""}
    assert parse_query_string("") == {}
    assert parse_query_string("no parameters here") == {}


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_parses_cleanly(name):
    preset = find_preset(name)
    cfg, warnings = from_query(preset["query"])
    assert warnings == []
    assert scene_from_preset(name) == cfg
    assert scene_from_preset(name.upper()) == cfg  # case-insensitive
    assert scene_from_preset(slug(name)) == cfg  # and by slug


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError) as info:
        scene_from_preset("no such scene")
    for name in preset_names():
        assert name in str(info.value)


def test_scene_from_query_delegates_to_ui_config():
    q = {"surface": "rosenbrock", "opt": "adam,bogus", "adam.lr": "0.02", "steps": "50"}
    assert scene_from_query(q) == from_query(q)
    cfg, warnings = scene_from_query("surface=rosenbrock&opt=adam,bogus&adam.lr=0.02&steps=50")
    assert cfg.optimizers == ("adam",) and cfg.steps == 50 and cfg.hparams["adam"]["lr"] == 0.02
    assert any("bogus" in w for w in warnings)


def test_resolve_scene_kinds():
    cfg, warnings, title = resolve_scene("saddle: WHO escapes first")
    assert title == SADDLE and warnings == [] and cfg == scene_from_preset(SADDLE)
    cfg, _, title = resolve_scene("rosenbrock")
    assert cfg.surface == "rosenbrock" and cfg == from_query({"surface": "rosenbrock"})[0]
    cfg, warnings, _ = resolve_scene("?surface=himmelblau&opt=adam,nope")
    assert cfg.surface == "himmelblau" and cfg.optimizers == ("adam",) and warnings


@pytest.mark.parametrize(
    "text,words",
    [
        ("", "empty"),
        ("not a scene", "unknown scene"),
        ("foo=1&bar=2", "not a gradscape query"),
    ],
    ids=["empty", "unknown-name", "foreign-query"],
)
def test_resolve_scene_errors(text, words):
    with pytest.raises(ValueError, match=words):
        resolve_scene(text)


def test_presets_have_names_queries_descriptions():
    for p in presets():
        assert p["name"] and isinstance(p["query"], dict) and p["description"]


def test_compute_matches_the_engine(get_scene):
    data = get_scene("Warm-up delays Adam's burst")
    cfg = data.cfg
    assert [r.key for r in data.runs] == list(cfg.optimizers)
    schedule = make_schedule(cfg.schedule, **cfg.schedule_params)
    for run, key in zip(data.runs, cfg.optimizers):
        ref = simulate(
            data.surface,
            key,
            start=cfg.start,
            steps=cfg.steps,
            hparams=effective_hparams(cfg, key),
            schedule=schedule,
            noise=cfg.noise,
            seed=cfg.seed,
            device="cpu",
            dtype=torch.float64,
        )
        np.testing.assert_array_equal(run.xy, ref.xy[0].numpy())
        np.testing.assert_array_equal(run.loss, ref.loss[0].numpy())
    assert data.layers["png"].startswith("data:image/png;base64,")
    assert data.figure["layout"]["images"][0]["source"] == data.layers["png"]
    assert len(data.figure["frames"]) > 1
    assert data.start == tuple(data.surface.start)


def test_compute_keeps_the_order_and_noise(get_scene):
    data = get_scene("Noisy gradients: Adam vs SGD with momentum")
    assert data.keys == ["momentum", "adam"] and data.cfg.noise == 0.1
    assert data.n_steps == 1000 and data.errors == []


def test_compute_start_and_empty_scene():
    cfg = Config(surface="saddle", optimizers=(), steps=10, start=(0.5, -0.5))
    data = compute(cfg)
    assert data.runs == [] and data.n_steps == 0 and data.start == (0.5, -0.5)


def test_no_streamlit_in_export():
    """export/ is pure: importing it and computing a scene never loads Streamlit."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys\nimport export.scene, export.render, export.snippet, export.cli\n"
        "from export.scene import compute, scene_from_preset\n"
        "compute(scene_from_preset('Two wells: momentum rolls over'))\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'streamlit'], 'streamlit imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(root), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for path in (root / "export").glob("*.py"):
        assert "import streamlit" not in path.read_text(), path


def test_missing_presets_file(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADSCAPE_PRESETS", str(tmp_path / "none.json"))
    assert presets() == []
    with pytest.raises(ValueError, match="missing"):
        scene_from_preset(SADDLE)
    cfg, _, _ = resolve_scene("surface=saddle&steps=10")  # queries still work
    assert cfg.steps == 10
