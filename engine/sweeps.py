"""Sweeps: many runs of one optimizer in ONE batched `simulate` call, read off as maps.

Pure torch/NumPy (no Streamlit). Every function here makes exactly one `simulate` call per
optimizer with B runs: a hyperparameter map sweeps two hyperparameters as (B,) tensors, a basin
map sweeps the start over a grid, a noisy cloud sweeps the seed.

Conventions (the pages say them too):

- **Loss gap.** Outcomes are measured as loss − f*, with f* the lowest listed minimum of the
  surface (`f_star`); a surface with no listed minimum uses the loss itself.
- **Recording granularity.** A run records its point every `record_every` = k steps (the last step
  is always kept), so steps-to-tolerance, steps-to-converge and divergence are read on that grid:
  a reported step s means the event happened in (s − k, s]. `record_every_for` picks the smallest k
  that keeps B × (recorded points) under `RECORD_BUDGET` (2²¹ ≈ 2.1 million points, about 270 MB
  of recorded float64 arrays): k = 1 (exact) for moderate sweeps such as 64 × 64 × 500 steps,
  coarser for large basin maps. The final loss is always exact (the last step is always recorded).
- **Memory.** Every entry point checks the engine's memory estimate (`engine.estimate_bytes`)
  against the device budget BEFORE any work and raises `SimulationTooLarge` with a message that
  says what to reduce (`check_size`); the engine itself would raise the same.
- **Threads.** On a CPU with at most 2 cores a sweep runs with one torch thread (`SWEEP_THREADS`),
  restored afterwards. Each step is ~20 operations on a few (B,) rows, and on a busy 2-core machine
  intra-op threading loses badly: with another process on one core, a second torch thread stalls
  every operation. Measured on the 2-core server (load ≈ 2.3): a 128 × 128 Himmelblau basin map,
  300 steps, took 0.10–0.20 s per optimizer with 1 thread and 0.4–2.9 s with 2; a 512 × 512 map
  0.4–1.1 s against 26–54 s. On a 16-core machine torch's own setting is kept: there 16 threads did
  SGD + Adam at 512 × 512 × 300 in 1.7 s against 5.2 s with one.
- **Best cell / best lr.** Objective "final_loss": the lowest final loss gap, gaps below
  `LOSS_FLOOR` (1e-12) counting as equal and broken by the fewer steps to tolerance, then by grid
  order (the smaller value first). Objective "steps_to_tol": the fewest steps to reach
  loss − f* < tol (runs that never reach it rank after all that do), ties broken by the lower final
  gap. Diverged runs never win; `None` when every run diverged.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from engine import rollout
from engine.diagnostics import first_step_below
from engine import fused
from engine.rollout import SimulationTooLarge, estimate_bytes, simulate
from optimizers import get_optimizer
from spec import Param
from surfaces import Surface, get_surface

# Sweeps take the fused engine once its graph is compiled (engine/fused.py), the eager one until then.
ENGINE = "auto"
RECORD_BUDGET = 1 << 21  # recorded (run, point) pairs per simulate call
LOSS_FLOOR = 1e-12  # final gaps below this count as "at the minimum" when ranking
OBJECTIVES = ("final_loss", "steps_to_tol")
DEFAULT_TOL = 1e-6
MAX_GRID = 512  # basin maps: at most 512 × 512 starts
MAX_CLOUD = 2000  # noisy clouds: at most this many runs
LR_POINTS = 41  # default lr grid: 41 geometric values over the spec's range (8 a decade over 1e-4..10)

# Surfaces whose local minima are not listed (only the global one is): their basins are labelled by
# the nearest point of the integer lattice, where the local minima sit (Rastrigin's lie within 0.03
# of the integers inside the view).
LATTICE_SURFACES = ("rastrigin",)


# torch CPU threads during a sweep; None leaves torch's setting alone (see the module docstring)
SWEEP_THREADS: int | None = 1 if (os.cpu_count() or 1) <= 2 else None


@contextmanager
def cpu_threads(device: str):
    """Run the enclosed simulate call with SWEEP_THREADS torch threads on the CPU (see the module
    docstring), then restore the caller's setting."""
    if SWEEP_THREADS is None or not str(device).startswith("cpu"):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, SWEEP_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- shared pieces --------------------------------------------------------------------------------


def f_star(surface: Surface) -> float | None:
    """The lowest listed minimum's loss, or None when the surface lists none."""
    minima = list(surface.minima)
    return min(surface.f_at(m) for m in minima) if minima else None


