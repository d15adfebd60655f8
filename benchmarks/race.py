"""The fair race: 64 starts × 8 noise seeds × 8 optimizers, each tuned over 16 learning rates (issue 16).

    python benchmarks/race.py [--steps 500] [--noise 0.1] [--second momentum]

Target on the 2-core CPU: under 10 s end to end (engine.race.race, eager engine: a fresh server has
no compiled graph yet). The baseline, side by side: the noise generator as it was before this session
(one pass over the whole (steps, 2, B) array per operation), monkeypatched in for one optimizer and
scaled to eight. --second NAME also times the race that tunes NAME jointly with the lr (5 values:
5× the tuning runs for the optimizers that have it), side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADSCAPE_BACKGROUND_COMPILE", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine import noise  # noqa: E402
from engine import sweeps  # noqa: E402
from engine.race import Protocol, race  # noqa: E402

KEYS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam")


def whole_array_gaussian(seeds, t0, count, dtype):
    """engine/noise.gaussian before blocking: the same bits, each operation over the whole array."""
    device = seeds.device
    steps = torch.arange(t0, t0 + count, device=device, dtype=torch.int64).view(count, 1, 1)
    coord = torch.arange(2, device=device, dtype=torch.int64).view(1, 2, 1)
    base = noise._mix64(seeds.view(1, 1, -1) * noise._GOLDEN + 1) + (steps * 4 + coord * 2) * noise._GOLDEN
    u1 = (noise._shift_right(noise._mix64(base), 11) + 1).to(torch.float64) * 2.0**-53
    u2 = noise._shift_right(noise._mix64(base + 1), 11).to(torch.float64) * 2.0**-53
    return (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos((2.0 * torch.pi) * u2)).to(dtype)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--second", default=None, help="a hyperparameter to tune jointly with the lr")
    args = ap.parse_args(argv)
    sweeps.ENGINE = "eager"
    protocol = Protocol(steps=args.steps, noise=args.noise)
    t0 = time.perf_counter()
    result = race("rosenbrock", KEYS, protocol)
    seconds = time.perf_counter() - t0
    runs = (
        len(KEYS) * (protocol.lr_points * len(result.tuning_starts) + len(result.evaluation_starts)) * protocol.n_seeds
    )
    print(f"race: {len(KEYS)} optimizers, {runs:,} runs × {args.steps} steps, noise {args.noise}: {seconds:.2f} s")
    if args.second:
        joint = Protocol(steps=args.steps, noise=args.noise, second=args.second)
        t0 = time.perf_counter()
        both = race("rosenbrock", KEYS, joint)
        joint_s = time.perf_counter() - t0
        per = len(both.tuning_starts) * joint.n_seeds
        runs_2 = sum(
            e.objective.size * per + len(both.evaluation_starts) * joint.n_seeds for e in both.entries.values()
        )
        tuned = sum(e.second is not None for e in both.entries.values())
        print(
            f"race tuning {args.second} too ({tuned} of {len(KEYS)} optimizers have it, {joint.second_points} values): "
            f"{runs_2:,} runs: {joint_s:.2f} s ({joint_s / seconds:.1f}× the lr-only race)"
        )
    real = noise.gaussian
    noise.gaussian = whole_array_gaussian
    import engine.rollout as rollout

    saved = rollout.gaussian if hasattr(rollout, "gaussian") else None
    if saved is not None:
        rollout.gaussian = whole_array_gaussian
    try:
        t0 = time.perf_counter()
        race("rosenbrock", KEYS[-1:], protocol)
        before = (time.perf_counter() - t0) * len(KEYS)
    finally:
        noise.gaussian = real
        if saved is not None:
            rollout.gaussian = saved
    print(f"before (whole-array noise), one optimizer × {len(KEYS)}: {before:.1f} s -> {before / seconds:.1f}× now")
    return 0


if __name__ == "__main__":
    sys.exit(main())
