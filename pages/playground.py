"""Playground: pick a surface and optimizers, move sliders, watch the paths."""

from __future__ import annotations

import time

import streamlit as st

from figures.playground import playground_figure, quiz_figure
from figures.small import schedule_preview, surface_3d
from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import available_schedules, make_schedule, schedule_class
from surfaces import available_surfaces, surface_class
from ui import lecture_mode, session
from ui.keys import lecture_keys
from ui.scrub import scrub_section
from ui.shell import page_setup
from ui.downloads import scene_exports
from ui.compute import freeze, run_optimizer, surface_drawing, surface_grid, warm_up_playground
from scene.config import MAX_NOISE, MAX_OPTIMIZERS, SPEEDS, STEP_CHOICES, effective_hparams, lesson_config
from ui.live_figure import live_figure
from ui.plotly_figure import PrebuiltFigure
from ui.lecture_mode import PROJECTOR_HEIGHT
from ui.text import engine_note, plain, schedule_note
from ui.widgets import param_widget

page_setup()
P = session.P
embedded = bool(st.context.is_embedded)  # ?embed=true: the projector view (no sidebar, no toolbar)

url_warnings = session.sync_from_url()
if url_warnings:
    st.session_state[P + "ui.url_warnings"] = url_warnings

# ---- sidebar: every control ---------------------------------------------------------------
sb = st.sidebar
presets = session.presets()
if presets:
    names = ["—"] + [p["name"] for p in presets]

    def _apply_preset():
        chosen = st.session_state[P + "ui.preset"]
        for p in presets:
            if p["name"] == chosen:
                st.session_state[P + "ui.url_warnings"] = session.load_preset(p["query"])

    sb.selectbox(
        "Scene",
        names,
        key=P + "ui.preset",
        on_change=_apply_preset,
        help="Ready-made comparisons; each one is also a link.",
    )

sb.selectbox(
    "Surface",
    available_surfaces(),
    key=P + "surface",
    format_func=lambda k: surface_class(k).name,
    on_change=session.on_surface_change,
)
surface_key = st.session_state[P + "surface"]
cls = surface_class(surface_key)
for p in cls.params:
    param_widget(p, P + "s." + p.name, p.default, container=sb)
if surface_key == "formula":
    sb.text_area(
        "f(x, y) =",
        key=P + "f.expr",
        max_chars=500,
        on_change=session.apply_formula,
        help="Numbers, x, y, + − * / ** (or ^), parentheses, pi, e and sin cos tan exp log log10 log2 "
        "sqrt abs tanh sinh cosh atan min max. Press Ctrl+Enter to apply.",
    )
    sb.text_input("View: xmin, xmax, ymin, ymax", key=P + "f.bounds", on_change=session.apply_formula)
    if P + "ui.formula_error" in st.session_state:
        sb.error(plain(st.session_state[P + "ui.formula_error"]) + "  \n(The previous formula stays.)")
lesson = lesson_config(surface_key)

sb.multiselect(
    "Optimizers",
    available_optimizers(),
    key=P + "optimizers",
    max_selections=MAX_OPTIMIZERS,
    format_func=lambda k: get_optimizer(k).name,
)
for key in st.session_state[P + "optimizers"]:
    spec = get_optimizer(key)
    with sb.expander(f"{spec.name} settings"):
        defaults = effective_hparams(lesson, key)
        for p in session.hparam_specs(key):
            param_widget(p, f"{P}hp.{key}.{p.name}", defaults.get(p.name, p.default))

with sb.expander("Learning-rate schedule", expanded=st.session_state.get(P + "sched", "constant") != "constant"):
    choices = [k for k in available_schedules() if k != "warmup"]
    st.selectbox("Schedule", choices, key=P + "sched", format_func=lambda k: schedule_class(k).name)
    base = st.session_state[P + "sched"]
    for p in schedule_class(base).params:
        param_widget(p, P + "sched." + p.name, p.default)
    st.toggle(
        "Linear warm-up first", key=P + "warmup", help="Multiplies the schedule by a ramp from start_factor to 1."
    )
    if st.session_state[P + "warmup"]:
        for p in schedule_class("warmup").params:
            param_widget(p, P + "sched." + p.name, p.default)

