"""A real network's loss landscape (engine/landscape.py): the training loss over the plane through the
shared start θ₀ and two optimizers' final weights, every optimizer's path projected onto it, and beside
it the real training and held-out loss against the step.

Pure Plotly dicts, no Streamlit. Not animated, so the loss can be a real contour trace. The contour
shows log₁₀ of the loss (a trained network's loss spans two or three decades over the plane); its
colour bar is labelled in loss values and the hover gives the loss itself. Paths are thinned to
MAX_PATH_POINTS points each (always keeping the first and the last), so 4 optimizers × 1,000 steps on
an 81 × 81 grid stay a few hundred kB.
"""

from __future__ import annotations

import math

import numpy as np

from figures.playground import rounded

MAX_PATH_POINTS = 600  # per path on the plane and per loss curve
LARGE_OFF_SHARE = 0.5  # above this, a path's contour values are not the losses it met (the page warns)
_SHADE = [[0.0, "#ffffff"], [0.3, "#e4edf5"], [0.65, "#b9cde0"], [1.0, "#7f9fbd"]]  # light: paths stand out
_NICE = (1, 2, 5)


def _np(t) -> np.ndarray:
    """A tensor or array as float64 NumPy (CPU tensors convert without copying twice)."""
    return np.asarray(t.detach().cpu() if hasattr(t, "detach") else t, dtype=np.float64)


