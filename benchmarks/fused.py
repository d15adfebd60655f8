"""The fused engine (engine/fused.py) against issue 5's baselines, side by side in one run.

    python benchmarks/fused.py [--quick] [--device cpu|cuda]

(0) Compute floor: sgemm GFLOP/s on this device (torch.mm, 2048², float32) and the time Adam's
    ~30 flops a run-step would take at that rate.
(a) Adam, B = 65,536 × 500 steps, float32, Rosenbrock: the fused engine (start and end recorded)
    versus torch.optim.Adam(fused=True) over one (B, 2) parameter (analytic gradient; autograd)
    and versus the eager engine. Target: ≥ 5× fused Adam and ≥ 25% of the floor.
(b) The Playground: 8 optimizers × 1,000 steps, one start each, every step recorded: the fused
    engine versus the torch.optim + autograd notebook loop and the eager engine. Target ≥ 20×.
(c) Basins of attraction: 256 × 256 starts × 4 optimizers × 500 steps on Himmelblau, end to end
    (engine.sweeps.basins: roll-out, labels), fused versus eager. Target < 3 s on the 2-core CPU.
(d) Scaling of the fused engine with B (1 … 1,048,576) and with the number of steps.
(e) Build cost of one graph: cold (empty stores), and in a new process with its package on disk.

Every timed row is warmed up (so compiles are excluded from (a)–(d)), then timed with interleaved
repeats; the tables show medians and are printed as Markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from engine import sweeps  # noqa: E402
from engine.rollout import simulate  # noqa: E402
from surfaces import get_surface  # noqa: E402

from engine import fused  # noqa: E402  (importing it sets the inductor cache directory)


def _engine_benchmark():
    """benchmarks/engine.py's baselines and helpers (a script named like the engine package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("engine_benchmark", ROOT / "benchmarks" / "engine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_eb = _engine_benchmark()
fmt_rate, torch_adam_runs = _eb.fmt_rate, _eb.torch_adam_runs
machine_line, make_timer, notebook_loop, random_starts, table = (
    _eb.machine_line,
    _eb.make_timer,
    _eb.notebook_loop,
    _eb.random_starts,
    _eb.table,
)

FLOPS_PER_RUN_STEP = 30  # Adam on Rosenbrock, both coordinates: gradient ~10, Adam ~10 per coordinate
PLAYGROUND_KEYS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam", "radam")
BASIN_KEYS = ("sgd", "momentum", "rmsprop", "adam")


def sgemm_rate(device: str) -> float:
    a = torch.randn(2048, 2048, device=device)
    b = torch.randn(2048, 2048, device=device)
    bench = make_timer(device)
    t = bench({"mm": lambda: a @ b}, 7)["mm"]
    return 2 * 2048**3 / t


def part_floor(device):
    peak = sgemm_rate(device)
    print(
        f"## (0) Compute floor\n\nsgemm (torch.mm, 2048², float32): **{peak / 1e9:.0f} GFLOP/s** on {device}. "
        f"Adam at {FLOPS_PER_RUN_STEP} flops a run-step: floor {peak / FLOPS_PER_RUN_STEP:.3g} run-steps/s.\n"
    )
    return peak


def part_a(device, bench, repeats, peak, batch=65_536, steps=500):
    surface = get_surface("rosenbrock")
    starts = random_starts(surface, batch)
    lr = 1e-3
    dtype = torch.float32
    p0 = starts.to(device=device, dtype=dtype)
    run = dict(start=starts, steps=steps, hparams={"lr": lr}, device=device, dtype=dtype, record_every=steps)

    def run_fused():
        traj = simulate(surface, "adam", engine="fused", **run)
        assert traj.meta["engine"] == "fused"
        return traj

    def run_eager():
        return simulate(surface, "adam", **run)

    t0 = time.perf_counter()
    traj = run_fused()
    first = time.perf_counter() - t0
    eager = run_eager()
    diff = float(((traj.xy - eager.xy).abs() / (1e-2 + eager.xy.abs())).max())
    label, run_analytic, run_autograd = torch_adam_runs(surface, p0, lr, steps)

    t = bench({"fused": run_fused, "analytic": run_analytic, "autograd": run_autograd, "eager": run_eager}, repeats)
    work = batch * steps
    rate = work / t["fused"]
    floor_s = work * FLOPS_PER_RUN_STEP / peak
    print(f"## (a) Adam, B = {batch:,} × {steps} steps, float32, {device}\n")
    print(
        f"First fused call (compile or disk-cache load included): {first:.1f} s. Fused vs eager engine, "
        f"largest difference relative to |x| + 0.01: {diff:.1e}.\n"
    )
    rows = [("gradscape fused engine (start and end recorded)", f"{t['fused'] * 1e3:.1f}", fmt_rate(rate), "1.00")]
    for name, key in (
        (f"torch.optim.Adam({label}), analytic gradient", "analytic"),
        (f"torch.optim.Adam({label}), autograd", "autograd"),
        ("gradscape eager engine (start and end recorded)", "eager"),
    ):
        r = work / t[key]
        rows.append((name, f"{t[key] * 1e3:.1f}", fmt_rate(r), f"**{rate / r:.2f}×**"))
    table(("what", "ms", "run-steps/s", "fused speed-up over row"), rows)
    print(
        f"Compute floor for this work: {floor_s * 1e3:.2f} ms; the fused engine reaches "
        f"**{100 * floor_s / t['fused']:.0f}% of the floor** (target 25%).\n"
    )


