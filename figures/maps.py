"""Maps of many runs as plain plotly dicts (no Streamlit): hyperparameter heatmaps, loss against
learning rate, basins of attraction and noisy clouds.

Inputs are the results of engine/sweeps.py (Sweep2D, LRSweep, BasinMap, Cloud). These figures are
static (no frames), so heatmap traces are fine here; the cloud figure draws the surface the same
way as the animated figures (the shaded PNG as a layout image plus contour lines as a scatter).
"""

from __future__ import annotations

import math

import numpy as np

from figures.palette import color_for
from figures.playground import contour_trace, rounded

# Colours for basins: Okabe & Ito's colour-blind-safe set without black (paths, markers) and
# yellow (faint on white). Runs that end near no attractor, or diverge, are grey.
BASIN_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
NOT_CONVERGED_COLOR = "#D4D4D4"
DIVERGED_COLOR = "#6F6F6F"
NOT_REACHED_COLOR = "#D4D4D4"
LATTICE_COLORS = 5  # lattice basins: colour (i + 2j) mod 5 differs between all eight neighbours
HOVER_MAX = 64  # basin maps: hover text on at most 64 × 64 starts per panel (every k-th start)
GAP_FLOOR = 1e-16  # a loss gap shown on a log scale is drawn at least this high
VIRIDIS = "Viridis"

_SYMBOLS = {
    r"\eta": "η",
    r"\mu": "μ",
    r"\alpha": "α",
    r"\rho": "ρ",
    r"\beta_1": "β₁",
    r"\beta_2": "β₂",
    r"\varepsilon": "ε",
    r"\lambda": "λ",
    r"\gamma": "γ",
    r"\tau": "τ",
    r"\delta": "δ",
    r"\psi": "ψ",
}


def param_title(p) -> str:
    """An axis title for a Param: its label, with its symbol when the label does not show it."""
    symbol = _SYMBOLS.get(p.latex, "")
    label = p.label or p.name
    return f"{label} {symbol}" if symbol and symbol not in label else label


def fmt(v: float) -> str:
    """A short number for ticks and hover: 0.05, 1e-4, 0.9, 250."""
    v = float(v)
    if v == 0:
        return "0"
    if abs(v) < 1e-3 or abs(v) >= 1e4:
        mantissa, exponent = f"{v:.1e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{v:.4g}"


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag:
            return m * mag
    return 10.0 * mag