sb.select_slider("Steps", STEP_CHOICES, key=P + "steps")
sb.slider(
    "Gradient noise σ",
    0.0,
    MAX_NOISE,
    step=0.01,
    key=P + "noise",
    help="Gaussian noise added to every gradient, like a minibatch estimate.",
)
surface_now = session.current_surface(surface_key, session.read_config().surface_params)
examples = getattr(surface_now, "n_examples", None)
if examples is not None:  # a data surface: real minibatch noise
    sb.toggle(
        "Minibatches",
        key=P + "batch.on",
        help=f"Each step's gradient on a few of the {examples} examples instead of all of them: drawn without "
        "replacement, a new order every epoch, by the noise seed.",
    )
    if st.session_state.get(P + "batch.on"):
        if not 1 <= st.session_state.get(P + "batch", 0) < examples:
            st.session_state[P + "batch"] = min(16, examples - 1)
        sb.slider("Batch size k", 1, examples - 1, key=P + "batch")
sb.number_input("Noise seed", 0, 2**31 - 1, step=1, key=P + "seed")
(x0, x1), (y0, y1) = surface_now.bounds
c1, c2 = sb.columns(2)
c1.number_input("start x", float(x0), float(x1), step=0.1, key=P + "start.x", format="%.3f")
c2.number_input("start y", float(y0), float(y1), step=0.1, key=P + "start.y", format="%.3f")
sb.caption("Or click on the surface to start there.")
sb.toggle("Presenter mode (large text)", key=P + "ui.presenter")
if not embedded:  # the projector view has it in the bar under the figure
    sb.select_slider("Animation speed", list(SPEEDS), key=P + "ui.speed")
sb.toggle(
    "Predict, then reveal",
    key=P + "ui.quiz",
    help="Shows the surface, the start and the optimizers, and hides the paths and the step panels until you "
    "press Reveal (or the key R): ask the room first.",
)
if st.session_state.get(P + "ui.quiz"):
    sb.toggle("Anonymous optimizers", key=P + "ui.quiz_anon", help="Letters in the legend until the reveal.")
sb.toggle("3D view", key=P + "ui.show3d")

cfg = session.read_config()
session.write_url(cfg)
lecture_mode.projector_link_button(cfg, sb)

# ---- main area ----------------------------------------------------------------------------
lecture = lecture_mode.current_lecture(cfg)
hidden = lecture_mode.paths_hidden(cfg)
if cfg.presenter or embedded:
    st.markdown(lecture_mode.PRESENTER_CSS, unsafe_allow_html=True)
if embedded:
    st.markdown(lecture_mode.PROJECTOR_CSS, unsafe_allow_html=True)
surface = session.current_surface(surface_key, cfg.surface_params)
if not embedded:
    st.title("Playground")
    if lecture is not None:
        lecture_mode.scene_header(cfg, lecture, hidden=hidden)
    st.caption(
        f"**{surface.name}** — {plain(surface.description) if surface_key == 'formula' else surface.description}"
    )
    if getattr(surface, "note", None):  # a data surface: what the chosen data set shows, from its own numbers
        st.caption(surface.note)
    if getattr(surface, "see_page", None):  # the lecture page that teaches the same thing
        path, label = surface.see_page
        st.link_button(label, f"./{path}", icon=":material/school:")
for w in st.session_state.pop(P + "ui.url_warnings", []) or []:
    st.warning(plain(w), icon="⚠️")  # warnings quote URL text: shown as typed, never as Markdown

t0 = time.perf_counter()
if surface_key != "formula":
    warm_up_playground(surface_key)  # background builds for this surface's lesson scene (once)
grid = surface_grid(surface_key, freeze(cfg.surface_params))
sched_key = cfg.schedule
sched_params = freeze(cfg.schedule_params)
runs, errors, compute_s = [], [], 0.0
for key in cfg.optimizers:
    hp = effective_hparams(cfg, key)
    called = time.perf_counter()
    run, error, seconds = run_optimizer(
        surface_key,
        freeze(cfg.surface_params),
        key,
        freeze(hp),
        sched_key,
        sched_params,
        cfg.steps,
        cfg.start,
        cfg.noise,
        cfg.seed,
        engine="auto",
        batch_size=cfg.batch_size,
    )
    if time.perf_counter() - called >= seconds:  # computed now; a cached answer returns faster than it took
        compute_s += seconds
    if error:
        errors.append(error)
    else:
        runs.append(run)
for e in errors:
    st.error(plain(e))
