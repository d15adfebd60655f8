"""The fused engine: the same pure update rules, compiled ahead of time over chunks of K steps.

A 2-D run's whole state (x, y and a few moments per coordinate) fits in registers, so a roll-out
is compute-bound if it is written as ONE loop over runs that takes K steps in a row. The eager
engine (engine/rollout.py) instead runs ~20 tensor operations a step, each a pass over all B runs.
Here `_advance` calls the very same `rule.update` K times, and inductor fuses the K steps into one
C++ (CPU) or Triton (CUDA) kernel. Three things make that fusion possible:

* the coordinates are split: x and y are separate (B,) rows with a state each. Every rule except
  Newton's is elementwise, so rule.update(g_x, s_x, x) and rule.update(g_y, s_y, y) compute the
  same numbers as one call on the (2, B) stack, and the loop over runs needs no cross-row reads;
* hyperparameters, the scheduled lr and the step's scalars (β₁ᵗ, bias corrections: rule.per_step,
  computed on the host in float arithmetic) enter as tensors, so moving a slider does not
  recompile and no kernel computes a power per run;
* the step number enters only through those tables and its phase modulo K (Lookahead's k divides
  K): one graph, traced at step 1, serves every chunk (checked when it is built).

On the CPU a sweep graph steps its runs as two interleaved halves (`_interleave`): one step is a
long chain of dependent operations, and two independent chains in the same loop body keep the CPU
busy while each waits (Adam at B = 65,536: 1.3x faster).

The eager engine stays the reference (bit-exact to torch.optim). In float64 this path equals it
bit for bit wherever the two engines' square roots agree: the rules spell the multiply-adds that
ATen fuses (add with alpha, addcmul, lerp) with inductor's fma primitive when compiled
(optimizers/_common.py). Eager torch.sqrt on a float64 CPU tensor is not correctly rounded (about
1.4% of results one ulp off, MKL's vector maths; torch.optim uses the same), the compiled kernel's
sqrt is: so rules without a square root (SGD, momentum, Nesterov, Rprop, Lion, RAdam and Adamax on
the runs tested) match bit for bit, and the rest match bit for bit against an eager run whose sqrt is
correctly rounded, and otherwise to a few ulps. Eager sin/cos/exp/tanh differ from inductor's in
the same way (surfaces: the plateau, Rastrigin). float32 agrees within 1e-5 relative.

A graph is exported (torch.export, with a dynamic batch axis) and compiled by AOTInductor into a
.pt2 package on disk: 10-40 s on a 2-core CPU, once per (optimizer, surface, fixed settings)
and version of the code. `simulate(engine="auto")` runs a graph only if its package is on disk
(loading takes ~3 ms) and otherwise runs eagerly while a child process builds it
(`request_build`): no page waits on a compile, and the compiler never shares the server's GIL.
engine="fused" builds in the calling process and waits (tests, benchmarks, `gradscape warm`).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import json
import os
import pickle
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor
from torch.utils._pytree import tree_flatten, tree_leaves, tree_map, tree_unflatten

from engine.noise import gaussian
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
_BACKGROUND_ENV = "GRADSCAPE_BACKGROUND_COMPILE"  # "0" turns the background builder off (tests do)


def unsupported_reason(surface, rule, schedule) -> str | None:
    """Why this run cannot take the fused path (None when it can)."""
    if rule.needs_hessian:
        return "Newton-type rules need the Hessian at every step"
    if rule.coupled:
        return "the rule couples x and y"
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


def _map_batched(fn: Callable, x, y, sx, sy, lrs, pre, noise, hp) -> list:
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
        _map_batched(
            lambda v, batched: v[..., j * h : (j + 1) * h] if batched else v, x, y, sx, sy, lrs, pre, noise, hp
        )
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


# ---- ahead-of-time graphs: built once (torch.export + AOTInductor), stored on disk, loaded --------
#
# A graph is compiled in a separate process and the server only loads the result (a shared library
# in a .pt2 package, ~3 ms): compiling inside the server (torch.compile in a thread) held the GIL
# for 15-25 s per graph, and every page run in the other threads stalled for as long.


# The batch a graph is traced at (its batch axis is dynamic: any B ≥ 2 runs it). Inductor decides
# from this size whether a loop is worth splitting over threads: a small one for the single runs
# recorded at every step (the Playground; B = 2), a large one for sweeps (multi-threaded kernels;
# traced at 5, sweeps of 65,536 runs took 1.7× as long on 2 cores).
def example_batch(record_all: bool) -> int:
    return 5 if record_all else 4096


def cache_dir() -> str:
    """Where packages live: GRADSCAPE_GRAPH_DIR, else ~/.cache/gradscape/graphs; one folder per
    version of the code and of torch, so an edited rule never loads a stale graph."""
    root = os.environ.get("GRADSCAPE_GRAPH_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "gradscape", "graphs"
    )
    return os.path.join(root, _fingerprint())


@functools.cache
def _fingerprint() -> str:
    digest = hashlib.sha256(f"{torch.__version__} {sys.version} {platform.machine()} {_cpu_flags()}".encode())
    if torch.cuda.is_available():
        digest.update(str([torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]).encode())
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder in ("engine", "optimizers", "surfaces"):
        for name in sorted(os.listdir(os.path.join(project, folder))):
            if name.endswith(".py"):
                with open(os.path.join(project, folder, name), "rb") as f:
                    digest.update(name.encode() + f.read())
    return digest.hexdigest()[:16]


def _cpu_flags() -> str:
    """The CPU's instruction-set flags: a package built for AVX-512 must not load on an AVX2 CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def package_path(key: tuple) -> str:
    return os.path.join(cache_dir(), hashlib.sha256(repr(key).encode()).hexdigest()[:32] + ".pt2")


