"""The fair race: every optimizer under one protocol, judged on many starts, as distributions.

Pure torch/NumPy (no Streamlit). A comparison from one start and one tuning says little: the winner
on one start may lose on the next. Here every optimizer gets

* the same step budget, the same evaluation starts (a seeded sample or a grid over the view) and,
  when the gradient is noisy, the same noise seeds for every start;
* its learning rate tuned on a stated log grid by a stated objective, measured on TUNING starts
  (and tuning seeds) that are never the evaluation ones, so the score is not the tuning's own;
  optionally jointly with one more float hyperparameter (`Protocol.second`) on its own grid
  (`second_values`), for every optimizer that has it (the others tune the lr alone);
* two batched simulate calls: all (lr[, second], tuning start, tuning seed) runs at once, then all
  (evaluation start, seed) runs at the tuned values.

Objectives (all over the runs of one lr; a diverged run counts as the worst outcome):
  median_steps       median steps to loss − f* < tol, a run that never gets there counting as
                     more than the budget (lower is better)
  success_rate       share of runs that reach loss − f* < tol (higher is better)
  median_final_loss  median final loss − f* (lower is better)
The tuned lr is the grid value that is best by the objective; ties go to the lower median final
loss, then to the smaller lr, then to the smaller second value (`best_index`). Steps to tolerance
are read every `record_every` steps (engine/sweeps.py: a reported step s means the run got there in
(s − k, s]).
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
from engine.sweeps import ENGINE, axis_values, check_size, cpu_threads, f_star, find_param, lr_values
from engine.sweeps import record_every_for, sweepable
from optimizers import get_optimizer
from spec import Param
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
SECOND_POINTS = 5
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
    second: str | None = None  # one more float hyperparameter tuned jointly with the lr
    second_points: int = SECOND_POINTS

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {self.objective!r}")
        if self.start_kind not in START_KINDS:
            raise ValueError(f"starts must be one of {', '.join(START_KINDS)}; got {self.start_kind!r}")
        if self.starts < 1 or self.lr_points < 2 or self.steps < 1:
            raise ValueError("a race needs at least one start, two learning rates and one step")
        if self.second == "lr":
            raise ValueError("the learning rate is always tuned; choose another hyperparameter to tune with it")
        if self.second is not None and self.second_points < 2:
            raise ValueError(f"tuning {self.second} needs at least two values; got {self.second_points}")

    @property
    def n_seeds(self) -> int:
        return self.seeds if self.noise > 0 else 1


def is_decay(p: Param) -> bool:
    """A float in [0, 1) that weighs the past (momentum, β₁, β₂, RMSprop's α): its memory is about
    1/(1 − β) steps."""
    return p.kind == "float" and not p.log and 0.0 <= p.low < p.high < 1.0 and p.high >= 0.9


def second_values(key: str, protocol: Protocol) -> np.ndarray | None:
    """The grid of the second tuned hyperparameter for optimizer `key` (None when it has none, or the
    protocol tunes none): `second_points` values over its slider range, both ends included. A decay
    is spread evenly in log(1 − β), i.e. in its memory (0, 0.68, 0.9, 0.97, 0.99 for momentum); a
    log-scale one geometrically; any other evenly."""
    if protocol.second is None or protocol.second not in sweepable(key):
        return None
    p = find_param(key, protocol.second)
    if not is_decay(p):
        return axis_values(p, protocol.second_points)
    memory = [float(f"{q:.12g}") for q in np.geomspace(1.0 - p.low, 1.0 - p.high, protocol.second_points)]
    values = 1.0 - np.array(memory)  # 1 − 0.1 is 0.9 exactly, as a lecturer would type it
    values[0], values[-1] = p.low, p.high  # exact ends
    return values


def second_choices(keys: Sequence[str]) -> dict[str, str]:
    """{name: label} of the float hyperparameters other than the lr that any of `keys` has: what a
    race can tune jointly with the lr (the label of the first optimizer that has it)."""
    out: dict[str, str] = {}
    for key in keys:
        for name in sweepable(key):
            if name != "lr" and name not in out:
                out[name] = find_param(key, name).label or name
    return out


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


def _run_all(surface, key, settings, starts, seeds, protocol, base, device, dtype) -> Runs:
    """Every (setting, start, seed) in ONE simulate call; arrays shaped (G, n, S). settings: {name:
    (G,) values}, the G settings of the hyperparameters tuned (the lr, and maybe one more)."""
    G, n, S = len(settings["lr"]), len(starts), len(seeds)
    batch = G * n * S
    every = record_every_for(batch, protocol.steps)
    check_size(batch, protocol.steps, every, dtype, device, None, f"{get_optimizer(key).name}, {batch:,} runs")
    tuned = {name: torch.tensor(np.repeat(np.asarray(v, dtype=np.float64), n * S)) for name, v in settings.items()}
    start = torch.tensor(np.tile(np.repeat(starts, S, axis=0), (G, 1)), dtype=torch.float64)
    seed = torch.tensor(np.tile(seeds, G * n))
    with cpu_threads(device):
        traj = simulate(
            surface,
            key,
            start=start,
            steps=protocol.steps,
            hparams={**base, **tuned},
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
    shape = (G, n, S)
    return Runs(gap.reshape(shape), reached.reshape(shape), diverged.reshape(shape), every)


def objective_values(runs: Runs, protocol: Protocol) -> np.ndarray:
    """The objective of each setting (axis 0), as a number to MINIMISE (success rate negated)."""
    flat = runs.steps_to_tol.reshape(len(runs.steps_to_tol), -1)
    gap = runs.gap.reshape(len(runs.gap), -1)
    if protocol.objective == "median_steps":
        steps = np.where(flat >= 0, flat, protocol.steps + 1).astype(np.float64)
        return np.median(steps, axis=1)
    if protocol.objective == "success_rate":
        return -np.mean(flat >= 0, axis=1)
    return np.median(gap, axis=1)


def best_index(values: np.ndarray, median_gap: np.ndarray) -> int:
    """The setting the objective prefers; ties to the lower median final gap, then to the lower index
    (settings run lr-major: the smaller lr, then the smaller second value)."""
    order = sorted(range(len(values)), key=lambda i: (values[i], median_gap[i], i))
    return int(order[0])


@dataclass
class Entry:
    """One optimizer's race: its tuning and its evaluation."""

    key: str
    name: str
    lrs: np.ndarray  # (L,) the tuning grid
    objective: np.ndarray  # (L,) or (L, M) the objective on the tuning runs (as minimised)
    tuned_lr: float
    evaluation: Runs  # (n, S) at the tuned values
    seconds: float
    second: str | None = None  # the second hyperparameter tuned (None: the lr alone)
    second_values: np.ndarray | None = None  # (M,) its grid
    tuned_second: float | None = None

    @property
    def tuned(self) -> dict[str, float]:
        """The tuned hyperparameters by name: the lr, and the second one if this optimizer tuned it."""
        return {"lr": self.tuned_lr} | ({} if self.second is None else {self.second: self.tuned_second})

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
    """Race the optimizers under `protocol`. base_hparams: {key: {name: value}} for everything not
    tuned (defaults otherwise). An optimizer that cannot run is reported in `errors`."""
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
        try:
            lrs, values_2 = lr_values(spec.key, protocol.lr_points), second_values(spec.key, protocol)
            second = None if values_2 is None else protocol.second
            tuned_names = {"lr"} | ({second} if second else set())
            base = {k: v for k, v in dict(base_hparams.get(key, {})).items() if k not in tuned_names}
            if second is None:
                settings = {"lr": lrs}
            else:  # lr-major: setting g is (lrs[g // M], values_2[g % M])
                settings = {"lr": np.repeat(lrs, len(values_2)), second: np.tile(values_2, len(lrs))}
            tuned_runs = _run_all(surface, spec.key, settings, tuning, out.tuning_seeds, protocol, base, device, dtype)
            values = objective_values(tuned_runs, protocol)
            median_gap = np.median(tuned_runs.gap.reshape(len(values), -1), axis=1)
            best = best_index(values, median_gap)
            if progress:
                progress((i + 0.5) / len(keys), f"Racing {spec.name} at its tuned values ({i + 1} of {len(keys)})")
            at_best = {name: v[best : best + 1] for name, v in settings.items()}
            ev = _run_all(surface, spec.key, at_best, evaluation, out.evaluation_seeds, protocol, base, device, dtype)
        except ValueError as err:
            out.errors[spec.key] = f"{spec.name}: {err}"
            continue
        out.entries[spec.key] = Entry(
            spec.key,
            spec.name,
            lrs,
            values if second is None else values.reshape(len(lrs), len(values_2)),
            float(settings["lr"][best]),
            replace(ev, gap=ev.gap[0], steps_to_tol=ev.steps_to_tol[0], diverged=ev.diverged[0]),
            time.perf_counter() - started,
            second,
            values_2,
            None if second is None else float(settings[second][best]),
        )
    out.seconds = time.perf_counter() - t0
    if progress:
        progress(1.0, "Done")
    return out
