"""The fused engine: the same pure update rules, compiled by torch.compile over chunks of K steps.

A 2-D run's whole state (x, y and a few moments per coordinate) fits in registers, so a roll-out
is compute-bound if it is written as ONE loop over runs that takes K steps in a row. The eager
engine (engine/rollout.py) instead runs ~20 tensor operations a step, each a pass over all B runs.
Here `_advance` calls the very same `rule.update` K times, and inductor fuses the K steps into one
C++ (CPU) or Triton (CUDA) kernel. Three things make that fusion possible:

* the coordinates are split: x and y are separate (B,) rows with a state each. Every rule except
  Newton's is elementwise, so rule.update(g_x, s_x, x) and rule.update(g_y, s_y, y) compute the
  same numbers as one call on the (2, B) stack, and the loop over runs needs no cross-row reads;
* hyperparameters, the scheduled lr and the step's scalars (β₁ᵗ, bias corrections: rule.scalars,
  computed on the host in float arithmetic) enter as tensors, so moving a slider does not
  recompile and no kernel computes a power per run;
* the step number is a dynamic int: one graph serves every chunk.

The eager engine stays the reference (bit-exact to torch.optim). In float64 this path equals it
bit for bit wherever the two engines' square roots agree: the rules spell the multiply-adds that
ATen fuses (add with alpha, addcmul, lerp) with inductor's fma primitive when compiled
(optimizers/_common.py). Eager torch.sqrt on a float64 CPU tensor is not correctly rounded (about
1.4% of results one ulp off, MKL's vector maths; torch.optim uses the same), the compiled kernel's
sqrt is: so rules without a square root (SGD, momentum, Nesterov, Rprop, Lion, RAdam and Adamax on
the runs tested) match bit for bit, and the rest match bit for bit against an eager run whose sqrt is
correctly rounded, and otherwise to a few ulps. Eager sin/cos/exp/tanh differ from inductor's in
the same way (surfaces: the plateau, Rastrigin). float32 agrees within 1e-5 relative.

Compiling one (optimizer, surface, shapes) graph takes 5–20 s on a 2-core CPU. Inductor keeps the
artefacts on disk (TORCHINDUCTOR_CACHE_DIR, defaulting here to ~/.cache/gradscape/inductor), so a
restart pays only tracing. `simulate(engine="auto")` uses a graph only once it is ready and
otherwise runs eagerly while a background thread compiles it (`request_warm_up`): no page ever
waits on a compile.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import Any, Callable

import torch
import torch._inductor.inductor_prims  # noqa: F401  registers torch.ops.prims.fma, used by the rules when compiled
from torch import Tensor

from engine.noise import gaussian

os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR",
                      os.path.join(os.path.expanduser("~"), ".cache", "gradscape", "inductor"))

CHUNK = int(os.environ.get("GRADSCAPE_CHUNK", "25"))  # steps per compiled call (amortises the call; compile time grows with it)
# A run recorded at every step (the Playground's single runs) is call-bound, not compute-bound:
# chunks twice as long make it ~16% faster for ~55% more compile time, paid in the background.
RECORD_ALL_FACTOR = 2
_BACKGROUND_ENV = "GRADSCAPE_BACKGROUND_COMPILE"  # "0" turns the background compiler off (tests do)


def unsupported_reason(surface, rule, schedule) -> str | None:
    """Why this run cannot take the fused path (None when it can)."""
    if rule.needs_hessian:
        return "Newton-type rules couple x and y through the Hessian"
    if not getattr(surface, "compilable", True):
        return "the surface's derivatives come from autograd"
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

def _make_advance(surface, build: Callable, steps_per_call: int | None, record_all: bool) -> Callable:
    """advance(x, y, sx, sy, step0, lrs, pre, noise, hp) -> (x, y, sx, sy, records).

    Runs len(lrs) updates numbered step0, step0 + 1, ... . lrs: (n,) or (n, B); pre: (n, m[, B])
    rows of rule.scalars or None; noise: (n, 2, B) or None. records: every step's point, gradient
    and effective lr when record_all, else those of the first step only.
    """

    def advance(x, y, sx, sy, step0, lrs, pre, noise, hp):
        rule = build(hp)
        n = lrs.shape[0] if steps_per_call is None else steps_per_call
        rec = []
        for i in range(n):
            step = step0 + i
            lr = lrs[i]
            px, py = (rule.probe(x, sx), rule.probe(y, sy)) if rule.probe is not None else (x, y)
            gx, gy = surface.grad_xy(px, py)
            if noise is not None:
                gx, gy = gx + noise[i, 0], gy + noise[i, 1]
            extra = {} if pre is None else {"pre": tuple(pre[i].unbind(0))}
            nx, sx = rule.update(gx, sx, x, lr, step, **extra)
            ny, sy = rule.update(gy, sy, y, lr, step, **extra)
            if record_all or i == 0:
                if rule.effective_lr is not None:
                    ex, ey = rule.effective_lr(sx, lr, step), rule.effective_lr(sy, lr, step)
                else:
                    ex = ey = lr * torch.ones_like(x)
                rec.extend(torch.broadcast_tensors(x, y, gx, gy, ex, ey))
            x, y = nx, ny
        # One flat stack (nested stacks made inductor allocate a buffer per step): (n recorded, 6, B)
        return x, y, sx, sy, torch.stack(rec).view(-1, 6, x.shape[0])

    return advance


# ---- compiled graphs, readiness and the background compiler -------------------------------------

_GRAPHS: dict[tuple, Callable] = {}
_READY: set[tuple] = set()
_FAILED: dict[tuple, str] = {}
_LOCK = threading.Lock()  # one thread at a time inside dynamo (compiling or running a graph)
_QUEUE: "queue.Queue[tuple[tuple, Callable]]" = queue.Queue()
_PENDING: set[tuple] = set()
_WORKER: threading.Thread | None = None

# One code object (`advance`) serves every graph, so dynamo's default of 8 entries a code object
# would send the 9th optimizer back to eager. torch's config is per thread here: it is set around
# every call (the background compiler and Streamlit's script threads are not the main thread).
_LIMITS = {name: value for name, value in (("recompile_limit", 512), ("accumulated_recompile_limit", 4096))
           if hasattr(torch._dynamo.config, name)}


def _graph(key: tuple, surface, build, k: int, record_all: bool) -> Callable:
    fn = _GRAPHS.get(key)
    if fn is None:
        # A C++ wrapper halves the cost of a call (what matters for one run recorded every step)
        # but doubles the compile time; large batches do not need it.
        fn = torch.compile(_make_advance(surface, build, k, record_all), dynamic=True,
                           options={"cpp_wrapper": record_all})
        _GRAPHS[key] = fn
    return fn


def is_ready(key: tuple) -> bool:
    return key in _READY


def background_enabled() -> bool:
    return os.environ.get(_BACKGROUND_ENV, "1") != "0"


def request_warm_up(key: tuple, job: Callable[[], Any]) -> None:
    """Compile `key` in the background by running `job` (a small fused simulation) once."""
    global _WORKER
    if key in _READY or key in _PENDING or key in _FAILED or not background_enabled():
        return
    _PENDING.add(key)
    _QUEUE.put((key, job))
    if _WORKER is None or not _WORKER.is_alive():
        _WORKER = threading.Thread(target=_work, name="gradscape-compile", daemon=True)
        _WORKER.start()


def _work() -> None:
    while True:
        key, job = _QUEUE.get()
        try:
            if key not in _READY:
                job()
        except Exception as exc:  # noqa: BLE001 - a failed compile only means the eager path stays
            _FAILED[key] = f"{type(exc).__name__}: {exc}"
        finally:
            _PENDING.discard(key)
            _QUEUE.task_done()


def wait_for_background(timeout: float | None = None) -> bool:
    """Block until the background compiler is idle (benchmarks and tests); True when it is."""
    done = threading.Event()

    def join():
        _QUEUE.join()
        done.set()

    threading.Thread(target=join, daemon=True).start()
    return done.wait(timeout)


def status() -> dict:
    return {"ready": len(_READY), "pending": len(_PENDING), "failed": dict(_FAILED)}


# ---- the roll-out ---------------------------------------------------------------------------

def graph_key(surface, spec_key: str, hp: dict, batch: int, dtype, device: str, every: int,
              noise: bool, k: int, swept_lr: bool) -> tuple:
    """Everything a compiled graph is specialised on (values that enter as tensors are not)."""
    fixed = tuple(sorted((n, v) for n, v in hp.items() if not isinstance(v, Tensor) and not _is_live_float(v)))
    swept = tuple(sorted(n for n, v in hp.items() if isinstance(v, Tensor) and v.numel() > 1))
    return (spec_key, type(surface).__name__, hash(surface), fixed, swept, swept_lr,
            str(dtype), str(device), every == 1, noise, k)


def _tensor_hparams(hp: dict, device: str) -> dict:
    """Floats become 0-dim float64 tensors (graph inputs, so moving a slider does not recompile).
    An exact 0.0 stays a float: rules skip a term that is off (weight decay, momentum), and a graph
    without it is faster; turning it on compiles once more, later values are tensors again."""
    return {n: (torch.tensor(v, dtype=torch.float64, device=device) if _is_live_float(v) else v)
            for n, v in hp.items()}


def _is_live_float(v) -> bool:
    return isinstance(v, float) and v != 0.0


def _tensor_state(state, device: str):
    """Clone every tensor of the initial state (init shares one zeros tensor between moments, and a
    graph compiled for aliased inputs would not serve later calls); floats become 0-dim tensors."""
    def leaf(v):
        if isinstance(v, Tensor):
            return v.clone()
        if isinstance(v, float):
            return torch.tensor(v, dtype=torch.float64, device=device)
        return v
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(_tensor_state(v, device) if isinstance(v, tuple) else leaf(v) for v in state))
    return leaf(state)


def _table(values: list, device: str, like: Tensor) -> Tensor:
    """Stack per-step floats or (B,) tensors into one tensor: float64 if all are numbers."""
    if all(not isinstance(v, Tensor) for v in values):
        return torch.tensor(values, dtype=torch.float64, device=device)
    batch = like.shape[-1]
    return torch.stack([torch.as_tensor(v, dtype=like.dtype, device=device).reshape(-1).expand(batch)
                        for v in values])


def _step_tables(host_rule, schedule, sched_state, t0: int, n: int, device: str, like: Tensor):
    """(lrs as floats or tensors, their table, rule.scalars' table) for steps t0 .. t0+n-1."""
    step_lrs = [schedule.lr(sched_state, t0 + i) for i in range(n)]
    return step_lrs, _table(step_lrs, device, like), _pre_table(host_rule, step_lrs, t0, device, like)


def _pre_table(host_rule, lrs: list, t0: int, device: str, like: Tensor) -> Tensor | None:
    if host_rule.scalars is None:
        return None
    rows = [host_rule.scalars(lr, t0 + 1 + i) for i, lr in enumerate(lrs)]
    if not any(isinstance(v, Tensor) for v in rows[0]):  # every row has the same kinds as the first
        return torch.tensor(rows, dtype=torch.float64, device=device)  # (n, m)
    columns = [_table([row[j] for row in rows], device, like) for j in range(len(rows[0]))]
    if any(c.dim() == 2 for c in columns):
        batch = like.shape[-1]
        columns = [c.to(like.dtype).view(len(rows), -1).expand(len(rows), batch) for c in columns]
    return torch.stack(columns, 1)  # (n, m) or (n, m, B)


def roll_out_fused(surface, spec, resolved: dict, hp_device: dict, params: Tensor, steps: int, schedule,
                   base_lr, noise: float, seeds, every: int, *, compiled: bool = True, on_device=None):
    """The fused counterpart of rollout._roll_out: the same records (ts, xs, gs, lrs, effs).

    compiled=False runs the same traced function eagerly (tests, and chunk remainders always).
    on_device: the callable that runs one full chunk (default: the compiled graph).
    """
    device = str(params.device)
    single = params.shape[1] == 1
    if single:  # inductor fuses a size-1 batch poorly (a buffer per value): run the row twice
        params = params.expand(2, 2)
        seeds = seeds.expand(2) if seeds is not None else None
    host_rule = spec.build(hp_device)
    k = chunk_length(resolved, every == 1)
    hp_in = _tensor_hparams(hp_device, device)
    x, y = params[0].clone(), params[1].clone()
    sx, sy = _tensor_state(host_rule.init(x), device), _tensor_state(host_rule.init(y), device)
    sched_state = schedule.start(base_lr)
    record_all = every == 1
    plain = _make_advance(surface, spec.build, None, record_all)
    full = on_device if on_device is not None else plain

    # The schedule's lrs and the rule's step scalars as tables for the whole run, sliced per chunk
    # (building them per chunk cost a Playground run ~15%); per chunk only when they are (n, B).
    total = -(-steps // k) * k if record_all and compiled else steps
    lr0 = schedule.lr(sched_state, 0)
    per_run = [lr0, *(host_rule.scalars(lr0, 1) if host_rule.scalars is not None else ())]
    swept = any(isinstance(v, Tensor) and v.numel() > 1 for v in per_run)
    whole = None if swept else _step_tables(host_rule, schedule, sched_state, 0, total, device, x)

    ts, xs, gs, lrs, effs = [], [], [], [], []
    t, last_recorded = 0, False
    settings = on_device.settings() if isinstance(on_device, Runner) else contextlib.nullcontext()
    with settings:  # dynamo's settings, once for the whole roll-out
        while t < steps:
            limit = steps if record_all else min(steps, (t // every + 1) * every)
            n = min(k, limit - t)
            # When recording every step, a short last chunk runs as a full one: the extra steps past
            # the end are computed and dropped, and their first record is the final point itself.
            padded = record_all and compiled and n < k
            width = k if padded else n
            if whole is not None:  # copies: a view's storage offset would be a new guard, a new graph
                step_lrs, lr_in = whole[0][t:t + width], whole[1][t:t + width].clone()
                pre = None if whole[2] is None else whole[2][t:t + width].clone()
            else:
                step_lrs, lr_in, pre = _step_tables(host_rule, schedule, sched_state, t, width, device, x)
            noise_in = gaussian(seeds, t, width, x.dtype) * noise if noise else None
            fn = full if (compiled and width == k) else plain
            x, y, sx, sy, out = fn(x, y, sx, sy, t + 1, lr_in, pre, noise_in, hp_in)
            kept = n if record_all else (1 if t % every == 0 else 0)
            if kept:
                block = out[:kept + padded].view(kept + padded, 3, 2, -1)  # (kept, quantity, coordinate, B)
                ts.extend(range(t, t + kept + padded))
                xs.append(block[:, 0])
                gs.append(block[:, 1])
                effs.append(block[:kept, 2])
                lrs.extend(step_lrs[:kept])
            last_recorded = padded
            t += n

    if not last_recorded:
        # The last point: its gradient as the eager loop computes it (look-ahead, noise), no update.
        at_x, at_y = (host_rule.probe(x, sx), host_rule.probe(y, sy)) if host_rule.probe is not None else (x, y)
        gx, gy = surface.grad_xy(at_x, at_y)
        g_last = torch.stack(torch.broadcast_tensors(gx, gy))
        if noise:
            g_last = g_last + gaussian(seeds, steps, 1, x.dtype)[0] * noise
        ts.append(steps)
        xs.append(torch.stack((x, y)).unsqueeze(0))
        gs.append(g_last.unsqueeze(0))
    effs = torch.cat(effs) if effs else xs[0][:0]
    if single:
        xs, gs, effs = [b[..., :1] for b in xs], [b[..., :1] for b in gs], effs[..., :1]
    return ts, xs, gs, lrs, effs


class Runner:
    """One compiled graph, and the dynamo settings it runs under: `settings()` is entered once
    around a whole roll-out (entering it for each chunk cost ~30 µs a call)."""

    def __init__(self, graph: Callable, settings: Callable[[], Any], on_call: Callable[[], None] | None = None):
        self.graph, self.settings, self.on_call = graph, settings, on_call

    def __call__(self, *args):
        out = self.graph(*args)
        if self.on_call is not None:
            self.on_call()
        return out


def compiled_runner(key: tuple, surface, spec, record_all: bool, k: int) -> Runner:
    """The compiled graph for `key`, set to never compile on the caller's thread: when its guards
    do not hold it raises (set_stance "fail_on_recompile") and the caller runs eagerly."""
    @contextlib.contextmanager
    def settings():
        with torch._dynamo.config.patch(**_LIMITS), torch.compiler.set_stance("fail_on_recompile"):
            yield

    return Runner(_graph(key, surface, spec.build, k, record_all), settings)


def compiling_runner(key: tuple, surface, spec, record_all: bool, k: int) -> Runner:
    """The compiled graph for `key`, compiling on first use (blocking); marks the key ready."""
    @contextlib.contextmanager
    def settings():
        # Past the limit dynamo would quietly run the function eagerly: make that an error instead.
        with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True, **_LIMITS):
            yield

    return Runner(_graph(key, surface, spec.build, k, record_all), settings, on_call=lambda: _READY.add(key))
