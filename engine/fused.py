"""The fused engine: the engine's own step, compiled ahead of time over chunks of K steps.

A 2-D run's whole state (x, y and a few moments per coordinate) fits in registers, so a roll-out is
compute-bound if it is written as ONE loop over runs that takes K steps in a row. The eager engine
runs ~20 tensor operations a step, each a pass over all B runs. Here a chunk calls engine.step.step
K times and inductor fuses them into one C++ (CPU) or Triton (CUDA) kernel. What makes that work:

* x and y are separate (B,) rows with a state each: every rule that is not `coupled` treats the
  coordinates independently, so the loop over runs needs no cross-row reads;
* hyperparameters, the scheduled lr and the rule's per-step values (rule.per_step, computed on the
  host) enter as tensors: moving a slider does not recompile, and one graph serves every chunk
  (no update reads the step number);
* on the CPU a sweep graph steps its runs as two interleaved halves (`_interleave`): one step is a
  long chain of dependent operations, and two chains in one loop body keep the CPU busy.

The eager engine stays the reference (bit-exact to torch.optim); this path agrees with it to 1e-9
relative in float64 (inductor rounds some multiply-adds and square roots differently from ATen's
eager kernels) and 1e-5 in float32. Graphs are exported (torch.export, dynamic batch axis) and
compiled by AOTInductor (engine/torch_private.py) into packages in the graph store
(engine/graph_store.py), built by a child process in the background (engine/builder.py) or, for
engine="fused", in the calling process. simulate(engine="auto") runs a graph only once it is on disk
(and, with the background builder on, once the compiler's one-off CPU probe has run: builder.loader_ready).
"""

from __future__ import annotations

import os
from typing import Callable

import torch
from torch import Tensor
from engine.noise import gaussian
from engine.torch_private import tree_leaves, tree_map
from engine.step import gradient_only, step as take_step

os.environ.setdefault(
    "TORCHINDUCTOR_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "gradscape", "inductor")
)

CHUNK = int(
    os.environ.get("GRADSCAPE_CHUNK", "25")
)  # steps per compiled call (amortises the call; compile time grows with it)
# A run recorded at every step (the Playground's single runs) is call-bound, not compute-bound:
# chunks twice as long make it ~24% faster for ~2x the build time (session 4), paid in the background.
RECORD_ALL_FACTOR = 2


def unsupported_reason(surface, rule, schedule) -> str | None:
    """Why this run cannot take the fused path (None when it can)."""
    if rule.needs_hessian:
        return "Newton-type rules need the Hessian at every step"
    if rule.needs_closure:
        return "the rule evaluates the surface several times per step (a line search)"
    if rule.coupled:
        return "the rule couples x and y"
    if not surface.compilable:
        return surface.not_compiled_reason or "the surface cannot be compiled"
    if schedule.needs_loss:
        return "the schedule reads the loss after every step"
    return None


def chunk_length(rule_hp: dict, record_all: bool = False) -> int:
    """K: CHUNK steps (RECORD_ALL_FACTOR × CHUNK when every step is recorded), rounded to a
    multiple of Lookahead's k, so every chunk starts at the same phase of its cycle."""
    base = CHUNK * (RECORD_ALL_FACTOR if record_all else 1)
    k = rule_hp.get("k")
    if isinstance(k, int) and not isinstance(k, bool) and k > 0:
        return k * max(1, round(base / k))
    return base


# ---- the traced function ----------------------------------------------------------------------


