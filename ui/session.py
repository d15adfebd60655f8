"""Session state for the Playground: widget keys <-> Config, URL and presets.

Widgets hold their values in st.session_state under "pg.*" keys. A Config (ui/config.py) is read
from them on every run and written to the URL, so a copied link restores the same view.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from optimizers import get_optimizer
from optimizers.schedules import schedule_class
from surfaces import surface_class
from scene.config import Config, effective_hparams, from_query, lesson_config, to_query
from scene.presets import presets as scene_presets
from ui.live_figure import clicked_point

P = "pg."


def presets() -> list[dict]:
    """[{name, query, description}] from assets/presets.json; each preset is a URL query."""
    return scene_presets()


def seed_widgets(cfg: Config) -> None:
    """Put a whole configuration into the widget keys (first load, a preset, a new surface)."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(P) and not k.startswith(P + "ui.")]:
        del st.session_state[key]
    s = st.session_state
    cls = surface_class(cfg.surface)
    s[P + "surface"] = cfg.surface
    for p in cls.params:
        value = cfg.surface_params.get(p.name, p.default)
        s[P + "s." + p.name] = float(value) if p.kind == "float" else value
    surface = current_surface(cfg.surface, cfg.surface_params)
    if cfg.surface == "formula":
        s[P + "f.valid"] = dict(surface.values)
        s[P + "f.expr"] = surface.values["expr"]
        s[P + "f.bounds"] = format_bounds(surface.values["bounds"])
    s[P + "optimizers"] = list(cfg.optimizers)
    for key in cfg.optimizers:
        for name, value in effective_hparams(cfg, key).items():
            s[f"{P}hp.{key}.{name}"] = value
    warm = cfg.schedule == "warmup"
    base = cfg.schedule_params.get("inner", "constant") if warm else cfg.schedule
    s[P + "sched"] = base
    s[P + "warmup"] = warm
    for name, value in cfg.schedule_params.items():
        if name != "inner":
            s[P + "sched." + name] = value
    s[P + "steps"] = cfg.steps
    s[P + "noise"] = float(cfg.noise)
    s[P + "seed"] = int(cfg.seed)
    s[P + "batch.on"] = cfg.batch_size is not None
    if cfg.batch_size is not None:
        s[P + "batch"] = int(cfg.batch_size)
    start = cfg.start if cfg.start is not None else surface.start
    s[P + "start.x"], s[P + "start.y"] = float(start[0]), float(start[1])
    s[P + "ui.presenter"] = cfg.presenter
    s[P + "ui.speed"] = cfg.speed
    s[P + "ui.lecture"], s[P + "ui.sequence"], s[P + "ui.scene"] = cfg.lecture, tuple(cfg.sequence), cfg.scene
    s[P + "ui.quiz"] = bool(cfg.quiz)
    s[P + "ui.quiz_anon"] = cfg.quiz == "anon"


def read_config() -> Config:
    """The configuration the widgets show now."""
    s = st.session_state
    surface = s[P + "surface"]
    cls = surface_class(surface)
    surface_params = {
        p.name: s[P + "s." + p.name] for p in cls.params if s.get(P + "s." + p.name, p.default) != p.default
    }
    if surface == "formula":
        defaults = surface_class("formula")().values
        surface_params = {k: v for k, v in s.get(P + "f.valid", {}).items() if v != defaults[k]}
    optimizers = tuple(s.get(P + "optimizers", ()))
    hparams = {}
    for key in optimizers:
        values = {}
        for p in _hparam_specs(key):
            k = f"{P}hp.{key}.{p.name}"
            if k in s:
                values[p.name] = s[k]
        hparams[key] = values
    base = s.get(P + "sched", "constant")
    sched_params = {p.name: s[P + "sched." + p.name] for p in schedule_class(base).params if P + "sched." + p.name in s}
    schedule = base
    if s.get(P + "warmup"):
        schedule = "warmup"
        sched_params["inner"] = base
        sched_params.update(
            {p.name: s[P + "sched." + p.name] for p in schedule_class("warmup").params if P + "sched." + p.name in s}
        )
    start = (s[P + "start.x"], s[P + "start.y"])
    if tuple(start) == tuple(current_surface(surface, surface_params).start):
        start = None
    return Config(
        surface=surface,
        surface_params=surface_params,
        optimizers=optimizers,
        hparams=hparams,
        schedule=schedule,
        schedule_params=sched_params,
        steps=int(s[P + "steps"]),
        noise=float(s[P + "noise"]),
        seed=int(s[P + "seed"]),
        batch_size=_batch_size(s, current_surface(surface, surface_params)),
        start=start,
        presenter=bool(s.get(P + "ui.presenter", False)),
        speed=s.get(P + "ui.speed", "1×"),
        lecture=s.get(P + "ui.lecture", ""),
        sequence=tuple(s.get(P + "ui.sequence", ())),
        scene=int(s.get(P + "ui.scene", 0)),
        quiz=("anon" if s.get(P + "ui.quiz_anon") else "1") if s.get(P + "ui.quiz") else "",
    )


