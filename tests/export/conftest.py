"""Shared fixtures for the export tests: computed scenes (cached per session) and a kaleido check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_CACHE: dict = {}


def scene(text: str):
    """A computed scene (SceneData) by preset name, surface key or query; computed once per session."""
    from export.scene import compute, resolve_scene

    if text not in _CACHE:
        cfg, warnings, title = resolve_scene(text)
        _CACHE[text] = compute(cfg, title=title, warnings=warnings)
    return _CACHE[text]


@pytest.fixture(scope="session")
def get_scene():
    return scene


def kaleido_problem() -> str | None:
    """Why kaleido cannot render here, or None when it can (tried once)."""
    if "kaleido" not in _CACHE:
        try:
            import plotly.io as pio

            from export.render import _ensure_browser

            pio.defaults.mathjax = None
            _ensure_browser()
            pio.to_image(
                {"data": [{"type": "scatter", "x": [0, 1], "y": [0, 1]}]},
                format="png",
                width=100,
                height=80,
                validate=False,
            )
            _CACHE["kaleido"] = None
        except Exception as err:  # noqa: BLE001
            _CACHE["kaleido"] = f"kaleido/Chromium cannot render here: {type(err).__name__}: {err}"
    return _CACHE["kaleido"]


@pytest.fixture(scope="session")
def kaleido_session():
    """One Chromium for all the still tests (each to_image would otherwise start its own)."""
    problem = kaleido_problem()
    if problem:
        pytest.skip(problem)
    from export.render import image_session

    with image_session():
        yield


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m export.cli ARGS` in a subprocess (the repo root on PYTHONPATH)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("GRADSCAPE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "export.cli", *args],
        cwd=str(cwd or ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def cli_process():
    return run_cli
