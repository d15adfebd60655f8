"""Figures for the step-by-step page: one update drawn as arrows, and the state as bars."""

from __future__ import annotations

import math

from figures.palette import color_for
from figures.playground import contour_trace, rounded

# What each state field is called on the page (fields not listed are not drawn as bars).
STATE_LABELS = {
    "buf": "velocity b / u",
    "sum_sq": "Σ g² (AdaGrad)",
    "square_avg": "E[g²] / v",
    "grad_avg": "mean g (centered)",
    "acc_delta": "E[Δ²]",
    "m": "first moment m",
    "v": "second moment v",
    "v_max": "max v (AMSGrad)",
    "u": "max |g| (Adamax)",
    "eta": "clipped step η̂",
    "step_size": "Rprop step s",
    "prev": "previous g (Rprop)",
}


GRADIENT_REACH = 4.0  # the −ηg arrow is drawn at most this many times the optimizer's own reach when zoomed


def _arrow(x0, y0, dx, dy, color, text, presenter) -> list[dict]:
    """An arrow from (x0, y0) by (dx, dy), labelled at its head (plotly puts an arrow's own text
    at its tail, where several arrows would overlap)."""
    arrow = dict(
        x=x0 + dx,
        y=y0 + dy,
        ax=x0,
        ay=y0,
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=3,
        arrowsize=1.2,
        arrowwidth=3 if presenter else 2,
        arrowcolor=color,
        text="",
        standoff=0,
        startstandoff=0,
    )
    label = dict(
        x=x0 + dx,
        y=y0 + dy,
        xref="x",
        yref="y",
        showarrow=False,
        text=f"<b>{text}</b>",
        xanchor="left" if dx >= 0 else "right",
        yanchor="bottom" if dy >= 0 else "top",
        font=dict(color=color, size=16 if presenter else 12),
        bgcolor="rgba(255,255,255,0.7)",
    )
    return [arrow, label]


def step_figure(
    surface,
    layers: dict,
    details: list,
    t: int,
    key: str,
    *,
    zoom: bool = True,
    presenter: bool = False,
    probe_label: str = "look-ahead point",
) -> dict:
    """Update number t (1-based) of `details`: the path so far, the gradient step, the actual step,
    and the optimizer's own construction (look-ahead point, Newton step, slow weights)."""
    d = details[t - 1]
    (x0, x1), (y0, y1) = surface.bounds
    color = color_for(key)
    xs = [p.position[0] for p in details[:t]] + [d.new_position[0]]
    ys = [p.position[1] for p in details[:t]] + [d.new_position[1]]
    data = [
        contour_trace(layers),
        dict(
            type="scatter",
            mode="lines+markers",
            x=rounded(xs),
            y=rounded(ys),
            name="path",
            showlegend=False,
            line=dict(color=color, width=2),
            marker=dict(size=5, color=color),
            hovertemplate="(%{x:.4f}, %{y:.4f})<extra></extra>",
        ),
        dict(
            type="scatter",
            mode="markers",
            x=[d.position[0]],
            y=[d.position[1]],
            name=f"w at step {t - 1}",
            marker=dict(size=14, color=color, line=dict(color="#fff", width=2)),
        ),
    ]
    px, py = d.position
    notes, reach = [], [0.0]
    for label, (ax, ay) in d.explanation.arrows:  # the optimizer's own construction (−ηm̂, Newton's step)
        notes += _arrow(px, py, ax, ay, "#117733" if "m̂" in label else "#882255", label, presenter)
        reach += [abs(ax), abs(ay)]
    # The move as the optimizer's sub-steps, head to tail (Lookahead: the fast step, then the sync jump).
    moves = d.explanation.moves or [("step", d.step_vector)]
    x, y = px, py
    for label, (mx, my) in moves:
        notes += _arrow(x, y, mx, my, color, label, presenter)
        x, y = x + mx, y + my
        reach += [abs(x - px), abs(y - py)]
    if d.probe != d.position:
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=[d.probe[0]],
                y=[d.probe[1]],
                name=probe_label,
                marker=dict(size=13, symbol="circle-open", color=color, line=dict(width=3)),
            )
        )
        reach += [abs(d.probe[0] - px), abs(d.probe[1] - py)]
    for name, (mx, my) in d.explanation.markers.items():
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=[mx],
                y=[my],
                name=name,
                marker=dict(size=14, symbol="diamond", color="#999933", line=dict(color="#000", width=1)),
            )
        )
        reach += [abs(mx - px), abs(my - py)]
    # The plain gradient step −ηg, for comparison. When it dwarfs everything the optimizer did (L-BFGS
    # and Adam at η = 1 on a steep wall: hundreds of times the step), the zoomed view would shrink the
    # step to a dot: it is drawn shortened to a few times the step, and its label says by how much.
    gx, gy = d.extras["gradient_step"]
    label, rest, length = "−ηg", max(reach), math.hypot(gx, gy)
    if zoom and rest > 0 and length > GRADIENT_REACH * rest:
        shrink = GRADIENT_REACH * rest / length
        gx, gy = gx * shrink, gy * shrink
        label = f"−ηg (drawn at {shrink:.2g}× its length)"
    notes = _arrow(px, py, gx, gy, "#555555", label, presenter) + notes
    reach += [abs(gx), abs(gy)]
    if zoom:
        half = max(max(reach) * 1.6, 1e-6 * max(x1 - x0, y1 - y0))
        xr, yr = [px - half, px + half], [py - half, py + half]
    else:
        xr, yr = [x0, x1], [y0, y1]
    return dict(
        data=data,
        layout=dict(
            height=620 if presenter else 520,
            margin=dict(l=50, r=10, t=30, b=40),
            font=dict(size=18 if presenter else 12),
            xaxis=dict(range=xr, title=dict(text="x"), zeroline=False, constrain="domain"),
            yaxis=dict(range=yr, title=dict(text="y"), zeroline=False, scaleanchor="x", constrain="domain"),
            images=[
                dict(
                    source=layers["png"],
                    xref="x",
                    yref="y",
                    x=x0,
                    y=y1,
                    sizex=x1 - x0,
                    sizey=y1 - y0,
                    sizing="stretch",
                    layer="below",
                )
            ],
            annotations=notes,
            legend=dict(orientation="h", y=1.02, yanchor="bottom"),
            plot_bgcolor="#fff",
            uirevision=f"step-{zoom}",
        ),
    )


