"""Step by step: one optimizer, one update at a time, with every quantity it computed."""

from __future__ import annotations

import streamlit as st

from figures.anatomy import state_bars, step_figure
from optimizers import available_optimizers, get_optimizer
from surfaces import available_surfaces, get_surface, surface_class
from ui.compute import freeze, step_details, surface_drawing
from ui.downloads import figure_exports
from ui.lecture import hparam_widgets
from ui.plotly_figure import PrebuiltFigure
from ui.shell import page_setup

page_setup()
K = "st"
st.title("Step by step")
st.caption(
    "One optimizer, one update at a time: the gradient, the step it actually takes, and the quantities behind "
    "it (moments, accumulators, look-ahead points, Newton's step), with the numbers spelled out."
)

sb = st.sidebar
surface_key = sb.selectbox(
    "Surface", available_surfaces(), key=f"{K}.surface", format_func=lambda k: surface_class(k).name
)
key = sb.selectbox(
    "Optimizer",
    available_optimizers(),
    index=available_optimizers().index("adam"),
    key=f"{K}.opt",
    format_func=lambda k: get_optimizer(k).name,
)
n_steps = sb.select_slider("Updates to compute", [10, 20, 50, 100, 200], value=50, key=f"{K}.n")
zoom = sb.toggle("Zoom to the current step", value=True, key=f"{K}.zoom")
cls = surface_class(surface_key)
hp = hparam_widgets(f"{K}.{surface_key}", [key], cls.lesson_hparams, container=sb)[key]

surface = get_surface(surface_key)
details, error = step_details(surface_key, (), key, freeze(hp), n_steps, None)
if error:
    st.error(error)
    st.stop()
if not details:
    st.warning("No update could be computed from this start.")
    st.stop()

t_key = f"{K}.t"
if t_key not in st.session_state or st.session_state[t_key] > len(details):
    st.session_state[t_key] = 1


def _move(delta: int) -> None:
    st.session_state[t_key] = min(max(st.session_state[t_key] + delta, 1), len(details))


c1, c2, c3 = st.columns([1, 1, 6])
c1.button("◀ Back", on_click=_move, args=(-1,), width="stretch", key=f"{K}.back")
c2.button("Next ▶", on_click=_move, args=(1,), width="stretch", key=f"{K}.next")
c3.slider("Update", 1, len(details), key=t_key, label_visibility="collapsed")
t = st.session_state[t_key]
d = details[t - 1]
if len(details) < n_steps:
    st.warning(f"The run left the finite numbers after update {len(details)}: lower the learning rate.")

left, right = st.columns([3, 2])
with left:
    layers = surface_drawing(surface_key, ())
    spec = get_optimizer(key)
    fig = step_figure(surface, layers, details, t, key, zoom=zoom, probe_label=spec.probe_label)
    st.plotly_chart(PrebuiltFigure(fig), key=f"{K}.fig")
    figure_exports(fig, key=f"{K}.export", name=f"gradscape-{key}-update-{t}")
with right:
    st.markdown(f"**Update {t}** of {get_optimizer(key).name}, learning rate {d.lr:.4g}")
    for sentence in d.sentences:
        st.markdown(f"- {sentence}")
    st.markdown(f"w: ({d.position[0]:.5g}, {d.position[1]:.5g}) → ({d.new_position[0]:.5g}, {d.new_position[1]:.5g})")
    bars = state_bars(d, labels=spec.state_labels)
    if bars["data"]:
        st.plotly_chart(PrebuiltFigure(bars), key=f"{K}.bars")
        st.caption(
            "Bars: each state quantity after this update, for x (blue) and y (orange); the black dash is its "
            "value before the update."
        )