def part_b(device, bench, repeats, steps=1_000):
    surface = get_surface("rosenbrock")
    start = torch.tensor([surface.start], dtype=torch.float64)
    from optimizers import get_optimizer

    rows = []
    totals = {"loop": 0.0, "eager": 0.0, "fused": 0.0}
    for key in PLAYGROUND_KEYS:
        hp = get_optimizer(key).resolve({"lr": 1e-3})
        kw = dict(start=start, steps=steps, hparams={"lr": 1e-3}, device=device)
        simulate(surface, key, engine="fused", **kw)  # compile (or load) first
        t = bench(
            {
                "loop": lambda: notebook_loop(surface, key, hp, start.to(device), steps),
                "eager": lambda: simulate(surface, key, **kw),
                "fused": lambda: simulate(surface, key, engine="fused", **kw),
            },
            repeats,
        )
        for k in totals:
            totals[k] += t[k]
        rows.append(
            (
                key,
                f"{t['loop'] * 1e3:.1f}",
                f"{t['eager'] * 1e3:.1f}",
                f"{t['fused'] * 1e3:.2f}",
                f"{t['loop'] / t['fused']:.1f}×",
                f"{t['eager'] / t['fused']:.1f}×",
            )
        )
    rows.append(
        (
            "**all 8** (sum of the rows)",
            f"{totals['loop'] * 1e3:.0f}",
            f"{totals['eager'] * 1e3:.0f}",
            f"{totals['fused'] * 1e3:.1f}",
            f"**{totals['loop'] / totals['fused']:.1f}×**",
            f"{totals['eager'] / totals['fused']:.1f}×",
        )
    )
    # The rows above interleave each fused run with a 100 ms autograd loop, which leaves the caches
    # cold for it. The page runs its 8 optimizers one after another: time that too, each side as
    # one block of 8 runs (the blocks interleaved).
    runs = {key: dict(start=start, steps=steps, hparams={"lr": 1e-3}, device=device) for key in PLAYGROUND_KEYS}
    hps = {key: get_optimizer(key).resolve({"lr": 1e-3}) for key in PLAYGROUND_KEYS}
    block = bench(
        {
            "loop": lambda: [notebook_loop(surface, k, hps[k], start.to(device), steps) for k in runs],
            "eager": lambda: [simulate(surface, k, **kw) for k, kw in runs.items()],
            "fused": lambda: [simulate(surface, k, engine="fused", **kw) for k, kw in runs.items()],
        },
        repeats,
    )
    rows.append(
        (
            "**all 8, one after another** (as the page runs them)",
            f"{block['loop'] * 1e3:.0f}",
            f"{block['eager'] * 1e3:.0f}",
            f"{block['fused'] * 1e3:.1f}",
            f"**{block['loop'] / block['fused']:.1f}×**",
            f"{block['eager'] / block['fused']:.1f}×",
        )
    )
    print(f"## (b) The Playground: 8 optimizers × {steps:,} steps, one start, every step recorded, float64\n")
    table(
        (
            "optimizer",
            "torch.optim + autograd loop ms",
            "eager engine ms",
            "fused engine ms",
            "loop / fused",
            "eager / fused",
        ),
        rows,
    )


