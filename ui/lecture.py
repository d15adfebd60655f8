"""Shared pieces of the lecture pages: running a set of optimizers, and their settings widgets."""

from __future__ import annotations

import streamlit as st

from optimizers import get_optimizer
from ui.compute import freeze, run_optimizer
from ui.widgets import param_widget


def run_all(
    surface_key: str,
    surface_params: dict,
    keys,
    hparams: dict,
    steps: int,
    start=None,
    noise: float = 0.0,
    seed: int = 0,
    schedule: tuple = ("constant", ()),
):
    """Cached runs of several optimizers; returns (runs, error messages)."""
    runs, errors = [], []
    for key in keys:
        hp = {**get_optimizer(key).defaults(), **hparams.get(key, {})}
        run, error, _ = run_optimizer(
            surface_key,
            freeze(surface_params),
            key,
            freeze(hp),
            schedule[0],
            schedule[1],
            steps,
            tuple(start) if start is not None else None,
            float(noise),
            int(seed),
        )
        if error:
            errors.append(error)
        else:
            runs.append(run)
    return runs, errors


def hparam_widgets(prefix: str, keys, defaults: dict, container=None) -> dict:
    """An expander of sliders per optimizer (from its specs); returns {key: {name: value}}."""
    where = container if container is not None else st
    values = {}
    for key in keys:
        spec = get_optimizer(key)
        with where.expander(f"{spec.name} settings"):
            inner = st.session_state.get(f"{prefix}.{key}.{spec.inner_param}") if spec.inner_param else None
            specs = spec.params_with_inner(inner)
            values[key] = {
                p.name: param_widget(p, f"{prefix}.{key}.{p.name}", defaults.get(key, {}).get(p.name, p.default))
                for p in specs
            }
    return values


def show_errors(errors) -> None:
    for e in errors:
        st.error(e)


def surface_params_widgets(prefix: str, surface_key: str, container=None):
    """Sliders for a surface's own parameters; returns (non-default params, the surface object)."""
    from surfaces import surface_class
    from ui.compute import surface_object

    params = {}
    for p in surface_class(surface_key).params:
        value = param_widget(p, f"{prefix}.s.{surface_key}.{p.name}", p.default, container=container)
        if value != p.default:
            params[p.name] = value
    return params, surface_object(surface_key, freeze(params))
