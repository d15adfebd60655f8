"""The preset scenes of assets/presets.json: read once, found by name or slug (no Streamlit).

A preset is a dict: name, query (the Playground's URL parameters), description and, optionally,
measured (a template filled from the scene's own runs by engine/lessons.py).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
PRESETS_PATH = ASSETS / "presets.json"


def presets_path() -> Path:
    """assets/presets.json of the source tree (GRADSCAPE_PRESETS overrides it). A non-editable
    install does not ship assets/: then there are no presets, and queries and surface keys still work."""
    return Path(os.environ.get("GRADSCAPE_PRESETS") or PRESETS_PATH)


@lru_cache(maxsize=4)
def _read_presets(path: Path) -> tuple:
    try:
        with open(path, encoding="utf-8") as fh:
            return tuple(json.load(fh))
    except (OSError, ValueError):
        return ()


def _load_presets() -> tuple:
    return _read_presets(presets_path())


def presets() -> list[dict]:
    """The preset scenes: dicts with name, query (URL parameters) and description."""
    return [dict(p) for p in _load_presets()]


def preset_names() -> list[str]:
    return [p["name"] for p in _load_presets()]


def slug(text: str) -> str:
    """'Saddle: who escapes first' -> 'saddle-who-escapes-first' (file names, and a way to type a name)."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "scene"


def find_preset(name: str) -> dict | None:
    """The preset whose name matches case-insensitively (or whose slug matches); None if none does."""
    wanted = " ".join(str(name).split()).casefold()
    for p in _load_presets():
        if p["name"].casefold() == wanted or slug(p["name"]) == slug(wanted):
            return dict(p)
    return None