def part_c(device, bench, repeats, n=256, steps=500):
    surface = get_surface("himmelblau")

    def run(engine):
        def go():
            before = sweeps.ENGINE
            sweeps.ENGINE = engine
            try:
                return [sweeps.basins(surface, key, n=n, steps=steps, device=device) for key in BASIN_KEYS]
            finally:
                sweeps.ENGINE = before

        return go

    maps = run("fused")()  # compile first
    labels = [m.label for m in maps]
    t = bench({"fused": run("fused"), "eager": run("eager")}, repeats)
    same = all((a == b).mean() > 0.99 for a, b in zip(labels, [m.label for m in run("eager")()]))
    print(
        f"## (c) Basins of attraction: {n} × {n} starts × {len(BASIN_KEYS)} optimizers × {steps} steps, "
        f"Himmelblau, end to end\n"
    )
    table(
        ("engine", "seconds (4 maps)", "target"),
        [("fused", f"**{t['fused']:.2f}**", "< 3 s"), ("eager", f"{t['eager']:.2f}", "")],
    )
    print(f"Labels agree between the two engines on more than 99% of the starts of every map: {same}.\n")


def part_d(device, bench, repeats, quick):
    surface = get_surface("rosenbrock")
    rows = []
    batches = (1, 16, 256, 4_096, 65_536) + (() if quick else (1_048_576,))
    for batch in batches:
        starts = random_starts(surface, batch)
        kw = dict(
            start=starts,
            steps=500,
            hparams={"lr": 1e-3},
            device=device,
            dtype=torch.float32,
            record_every=500,
            engine="fused",
        )
        simulate(surface, "adam", **kw)
        t = bench({"f": lambda: simulate(surface, "adam", **kw)}, repeats)["f"]
        rows.append((f"{batch:,}", 500, f"{t * 1e3:.2f}", f"{t / 500 * 1e6:.1f}", fmt_rate(batch * 500 / t)))
    for steps in (100, 1_000, 5_000):
        starts = random_starts(surface, 4_096)
        kw = dict(
            start=starts,
            steps=steps,
            hparams={"lr": 1e-3},
            device=device,
            dtype=torch.float32,
            record_every=steps,
            engine="fused",
        )
        simulate(surface, "adam", **kw)
        t = bench({"f": lambda: simulate(surface, "adam", **kw)}, repeats)["f"]
        rows.append(("4,096", f"{steps:,}", f"{t * 1e3:.2f}", f"{t / steps * 1e6:.1f}", fmt_rate(4_096 * steps / t)))
    print("## (d) Scaling of the fused engine: Adam, float32, start and end recorded\n")
    table(("B", "steps", "ms per call", "µs per step", "run-steps/s"), rows)


_COMPILE_PROBE = """
import sys, time
sys.path.insert(0, {root!r})
import torch
from engine.rollout import simulate
t0 = time.perf_counter()
traj = simulate("beale", "adamw", start=[[1.0, 1.0], [2.0, 0.5]], steps=60, hparams={{"lr": 0.01}},
                record_every={every}, engine="fused", device={device!r})
assert traj.meta["engine"] == "fused"
print(f"{{time.perf_counter() - t0:.2f}}")
"""


def part_e(device):
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache, GRADSCAPE_GRAPH_DIR=cache)
        for every, what in ((60, "start and end recorded (sweeps)"), (1, "every step recorded (Playground)")):
            code = _COMPILE_PROBE.format(root=str(ROOT), every=every, device=device)
            times = [
                float(
                    subprocess.run(
                        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
                    ).stdout.split()[-1]
                )
                for _ in range(2)
            ]
            rows.append((what, f"{times[0]:.1f}", f"{times[1]:.1f}"))
    print(f"## (e) Build cost of one graph (AdamW on Beale, chunks of {fused.CHUNK} steps), in a fresh process each\n")
    table(("graph", "cold: export + AOTInductor, s", "package on disk: load, s"), rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats, no B = 1,048,576 row")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--parts", default="0abcde")
    args = ap.parse_args(argv)
    repeats = 3 if args.quick else 7
    bench = make_timer(args.device)
    print(f"**Machine:** {machine_line(args.device)}. Load average at start: {os.getloadavg()[0]:.2f}.\n")
    peak = part_floor(args.device)
    if "a" in args.parts:
        part_a(args.device, bench, repeats, peak)
    if "b" in args.parts:
        part_b(args.device, bench, repeats)
    if "c" in args.parts:
        part_c(args.device, bench, max(3, repeats // 2))
    if "d" in args.parts:
        part_d(args.device, bench, repeats, args.quick)
    if "e" in args.parts:
        part_e(args.device)
    print(f"Load average at end: {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
