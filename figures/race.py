"""The fair race as distributions (engine/race.py): success rate, steps to tolerance and final loss
per optimizer, one panel each. Pure Plotly dicts."""

from __future__ import annotations

import numpy as np

from engine.race import OBJECTIVES, is_decay, second_choices
from engine.sweeps import find_param
from figures.palette import color_for

LOSS_FLOOR = 1e-16  # a final loss − f* of 0 (or below f*: rounding) is drawn at this floor of the log axis


def protocol_text(race) -> str:
    """The whole protocol in one paragraph (the page prints it, the report card carries it)."""
    p = race.protocol
    n = len(race.evaluation_starts)
    where = f"sampled uniformly (seed {p.start_seed})" if p.start_kind == "sample" else "on a grid"
    starts = f"{n} starts {where}"
    noise = (
        f"gradient noise σ = {p.noise:g} with the same {p.n_seeds} noise seeds at every start"
        if p.noise > 0
        else "no gradient noise"
    )
    return (
        f"Every optimizer: {p.steps} steps from each of {starts} inside the view, {noise}; "
        f"{n * p.n_seeds} evaluation runs each. Its learning rate is tuned over {p.lr_points} values spread "
        f"evenly on a log scale over its slider range, by the {OBJECTIVES[p.objective]} (tol = {p.tol:g}), "
        f"measured on {len(race.tuning_starts)} other starts"
        + (f" and {p.n_seeds} other noise seeds" if p.noise > 0 else "")
        + " that are never evaluation starts."
        + second_text(race)
        + " Every other hyperparameter is at its default."
    )


def second_text(race) -> str:
    """The second tuned hyperparameter in words: its grid, who tuned it and who could not."""
    p = race.protocol
    if p.second is None:
        return ""
    label = second_choices(list(race.entries) + list(race.errors))[p.second]
    tuned = [e for e in race.entries.values() if e.second]
    alone = [e.name for e in race.entries.values() if not e.second]
    if not tuned:
        return f" {label} was to be tuned too, but none of these optimizers has it."
    param = find_param(tuned[0].key, p.second)
    if is_decay(param):
        spread = f"evenly in log(1 − {p.second}), i.e. in its memory of about 1/(1 − {p.second}) steps,"
    else:
        spread = "on a log scale" if param.log else "evenly"
    grid = ", ".join(f"{v:.4g}" for v in tuned[0].second_values)
    text = (
        f" Jointly with the lr, {label} is tuned over {p.second_points} values spread {spread} over its slider "
        f"range ({grid} for {tuned[0].name}): every pair of the two grids is tried, for "
        f"{_names([e.name for e in tuned])}."
    )
    if alone:
        text += f" {_names(alone)} {'has' if len(alone) == 1 else 'have'} no {label}: the lr alone is tuned."
    return text


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def race_figure(race, presenter: bool = False) -> dict:
    """Three panels, one column per optimizer: success rate; steps to tolerance of the runs that got
    there (box); final loss − f* of the runs that did not diverge (box, log scale)."""
    font = 18 if presenter else 13
    entries = list(race.entries.values())
    names = [e.name for e in entries]
    data = []
    for i, e in enumerate(entries):
        color = color_for(e.key, i)
        data.append(
            dict(
                type="bar",
                x=[e.name],
                y=[100 * e.success_rate],
                marker=dict(color=color),
                name=e.name,
                showlegend=False,
                text=[f"{100 * e.success_rate:.0f}%"],
                textposition="outside",
                xaxis="x",
                yaxis="y",
                hovertemplate=f"{e.name}: %{{y:.1f}}% of runs reach the tolerance<extra></extra>",
            )
        )
        steps = e.reached_steps()
        data.append(
            dict(
                type="box",
                x=[e.name] * len(steps),
                y=steps.astype(float).tolist(),
                name=e.name,
                marker=dict(color=color),
                boxpoints="outliers",
                showlegend=False,
                xaxis="x2",
                yaxis="y2",
            )
        )
        gap = e.evaluation.gap[np.isfinite(e.evaluation.gap)].ravel()
        data.append(
            dict(
                type="box",
                x=[e.name] * len(gap),
                y=np.maximum(gap, LOSS_FLOOR).tolist(),
                name=e.name,
                marker=dict(color=color),
                boxpoints="outliers",
                showlegend=False,
                xaxis="x3",
                yaxis="y3",
            )
        )
    axis = dict(showgrid=True, gridcolor="rgba(0,0,0,0.08)", linecolor="#444", mirror=True, ticks="outside")
    cats = dict(axis, type="category", categoryorder="array", categoryarray=names)
    titles = (
        ("success rate: runs that reach the tolerance (%)", 0.0),
        ("steps to tolerance (the runs that got there)", 0.35),
        ("final loss − f* (log; diverged runs left out)", 0.7),
    )
    layout = dict(
        height=520 if presenter else 460,
        margin=dict(l=60, r=20, t=70, b=90),
        font=dict(size=font),
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        xaxis=dict(cats, domain=[0, 0.3], anchor="y"),
        yaxis=dict(axis, range=[0, 110], anchor="x"),
        xaxis2=dict(cats, domain=[0.35, 0.65], anchor="y2"),
        yaxis2=dict(axis, anchor="x2", range=[0, race.protocol.steps * 1.02]),
        xaxis3=dict(cats, domain=[0.7, 1], anchor="y3"),
        yaxis3=dict(axis, anchor="x3", type="log"),
        annotations=[
            dict(text=f"<b>{t}</b>", x=x, y=1.04, xref="paper", yref="paper", showarrow=False, xanchor="left")
            for t, x in titles
        ],
        showlegend=False,
    )
    return dict(data=data, layout=layout)
