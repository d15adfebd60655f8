"""Noisy clouds: N runs with independent gradient noise as a fan of faint paths, with their median path."""

from __future__ import annotations

import numpy as np
import streamlit as st

from figures.maps import cloud_figure
from optimizers import available_optimizers, get_optimizer
from surfaces import available_surfaces, surface_class
from ui.compute import freeze, noise_cloud, surface_drawing
from scene.config import MAX_NOISE, Config, to_query
from ui.lecture import hparam_widgets, surface_params_widgets
from ui.plotly_figure import PrebuiltFigure
from ui.shell import page_setup, playground_link

page_setup()
K = "nc"
SURFACES = [k for k in available_surfaces() if k != "formula"]
RUNS = [10, 20, 50, 100, 200, 500, 1000]
STEPS = [50, 100, 200, 250, 300, 500, 1000, 2000]

sb = st.sidebar
surface_key = sb.selectbox(
    "Surface", SURFACES, index=SURFACES.index("ravine"), key=f"{K}.surface", format_func=lambda k: surface_class(k).name
)
cls = surface_class(surface_key)
surface_params, surface = surface_params_widgets(K, surface_key, container=sb)
keys = sb.multiselect(
    "Optimizers",
    available_optimizers(),
    default=["sgd", "adam"],
    key=f"{K}.opt",
    format_func=lambda k: get_optimizer(k).name,
)
noise = sb.slider(
    "Gradient noise σ",
    0.0,
    MAX_NOISE,
    0.5,
    0.01,
    key=f"{K}.noise",
    help="Standard deviation of the Gaussian noise added to each gradient coordinate, like a minibatch estimate.",
)
n_runs = sb.select_slider("Runs per optimizer (N)", RUNS, value=50, key=f"{K}.n")
steps = sb.select_slider(
    "Steps", STEPS, value=cls.lesson_steps if cls.lesson_steps in STEPS else 300, key=f"{K}.{surface_key}.steps"
)
seed0 = int(
    sb.number_input(
        "First seed",
        0,
        2**31 - 1 - max(RUNS),
        0,
        key=f"{K}.seed",
        help="Run i uses seed first + i, so the cloud is reproducible.",
    )
)
(x0, x1), (y0, y1) = surface.bounds
c1, c2 = sb.columns(2)
sx = c1.number_input(
    "start x", float(x0), float(x1), float(surface.start[0]), 0.1, key=f"{K}.{surface_key}.sx", format="%.3f"
)
sy = c2.number_input(
    "start y", float(y0), float(y1), float(surface.start[1]), 0.1, key=f"{K}.{surface_key}.sy", format="%.3f"
)
start = (float(sx), float(sy))
hp = hparam_widgets(f"{K}.{surface_key}", keys, cls.lesson_hparams, container=sb)

# ---- main area -------------------------------------------------------------------------------------
st.title("Noisy clouds")
st.caption(
    f"**{surface.name}**: {n_runs} runs of each optimizer from the same start, each with its own Gaussian "
    f"gradient noise (σ = {noise:g}, seeds {seed0} … {seed0 + n_runs - 1}), all in one batch per optimizer. "
    "Faint lines are single runs (up to 150 drawn per optimizer, an even sample); the bold line is the "
    "median path of all of them."
)
if not keys:
    st.info("Choose optimizers in the sidebar.")
    st.stop()

clouds, errors = [], []
with st.spinner(f"Running {len(keys)} × {n_runs} noisy runs…"):
    for k in keys:
        full = {**get_optimizer(k).defaults(), **hp.get(k, {})}
        cloud, err = noise_cloud(
            surface_key, freeze(surface_params), k, freeze(full), n_runs, steps, float(noise), seed0, start
        )
        if err:
            errors.append(err)
        else:
            clouds.append(cloud)
for e in errors:
    st.error(e)
if not clouds:
    st.stop()

names = {c.optimizer: get_optimizer(c.optimizer).name for c in clouds}
figure = cloud_figure(surface, clouds, surface_drawing(surface_key, freeze(surface_params)), names=names)
st.plotly_chart(PrebuiltFigure(figure), key=f"{K}.chart", config={"displaylogo": False, "scrollZoom": False})
st.caption(
    "The median path is the coordinate-wise median of the N positions at each step: a summary of where the "
    "cloud is, not itself a run (with two valleys it can sit between them). Below: each run's loss − f* "
    "against the step, and the median loss. With a constant learning rate the noise keeps the runs moving: "
    "the loss stops falling at a floor that grows with σ and with the step size."
)

minima = list(surface.minima)
f_star = min(surface.f_at(m) for m in minima) if minima else 0.0
rows = []
for c in clouds:
    final = c.loss[:, -1] - f_star
    q1, med, q3 = np.percentile(final, [25, 50, 75])
    rows.append(
        {
            "optimizer": names[c.optimizer],
            "median final loss − f*": float(med),
            "middle half (25%–75%)": f"{q1:.3g} … {q3:.3g}",
            "diverged": int((c.diverged_at >= 0).sum()),
            "median ends at": f"({c.median[-1, 0]:.3f}, {c.median[-1, 1]:.3f})",
        }
    )
st.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    column_config={"median final loss − f*": st.column_config.NumberColumn(format="%.3g")},
)
cfg = Config(
    surface=surface_key,
    surface_params=surface_params,
    optimizers=tuple(c.optimizer for c in clouds),
    hparams={c.optimizer: dict(hp.get(c.optimizer, {})) for c in clouds},
    steps=steps,
    noise=float(noise),
    seed=seed0,
    start=None if start == tuple(surface.start) else start,
)
playground_link(f"Open one run of each (seed {seed0}) in the Playground", to_query(cfg))
