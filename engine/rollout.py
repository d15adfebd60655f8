"""simulate(): roll out B independent runs of one optimizer on one surface, batched on a device."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from engine import builder, fused, graph_build, graph_store
from engine.noise import gaussian, minibatches
from engine.step import gradient_only, step
from optimizers import OptimizerSpec, get_optimizer
from optimizers.schedules import CONSTANT
from surfaces import Surface, get_surface

MAX_STEPS = 20_000
# A run is "far outside the view" (diverged) beyond the view widened by this many spans per side.
FAR_SPANS = 10.0
ENGINES = ("eager", "fused", "auto")
_NOISE_CHUNK = 256  # steps of noise drawn at once: cheap for small B, bounded memory for large B


class SimulationTooLarge(ValueError):
    """The requested batch would not fit the memory budget; raised before any work starts."""


@dataclass
class Trajectory:
    """The recorded roll-out. Arrays live on the CPU; row b is run b.

    xy (B, n, 2), loss (B, n), grad (B, n, 2): at the recorded steps `steps` (n,), which are
    0, r, 2r, ..., `total_steps` for record_every = r (every step by default, n = steps + 1).
    grad is the gradient the optimizer saw there (noisy when noise > 0; at the look-ahead point
    for Nesterov). lr (B, n − 1) and effective_lr (B, n − 1, 2) belong to the update leaving
    each recorded point. After a divergence (diverged_at ≥ 0) every array holds the run's last
    valid values, so nothing non-finite reaches a figure.
    """

    xy: Tensor
    loss: Tensor
    grad: Tensor
    lr: Tensor
    effective_lr: Tensor
    diverged_at: Tensor
    steps: Tensor
    surface: Surface
    optimizer: OptimizerSpec
    hparams: dict
    schedule: Any = None
    noise: float = 0.0
    seed: Any = 0
    device: str = "cpu"
    dtype: torch.dtype = torch.float64
    meta: dict = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return self.xy.shape[0]

    @property
    def total_steps(self) -> int:
        return int(self.steps[-1])

    @property
    def final_loss(self) -> Tensor:
        return self.loss[:, -1]


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def memory_budget(device: str) -> int:
    """Bytes a simulation may use: a fraction of the device's memory, at most 4 GiB on the CPU."""
    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free * 0.5)
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 8 << 30
    return min(4 << 30, int(physical * 0.4))


