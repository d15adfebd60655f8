"""Adam's bias correction: why the first steps would be wrong without it, with the notes' numbers."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine import simulate
from engine.lessons import bias_correction_rows, bias_correction_sentence
from figures.playground import playground_figure, run_view
from optimizers.adam import ADAM_UNCORRECTED
from surfaces import available_surfaces, get_surface, surface_class
from ui.compute import surface_drawing
from ui.downloads import figure_exports
from ui.plotly_figure import PrebuiltFigure
from ui.shell import page_setup

page_setup()
K = "bc"
st.title("Adam's bias correction")
st.markdown(
    "Adam's moments start at zero. Unrolling s₍t₎ = ρ₁ s₍t−1₎ + (1 − ρ₁) g₍t₎ gives "
    "s₍t₎ = (1 − ρ₁) Σᵢ ρ₁^(t−i) gᵢ, so for gradients of steady mean, E[s₍t₎] = (1 − ρ₁ᵗ) E[g]: too small by "
    "exactly (1 − ρ₁ᵗ), and likewise r₍t₎ by (1 − ρ₂ᵗ). Dividing by these factors removes the bias."
)

c1, c2, c3 = st.columns(3)
beta1 = c1.slider("ρ₁ (β₁)", 0.0, 0.99, 0.9, 0.01, key=f"{K}.b1")
beta2 = c2.select_slider("ρ₂ (β₂)", [0.9, 0.95, 0.99, 0.995, 0.999, 0.9999], value=0.999, key=f"{K}.b2")
steps_shown = c3.slider("Rows", 5, 30, 10, key=f"{K}.rows")
st.markdown(bias_correction_sentence(beta1, beta2))
st.dataframe(bias_correction_rows(beta1, beta2, steps_shown), hide_index=True, width="stretch")

st.subheader("The first steps, with and without the correction")
sc1, sc2, sc3 = st.columns(3)
surface_key = sc1.selectbox(
    "Surface", available_surfaces(), key=f"{K}.surface", format_func=lambda k: surface_class(k).name
)
lr = sc2.select_slider(
    "Learning rate", [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5], value=0.05, key=f"{K}.lr"
)
n = sc3.select_slider("Steps", [10, 20, 50, 100, 200], value=50, key=f"{K}.n")
surface = get_surface(surface_key)
hp = {"lr": lr, "beta1": beta1, "beta2": beta2}
with_bc = simulate(surface, "adam", steps=n, hparams=hp, device="cpu")
without = simulate(surface, ADAM_UNCORRECTED, steps=n, hparams=hp, device="cpu")
runs = [run_view(with_bc, "Adam (corrected)"), run_view(without, "Adam without correction")]
fig = playground_figure(surface, runs, layers=surface_drawing(surface_key, ()))
st.plotly_chart(PrebuiltFigure(fig), key=f"{K}.fig")
figure_exports(fig, key=f"{K}.export", name="gradscape-bias-correction")
first = [float(np.abs(r.xy[1] - r.xy[0]).max()) for r in runs]
near = abs(first[0] - lr) <= 1e-3 * lr
st.caption(
    f"First step, largest coordinate: corrected {first[0]:.4g} "
    + (
        f"(≈ η = {lr:g} whatever the gradient's size), "
        if near
        else f"(η = {lr:g}; here ε is not negligible against the gradient), "
    )
    + f"uncorrected {first[1]:.4g}."
)
