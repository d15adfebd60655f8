"""Cached engine calls for the pages. Arguments are primitives (hashable), results plain data.

One cache entry per optimizer and configuration: moving one optimizer's slider recomputes only
that optimizer. Nothing here reads widgets or globals.
"""

from __future__ import annotations

import collections
import threading
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
def run_optimizer(
    surface_key: str,
    surface_params: tuple,
    optimizer_key: str,
    hparams: tuple,
    schedule_key: str,
    schedule_params: tuple,
    steps: int,
    start: tuple | None,
    noise: float,
    seed: int,
    engine: str = "eager",
    batch_size: int | None = None,
) -> tuple[RunView | None, str | None, float]:
    """(run, error message or None, seconds of compute). Never raises on bad settings.

    engine: the Playground passes "auto" (fused once compiled: engine/fused.py); the lecture pages
    keep the eager reference, whose paths equal torch.optim's bit for bit."""
    t0 = time.perf_counter()
    try:
        surface = surface_object(surface_key, surface_params)
        schedule = make_schedule(schedule_key, **dict(schedule_params))
        traj = simulate(
            surface,
            optimizer_key,
            start=start,
            steps=steps,
            hparams=dict(hparams),
            schedule=schedule,
            noise=noise,
            seed=seed,
            device=PAGE_DEVICE,
            dtype=torch.float64,
            engine=engine,
            batch_size=batch_size,
        )
    except ValueError as err:
        return None, f"{get_optimizer(optimizer_key).name}: {err}", time.perf_counter() - t0
    return run_view(traj, get_optimizer(optimizer_key).name), None, time.perf_counter() - t0


@st.cache_resource(show_spinner=False)
def warm_up_playground(surface_key: str) -> bool:
    """Once per server and surface: queue the fused graphs of that surface's lesson scene for the
    background builder (tiny eager runs with engine="auto" do the queueing; nothing waits)."""
    from scene.config import effective_hparams, lesson_config

    cfg = lesson_config(surface_key)
    surface = surface_object(surface_key, ())
    for key in cfg.optimizers:
        try:
            simulate(
                surface,
                key,
                steps=1,
                hparams=effective_hparams(cfg, key),
                device=PAGE_DEVICE,
                dtype=torch.float64,
                engine="auto",
            )
        except ValueError:
            pass  # a lesson whose settings this optimizer refuses: nothing to warm
    return True


def freeze(d: dict) -> tuple:
    """A dict as a sorted tuple of pairs: a hashable cache key."""
    return tuple(sorted(d.items()))


@st.cache_data(max_entries=128, show_spinner=False)
def step_details(
    surface_key: str, surface_params: tuple, optimizer_key: str, hparams: tuple, steps: int, start: tuple | None
):
    """(details, error or None) for the step-by-step page."""
    from engine.anatomy import anatomy

    try:
        surface = get_surface(surface_key, **dict(surface_params))
        return anatomy(surface, optimizer_key, start=start, steps=steps, hparams=dict(hparams)), None
    except ValueError as err:
        return [], f"{get_optimizer(optimizer_key).name}: {err}"


# --- sweeps (pages/hyperparameter_map.py, fair_comparison.py, basins.py, noisy_clouds.py) -------------
# One simulate call per optimizer with B runs (engine/sweeps.py); one cache entry per optimizer, so a
# page with several optimizers recomputes only the one whose settings changed. Results are plain
# dataclasses of NumPy arrays; a refused size (SimulationTooLarge) or a bad value comes back as the
# error message. Big batches run on the GPU when there is one (sweeps are throughput-bound).


# The most work a sweep page may ask for, in run-steps of a hand-written surface (the largest basin map,
# 512 × 512 starts × 2,000 steps, is 5.2e8). A surface whose gradient costs more (a data surface sums
# over its examples) gets proportionally fewer runs × steps, and the page says how many it may have.
PAGE_WORK = 6e8


def _check_work(surface, runs: int, steps: int) -> None:
    cost = surface.work_per_run_step
    if runs * steps * cost > PAGE_WORK:
        most = int(PAGE_WORK / (steps * cost))
        raise ValueError(
            f"{surface.name} costs about {cost:,.0f}× a hand-written surface per step (its gradient sums over "
            f"its examples): {runs:,} runs × {steps:,} steps would keep the page busy for minutes. Use at most "
            f"{most:,} runs at {steps:,} steps, or fewer steps."
        )


