"""Small figures: the schedule preview and the 3D surface view."""

from __future__ import annotations

import numpy as np

from figures.palette import color_for
from figures.playground import RunView, rounded, visible_path


def schedule_preview(values: np.ndarray, title: str = "η_t / η₀") -> dict:
    steps = list(range(len(values)))
    return dict(
        data=[
            dict(
                type="scatter",
                mode="lines",
                x=steps,
                y=rounded(values),
                line=dict(color="#0072B2", width=2),
                hovertemplate="step %{x}<br>×%{y:.4g}<extra></extra>",
            )
        ],
        layout=dict(
            height=150,
            margin=dict(l=40, r=10, t=24, b=30),
            title=dict(text=title, font=dict(size=12)),
            xaxis=dict(title=dict(text="step")),
            yaxis=dict(rangemode="tozero"),
            showlegend=False,
        ),
    )


def surface_3d(surface, runs: list[RunView], grid: tuple, *, presenter: bool = False) -> dict:
    """The surface as a 3D mesh with the paths lying on it (loss as height, clipped for readability)."""
    xs, ys, z = grid
    cap = float(np.nanpercentile(z, 90))  # steep walls would flatten everything else
    zc = np.minimum(z, cap)
    data = [
        dict(
            type="surface",
            x=rounded(xs[::2]),
            y=rounded(ys[::2]),
            z=[rounded(row) for row in zc[::2, ::2]],
            colorscale="Blues",
            reversescale=True,
            showscale=False,
            opacity=0.85,
            hoverinfo="skip",
        )
    ]
    for i, run in enumerate(runs):
        idx = visible_path(run, surface.bounds)
        data.append(
            dict(
                type="scatter3d",
                mode="lines",
                name=run.label,
                x=rounded(run.xy[idx, 0]),
                y=rounded(run.xy[idx, 1]),
                z=rounded(np.minimum(run.loss[idx], cap)),
                line=dict(color=color_for(run.key, i), width=6 if presenter else 4),
            )
        )
    return dict(
        data=data,
        layout=dict(
            height=640,
            margin=dict(l=0, r=0, t=10, b=0),
            font=dict(size=18 if presenter else 12),
            scene=dict(
                xaxis=dict(title=dict(text="x")), yaxis=dict(title=dict(text="y")), zaxis=dict(title=dict(text="loss"))
            ),
            legend=dict(orientation="h"),
            uirevision="keep3d",
        ),
    )
