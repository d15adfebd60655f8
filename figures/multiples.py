"""Small multiples: one panel per run on the same surface, all moved by one Play/scrubber.

Used by the lecture pages (saddle side by side, the ravine lesson). Each panel has its own axes,
the shared surface drawing (layout image + contour lines) and one path with its moving head.
"""

from __future__ import annotations

import math

from figures.animation import MAX_FRAMES, controls, frame_steps, position_at
from figures.palette import color_for
from figures.playground import RunView, contour_trace, legend_label, rounded, visible_path


def small_multiples(
    surface,
    runs: list[RunView],
    layers: dict,
    *,
    titles: list[str] | None = None,
    cols: int | None = None,
    presenter: bool = False,
    frame_ms: int = 60,
    frames: int = MAX_FRAMES,
    panel_height: int = 300,
) -> dict:
    (x0, x1), (y0, y1) = surface.bounds
    n = max(len(runs), 1)
    cols = cols or min(4, n)
    rows = math.ceil(n / cols)
    font = 18 if presenter else 12
    controls_px = 90
    height = rows * panel_height + controls_px + 40
    ctrl_frac = controls_px / height
    gap_x, gap_y = 0.07, 0.06 / rows
    data, images, annotations, heads = [], [], [], []
    layout = dict(
        height=height,
        margin=dict(l=40, r=10, t=30, b=10),
        font=dict(size=font),
        showlegend=False,
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        hovermode="closest",
        uirevision="keep",
    )
    for i, run in enumerate(runs):
        r, c = divmod(i, cols)
        ax = "" if i == 0 else str(i + 1)
        dx = ((c + gap_x / 2) / cols, (c + 1 - gap_x / 2) / cols)
        top = 1 - (r / rows) * (1 - ctrl_frac)
        bottom = 1 - ((r + 1) / rows) * (1 - ctrl_frac) + gap_y
        layout[f"xaxis{ax}"] = dict(
            domain=list(dx),
            range=[x0, x1],
            showgrid=False,
            zeroline=False,
            mirror=True,
            linecolor="#444",
            anchor=f"y{ax}",
            constrain="domain",
        )
        layout[f"yaxis{ax}"] = dict(
            domain=[bottom, top - 0.04],
            range=[y0, y1],
            showgrid=False,
            zeroline=False,
            mirror=True,
            linecolor="#444",
            anchor=f"x{ax}",
            scaleanchor=f"x{ax}",
            constrain="domain",
        )
        images.append(
            dict(
                source=layers["png"],
                xref=f"x{ax}",
                yref=f"y{ax}",
                x=x0,
                y=y1,
                sizex=x1 - x0,
                sizey=y1 - y0,
                sizing="stretch",
                layer="below",
            )
        )
        data.append(contour_trace(layers, width=0.7, xaxis=f"x{ax}", yaxis=f"y{ax}"))
        if surface.minima:
            data.append(
                dict(
                    type="scatter",
                    mode="markers",
                    x=[m[0] for m in surface.minima],
                    y=[m[1] for m in surface.minima],
                    xaxis=f"x{ax}",
                    yaxis=f"y{ax}",
                    hoverinfo="skip",
                    marker=dict(symbol="star", size=11, color="#fff", line=dict(color="#000", width=1)),
                )
            )
        color = color_for(run.key, i)
        idx = visible_path(run, surface.bounds)
        data.append(
            dict(
                type="scatter",
                mode="lines",
                x=rounded(run.xy[idx, 0]),
                y=rounded(run.xy[idx, 1]),
                name=run.label,
                xaxis=f"x{ax}",
                yaxis=f"y{ax}",
                line=dict(color=color, width=2.5 if presenter else 1.8),
                customdata=run.steps[idx].tolist(),
                hovertemplate=f"<b>{run.label}</b><br>step %{{customdata}}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>",
            )
        )
        heads.append(len(data))
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=[float(run.xy[0, 0])],
                y=[float(run.xy[0, 1])],
                xaxis=f"x{ax}",
                yaxis=f"y{ax}",
                hoverinfo="skip",
                name=run.label,
                marker=dict(size=13 if presenter else 10, color=color, line=dict(color="#fff", width=1.5)),
            )
        )
        title = titles[i] if titles else legend_label(run.label, run.diverged_at)
        annotations.append(
            dict(
                text=f"<b>{title}</b>",
                x=sum(dx) / 2,
                y=top,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="top",
                showarrow=False,
                font=dict(size=font, color=color),
            )
        )
    n_steps = max((int(r.steps[-1]) for r in runs), default=0)
    steps = frame_steps(n_steps, frames)
    frame_list = [
        dict(
            name=str(s),
            traces=heads,
            data=[dict(zip(("x", "y"), ([v] for v in position_at(r.steps, r.xy, s)))) for r in runs],
        )
        for s in steps
    ]
    slider, buttons = controls(steps, frame_ms, font, y=ctrl_frac * 0.9)
    layout.update(images=images, annotations=annotations, sliders=[slider], updatemenus=[buttons])
    return dict(data=data, layout=layout, frames=frame_list)
