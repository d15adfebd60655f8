"""The Fair comparison page's race (engine/race.py): its protocol widgets, the run with a progress bar,
the distributions, each optimizer's median run in the Playground, and the report card."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.race import LR_POINTS, MIN_SEEDS, MIN_STARTS, OBJECTIVES, SECOND_POINTS, START_KINDS, Protocol
from engine.race import second_choices
from export.race import report_csv, report_png
from figures.race import protocol_text, race_figure
from scene.config import Config, to_query
from ui.compute import fair_race, freeze
from ui.plotly_figure import PrebuiltFigure
from ui.shell import playground_link
from ui.widgets import fmt_value

K = "fc.race"
TOLS = [1e-1, 1e-2, 1e-3, 1e-4, 1e-6]
STARTS = [MIN_STARTS, 100, 144, 256]
SEEDS = [MIN_SEEDS, 16, 32]
LR_GRID = [LR_POINTS, 24, 32]
SECOND_GRID = [3, SECOND_POINTS, 8]
OBJECTIVE_LABELS = {
    "median_steps": "fewest steps to tolerance (median)",
    "success_rate": "most runs reaching tolerance",
    "median_final_loss": "lowest final loss (median)",
}
KIND_LABELS = {"sample": "a seeded random sample", "grid": "a grid"}


def protocol_widgets(steps: int, keys: list) -> Protocol:
    sb = st.sidebar
    objective = sb.radio(
        "Tune each learning rate for", list(OBJECTIVES), key=f"{K}.objective", format_func=OBJECTIVE_LABELS.get
    )
    tol = sb.select_slider("Tolerance on loss − f*", TOLS, value=1e-3, key=f"{K}.tol", format_func=fmt_value)
    c1, c2 = sb.columns(2)
    starts = c1.selectbox("Starts", STARTS, key=f"{K}.starts")
    kind = c2.selectbox("Spread as", START_KINDS, key=f"{K}.kind", format_func=KIND_LABELS.get)
    start_seed = sb.number_input("Seed of the starts", 0, 10_000, 0, key=f"{K}.start_seed") if kind == "sample" else 0
    noise = sb.slider("Gradient noise σ", 0.0, 1.0, 0.0, 0.01, key=f"{K}.noise")
    seeds = sb.selectbox("Noise seeds per start", SEEDS, key=f"{K}.seeds") if noise > 0 else MIN_SEEDS
    lr_points = sb.selectbox("Learning rates tried per optimizer", LR_GRID, key=f"{K}.lrs")
    choices = second_choices(keys)
    if st.session_state.get(f"{K}.second") not in (None, *choices):  # its optimizers were all removed
        st.session_state[f"{K}.second"] = None
    second = sb.selectbox(
        "Also tune",
        [None, *choices],
        key=f"{K}.second",
        format_func=lambda n: "nothing else (the lr alone)" if n is None else choices[n],
        help="One more hyperparameter tuned jointly with the lr, for every optimizer that has it (the others tune "
        "the lr alone): every pair of the two grids is tried.",
    )
    second_points = sb.selectbox("Values of it tried", SECOND_GRID, index=1, key=f"{K}.second_n") if second else 0
    return Protocol(
        steps=steps,
        starts=int(starts),
        start_kind=kind,
        start_seed=int(start_seed),
        noise=float(noise),
        seeds=int(seeds),
        lr_points=int(lr_points),
        objective=objective,
        tol=float(tol),
        second=second,
        second_points=int(second_points) if second else SECOND_POINTS,
    )


def race_page(surface_key: str, surface_params: dict, surface, keys: list, steps: int) -> None:
    protocol = protocol_widgets(steps, keys)
    st.title("Fair comparison: a race over many starts")
    if not keys:
        st.info("Choose optimizers in the sidebar.")
        return
    bar = st.progress(0.0, text="Tuning…")
    race, error = fair_race(
        surface_key, freeze(surface_params), tuple(keys), protocol, progress=lambda f, t: bar.progress(f, text=t)
    )
    bar.empty()
    if error:
        st.error(error)
        return
    st.markdown(f"On **{surface.name}**. " + protocol_text(race))
    for e in race.errors.values():
        st.error(e)
    rows = []
    label = second_choices(keys)[protocol.second] if protocol.second else None
    second = f"tuned {label}" if label else None
    for e in race.entries.values():
        reached = e.reached_steps()
        diverged = int(e.evaluation.diverged.sum())
        rows.append(
            {
                "optimizer": e.name,
                "tuned lr": e.tuned_lr,
                **({second: e.tuned_second} if second else {}),
                "success rate": f"{100 * e.success_rate:.0f}%",
                "median steps (runs that got there)": int(np.median(reached)) if len(reached) else None,
                "median final loss − f*": e.median_final_gap,
                "diverged": f"{diverged} of {e.evaluation.gap.size}",
            }
        )
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "tuned lr": st.column_config.NumberColumn(format="%.4g"),
            **({second: st.column_config.NumberColumn(format="%.4g")} if second else {}),
            "median final loss − f*": st.column_config.NumberColumn(format="%.3g"),
        },
    )
    figure = race_figure(race)
    st.plotly_chart(PrebuiltFigure(figure), key=f"{K}.chart", config={"displaylogo": False})
    every = max((e.evaluation.record_every for e in race.entries.values()), default=1)
    per_setting = len(race.tuning_starts) * protocol.n_seeds
    tuning_runs = f"{protocol.lr_points * per_setting:,} tuning runs"
    if protocol.second:
        tuning_runs += f" ({protocol.lr_points * protocol.second_points * per_setting:,} where {label} is tuned too)"
    read = (
        "at every step."
        if every == 1
        else f"every {every} steps (a run counted at step s got there after s − {every})."
    )
    st.caption(
        f"Computed in {race.seconds:.1f} s: two batched calls per optimizer, {tuning_runs} and "
        f"{len(race.evaluation_starts) * protocol.n_seeds:,} evaluation runs each. Steps to tolerance are read {read}"
    )
    st.subheader("Each optimizer's median run")
    st.caption("The evaluation run with the median final loss: its start, its noise seed and the tuned values.")
    cols = st.columns(min(4, max(len(race.entries), 1)))
    for i, e in enumerate(race.entries.values()):
        s, j = e.median_run()
        x, y = race.evaluation_starts[s]
        cfg = Config(
            surface=surface_key,
            surface_params=surface_params,
            optimizers=(e.key,),
            hparams={e.key: e.tuned},
            steps=protocol.steps,
            noise=protocol.noise,
            seed=int(race.evaluation_seeds[j]),
            start=(round(float(x), 4), round(float(y), 4)),
        )
        with cols[i % len(cols)]:
            playground_link(f"{e.name}", to_query(cfg), icon=":material/play_arrow:")
    name = f"gradscape-race-{surface_key}"
    c1, c2, _ = st.columns([1, 1, 3])
    c1.download_button(
        "Report card (CSV)",
        data=lambda: report_csv(race),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"{K}.csv",
        on_click="ignore",
    )
    c2.download_button(
        "Report card (PNG)",
        data=lambda: report_png(race, f"Fair race on {surface.name}"),
        file_name=f"{name}.png",
        mime="image/png",
        key=f"{K}.png",
        on_click="ignore",
    )