def state_bars(detail, *, presenter: bool = False, labels=None) -> dict:
    """Per-coordinate state after the update (bars: x and y) with the value before (open marks).
    labels: the optimizer's own names for its fields (OptimizerSpec.state_labels), beside the common ones."""
    names = {**STATE_LABELS, **(labels or {})}

    def used(name, after):  # an unused slot (plain Adam's v_max, RMSprop's momentum buffer) stays at 0
        before = detail.state_before.get(name)
        return any(after) or (isinstance(before, tuple) and any(before))

    fields = [
        (k, v)
        for k, v in detail.state_after.items()
        if isinstance(v, tuple) and k.split(".")[-1] in names and used(k, v)
    ]
    n = max(len(fields), 1)
    data, layout = (
        [],
        dict(
            height=300 if presenter else 240,
            margin=dict(l=40, r=10, t=40, b=30),
            showlegend=False,
            font=dict(size=16 if presenter else 11),
            plot_bgcolor="#fff",
            annotations=[],
        ),
    )
    gap = 0.06
    for i, (name, after) in enumerate(fields):
        ax = "" if i == 0 else str(i + 1)
        dom = [i / n + gap / 2, (i + 1) / n - gap / 2]
        before = detail.state_before.get(name)
        data.append(
            dict(
                type="bar",
                x=["x", "y"],
                y=[_finite(after[0]), _finite(after[1])],
                xaxis=f"x{ax}",
                yaxis=f"y{ax}",
                marker=dict(color=["#0072B2", "#E69F00"]),
                hovertemplate="%{x}: %{y:.4g}<extra>after</extra>",
            )
        )
        if isinstance(before, tuple):
            data.append(
                dict(
                    type="scatter",
                    mode="markers",
                    x=["x", "y"],
                    y=[_finite(before[0]), _finite(before[1])],
                    xaxis=f"x{ax}",
                    yaxis=f"y{ax}",
                    marker=dict(symbol="line-ew-open", size=26, color="#000", line=dict(width=2, color="#000")),
                    hovertemplate="%{x}: %{y:.4g}<extra>before</extra>",
                )
            )
        layout[f"xaxis{ax}"] = dict(domain=dom, anchor=f"y{ax}")
        layout[f"yaxis{ax}"] = dict(anchor=f"x{ax}", zeroline=True, zerolinecolor="#888", exponentformat="power")
        layout["annotations"].append(
            dict(
                text=names[name.split(".")[-1]],
                x=sum(dom) / 2,
                y=1.08,
                xref="paper",
                yref="paper",
                showarrow=False,
                xanchor="center",
            )
        )
    return dict(data=data, layout=layout)


def _finite(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None
