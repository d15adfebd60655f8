"""The scrub figure: every optimizer's path at each of many values of one hyperparameter, and a slider
inside the figure that switches between them in the browser (no server round trip).

Each value is one frame; a frame replaces the path and end-point traces only, without a redraw (the
surface is a layout image and an untouched contour scatter). The slider's steps animate to their
frame, so dragging it moves every path at the browser's frame rate. layout.meta.scrub carries the
values, so the app can read back the one on show ("Apply").
"""

from __future__ import annotations

import numpy as np

from figures.palette import color_for
from figures.playground import contour_trace, rounded, start_trace

FAR = 10.0  # a point farther than FAR view widths outside the view is cut (a diverging path's tail)


def value_label(v: float) -> str:
    """A slider label: 0.0316, 3.2e-05, 12."""
    if v == 0:
        return "0"
    if abs(v) < 1e-3 or abs(v) >= 1e4:
        return f"{v:.2g}".replace("e-0", "e-").replace("e+0", "e")
    return f"{v:.3g}"


def nearest_index(values, current: float) -> int:
    """The value closest to `current` (on a log scale when every value is positive)."""
    values = np.asarray(values, dtype=np.float64)
    if current > 0 and np.all(values > 0):
        return int(np.argmin(np.abs(np.log(values) - np.log(current))))
    return int(np.argmin(np.abs(values - current)))


def _cut(xy: np.ndarray, bounds) -> tuple[list, list]:
    """x and y rows with the far-off tail of a diverging path as gaps (NaN)."""
    (x0, x1), (y0, y1) = bounds
    wx, wy = (x1 - x0) * FAR, (y1 - y0) * FAR
    far = ~np.isfinite(xy).all(axis=1) | (xy[:, 0] < x0 - wx) | (xy[:, 0] > x1 + wx)
    far |= (xy[:, 1] < y0 - wy) | (xy[:, 1] > y1 + wy)
    out = np.where(far[:, None], np.nan, xy)
    return rounded(out[:, 0]), rounded(out[:, 1])


def _gone(scrubs: list, names: list[str], v: int) -> dict:
    """The note of which runs diverged at value v (a diverged path is cut where it leaves)."""
    gone = [f"{label} (step {s.diverged_at[v]})" for s, label in zip(scrubs, names) if s.diverged_at[v] >= 0]
    return dict(
        text=("diverged: " + ", ".join(gone)) if gone else "",
        x=0.01,
        y=0.99,
        xref="paper",
        yref="paper",
        xanchor="left",
        yanchor="top",
        showarrow=False,
        bgcolor="rgba(255,255,255,0.8)" if gone else "rgba(0,0,0,0)",
        font=dict(color="#a00"),
    )


def scrub_figure(
    surface, scrubs: list, names: list[str], layers: dict, current: float, presenter=False, label: str | None = None
) -> dict:
    """scrubs: engine.sweeps.Scrub per optimizer, all over the same values; names: their legend names;
    layers: the surface drawing (figures.playground.surface_layers); current: the value shown first;
    label: the hyperparameter as the reader knows it ("learning rate η"; default its name)."""
    (x0, x1), (y0, y1) = surface.bounds
    values = scrubs[0].values
    name = scrubs[0].name
    label = label or name
    first = nearest_index(values, current)
    font = 20 if presenter else 13
    data = [
        contour_trace(layers),
        dict(
            type="scatter",
            mode="markers",
            x=[float(m[0]) for m in surface.minima],
            y=[float(m[1]) for m in surface.minima],
            name="minimum",
            showlegend=False,
            marker=dict(symbol="star", size=12, color="#fff", line=dict(color="#000", width=1.5)),
            hoverinfo="skip",
        ),
    ]
    if scrubs:
        start = scrubs[0].xy[0, 0]
        data.append(start_trace(start, hoverinfo="skip"))
    moving = []
    for i, (s, run_name) in enumerate(zip(scrubs, names)):
        color = color_for(s.optimizer, i)
        fixed = f" (no {label})" if s.constant else ""
        x, y = _cut(s.xy[first], surface.bounds)
        moving.append(len(data))
        data.append(
            dict(
                type="scatter",
                mode="lines",
                x=x,
                y=y,
                name=run_name + fixed,
                legendgroup=f"run{i}",
                line=dict(color=color, width=3.5 if presenter else 2.2, dash="dot" if s.constant else "solid"),
                hoverinfo="skip",
            )
        )
        moving.append(len(data))
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=x[-1:],
                y=y[-1:],
                name=run_name,
                legendgroup=f"run{i}",
                showlegend=False,
                marker=dict(size=13 if presenter else 10, color=color, line=dict(color="#fff", width=1.5)),
                hoverinfo="skip",
            )
        )
    frames = []
    for v in range(len(values)):
        fdata = []
        for s in scrubs:
            x, y = _cut(s.xy[v], surface.bounds)
            fdata.extend((dict(x=x, y=y), dict(x=x[-1:], y=y[-1:])))
        frames.append(dict(name=str(v), data=fdata, traces=moving, layout=dict(annotations=[_gone(scrubs, names, v)])))
    still = dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))
    slider = dict(
        active=first,
        x=0.0,
        len=1.0,
        y=0.0,
        yanchor="top",
        pad=dict(t=30, b=4),
        currentvalue=dict(prefix=f"{label} = ", font=dict(size=font + 2, color="#222"), xanchor="left"),
        font=dict(size=font - 2),
        steps=[
            dict(method="animate", label=value_label(float(val)), args=[[str(v)], still])
            for v, val in enumerate(values)
        ],
    )
    image = dict(source=layers["png"], xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0, sizey=y1 - y0)
    image.update(sizing="stretch", layer="below")
    axis = dict(showgrid=False, zeroline=False, linecolor="#444", mirror=True, ticks="outside")
    layout = dict(
        height=760 if presenter else 640,
        margin=dict(l=60, r=20, t=40, b=110),
        font=dict(size=font),
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=font)),
        xaxis=dict(axis, range=[x0, x1], title=dict(text="x"), constrain="domain"),
        yaxis=dict(axis, range=[y0, y1], title=dict(text="y"), scaleanchor="x", scaleratio=1, constrain="domain"),
        images=[image],
        annotations=[_gone(scrubs, names, first)],
        sliders=[slider],
        dragmode=False,
        hovermode=False,
        meta=dict(scrub=dict(name=name, values=[float(v) for v in values])),
    )
    return dict(data=data, layout=layout, frames=frames)