if not cfg.optimizers:
    st.info("Choose one or more optimizers in the sidebar.")

start = cfg.start if cfg.start is not None else surface.start
figure = playground_figure(
    surface,
    runs,
    layers=surface_drawing(surface_key, freeze(cfg.surface_params)),
    start=start,
    presenter=cfg.presenter or embedded,
    frame_ms=SPEEDS[cfg.speed],
    height=PROJECTOR_HEIGHT if embedded else None,
)
autoplay = lecture_mode.take_autoplay()
if hidden:
    figure = quiz_figure(figure, runs, anonymous=cfg.quiz == "anon")
elif autoplay:
    figure["layout"]["meta"] = {"autoplay": autoplay}  # the keys script plays it from the start

live_figure(
    figure,
    P + "ui.chart",
    click_trace=session.CLICK_GRID_TRACE,
    on_click=session.on_chart_click,
    config={"displaylogo": False, "scrollZoom": False},
)
server_ms = (time.perf_counter() - t0) * 1000

# The bar under the figure: the scene in the projector view, Reveal, the keys.
measured_slot = None
bar = st.columns([5, 2, 1, 1] if embedded else [7, 1, 1], vertical_alignment="center")
if embedded and lecture is not None:
    lecture_mode.scene_header(cfg, lecture, bar[0], hidden=hidden)
if embedded:
    bar[1].select_slider("Animation speed", list(SPEEDS), key=P + "ui.speed", label_visibility="collapsed")
if hidden:
    lecture_mode.reveal_button(bar[-2])
    bar[0].caption("Which path will reach the minimum first? Reveal (key R) draws the paths and plays them.")
with bar[-1]:
    actions = {"reveal": lecture_mode.reveal} if hidden else {}
    if lecture is not None:
        actions.update(next=lecture_mode.next_scene, previous=lecture_mode.previous_scene)
    lecture_keys(P + "ui.keys", actions, autoplay=autoplay)
if lecture is not None and not hidden:
    measured_slot = lecture_mode.scene_text(cfg, lecture)


if not hidden:
    scrub_section(cfg, surface, P, P + "hp.{key}.{name}", presenter=cfg.presenter or embedded)
scene_exports(cfg, key=P + "ui.export", name=f"gradscape-{surface_key}")

diverged = [r.label for r in runs if r.diverged_at >= 0 and not hidden]
lines = [
    "Top: the surface, each path, and a dot per optimizer at the animated step. The shading is by rank, not by "
    "loss: darker blue is higher loss, and each shade, like each band between two contour lines, covers about "
    "the same share of the view, however unequal the loss steps between them. Below, on one step axis: the "
    + ("loss above the minimum, loss − f* (log scale)" if surface.minima else "loss (linear scale)")
    + ", the gradient norm (log scale), and the learning rates (log scale): dotted is the scheduled η; solid (x) "
    "and dashed (y) are the per-coordinate effective step factor of the adaptive methods (for Rprop, its step "
    "length)."
]
if diverged:
    lines.append(f"Diverged: {', '.join(diverged)} — the path stops where it left the view.")
st.caption(" ".join(lines))

# Not in the projector view: a chart in the folded sidebar has no width, and plotly.js complains.
if not embedded:
    preview = sb.expander("Schedule preview", key=P + "ui.sched_open", on_change="rerun")
    if preview.open:  # a chart built only when it is looked at
        schedule = make_schedule(sched_key, **cfg.schedule_params)
        if schedule.needs_loss:
            preview.caption("Reduce-on-plateau depends on each run's loss: see the learning-rate panel.")
        else:
            preview.plotly_chart(
                PrebuiltFigure(schedule_preview(schedule.values(cfg.steps).numpy())),
                key=P + "ui.sched_preview",
                config={"displayModeBar": False},
            )

if st.session_state.get(P + "ui.show3d") and not hidden:
    st.plotly_chart(PrebuiltFigure(surface_3d(surface, runs, grid, presenter=cfg.presenter)), key=P + "ui.chart3d")

st.caption(f"Server time {server_ms:.0f} ms (engine {compute_s * 1000:.0f} ms of it; cached runs cost nothing).")
if not hidden:
    st.caption(engine_note(runs))
if note := schedule_note(cfg.schedule, cfg.optimizers):
    st.caption(note)
if lecture is not None and not hidden:
    lecture_mode.fill_measured(measured_slot, cfg, lecture)
