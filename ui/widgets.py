"""Streamlit widgets generated from Param specs: no page writes a hyperparameter slider by hand."""

from __future__ import annotations

import math

import streamlit as st

from figures.words import label_with_symbol
from spec import Param


def fmt_value(v) -> str:
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) < 1e-3 or abs(v) >= 1e4:
            return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")
        return f"{v:.4g}"
    return str(v)


def _step(p: Param) -> float:
    span = p.high - p.low
    return 10.0 ** (math.floor(math.log10(span)) - 2) if span > 0 else 0.01


def widget_label(p: Param) -> str:
    """The label a Param's widget shows: its label with its symbol, the symbol shown once (labels such
    as "decay ρ" already carry it) and as plain Unicode text."""
    return label_with_symbol(p.label or p.name, p.latex)


def param_widget(p: Param, key: str, default, *, container=None, disabled: bool = False):
    """One widget for one Param, its state in st.session_state[key] (seeded with `default`)."""
    where = container if container is not None else st
    label = widget_label(p)
    if key not in st.session_state:
        st.session_state[key] = _snap(p, default)
    elif p.kind == "float" and p.log and st.session_state[key] not in _options(p, st.session_state[key]):
        st.session_state[key] = _snap(p, st.session_state[key])
    help_text = p.help or None
    if p.kind == "choice":
        return where.selectbox(label, p.choices, key=key, help=help_text, disabled=disabled)
    if p.kind == "bool":
        return where.toggle(label, key=key, help=help_text, disabled=disabled)
    if p.kind == "int":
        return where.slider(label, int(p.low), int(p.high), step=1, key=key, help=help_text, disabled=disabled)
    if p.log:
        options = _options(p, st.session_state[key])
        return where.select_slider(
            label, options=options, key=key, format_func=fmt_value, help=help_text, disabled=disabled
        )
    return where.slider(
        label, float(p.low), float(p.high), step=_step(p), key=key, format="%g", help=help_text, disabled=disabled
    )


def _options(p: Param, current) -> list:
    grid = list(p.grid())
    if isinstance(current, (int, float)) and not isinstance(current, bool) and current not in grid:
        grid = sorted(grid + [float(current)])  # a value from a link or preset stays exact
    return grid


def _snap(p: Param, value):
    """Bring a value to the widget's type (a linear float slider rejects ints, and so on)."""
    if p.kind == "float":
        return float(value)
    if p.kind == "int":
        return int(value)
    return value