@dataclass
class BuildJob:
    """What a graph is built from: the roll-out arguments of one full chunk of example_batch() runs
    (picklable: the background builder runs in another process)."""

    key: tuple
    surface_key: str
    surface_values: dict
    spec_key: str
    resolved: dict
    hp: dict
    params: Tensor  # (2, example batch)
    schedule: Any
    base_lr: Any
    noise: float
    seeds: Tensor | None
    every: int
    k: int

    def surface(self):
        from surfaces import get_surface

        return get_surface(self.surface_key, **self.surface_values)

    def spec(self):
        from optimizers import get_optimizer

        return get_optimizer(self.spec_key)

    def advance(self) -> Callable:
        """The traced function, uncompiled."""
        return _make_advance(self.surface(), self.spec().build, self.k, self.every == 1)


def make_job(
    key: tuple,
    surface,
    spec,
    resolved: dict,
    hp: dict,
    params: Tensor,
    schedule,
    base_lr,
    noise: float,
    seeds,
    every: int,
    k: int,
) -> BuildJob:
    """The job for `key`, cut from a real run's arguments: swept values keep their first run."""
    batch = example_batch(every == 1)

    def cut(v):
        return v.reshape(-1)[:1].expand(batch).clone() if isinstance(v, Tensor) and v.numel() > 1 else v

    return BuildJob(
        key,
        surface.key,
        dict(surface.values),
        spec.key,
        {n: cut(v) for n, v in resolved.items()},
        {n: cut(v) for n, v in hp.items()},
        params[:, :1].expand(2, batch).clone(),
        schedule,
        cut(base_lr),
        noise,
        None if seeds is None else seeds.reshape(-1)[:1].expand(batch).clone(),
        1 if every == 1 else k,
        k,
    )


class _Captured(Exception):
    pass


