"""gradscape: watch optimizers move on 2D loss surfaces (placeholder page until the Playground lands)."""

import plotly.graph_objects as go
import streamlit as st
import torch

from engine import simulate
from optimizers import available_optimizers, get_optimizer
from surfaces import available_surfaces, get_surface

st.set_page_config(page_title="gradscape", layout="wide")
st.title("gradscape")
st.caption("Optimizers on 2D loss surfaces. The full Playground is on its way; this page draws the default runs.")

surface_key = st.selectbox("Surface", available_surfaces(), format_func=lambda k: get_surface(k).name)
chosen = st.multiselect("Optimizers", available_optimizers(), default=["sgd", "momentum", "adam"],
                        format_func=lambda k: get_optimizer(k).name)
surface = get_surface(surface_key)
(x0, x1), (y0, y1) = surface.bounds
xs, ys = torch.linspace(x0, x1, 120, dtype=torch.float64), torch.linspace(y0, y1, 120, dtype=torch.float64)
grid = surface.value_xy(xs.view(1, -1), ys.view(-1, 1))
fig = go.Figure(go.Contour(x=xs.numpy(), y=ys.numpy(), z=grid.numpy(), colorscale="Greys", showscale=False,
                           contours=dict(coloring="lines"), ncontours=30))
for key in chosen:
    traj = simulate(surface, key, steps=300, device="cpu")
    label = get_optimizer(key).name
    if int(traj.diverged_at[0]) >= 0:
        label += f" (diverged at step {int(traj.diverged_at[0])})"
    fig.add_scatter(x=traj.xy[0, :, 0].numpy(), y=traj.xy[0, :, 1].numpy(), mode="lines", name=label)
fig.update_layout(xaxis=dict(range=[x0, x1]), yaxis=dict(range=[y0, y1], scaleanchor="x"), height=600)
st.plotly_chart(fig, use_container_width=True)
