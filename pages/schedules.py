"""Learning-rate schedules: every curve, and what one does to an optimizer on a surface."""

from __future__ import annotations

import streamlit as st

from engine.lessons import compare_runs
from figures.playground import playground_figure
from figures.small import schedule_preview
from figures.words import schedule_label
from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import available_schedules, make_schedule, schedule_class
from surfaces import available_surfaces, get_surface, surface_class
from ui.compute import surface_drawing
from ui.downloads import figure_exports
from ui.lecture import run_all
from ui.plotly_figure import PrebuiltFigure
from ui.shell import page_setup
from ui.widgets import param_widget

page_setup()
K = "sc"
st.title("Learning-rate schedules")
st.caption(
    "Time-based schedules change η with the step count; reduce-on-plateau reacts to the loss. A linear warm-up "
    "can be put in front of any of them."
)

st.subheader("Every schedule at its defaults (η₀ = 1, 500 steps)")
keys = [k for k in available_schedules() if k not in ("constant", "plateau")]
cols = st.columns(3)
for i, key in enumerate(keys):
    cls = schedule_class(key)
    sched = make_schedule(key, inner="cosine") if key == "warmup" else make_schedule(key)
    with cols[i % 3]:
        title = schedule_label(sched)  # the warm-up card draws a warm-up into a cosine decay: its title says so
        st.markdown(f"**{title}**  \n${cls.latex}$" if cls.latex else f"**{title}**")
        st.plotly_chart(
            PrebuiltFigure(schedule_preview(sched.values(500).numpy(), title="")),
            key=f"{K}.all.{key}",
            config={"displayModeBar": False},
        )
st.caption("Reduce on plateau is not drawn here: its curve depends on the run's loss (see below).")

st.subheader("The effect on a run")
sb = st.sidebar
surface_key = sb.selectbox(
    "Surface",
    available_surfaces(),
    index=available_surfaces().index("rastrigin"),
    key=f"{K}.surface",
    format_func=lambda k: surface_class(k).name,
)
opt = sb.selectbox(
    "Optimizer",
    available_optimizers(),
    index=available_optimizers().index("adam"),
    key=f"{K}.opt",
    format_func=lambda k: get_optimizer(k).name,
)
lr = sb.select_slider(
    "Learning rate η₀",
    [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 0.5, 1.0, 2.0],
    value=1.0,
    key=f"{K}.lr",
    format_func=lambda v: f"{v:g}",
)
steps = sb.select_slider("Steps", [100, 200, 500, 1000, 2000], value=500, key=f"{K}.steps")
base_keys = [k for k in available_schedules() if k != "warmup"]
base = sb.selectbox(
    "Schedule",
    base_keys,
    index=base_keys.index("cosine"),
    key=f"{K}.sched",
    format_func=lambda k: schedule_class(k).name,
)
params = {
    p.name: param_widget(p, f"{K}.p.{base}.{p.name}", p.default, container=sb) for p in schedule_class(base).params
}
warm = sb.toggle("Linear warm-up first", value=True, key=f"{K}.warm")
if warm:
    params.update(
        {
            p.name: param_widget(
                p, f"{K}.p.warmup.{p.name}", 100 if p.name == "warmup_steps" else p.default, container=sb
            )
            for p in schedule_class("warmup").params
        }
    )
    schedule = ("warmup", tuple(sorted({**params, "inner": base}.items())))
else:
    schedule = (base, tuple(sorted(params.items())))
sched_name = schedule_label(make_schedule(schedule[0], **dict(schedule[1])))

hp = {opt: {"lr": lr}}
plain, err1 = run_all(surface_key, {}, [opt], hp, steps)
scheduled, err2 = run_all(surface_key, {}, [opt], hp, steps, schedule=schedule)
for e in err1 + err2:
    st.error(e)
if plain and scheduled:
    from dataclasses import replace

    runs = [
        replace(plain[0], label=f"{plain[0].label}, constant η"),
        replace(
            scheduled[0], key="nesterov" if opt != "nesterov" else "sgd", label=f"{scheduled[0].label}, {sched_name}"
        ),
    ]
    surface = get_surface(surface_key)
    fig = playground_figure(surface, runs, layers=surface_drawing(surface_key, ()))
    st.plotly_chart(PrebuiltFigure(fig), key=f"{K}.fig")
    figure_exports(fig, key=f"{K}.export", name="gradscape-schedule")
    st.caption(
        "Two runs of the same optimizer from the same start: constant η against the schedule. The "
        "learning-rate panel shows both schedules (dotted) and, for adaptive methods, the per-coordinate "
        "effective learning rates. " + compare_runs(runs, surface.bounds)
    )