def build_package(job: BuildJob, path: str) -> None:
    """Export the job's first chunk with a dynamic batch axis and compile it to `path` (blocking)."""
    advance = job.advance()
    captured = []

    def capture(*args):
        captured.append(args)
        raise _Captured

    try:
        roll_out_fused(
            job.surface(),
            job.spec(),
            job.resolved,
            job.hp,
            job.params,
            job.k,
            job.schedule,
            job.base_lr,
            job.noise,
            job.seeds,
            job.every,
            k=job.k,
            on_device=capture,
        )
    except _Captured:
        pass
    args = captured[0]

    leaves, in_spec = tree_flatten(args)
    is_tensor = [isinstance(v, Tensor) for v in leaves]
    constants = [None if t else v for v, t in zip(leaves, is_tensor)]  # step0 = 1, a 0.0 that is off, ...
    rows = _batched_leaves(args)
    order = [id(v) for v in leaves if isinstance(v, Tensor)]
    assert [id(v) for v, _ in rows] == order == [id(v) for v in _tensor_leaves(args, [])]  # the order Graph feeds
    halves = interleaved(job.every == 1, args[0].device)
    never = [(torch.tensor(False, device=args[0].device), False)] if halves else []
    if halves:
        _check_halves(advance, args, never[0][0])
    tensors = tuple(v.contiguous() for v, _ in rows + never)

    class Flat(torch.nn.Module):
        def forward(self, *flat):
            it = iter(flat[: len(flat) - len(never)])
            extra = {"never": flat[-1]} if halves else {}
            return tuple(
                tree_leaves(
                    advance(
                        *tree_unflatten([next(it) if t else c for t, c in zip(is_tensor, constants)], in_spec), **extra
                    )
                )
            )

    # Two interleaved halves need an even batch (Graph pads an odd one with a copy of its last run).
    batch = 2 * torch.export.Dim("half", min=1) if halves else torch.export.Dim("batch", min=2)
    axes = [{v.dim() - 1: batch} if batched else None for v, batched in rows + never]
    program = torch.export.export(Flat(), tensors, dynamic_shapes=(tuple(axes),), strict=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path[: -len('.pt2')]}.{os.getpid()}.partial.pt2"
    torch._inductor.aoti_compile_and_package(program, package_path=partial)
    signature = [
        (str(v.dtype), [-1 if batched and i == v.dim() - 1 else n for i, n in enumerate(v.shape)])
        for v, batched in rows
    ]
    # The side file names the package's checksum, written once the package is complete; each file goes
    # to a temporary name and is renamed into place (atomic), the side file first: a reader that sees
    # a package finds its side file, and a package cut short by a killed build, or overwritten by
    # another server's, fails the checksum and is never loaded as native code.
    side = f"{partial}.json"
    with open(side, "w") as f:
        json.dump({"inputs": signature, "halves": halves, "sha256": _sha256(partial)}, f)
    os.replace(side, path + ".json")
    os.replace(partial, path)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DamagedPackage(RuntimeError):
    """A package whose bytes do not match the checksum its build wrote: never loaded."""


def interleaved(record_all: bool, device) -> bool:
    """Whether a graph steps its runs as two interleaved halves (_interleave): CPU sweep graphs, whose
    many runs are compute-bound; not the Playground's, whose 1-2 runs are bound by the call, and not
    on a GPU, which hides each thread's latency with other threads (halves would halve them)."""
    return not record_all and torch.device(device).type == "cpu"


def _batched_leaves(args: tuple) -> list[tuple[Tensor, bool]]:
    """The tensor inputs in call order, each with whether its last axis is the batch (_map_batched)."""
    x, y, sx, sy, _step0, lrs, pre, noise, hp = args
    rows: list[tuple[Tensor, bool]] = []
    _map_batched(lambda v, batched: rows.append((v, batched)) or v, x, y, sx, sy, lrs, pre, noise, hp)
    for v, batched in rows:
        if batched and v.shape[-1] != x.shape[-1]:
            raise RuntimeError(f"an input of shape {tuple(v.shape)} lacks the example batch axis")
    return rows


def _check_halves(advance: Callable, args: tuple, never: Tensor) -> None:
    """Stepping the runs as two halves must not change a number: every fused rule and surface treats
    runs independently (Newton's, which does not, never gets here)."""
    x, y = args[0], args[1]  # the example's runs are all alike: make them differ, so a mix-up shows
    ramp = torch.linspace(-0.01, 0.01, x.shape[-1], dtype=x.dtype, device=x.device)
    args = (x + ramp, y - ramp, *args[2:])
    whole, split = tree_leaves(advance(*args)), tree_leaves(advance(*args, never=never))
    if not all(
        torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num()) for a, b in zip(whole, split)
    ):
        raise RuntimeError("the rule mixes runs: it cannot be stepped as two halves")