def estimate_bytes(batch: int, steps: int, record_every: int = 1, dtype=torch.float64) -> int:
    """Memory a simulation needs: recorded arrays (built twice while stacking) plus working state."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    recorded = _count_records(steps, record_every)
    per_run = recorded * (2 + 2 + 1) + (recorded - 1) * (1 + 2)  # xy, grad, loss; lr, eff. lr
    working = 64 + _NOISE_CHUNK * 2  # optimizer state, temporaries, a chunk of noise
    return itemsize * batch * (2 * per_run + working)


def _count_records(steps: int, record_every: int) -> int:
    return steps // record_every + 1 + (1 if steps % record_every else 0)


def simulate(
    surface: Surface | str,
    optimizer: OptimizerSpec | str,
    start=None,
    steps: int = 500,
    hparams: Mapping[str, Any] | None = None,
    schedule=None,
    noise: float = 0.0,
    seed: int | Sequence[int] | Tensor = 0,
    device: str | None = None,
    dtype: torch.dtype = torch.float64,
    record_every: int = 1,
    engine: str = "eager",
    batch_size: int | None = None,
) -> Trajectory:
    """Run `optimizer` on `surface` from `start` for `steps` updates; see DESIGN.md for the API.

    start: (x, y), a (B, 2) tensor/sequence, or None for the surface's default start.
    hparams: floats, or (B,) tensors to sweep; missing ones take the spec's defaults.
    seed: one int shared by every run (same noise for each), or B ints (independent noise).
    batch_size: on a data surface (one with `n_examples`), each step's gradient is the mean over k
    examples drawn without replacement within an epoch (engine/noise.minibatches), reproducible by
    seed like the noise; None, or k ≥ the number of examples, takes the whole data set every step.
    record_every: keep every r-th point only (sweeps); the last step is always kept.
    engine: "eager" (the reference, bit-exact to torch.optim), "fused" (compiled chunks of steps,
    building the graph in this process first if needed: engine/fused.py) or "auto" (fused once its
    graph is on disk and the compiler's CPU probe has run, else eager while a child process builds it or the
    probe waits for a quiet moment). traj.meta["engine"] says which ran.
    Divergence never raises: see Trajectory.diverged_at.
    """
    surface = get_surface(surface) if isinstance(surface, str) else surface
    spec = get_optimizer(optimizer)
    # A schedule-free method replaces the schedule: it runs at its base lr (traj.meta says so).
    ignored = spec.replaces_schedule and schedule is not None and schedule != CONSTANT
    schedule = CONSTANT if schedule is None or spec.replaces_schedule else schedule
    device = default_device() if device is None else str(device)
    _check_steps(steps, record_every)
    noise = _check_noise(noise)
    batch_size = _check_batch_size(surface, batch_size)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")

    resolved = spec.resolve(hparams)
    start_xy = _start_tensor(surface, start)
    seeds = _seed_tensor(seed)
    batch = _batch_size(start_xy, resolved, seeds)

    needed = estimate_bytes(batch, steps, record_every, dtype)
    if batch_size is not None:  # each run's order of the examples, an epoch at a time
        needed += 2 * 8 * batch * surface.n_examples
    budget = memory_budget(device)
    if needed > budget:
        raise SimulationTooLarge(
            f"{batch} runs × {steps} steps would need about {needed / 2**30:.1f} GiB, over the "
            f"{budget / 2**30:.1f} GiB budget on {device}: use fewer runs or steps, or record_every > 1"
        )

    params = start_xy.to(device=device, dtype=dtype).expand(batch, 2).T.contiguous()  # (2, B): x row, y row
    hp = {k: (v.to(device=device, dtype=dtype) if isinstance(v, Tensor) else v) for k, v in resolved.items()}
    seeds = seeds.to(device).expand(batch) if noise or batch_size else None
    base_lr = hp["lr"] if "lr" in hp else 1.0

    with torch.no_grad():
        rule = spec.build(hp)
        rec, used = None, "eager"
        if engine != "eager" and batch_size is not None:
            used = "eager (minibatches are drawn step by step)"
        elif engine != "eager":
            rec, used = _try_fused(
                engine,
                surface,
                spec,
                resolved,
                hp,
                rule,
                params,
                steps,
                schedule,
                base_lr,
                noise,
                seeds,
                record_every,
                dtype,
                device,
            )
        if rec is None:
            rec = _roll_out(surface, rule, params, steps, schedule, base_lr, noise, seeds, record_every, batch_size)

    traj = _finish(rec, surface, spec, resolved, schedule, noise, seed, device, dtype, batch)
    traj.meta["engine"] = used
    traj.meta["batch_size"] = batch_size
    traj.meta["schedule_ignored"] = ignored
    return traj


def _try_fused(
    engine, surface, spec, resolved, hp, rule, params, steps, schedule, base_lr, noise, seeds, every, dtype, device
):
    """Roll out on the fused path if this run can take it: (records, "fused"), else (None, why not)."""
    reason = fused.unsupported_reason(surface, rule, schedule)
    if reason is not None:
        return None, f"eager ({reason})"
    k = fused.chunk_length(resolved, every == 1)
    hp, base_lr = fused.scalar_values(hp, base_lr)
    swept_lr = isinstance(base_lr, Tensor) and base_lr.numel() > 1
    key = fused.graph_key(surface, spec.key, hp, dtype, device, every, bool(noise), k, swept_lr)
    args = (surface, spec, resolved, hp, params, steps, schedule, base_lr, noise, seeds, every)
    if engine == "auto" and not builder.loader_ready() and not graph_store.STORE.is_loaded(key):
        if os.path.exists(graph_store.package_path(key)):  # loading it now would pay the CPU probe here
            return None, "eager (the compiled graph is used once the compiler has checked this CPU)"
    graph = graph_store.loaded_graph(key)
    if graph is None and engine != "fused" and graph_store.STORE.waiting(key):
        return None, "eager (the fused graph failed; it is tried again later)"
    if graph is None and engine != "fused" and key in graph_store.STORE.failed:
        return None, "eager (the fused graph could not be used: see graph_store.status())"
    if graph is None:
        job = graph_build.make_job(key, surface, spec, resolved, hp, params, schedule, base_lr, noise, seeds, every, k)
        if engine != "fused":
            builder.request_build(job)  # built by a child process; this run goes eagerly
            return None, "eager (fused graph not compiled yet)"
        return fused.roll_out_fused(*args, k=k, on_device=graph_build.build_graph(job)), "fused"
    try:
        rec = fused.roll_out_fused(*args, k=k, on_device=graph)
        graph_store.STORE.succeeded(key)
        return rec, "fused"
    except Exception as exc:  # noqa: BLE001 - a graph that fails at run time is dropped: eager from now on
        if engine == "fused":
            raise
        graph_store.STORE.forget(key, exc)
        return None, "eager (the fused graph failed)"


def _roll_out(surface, rule, params, steps, schedule, base_lr, noise, seeds, every, batch_size=None):
    state = rule.init(params)
    sched_state = schedule.start(base_lr)
    eff_fn, needs_loss = rule.effective_lr, schedule.needs_loss

    ts, xs, gs, lrs, effs = [], [], [], [], []
    noise_block = batch_block = examples = None
    for t in range(steps + 1):
        kick = None
        if noise:
            if t % _NOISE_CHUNK == 0:
                noise_block = gaussian(seeds, t, _NOISE_CHUNK, params.dtype) * noise
            kick = noise_block[t % _NOISE_CHUNK]
        if batch_size is not None:
            if t % _NOISE_CHUNK == 0:
                batch_block = minibatches(seeds, surface.n_examples, batch_size, t, _NOISE_CHUNK)
            examples = batch_block[t % _NOISE_CHUNK]
        recorded = t % every == 0 or t == steps
        if t == steps:
            g = gradient_only(surface, rule, params, state, kick, examples)
            ts.append(t)
            xs.append(params)
            gs.append(g)
            break
        lr = schedule.lr(sched_state, t)
        if isinstance(lr, Tensor) and lr.numel() == 1 and lr.device.type == "cpu":
            lr = float(lr)  # one run: a float lets the rules use torch.optim's fused operations (bit-exact)
        done = step(surface, rule, params, state, lr, rule.per_step(lr, t + 1), kick, examples)
        state = done.state
        if recorded:
            ts.append(t)
            xs.append(params)
            gs.append(done.grad)
            lrs.append(lr)
            effs.append(eff_fn(state, lr) if eff_fn is not None else None)
        if needs_loss:
            sched_state = schedule.observe(sched_state, surface.value_xy(params[0], params[1]))
        params = done.params
    return ts, xs, gs, lrs, effs


def _finish(rec, surface, spec, resolved, schedule, noise, seed, device, dtype, batch) -> Trajectory:
    ts, xs, gs, lrs, effs = rec
    n = len(ts)
    xy = _rows(xs)  # (n, 2, B)
    grad = _rows(gs)
    step_index = torch.tensor(ts, dtype=torch.int64)
    lr = _stack_lr(lrs, batch, xy)
    if isinstance(effs, Tensor):  # the fused engine hands over its blocks already stacked
        eff = effs
    else:
        eff = (
            torch.stack([(e if e is not None else rate.view(1, -1)).expand(2, batch) for e, rate in zip(effs, lr)])
            if effs
            else xy[:0]
        )
    loss = surface.value_xy(xy[:, 0], xy[:, 1])  # (n, B), one vectorised call

    # Divergence: the first recorded point that is non-finite (position, loss or gradient) or far
    # outside the view. From there on, every array holds the run's last valid values.
    bad = ~(torch.isfinite(xy).all(1) & torch.isfinite(grad).all(1) & torch.isfinite(loss)) | _far(surface, xy)
    first = torch.where(bad, torch.arange(n, device=bad.device).view(-1, 1), n).min(0).values  # (B,)
    diverged = first < n
    if bool(diverged.any()):
        keep = (first - 1).clamp(min=0)  # last valid row (the start, if even that was out)
        rows = torch.arange(n, device=bad.device).view(-1, 1)
        held = (rows >= first.view(1, -1)) & (rows > 0)  # (n, B)
        xy = torch.where(held[:, None], _take(xy, keep), xy)
        grad = torch.where(held[:, None], _take(grad, keep), grad)
        loss = torch.where(held, _take(loss, keep), loss)
        if len(eff):
            upd_held = held[:-1]  # the update leaving row j is held when row j is
            eff = torch.where(upd_held[:, None], _take(eff, (first - 1).clamp(min=0, max=len(eff) - 1)), eff)
        grad = torch.nan_to_num(grad)
        loss = torch.nan_to_num(loss)
        xy = torch.nan_to_num(xy)
    eff = torch.nan_to_num(eff, nan=0.0)

    diverged_at = torch.where(diverged, step_index.to(first.device)[first.clamp(max=n - 1)], -1)
    cpu = dict(device="cpu")
    return Trajectory(
        xy=xy.permute(2, 0, 1).to(**cpu).contiguous(),
        loss=loss.T.to(**cpu).contiguous(),
        grad=grad.permute(2, 0, 1).to(**cpu).contiguous(),
        lr=lr.T.to(**cpu).contiguous(),
        effective_lr=eff.permute(2, 0, 1).to(**cpu).contiguous(),
        diverged_at=diverged_at.to(**cpu),
        steps=step_index,
        surface=surface,
        optimizer=spec,
        hparams=resolved,
        schedule=schedule,
        noise=noise,
        seed=seed,
        device=device,
        dtype=xy.dtype,
    )


def _rows(items) -> Tensor:
    """(n, 2, B) from a list of (2, B) points, or of (k, 2, B) blocks (the fused engine's chunks)."""
    return torch.cat(items) if items[0].dim() == 3 else torch.stack(items)


def _take(a: Tensor, rows: Tensor) -> Tensor:
    """a[rows[b], ..., b] for each run b, shaped like one row of a (broadcastable over rows)."""
    index = rows.view(1, *([1] * (a.dim() - 2)), -1).expand(1, *a.shape[1:])
    return a.gather(0, index)


def _stack_lr(lrs, batch, like) -> Tensor:
    if not lrs:
        return like.new_zeros((0, batch))
    if all(not isinstance(v, Tensor) for v in lrs):
        return torch.tensor(lrs, dtype=like.dtype, device=like.device).view(-1, 1).expand(-1, batch)
    return torch.stack(
        [torch.as_tensor(v, dtype=like.dtype, device=like.device).reshape(-1).expand(batch) for v in lrs]
    )


def _far(surface: Surface, xy: Tensor) -> Tensor:
    (x0, x1), (y0, y1) = surface.bounds
    wx, wy = FAR_SPANS * (x1 - x0), FAR_SPANS * (y1 - y0)
    x, y = xy[:, 0], xy[:, 1]
    return (x < x0 - wx) | (x > x1 + wx) | (y < y0 - wy) | (y > y1 + wy)


def _check_steps(steps, record_every):
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be a whole number from 0 to {MAX_STEPS}; got {steps!r}")
    if isinstance(record_every, bool) or not isinstance(record_every, int) or record_every < 1:
        raise ValueError(f"record_every must be a whole number >= 1; got {record_every!r}")


def _check_noise(noise) -> float:
    try:
        value = float(noise)
    except (TypeError, ValueError):
        raise ValueError(f"noise must be a number (the gradient noise's standard deviation); got {noise!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise ValueError(f"noise must be a finite number >= 0; got {noise!r}")
    return value


def _check_batch_size(surface: Surface, batch_size) -> int | None:
    """None for the full batch (also when k covers every example), else k."""
    if batch_size is None:
        return None
    n = getattr(surface, "n_examples", None)
    if n is None:
        raise ValueError(f"batch_size needs a surface made of data examples; {surface.name} has none")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1 (or None for the full batch); got {batch_size!r}")
    return None if batch_size >= n else batch_size


def _start_tensor(surface: Surface, start) -> Tensor:
    if start is None:
        start = surface.start
    try:
        t = (
            torch.as_tensor(start, dtype=torch.float64)
            if not isinstance(start, Tensor)
            else start.detach().cpu().double()
        )
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"start must be (x, y) or a (B, 2) array of numbers; got {start!r}") from None
    if t.dim() == 1:
        t = t.view(1, -1)
    if t.dim() != 2 or t.shape[1] != 2 or t.shape[0] < 1:
        raise ValueError(f"start must be (x, y) or a (B, 2) array; got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError("start must be finite")
    return t


def _seed_tensor(seed) -> Tensor:
    try:
        t = torch.as_tensor(seed)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"seed must be an int or a sequence of B ints; got {seed!r}") from None
    if t.is_floating_point() or t.dtype == torch.bool or t.dim() > 1:
        raise ValueError(f"seed must be an int or a sequence of B ints; got {seed!r}")
    return t.to(torch.int64).reshape(-1)


def _batch_size(start: Tensor, hparams: dict, seeds: Tensor) -> int:
    sizes = {"start": start.shape[0], "seed": seeds.numel()}
    sizes.update({k: v.numel() for k, v in hparams.items() if isinstance(v, Tensor)})
    batch = max(sizes.values())
    wrong = [f"{k} has {n}" for k, n in sizes.items() if n not in (1, batch)]
    if wrong:
        raise ValueError(f"batched inputs must all have B = {batch} entries (or one): {', '.join(wrong)}")
    return batch