def make_advance(surface, build: Callable, steps_per_call: int | None, record_all: bool) -> Callable:
    """advance(x, y, sx, sy, step0, lrs, pre, noise, hp[, never]) -> (x, y, sx, sy, records).

    Runs len(lrs) updates numbered step0, step0 + 1, ... . lrs: (n,) or (n, B); pre: (n, m[, B])
    rows of rule.per_step or None; noise: (n, 2, B) or None. records: every step's point, gradient
    and effective lr when record_all, else those of the first step only. never: a 0-dim False
    tensor (sweep graphs): the runs are then stepped as two interleaved halves (B even, see
    _interleave); the numbers are the same.
    """

    def advance(x, y, sx, sy, step0, lrs, pre, noise, hp, never=None):
        groups = [[x, y, sx, sy, lrs, pre, noise, hp]] if never is None else _halves(x, y, sx, sy, lrs, pre, noise, hp)
        rules = [build(group[7]) for group in groups]
        n = lrs.shape[0] if steps_per_call is None else steps_per_call
        recs: list[list[Tensor]] = [[] for _ in groups]
        for i in range(n):
            for group, rule, rec in zip(groups, rules, recs):
                group[:4] = _one_step(surface, rule, *group, step0 + i, i, rec if record_all or i == 0 else None)
            if never is not None:
                _interleave(groups, never)
        # One flat stack per group (nested stacks made inductor allocate a buffer per step): (n recorded, 6, B)
        records = [torch.stack(rec).view(-1, 6, group[0].shape[0]) for group, rec in zip(groups, recs)]
        if never is None:
            return (*groups[0][:4], records[0])
        (xa, ya, sxa, sya, *_), (xb, yb, sxb, syb, *_) = groups

        def join(a, b):
            return torch.cat((a, b), -1) if a.dim() > 0 else a  # a 0-dim state value is the same in both

        return (join(xa, xb), join(ya, yb), tree_map(join, sxa, sxb), tree_map(join, sya, syb), join(*records))

    return advance


def _one_step(surface, rule, x, y, sx, sy, lrs, pre, noise, _hp, step: int, i: int, rec: list | None):
    """Update i of a chunk on one group of runs: (x, y, sx, sy) after it; appends its records to rec."""
    lr = lrs[i]
    values = () if pre is None else tuple(pre[i].unbind(0))
    done = take_step(surface, rule, (x, y), (sx, sy), lr, values, None if noise is None else noise[i])
    (nx, ny), (sx, sy), (gx, gy) = done.params, done.state, done.grad
    if rec is not None:
        if rule.effective_lr is not None:
            ex, ey = rule.effective_lr(sx, lr), rule.effective_lr(sy, lr)
        else:
            ex = ey = lr * torch.ones_like(x)
        rec.extend(torch.broadcast_tensors(x, y, gx, gy, ex, ey))
    return [nx, ny, sx, sy]


def map_batched(fn: Callable, x, y, sx, sy, lrs, pre, noise, hp) -> list:
    """The chunk's arguments with fn(tensor, batched) applied to each tensor, in call order; batched
    says whether its last axis is the batch: x and y, state and noise always (0-dim state aside),
    lrs as (n, B) and rule scalars as (n, m, B) only when swept, hyperparameters as (B,) only when
    swept. (The one statement of which inputs carry the batch: halves, export, padding.)"""

    def state(s):
        return tree_map(lambda v: fn(v, v.dim() > 0) if isinstance(v, Tensor) else v, s)

    return [
        fn(x, True),
        fn(y, True),
        state(sx),
        state(sy),
        fn(lrs, lrs.dim() == 2),
        None if pre is None else fn(pre, pre.dim() == 3),
        None if noise is None else fn(noise, True),
        {name: fn(v, v.dim() > 0) if isinstance(v, Tensor) else v for name, v in hp.items()},
    ]


def _halves(x, y, sx, sy, lrs, pre, noise, hp) -> list[list]:
    """The chunk's arguments cut into two groups of B/2 runs."""
    h = x.shape[-1] // 2
    return [
        map_batched(lambda v, batched: v[..., j * h : (j + 1) * h] if batched else v, x, y, sx, sy, lrs, pre, noise, hp)
        for j in (0, 1)
    ]


# Why two halves. One step of a run is a chain of dependent operations (gradient, moments, a square
# root, two divisions: ~55 cycles of latency for Adam), and inductor's loop takes one vector of runs
# through all K steps before the next: the CPU waits on that chain, its divider mostly idle. Two
# independent halves stepped in the same loop body overlap their chains (Adam at B = 65,536: ~14 ms
# -> ~10 ms on the 2-core CPU). Inductor emits each output's expression depth first, so halves that
# never meet would still come out one after the other (two loops): after each step the halves' x
# values are coupled through `where(never, other, own)`, which is the identity (never is a False
# input, so it cannot be folded away) and makes step i of both halves precede step i + 1 of either.
def _interleave(groups: list[list], never: Tensor) -> None:
    a, b = groups
    a[0], b[0] = torch.where(never, b[0], a[0]), torch.where(never, a[0], b[0])


# ---- the roll-out ---------------------------------------------------------------------------