class SignatureMismatch(ValueError):
    """Inputs that do not fit a graph's saved signature (they would every time)."""


class Graph:
    """A loaded package, called like the traced function: graph(x, y, sx, sy, step0, lrs, pre, noise, hp).

    The compiled code trusts its inputs (a wrong shape or dtype would read out of bounds), so each
    new combination of shapes and dtypes is checked against the signature saved at build time."""

    def __init__(self, path: str):
        with open(path + ".json") as f:
            saved = json.load(f)
        if saved.get("sha256") != _sha256(path):  # checked before the native code is loaded
            raise DamagedPackage(f"{path} does not match the checksum its build wrote")
        self.signature = [(dtype, tuple(shape)) for dtype, shape in saved["inputs"]]
        self.halves = bool(saved["halves"])
        self.model = torch._inductor.aoti_load_package(path)
        self.run = self._runner(self.model)
        self.lock = threading.Lock()  # one call at a time per loaded model
        self.checked: set[tuple] = set()
        self.never: dict[torch.device, Tensor] = {}

    @staticmethod
    def _runner(model) -> Callable[[list[Tensor]], list[Tensor]]:
        """The flat call: the package's own loader when its outputs are a flat tuple (as ours are),
        which skips parsing the call's tree specs on every call (~25 µs)."""
        loader = getattr(model, "loader", None)
        try:
            out_spec = json.loads(loader.get_call_spec()[1])[1]
            flat = out_spec["type"] == "builtins.tuple" and all(
                not c["children_spec"] for c in out_spec["children_spec"]
            )
        except Exception:  # noqa: BLE001 - another torch's package layout: the documented call
            flat = False
        return loader.boxed_run if flat else (lambda tensors: list(model(*tensors)))

    def _check(self, tensors: list[Tensor]) -> None:
        seen = tuple((str(v.dtype), tuple(v.shape)) for v in tensors)
        if seen in self.checked:
            return
        batch = tensors[0].shape[-1]
        fits = len(seen) == len(self.signature) and all(
            dtype == want_dtype
            and len(shape) == len(want)
            and all(n == (batch if w == -1 else w) for n, w in zip(shape, want))
            for (dtype, shape), (want_dtype, want) in zip(seen, self.signature)
        )
        if not fits:
            raise SignatureMismatch(f"inputs {seen} do not fit the graph's signature {self.signature}")
        self.checked.add(seen)

    def __call__(self, x, y, sx, sy, step0, lrs, pre, noise, hp):
        tensors = [v.contiguous() for v in _tensor_leaves((x, y, sx, sy, lrs, pre, noise, hp), [])]
        self._check(tensors)
        batch = x.shape[-1]
        odd = self.halves and batch % 2 == 1
        if odd:  # two halves need an even batch: one more run, a copy of the last, computed and dropped
            tensors = [
                torch.cat((v, v[..., -1:]), -1) if w and w[-1] == -1 else v
                for v, (_, w) in zip(tensors, self.signature)
            ]
        if self.halves:
            never = self.never.get(x.device)
            if never is None:
                never = self.never[x.device] = torch.tensor(False, device=x.device)
            tensors.append(never)
        with self.lock:
            out = self.run(tensors)
        if odd:
            out = [v[..., :batch] if v.dim() > 0 else v for v in out]
        it = iter(out[2:-1])
        return out[0], out[1], _refill(sx, it), _refill(sy, it), out[-1]


