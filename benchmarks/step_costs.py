"""What one step of each optimizer costs, eager engine, side by side in one run (issue 15).

    python benchmarks/step_costs.py [--steps 300] [--batch 4096] [--repeats 3] [--only key,key]

For every optimizer of the registry: microseconds per step of one run (the Playground's single
path, recorded at every step, Rosenbrock, float64, CPU) and nanoseconds per run-step of a batch
of runs (a sweep: B runs, start and end recorded), with each row's ratio to SGD measured in the
same run; then, for optimizers with a twin (torch.optim or the reference package), the same single
run through that twin (p.grad set from the analytic gradient, one .step per update) and the twin
÷ gradscape ratio. Best of `repeats` timings. The compiled path is not used here (it builds graphs).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine import simulate  # noqa: E402
from optimizers import available_optimizers, get_optimizer  # noqa: E402
from surfaces import get_surface  # noqa: E402


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def twin_loop(surface, key: str, steps: int):
    """The twin driven as the reference tests drive it: one (2,) (or (1, 2)) parameter."""
    spec = get_optimizer(key)
    twin = spec.torch_twin
    cls = getattr(importlib.import_module(twin.module), twin.cls)
    kwargs = twin.arguments(spec.resolve({}))
    if "foreach" in inspect.signature(cls).parameters:
        kwargs["foreach"] = False
    p = torch.tensor(surface.start, dtype=torch.float64).reshape(twin.shape).requires_grad_(True)
    opt = cls([p], **kwargs)
    for call in twin.calls:
        getattr(opt, call)()

    def closure():
        with torch.no_grad():
            xy = p.detach().reshape(1, 2)
            p.grad = surface.grad(xy).reshape(p.shape)
            return surface.f(xy).sum()

    def run():
        for _ in range(steps):
            if twin.closure:
                opt.step(closure)
            else:
                closure()
                opt.step()

    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    torch.set_default_dtype(torch.float64)  # the twins keep scalar state in the default dtype
    surface = get_surface("rosenbrock")
    keys = [k for k in (args.only.split(",") if args.only else available_optimizers()) if k]
    if "sgd" not in keys:
        keys.insert(0, "sgd")
    (x0, x1), (y0, y1) = surface.bounds
    gen = torch.Generator().manual_seed(0)
    xs = torch.empty(args.batch, dtype=torch.float64).uniform_(x0, x1, generator=gen)
    ys = torch.empty(args.batch, dtype=torch.float64).uniform_(y0, y1, generator=gen)
    starts = torch.stack([xs, ys], dim=1) * 0.5

    rows = []
    for key in keys:
        one = best(lambda: simulate(surface, key, steps=args.steps, device="cpu"), args.repeats)
        many = best(
            lambda: simulate(surface, key, start=starts, steps=args.steps, record_every=args.steps, device="cpu"),
            args.repeats,
        )
        twin = None
        if get_optimizer(key).torch_twin is not None:
            twin = best(twin_loop(surface, key, args.steps), args.repeats)
        rows.append((key, one, many, twin))
    base_one, base_many = rows[0][1], rows[0][2]
    print(f"Rosenbrock, float64, CPU, {args.steps} steps; batch B = {args.batch}; best of {args.repeats}.")
    print()
    print("| optimizer | one run µs/step | × SGD | B runs ns/run-step | × SGD | twin µs/step | twin ÷ gradscape |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for key, one, many, twin in rows:
        us = one / args.steps * 1e6
        ns = many / (args.steps * args.batch) * 1e9
        tw = f"{twin / args.steps * 1e6:.1f} | {twin / one:.2f}×" if twin is not None else "– | –"
        print(f"| {key} | {us:.1f} | {one / base_one:.2f} | {ns:.2f} | {many / base_many:.2f} | {tw} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
