"""Hyperparameter map: the outcome over two hyperparameters (thousands of runs in one batch), and
final loss against the learning rate for several optimizers."""

from __future__ import annotations

import streamlit as st

from engine.sweeps import DEFAULT_TOL, OBJECTIVES, find_param, sweepable
from figures.maps import CELL_TRACE_NAME, fmt, hparam_heatmap, lr_curves, param_title
from optimizers import available_optimizers, get_optimizer
from surfaces import available_surfaces, surface_class
from ui.compute import freeze, hparam_map, lr_sweep
from scene.config import Config, to_query
from ui.lecture import surface_params_widgets
from ui.plotly_figure import PrebuiltFigure
from ui.shell import page_setup, playground_link
from ui.widgets import fmt_value, param_widget

page_setup()
K = "hm"
SURFACES = [k for k in available_surfaces() if k != "formula"]
GRID_SIZES = [8, 16, 24, 32, 48, 64, 96, 128]
STEPS = [50, 100, 200, 300, 500, 1000, 2000]
TOLS = [1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10]
OBJECTIVE_LABELS = {"final_loss": "final loss", "steps_to_tol": "steps to tolerance"}
Y_PREFERRED = ("momentum", "beta1", "alpha", "rho", "slow_alpha", "damping", "etaminus", "final_lr", "eps")
LR_POINTS = 41

sb = st.sidebar
surface_key = sb.selectbox(
    "Surface",
    SURFACES,
    index=SURFACES.index("rosenbrock"),
    key=f"{K}.surface",
    format_func=lambda k: surface_class(k).name,
)
cls = surface_class(surface_key)
surface_params, surface = surface_params_widgets(K, surface_key, container=sb)
key = sb.selectbox(
    "Optimizer",
    available_optimizers(),
    index=available_optimizers().index("momentum"),
    key=f"{K}.opt",
    format_func=lambda k: get_optimizer(k).name,
)
spec = get_optimizer(key)
lesson = dict(cls.lesson_hparams.get(key, {}))
inner = (
    st.session_state.get(f"{K}.{key}.hp.{spec.inner_param}", lesson.get(spec.inner_param)) if spec.inner_param else None
)
base_for_specs = {spec.inner_param: inner} if inner else {}
names = sweepable(key, base_for_specs)


def label_of(name: str) -> str:
    return param_title(find_param(key, name, base_for_specs))


y_default = next((n for n in Y_PREFERRED if n in names and n != "lr"), next(n for n in names if n != "lr"))
name_x = sb.selectbox(
    "x axis", names, index=names.index("lr") if "lr" in names else 0, key=f"{K}.{key}.x", format_func=label_of
)
y_names = [n for n in names if n != name_x]
name_y = sb.selectbox(
    "y axis",
    y_names,
    index=y_names.index(y_default) if y_default in y_names else 0,
    key=f"{K}.{key}.y.{name_x}",
    format_func=label_of,
)


def range_widget(name: str):
    """The swept range of one axis: a range select-slider on the 1-2-5 grid for log-scale values."""
    p = find_param(key, name, base_for_specs)
    wkey = f"{K}.{surface_key}.{key}.range.{name}"
    if p.log:
        grid = list(p.grid())
        centre = float(lesson.get(name, p.default))
        lo = max([v for v in grid if v <= centre / 100] or [grid[0]])
        hi = min([v for v in grid if v >= centre * 10] or [grid[-1]])
        return sb.select_slider(f"{param_title(p)}: range", grid, value=(lo, hi), key=wkey, format_func=fmt_value)
    return sb.slider(f"{param_title(p)}: range", float(p.low), float(p.high), (float(p.low), float(p.high)), key=wkey)


range_x = range_widget(name_x)
range_y = range_widget(name_y)
n = sb.select_slider(
    "Grid (cells a side)",
    GRID_SIZES,
    value=48,
    key=f"{K}.n",
    help="n × n runs of the optimizer, all in one batched simulation.",
)
steps = sb.select_slider("Steps", STEPS, value=500, key=f"{K}.steps")
objective = sb.radio(
    "Colour and best cell by", OBJECTIVES, key=f"{K}.objective", format_func=OBJECTIVE_LABELS.get, horizontal=True
)
tol = sb.select_slider("Tolerance on loss − f*", TOLS, value=DEFAULT_TOL, key=f"{K}.tol", format_func=fmt_value)
with sb.expander("Other hyperparameters (held fixed)"):
    specs = spec.params_with_inner(inner)
    fixed = {
        p.name: param_widget(p, f"{K}.{key}.hp.{p.name}", lesson.get(p.name, p.default))
        for p in specs
        if p.name not in (name_x, name_y)
    }
(x0, x1), (y0, y1) = surface.bounds
c1, c2 = sb.columns(2)
sx = c1.number_input(
    "start x", float(x0), float(x1), float(surface.start[0]), 0.1, key=f"{K}.{surface_key}.sx", format="%.3f"
)
sy = c2.number_input(
    "start y", float(y0), float(y1), float(surface.start[1]), 0.1, key=f"{K}.{surface_key}.sy", format="%.3f"
)
start = (float(sx), float(sy))
link_start = None if start == tuple(surface.start) else start


def link_to_playground(hparams_by_key: dict, label: str) -> None:
    cfg = Config(
        surface=surface_key,
        surface_params=surface_params,
        optimizers=tuple(hparams_by_key),
        hparams=hparams_by_key,
        steps=steps,
        start=link_start,
    )
    playground_link(label, to_query(cfg))


