"""The ravine lesson: SGD vs momentum vs Adam on a quadratic form, and what rotation does."""

from __future__ import annotations

import streamlit as st

from engine.diagnostics import first_step_below_np
from figures.multiples import small_multiples
from figures.playground import at_start, playground_figure, quiz_figure, quiz_letters
from optimizers import available_optimizers, get_optimizer
from surfaces import get_surface
from ui.compute import surface_drawing
from scene.config import Config
from ui.downloads import scene_exports
from ui.lecture import hparam_widgets, run_all, show_errors
from ui.lecture_mode import page_quiz, page_quiz_bar
from ui.scrub import scrub_section
from ui.live_figure import live_figure
from ui.shell import page_setup

page_setup()
K = "rv"
TOL = 1e-3

st.title("The ravine: SGD, momentum and Adam on a quadratic form")
st.caption(
    "An ill-conditioned quadratic: steep across, shallow along. With a step small enough for the steep "
    "walls, gradient descent crawls along the flat floor (raise its learning rate towards 2 and it zig-zags "
    "across instead); momentum builds up speed along the floor, at the price of swinging across the ravine "
    "before it settles; Adam rescales each coordinate. Rotate the ravine: the per-coordinate rescaling of Adam "
    "and the other diagonal methods helps only while the ravine is aligned with the axes."
)

sb = st.sidebar
condition = sb.select_slider(
    "Condition number κ", [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0], value=50.0, key=f"{K}.kappa"
)
angle = sb.slider("Rotation (degrees)", -90.0, 90.0, 0.0, 5.0, key=f"{K}.angle")
keys = sb.multiselect(
    "Optimizers",
    available_optimizers(),
    default=["sgd", "momentum", "adam"],
    key=f"{K}.opt",
    format_func=lambda k: get_optimizer(k).name,
)
steps = sb.select_slider("Steps", [100, 200, 300, 500, 1000, 2000], value=300, key=f"{K}.steps")
view = sb.radio("View", ["Overlay", "Side by side"], horizontal=True, key=f"{K}.view")
surface_cls = get_surface("ravine")
hp = hparam_widgets(K, keys, surface_cls.lesson_hparams, container=sb)
hidden, anonymous, autoplay = page_quiz(K, repr((condition, angle, keys, hp, steps)))

params = {"condition": condition, "angle": angle}
surface = get_surface("ravine", **params)
# The same start relative to the ravine at every angle (2.5 along the floor, 1.2 up the wall), so
# that only the rotation changes between angles; it stays inside the view at any angle.
START_UV = (-2.5, 1.2)
start = surface.from_ravine_coords(*START_UV)
runs, errors = run_all("ravine", params, keys, hp, steps, start=start)
show_errors(errors)
layers = surface_drawing("ravine", tuple(sorted(params.items())))
names = quiz_letters(len(runs)) if anonymous else [r.label for r in runs]
if not keys:
    st.info("Choose optimizers in the sidebar.")
else:
    if view == "Overlay":
        figure = playground_figure(surface, runs, layers=layers)
        figure = quiz_figure(figure, runs, anonymous) if hidden else figure
    else:
        shown = [at_start(r, n) for r, n in zip(runs, names)] if hidden else runs
        figure = small_multiples(surface, shown, layers, cols=min(3, len(runs)))
    if autoplay and not hidden:
        figure["layout"]["meta"] = {"autoplay": autoplay}
    live_figure(figure, f"{K}.overlay" if view == "Overlay" else f"{K}.sbs", config={"displaylogo": False})
    page_quiz_bar(K, hidden, autoplay, "Which run reaches the minimum first?")

cfg = Config(surface="ravine", surface_params=params, optimizers=tuple(keys), hparams=hp, steps=steps, start=start)
if keys and not hidden:
    scrub_section(cfg, surface, f"{K}.", f"{K}.{{key}}.{{name}}")
    scene_exports(cfg, key=f"{K}.export", name="gradscape-ravine")
    aligned, _ = run_all("ravine", {"condition": condition, "angle": 0.0}, keys, hp, steps, start=START_UV)
    rows = []
    for r, a in zip(runs, aligned):
        here = first_step_below_np(r.loss, r.steps, TOL, r.diverged_at)
        base = first_step_below_np(a.loss, a.steps, TOL, a.diverged_at)
        rows.append(
            {
                "optimizer": r.label,
                "steps to loss < 1e-3, axis-aligned": base if base >= 0 else None,
                f"at {angle:g}°": here if here >= 0 else None,
            }
        )
    st.subheader("Steps to reach a loss below 1e-3")
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(
        f"Empty: not within {steps} steps (or diverged). SGD and momentum do not care about the rotation "
        "(they are rotation-invariant); the diagonal methods do."
    )
