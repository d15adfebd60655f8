"""Building a graph: the fused chunk exported (torch.export, dynamic batch axis) and compiled by
AOTInductor into a package in the graph store, in this process (engine="fused", `gradscape warm`)
or in the background builder's child process (engine/build_graph.py).

A graph is compiled in a separate process and the server only loads the result (a shared library in
a .pt2 package, ~3 ms): compiling inside the server (torch.compile in a thread) held the GIL for
15-25 s per graph, and every page run in the other threads stalled for as long.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from engine import graph_store
from engine.fused import make_advance, map_batched, roll_out_fused
from engine.graph_store import STORE, Graph, package_path
from engine.torch_private import bind_fma, compile_package, fma, tree_flatten, tree_leaves, tree_unflatten


# The batch a graph is traced at (its batch axis is dynamic: any B ≥ 2 runs it). Inductor decides
# from this size whether a loop is worth splitting over threads: a small one for the single runs
# recorded at every step (the Playground; B = 2), a large one for sweeps (multi-threaded kernels;
# traced at 5, sweeps of 65,536 runs took 1.7× as long on 2 cores).
def example_batch(record_all: bool) -> int:
    return 5 if record_all else 4096


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
        return make_advance(self.surface(), self.spec().build, self.k, self.every == 1)


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


# ATen's kernels for addcmul and lerp round their multiply-add once (an fma); inductor's lowerings of
# the same ops round the product and the sum apart. The exported graph is given ATen's rounding, so
# the rules' element-wise arithmetic compiles to what eager computes, bit for bit (the rules never
# know: a tensor hyperparameter's a + α·b is spelt addcmul in optimizers/_common.py for eager's sake).
def _addcmul(a, t1, t2, value=1):
    product = t1.to(a.dtype) if value == 1 else value * t1.to(a.dtype)
    return fma(product, t2.to(a.dtype), a)


def _lerp(start, end, weight):
    """ATen's lerp_vec: fma(w, end − start, start) for |w| < 0.5, else fma(w − 1, end − start, end)."""
    weight = torch.as_tensor(weight, device=start.device).to(start.dtype)
    small = weight.abs() < 0.5
    return fma(torch.where(small, weight, weight - 1), end - start, torch.where(small, start, end))


_aten = torch.ops.aten
ATEN_ROUNDING = {_aten.addcmul.default: _addcmul, _aten.lerp.Tensor: _lerp, _aten.lerp.Scalar: _lerp}


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
    assert (
        [id(v) for v, _ in rows] == order == [id(v) for v in graph_store.tensor_leaves(args, [])]
    )  # the order Graph feeds
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
    bind_fma()  # inductor's fma imported before the decompositions trace it
    program = program.run_decompositions(ATEN_ROUNDING)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = graph_store.partial_path(path)
    try:
        compile_package(program, partial)
    except Exception as err:  # noqa: BLE001 - only a C++ compiler's failure is retried
        if "C++ compile error" not in str(err):
            raise
        # g++ 12 stops with an internal compiler error on some large vectorised kernels (Schedule-Free
        # AdamW's lesson graphs, benchmarks/RESULTS.md): the same graph without vectorisation builds.
        compile_package(program, partial, vectorised=False)
    signature = [
        (str(v.dtype), [-1 if batched and i == v.dim() - 1 else n for i, n in enumerate(v.shape)])
        for v, batched in rows
    ]
    graph_store.publish(partial, path, signature, halves)  # checksummed, renamed into place


def interleaved(record_all: bool, device) -> bool:
    """Whether a graph steps its runs as two interleaved halves (_interleave): CPU sweep graphs, whose
    many runs are compute-bound; not the Playground's, whose 1-2 runs are bound by the call, and not
    on a GPU, which hides each thread's latency with other threads (halves would halve them)."""
    return not record_all and torch.device(device).type == "cpu"


def _batched_leaves(args: tuple) -> list[tuple[Tensor, bool]]:
    """The tensor inputs in call order, each with whether its last axis is the batch (map_batched)."""
    x, y, sx, sy, _step0, lrs, pre, noise, hp = args
    rows: list[tuple[Tensor, bool]] = []
    map_batched(lambda v, batched: rows.append((v, batched)) or v, x, y, sx, sy, lrs, pre, noise, hp)
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


_BUILD_LOCK = threading.Lock()


def build_graph(job: BuildJob) -> Graph:
    """The graph for job.key, built in this process first if it is not on disk (blocking)."""
    STORE.retry.pop(job.key, None)  # the caller wants this graph now (engine="fused": tests, benchmarks, warm)
    graph = graph_store.loaded_graph(job.key)
    if graph is None:
        with _BUILD_LOCK:
            if not os.path.exists(package_path(job.key)):
                build_package(job, package_path(job.key))
        STORE.failed.pop(job.key, None)
        graph = graph_store.loaded_graph(job.key)
        if graph is None:
            raise RuntimeError(STORE.failed.get(job.key, f"no package at {package_path(job.key)}"))
    return graph
