"""Live scrubbing on the Playground: one numeric hyperparameter, 25 values, every optimizer's path at
each of them (engine.sweeps.scrub: one batched call per optimizer), and the slider inside the figure
(figures/scrub.py) that switches between them in the browser. "Apply" reads the value on show back
from the figure (a small component) and writes it to the sidebar, and so to the URL.
"""

from __future__ import annotations

import functools

import streamlit as st

from engine.sweeps import SCRUB_VALUES, axis_values, find_param, sweepable
from figures.scrub import scrub_figure
from optimizers import get_optimizer
from scene.config import Config, effective_hparams
from ui.compute import freeze, scrub_paths, surface_drawing
from ui.plotly_figure import PrebuiltFigure
from ui.widgets import fmt_value, widget_label

_JS = """
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const button = parentElement.querySelector("button");
  // The scrub figure this button belongs to: the one whose layout.meta.scrub carries the same token.
  const figure = () => Array.from(document.querySelectorAll(".js-plotly-plot")).find(
    (gd) => gd.layout && gd.layout.meta && gd.layout.meta.scrub && gd.layout.meta.scrub.token === data.token);
  button.onclick = () => {
    const gd = figure();
    if (!gd) return;
    const slider = (gd._fullLayout.sliders || [])[0];
    setTriggerValue("apply", { token: data.token, index: slider ? slider.active : gd.layout.sliders[0].active });
  };
}
"""
_HTML = '<button type="button">Apply the value shown</button>'
_CSS = """
button { font: 14px sans-serif; padding: 0.35rem 0.8rem; border-radius: 0.5rem; border: 1px solid #bbb;
         background: #fff; color: #222; cursor: pointer; }
button:hover { border-color: #e24; color: #e24; }
"""
_apply_button = st.components.v2.component("gradscape_scrub_apply", html=_HTML, css=_CSS, js=_JS)


def scrub_names(keys) -> list[str]:
    """The float hyperparameters at least one of the optimizers has, the learning rate first."""
    names: list[str] = []
    for key in keys:
        names.extend(n for n in sweepable(key) if n not in names)
    return sorted(names, key=lambda n: (n != "lr", names.index(n)))


def scrub_values(p, lo: float, hi: float, n: int = SCRUB_VALUES) -> tuple[float, ...]:
    """n values from lo to hi (geometric on a log scale), each to 3 significant digits: a value that
    Apply writes to the sidebar reads as it was labelled."""
    values = axis_values(p, n, lo, hi)
    rounded = [float(f"{v:.3g}") for v in values]
    return tuple(dict.fromkeys(rounded))


def _range_widget(p, key: str) -> tuple[float, float]:
    if p.log:
        grid = list(p.grid())
        if st.session_state.get(key) and not all(v in grid for v in st.session_state[key]):
            del st.session_state[key]
        return st.select_slider("Range", grid, value=(grid[0], grid[-1]), key=key, format_func=fmt_value)
    return st.slider("Range", float(p.low), float(p.high), (float(p.low), float(p.high)), key=key)


def apply(prefix: str, hp_key: str, keys: tuple, name: str) -> None:
    """A callback: the value on show in the scrub figure, written to every optimizer that has `name`."""
    s = st.session_state
    event = getattr(s.get(prefix + "ui.scrub.apply"), "apply", None)
    drawn = s.get(prefix + "ui.scrub.drawn")
    if not isinstance(event, dict) or not drawn or event.get("token") != drawn["token"]:
        return
    index = event.get("index")
    if not isinstance(index, int) or not 0 <= index < len(drawn["values"]):
        return
    value = drawn["values"][index]
    for key in keys:
        try:
            p = find_param(key, name, {})
        except ValueError:
            continue
        s[hp_key.format(key=key, name=name)] = min(max(value, p.low), p.high)
    s[prefix + "ui.scrub.applied"] = (name, value)


def scrub_section(cfg: Config, surface, prefix: str, hp_key: str, presenter: bool = False) -> None:
    """The scrub control, its figure and Apply; nothing runs while it is off. prefix: the page's
    widget-key prefix; hp_key: its hyperparameter widgets' keys, as "pg.hp.{key}.{name}"."""
    if not st.toggle(
        "Scrub a hyperparameter",
        key=prefix + "ui.scrub",
        help=f"Every path at {SCRUB_VALUES} values of one hyperparameter, computed at once; a slider in the "
        "figure switches between them in your browser, with no wait.",
    ):
        return
    keys = tuple(cfg.optimizers)
    names = scrub_names(keys)
    if not names:
        st.info("None of the chosen optimizers has a numeric hyperparameter to scrub.")
        return
    left, right = st.columns([1, 2])
    name = left.selectbox(
        "Hyperparameter",
        names,
        key=prefix + "ui.scrub.name",
        format_func=lambda n: widget_label(_param(keys, n)),
    )
    p = _param(keys, name)
    with right:
        lo, hi = _range_widget(p, prefix + "ui.scrub.range." + name)
    values = scrub_values(p, lo, hi)
    scrubs, errors = [], []
    for key in keys:
        hp = effective_hparams(cfg, key)
        out, error = scrub_paths(
            cfg.surface,
            freeze(cfg.surface_params),
            key,
            freeze(hp),
            name,
            values,
            cfg.schedule,
            freeze(cfg.schedule_params),
            cfg.steps,
            cfg.start,
            cfg.noise,
            cfg.seed,
        )
        if error:
            errors.append(error)
        else:
            scrubs.append(out)
    for e in errors:
        st.error(e)
    if not scrubs:
        return
    first = next((k for k in keys if name in sweepable(k)), keys[0])
    current = float(effective_hparams(cfg, first).get(name, p.default))
    figure = scrub_figure(
        surface,
        scrubs,
        [get_optimizer(s.optimizer).name for s in scrubs],
        surface_drawing(cfg.surface, freeze(cfg.surface_params)),
        current,
        presenter=presenter,
        label=widget_label(p),
    )
    token = f"{name}:{hash((values, keys, cfg.steps)) & 0xFFFFFFFF:x}"
    figure["layout"]["meta"]["scrub"]["token"] = token
    st.session_state[prefix + "ui.scrub.drawn"] = {"token": token, "values": list(values)}
    st.plotly_chart(PrebuiltFigure(figure), key=prefix + "ui.scrub.chart", config={"displayModeBar": False})
    note, button = st.columns([4, 1], vertical_alignment="center")
    missing = [get_optimizer(s.optimizer).name for s in scrubs if s.constant]
    label = widget_label(p)
    every = scrubs[0].record_every
    drawn = "every step drawn" if every == 1 else f"every {every} steps drawn"
    note.caption(
        f"Drag the slider under the figure: each of its {len(values)} positions is a run computed in advance "
        f"(one batched call per optimizer, {drawn}), so the paths follow at once and nothing goes to the "
        f"server. The end dot is step {cfg.steps}."
        + (f" Dotted: {', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no {label}." if missing else "")
    )
    with button:
        _apply_button(
            data={"token": token},
            key=prefix + "ui.scrub.apply",
            on_apply_change=functools.partial(apply, prefix, hp_key, keys, name),
        )
    applied = st.session_state.pop(prefix + "ui.scrub.applied", None)
    if applied:
        st.caption(f"Applied {label} = {fmt_value(applied[1])} to the sidebar and the link.")


def _param(keys, name: str):
    for key in keys:
        try:
            return find_param(key, name, {})
        except ValueError:
            continue
    raise ValueError(f"no optimizer here has {name!r}")