def _sweep_device() -> str:
    from engine import default_device

    return default_device()


@st.cache_data(max_entries=32, show_spinner=False)
def hparam_map(
    surface_key: str,
    surface_params: tuple,
    optimizer_key: str,
    name_x: str,
    name_y: str,
    range_x: tuple,
    range_y: tuple,
    n_x: int,
    n_y: int,
    steps: int,
    start: tuple | None,
    base_hparams: tuple,
    tol: float,
):
    """(Sweep2D or None, error or None): a 2-D hyperparameter map in one batch."""
    from engine.sweeps import hparam_grid, sweep_2d

    try:
        surface = surface_object(surface_key, surface_params)
        _check_work(surface, n_x * n_y, steps)
        vx, vy = hparam_grid(optimizer_key, name_x, name_y, n_x, n_y, {name_x: range_x, name_y: range_y})
        return sweep_2d(
            surface,
            optimizer_key,
            name_x,
            name_y,
            vx,
            vy,
            steps,
            start,
            dict(base_hparams),
            tol,
            device=_sweep_device(),
        ), None
    except ValueError as err:  # SimulationTooLarge is a ValueError
        return None, f"{get_optimizer(optimizer_key).name}: {err}"


@st.cache_data(max_entries=128, show_spinner=False)
def lr_sweep(
    surface_key: str,
    surface_params: tuple,
    optimizer_key: str,
    n_lrs: int,
    steps: int,
    start: tuple | None,
    base_hparams: tuple,
    tol: float,
    objective: str = "final_loss",
):
    """(LRSweep or None, error or None): one optimizer over n_lrs geometric values of its lr range
    (tune_lr: read the tuned value with .best_lr())."""
    from engine.sweeps import lr_values, tune_lr

    try:
        surface = surface_object(surface_key, surface_params)
        _check_work(surface, n_lrs, steps)
        return tune_lr(
            surface,
            optimizer_key,
            steps,
            start,
            objective,
            lrs=lr_values(optimizer_key, n_lrs),
            base_hparams=dict(base_hparams),
            tol=tol,
            device=_sweep_device(),
        ), None
    except ValueError as err:
        return None, f"{get_optimizer(optimizer_key).name}: {err}"


@st.cache_data(max_entries=32, show_spinner=False)
def basin_map(surface_key: str, surface_params: tuple, optimizer_key: str, hparams: tuple, n: int, steps: int):
    """(BasinMap or None, error or None): an n × n grid of starts, one batch."""
    from engine.sweeps import basins

    try:
        surface = surface_object(surface_key, surface_params)
        _check_work(surface, n * n, steps)
        return basins(surface, optimizer_key, dict(hparams), n, steps, device=_sweep_device()), None
    except ValueError as err:
        return None, f"{get_optimizer(optimizer_key).name}: {err}"


@st.cache_data(max_entries=64, show_spinner=False)
def noise_cloud(
    surface_key: str,
    surface_params: tuple,
    optimizer_key: str,
    hparams: tuple,
    n_runs: int,
    steps: int,
    noise: float,
    seed0: int,
    start: tuple | None,
):
    """(Cloud or None, error or None): n_runs seeds seed0 .. seed0 + n_runs − 1, one batch."""
    from engine.sweeps import noisy_cloud

    try:
        surface = surface_object(surface_key, surface_params)
        _check_work(surface, n_runs, steps)
        return noisy_cloud(
            surface, optimizer_key, dict(hparams), n_runs, steps, noise, seed0, start, device=PAGE_DEVICE
        ), None
    except ValueError as err:
        return None, f"{get_optimizer(optimizer_key).name}: {err}"


# --- a real network's loss landscape (pages/landscape.py) ---------------------------------------------


# Kept here rather than in st.cache_data: st.cache_data replays the elements a cached call touches, so the
# page's progress bar could not follow a computation inside it. Keyed by the arguments, newest last.
class _Kept:
    """The last few answers of a slow call that reports its progress as it goes: st.cache_data would
    make the progress callback part of the key, and replay none of its calls for a kept answer."""

    def __init__(self, size: int):
        self.size, self.answers, self.lock = size, collections.OrderedDict(), threading.Lock()

    def get(self, key, compute):
        with self.lock:
            if key in self.answers:
                self.answers.move_to_end(key)
                return self.answers[key]
        answer = compute()
        with self.lock:
            self.answers[key] = answer
            while len(self.answers) > self.size:
                self.answers.popitem(last=False)
        return answer


