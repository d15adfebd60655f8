"""The Playground figure: surface, paths and moving heads, with loss, gradient-norm and
learning-rate panels that share the step axis, all driven by one animation.

Built as a plain dict (far cheaper than go.Figure objects). The surface is drawn once; frames touch
only the head markers and the step cursors, so the payload stays small (see DESIGN.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from figures.animation import MAX_FRAMES, controls, frame_steps as _frame_steps, positions_at
from figures.palette import color_for

MAX_LINE_POINTS = 2000  # per trace in the step panels; the paths keep up to 5000
MAX_PATH_POINTS = 5000
# Budgets for all runs together, so 20 optimizers × 20,000 steps stay a few MB: each run gets
# min(its per-trace cap, budget / runs) points (8 runs × 1,000 steps are never thinned).
TOTAL_PATH_POINTS = 30_000
TOTAL_LINE_POINTS = 12_000
GRID_CLICK_POINTS = 25  # per side, for click-to-start
SIG_DIGITS = 6


@dataclass(frozen=True)
class RunView:
    """What the figures need of one run (plain NumPy, no torch)."""

    key: str
    label: str
    xy: np.ndarray  # (n, 2)
    loss: np.ndarray  # (n,)
    grad_norm: np.ndarray  # (n,)
    lr: np.ndarray  # (n - 1,)
    effective_lr: np.ndarray  # (n - 1, 2)
    effective_kind: str  # "diagonal", "scheduled", "step size" or "inner"
    diverged_at: int
    steps: np.ndarray  # (n,)
    engine: str = "eager"  # which engine drew it: "fused", "eager", or "eager (why not fused)"


def run_view(traj, label: str, row: int = 0) -> RunView:
    """One row of an engine Trajectory as a RunView."""
    spec = traj.optimizer
    kind = spec.effective_lr_kind
    if kind == "inner":
        from optimizers import get_optimizer

        kind = get_optimizer(spec.inner_key(traj.hparams)).effective_lr_kind
    return RunView(
        key=spec.key,
        label=label,
        xy=traj.xy[row].numpy(),
        loss=traj.loss[row].numpy(),
        grad_norm=traj.grad[row].norm(dim=-1).numpy(),
        lr=traj.lr[row].numpy(),
        effective_lr=traj.effective_lr[row].numpy(),
        effective_kind=kind,
        engine=traj.meta.get("engine", "eager"),
        diverged_at=int(traj.diverged_at[row]),
        steps=traj.steps.numpy(),
    )


def legend_label(name: str, diverged_at: int) -> str:
    return f"{name} (diverged at step {diverged_at})" if diverged_at >= 0 else name


def rounded(a, digits: int = SIG_DIGITS) -> list:
    """Round to `digits` significant digits for a small JSON payload; NaN/inf become None.

    Keeps the shape: a 2-D array becomes a list of rows.
    """
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    out = np.zeros_like(a)
    # Below ~1e-290 the scale 10^(digits − 1 − mag) overflows: such values are kept as they are.
    roundable = finite & (np.abs(a) > 1e-290)
    mag = np.floor(np.log10(np.abs(np.where(roundable, a, 1.0))))
    scale = 10.0 ** (digits - 1 - mag)
    out[roundable] = np.round(a[roundable] * scale[roundable]) / scale[roundable]
    tiny = finite & ~roundable
    out[tiny] = a[tiny]
    flat = [float(v) if f else None for v, f in zip(out.ravel().tolist(), finite.ravel().tolist())]
    if a.ndim == 2:
        width = a.shape[1]
        return [flat[i : i + width] for i in range(0, len(flat), width)]
    return flat


ISOLINE_POINTS = 3500  # budget for all contour lines together (Rastrigin alone would send ~1 MB)
ISOLINE_TOLERANCE = 2.5e-4  # of the view's width and height: a quarter pixel across 1,000 px


def isolines(xs: np.ndarray, ys: np.ndarray, values: np.ndarray, levels: int = 20) -> tuple[list, list]:
    """Contour lines as one polyline with None breaks (contourpy's marching squares).

    Drawn as a plain scatter trace: plotly.js drops contour traces while frames animate, but
    leaves scatter traces that no frame touches alone. Each line is simplified to within
    ISOLINE_TOLERANCE of the view (a quarter of a pixel across 1,000 px: the same picture with a
    tenth of the points on smooth surfaces); lines still over the point budget are then thinned.
    """
    import contourpy

    gen = contourpy.contour_generator(xs, ys, values, line_type=contourpy.LineType.Separate)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    span = np.array([xs[-1] - xs[0], ys[-1] - ys[0]], dtype=np.float64)
    segments = [
        simplified(seg, span * ISOLINE_TOLERANCE)
        for level in np.linspace(lo, hi, levels + 2)[1:-1]
        for seg in gen.lines(level)
        if len(seg) > 1
    ]
    stride = max(1, math.ceil(sum(len(s) for s in segments) / ISOLINE_POINTS))
    lx, ly = [], []
    for seg in segments:
        keep = np.unique(np.r_[np.arange(0, len(seg), stride), len(seg) - 1])
        lx.extend(rounded(seg[keep, 0], 4) + [None])
        ly.extend(rounded(seg[keep, 1], 4) + [None])
    return lx, ly


def simplified(line: np.ndarray, tolerance) -> np.ndarray:
    """The polyline (n, 2) with the fewest points of Ramer–Douglas–Peucker's choice that stay within
    `tolerance` (per axis, in data units) of the original; the first and last points are kept."""
    scaled = line / np.maximum(np.asarray(tolerance, dtype=np.float64), 1e-300)  # tolerance 1 in these units
    keep = np.zeros(len(line), dtype=bool)
    keep[[0, -1]] = True
    pending = [(0, len(line) - 1)]
    while pending:
        i, j = pending.pop()
        if j - i < 2:
            continue
        a, d = scaled[i], scaled[j] - scaled[i]
        rel = scaled[i + 1 : j] - a
        length = math.hypot(d[0], d[1])
        dist = np.abs(d[0] * rel[:, 1] - d[1] * rel[:, 0]) / length if length > 0 else np.hypot(rel[:, 0], rel[:, 1])
        k = int(np.argmax(dist))
        if dist[k] > 1.0:
            keep[i + 1 + k] = True
            pending += [(i, i + 1 + k), (i + 1 + k, j)]
    return line[keep]


def _thin(n: int, limit: int) -> np.ndarray:
    """Indices 0..n-1 thinned to at most `limit`, always keeping the first and the last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def surface_background(xs: np.ndarray, ys: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Each grid value's rank in [0, 1] (an equalised height): shades and contour lines then spread
    evenly over the view whether the surface spans 1 or 10⁶ in loss, so flat floors and steep
    walls both show their structure. Contour lines of the rank are contour lines of the loss."""
    flat = np.nan_to_num(z, nan=np.nanmax(z)).ravel()
    ranks = np.empty(flat.size)
    ranks[np.argsort(flat, kind="stable")] = np.linspace(0.0, 1.0, flat.size)
    return ranks.reshape(z.shape)


_SHADE = np.array([[250, 252, 255], [222, 235, 247], [170, 206, 230]], dtype=np.float64)  # light blues: paths stand out


def shaded_png(values: np.ndarray) -> str:
    """The background as a PNG data URI: low loss light, high loss darker (rows are y, bottom first)."""
    import base64
    import io

    from PIL import Image

    v = np.nan_to_num(values, nan=np.nanmax(values))
    t = (v - v.min()) / max(float(v.max() - v.min()), 1e-300)
    pos = t * (len(_SHADE) - 1)
    i = np.minimum(pos.astype(int), len(_SHADE) - 2)
    frac = (pos - i)[..., None]
    rgb = _SHADE[i] * (1 - frac) + _SHADE[i + 1] * frac
    img = Image.fromarray(np.flipud(rgb).round().astype(np.uint8), "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def visible_path(run: RunView, bounds) -> np.ndarray:
    """Indices of the path to draw. A diverged run stops where it leaves the view for good."""
    n = len(run.xy)
    idx = np.arange(n)
    if run.diverged_at < 0:
        return idx
    (x0, x1), (y0, y1) = bounds
    inside = (run.xy[:, 0] >= x0) & (run.xy[:, 0] <= x1) & (run.xy[:, 1] >= y0) & (run.xy[:, 1] <= y1)
    last_step = np.searchsorted(run.steps, run.diverged_at)  # held points from here on
    inside[last_step:] = False
    if not inside.any():
        return idx[:1]
    last_inside = int(np.nonzero(inside)[0][-1])
    return idx[: min(last_inside + 2, last_step)]  # one more point: the segment that crosses the edge


def surface_layers(surface, grid: tuple) -> dict:
    """The surface's drawing, independent of the runs (the page caches it per surface):
    a shaded PNG for the layout image and the contour lines."""
    xs, ys, z = grid
    background = surface_background(xs, ys, z)
    lx, ly = isolines(xs, ys, background)
    return {"png": shaded_png(background), "lines_x": lx, "lines_y": ly}


def contour_trace(layers: dict, width: float = 0.8, color: str = "rgba(40,60,90,0.35)", **axes) -> dict:
    """The surface's contour lines (surface_layers) as one untouched scatter trace: it survives the
    frames of an animation, where a contour trace would vanish. axes: xaxis=/yaxis= of a subplot."""
    return dict(
        type="scatter",
        mode="lines",
        x=layers["lines_x"],
        y=layers["lines_y"],
        hoverinfo="skip",
        showlegend=False,
        name="contours",
        line=dict(color=color, width=width),
        **axes,
    )


def start_trace(start, **extra) -> dict:
    """The start of every run: a thin cross (extra: axes, hover)."""
    trace = dict(type="scatter", mode="markers", x=[float(start[0])], y=[float(start[1])], name="start")
    trace.update(showlegend=False, marker=dict(symbol="x-thin", size=16, line=dict(width=3, color="#333333")))
    return {**trace, **extra}


def playground_figure(
    surface,
    runs: list[RunView],
    grid: tuple | None = None,
    *,
    layers: dict | None = None,
    start=None,
    frames: int = MAX_FRAMES,
    presenter: bool = False,
    frame_ms: int = 60,
    log_loss: bool | None = None,
    height: int | None = None,
) -> dict:
    """The whole Playground figure as a plotly dict (pass `layers` or the `grid` to draw them from);
    height: in pixels (default 960, 1080 in presenter mode)."""
    layers = layers if layers is not None else surface_layers(surface, grid)
    (x0, x1), (y0, y1) = surface.bounds
    font = 20 if presenter else 13
    line_w = 3.5 if presenter else 2.2
    minima = list(surface.minima)
    f_star = float(min(surface.f_at(m) for m in minima)) if minima else None
    if log_loss is None:
        log_loss = f_star is not None

    data: list[dict] = []
    # The surface: a shaded image under the plot and contour lines as a scatter trace. plotly.js
    # drops heatmap and contour traces while frames animate; images and untouched scatters stay.
    image = dict(
        source=layers["png"],
        xref="x",
        yref="y",
        x=x0,
        y=y1,
        sizex=x1 - x0,
        sizey=y1 - y0,
        sizing="stretch",
        layer="below",
        opacity=1.0,
    )
    # 0: a hover-less anchor trace, so the axes exist even with no runs.
    data.append(
        dict(
            type="scatter",
            mode="markers",
            x=[x0, x1],
            y=[y0, y1],
            marker=dict(opacity=0),
            hoverinfo="skip",
            showlegend=False,
            xaxis="x",
            yaxis="y",
            name="surface",
        )
    )
    data.append(contour_trace(layers, xaxis="x", yaxis="y"))
    # 2: an invisible grid of points: a click on the surface selects one and sets the start.
    gx = np.linspace(x0, x1, GRID_CLICK_POINTS)
    gy = np.linspace(y0, y1, GRID_CLICK_POINTS)
    mx, my = np.meshgrid(gx, gy)
    data.append(
        dict(
            type="scatter",
            mode="markers",
            x=rounded(mx.ravel()),
            y=rounded(my.ravel()),
            name="start here",
            marker=dict(size=14, opacity=0, color="#000"),
            showlegend=False,
            xaxis="x",
            yaxis="y",
            hovertemplate="click to start here<br>(%{x:.2f}, %{y:.2f})<extra></extra>",
        )
    )
    # 3: minima; 4: the start.
    data.append(
        dict(
            type="scatter",
            mode="markers",
            x=[m[0] for m in minima],
            y=[m[1] for m in minima],
            name="minimum",
            showlegend=False,
            xaxis="x",
            yaxis="y",
            marker=dict(
                symbol="star", size=16 if presenter else 12, color="#ffffff", line=dict(color="#000000", width=1.5)
            ),
            hovertemplate="minimum (%{x:.3f}, %{y:.3f})<extra></extra>",
        )
    )
    start = start if start is not None else (runs[0].xy[0] if runs else surface.start)
    data.append(start_trace(start, xaxis="x", yaxis="y", hovertemplate="start (%{x:.3f}, %{y:.3f})<extra></extra>"))

    head_indices, head_points = [], []
    n_steps = max((int(r.steps[-1]) for r in runs), default=0)
    for i, run in enumerate(runs):
        color = color_for(run.key, i)
        group = f"run{i}"
        label = legend_label(run.label, run.diverged_at)
        idx = visible_path(run, surface.bounds)
        idx = idx[_thin(len(idx), _budget(MAX_PATH_POINTS, TOTAL_PATH_POINTS, len(runs)))]
        data.append(
            dict(
                type="scatter",
                mode="lines",
                x=rounded(run.xy[idx, 0]),
                y=rounded(run.xy[idx, 1]),
                name=label,
                legendgroup=group,
                xaxis="x",
                yaxis="y",
                line=dict(color=color, width=line_w),
                customdata=np.column_stack([run.steps[idx], rounded(run.loss[idx])]).tolist(),
                hovertemplate=(
                    f"<b>{run.label}</b><br>step %{{customdata[0]}}<br>(%{{x:.4f}}, %{{y:.4f}})"
                    "<br>loss %{customdata[1]:.6g}<extra></extra>"
                ),
            )
        )
        head_indices.append(len(data))
        head_points.append(run)
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=[float(run.xy[0, 0])],
                y=[float(run.xy[0, 1])],
                legendgroup=group,
                showlegend=False,
                xaxis="x",
                yaxis="y",
                name=run.label,
                marker=dict(size=15 if presenter else 11, color=color, line=dict(color="#fff", width=1.5)),
                hovertemplate=f"<b>{run.label}</b><br>(%{{x:.4f}}, %{{y:.4f}})<extra></extra>",
            )
        )
        data.extend(
            _step_traces(
                run, color, group, line_w, f_star, log_loss, _budget(MAX_LINE_POINTS, TOTAL_LINE_POINTS, len(runs))
            )
        )

    # Step cursors: one vertical line per step panel, moved by the frames.
    cursor_indices = []
    for axis in ("2", "3", "4"):
        cursor_indices.append(len(data))
        data.append(
            dict(
                type="scatter",
                mode="lines",
                x=[0, 0],
                y=[0, 1],
                xaxis=f"x{axis}",
                yaxis=f"y{axis}",
                showlegend=False,
                hoverinfo="skip",
                line=dict(color="rgba(0,0,0,0.45)", width=1.5, dash="dot"),
                name="step",
            )
        )

    frame_steps = _frame_steps(n_steps, frames)
    # Each head at every frame's step (its last recorded point at or before it), rounded as the path is.
    heads = [rounded(run.xy[positions_at(run.steps, frame_steps)]) for run in head_points]
    frame_list = []
    for k, s in enumerate(frame_steps):
        fdata = [dict(x=[head[k][0]], y=[head[k][1]]) for head in heads]
        fdata.extend(dict(x=[int(s), int(s)]) for _ in cursor_indices)
        frame_list.append(dict(name=str(s), data=fdata, traces=head_indices + cursor_indices))

    layout = _layout(surface, font, n_steps, frame_steps, frame_ms, log_loss, f_star, presenter)
    layout["images"] = [image]
    if height is not None:
        layout["height"] = int(height)
    _cursor_spans(data, cursor_indices, layout)
    return dict(data=data, layout=layout, frames=frame_list)


def _budget(per_trace: int, total: int, runs: int) -> int:
    return max(300, min(per_trace, total // max(runs, 1)))


def _step_traces(run: RunView, color, group, line_w, f_star, log_loss, limit: int = MAX_LINE_POINTS) -> list[dict]:
    idx = _thin(len(run.steps), limit)
    steps = run.steps[idx].tolist()
    loss = run.loss[idx] - (f_star if (log_loss and f_star is not None) else 0.0)
    if log_loss:
        loss = np.maximum(loss, 1e-16)  # at the minimum to rounding: keep it on the log axis
    traces = [
        dict(
            type="scatter",
            mode="lines",
            **step_axis(steps),
            y=rounded(loss),
            xaxis="x2",
            yaxis="y2",
            legendgroup=group,
            showlegend=False,
            line=dict(color=color, width=line_w * 0.8),
            name=run.label,
            hovertemplate=f"{run.label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
        ),
        dict(
            type="scatter",
            mode="lines",
            **step_axis(steps),
            y=rounded(_floor(run.grad_norm[idx])),
            xaxis="x3",
            yaxis="y3",
            legendgroup=group,
            showlegend=False,
            line=dict(color=color, width=line_w * 0.8),
            name=run.label,
            hovertemplate=f"{run.label}<br>step %{{x}}<br>‖g‖ %{{y:.4g}}<extra></extra>",
        ),
    ]
    if len(run.lr):
        uidx = _thin(len(run.lr), limit)
        usteps = run.steps[uidx].tolist()
        if run.effective_kind in ("diagonal", "step size"):
            for coord, dash in ((0, "solid"), (1, "dash")):
                ex, ey = _without_flat_stretches(usteps, rounded(_positive(run.effective_lr[uidx, coord])))
                traces.append(
                    dict(
                        type="scatter",
                        mode="lines",
                        **step_axis(ex),
                        y=ey,
                        xaxis="x4",
                        yaxis="y4",
                        legendgroup=group,
                        showlegend=False,
                        name=run.label,
                        line=dict(color=color, width=line_w * 0.7, dash=dash),
                        hovertemplate=f"{run.label} {'xy'[coord]}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
                    )
                )
        ex, ey = _without_flat_stretches(usteps, rounded(_positive(run.lr[uidx])))
        traces.append(
            dict(
                type="scatter",
                mode="lines",
                **step_axis(ex),
                y=ey,
                xaxis="x4",
                yaxis="y4",
                legendgroup=group,
                showlegend=False,
                name=run.label,
                line=dict(color=color, width=line_w * 0.6, dash="dot"),
                hovertemplate=f"{run.label} scheduled η<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
            )
        )
    return traces


def step_axis(steps: list) -> dict:
    """A step panel's x: evenly spaced steps as plotly's x0 and dx (nothing to send per point), others
    as the list. step_values() reads either back."""
    gaps = np.diff(steps)
    if len(steps) > 2 and (gaps == gaps[0]).all():
        return {"x0": steps[0], "dx": steps[1] - steps[0]}
    return {"x": steps}


def step_values(trace: dict) -> list:
    """The x values of a trace written by step_axis."""
    if "x" in trace:
        return trace["x"]
    return [trace["x0"] + i * trace["dx"] for i in range(len(trace["y"]))]


def _without_flat_stretches(x: list, y: list) -> tuple[list, list]:
    """The same line without the inner points of a stretch of equal values (a constant or stepped
    learning rate: 1,000 equal values become 2 points), which the browser would draw identically."""
    if len(y) < 3:
        return list(x), list(y)
    v = np.array([np.nan if e is None else e for e in y], dtype=np.float64)  # None (a gap) equals nothing
    inner = (v[:-2] == v[1:-1]) & (v[1:-1] == v[2:])
    keep = np.flatnonzero(np.concatenate([[True], ~inner, [True]])).tolist()
    return [x[i] for i in keep], [y[i] for i in keep]


def _floor(a: np.ndarray, decades: float = 12.0) -> np.ndarray:
    """Keep a log panel readable: values that reach exactly 0 (Newton at the minimum) sit at
    `decades` below the run's largest value instead of at 1e-300."""
    top = float(np.nanmax(a)) if len(a) and np.isfinite(a).any() else 1.0
    return np.maximum(a, max(top, 1e-300) * 10.0**-decades)


def _positive(a: np.ndarray) -> np.ndarray:
    """Log axes cannot show ≤ 0 (diagonal Newton's factor is negative on concave ground)."""
    return np.where(a > 0, a, np.nan)


def _cursor_spans(data, cursor_indices, layout):
    """Cursor lines span each panel's data range (log axes need positive ends)."""
    for ci, axis in zip(cursor_indices, ("2", "3", "4")):
        ys = [
            v
            for t in data
            if t.get("yaxis") == f"y{axis}" and t.get("name") != "step"
            for v in t["y"]
            if v is not None and v > 0
        ]
        lo, hi = (min(ys), max(ys)) if ys else (1e-3, 1.0)
        data[ci]["y"] = [lo, hi]


def _layout(surface, font, n_steps, frame_steps, frame_ms, log_loss, f_star, presenter) -> dict:
    (x0, x1), (y0, y1) = surface.bounds
    axis_style = dict(
        showgrid=True, gridcolor="rgba(0,0,0,0.08)", zeroline=False, linecolor="#444", mirror=True, ticks="outside"
    )
    steps_axis = dict(axis_style, title=dict(text="step"), range=[0, max(n_steps, 1)])
    slider, play = controls(frame_steps, frame_ms, font, y=0.36)
    loss_title = "loss − f* (log)" if (log_loss and f_star is not None) else ("loss (log)" if log_loss else "loss")
    return dict(
        height=1080 if presenter else 960,
        margin=dict(l=60, r=20, t=40, b=50),
        font=dict(size=font),
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=font)),
        hovermode="closest",
        dragmode="pan",
        xaxis=dict(axis_style, domain=[0, 1], range=[x0, x1], title=dict(text="x"), anchor="y", constrain="domain"),
        yaxis=dict(
            axis_style,
            domain=[0.42, 1],
            range=[y0, y1],
            title=dict(text="y"),
            anchor="x",
            scaleanchor="x",
            scaleratio=1,
            constrain="domain",
        ),
        xaxis2=dict(steps_axis, domain=[0, 0.3], anchor="y2"),
        yaxis2=dict(axis_style, domain=[0, 0.235], anchor="x2", type="log" if log_loss else "linear"),
        xaxis3=dict(steps_axis, domain=[0.35, 0.65], anchor="y3", matches="x2"),
        yaxis3=dict(axis_style, domain=[0, 0.235], anchor="x3", type="log"),
        xaxis4=dict(steps_axis, domain=[0.7, 1], anchor="y4", matches="x2"),
        yaxis4=dict(axis_style, domain=[0, 0.235], anchor="x4", type="log"),
        annotations=[
            dict(
                text=f"<b>{t}</b>",
                x=x,
                y=0.25,
                xref="paper",
                yref="paper",
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=font),
            )
            for t, x in ((loss_title, 0.0), ("‖gradient‖ (log)", 0.35), ("learning rates (log)", 0.7))
        ],
        sliders=[slider],
        updatemenus=[play],
        uirevision="keep",  # keep zoom and legend toggles across reruns
    )