def index_ticks(values: np.ndarray, log: bool) -> tuple[list, list]:
    """Tick positions in index space (cell j sits at j) and their labels, at round values."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 1:
        return [0], [fmt(values[0])]
    v0, v1 = float(values[0]), float(values[-1])
    if log:
        l0, l1 = math.log10(v0), math.log10(v1)
        decades = l1 - l0
        mantissas = (1.0,) if decades > 2.5 else ((1.0, 3.0) if decades > 1.2 else (1.0, 2.0, 5.0))
        cands = [m * 10.0**e for e in range(math.floor(l0) - 1, math.ceil(l1) + 1) for m in mantissas]
        cands = [c for c in cands if v0 * (1 - 1e-9) <= c <= v1 * (1 + 1e-9)]
        pos = [(math.log10(c) - l0) / (l1 - l0) * (n - 1) for c in cands]
    else:
        step = _nice_step(v1 - v0)
        first = math.ceil(v0 / step - 1e-9) * step
        cands = list(np.arange(first, v1 + step * 1e-6, step))
        pos = [(c - v0) / (v1 - v0) * (n - 1) for c in cands]
    if len(cands) < 2:  # a narrow range: label the ends
        return [0, n - 1], [fmt(v0), fmt(v1)]
    return [round(p, 4) for p in pos], [fmt(c) for c in cands]


def _legend_square(name: str, color: str, group: str | None = None) -> dict:
    """A legend entry with no data (heatmaps have no legend): a coloured square."""
    return dict(
        type="scatter",
        mode="markers",
        x=[None],
        y=[None],
        name=name,
        showlegend=True,
        hoverinfo="skip",
        marker=dict(symbol="square", size=12, color=color, line=dict(color="#888", width=0.5)),
        **({"legendgroup": group} if group else {}),
    )


def _overlay(mask: np.ndarray, color: str, name: str, **axes) -> dict:
    """A heatmap that paints the cells of `mask` in one colour (others transparent)."""
    z = [[1 if m else None for m in row] for row in np.asarray(mask, dtype=bool).tolist()]
    return dict(
        type="heatmap",
        z=z,
        zmin=0,
        zmax=1,
        colorscale=[[0, color], [1, color]],
        showscale=False,
        hoverinfo="skip",
        name=name,
        **axes,
    )


# --- 2-D hyperparameter map -------------------------------------------------------------------------

CELL_TRACE_NAME = "cells"  # the invisible marker grid that carries hover and clicks


def hparam_heatmap(
    result,
    objective: str = "final_loss",
    *,
    x_param=None,
    y_param=None,
    title: str | None = None,
    height: int = 560,
    show_best: bool = True,
) -> dict:
    """A Sweep2D as a heatmap over its two hyperparameters.

    Colour: log₁₀(final loss − f*) (objective "final_loss"), or the steps to reach loss − f* < tol
    ("steps_to_tol"; cells that never do are light grey). Diverged cells are dark grey. Axes run
    over cell indices with ticks at round values, so a log-scale hyperparameter gets equal-width
    cells; hover and clicks go through an invisible marker per cell (customdata = [col, row]).
    """
    nx, ny = len(result.values_x), len(result.values_y)
    xs, ys = list(range(nx)), list(range(ny))
    diverged = np.asarray(result.diverged, dtype=bool)
    log_gap = result.f_star is not None
    data: list[dict] = []
    if objective == "steps_to_tol":
        reached = (result.steps_to_tol >= 0) & ~diverged
        z = np.where(reached, result.steps_to_tol, np.nan)
        bar = f"steps to loss − f* < {result.tol:g}" if log_gap else f"steps to loss < {result.tol:g}"
        if result.record_every > 1:
            bar += f" (read every {result.record_every})"
        colorscale, reverse = VIRIDIS, True
    else:
        reached = None
        if log_gap:
            z = np.where(diverged, np.nan, np.log10(np.maximum(result.gap, GAP_FLOOR)))
            bar = "log₁₀(final loss − f*)"
        else:
            z = np.where(diverged, np.nan, result.final_loss)
            bar = "final loss"
        colorscale, reverse = VIRIDIS, True
    data.append(
        dict(
            type="heatmap",
            x=xs,
            y=ys,
            z=rounded(z, 4),
            colorscale=colorscale,
            reversescale=reverse,
            hoverinfo="skip",
            name="outcome",
            xgap=0,
            ygap=0,
            colorbar=dict(title=dict(text=bar, side="right"), thickness=14, len=0.9),
        )
    )
    if diverged.any():
        data.append(_overlay(diverged, DIVERGED_COLOR, "diverged", x=xs, y=ys))
    if reached is not None and (~reached & ~diverged).any():
        data.append(_overlay(~reached & ~diverged, NOT_REACHED_COLOR, "never below tol", x=xs, y=ys))

    # Hover and clicks: one invisible marker per cell (heatmap cells cannot be selected).
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
    nx_name = x_param.label if x_param is not None else result.name_x
    ny_name = y_param.label if y_param is not None else result.name_y
    text = [
        f"{nx_name} = {fmt(result.values_x[c])}<br>{ny_name} = {fmt(result.values_y[r])}<br>{result.outcome(r, c)}"
        for r in range(ny)
        for c in range(nx)
    ]
    data.append(
        dict(
            type="scatter",
            mode="markers",
            x=gx.ravel().tolist(),
            y=gy.ravel().tolist(),
            name=CELL_TRACE_NAME,
            showlegend=False,
            text=text,
            customdata=np.column_stack([gx.ravel(), gy.ravel()]).tolist(),
            marker=dict(size=max(4, min(24, 520 // max(nx, ny))), opacity=0, color="#000", symbol="square"),
            hovertemplate="%{text}<extra>click: open in the Playground</extra>",
        )
    )
    if diverged.any():
        data.append(_legend_square("diverged", DIVERGED_COLOR))
    if reached is not None and (~reached & ~diverged).any():
        data.append(_legend_square(f"never below {result.tol:g}", NOT_REACHED_COLOR))
    best = result.best(objective) if show_best else None
    if best is not None:
        r, c = best
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=[c],
                y=[r],
                name="best cell",
                showlegend=True,
                marker=dict(symbol="star", size=18, color="#ffffff", line=dict(color="#000", width=1.6)),
                hovertemplate=f"best cell<br>{nx_name} = {fmt(result.values_x[c])}<br>"
                f"{ny_name} = {fmt(result.values_y[r])}<br>{result.outcome(r, c)}<extra></extra>",
            )
        )
    tx, lx = index_ticks(result.values_x, result.log_x)
    ty, ly = index_ticks(result.values_y, result.log_y)
    x_title = param_title(x_param) if x_param is not None else result.name_x
    y_title = param_title(y_param) if y_param is not None else result.name_y
    axis = dict(showgrid=False, zeroline=False, ticks="outside", linecolor="#444", mirror=True)
    layout = dict(
        height=height,
        margin=dict(l=70, r=20, t=50 if title else 30, b=60),
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        xaxis=dict(
            axis,
            title=dict(text=x_title + (" (log scale)" if result.log_x else "")),
            tickvals=tx,
            ticktext=lx,
            range=[-0.5, nx - 0.5],
        ),
        yaxis=dict(
            axis,
            title=dict(text=y_title + (" (log scale)" if result.log_y else "")),
            tickvals=ty,
            ticktext=ly,
            range=[-0.5, ny - 0.5],
        ),
        legend=dict(orientation="h", x=0, y=1.01, yanchor="bottom"),
        hovermode="closest",
        hoverdistance=-1,
        dragmode="zoom",
        clickmode="event+select",
        uirevision=f"{result.optimizer}.{result.name_x}.{result.name_y}",
    )
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return dict(data=data, layout=layout)


# --- final loss against learning rate ----------------------------------------------------------------


def lr_curves(
    results, objective: str = "final_loss", *, names: dict | None = None, height: int = 420, title: str | None = None
) -> dict:
    """Loss gap (or steps to tolerance) against lr for several optimizers on log axes, each
    optimizer's best lr marked with a star; diverged lrs as × along the top. `results` is a dict
    {key: LRSweep} or a list of LRSweeps."""
    items = list(results.values()) if isinstance(results, dict) else list(results)
    names = names or {}
    steps_mode = objective == "steps_to_tol"
    data, tops = [], []
    for r in items:
        good = ~np.asarray(r.diverged, dtype=bool)
        if steps_mode:
            y = np.where(good & (r.steps_to_tol >= 0), r.steps_to_tol.astype(np.float64), np.nan)
        else:
            y = np.where(good, np.maximum(r.gap if r.f_star is not None else r.final_loss, GAP_FLOOR), np.nan)
        if np.isfinite(y).any():
            tops.append(float(np.nanmax(y)))
    if steps_mode:  # × rows above the step budget, which no run can exceed
        top = max((r.steps for r in items), default=1) * 1.06
    else:
        top = max(tops) * 3.0 if tops else 1.0
    for i, r in enumerate(items):
        name = names.get(r.optimizer, r.optimizer)
        color = color_for(r.optimizer, i)
        good = ~np.asarray(r.diverged, dtype=bool)
        if steps_mode:
            y = np.where(good & (r.steps_to_tol >= 0), r.steps_to_tol.astype(np.float64), np.nan)
        else:
            y = np.where(good, np.maximum(r.gap if r.f_star is not None else r.final_loss, GAP_FLOOR), np.nan)
        text = [r.outcome(j) for j in range(len(r.lrs))]
        best = r.best(objective)
        label = f"{name} (best η = {fmt(r.lrs[best])})" if best is not None else f"{name} (all diverged)"
        data.append(
            dict(
                type="scatter",
                mode="lines+markers",
                x=rounded(r.lrs),
                y=rounded(y),
                name=label,
                legendgroup=r.optimizer,
                line=dict(color=color, width=2),
                marker=dict(size=5, color=color),
                text=text,
                hovertemplate=f"<b>{name}</b><br>η = %{{x:.3g}}<br>%{{text}}<extra></extra>",
            )
        )
        bad = ~good
        if bad.any():  # each optimizer's × on its own row along the top
            row_y = top * (1.8**i) if not steps_mode else top * (1 + 0.04 * i)
            data.append(
                dict(
                    type="scatter",
                    mode="markers",
                    x=rounded(r.lrs[bad]),
                    y=[row_y] * int(bad.sum()),
                    name=f"{name}: diverged",
                    legendgroup=r.optimizer,
                    showlegend=False,
                    text=[text[j] for j in np.nonzero(bad)[0]],
                    marker=dict(symbol="x-thin", size=9, line=dict(color=color, width=2)),
                    hovertemplate=f"<b>{name}</b><br>η = %{{x:.3g}}<br>%{{text}}<extra></extra>",
                )
            )
        if best is not None and np.isfinite(y[best]):
            data.append(
                dict(
                    type="scatter",
                    mode="markers",
                    x=[float(r.lrs[best])],
                    y=[float(y[best])],
                    name=f"{name}: best",
                    legendgroup=r.optimizer,
                    showlegend=False,
                    marker=dict(symbol="star", size=17, color=color, line=dict(color="#000", width=1.2)),
                    hovertemplate=f"<b>{name}: best η</b><br>η = %{{x:.3g}}<br>{text[best]}<extra></extra>",
                )
            )
    any_f_star = any(r.f_star is not None for r in items)
    y_title = (
        f"steps to loss − f* < {items[0].tol:g}"
        if steps_mode and items
        else ("final loss − f*" if any_f_star else "final loss")
    )
    axis = dict(
        showgrid=True, gridcolor="rgba(0,0,0,0.08)", zeroline=False, linecolor="#444", mirror=True, ticks="outside"
    )
    layout = dict(
        height=height,
        margin=dict(l=70, r=20, t=50 if title else 30, b=55),
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        hovermode="closest",
        xaxis=dict(axis, type="log", title=dict(text="learning rate η (log scale)"), exponentformat="power"),
        yaxis=dict(
            axis,
            type="linear" if steps_mode else "log",
            exponentformat="power",
            title=dict(text=y_title + ("" if steps_mode else " (log scale)")),
        ),
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"),
        annotations=[
            dict(
                text="× on top: diverged",
                x=1,
                y=1,
                xref="paper",
                yref="paper",
                xanchor="right",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=11, color="#555"),
            )
        ]
        if any(np.asarray(r.diverged).any() for r in items)
        else [],
    )
    if steps_mode and items:
        budget = max(r.steps for r in items)
        layout["shapes"] = [
            dict(
                type="line",
                xref="paper",
                x0=0,
                x1=1,
                yref="y",
                y0=budget,
                y1=budget,
                line=dict(color="#888", width=1, dash="dot"),
            )
        ]
        layout["annotations"] = list(layout["annotations"]) + [
            dict(
                text=f"step budget ({budget})",
                x=0,
                y=budget,
                xref="paper",
                yref="y",
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=11, color="#555"),
            )
        ]
    if title:
        layout["title"] = dict(text=title, x=0, xanchor="left", font=dict(size=15))
    return dict(data=data, layout=layout)


# --- basins of attraction ------------------------------------------------------------------------------


def attractor_names(result) -> list[str]:
    """A, B, C, ... for listed minima; the lattice point itself for lattice basins."""
    if result.kind == "lattice":
        return [f"({int(a)}, {int(b)})" for a, b in result.attractors]
    return [chr(ord("A") + i) if i < 26 else str(i) for i in range(len(result.attractors))]


def basin_codes(result) -> tuple[np.ndarray, list[str]]:
    """Colour code per cell (0 diverged, 1 not converged, 2.. attractor colours) and the colours."""
    label = np.asarray(result.label)
    if result.kind == "lattice":
        pts = result.attractors[np.clip(label, 0, None)]
        colour = ((pts[..., 0] + 2 * pts[..., 1]) % LATTICE_COLORS).astype(np.int64)
        colours = list(BASIN_COLORS[:LATTICE_COLORS])
    else:
        colour = np.clip(label, 0, None) % len(BASIN_COLORS)
        colours = list(BASIN_COLORS[: max(1, min(len(result.attractors), len(BASIN_COLORS)))])
    code = np.where(label >= 0, colour + 2, np.where(label == -2, 0, 1))
    return code, [DIVERGED_COLOR, NOT_CONVERGED_COLOR] + colours


def _discrete_scale(colours: list[str]) -> list:
    n = len(colours)
    scale = []
    for i, c in enumerate(colours):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def _basin_hover(result, names: list[str], rows: np.ndarray, cols: np.ndarray) -> list[list[str]]:
    """Short outcome text per start (the start itself comes from the hover's x and y)."""
    out = []
    every = "" if result.record_every == 1 else "≤ "
    for r in rows:
        line = []
        for c in cols:
            lab = int(result.label[r, c])
            if lab >= 0:
                line.append(f"→ {names[lab]} from step {every}{int(result.steps_to_converge[r, c])}")
            elif lab == -2:
                line.append(f"diverged at step {int(result.diverged_at[r, c])}")
            else:
                end = result.final_xy[r, c]
                line.append(f"not converged: ends at ({end[0]:.2f}, {end[1]:.2f})")
        out.append(line)
    return out


def basin_map(
    results: list,
    surface,
    layers: dict | None = None,
    *,
    titles: list[str] | None = None,
    color_by: str = "basin",
    cols: int | None = None,
    panel_height: int = 360,
) -> dict:
    """BasinMaps as small multiples (one panel per optimizer), coloured by basin or by steps to
    converge; contour lines from `layers` (figures.playground.surface_layers), attractors marked."""
    (x0, x1), (y0, y1) = surface.bounds
    n = max(len(results), 1)
    if cols is None:
        cols = n if n <= 3 else (2 if n == 4 else 3)
    rows = math.ceil(n / cols)
    legend_px = 70  # the colour key sits under the panels
    title_px = 56  # between rows: the upper panel's tick labels and the lower panel's title
    height = rows * panel_height + legend_px
    gap_x, gap_y = min(0.25, 0.06 * cols), title_px / (height - legend_px - 30)  # room for y tick labels
    data, annotations = [], []
    layout = dict(
        height=height,
        margin=dict(l=40, r=20, t=30, b=legend_px),
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        hovermode="closest",
        showlegend=True,
        legend=dict(orientation="h", x=0, y=-0.5 * legend_px / height, yanchor="top"),
        uirevision=f"basins.{surface.key}",
    )
    steps_mode = color_by == "steps"
    max_steps = max((int(np.max(r.steps_to_converge)) for r in results), default=1)
    for i, res in enumerate(results):
        row, col = divmod(i, cols)
        ax = "" if i == 0 else str(i + 1)
        dx = ((col + gap_x / 2) / cols, (col + 1 - gap_x / 2) / cols)
        top = 1 - row / rows
        bottom = 1 - (row + 1) / rows + gap_y
        axis = dict(showgrid=False, zeroline=False, mirror=True, linecolor="#444", ticks="outside", constrain="domain")
        layout[f"xaxis{ax}"] = dict(axis, domain=list(dx), range=[x0, x1], anchor=f"y{ax}")
        layout[f"yaxis{ax}"] = dict(
            axis,
            domain=[bottom, top - 24 / (height - legend_px - 30)],
            range=[y0, y1],
            anchor=f"x{ax}",
            scaleanchor=f"x{ax}",
        )
        xy = dict(xaxis=f"x{ax}", yaxis=f"y{ax}")
        names = attractor_names(res)
        code, colours = basin_codes(res)
        xs, ys = rounded(res.xs, 6), rounded(res.ys, 6)
        hover = dict(hoverinfo="skip")
        if steps_mode:
            z = np.where(res.label >= 0, res.steps_to_converge, np.nan)
            data.append(
                dict(
                    type="heatmap",
                    x=xs,
                    y=ys,
                    z=rounded(z, 6),
                    zmin=0,
                    zmax=max(max_steps, 1),
                    colorscale=VIRIDIS,
                    reversescale=True,
                    name=res.optimizer,
                    showscale=i == 0,
                    colorbar=dict(title=dict(text="steps to converge", side="right"), thickness=12, len=0.8),
                    **xy,
                    **hover,
                )
            )
            grey = np.where(res.label < 0, np.where(res.label == -2, 0, 1), np.nan)
            if np.isfinite(grey).any():
                data.append(
                    dict(
                        type="heatmap",
                        x=xs,
                        y=ys,
                        z=rounded(grey, 2),
                        zmin=-0.5,
                        zmax=1.5,
                        showscale=False,
                        colorscale=_discrete_scale([DIVERGED_COLOR, NOT_CONVERGED_COLOR]),
                        hoverinfo="skip",
                        name="unlabelled",
                        **xy,
                    )
                )
        else:
            data.append(
                dict(
                    type="heatmap",
                    x=xs,
                    y=ys,
                    z=code.tolist(),
                    zmin=-0.5,
                    zmax=len(colours) - 0.5,
                    colorscale=_discrete_scale(colours),
                    showscale=False,
                    name=res.optimizer,
                    **xy,
                    **hover,
                )
            )
        # Hover: a transparent heatmap over every k-th start (at most HOVER_MAX a side, to keep the
        # payload small); each hover names one start and its own outcome exactly.
        k = math.ceil(res.n / HOVER_MAX)
        idx = np.arange(0, res.n, k)
        data.append(
            dict(
                type="heatmap",
                x=rounded(res.xs[idx], 6),
                y=rounded(res.ys[idx], 6),
                z=np.zeros((len(idx), len(idx)), dtype=int).tolist(),
                showscale=False,
                colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
                text=_basin_hover(res, names, idx, idx),
                hovertemplate="start (%{x:.2f}, %{y:.2f})<br>%{text}<extra>" + f"{_title(res, titles, i)}</extra>",
                name="hover",
                **xy,
            )
        )
        if layers is not None:
            data.append(contour_trace(layers, width=0.6, color="rgba(0,0,0,0.25)", **xy))
        marks = res.attractors if res.kind == "minima" else np.array(surface.minima, dtype=float).reshape(-1, 2)
        if len(marks):
            data.append(
                dict(
                    type="scatter",
                    mode="markers+text",
                    x=rounded(marks[:, 0]),
                    y=rounded(marks[:, 1]),
                    **xy,
                    text=names if res.kind == "minima" else ["global"] * len(marks),
                    textposition="top center",
                    textfont=dict(size=12, color="#000"),
                    showlegend=False,
                    name="minima",
                    marker=dict(symbol="star", size=13, color="#fff", line=dict(color="#000", width=1.3)),
                    hovertemplate="minimum (%{x:.3f}, %{y:.3f})<extra></extra>",
                )
            )
        annotations.append(
            dict(
                text=f"<b>{_title(res, titles, i)}</b>",
                x=sum(dx) / 2,
                y=top,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=13, color=color_for(res.optimizer, i)),
            )
        )
    # Legend: what the colours mean (one entry each; heatmaps have no legend of their own).
    if results:
        first = results[0]
        names0 = attractor_names(first)
        if not steps_mode:
            if first.kind == "lattice":
                data.append(
                    _legend_square("a local minimum's basin (5 colours repeat; neighbours differ)", BASIN_COLORS[0])
                )
            else:
                for j, nm in enumerate(names0):
                    a = first.attractors[j]
                    data.append(_legend_square(f"{nm} ({a[0]:.2f}, {a[1]:.2f})", BASIN_COLORS[j % len(BASIN_COLORS)]))
        data.append(_legend_square("not converged", NOT_CONVERGED_COLOR))
        data.append(_legend_square("diverged", DIVERGED_COLOR))
    layout["annotations"] = annotations
    return dict(data=data, layout=layout)