def _thin(n: int, limit: int = MAX_PATH_POINTS) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _log10(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(values)
    out[~np.isfinite(out)] = np.nan
    return out


def _nice_ticks(lo: float, hi: float) -> tuple[list, list]:
    """Colour-bar ticks at 1-2-5 loss values between 10^lo and 10^hi (log₁₀ positions, loss labels)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [], []
    vals, text = [], []
    for exponent in range(math.floor(lo) - 1, math.ceil(hi) + 1):
        for m in _NICE:
            v = m * 10.0**exponent
            if lo - 1e-9 <= math.log10(v) <= hi + 1e-9:
                vals.append(math.log10(v))
                text.append(f"{v:g}")
    if len(vals) > 9:  # keep the decades only
        keep = [i for i, t in enumerate(text) if t.lstrip("0.").startswith("1")]
        vals, text = [vals[i] for i in keep], [text[i] for i in keep]
    return vals, text


def legend_name(name: str, key: str, path, plane: tuple) -> str:
    """A path's legend entry: which end of the plane it defines, or how much of it is off the plane."""
    if key == plane[0]:
        return f"{name} · θ_A: defines the plane"
    if key == plane[1]:
        return f"{name} · θ_B: defines the plane"
    return f"{name} · {100 * path.off_share:.0f}% off the plane"


def loss_contour(a: np.ndarray, b: np.ndarray, loss: np.ndarray, font: int, **colorbar_place) -> dict:
    """A grid of losses (loss[i, j] at (a[j], b[i])) as a contour of log₁₀ loss, light where it is low, with a
    colour bar labelled in loss values and the loss itself as customdata for the hover."""
    logz = _log10(loss)
    finite = logz[np.isfinite(logz)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
    tickvals, ticktext = _nice_ticks(lo, hi)
    if len(tickvals) < 2 and math.isfinite(lo):  # a grid spanning less than one 1-2-5 step: label its ends
        tickvals, ticktext = [lo, hi], [f"{10**lo:.3g}", f"{10**hi:.3g}"]
    return dict(
        type="contour",
        x=rounded(a),
        y=rounded(b),
        z=rounded(logz, 5),
        customdata=rounded(loss, 4),
        colorscale=_SHADE,
        ncontours=28,
        contours=dict(coloring="heatmap", showlines=True),
        line=dict(color="rgba(60,80,100,0.35)", width=0.8),
        colorbar=dict(
            title=dict(text="training loss", side="right", font=dict(size=font)),
            tickvals=tickvals,
            ticktext=ticktext,
            thickness=14,
            tickfont=dict(size=font - 1),
            **colorbar_place,
        ),
        showlegend=False,
    )


def landscape_figure(scape, names: dict, colors: dict, presenter: bool = False) -> dict:
    """The figure for an engine.landscape.Landscape: the plane (left) and the loss curves (right).

    names and colors map each optimizer key to its display name and colour."""
    font = 17 if presenter else 13
    line_w = 3.5 if presenter else 2.5
    a, b = _np(scape.a), _np(scape.b)
    plane = tuple(scape.plane)
    name_a, name_b = names.get(plane[0], plane[0]), names.get(plane[1], plane[1])
    traces: list[dict] = [
        dict(
            loss_contour(a, b, _np(scape.loss), font, x=0.565, xanchor="left", len=0.9),
            name="training loss on the plane",
            hovertemplate="a %{x:.3g}, b %{y:.3g}<br>training loss %{customdata:.4g}<extra>plane</extra>",
            xaxis="x",
            yaxis="y",
        )
    ]
    for i, (key, path) in enumerate(scape.paths.items()):
        name, color = names.get(key, key), colors.get(key, "#444444")
        on_plane = key in plane
        steps = _np(path.steps).astype(int)
        pa, pb, pl, ph, off = (_np(v) for v in (path.a, path.b, path.loss, path.held_out_loss, path.off_plane))
        keep = _thin(len(steps))
        custom = [[int(s), v, o] for s, v, o in zip(steps[keep].tolist(), rounded(pl[keep], 5), rounded(off[keep], 4))]
        traces.append(
            dict(
                type="scatter",
                mode="lines",
                name=legend_name(name, key, path, plane),
                legendgroup=key,
                x=rounded(pa[keep]),
                y=rounded(pb[keep]),
                customdata=custom,
                line=dict(color=color, width=line_w),
                hovertemplate=(
                    f"{name}, step %{{customdata[0]}}<br>training loss %{{customdata[1]:.4g}}"
                    "<br>off the plane %{customdata[2]:.3g}<extra></extra>"
                ),
                xaxis="x",
                yaxis="y",
            )
        )
        label = f"θ_{'A' if key == plane[0] else 'B'}" if on_plane else ""
        end_note = (
            f"{label} = {name}'s final weights: on the plane"
            if on_plane
            else f"{name}'s final weights, projected ({100 * path.off_share:.0f}% of its distance off the plane)"
        )
        traces.append(
            dict(
                type="scatter",
                mode="markers+text" if on_plane else "markers",
                name=f"{name} end",
                legendgroup=key,
                showlegend=False,
                x=rounded(pa[-1:]),
                y=rounded(pb[-1:]),
                text=[label] if on_plane else None,
                textposition="top center",
                textfont=dict(size=font, color=color),
                marker=dict(
                    symbol="star" if on_plane else "circle",
                    size=(20 if on_plane else 12) + (4 if presenter else 0),
                    color=color,
                    line=dict(color="#ffffff", width=1.5),
                ),
                customdata=[[int(steps[-1]), *rounded(pl[-1:], 5), *rounded(off[-1:], 4)]],
                hovertemplate=(
                    f"{end_note}<br>step %{{customdata[0]}}, training loss %{{customdata[1]:.4g}}<extra></extra>"
                ),
                xaxis="x",
                yaxis="y",
            )
        )
        for values, dash, what in ((pl, "solid", "training"), (ph, "dash", "held-out")):
            traces.append(
                dict(
                    type="scatter",
                    mode="lines",
                    name=f"{name} {what} loss",
                    legendgroup=key,
                    showlegend=False,
                    x=steps[keep].tolist(),
                    y=rounded(values[keep], 5),
                    line=dict(color=color, width=line_w - 0.5, dash=dash),
                    hovertemplate=f"{name}, step %{{x}}<br>{what} loss %{{y:.4g}}<extra></extra>",
                    xaxis="x2",
                    yaxis="y2",
                )
            )
    traces.append(
        dict(
            type="scatter",
            mode="markers+text",
            name="θ₀: start, shared",
            x=[0.0],
            y=[0.0],
            text=["θ₀"],
            textposition="bottom center",
            textfont=dict(size=font),
            marker=dict(
                symbol="circle",
                size=14 + (4 if presenter else 0),
                color="#ffffff",
                line=dict(color="#000000", width=2.5),
            ),
            hovertemplate="θ₀: the shared initialisation (every path starts here)<extra></extra>",
            xaxis="x",
            yaxis="y",
        )
    )
    n_steps = int(max((_np(p.steps)[-1] for p in scape.paths.values()), default=1))
    curves = np.concatenate([_np(v) for p in scape.paths.values() for v in (p.loss, p.held_out_loss)] or [[1.0]])
    curves = curves[np.isfinite(curves) & (curves > 0)]
    y2_vals, y2_text = _nice_ticks(*(_log10(np.array([curves.min(), curves.max()])) if curves.size else (0.0, 0.0)))
    axis = dict(
        showgrid=True, gridcolor="rgba(0,0,0,0.08)", zeroline=False, linecolor="#444", mirror=True, ticks="outside"
    )
    layout = dict(
        height=760 if presenter else 640,
        margin=dict(l=70, r=20, t=70, b=60),
        font=dict(size=font),
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=font)),
        hovermode="closest",
        xaxis=dict(
            axis,
            domain=[0, 0.56],
            range=[float(a[0]), float(a[-1])],
            title=dict(text=f"a: along θ_A − θ₀ ({name_a})"),
            anchor="y",
        ),
        yaxis=dict(
            axis,
            domain=[0, 1],
            range=[float(b[0]), float(b[-1])],
            title=dict(text=f"b: towards θ_B ({name_b}), orthogonal to a"),
            anchor="x",
        ),
        xaxis2=dict(axis, domain=[0.7, 1], range=[0, max(n_steps, 1)], title=dict(text="step"), anchor="y2"),
        yaxis2=dict(
            axis,
            domain=[0, 1],
            type="log",
            title=dict(text="loss (log)"),
            anchor="x2",
            tickvals=[10.0**v for v in y2_vals],
            ticktext=y2_text,
        ),
        annotations=[
            dict(
                text="<b>training loss</b> (solid), <b>held-out</b> (dashed)",
                x=0.7,
                y=1.0,
                xref="paper",
                yref="paper",
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=font),
            )
        ],
        uirevision="keep",
    )
    return dict(data=traces, layout=layout)


