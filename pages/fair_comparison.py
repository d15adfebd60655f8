"""Fair comparison: the same step budget for every optimizer, each with its learning rate tuned by a
sweep under one stated objective, then the tuned runs overlaid."""

from __future__ import annotations

import streamlit as st

from engine.sweeps import DEFAULT_TOL, LOSS_FLOOR, OBJECTIVES
from figures.maps import fmt, lr_curves
from figures.playground import playground_figure
from optimizers import available_optimizers, get_optimizer
from surfaces import available_surfaces, surface_class
from ui.compute import freeze, lr_sweep, run_optimizer, surface_drawing
from scene.config import Config, to_query
from ui.lecture import surface_params_widgets
from ui.plotly_figure import PrebuiltFigure
from ui.keys import lecture_keys
from ui.race import race_page
from ui.shell import page_setup, playground_link
from ui.widgets import fmt_value

page_setup()
K = "fc"
SURFACES = [k for k in available_surfaces() if k != "formula"]
DEFAULT = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
STEPS = [50, 100, 200, 300, 500, 1000, 2000]
TOLS = [1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10]
GRID_POINTS = [11, 21, 41, 81]
OBJECTIVE_LABELS = {"final_loss": "lowest final loss", "steps_to_tol": "fewest steps to tolerance"}
MODES = {"race": "many starts: a fair race", "one": "one start"}

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
keys = sb.multiselect(
    "Optimizers", available_optimizers(), default=DEFAULT, key=f"{K}.opt", format_func=lambda k: get_optimizer(k).name
)
steps = sb.select_slider("Step budget (the same for all)", STEPS, value=500, key=f"{K}.steps")
mode = sb.radio(
    "Compare on",
    list(MODES),
    key=f"{K}.mode",
    format_func=MODES.get,
    help="A race judges each optimizer on many starts (and noise seeds), tuned on other starts; one start is "
    "the classic single-path comparison.",
)
if mode == "race":
    race_page(surface_key, surface_params, surface, keys, steps)
    st.stop()
objective = sb.radio("Tune each learning rate for", OBJECTIVES, key=f"{K}.objective", format_func=OBJECTIVE_LABELS.get)
tol = sb.select_slider("Tolerance on loss − f*", TOLS, value=DEFAULT_TOL, key=f"{K}.tol", format_func=fmt_value)
n_lrs = sb.select_slider("Learning rates tried per optimizer", GRID_POINTS, value=41, key=f"{K}.n")
(x0, x1), (y0, y1) = surface.bounds
c1, c2 = sb.columns(2)
sx = c1.number_input(
    "start x", float(x0), float(x1), float(surface.start[0]), 0.1, key=f"{K}.{surface_key}.sx", format="%.3f"
)
sy = c2.number_input(
    "start y", float(y0), float(y1), float(surface.start[1]), 0.1, key=f"{K}.{surface_key}.sy", format="%.3f"
)
start = (float(sx), float(sy))

# ---- main area -------------------------------------------------------------------------------------
st.title("Fair comparison")
criterion = (
    f"the lowest final loss − f* after {steps} steps (values within {LOSS_FLOOR:g} of f* count as equal "
    f"and are ranked by fewer steps to tolerance)"
    if objective == "final_loss"
    else f"the fewest steps until loss − f* < {tol:g} (ties, and runs that never get there, ranked by final loss)"
)
st.markdown(
    f"Every optimizer gets the **same budget of {steps} steps** from the same start on **{surface.name}**. Its "
    f"learning rate is **tuned by a sweep**: {n_lrs} values spread evenly on a log scale over its slider range, all "
    f"run in one batch, and the one with {criterion} is kept. Every other hyperparameter stays at its default "
    "(torch.optim's, with momentum 0.9 for the momentum methods). **Nothing else is applied**: no gradient "
    "clipping, no learning-rate schedule, no noise, no restarts."
)
if not keys:
    st.info("Choose optimizers in the sidebar.")
    st.stop()

sweeps, errors = {}, []
progress = st.progress(0.0, text="Tuning learning rates…")
for i, k in enumerate(keys):
    sweep, err = lr_sweep(surface_key, freeze(surface_params), k, n_lrs, steps, start, (), float(tol), objective)
    if err:
        errors.append(err)
    else:
        sweeps[k] = sweep
    progress.progress((i + 1) / len(keys), text=f"Tuned {get_optimizer(k).name} ({i + 1} of {len(keys)})")
progress.empty()
for e in errors:
    st.error(e)

tuned = {k: s.best_lr(objective) for k, s in sweeps.items()}
runs, rows = [], []
for k, s in sweeps.items():
    name = get_optimizer(k).name
    lr = tuned[k]
    b = s.best(objective)
    rows.append(
        {
            "optimizer": name,
            "tuned lr": lr,
            "range tried": f"{fmt(s.lrs[0])} … {fmt(s.lrs[-1])}",
            "outcome with the tuned lr": "every lr diverged" if b is None else s.outcome(b),
            "lrs that diverged": f"{int(s.diverged.sum())} of {len(s.lrs)}",
        }
    )
    if lr is None:
        continue
    hp = {**get_optimizer(k).defaults(), "lr": lr}
    run, err, _ = run_optimizer(
        surface_key, freeze(surface_params), k, freeze(hp), "constant", (), steps, start, 0.0, 0
    )
    if err:
        st.error(err)
    else:
        runs.append(run)

st.subheader("Tuned learning rates")
st.dataframe(
    rows, hide_index=True, width="stretch", column_config={"tuned lr": st.column_config.NumberColumn(format="%.4g")}
)
st.subheader(f"The tuned runs, {steps} steps each")
figure = playground_figure(surface, runs, layers=surface_drawing(surface_key, freeze(surface_params)), start=start)
st.plotly_chart(PrebuiltFigure(figure), key=f"{K}.chart", config={"displaylogo": False, "scrollZoom": False})
lecture_keys(f"{K}.keys")  # Space, arrows, Home/End drive the animation
cfg = Config(
    surface=surface_key,
    surface_params=surface_params,
    optimizers=tuple(k for k in sweeps if tuned[k]),
    hparams={k: {"lr": tuned[k]} for k in sweeps if tuned[k]},
    steps=steps,
    start=None if start == tuple(surface.start) else start,
)
if cfg.optimizers:
    playground_link("Open this comparison in the Playground", to_query(cfg))
with st.expander("How sensitive is each optimizer to its learning rate?", expanded=False):
    if sweeps:
        st.plotly_chart(
            PrebuiltFigure(lr_curves(sweeps, objective, names={k: get_optimizer(k).name for k in sweeps})),
            key=f"{K}.lr.chart",
            config={"displaylogo": False},
        )
        st.caption(
            "Each point is one run of the sweep; the star is the tuned value. A wide low basin means the "
            "method is forgiving about its learning rate; a narrow one means tuning matters."
        )