# ---- main area -------------------------------------------------------------------------------------
st.title("Hyperparameter map")
st.caption(
    f"**{spec.name}** on **{surface.name}**: {n} × {n} = {n * n:,} runs of {steps} steps, one per cell, all "
    f"in one batched simulation from the same start ({start[0]:g}, {start[1]:g}). Every other "
    "hyperparameter is held at the value in the sidebar."
)
with st.spinner(f"Running {n * n:,} runs × {steps} steps in one batch…"):
    result, error = hparam_map(
        surface_key,
        freeze(surface_params),
        key,
        name_x,
        name_y,
        tuple(range_x),
        tuple(range_y),
        n,
        n,
        steps,
        start,
        freeze(fixed),
        float(tol),
    )
if error:
    st.error(error)
else:
    px, py = find_param(key, name_x, base_for_specs), find_param(key, name_y, base_for_specs)
    figure = hparam_heatmap(result, objective, x_param=px, y_param=py)
    cells_trace = next(i for i, t in enumerate(figure["data"]) if t.get("name") == CELL_TRACE_NAME)
    event = st.plotly_chart(
        PrebuiltFigure(figure),
        key=f"{K}.chart",
        on_select="rerun",
        selection_mode="points",
        config={"displaylogo": False},
    )
    what = (
        ("log₁₀ of the final loss − f*" if result.f_star is not None else "the final loss")
        if objective == "final_loss"
        else f"the steps until loss − f* < {tol:g}"
    )
    grain = (
        ""
        if result.record_every == 1
        else f" Steps are read every {result.record_every} steps (to keep memory small), so a step count s means "
        f"somewhere in (s − {result.record_every}, s]."
    )
    never = f" Light grey: never below {tol:g} within {steps} steps." if objective == "steps_to_tol" else ""
    st.caption(
        f"Colour: {what} (brighter is better). Dark grey: diverged (a non-finite value, or far outside "
        f"the view).{never} The star marks the best cell. Hover a cell for its values; click one to get a link "
        f"that opens it in the Playground. {result.seconds:.2f} s for the batch.{grain}"
    )
    best = result.best(objective)
    c1, c2 = st.columns(2)
    with c1:
        if best is None:
            st.warning("Every cell diverged: try a smaller learning-rate range.")
        else:
            r, c = best
            st.markdown(
                f"**Best cell** ({OBJECTIVE_LABELS[objective]}): {px.label} = {fmt(result.values_x[c])}, "
                f"{py.label} = {fmt(result.values_y[r])} — {result.outcome(r, c)}."
            )
            link_to_playground({key: result.hparams_at(r, c)}, "Open the best cell in the Playground")
    with c2:
        points = [
            p
            for p in (event.selection.points if event else [])
            if p.get("curve_number") == cells_trace and 0 <= round(p["x"]) < n and 0 <= round(p["y"]) < n
        ]  # a selection from a larger grid is stale
        if points:
            c, r = int(round(points[0]["x"])), int(round(points[0]["y"]))
            st.markdown(
                f"**Selected cell**: {px.label} = {fmt(result.values_x[c])}, {py.label} = "
                f"{fmt(result.values_y[r])} — {result.outcome(r, c)}."
            )
            link_to_playground({key: result.hparams_at(r, c)}, "Open the selected cell in the Playground")
        else:
            st.caption("Click a cell to select it.")

# ---- 1-D: final loss against lr ----------------------------------------------------------------------
st.subheader("Final loss against the learning rate")
default_keys = list(dict.fromkeys([key, "sgd", "momentum", "adam"]))
keys = st.multiselect(
    "Optimizers",
    available_optimizers(),
    default=default_keys,
    key=f"{K}.lr.opt",
    format_func=lambda k: get_optimizer(k).name,
)
st.caption(
    f"Each optimizer over {LR_POINTS} learning rates spread evenly on a log scale across its slider range "
    f"({steps} steps, same start and tolerance). Its other hyperparameters are its lesson values on this "
    "surface, or the defaults."
)
sweeps, errors = {}, []
progress = st.progress(0.0, text="Sweeping learning rates…") if keys else None
for i, k in enumerate(keys):
    base = {name: v for name, v in cls.lesson_hparams.get(k, {}).items() if name != "lr"}
    sweep, err = lr_sweep(
        surface_key, freeze(surface_params), k, LR_POINTS, steps, start, freeze(base), float(tol), objective
    )
    if err:
        errors.append(err)
    else:
        sweeps[k] = sweep
    progress.progress((i + 1) / len(keys), text=f"Swept {get_optimizer(k).name}")
if progress is not None:
    progress.empty()
for e in errors:
    st.error(e)
if sweeps:
    names_by_key = {k: get_optimizer(k).name for k in sweeps}
    st.plotly_chart(
        PrebuiltFigure(lr_curves(sweeps, objective, names=names_by_key)),
        key=f"{K}.lr.chart",
        config={"displaylogo": False},
    )
    rows = []
    for k, s in sweeps.items():
        b = s.best(objective)
        rows.append(
            {
                "optimizer": names_by_key[k],
                "best lr": None if b is None else float(s.lrs[b]),
                "outcome at best lr": "all diverged" if b is None else s.outcome(b),
                "lrs that diverged": f"{int(s.diverged.sum())} of {len(s.lrs)}",
            }
        )
    st.dataframe(rows, hide_index=True, width="stretch")
    tuned = {
        k: {**cls.lesson_hparams.get(k, {}), "lr": s.best_lr(objective)}
        for k, s in sweeps.items()
        if s.best(objective) is not None
    }
    if tuned:
        link_to_playground(tuned, "Open these optimizers at their best lr in the Playground")