_LANDSCAPES = _Kept(16)
_RACES = _Kept(16)


def real_network_landscape(
    optimizers: tuple,
    steps: int,
    grid: int,
    plane_of: tuple,
    hparams: tuple,
    seed: int,
    progress=None,
    random_plane: bool = False,
):
    """(Landscape or None, error or None): the MLP trained from one shared start by each optimizer, and the
    training loss on a grid × grid plane through θ₀ and the final weights of plane_of's two optimizers.

    hparams: ((key, ((name, value), ...)), ...), each optimizer's frozen settings. Never raises on bad
    settings: a refused value, a plane that does not exist or a loss that is no longer finite comes back
    as the message. meta["seconds"] is the compute time of the call that made it. progress(fraction, text)
    is called as the work goes on (not at all when the answer is kept from an earlier call). random_plane:
    also Li et al.'s filter-normalised random slice (Landscape.random)."""
    key = (tuple(optimizers), int(steps), int(grid), tuple(plane_of), hparams, int(seed), bool(random_plane))
    return _LANDSCAPES.get(key, lambda: _real_network_landscape(*key, progress))


def fair_race(surface_key: str, surface_params: tuple, optimizers: tuple, protocol, progress=None):
    """(Race or None, error or None): engine.race.race under `protocol` (a frozen dataclass, hashable),
    kept for the next rerun; progress(fraction, text) as it goes. Never raises on bad settings."""
    from engine.race import race

    def compute():
        try:
            surface = surface_object(surface_key, surface_params)
            settings = protocol.lr_points * (protocol.second_points if protocol.second else 1)
            n = len(optimizers) * settings * protocol.starts * protocol.n_seeds
            _check_work(surface, n, protocol.steps)
            return race(surface, list(optimizers), protocol, progress=progress, device=_sweep_device()), None
        except ValueError as err:
            return None, str(err)

    return _RACES.get((surface_key, surface_params, tuple(optimizers), protocol), compute)


def _real_network_landscape(optimizers, steps, grid, plane_of, hparams, seed, random_plane, progress):
    from engine.landscape import landscape

    t0 = time.perf_counter()
    try:
        scape = landscape(
            list(optimizers),
            steps=steps,
            grid=grid,
            plane_of=plane_of,
            hparams={key: dict(values) for key, values in hparams},
            seed=seed,
            progress=progress,
            random_plane=random_plane,
        )
    except ValueError as err:
        return None, str(err)
    blown = [
        get_optimizer(key).name
        for key, p in scape.paths.items()
        if not (torch.isfinite(p.loss).all() and torch.isfinite(p.a).all() and torch.isfinite(p.b).all())
    ]
    if blown:
        return None, f"{', '.join(blown)}: the loss stopped being a finite number; lower the learning rate"
    grids = [scape.loss] + ([scape.random.loss] if scape.random is not None else [])
    if not all(torch.isfinite(g).all() for g in grids):
        return None, "the loss over the plane is not finite everywhere; lower the learning rates"
    scape.meta = dict(scape.meta, seconds=time.perf_counter() - t0)
    return scape, None


@st.cache_data(max_entries=64, show_spinner=False)
def scrub_paths(
    surface_key: str,
    surface_params: tuple,
    optimizer_key: str,
    hparams: tuple,
    name: str,
    values: tuple,
    schedule_key: str,
    schedule_params: tuple,
    steps: int,
    start: tuple | None,
    noise: float,
    seed: int,
):
    """(engine.sweeps.Scrub or None, error or None): one optimizer's paths at every value, one batched call."""
    from engine.sweeps import scrub

    try:
        return (
            scrub(
                surface_object(surface_key, surface_params),
                optimizer_key,
                name,
                values,
                steps,
                start,
                dict(hparams),
                schedule=make_schedule(schedule_key, **dict(schedule_params)),
                noise=noise,
                seed=seed,
                device=PAGE_DEVICE,
            ),
            None,
        )
    except ValueError as err:
        return None, f"{get_optimizer(optimizer_key).name}: {err}"