# The graph's inputs and outputs are flat lists of tensors, in tree_leaves' order. These two walk
# the only containers a chunk's arguments use (tuples, named tuples, lists, dicts) ~10x faster
# than the general pytree functions, which cost ~30 µs a call (a Playground run makes 20 calls).
def _tensor_leaves(obj, out: list) -> list:
    """The tensors of obj, in tree_leaves' order, appended to out."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            _tensor_leaves(v, out)
    elif isinstance(obj, dict):
        for v in obj.values():
            _tensor_leaves(v, out)
    return out


def _refill(template, tensors):
    """template (a state: tensors in tuples or named tuples) with its tensors taken from the iterator."""
    if isinstance(template, Tensor):
        return next(tensors)
    if isinstance(template, tuple) and hasattr(template, "_fields"):
        return type(template)(*(_refill(v, tensors) for v in template))
    if isinstance(template, (tuple, list)):
        return type(template)(_refill(v, tensors) for v in template)
    return template


_PROBE_STARTED = threading.Event()


def prepare_in_background() -> None:
    """Run the one probe the first load of a package needs (inductor compiles small test programs
    to learn the CPU's vector instructions: ~1 s, mostly waiting on the C++ compiler) in a daemon
    thread, so that the first page that loads a graph does not pay it. Idempotent; call at start."""
    if _PROBE_STARTED.is_set():
        return
    _PROBE_STARTED.set()

    def probe():
        try:
            from torch._inductor.cpu_vec_isa import pick_vec_isa

            pick_vec_isa()  # cached for the process
        except Exception:  # noqa: BLE001 - no C++ compiler: the first load pays (or fails) as it would anyway
            pass

    threading.Thread(target=probe, name="gradscape-cpu-probe", daemon=True).start()


_LOADED: dict[str, Graph] = {}  # by package path (the store's folder can change: GRADSCAPE_GRAPH_DIR)
_FAILED: dict[tuple, str] = {}  # builds, loads and misfits that failed: the eager path stays for these keys
# Graphs that failed at run time for another reason (a CUDA out-of-memory, say), by key: (failures,
# monotonic time of the next try). The package is tried again after RETRY_AFTER seconds, twice as
# long after each further failure (at most RETRY_MAX): a one-off error does not cost the fused path
# for the rest of a lecture. A success clears the count.
_RETRY: dict[tuple, tuple[int, float]] = {}
_RUN_ERRORS: dict[tuple, str] = {}
RETRY_AFTER, RETRY_MAX = 30.0, 600.0
_now = time.monotonic  # (tests move this clock)
_LOAD_LOCK = threading.Lock()


def loaded_graph(key: tuple) -> Graph | None:
    """The graph for `key` if its package is on disk (loaded on first use), else None."""
    path = package_path(key)
    graph = _LOADED.get(path)
    if graph is not None or key in _FAILED or waiting_to_retry(key) or not os.path.exists(path):
        return graph
    with _LOAD_LOCK:
        graph = _LOADED.get(path)
        if graph is None:
            try:
                graph = _LOADED[path] = Graph(path)
            except Exception as exc:  # noqa: BLE001 - a damaged package: the eager path stays
                _FAILED[key] = f"loading {path}: {type(exc).__name__}: {exc}"
                return None
    return graph


def build_graph(job: BuildJob) -> Graph:
    """The graph for job.key, built in this process first if it is not on disk (blocking)."""
    _RETRY.pop(job.key, None)  # the caller wants this graph now (engine="fused": tests, benchmarks, warm)
    graph = loaded_graph(job.key)
    if graph is None:
        with _BUILD_LOCK:
            if not os.path.exists(package_path(job.key)):
                build_package(job, package_path(job.key))
        _FAILED.pop(job.key, None)
        graph = loaded_graph(job.key)
        if graph is None:
            raise RuntimeError(_FAILED.get(job.key, f"no package at {package_path(job.key)}"))
    return graph


def forget(key: tuple, exc: Exception) -> None:
    """Stop using a graph that failed at run time: the eager path takes over, for good if the inputs
    did not fit (that repeats), else until it is retried."""
    _LOADED.pop(package_path(key), None)
    _RUN_ERRORS[key] = f"running: {type(exc).__name__}: {exc}"
    if isinstance(exc, SignatureMismatch):
        _FAILED[key] = _RUN_ERRORS[key]
        return
    failures, due = _RETRY.get(key, (0, 0.0))
    if _now() >= due:  # sessions that failed on the same graph at once count once
        _RETRY[key] = (failures + 1, _now() + min(RETRY_MAX, RETRY_AFTER * 2**failures))


def succeeded(key: tuple) -> None:
    """A fused run of `key` went through: earlier run-time failures no longer count."""
    if key in _RETRY:
        _RETRY.pop(key, None)
        _RUN_ERRORS.pop(key, None)


def waiting_to_retry(key: tuple) -> bool:
    """Whether `key`'s graph failed at run time and is not to be tried again yet."""
    retry = _RETRY.get(key)
    return retry is not None and _now() < retry[1]


def prune_store() -> list[tuple[str, int]]:
    """Delete the store's other fingerprint folders: graphs of other versions of the code, torch or
    Python, or of another CPU (a store shared between machines loses theirs). [(folder, bytes
    freed)]; folders whose names are not fingerprints are left alone."""
    root, current = os.path.split(cache_dir())
    removed = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        folder = os.path.join(root, name)
        if (
            name == current
            or not os.path.isdir(folder)
            or len(name) != 16
            or not all(c in "0123456789abcdef" for c in name)
        ):
            continue
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.exists(folder):
            removed.append((name, size))
    return removed


# ---- the background builder: one child process at a time ---------------------------------------

_BUILD_LOCK = threading.Lock()
_QUEUE: "queue.LifoQueue[BuildJob]" = queue.LifoQueue()  # newest first: what the page shows now
MAX_BACKLOG = 16  # requests beyond this are dropped (and made again the next time a run needs them)
_PENDING: set[tuple] = set()
_WORKER: threading.Thread | None = None
BUILD_TIMEOUT = 1800  # seconds for one graph (a cold record-every-step graph takes ~40 s here)


def background_enabled() -> bool:
    return os.environ.get(_BACKGROUND_ENV, "1") != "0"


def request_build(job: BuildJob) -> None:
    """Queue job.key for the background builder (nothing waits for it)."""
    global _WORKER
    key = job.key
    if key in _PENDING or key in _FAILED or not background_enabled() or len(_PENDING) >= MAX_BACKLOG:
        return
    _PENDING.add(key)
    _QUEUE.put(job)
    if _WORKER is None or not _WORKER.is_alive():
        _WORKER = threading.Thread(target=_work, name="gradscape-builder", daemon=True)
        _WORKER.start()


def _work() -> None:
    while True:
        job = _QUEUE.get()
        try:
            if not os.path.exists(package_path(job.key)):
                _build_in_child(job)
        except Exception as exc:  # noqa: BLE001 - a failed build only means the eager path stays
            _FAILED[job.key] = f"{type(exc).__name__}: {exc}"
        finally:
            _PENDING.discard(job.key)
            _QUEUE.task_done()


def _build_in_child(job: BuildJob) -> None:
    """Run engine/build_graph.py on the job in a child process (it lowers its own priority): the
    child has its own GIL, so the server's threads keep running while it compiles."""
    os.makedirs(cache_dir(), exist_ok=True)
    fd, job_file = tempfile.mkstemp(prefix="gradscape-", suffix=".job")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(job, f)
        project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [project, os.environ.get("PYTHONPATH")])))
        done = subprocess.run(
            [sys.executable, "-m", "engine.build_graph", job_file],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
        )
    finally:
        stem = package_path(job.key)[: -len(".pt2")]
        for leftover in glob.glob(stem + ".*.partial.pt2") + glob.glob(stem + ".*.partial.pt2.json") + [job_file]:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
    if done.returncode != 0 or not os.path.exists(package_path(job.key)):
        lines = (done.stderr or done.stdout or f"exit status {done.returncode}").strip().splitlines()
        raise RuntimeError(f"the builder process failed: {lines[-1] if lines else done.returncode}")


def wait_for_background(timeout: float | None = None) -> bool:
    """Block until the background builder is idle (benchmarks and tests); True when it is."""
    done = threading.Event()

    def join():
        _QUEUE.join()
        done.set()

    threading.Thread(target=join, daemon=True).start()
    return done.wait(timeout)


def status() -> dict:
    """What the graph store did in this process: loaded graphs, pending builds, and by key each graph
    that failed to build or load (a damaged package included) or failed at run time."""
    return {"ready": len(_LOADED), "pending": len(_PENDING), "failed": dict(_FAILED), "run_errors": dict(_RUN_ERRORS)}


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
    plain = _make_advance(surface, spec.build, None, record_all)
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