def graph_key(
    surface, spec_key: str, hp: dict, dtype, device: str, every: int, noise: bool, k: int, swept_lr: bool
) -> tuple:
    """Everything a compiled graph is specialised on (values that enter as tensors are not). hp and
    the base lr: floats or (B,) tensors (`scalar_values` turns one-element tensors into floats)."""
    fixed = tuple(sorted((n, v) for n, v in hp.items() if not isinstance(v, Tensor) and not _is_live_float(v)))
    swept = tuple(sorted(n for n, v in hp.items() if isinstance(v, Tensor) and v.numel() > 1))
    return (spec_key, repr(surface), fixed, swept, swept_lr, str(dtype), str(device), every == 1, noise, k)


def scalar_values(hp: dict, base_lr):
    """One-element tensors as floats: a graph is built for floats or (B,) rows, not (1,) tensors."""

    def one(v):
        return float(v) if isinstance(v, Tensor) and v.numel() == 1 else v

    return {n: one(v) for n, v in hp.items()}, one(base_lr)


def _tensor_hparams(hp: dict, device: str) -> dict:
    """Floats become 0-dim float64 tensors (graph inputs, so moving a slider does not recompile).
    An exact 0.0 stays a float: rules skip a term that is off (weight decay, momentum), and a graph
    without it is faster; turning it on compiles once more, later values are tensors again."""
    return {n: (torch.tensor(v, dtype=torch.float64, device=device) if _is_live_float(v) else v) for n, v in hp.items()}


def _is_live_float(v) -> bool:
    return isinstance(v, float) and v != 0.0


def _tensor_state(state, device: str):
    """Clone every tensor of the initial state (init shares one zeros tensor between moments, and the
    compiled graph's inputs must not alias each other); floats become 0-dim tensors."""

    def leaf(v):
        if isinstance(v, Tensor):
            return v.clone()
        if isinstance(v, float):
            return torch.tensor(v, dtype=torch.float64, device=device)
        return v

    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(_tensor_state(v, device) if isinstance(v, tuple) else leaf(v) for v in state))
    return leaf(state)


def _widen(rule, state, params: Tensor, lr):
    """The state with each 0-dim value that an update turns into a per-run row (NAdam's running
    product of μ when β₁ is swept) made that row from the start, with the row's dtype: a graph's
    inputs must keep their shapes from one chunk to the next."""
    if not any(isinstance(v, Tensor) and v.dim() == 0 for v in tree_leaves(state)):
        return state
    _, after = rule.update(torch.zeros_like(params), state, params, lr, rule.per_step(lr, 1))  # only the shapes
    return tree_map(lambda v, a: torch.full_like(a, float(v)) if v.dim() == 0 and a.dim() > 0 else v, state, after)


def _table(values: list, device: str, like: Tensor) -> Tensor:
    """Stack per-step floats or (B,) tensors into one tensor: float64 if all are numbers."""
    if all(not isinstance(v, Tensor) for v in values):
        return torch.tensor(values, dtype=torch.float64, device=device)
    batch = like.shape[-1]
    return torch.stack([torch.as_tensor(v, dtype=like.dtype, device=device).reshape(-1).expand(batch) for v in values])


def _step_tables(host_rule, schedule, sched_state, t0: int, n: int, device: str, like: Tensor):
    """(lrs as floats or tensors, their table, rule.per_step' table) for steps t0 .. t0+n-1."""
    step_lrs = [schedule.lr(sched_state, t0 + i) for i in range(n)]
    return step_lrs, _table(step_lrs, device, like), _pre_table(host_rule, step_lrs, t0, device, like)


def _pre_table(host_rule, lrs: list, t0: int, device: str, like: Tensor) -> Tensor | None:
    rows = [host_rule.per_step(lr, t0 + 1 + i) for i, lr in enumerate(lrs)]
    if not rows or not rows[0]:
        return None
    if not any(isinstance(v, Tensor) for v in rows[0]):  # every row has the same kinds as the first
        return torch.tensor(rows, dtype=torch.float64, device=device)  # (n, m)
    columns = [_table([row[j] for row in rows], device, like) for j in range(len(rows[0]))]
    if any(c.dim() == 2 for c in columns):
        batch = like.shape[-1]
        columns = [c.to(like.dtype).view(len(rows), -1).expand(len(rows), batch) for c in columns]
    return torch.stack(columns, 1)  # (n, m) or (n, m, B)