# ---- predict, then reveal ---------------------------------------------------------------------
SURFACE_TRACES = 5  # the anchor, contour lines, click grid, minima and start: what a quiz shows
QUIZ_HEIGHT = 720


def quiz_letters(n: int) -> list[str]:
    """ "Optimizer A", "Optimizer B", ...: the legend of an anonymous quiz."""
    return [f"Optimizer {chr(ord('A') + i)}" if i < 26 else f"Optimizer {i + 1}" for i in range(n)]


def quiz_figure(figure: dict, runs: list[RunView], anonymous: bool = False) -> dict:
    """The Playground figure before the reveal: the surface, the start and the optimizers' names
    (letters when anonymous), with no path, no step panel and no animation. A pure view of the
    built figure: the same surface layers, axes and start."""
    layout = {k: v for k, v in figure["layout"].items() if not k.startswith(("xaxis", "yaxis"))}
    for key in ("sliders", "updatemenus", "annotations"):
        layout.pop(key, None)
    layout.update(
        xaxis=dict(figure["layout"]["xaxis"]),
        yaxis=dict(figure["layout"]["yaxis"], domain=[0, 1]),
        height=QUIZ_HEIGHT + (120 if figure["layout"].get("height", 0) > 1000 else 0),
        meta=dict(figure["layout"].get("meta") or {}, quiz=True),
    )
    names = quiz_letters(len(runs)) if anonymous else [run.label for run in runs]
    data = [dict(trace) for trace in figure["data"][:SURFACE_TRACES]]
    start = data.pop()  # drawn last, over the name markers that sit on it
    for i, (run, name) in enumerate(zip(runs, names)):
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=list(start["x"]),
                y=list(start["y"]),
                name=name,
                xaxis="x",
                yaxis="y",
                # an anonymous legend must not give the names away through the palette either
                marker=dict(size=11, color="#555555" if anonymous else color_for(run.key, i)),
                hoverinfo="skip",
            )
        )
    data.append(start)
    return dict(data=data, layout=layout, frames=[])


def at_start(run: RunView, label: str | None = None) -> RunView:
    """The run cut to its first point (and renamed): a figure drawn from it shows where the run
    starts and nothing of where it goes (a lecture page's quiz)."""
    from dataclasses import replace

    return replace(
        run,
        label=run.label if label is None else label,
        xy=run.xy[:1],
        loss=run.loss[:1],
        grad_norm=run.grad_norm[:1],
        lr=run.lr[:0],
        effective_lr=run.effective_lr[:0],
        diverged_at=-1,
        steps=run.steps[:1],
    )
