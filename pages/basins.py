"""Basins of attraction: a grid of starts coloured by the minimum each run reaches, one panel per optimizer."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine import SimulationTooLarge, default_device
from engine.sweeps import MAX_GRID, basin_size, default_radius
from figures.maps import HOVER_MAX, attractor_names, basin_map
from optimizers import available_optimizers, get_optimizer
from surfaces import surface_class
from ui.compute import basin_map as basin_run, freeze, surface_drawing
from ui.lecture import hparam_widgets, surface_params_widgets
from ui.plotly_figure import PrebuiltFigure
from ui.shell import page_setup

page_setup()
K = "bs"
SURFACES = ("himmelblau", "two_wells", "rastrigin", "saddle")
GRID_SIZES = [16, 32, 64, 96, 128, 192, 256, 384, MAX_GRID]
STEPS = [50, 100, 200, 300, 500, 1000, 2000]

sb = st.sidebar
surface_key = sb.selectbox("Surface", SURFACES, key=f"{K}.surface", format_func=lambda k: surface_class(k).name)
cls = surface_class(surface_key)
surface_params, surface = surface_params_widgets(K, surface_key, container=sb)
keys = sb.multiselect(
    "Optimizers",
    available_optimizers(),
    default=list(cls.lesson_optimizers),
    key=f"{K}.{surface_key}.opt",
    format_func=lambda k: get_optimizer(k).name,
)
n = sb.select_slider(
    "Starts per side",
    GRID_SIZES,
    value=128,
    key=f"{K}.n",
    help=f"An n × n grid of starts over the view (up to {MAX_GRID} × {MAX_GRID}).",
)
steps = sb.select_slider("Steps", STEPS, value=300, key=f"{K}.steps")
color_by = sb.radio(
    "Colour by",
    ("basin", "steps"),
    key=f"{K}.color",
    horizontal=True,
    format_func={"basin": "basin reached", "steps": "steps to converge"}.get,
)
hp = hparam_widgets(f"{K}.{surface_key}", keys, cls.lesson_hparams, container=sb)

# ---- main area -------------------------------------------------------------------------------------
st.title("Basins of attraction")
st.caption(
    f"**{surface.name}**: every start of a {n} × {n} grid over the view is run for {steps} steps, one batch "
    "per optimizer, and coloured by the minimum where the run ends. Which minimum a start leads to "
    "depends on the method as much as on the start."
)
if not keys:
    st.info("Choose optimizers in the sidebar.")
    st.stop()

device = default_device()
try:  # refuse a size the memory budget cannot hold before any work starts
    need = basin_size(n, steps, device=device, optimizers={k: hp.get(k) for k in keys})
except SimulationTooLarge as err:
    st.error(f"This map is too large: {err}")
    st.stop()

batch = n * n
st.caption(
    f"{batch:,} starts × {len(keys)} optimizer{'s' if len(keys) > 1 else ''} × {steps} steps = "
    f"{batch * len(keys) * steps:,} run-steps; about {need / 2**20:,.0f} MB per batch on {device}."
)
results, errors = [], []
progress = st.progress(0.0, text=f"Running {len(keys)} × {batch:,} runs…")
for i, k in enumerate(keys):
    full = {**get_optimizer(k).defaults(), **hp.get(k, {})}
    res, err = basin_run(surface_key, freeze(surface_params), k, freeze(full), n, steps)
    if err:
        errors.append(err)
    else:
        results.append(res)
    progress.progress((i + 1) / len(keys), text=f"{get_optimizer(k).name} done ({i + 1} of {len(keys)})")
progress.empty()
for e in errors:
    st.error(e)
if not results:
    st.stop()

titles = [get_optimizer(r.optimizer).name for r in results]
figure = basin_map(
    results,
    surface,
    surface_drawing(surface_key, freeze(surface_params)),
    titles=titles,
    color_by=color_by,
    panel_height=460 if len(results) <= 4 else 380,
)
st.plotly_chart(PrebuiltFigure(figure), key=f"{K}.chart", config={"displaylogo": False})

first = results[0]
radius = default_radius(surface)
lattice = first.kind == "lattice"
grains = sorted({r.record_every for r in results})  # Lookahead's chunk can differ from the others'
if grains == [1]:
    grain = ""
elif len(grains) == 1:
    grain = f" Convergence is read every {grains[0]} steps (memory), so a step s means within (s − {grains[0]}, s]."
else:
    grain = (
        f" Convergence is read every {' or '.join(map(str, grains))} steps, by optimizer (memory), so a step s "
        f"means within the k steps up to s."
    )
stride = int(np.ceil(n / HOVER_MAX))
hover_note = "every start" if stride == 1 else f"one start in {stride} along each axis, to keep the page light"
if lattice:
    what = (
        "Rastrigin lists only its global minimum, but its local minima sit next to the integer points: a run "
        "is labelled by the integer point it ends within r of. Five colours repeat so that neighbouring "
        "basins always differ; the table counts the global minimum's basin."
    )
else:
    what = "Colours are the minima A, B, … marked with stars."
st.caption(
    f"{what} A run has converged when it ends within r = {radius:.2g} (2% of the view) of a minimum; "
    f"light grey: it ends near none within {steps} steps; dark grey: it diverged. Hover a panel for a "
    f"start and its outcome ({hover_note}).{grain}"
)

names = attractor_names(first)
rows = []
for r, title in zip(results, titles):
    frac = r.fractions()
    row = {"optimizer": title}
    if lattice:
        row["→ global minimum (0, 0)"] = f"{100 * frac.get(0, 0.0):.1f}%"
        row["→ a local minimum"] = f"{100 * sum(v for k, v in frac.items() if k > 0):.1f}%"
    else:
        for j, nm in enumerate(names):
            row[f"→ {nm}"] = f"{100 * frac.get(j, 0.0):.1f}%"
    row["not converged"] = f"{100 * frac.get(-1, 0.0):.1f}%"
    row["diverged"] = f"{100 * frac.get(-2, 0.0):.1f}%"
    conv = r.steps_to_converge[r.label >= 0]
    row["median steps to converge"] = int(np.median(conv)) if conv.size else None
    row["seconds"] = round(r.seconds, 2)
    rows.append(row)
st.dataframe(rows, hide_index=True, width="stretch")
