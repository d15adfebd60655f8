"""The fair race: every optimizer under one protocol, judged on many starts, as distributions.

Pure torch/NumPy (no Streamlit). A comparison from one start and one tuning says little: the winner
on one start may lose on the next. Here every optimizer gets

* the same step budget, the same evaluation starts (a seeded sample or a grid over the view) and,
  when the gradient is noisy, the same noise seeds for every start;
* its learning rate tuned on a stated log grid by a stated objective, measured on TUNING starts
  (and tuning seeds) that are never the evaluation ones, so the score is not the tuning's own;
* two batched simulate calls: all (lr, tuning start, tuning seed) runs at once, then all
  (evaluation start, seed) runs at the tuned lr.

Objectives (all over the runs of one lr; a diverged run counts as the worst outcome):
  median_steps       median steps to loss − f* < tol, a run that never gets there counting as
                     more than the budget (lower is better)
  success_rate       share of runs that reach loss − f* < tol (higher is better)
  median_final_loss  median final loss − f* (lower is better)
The tuned lr is the grid value that is best by the objective; ties go to the lower median final
loss, then to the smaller lr (`best_index`). Steps to tolerance are read every `record_every` steps
(engine/sweeps.py: a reported step s means the run got there in (s − k, s]).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from engine.diagnostics import first_step_below
from engine.rollout import simulate
from engine.sweeps import ENGINE, check_size, cpu_threads, f_star, lr_values, record_every_for
from optimizers import get_optimizer
from surfaces import Surface, get_surface

OBJECTIVES = {
    "median_steps": "median steps to loss − f* < tol",
    "success_rate": "share of runs that reach loss − f* < tol",
    "median_final_loss": "median final loss − f*",
}
START_KINDS = ("sample", "grid")
MIN_STARTS = 64
MIN_SEEDS = 8  # noise seeds per start when the gradient is noisy
LR_POINTS = 16
MARGIN = 0.1  # starts keep this share of the view's width away from its edges
TUNING_SEED_OFFSET = 1_000_000  # tuning noise seeds: never the evaluation ones


@dataclass(frozen=True)
class Protocol:
    """What every optimizer of a race gets, stated once (the page prints it)."""

    steps: int = 500
    starts: int = MIN_STARTS
    start_kind: str = "sample"
    start_seed: int = 0
    noise: float = 0.0
    seeds: int = MIN_SEEDS  # used only when noise > 0
    lr_points: int = LR_POINTS
    objective: str = "median_steps"
    tol: float = 1e-3

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {self.objective!r}")
        if self.start_kind not in START_KINDS:
            raise ValueError(f"starts must be one of {', '.join(START_KINDS)}; got {self.start_kind!r}")
        if self.starts < 1 or self.lr_points < 2 or self.steps < 1:
            raise ValueError("a race needs at least one start, two learning rates and one step")

    @property
    def n_seeds(self) -> int:
        return self.seeds if self.noise > 0 else 1


def race_starts(surface: Surface, protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    """(tuning starts, evaluation starts), each (n, 2), inside the view less a margin; they never
    share a point. sample: 2n uniform points from the seeded generator, the first n for tuning;
    grid: the evaluation starts at the centres of a k × k grid (k² ≥ n), the tuning starts at the
    corners between them (the same grid moved by half a cell), so both have k² points."""
    (x0, x1), (y0, y1) = surface.bounds
    mx, my = (x1 - x0) * MARGIN, (y1 - y0) * MARGIN
    lo, hi = np.array([x0 + mx, y0 + my]), np.array([x1 - mx, y1 - my])
    n = protocol.starts
    if protocol.start_kind == "sample":
        points = lo + (hi - lo) * np.random.default_rng(protocol.start_seed).random((2 * n, 2))
        return points[:n], points[n:]
    k = math.ceil(math.sqrt(n))
    centres, corners = (np.arange(k) + 0.5) / k, np.arange(k) / k  # a corner is never a centre
    evaluation = np.array([(u, v) for v in centres for u in centres])
    tuning = np.array([(u, v) for v in corners for u in corners])
    return lo + (hi - lo) * tuning, lo + (hi - lo) * evaluation


def eval_seeds(protocol: Protocol) -> np.ndarray:
    return np.arange(protocol.n_seeds, dtype=np.int64) + protocol.start_seed * 1000


def tuning_seeds(protocol: Protocol) -> np.ndarray:
    return eval_seeds(protocol) + TUNING_SEED_OFFSET


@dataclass
class Runs:
    """Outcomes of runs laid out as (..., start, seed)."""

    gap: np.ndarray  # final loss − f* (inf for a diverged run)
    steps_to_tol: np.ndarray  # int, −1 never
    diverged: np.ndarray  # bool
    record_every: int


def _run_all(surface, key, lrs, starts, seeds, protocol, base, device, dtype) -> Runs:
    """Every (lr, start, seed) in ONE simulate call; arrays shaped (L, n, S)."""
    L, n, S = len(lrs), len(starts), len(seeds)
    batch = L * n * S
    every = record_every_for(batch, protocol.steps)
    check_size(batch, protocol.steps, every, dtype, device, None, f"{get_optimizer(key).name}, {batch:,} runs")
    lr = torch.tensor(np.repeat(np.asarray(lrs, dtype=np.float64), n * S))
    start = torch.tensor(np.tile(np.repeat(starts, S, axis=0), (L, 1)), dtype=torch.float64)
    seed = torch.tensor(np.tile(seeds, L * n))
    with cpu_threads(device):
        traj = simulate(
            surface,
            key,
            start=start,
            steps=protocol.steps,
            hparams={**base, "lr": lr},
            noise=protocol.noise,
            seed=seed,
            device=device,
            dtype=dtype,
            record_every=every,
            engine=ENGINE,
        )
    fs = f_star(surface)
    fs = 0.0 if fs is None else fs
    diverged = traj.diverged_at.numpy() >= 0
    gap = np.where(diverged, np.inf, traj.final_loss.double().numpy() - fs)
    reached = first_step_below(traj, fs + protocol.tol).numpy().astype(np.int64)
    shape = (L, n, S)
    return Runs(gap.reshape(shape), reached.reshape(shape), diverged.reshape(shape), every)


def objective_values(runs: Runs, protocol: Protocol) -> np.ndarray:
    """The objective of each lr (axis 0), as a number to MINIMISE (success rate negated)."""
    flat = runs.steps_to_tol.reshape(len(runs.steps_to_tol), -1)
    gap = runs.gap.reshape(len(runs.gap), -1)
    if protocol.objective == "median_steps":
        steps = np.where(flat >= 0, flat, protocol.steps + 1).astype(np.float64)
        return np.median(steps, axis=1)
    if protocol.objective == "success_rate":
        return -np.mean(flat >= 0, axis=1)
    return np.median(gap, axis=1)


def best_index(values: np.ndarray, median_gap: np.ndarray) -> int:
    """The lr the objective prefers; ties to the lower median final gap, then to the smaller lr."""
    order = sorted(range(len(values)), key=lambda i: (values[i], median_gap[i], i))
    return int(order[0])


@dataclass
class Entry:
    """One optimizer's race: its tuning and its evaluation."""

    key: str
    name: str
    lrs: np.ndarray  # (L,) the tuning grid
    objective: np.ndarray  # (L,) the objective on the tuning runs (as minimised)
    tuned_lr: float
    evaluation: Runs  # (n, S) at the tuned lr
    seconds: float

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.evaluation.steps_to_tol >= 0))

    @property
    def median_final_gap(self) -> float:
        return float(np.median(self.evaluation.gap))

    def reached_steps(self) -> np.ndarray:
        """Steps to tolerance of the runs that got there (a distribution; empty if none did)."""
        s = self.evaluation.steps_to_tol
        return s[s >= 0].ravel()

    def median_run(self) -> tuple[int, int]:
        """(start index, seed index) of the evaluation run with the median final loss (the lower
        median: a run that exists), the one the page opens in the Playground."""
        gap = self.evaluation.gap.ravel()
        order = np.argsort(gap, kind="stable")
        flat = int(order[(len(order) - 1) // 2])
        return divmod(flat, self.evaluation.gap.shape[1])


@dataclass
class Race:
    surface: str
    surface_params: dict
    protocol: Protocol
    tuning_starts: np.ndarray
    evaluation_starts: np.ndarray
    tuning_seeds: np.ndarray
    evaluation_seeds: np.ndarray
    entries: dict[str, Entry] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def race(
    surface,
    keys: Sequence[str],
    protocol: Protocol = Protocol(),
    base_hparams: Mapping[str, Mapping] | None = None,
    *,
    progress: Callable[[float, str], None] | None = None,
    device: str = "cpu",
    dtype=torch.float64,
) -> Race:
    """Race the optimizers under `protocol`. base_hparams: {key: {name: value}} for everything but
    the lr (defaults otherwise). An optimizer that cannot run is reported in `errors`."""
    surface = get_surface(surface) if isinstance(surface, str) else surface
    tuning, evaluation = race_starts(surface, protocol)
    out = Race(
        surface.key,
        dict(surface.values),
        protocol,
        tuning,
        evaluation,
        tuning_seeds(protocol),
        eval_seeds(protocol),
    )
    t0 = time.perf_counter()
    base_hparams = dict(base_hparams or {})
    for i, key in enumerate(keys):
        spec = get_optimizer(key)
        if progress:
            progress(i / max(len(keys), 1), f"Tuning {spec.name} ({i + 1} of {len(keys)})")
        started = time.perf_counter()
        base = {k: v for k, v in dict(base_hparams.get(key, {})).items() if k != "lr"}
        try:
            lrs = lr_values(spec.key, protocol.lr_points)
            tuned_runs = _run_all(surface, spec.key, lrs, tuning, out.tuning_seeds, protocol, base, device, dtype)
            values = objective_values(tuned_runs, protocol)
            median_gap = np.median(tuned_runs.gap.reshape(len(lrs), -1), axis=1)
            best = best_index(values, median_gap)
            if progress:
                progress((i + 0.5) / len(keys), f"Racing {spec.name} at its tuned lr ({i + 1} of {len(keys)})")
            ev = _run_all(
                surface, spec.key, lrs[best : best + 1], evaluation, out.evaluation_seeds, protocol, base, device, dtype
            )
        except ValueError as err:
            out.errors[spec.key] = f"{spec.name}: {err}"
            continue
        out.entries[spec.key] = Entry(
            spec.key,
            spec.name,
            lrs,
            values,
            float(lrs[best]),
            replace(ev, gap=ev.gap[0], steps_to_tol=ev.steps_to_tol[0], diverged=ev.diverged[0]),
            time.perf_counter() - started,
        )
    out.seconds = time.perf_counter() - t0
    if progress:
        progress(1.0, "Done")
    return out