def _records(steps: int, every: int) -> int:
    """Points a run records (the engine's rule: 0, k, 2k, ... and always the last step)."""
    return steps // every + 1 + (1 if steps % every else 0)


def record_every_for(batch: int, steps: int, budget: int = RECORD_BUDGET, chunk: int | None = None) -> int:
    """The smallest k with batch × (points recorded every k steps) ≤ budget, rounded up to a multiple
    of the fused engine's chunk (`chunk_for`; default fused.CHUNK); `steps` (only the start and the
    end) when even that does not fit."""
    if steps <= 1 or batch * _records(steps, 1) <= budget:
        return 1
    lo, hi = 1, steps  # records(k) does not grow with k: binary search for the first k that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if batch * _records(steps, mid) <= budget:
            hi = mid
        else:
            lo = mid + 1
    # A multiple of the fused engine's chunk: its compiled chunks then run between two records
    # (otherwise every interval is shorter than a chunk and runs eagerly). Fewer points: still fits.
    chunk = fused.CHUNK if chunk is None else chunk
    return min(steps, -(-lo // chunk) * chunk)


def chunk_for(key: str, hparams: Mapping | None = None) -> int:
    """The fused chunk of `key`'s sweep graphs: CHUNK, or a multiple of Lookahead's k near it."""
    return fused.chunk_length(get_optimizer(key).resolve(hparams))


def check_size(
    batch: int,
    steps: int,
    record_every: int = 1,
    dtype=torch.float64,
    device: str = "cpu",
    budget: int | None = None,
    what: str = "",
) -> int:
    """Bytes one simulate call needs; SimulationTooLarge (before any work) when over the budget."""
    needed = estimate_bytes(batch, steps, record_every, dtype)
    budget = rollout.memory_budget(device) if budget is None else int(budget)
    if needed > budget:
        label = f"{what}: " if what else ""
        raise SimulationTooLarge(
            f"{label}{batch:,} runs × {steps:,} steps would need about {_size(needed)}, over the {_size(budget)} "
            f"memory budget on {device}. Use a smaller grid or fewer steps."
        )
    return needed


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def _surface(surface) -> Surface:
    return get_surface(surface) if isinstance(surface, str) else surface


def find_param(key: str, name: str, base_hparams: Mapping | None = None) -> Param:
    """The Param called `name` of an optimizer (for Lookahead, also its inner optimizer's)."""
    spec = get_optimizer(key)
    for p in spec.params_with_inner(spec.inner_key(base_hparams or {})):
        if p.name == name:
            return p
    raise ValueError(f"optimizer {key!r} has no hyperparameter {name!r}")


def sweepable(key: str, base_hparams: Mapping | None = None) -> tuple[str, ...]:
    """Names of the float hyperparameters of an optimizer (the ones a map can sweep)."""
    spec = get_optimizer(key)
    params = spec.params_with_inner(spec.inner_key(base_hparams or {}))
    return tuple(p.name for p in params if p.kind == "float")


def axis_values(p: Param, n: int, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """n values of a float Param from lo to hi (default: its slider range), both ends included:
    geometric when the Param is log scale, linear otherwise. Kept inside the slider range."""
    if p.kind != "float":
        raise ValueError(f"{p.name} is not a float hyperparameter; only those can be swept")
    if n < 1:
        raise ValueError(f"a sweep axis needs at least one value; got {n}")
    lo = p.low if lo is None else max(float(lo), p.low)
    hi = p.high if hi is None else min(float(hi), p.high)
    if not lo <= hi:
        raise ValueError(f"{p.name}: empty range {lo:g} .. {hi:g}")
    if n == 1:
        return np.array([lo])
    if p.log:
        values = np.geomspace(lo, hi, n)
    else:
        values = np.linspace(lo, hi, n)
    values[0], values[-1] = lo, hi  # exact ends (geomspace rounds them)
    return np.clip(values, p.low, p.high)


def hparam_grid(
    spec, name_x: str, name_y: str, n_x: int, n_y: int, ranges: Mapping[str, tuple[float, float]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The values along each axis of a 2-D map: geometric for log-scale Params, linear otherwise,
    inside the slider range (or inside `ranges[name]`, itself clipped to the slider range)."""
    key = get_optimizer(spec).key
    if name_x == name_y:
        raise ValueError(f"choose two different hyperparameters (both axes are {name_x!r})")
    ranges = dict(ranges or {})
    out = []
    for name, n in ((name_x, n_x), (name_y, n_y)):
        lo, hi = ranges.get(name, (None, None))
        out.append(axis_values(find_param(key, name), int(n), lo, hi))
    return out[0], out[1]


@dataclass
class _Batch:
    """Per-run outcomes of one simulate call (NumPy, CPU)."""

    final_loss: np.ndarray  # (B,)
    gap: np.ndarray  # (B,) final loss − f*
    steps_to_tol: np.ndarray  # (B,) int, −1 never (first recorded step with loss − f* < tol)
    diverged_at: np.ndarray  # (B,) int, −1 never
    final_xy: np.ndarray  # (B, 2)
    record_every: int
    seconds: float
    traj: object = None  # the Trajectory, when the caller needs the recorded points


def _run_batch(
    surface: Surface,
    key: str,
    hparams: dict,
    start,
    steps: int,
    tol: float,
    batch: int,
    record_every: int | None,
    device: str,
    dtype,
    budget: int | None,
    what: str,
    keep_traj: bool = False,
    **kw,
) -> _Batch:
    every = record_every_for(batch, steps, chunk=chunk_for(key, hparams)) if record_every is None else int(record_every)
    check_size(batch, steps, every, dtype, device, budget, what)
    t0 = time.perf_counter()
    with cpu_threads(device):
        traj = simulate(
            surface,
            key,
            start=start,
            steps=steps,
            hparams=hparams,
            device=device,
            dtype=dtype,
            record_every=every,
            engine=ENGINE,
            **kw,
        )
    fs = f_star(surface)
    final = traj.final_loss.double().numpy().copy()
    gap = final - fs if fs is not None else final
    reached = first_step_below(traj, (fs if fs is not None else 0.0) + tol).numpy()
    return _Batch(
        final_loss=final,
        gap=gap,
        steps_to_tol=reached.astype(np.int64),
        diverged_at=traj.diverged_at.numpy().astype(np.int64),
        final_xy=traj.xy[:, -1].double().numpy(),
        record_every=every,
        seconds=time.perf_counter() - t0,
        traj=traj if keep_traj else None,
    )


def best_index(
    gap: np.ndarray, steps_to_tol: np.ndarray, diverged: np.ndarray, objective: str = "final_loss"
) -> int | None:
    """Flat index of the best run by `objective` (see the module docstring); None if all diverged."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    gap = np.asarray(gap, dtype=np.float64).ravel()
    reach = np.asarray(steps_to_tol).ravel().astype(np.float64)
    bad = np.asarray(diverged, dtype=bool).ravel() | ~np.isfinite(gap)
    if bad.all():
        return None
    g = np.where(bad, np.inf, np.maximum(gap, LOSS_FLOOR))
    s = np.where(bad | (reach < 0), np.inf, reach)
    order = np.arange(len(g))
    if objective == "final_loss":
        ranked = np.lexsort((order, s, g))
    else:
        ranked = np.lexsort((order, np.where(bad, np.inf, gap), s, bad))
    return int(ranked[0])


# --- 2-D hyperparameter map -----------------------------------------------------------------------


@dataclass
class Sweep2D:
    """A hyperparameter map. Arrays are (n_y, n_x): row i has values_y[i], column j values_x[j]."""

    surface: str
    optimizer: str
    name_x: str
    name_y: str
    values_x: np.ndarray
    values_y: np.ndarray
    log_x: bool
    log_y: bool
    final_loss: np.ndarray
    gap: np.ndarray  # final loss − f*
    steps_to_tol: np.ndarray  # −1: never below tol
    diverged: np.ndarray
    diverged_at: np.ndarray
    final_xy: np.ndarray  # (n_y, n_x, 2)
    steps: int
    tol: float
    f_star: float | None
    record_every: int
    start: tuple
    base_hparams: dict
    seconds: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.gap.shape

    def best(self, objective: str = "final_loss") -> tuple[int, int] | None:
        """(row, column) of the best cell, or None when every cell diverged."""
        i = best_index(self.gap, self.steps_to_tol, self.diverged, objective)
        return None if i is None else divmod(i, self.gap.shape[1])

    def hparams_at(self, row: int, col: int) -> dict:
        """The full hyperparameters of one cell (the base ones with the two swept values)."""
        return {**self.base_hparams, self.name_x: float(self.values_x[col]), self.name_y: float(self.values_y[row])}

    def outcome(self, row: int, col: int) -> str:
        return outcome_text(
            self.gap[row, col], self.steps_to_tol[row, col], self.diverged_at[row, col], self.tol, self.record_every
        )


def outcome_text(gap, reached, diverged_at, tol, every=1) -> str:
    if diverged_at >= 0:
        return f"diverged at step {int(diverged_at)}"
    text = f"final loss − f* = {gap:.3g}"
    if reached >= 0:
        approx = "" if every == 1 else "≤ "
        return f"{text}; below {tol:g} at step {approx}{int(reached)}"
    return f"{text}; never below {tol:g}"


def sweep_2d(
    surface,
    key: str,
    name_x: str,
    name_y: str,
    values_x,
    values_y,
    steps: int,
    start=None,
    base_hparams: Mapping | None = None,
    tol: float = DEFAULT_TOL,
    *,
    record_every: int | None = None,
    device: str = "cpu",
    dtype=torch.float64,
    budget: int | None = None,
) -> Sweep2D:
    """One simulate call over every (x, y) pair of hyperparameter values, all from one start.

    base_hparams: the other hyperparameters (missing ones take the spec defaults).
    record_every: None picks `record_every_for` (k = 1 up to about 2 million run-points).
    """
    surface = _surface(surface)
    spec = get_optimizer(key)
    if name_x == name_y:
        raise ValueError(f"choose two different hyperparameters (both axes are {name_x!r})")
    base = dict(base_hparams or {})
    px, py = find_param(spec.key, name_x, base), find_param(spec.key, name_y, base)
    vx = np.asarray(values_x, dtype=np.float64).ravel()
    vy = np.asarray(values_y, dtype=np.float64).ravel()
    n_x, n_y = len(vx), len(vy)
    batch = n_x * n_y
    hp = {**base, name_x: torch.tensor(np.tile(vx, n_y)), name_y: torch.tensor(np.repeat(vy, n_x))}
    start = tuple(float(v) for v in (surface.start if start is None else start))
    out = _run_batch(
        surface,
        spec.key,
        hp,
        start,
        steps,
        tol,
        batch,
        record_every,
        device,
        dtype,
        budget,
        f"{spec.name}, {n_x} × {n_y} map",
    )
    shape = (n_y, n_x)
    return Sweep2D(
        surface=surface.key,
        optimizer=spec.key,
        name_x=name_x,
        name_y=name_y,
        values_x=vx,
        values_y=vy,
        log_x=px.log,
        log_y=py.log,
        final_loss=out.final_loss.reshape(shape),
        gap=out.gap.reshape(shape),
        steps_to_tol=out.steps_to_tol.reshape(shape),
        diverged=(out.diverged_at >= 0).reshape(shape),
        diverged_at=out.diverged_at.reshape(shape),
        final_xy=out.final_xy.reshape(n_y, n_x, 2),
        steps=steps,
        tol=tol,
        f_star=f_star(surface),
        record_every=out.record_every,
        start=start,
        base_hparams=base,
        seconds=out.seconds,
    )


# --- 1-D learning-rate sweeps -----------------------------------------------------------------------


@dataclass
class LRSweep:
    """Final outcome against the learning rate, for one optimizer (arrays are (n,), lrs ascending)."""

    surface: str
    optimizer: str
    lrs: np.ndarray
    final_loss: np.ndarray
    gap: np.ndarray
    steps_to_tol: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray
    steps: int
    tol: float
    f_star: float | None
    record_every: int
    start: tuple
    base_hparams: dict
    seconds: float
    objective: str = "final_loss"

    def best(self, objective: str | None = None) -> int | None:
        return best_index(self.gap, self.steps_to_tol, self.diverged, objective or self.objective)

    def best_lr(self, objective: str | None = None) -> float | None:
        i = self.best(objective)
        return None if i is None else float(self.lrs[i])

    def outcome(self, i: int) -> str:
        return outcome_text(self.gap[i], self.steps_to_tol[i], self.diverged_at[i], self.tol, self.record_every)


def lr_values(key: str, n: int = LR_POINTS, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """The default lr grid of an optimizer: n geometric values over its lr slider range."""
    return axis_values(find_param(key, "lr"), n, lo, hi)


def _sweep_one_lr(
    surface: Surface, key: str, lrs, steps, start, base_hparams, tol, objective, record_every, device, dtype, budget
) -> LRSweep:
    spec = get_optimizer(key)
    find_param(spec.key, "lr", base_hparams)  # a clear error for an optimizer without lr
    lrs = lr_values(spec.key) if lrs is None else np.sort(np.asarray(lrs, dtype=np.float64).ravel())
    base = {k: v for k, v in dict(base_hparams or {}).items() if k != "lr"}
    start = tuple(float(v) for v in (surface.start if start is None else start))
    out = _run_batch(
        surface,
        spec.key,
        {**base, "lr": torch.tensor(lrs)},
        start,
        steps,
        tol,
        len(lrs),
        record_every,
        device,
        dtype,
        budget,
        f"{spec.name}, {len(lrs)} learning rates",
    )
    return LRSweep(
        surface=surface.key,
        optimizer=spec.key,
        lrs=lrs,
        final_loss=out.final_loss,
        gap=out.gap,
        steps_to_tol=out.steps_to_tol,
        diverged=out.diverged_at >= 0,
        diverged_at=out.diverged_at,
        steps=steps,
        tol=tol,
        f_star=f_star(surface),
        record_every=out.record_every,
        start=start,
        base_hparams=base,
        seconds=out.seconds,
        objective=objective,
    )


def sweep_lr(
    surface,
    keys: Sequence[str],
    lrs=None,
    steps: int = 500,
    start=None,
    base_hparams: Mapping[str, Mapping] | None = None,
    tol: float = DEFAULT_TOL,
    *,
    objective: str = "final_loss",
    record_every: int | None = None,
    device: str = "cpu",
    dtype=torch.float64,
    budget: int | None = None,
) -> dict[str, LRSweep]:
    """Final loss against lr for several optimizers: one simulate call per optimizer.

    lrs: one shared grid, or None for each optimizer's own `lr_values` (its slider range).
    base_hparams: {optimizer key: {name: value}} for the other hyperparameters.
    """
    surface = _surface(surface)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    base_hparams = dict(base_hparams or {})
    for key in keys:  # every size checked before the first run
        n = LR_POINTS if lrs is None else len(np.ravel(lrs))
        every = (
            record_every_for(n, steps, chunk=chunk_for(key, base_hparams.get(key)))
            if record_every is None
            else record_every
        )
        check_size(n, steps, every, dtype, device, budget, get_optimizer(key).name)
    return {
        key: _sweep_one_lr(
            surface, key, lrs, steps, start, base_hparams.get(key), tol, objective, record_every, device, dtype, budget
        )
        for key in keys
    }


def tune_lr(
    surface,
    key: str,
    steps: int,
    start=None,
    objective: str = "final_loss",
    lrs=None,
    base_hparams: Mapping | None = None,
    tol: float = DEFAULT_TOL,
    *,
    record_every: int | None = None,
    device: str = "cpu",
    dtype=torch.float64,
    budget: int | None = None,
) -> LRSweep:
    """The best lr of one optimizer by `objective`, found by one batched sweep over a log grid
    (default: `lr_values(key)`); read it with `.best_lr()`, the whole sweep stays available."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    return _sweep_one_lr(
        _surface(surface), key, lrs, steps, start, base_hparams, tol, objective, record_every, device, dtype, budget
    )


# --- basins of attraction ---------------------------------------------------------------------------

NOT_CONVERGED = -1
DIVERGED = -2


@dataclass
class BasinMap:
    """Where each start of an n × n grid ends. Arrays are (n, n): row i has ys[i], column j xs[j].

    label: index into `attractors` of the point the run ends within `radius` of; NOT_CONVERGED (−1)
    when it ends near none; DIVERGED (−2). steps: the first recorded step from which the run stays
    within `radius` of its attractor (granularity `record_every`); −1 for unlabelled runs.
    kind: "minima" (attractors = surface.minima) or "lattice" (attractors = integer lattice points,
    ordered by distance from the origin, for surfaces whose local minima are not listed).
    """

    surface: str
    optimizer: str
    hparams: dict
    xs: np.ndarray
    ys: np.ndarray
    label: np.ndarray
    steps_to_converge: np.ndarray
    final_xy: np.ndarray  # (n, n, 2)
    diverged_at: np.ndarray
    attractors: np.ndarray  # (K, 2)
    kind: str
    radius: float
    steps: int
    record_every: int
    seconds: float

    @property
    def n(self) -> int:
        return len(self.xs)

    def fractions(self) -> dict[int, float]:
        """Share of starts per label (attractor index, −1, −2)."""
        labels, counts = np.unique(self.label, return_counts=True)
        return {int(k): float(c) / self.label.size for k, c in zip(labels, counts)}


def basin_starts(surface: Surface, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres of an n × n grid over the view. Built as centre ± offsets, so a view symmetric
    about 0 gives starts that are exact mirror images of each other."""
    out = []
    for lo, hi in surface.bounds:
        h = (hi - lo) / n
        offsets = (np.arange(n) - (n - 1) / 2.0) * h
        out.append((lo + hi) / 2.0 + offsets)
    return out[0], out[1]


def default_radius(surface: Surface) -> float:
    """A run counts as converged within 2% of the view's shorter side of its attractor."""
    return 0.02 * min(surface.span)


def basin_size(
    n: int,
    steps: int,
    dtype=torch.float64,
    device: str = "cpu",
    budget: int | None = None,
    what: str = "",
    chunk: int | None = None,
    optimizers: Mapping | None = None,
) -> int:
    """Bytes one basin map's simulate call needs; SimulationTooLarge before any work when too big.
    optimizers: {key: hyperparameters} of the maps to be run (the densest records, those of the
    smallest fused chunk among them, set the size); or chunk, that chunk itself."""
    if optimizers:
        chunk = min(chunk_for(k, h) for k, h in optimizers.items())
    if not 1 <= int(n) <= MAX_GRID:
        raise SimulationTooLarge(f"a basin map has 1 to {MAX_GRID} starts a side; got {n}")
    batch = int(n) * int(n)
    return check_size(
        batch, steps, record_every_for(batch, steps, chunk=chunk), dtype, device, budget, what or f"{n} × {n} basin map"
    )


def _lattice(surface: Surface) -> np.ndarray:
    (x0, x1), (y0, y1) = surface.bounds
    ix = np.arange(math.ceil(x0) - 1, math.floor(x1) + 2)
    iy = np.arange(math.ceil(y0) - 1, math.floor(y1) + 2)
    pts = np.array([(x, y) for x in ix for y in iy], dtype=np.float64)
    order = np.lexsort((pts[:, 1], pts[:, 0], np.hypot(pts[:, 0], pts[:, 1])))
    return pts[order]


def _lattice_index(points: np.ndarray, rounded: torch.Tensor) -> torch.Tensor:
    """Index into `points` (integer lattice points) of each rounded position; −1 outside the list."""
    lo = points.min(axis=0).astype(np.int64)
    hi = points.max(axis=0).astype(np.int64)
    table = torch.full((int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)), -1, dtype=torch.int64)
    table[torch.tensor(points[:, 0] - lo[0]).long(), torch.tensor(points[:, 1] - lo[1]).long()] = torch.arange(
        len(points)
    )
    r = rounded.clamp(-1e9, 1e9).long()  # non-finite rows belong to diverged runs (relabelled later)
    ix, iy = r[:, 0] - int(lo[0]), r[:, 1] - int(lo[1])
    inside = (ix >= 0) & (ix < table.shape[0]) & (iy >= 0) & (iy < table.shape[1])
    return torch.where(inside, table[ix.clamp(0, table.shape[0] - 1), iy.clamp(0, table.shape[1] - 1)], -1)


def attractors_of(surface: Surface) -> tuple[np.ndarray, str]:
    if surface.key in LATTICE_SURFACES:
        return _lattice(surface), "lattice"
    return np.array(surface.minima, dtype=np.float64).reshape(-1, 2), "minima"


def basins(
    surface,
    key: str,
    hparams: Mapping | None = None,
    n: int = 128,
    steps: int = 300,
    *,
    radius: float | None = None,
    record_every: int | None = None,
    device: str = "cpu",
    dtype=torch.float64,
    budget: int | None = None,
) -> BasinMap:
    """Run one optimizer from every start of an n × n grid over the view (one simulate call) and
    label where each run ends (see BasinMap). radius: default `default_radius` (2% of the view)."""
    surface = _surface(surface)
    spec = get_optimizer(key)
    n = int(n)
    batch = n * n
    every = record_every_for(batch, steps, chunk=chunk_for(key, hparams)) if record_every is None else int(record_every)
    if not 1 <= n <= MAX_GRID:
        raise SimulationTooLarge(f"a basin map has 1 to {MAX_GRID} starts a side; got {n}")
    check_size(batch, steps, every, dtype, device, budget, f"{spec.name}, {n} × {n} basin map")
    xs, ys = basin_starts(surface, n)
    gx, gy = np.meshgrid(xs, ys)  # row i: y = ys[i]
    start = torch.tensor(np.column_stack([gx.ravel(), gy.ravel()]))
    radius = default_radius(surface) if radius is None else float(radius)
    attractors, kind = attractors_of(surface)

    t0 = time.perf_counter()
    with cpu_threads(device):
        traj = simulate(
            surface,
            spec.key,
            start=start,
            steps=steps,
            hparams=dict(hparams or {}),
            device=device,
            dtype=dtype,
            record_every=every,
            engine=ENGINE,
        )
    xy = traj.xy.double()  # (B, n_rec, 2)
    final = xy[:, -1]
    diverged_at = traj.diverged_at.numpy().astype(np.int64)
    label = np.full(batch, NOT_CONVERGED, dtype=np.int64)
    steps_to = np.full(batch, -1, dtype=np.int64)
    if len(attractors):
        centres = torch.tensor(attractors)
        if kind == "lattice":
            idx = _lattice_index(attractors, torch.round(final))
        else:
            idx = torch.cdist(final, centres).argmin(dim=1)
        safe = idx.clamp(min=0)
        target = centres[safe]  # (B, 2)
        dist = (xy - target[:, None, :]).norm(dim=-1)  # (B, n_rec)
        inside = dist <= radius
        ok = (idx >= 0) & inside[:, -1]
        n_rec = inside.shape[1]
        # first recorded index from which the run stays inside: one after the last outside point
        rows = torch.arange(n_rec).expand_as(inside)
        last_out = torch.where(~inside, rows, -1).max(dim=1).values
        first_in = (last_out + 1).clamp(max=n_rec - 1)
        label = torch.where(ok, idx, NOT_CONVERGED).numpy().astype(np.int64)
        steps_to = torch.where(ok, traj.steps[first_in], -1).numpy().astype(np.int64)
    diverged = diverged_at >= 0
    label[diverged] = DIVERGED
    steps_to[diverged] = -1
    shape = (n, n)
    return BasinMap(
        surface=surface.key,
        optimizer=spec.key,
        hparams=dict(hparams or {}),
        xs=xs,
        ys=ys,
        label=label.reshape(shape),
        steps_to_converge=steps_to.reshape(shape),
        final_xy=final.numpy().reshape(n, n, 2),
        diverged_at=diverged_at.reshape(shape),
        attractors=attractors,
        kind=kind,
        radius=radius,
        steps=steps,
        record_every=every,
        seconds=time.perf_counter() - t0,
    )


# --- noisy clouds -----------------------------------------------------------------------------------


@dataclass
class Cloud:
    """N runs from one start with seeds seed0 .. seed0 + N − 1 and their median path.

    median: (n, 2) the coordinate-wise median of the N positions at each recorded step (NumPy's
    median: the mean of the two middle values for even N). It is a summary of the cloud, not
    itself a run.
    """

    surface: str
    optimizer: str
    hparams: dict
    xy: np.ndarray  # (N, n, 2)
    loss: np.ndarray  # (N, n)
    steps: np.ndarray  # (n,)
    median: np.ndarray  # (n, 2)
    median_loss: np.ndarray  # (n,) median over runs of the loss at each step
    diverged_at: np.ndarray  # (N,)
    noise: float
    seed0: int
    start: tuple
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    @property
    def n_runs(self) -> int:
        return self.xy.shape[0]


def noisy_cloud(
    surface,
    key: str,
    hparams: Mapping | None = None,
    n_runs: int = 50,
    steps: int = 300,
    noise: float = 0.5,
    seed0: int = 0,
    start=None,
    *,
    record_every: int | None = None,
    device: str = "cpu",
    dtype=torch.float64,
    budget: int | None = None,
) -> Cloud:
    """N runs with independent gradient noise (one simulate call, seeds seed0 .. seed0 + N − 1)."""
    surface = _surface(surface)
    spec = get_optimizer(key)
    n_runs = int(n_runs)
    if not 1 <= n_runs <= MAX_CLOUD:
        raise SimulationTooLarge(f"a noisy cloud has 1 to {MAX_CLOUD} runs; got {n_runs}")
    every = (
        record_every_for(n_runs, steps, chunk=chunk_for(key, hparams)) if record_every is None else int(record_every)
    )
    check_size(n_runs, steps, every, dtype, device, budget, f"{spec.name}, {n_runs} noisy runs")
    start = tuple(float(v) for v in (surface.start if start is None else start))
    t0 = time.perf_counter()
    with cpu_threads(device):
        traj = simulate(
            surface,
            spec.key,
            start=start,
            steps=steps,
            hparams=dict(hparams or {}),
            noise=noise,
            seed=list(range(int(seed0), int(seed0) + n_runs)),
            device=device,
            dtype=dtype,
            record_every=every,
            engine=ENGINE,
        )
    xy = traj.xy.double().numpy()
    loss = traj.loss.double().numpy()
    return Cloud(
        surface=surface.key,
        optimizer=spec.key,
        hparams=dict(hparams or {}),
        xy=xy,
        loss=loss,
        steps=traj.steps.numpy(),
        median=np.median(xy, axis=0),
        median_loss=np.median(loss, axis=0),
        diverged_at=traj.diverged_at.numpy().astype(np.int64),
        noise=float(noise),
        seed0=int(seed0),
        start=start,
        seconds=time.perf_counter() - t0,
        meta={"record_every": every},
    )


# ---- live scrubbing: one optimizer's whole path at many values of one hyperparameter --------------
SCRUB_VALUES = 25  # values of the scrubbed hyperparameter (the issue asks for at least 25)
SCRUB_POINTS = 151  # recorded points per path (the browser switches between them, nothing is recomputed)


@dataclass
class Scrub:
    """Paths of one optimizer at each value of one hyperparameter, from one simulate call.

    xy[v] is the path at values[v], kept every `record_every` steps (the last step always; every
    step is computed and diverged_at is exact); a run whose optimizer lacks the hyperparameter is
    the same path at every value (`constant`)."""

    optimizer: str
    name: str
    values: np.ndarray  # (V,)
    steps: np.ndarray  # (P,)
    xy: np.ndarray  # (V, P, 2)
    loss: np.ndarray  # (V, P)
    diverged_at: np.ndarray  # (V,) int, −1 never
    record_every: int
    constant: bool
    seconds: float


def scrub(
    surface,
    key: str,
    name: str,
    values,
    steps: int,
    start=None,
    base_hparams: Mapping | None = None,
    *,
    schedule=None,
    noise: float = 0.0,
    seed: int = 0,
    points: int = SCRUB_POINTS,
    device: str = "cpu",
    dtype=torch.float64,
    engine: str = ENGINE,
) -> Scrub:
    """Every value of `name` for optimizer `key` in ONE batched simulate call (the same start, the
    same noise draw for every value). An optimizer without `name` runs once, drawn at every value."""
    surface = _surface(surface)
    spec = get_optimizer(key)
    base = dict(base_hparams or {})
    values = np.asarray(values, dtype=np.float64).ravel()
    names = {p.name for p in spec.params_with_inner(spec.inner_key(base))}
    constant = name not in names
    batch = 1 if constant else len(values)
    # Every step is recorded and the path thinned here: a compiled graph runs whole chunks of steps
    # only when every step is recorded or the recording interval is a multiple of its chunk (25):
    # recording every 7th step ran the fused engine's uncompiled fallback, slower than eager.
    every = max(1, -(-steps // max(points - 1, 1)))
    check_size(batch, steps, 1, dtype, device, None, f"{spec.name}, {batch} values of {name}")
    hparams = base if constant else {**base, name: torch.tensor(values)}
    begin = tuple(float(v) for v in (surface.start if start is None else start))
    t0 = time.perf_counter()
    with cpu_threads(device):
        traj = simulate(
            surface,
            spec.key,
            start=torch.tensor([begin] * batch, dtype=torch.float64),
            steps=steps,
            hparams=hparams,
            schedule=schedule,
            noise=noise,
            seed=seed,
            device=device,
            dtype=dtype,
            record_every=1,
            engine=engine,
        )
    keep = np.unique(np.append(np.arange(0, steps + 1, every), steps))
    xy, loss = traj.xy[:, keep].double().numpy(), traj.loss[:, keep].double().numpy()
    diverged = traj.diverged_at.numpy().astype(np.int64)
    if constant:
        xy, loss, diverged = (np.repeat(a, len(values), axis=0) for a in (xy, loss, diverged))
    return Scrub(
        optimizer=spec.key,
        name=name,
        values=values,
        steps=keep.astype(np.int64),
        xy=xy,
        loss=loss,
        diverged_at=diverged,
        record_every=every,
        constant=constant,
        seconds=time.perf_counter() - t0,
    )