def _batch_size(s, surface) -> int | None:
    """The minibatch size the widgets ask for: None unless the surface is made of data examples and
    the minibatch toggle is on (a size left from another data set is brought inside this one's)."""
    n = getattr(surface, "n_examples", None)
    if n is None or not s.get(P + "batch.on"):
        return None
    return max(1, min(int(s.get(P + "batch", 1)), n - 1))


def current_surface(key: str, params: dict):
    """The surface object (cached: a formula is analysed once per text and view)."""
    from ui.compute import freeze, surface_object

    return surface_object(key, freeze(params))


def format_bounds(bounds) -> str:
    (x0, x1), (y0, y1) = bounds
    return ", ".join(f"{v:g}" for v in (x0, x1, y0, y1))


def apply_formula() -> None:
    """on_change of the formula boxes: keep the new formula if it is accepted, else keep the old
    one and say why (the message is shown under the box)."""
    from surfaces.formula import FormulaError  # noqa: F401  (a ValueError)

    expr = st.session_state.get(P + "f.expr", "")
    raw = st.session_state.get(P + "f.bounds", "")
    parts = [p.strip() for p in str(raw).split(",")]
    try:
        values = [float(p) for p in parts]
        if len(values) != 4:
            raise ValueError
    except ValueError:
        st.session_state[P + "ui.formula_error"] = "The view must be four numbers: xmin, xmax, ymin, ymax."
        return
    params = {"expr": expr, "bounds": ((values[0], values[1]), (values[2], values[3]))}
    try:
        surface = current_surface("formula", params)
    except ValueError as err:
        st.session_state[P + "ui.formula_error"] = str(err)
        return
    st.session_state.pop(P + "ui.formula_error", None)
    st.session_state[P + "f.valid"] = dict(surface.values)
    st.session_state[P + "start.x"], st.session_state[P + "start.y"] = surface.start


CLICK_GRID_TRACE = 2  # figures/playground.py: the invisible grid; the live figure turns clicks into points


def on_chart_click() -> None:
    """A click on the surface: start there. A callback, because the start inputs already exist when the
    figure's click reaches the script; and a module function, not one defined in the page: a page-level
    function would keep that run's whole namespace (figures included) alive with the widget."""
    point = clicked_point(P + "ui.chart")
    if point is None:
        return
    cfg = read_config()
    (x0, x1), (y0, y1) = current_surface(cfg.surface, cfg.surface_params).bounds
    # inside the view, as the start inputs' own limits are (a panned view can show more)
    st.session_state[P + "start.x"] = round(min(max(point[0], x0), x1), 3)
    st.session_state[P + "start.y"] = round(min(max(point[1], y0), y1), 3)


def _hparam_specs(key: str):
    spec = get_optimizer(key)
    inner = st.session_state.get(f"{P}hp.{key}.{spec.inner_param}") if spec.inner_param else None
    return list(spec.params_with_inner(inner))


def hparam_specs(key: str):
    return _hparam_specs(key)


def sync_from_url() -> list[str]:
    """Seed the widgets from the URL when it carries a configuration we did not write ourselves:
    the session's first load, or arriving through a link (a scene, a pasted URL). An empty URL
    (moving between pages clears it) keeps the session's settings. Returns the URL's warnings."""
    query = st.query_params.to_dict()
    first = P + "surface" not in st.session_state
    if first or (query and query != st.session_state.get(P + "ui.url_written")):
        cfg, warnings = from_query(query)
        seed_widgets(_keep_display(cfg) if not first else cfg)
        return warnings
    return []


def write_url(cfg: Config) -> None:
    query = to_query(cfg)
    st.session_state[P + "ui.url_written"] = query
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def on_surface_change() -> None:
    """A new surface opens its lesson scene; display settings stay."""
    s = st.session_state
    cfg = lesson_config(s[P + "surface"])
    seed_widgets(replace(_keep_display(cfg), speed=s.get(P + "ui.speed", "1×")))


def load_preset(query: dict) -> list[str]:
    cfg, warnings = from_query(query)
    seed_widgets(_keep_display(cfg))
    return warnings


def _keep_display(cfg: Config) -> Config:
    """cfg with the session's presenter and quiz modes kept on when the new scene does not set them."""
    s = st.session_state
    quiz = cfg.quiz or (("anon" if s.get(P + "ui.quiz_anon") else "1") if s.get(P + "ui.quiz") else "")
    return replace(cfg, presenter=cfg.presenter or bool(s.get(P + "ui.presenter", False)), quiz=quiz)