def _title(res, titles, i) -> str:
    return titles[i] if titles and i < len(titles) else res.optimizer


# --- noisy clouds ----------------------------------------------------------------------------------------

MAX_CLOUD_PATHS = 150  # faint paths drawn per optimizer (an even sample; the median uses every run)
MAX_CLOUD_POINTS = 200  # points per faint path


def _thin_idx(n: int, limit: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _cut(cloud, run: int) -> int:
    """Number of recorded points of a run to draw: up to its divergence (held points dropped)."""
    d = int(cloud.diverged_at[run])
    return len(cloud.steps) if d < 0 else max(1, int(np.searchsorted(cloud.steps, d)))


def cloud_figure(
    surface,
    clouds: list,
    layers: dict,
    *,
    names: dict | None = None,
    opacity: float = 0.28,
    height: int = 820,
    show_loss: bool = True,
) -> dict:
    """Noisy clouds over the surface: each run a faint line, the median path bold, per optimizer;
    below, each run's loss − f* against the step with the median loss. The surface is the shaded
    PNG (layout image) with contour lines, as in the other figures."""
    names = names or {}
    (x0, x1), (y0, y1) = surface.bounds
    minima = list(surface.minima)
    fs = min(surface.f_at(m) for m in minima) if minima else None
    data: list[dict] = [
        dict(
            type="scatter",
            mode="markers",
            x=[x0, x1],
            y=[y0, y1],
            marker=dict(opacity=0),
            hoverinfo="skip",
            showlegend=False,
            name="surface",
        ),
        contour_trace(layers),
    ]
    for i, cloud in enumerate(clouds):
        name = names.get(cloud.optimizer, cloud.optimizer)
        color = color_for(cloud.optimizer, i)
        group = f"cloud{i}"
        fx, fy, lx, ly = [], [], [], []
        runs = _thin_idx(cloud.n_runs, MAX_CLOUD_PATHS)
        for b in runs:
            m = _cut(cloud, b)
            idx = _thin_idx(m, MAX_CLOUD_POINTS)
            fx += rounded(cloud.xy[b, idx, 0], 4) + [None]
            fy += rounded(cloud.xy[b, idx, 1], 4) + [None]
            if show_loss:
                lx += cloud.steps[idx].tolist() + [None]
                ly += rounded(_gap(cloud.loss[b, idx], fs), 3) + [None]
        n_div = int((cloud.diverged_at >= 0).sum())
        extra = f", {n_div} diverged" if n_div else ""
        drawn = f" ({len(runs)} drawn)" if len(runs) < cloud.n_runs else ""
        data.append(
            dict(
                type="scatter",
                mode="lines",
                x=fx,
                y=fy,
                name=f"{name}: {cloud.n_runs} runs{drawn}{extra}",
                legendgroup=group,
                hoverinfo="skip",
                opacity=opacity,
                line=dict(color=color, width=1),
            )
        )
        idx = _thin_idx(len(cloud.steps), 2000)
        data.append(
            dict(
                type="scatter",
                mode="lines",
                x=rounded(cloud.median[idx, 0]),
                y=rounded(cloud.median[idx, 1]),
                name=f"{name}: median path",
                legendgroup=group,
                line=dict(color=color, width=3.5),
                customdata=cloud.steps[idx].tolist(),
                hovertemplate=f"<b>{name} median</b><br>step %{{customdata}}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>",  # noqa: E501
            )
        )
        if show_loss:
            data.append(
                dict(
                    type="scatter",
                    mode="lines",
                    x=lx,
                    y=ly,
                    xaxis="x2",
                    yaxis="y2",
                    legendgroup=group,
                    showlegend=False,
                    hoverinfo="skip",
                    opacity=opacity,
                    line=dict(color=color, width=1),
                    name=f"{name} runs",
                )
            )
            data.append(
                dict(
                    type="scatter",
                    mode="lines",
                    x=cloud.steps[idx].tolist(),
                    y=rounded(_gap(cloud.median_loss[idx], fs)),
                    xaxis="x2",
                    yaxis="y2",
                    legendgroup=group,
                    showlegend=False,
                    line=dict(color=color, width=3),
                    name=f"{name} median loss",
                    hovertemplate=f"<b>{name}</b> median<br>step %{{x}}<br>%{{y:.3g}}<extra></extra>",
                )
            )
    if minima:
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=[m[0] for m in minima],
                y=[m[1] for m in minima],
                name="minimum",
                showlegend=False,
                hovertemplate="minimum (%{x:.3f}, %{y:.3f})<extra></extra>",
                marker=dict(symbol="star", size=13, color="#fff", line=dict(color="#000", width=1.4)),
            )
        )
    if clouds:
        sx, sy = clouds[0].start
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=[sx],
                y=[sy],
                name="start",
                showlegend=False,
                marker=dict(symbol="x-thin", size=15, line=dict(width=3, color="#333")),
                hovertemplate="start (%{x:.3f}, %{y:.3f})<extra></extra>",
            )
        )
    axis = dict(showgrid=False, zeroline=False, linecolor="#444", mirror=True, ticks="outside")
    split = 0.34 if show_loss else 0.0
    layout = dict(
        height=height if show_loss else int(height * 0.72),
        margin=dict(l=60, r=20, t=70, b=50),
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        hovermode="closest",
        dragmode="pan",
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"),
        xaxis=dict(axis, range=[x0, x1], title=dict(text="x"), constrain="domain", anchor="y"),
        yaxis=dict(
            axis,
            range=[y0, y1],
            title=dict(text="y"),
            domain=[split + 0.11 if show_loss else 0, 1],
            scaleanchor="x",
            constrain="domain",
            anchor="x",
        ),
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
        uirevision=f"cloud.{surface.key}",
    )
    if show_loss:
        layout["xaxis2"] = dict(axis, domain=[0, 1], anchor="y2", title=dict(text="step"))
        layout["yaxis2"] = dict(
            axis,
            domain=[0, split],
            anchor="x2",
            type="log" if fs is not None else "linear",
            exponentformat="power",
            title=dict(text="loss − f* (log)" if fs is not None else "loss"),
        )
    return dict(data=data, layout=layout)


def _gap(loss: np.ndarray, fs: float | None) -> np.ndarray:
    return np.maximum(loss - fs, GAP_FLOOR) if fs is not None else loss
