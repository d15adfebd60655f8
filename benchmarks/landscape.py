"""A real network's loss landscape: time to train and to evaluate the plane (issue 18).

    python benchmarks/landscape.py [--repeats 3] [--grid 61] [--steps 300]

Targets on the 2-core CPU: a 61 × 61 grid of full-batch training losses on the digits in under 2 s;
4 optimizers × 300 steps in under 3 s. The baseline, measured side by side: the same work done the
plain way, one network call per grid point (torch.func.functional_call on an nn.Sequential) and one
torch.optim optimizer per network trained one after another. Best of `repeats`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine import landscape as L  # noqa: E402

HP = {"sgd": {"lr": 0.5}, "momentum": {"lr": 0.1}, "adam": {"lr": 0.01}, "rmsprop": {"lr": 0.003}}
TORCH = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.5),
    "momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01),
    "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.003),
}


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def network(theta: torch.Tensor, hidden: int) -> torch.nn.Sequential:
    net = torch.nn.Sequential(torch.nn.Linear(L.INPUTS, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, L.CLASSES))
    w1, b1, w2, b2 = L.unflatten(theta.float(), hidden)
    with torch.no_grad():
        for p, v in zip(net.parameters(), (w1, b1, w2, b2)):
            p.copy_(v)
    return net


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--grid", type=int, default=61)
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args(argv)
    hidden, keys = 32, list(HP)
    x, y, _, _ = L.digits_split(0)
    x = x.float()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, digits MLP 64-{hidden}-10 "
        f"({L.n_weights(hidden)} weights), {len(y)} training examples, float32\n"
    )

    # training: the engine (all optimizers in one batched pass per step) vs torch.optim one network at a time
    ours = best(lambda: L.train(keys, steps=args.steps, hparams=HP, hidden=hidden), args.repeats)

    def plain():
        theta0 = L.initial_weights(hidden)
        for key in keys:
            net = network(theta0, hidden)
            opt = TORCH[key](list(net.parameters()))
            for _ in range(args.steps):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(x), y).backward()
                opt.step()

    theirs = best(plain, args.repeats)
    print(
        f"| train {len(keys)} optimizers × {args.steps} steps | engine {ours:.2f} s | torch.optim one by one "
        f"{theirs:.2f} s | ratio {theirs / ours:.2f}× | target < 3 s: {'yes' if ours < 3 else 'NO'} |"
    )

    # the plane: one batched pass per chunk of grid points vs one functional_call per grid point
    g = args.grid
    thetas = L.initial_weights(hidden).float().unsqueeze(0) + 0.01 * torch.randn(g * g, L.n_weights(hidden))
    with torch.no_grad():
        ours = best(lambda: L.chunked_losses(thetas, x, y, hidden), args.repeats)
        net = network(L.initial_weights(hidden), hidden)
        names = [n for n, _ in net.named_parameters()]
        shapes = [p.shape for p in net.parameters()]

        def per_point():
            for theta in thetas:
                parts = torch.split(theta, [s.numel() for s in shapes])
                params = {n: p.view(s) for n, p, s in zip(names, parts, shapes)}
                torch.nn.functional.cross_entropy(torch.func.functional_call(net, params, (x,)), y)

        theirs = best(per_point, 1)
    print(
        f"| grid {g} × {g} losses | engine {ours:.2f} s | one call per point {theirs:.2f} s | "
        f"ratio {theirs / ours:.2f}× | target < 2 s: {'yes' if ours < 2 else 'NO'} |"
    )

    total = best(lambda: L.landscape(keys, steps=args.steps, grid=g, hparams=HP, hidden=hidden), args.repeats)
    print(f"| landscape() end to end ({len(keys)} × {args.steps} steps, {g} × {g}) | {total:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