def random_slice_figure(random, name: str, presenter: bool = False) -> dict:
    """Li et al.'s picture (engine.landscape.RandomSlice): the training loss around `name`'s final weights
    along two filter-normalised random directions, the centre marked. No paths: the directions hold
    almost none of a path's movement (random.path_share)."""
    font = 17 if presenter else 13
    a, b = _np(random.a), _np(random.b)
    axis = dict(showgrid=False, zeroline=False, linecolor="#444", mirror=True, ticks="outside", constrain="domain")
    traces = [
        dict(
            loss_contour(a, b, _np(random.loss), font),
            name="training loss, random directions",
            hovertemplate="α %{x:.3g}, β %{y:.3g}<br>training loss %{customdata:.4g}<extra>random slice</extra>",
        ),
        dict(
            type="scatter",
            mode="markers",
            x=[0.0],
            y=[0.0],
            name=f"{name}'s final weights",
            marker=dict(symbol="star", size=16 if presenter else 13, color="#222", line=dict(color="#fff", width=1)),
            hovertemplate=f"{name}'s final weights: training loss {random.center_loss:.4g}<extra></extra>",
            showlegend=True,
        ),
    ]
    layout = dict(
        height=560 if presenter else 480,
        margin=dict(l=70, r=20, t=50, b=60),
        font=dict(size=font),
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=font)),
        hovermode="closest",
        xaxis=dict(axis, range=[float(a[0]), float(a[-1])], title=dict(text="α: first random direction")),
        yaxis=dict(
            axis,
            range=[float(b[0]), float(b[-1])],
            title=dict(text="β: second random direction"),
            scaleanchor="x",
        ),
        uirevision="keep",
    )
    return dict(data=traces, layout=layout)
