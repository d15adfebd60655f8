"""Cached engine calls for the pages. Arguments are primitives (hashable), results plain data.

One cache entry per optimizer and configuration: moving one optimizer's slider recomputes only
that optimizer. Nothing here reads widgets or globals.
"""

from __future__ import annotations

import time

import streamlit as st
import torch

from engine import simulate
from figures.playground import RunView, run_view, surface_layers
from optimizers import get_optimizer
from optimizers.schedules import make_schedule
from surfaces import get_surface

# The Playground's single runs are latency-bound: a GPU launch per op is slower than the CPU.
PAGE_DEVICE = "cpu"


@st.cache_resource(max_entries=64, show_spinner=False)
def surface_object(surface_key: str, surface_params: tuple):
    """A surface, built once per key and parameters (a formula's analysis takes ~10–300 ms).
    Raises ValueError for refused parameters, like get_surface."""
    return get_surface(surface_key, **dict(surface_params))


@st.cache_data(max_entries=64, show_spinner=False)
def surface_grid(surface_key: str, surface_params: tuple, n: int = 160):
    return surface_object(surface_key, surface_params).grid(n)


@st.cache_data(max_entries=64, show_spinner=False)
def surface_drawing(surface_key: str, surface_params: tuple) -> dict:
    """The shaded background and contour lines (the same for every run on this surface)."""
    return surface_layers(surface_object(surface_key, surface_params), surface_grid(surface_key, surface_params))


@st.cache_data(max_entries=512, show_spinner=False)
def run_optimizer(surface_key: str, surface_params: tuple, optimizer_key: str, hparams: tuple,
                  schedule_key: str, schedule_params: tuple, steps: int, start: tuple | None,
                  noise: float, seed: int) -> tuple[RunView | None, str | None, float]:
    """(run, error message or None, seconds of compute). Never raises on bad settings."""
    t0 = time.perf_counter()
    try:
        surface = surface_object(surface_key, surface_params)
        schedule = make_schedule(schedule_key, **dict(schedule_params))
        traj = simulate(surface, optimizer_key, start=start, steps=steps, hparams=dict(hparams),
                        schedule=schedule, noise=noise, seed=seed, device=PAGE_DEVICE, dtype=torch.float64)
    except ValueError as err:
        return None, f"{get_optimizer(optimizer_key).name}: {err}", time.perf_counter() - t0
    return run_view(traj, get_optimizer(optimizer_key).name), None, time.perf_counter() - t0


def freeze(d: dict) -> tuple:
    """A dict as a sorted tuple of pairs: a hashable cache key."""
    return tuple(sorted(d.items()))


@st.cache_data(max_entries=128, show_spinner=False)
def step_details(surface_key: str, surface_params: tuple, optimizer_key: str, hparams: tuple, steps: int,
                 start: tuple | None):
    """(details, error or None) for the step-by-step page."""
    from engine.anatomy import anatomy

    try:
        surface = get_surface(surface_key, **dict(surface_params))
        return anatomy(surface, optimizer_key, start=start, steps=steps, hparams=dict(hparams)), None
    except ValueError as err:
        return [], f"{get_optimizer(optimizer_key).name}: {err}"
