"""Saddle point, side by side: one panel per optimizer, one Play for all, and who escapes first."""

from __future__ import annotations

import streamlit as st

from engine.diagnostics import NEVER_NEAR, saddle_escape_step
from figures.multiples import small_multiples
from figures.playground import at_start, quiz_letters
from figures.small import surface_3d
from optimizers import available_optimizers, get_optimizer
from surfaces import get_surface
from ui.compute import surface_drawing, surface_grid
from scene.config import Config
from ui.downloads import scene_exports
from ui.lecture import hparam_widgets, run_all, show_errors
from ui.lecture_mode import page_quiz, page_quiz_bar
from ui.live_figure import live_figure
from ui.plotly_figure import PrebuiltFigure
from ui.shell import page_setup

page_setup()
K = "sd"
surface = get_surface("saddle")
DEFAULT = list(surface.lesson_optimizers)

st.title("Saddle point, side by side")
st.caption(
    "f = x²/2 + y⁴/4 − y²/2 has a saddle at the origin and valleys at y = ±1. Every run starts on the ridge, "
    "a hair off the line y = 0: the downhill direction is there, but its gradient is tiny. Press Play once: "
    "all panels move together."
)

sb = st.sidebar
keys = sb.multiselect(
    "Optimizers", available_optimizers(), default=DEFAULT, key=f"{K}.opt", format_func=lambda k: get_optimizer(k).name
)
offset = sb.select_slider(
    "Start: distance off the ridge",
    [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
    value=1e-3,
    key=f"{K}.offset",
    format_func=lambda v: f"{v:g}",
)
start_x = sb.slider(
    "Start: x",
    -1.9,
    0.0,
    -0.1,
    0.05,
    key=f"{K}.x",
    help="How far along the ridge the runs start (the saddle is at x = 0).",
)
steps = sb.select_slider("Steps", [100, 200, 300, 500, 1000], value=300, key=f"{K}.steps")
radius = sb.slider("Escaped once farther than r from the saddle", 0.1, 1.5, 0.5, 0.05, key=f"{K}.r")
noisy = sb.toggle("Noisy gradients", key=f"{K}.noisy", help="Stochastic gradients push a run off the ridge.")
noise = sb.slider("Noise σ", 0.0, 1.0, 0.05, 0.01, key=f"{K}.noise", disabled=not noisy) if noisy else 0.0
seed = sb.number_input("Noise seed", 0, 2**31 - 1, 0, key=f"{K}.seed") if noisy else 0
show_3d = sb.toggle("3D view", key=f"{K}.3d")
hp = hparam_widgets(K, keys, surface.lesson_hparams, container=sb)
hidden, anonymous, autoplay = page_quiz(K, repr((keys, hp, offset, start_x, steps, radius, noise, seed)))

start = (start_x, offset)
runs, errors = run_all("saddle", {}, keys, hp, steps, start=start, noise=noise, seed=seed)
show_errors(errors)
if not keys:
    st.info("Choose optimizers in the sidebar.")
else:
    escapes = [saddle_escape_step(r.xy, r.steps, (0.0, 0.0), radius, r.diverged_at) for r in runs]

    def outcome(e: int) -> str:
        return f"escaped at step {e}" if e >= 0 else ("never came near" if e == NEVER_NEAR else "still at the saddle")

    titles = [f"{r.label}: {outcome(e)}" for r, e in zip(runs, escapes)]
    layers = surface_drawing("saddle", ())
    if hidden:  # predict, then reveal: each panel shows its start and its name (or a letter) only
        names = quiz_letters(len(runs)) if anonymous else [r.label for r in runs]
        figure = small_multiples(surface, [at_start(r, n) for r, n in zip(runs, names)], layers, titles=names)
    else:
        figure = small_multiples(surface, runs, layers, titles=titles)
        if autoplay:
            figure["layout"]["meta"] = {"autoplay": autoplay}
    live_figure(figure, f"{K}.chart", config={"displaylogo": False})
    page_quiz_bar(K, hidden, autoplay, "Which run leaves the saddle first?")
if keys and not hidden:
    table = sorted(
        (
            {
                "optimizer": r.label,
                "steps to escape": e if e >= 0 else None,
                "final loss": float(r.loss[-1]),
                "ends at": f"({r.xy[-1, 0]:.3f}, {r.xy[-1, 1]:.3f})",
            }
            for r, e in zip(runs, escapes)
        ),
        key=lambda row: (row["steps to escape"] is None, row["steps to escape"] or 0),
    )
    st.subheader("Who escapes first")
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        f"Steps to escape: the first step at which a run is farther than r = {radius:g} from the saddle, "
        f"having been within r of it. Empty: it has not escaped within {steps} steps, or (start farther "
        "than r) never came near."
    )
    scene_exports(
        Config(
            surface="saddle",
            optimizers=tuple(keys),
            hparams=hp,
            steps=steps,
            start=start,
            noise=float(noise),
            seed=int(seed),
        ),
        key=f"{K}.export",
        name="gradscape-saddle",
    )
    if show_3d:
        st.plotly_chart(PrebuiltFigure(surface_3d(surface, runs, surface_grid("saddle", ()))), key=f"{K}.3dchart")