def roll_out_fused(
    surface,
    spec,
    resolved: dict,
    hp_device: dict,
    params: Tensor,
    steps: int,
    schedule,
    base_lr,
    noise: float,
    seeds,
    every: int,
    *,
    k: int | None = None,
    compiled: bool = True,
    on_device=None,
):
    """The fused counterpart of rollout._roll_out: the same records (ts, xs, gs, lrs, effs).

    k: steps per chunk (default chunk_length). compiled=False runs the same traced function eagerly
    (tests, and chunk remainders always). on_device: what runs one full chunk (a loaded Graph).
    """
    device = str(params.device)
    single = params.shape[1] == 1
    if single:  # inductor fuses a size-1 batch poorly (a buffer per value): run the row twice
        params = params.expand(2, 2)
        seeds = seeds.expand(2) if seeds is not None else None
    host_rule = spec.build(hp_device)
    k = chunk_length(resolved, every == 1) if k is None else k
    hp_in = _tensor_hparams(hp_device, device)
    x, y = params[0].clone(), params[1].clone()
    sx, sy = _tensor_state(host_rule.init(x), device), _tensor_state(host_rule.init(y), device)
    sched_state = schedule.start(base_lr)
    record_all = every == 1
    plain = make_advance(surface, spec.build, None, record_all)
    full = on_device if on_device is not None else plain

    # The schedule's lrs and the rule's step scalars as tables for the whole run, sliced per chunk
    # (building them per chunk cost a Playground run ~15%); per chunk only when they are (n, B).
    total = -(-steps // k) * k if record_all and compiled else steps
    lr0 = schedule.lr(sched_state, 0)
    per_run = [lr0, *host_rule.per_step(lr0, 1)]
    swept = any(isinstance(v, Tensor) and v.numel() > 1 for v in per_run)
    whole = None if swept else _step_tables(host_rule, schedule, sched_state, 0, total, device, x)

    if any(isinstance(v, Tensor) and v.numel() > 1 for v in (*hp_device.values(), lr0)):  # only per-run values widen
        sx, sy = _widen(host_rule, sx, x, lr0), _widen(host_rule, sy, y, lr0)

    ts, xs, gs, lrs, effs = [], [], [], [], []
    t, last_recorded = 0, False
    while t < steps:
        limit = steps if record_all else min(steps, (t // every + 1) * every)
        # A chunk ends at the next multiple of K: a compiled chunk must start at the phase it was
        # traced at (Lookahead's k divides K). Records every multiple of K keep every chunk whole.
        n = min(k, limit - t, k - t % k)
        # When recording every step, a short last chunk runs as a full one: the extra steps past
        # the end are computed and dropped, and their first record is the final point itself.
        padded = record_all and compiled and n < k
        width = k if padded else n
        if whole is not None:  # copies: each chunk's inputs compact and starting at offset 0
            step_lrs, lr_in = whole[0][t : t + width], whole[1][t : t + width].clone()
            pre = None if whole[2] is None else whole[2][t : t + width].clone()
        else:
            step_lrs, lr_in, pre = _step_tables(host_rule, schedule, sched_state, t, width, device, x)
        noise_in = gaussian(seeds, t, width, x.dtype) * noise if noise else None
        fn = full if (compiled and width == k) else plain
        x, y, sx, sy, out = fn(x, y, sx, sy, t + 1, lr_in, pre, noise_in, hp_in)
        kept = n if record_all else (1 if t % every == 0 else 0)
        if kept:
            block = out[: kept + padded].view(kept + padded, 3, 2, -1)  # (kept, quantity, coordinate, B)
            ts.extend(range(t, t + kept + padded))
            xs.append(block[:, 0])
            gs.append(block[:, 1])
            effs.append(block[:kept, 2])
            lrs.extend(step_lrs[:kept])
        last_recorded = padded
        t += n

    if not last_recorded:
        # The last point: its gradient as the eager loop computes it (look-ahead, noise), no update.
        kick = gaussian(seeds, steps, 1, x.dtype)[0] * noise if noise else None
        g_last = gradient_only(surface, host_rule, (x, y), (sx, sy), kick)
        ts.append(steps)
        xs.append(torch.stack((x, y)).unsqueeze(0))
        gs.append(g_last.unsqueeze(0))
    effs = torch.cat(effs) if effs else xs[0][:0]
    if single:
        xs, gs, effs = [b[..., :1] for b in xs], [b[..., :1] for b in gs], effs[..., :1]
    return ts, xs, gs, lrs, effs
