"""Scenes for export: a preset name or a copied URL becomes a Config, and a Config becomes the
computed runs, the surface drawing and the Playground figure (`SceneData`).

Pure Python on top of scene.config (no Streamlit). Runs are computed on the CPU exactly as the
Playground page computes them (same engine call, same hyperparameters), so an export shows what
the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import unquote_plus, urlsplit

from scene.config import SPEEDS, Config, effective_hparams, from_query
from scene.presets import PRESETS_PATH, find_preset, preset_names, presets, presets_path, slug  # noqa: F401

GRID_POINTS = 160  # the surface grid behind the shading and the contour lines (as on the page)
DEVICE = "cpu"  # single runs are latency-bound: the page computes them on the CPU too

# Top-level URL parameters that scene.config.from_query understands (besides s.*, sched.* and <opt>.*).
_KNOWN_PARAMS = ("surface", "opt", "sched", "steps", "noise", "seed", "batch", "start", "presenter", "speed")


@dataclass
class SceneData:
    """Everything the renderers need, computed once.

    runs[i] and trajectories[i] belong to the i-th optimizer that ran (cfg.optimizers order; one
    that was refused is skipped and its message is in `errors`). `layers` is the surface drawing
    (shaded PNG data URI and contour lines), `figure` the Playground figure as a plotly dict.
    """

    cfg: Config
    surface: object
    runs: list
    trajectories: list
    layers: dict
    figure: dict
    start: tuple
    title: str = ""
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def n_steps(self) -> int:
        return max((int(r.steps[-1]) for r in self.runs), default=0)

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.runs]


# ---- presets (read in scene/presets.py; named here too, for the CLI and the tests) -------------


def scene_from_preset(name: str) -> Config:
    """The Config of a preset scene, matched case-insensitively on its name (or its slug).

    An unknown name is a ValueError that lists the presets.
    """
    preset = find_preset(name)
    if preset is None:
        raise ValueError(
            f"unknown scene {name!r}; presets: "
            + ("; ".join(preset_names()) or f"none found ({presets_path()} is missing)")
        )
    cfg, _warnings = from_query(preset["query"])  # presets are checked by the tests to give none
    return cfg


# ---- URLs -------------------------------------------------------------------------------------


def parse_query_string(text: str) -> dict[str, str]:
    """URL parameters from a query string, with or without a leading '?', or from a whole URL.

    Values are percent-decoded and '+' reads as a space (as the browser's URLSearchParams writes
    them); when a key repeats, the last value wins. Text without any key=value pair gives {}.
    """
    s = str(text).strip()
    if "://" in s or s.startswith(("localhost", "127.0.0.1")) or ("?" in s and not s.startswith("?")):
        parts = urlsplit(s if "://" in s else "http://" + s)
        s = parts.query
    s = s.lstrip("?")
    pairs = [piece.split("=", 1) for piece in s.split("&") if "=" in piece]
    return {unquote_plus(k): unquote_plus(v) for k, v in pairs if k}


def scene_from_query(query: Mapping[str, str] | str) -> tuple[Config, list[str]]:
    """(Config, warnings) from URL parameters (a dict, or a query string / URL); never raises on
    bad values: each ignored one gives a warning (see scene.config.from_query)."""
    if isinstance(query, str):
        query = parse_query_string(query)
    return from_query(query)


def recognised(query: Mapping[str, str]) -> list[str]:
    """The keys of `query` that scene.config reads at all (known names or prefixes)."""
    from optimizers import available_optimizers

    opts = set(available_optimizers())
    return [
        k
        for k in query
        if k in _KNOWN_PARAMS or k.startswith(("s.", "sched.")) or ("." in k and k.split(".", 1)[0] in opts)
    ]


def resolve_scene(text: str) -> tuple[Config, list[str], str]:
    """(Config, warnings, title) from what a user types: a preset name, a surface key (its lesson
    scene), or a copied URL / query string. ValueError with a one-line message when it is none of
    these, or when a query has no parameter that gradscape knows."""
    from surfaces import available_surfaces

    text = str(text).strip()
    if not text:
        raise ValueError("empty scene: give a preset name (see `gradscape scenes`) or a copied URL/query string")
    preset = find_preset(text)
    if preset is not None:
        cfg, warnings = from_query(preset["query"])
        return cfg, warnings, preset["name"]
    if text in available_surfaces():
        cfg, warnings = from_query({"surface": text})
        return cfg, warnings, text
    if "=" in text:
        query = parse_query_string(text)
        if not query:
            raise ValueError(f"no key=value parameters in {_short(text)!r}")
        if not recognised(query):
            raise ValueError(
                f"not a gradscape query: none of {', '.join(map(repr, list(query)[:5]))} is a "
                f"parameter it knows ({', '.join(_KNOWN_PARAMS)}, s.*, sched.*, <optimizer>.*)"
            )
        cfg, warnings = from_query(query)
        return cfg, warnings, f"{cfg.surface} ({', '.join(cfg.optimizers) or 'no optimizer'})"
    known = "; ".join(preset_names()) or f"none found: {presets_path()} is missing"
    raise ValueError(
        f"unknown scene {_short(text)!r}: not a preset ({known}), "
        f"not a surface ({', '.join(available_surfaces())}) and not a query string (key=value&...)"
    )


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# ---- computing --------------------------------------------------------------------------------


def compute(
    cfg: Config, *, title: str = "", warnings: list | None = None, figure_frames: int | None = None
) -> SceneData:
    """Run every optimizer of `cfg` (engine.simulate on the CPU, float64) and build the drawing and
    the Playground figure. A run the engine refuses (ValueError) is skipped with its message in
    `errors`, as the page does; a refused surface raises ValueError."""
    import torch

    from engine import simulate
    from figures.animation import MAX_FRAMES
    from figures.playground import playground_figure, run_view, surface_layers
    from optimizers import get_optimizer
    from optimizers.schedules import make_schedule
    from surfaces import get_surface

    surface = get_surface(cfg.surface, **cfg.surface_params)
    schedule = make_schedule(cfg.schedule, **cfg.schedule_params)
    runs, trajectories, errors = [], [], []
    for key in cfg.optimizers:
        spec = get_optimizer(key)
        try:
            traj = simulate(
                surface,
                key,
                start=cfg.start,
                steps=cfg.steps,
                hparams=effective_hparams(cfg, key),
                schedule=schedule,
                noise=cfg.noise,
                seed=cfg.seed,
                device=DEVICE,
                dtype=torch.float64,
                batch_size=cfg.batch_size,
            )
        except ValueError as err:
            errors.append(f"{spec.name}: {err}")
            continue
        trajectories.append(traj)
        runs.append(run_view(traj, spec.name))
    layers = surface_layers(surface, surface.grid(GRID_POINTS))
    start = tuple(float(v) for v in (cfg.start if cfg.start is not None else surface.start))
    figure = playground_figure(
        surface,
        runs,
        layers=layers,
        start=start,
        presenter=cfg.presenter,
        frame_ms=SPEEDS.get(cfg.speed, 60),
        frames=figure_frames or MAX_FRAMES,
    )
    return SceneData(
        cfg=cfg,
        surface=surface,
        runs=runs,
        trajectories=trajectories,
        layers=layers,
        figure=figure,
        start=start,
        title=title or getattr(surface, "name", cfg.surface),
        errors=errors,
        warnings=list(warnings or []),
    )
