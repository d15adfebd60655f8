"""Engine speed against named baselines: torch.optim loops, side by side in one run.

    python benchmarks/engine.py [--quick] [--device cpu|cuda]

(a) 8 optimizers x 1,000 steps, one start on "rosenbrock": gradscape's simulate() versus the
    loop a notebook would write (torch.optim + autograd, recording p.detach().clone() each step).
(b) Adam, B = 65,536 runs x 500 steps: the engine recording start and end only, versus
    torch.optim.Adam(fused=True) over one (B, 2) parameter with the analytic gradient and with
    autograd; plus the cost of full recording at B = 4,096.
(c) Scaling of the engine with the batch size B (200 steps) and with the number of steps (B = 1).

Every row is warmed up once, then timed `repeats` times with time.perf_counter (after
torch.cuda.synchronize() on CUDA), the repeats of the rows being compared interleaved so that
load from other processes falls on both sides alike; the tables show medians. The tables are printed as Markdown so
they can go straight into benchmarks/RESULTS.md. "page faults/step" counts the minor page faults
of the process (getrusage) per step: fresh memory touched for the first time, which is what
allocating a new B-sized tensor per operation costs when the allocator hands memory back to the
OS between operations. Before timing, the engine's Adam trajectory is
checked bit for bit against torch.optim.Adam's, so both sides do the same work.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from engine import simulate  # noqa: E402
from optimizers import get_optimizer  # noqa: E402
from surfaces import get_surface  # noqa: E402

SURFACE = "rosenbrock"
PART_A_KEYS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam", "radam")
PART_A_STEPS = 1_000
LR = 1e-3  # small enough that no optimizer leaves the Rosenbrock view from its lesson start
PART_B_BATCH, PART_B_STEPS = 65_536, 500
PART_B_FULL_RECORD_BATCH = 4_096
SCALE_STEPS = 200
SCALE_BATCHES = (1, 16, 256, 4_096, 65_536, 1_048_576)
SCALE_STEP_COUNTS = (100, 1_000, 5_000)


# --- timing ---------------------------------------------------------------------------------


def make_timer(device: str):
    """bench({name: fn}, repeats) -> {name: median seconds}.

    Each fn is warmed up once; then the repeats are interleaved (fn1, fn2, ..., fn1, fn2, ...), so
    load from other processes on a shared machine falls on every side of a comparison alike.
    """
    cuda = device.startswith("cuda")

    def clock() -> float:
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def bench(fns: dict, repeats: int) -> dict:
        for fn in fns.values():
            fn()
        times = {name: [] for name in fns}
        faults = {name: [] for name in fns}
        for _ in range(repeats):
            for name, fn in fns.items():
                f0 = _minor_faults()
                t0 = clock()
                fn()
                times[name].append(clock() - t0)
                faults[name].append(_minor_faults() - f0)
        last_faults.clear()
        last_faults.update({name: statistics.median(fs) for name, fs in faults.items()})
        return {name: statistics.median(ts) for name, ts in times.items()}

    last_faults: dict = {}
    bench.faults = last_faults  # median minor page faults per call of the last bench(), by name
    return bench


# --- baselines ------------------------------------------------------------------------------


def torch_optimizer(key: str, hp: dict, params: list, **impl):
    """The torch.optim optimizer equal to gradscape's resolved hyperparameters `hp`."""
    o = torch.optim
    betas = (hp.get("beta1"), hp.get("beta2"))
    lr = hp["lr"]
    if key == "sgd":
        return o.SGD(params, lr=lr, weight_decay=hp["weight_decay"], **impl)
    if key == "momentum":
        return o.SGD(
            params, lr=lr, momentum=hp["momentum"], dampening=hp["dampening"], weight_decay=hp["weight_decay"], **impl
        )
    if key == "nesterov":  # torch tracks the look-ahead point w + γu; same work per step
        return o.SGD(params, lr=lr, momentum=hp["momentum"], nesterov=True, **impl)
    if key == "adagrad":
        return o.Adagrad(
            params,
            lr=lr,
            lr_decay=hp["lr_decay"],
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            initial_accumulator_value=hp["initial_accumulator_value"],
            **impl,
        )
    if key == "rmsprop":
        return o.RMSprop(
            params,
            lr=lr,
            alpha=hp["alpha"],
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            momentum=hp["momentum"],
            centered=hp["centered"],
            **impl,
        )
    if key == "adam":
        return o.Adam(params, lr=lr, betas=betas, eps=hp["eps"], weight_decay=hp["weight_decay"], **impl)
    if key == "nadam":
        return o.NAdam(
            params,
            lr=lr,
            betas=betas,
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            momentum_decay=hp["momentum_decay"],
            **impl,
        )
    if key == "radam":
        return o.RAdam(params, lr=lr, betas=betas, eps=hp["eps"], weight_decay=hp["weight_decay"], **impl)
    raise ValueError(f"no torch.optim baseline for {key!r}")


def notebook_loop(surface, key: str, hp: dict, start: torch.Tensor, steps: int):
    """The naive loop: autograd loss, zero_grad/backward/step, a clone of p kept every step."""
    p = start.clone().requires_grad_(True)
    opt = torch_optimizer(key, hp, [p])
    path = [p.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        loss = surface.f(p).sum()
        loss.backward()
        opt.step()
        path.append(p.detach().clone())
    return path


def adam_loop_analytic(surface, opt, p, steps):
    for _ in range(steps):
        with torch.no_grad():
            p.grad = surface.grad(p.detach())
        opt.step()


def adam_loop_autograd(surface, opt, p, steps):
    for _ in range(steps):
        opt.zero_grad()
        surface.f(p).sum().backward()
        opt.step()


def fused_adam(p, lr):
    """torch.optim.Adam(fused=True), or foreach=True where fused is refused; returns (opt, label)."""
    try:
        opt = torch.optim.Adam([p], lr=lr, fused=True)
        p.grad = torch.zeros_like(p)
        opt.step()  # fused kernels may only refuse at the first step
        label = "fused=True"
    except (RuntimeError, ValueError) as err:
        print(f"note: fused Adam refused ({str(err).splitlines()[0]}); falling back to foreach=True")
        opt = torch.optim.Adam([p], lr=lr, foreach=True)
        label = "foreach=True (fused refused)"
    with torch.no_grad():
        p.grad = None
    opt.state.clear()
    return opt, label


def torch_adam_runs(surface, p0: torch.Tensor, lr: float, steps: int):
    """torch's fused Adam over one (B, 2) parameter starting at p0: (label, run with the analytic
    gradient, run with autograd), each restarting from p0 with a fresh optimizer state."""
    p = p0.clone().requires_grad_(True)
    opt, label = fused_adam(p, lr)

    def restart():
        with torch.no_grad():
            p.copy_(p0)
        opt.state.clear()

    def run_analytic():
        restart()
        adam_loop_analytic(surface, opt, p, steps)

    def run_autograd():
        restart()
        adam_loop_autograd(surface, opt, p, steps)

    return label, run_analytic, run_autograd


# --- helpers --------------------------------------------------------------------------------


def machine_line(device: str) -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or cpu
    parts = [
        f"CPU {cpu}",
        f"{os.cpu_count()} cores",
        f"torch {torch.__version__}",
        f"{torch.get_num_threads()} torch threads",
        f"Python {platform.python_version()}",
        f"device {device}",
    ]
    if device.startswith("cuda"):
        parts.append(f"GPU {torch.cuda.get_device_name(torch.device(device))}")
    return ", ".join(parts)


def _minor_faults() -> int:
    """Minor page faults of this process so far (fresh memory touched for the first time)."""
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except (ImportError, OSError):
        return 0


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def random_starts(surface, batch: int, seed: int = 0) -> torch.Tensor:
    """B starts spread uniformly over the surface's view window (float64, on the CPU)."""
    (x0, x1), (y0, y1) = surface.bounds
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(batch, 2, generator=g, dtype=torch.float64)
    return u * torch.tensor([x1 - x0, y1 - y0], dtype=torch.float64) + torch.tensor([x0, y0], dtype=torch.float64)


def fmt_rate(x: float) -> str:
    return f"{x:.3g}" if x < 1e3 else f"{x:.3e}".replace("e+0", "e").replace("e+", "e")


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


# --- the check ------------------------------------------------------------------------------


def check_equal_work(surface, device: str) -> None:
    """Engine Adam == torch.optim.Adam (single-tensor implementation), float64, analytic gradient."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch.optim keeps its scalar state in the default dtype
    try:
        start = torch.tensor([surface.start], dtype=torch.float64)
        traj = simulate(
            surface, "adam", start=start, steps=PART_A_STEPS, hparams={"lr": LR}, device=device, dtype=torch.float64
        )
        p = start.to(device).clone().requires_grad_(True)
        opt = torch_optimizer("adam", traj.hparams, [p], foreach=False)
        path = [p.detach().clone()]
        adam_loop = range(PART_A_STEPS)
        for _ in adam_loop:
            with torch.no_grad():
                p.grad = surface.grad(p.detach())
            opt.step()
            path.append(p.detach().clone())
        theirs = torch.stack(path, dim=1).cpu()
    finally:
        torch.set_default_dtype(old)
    if torch.equal(traj.xy, theirs):
        print(f"check: engine == torch.optim (bitwise) — Adam, float64, {PART_A_STEPS} steps, one start, {device}")
        return
    diff = float((traj.xy - theirs).abs().max())
    if device.startswith("cuda"):
        print(f"check: engine != torch.optim bitwise on {device} (max |Δ| = {diff:.3g}); timings still of equal work")
        return
    sys.exit(f"check FAILED: engine and torch.optim Adam trajectories differ (max |Δ| = {diff:.3g})")


# --- the three parts ------------------------------------------------------------------------


def part_a(surface, device, bench, repeats):
    print(f"## (a) One run, {PART_A_STEPS:,} steps, float64, lr = {LR:g}: engine vs torch.optim + autograd loop\n")
    print(
        "Baseline: `p` (1, 2) with requires_grad, `loss = surface.f(p).sum()`, zero_grad/backward/step, "
        "`path.append(p.detach().clone())` every step (torch.optim defaults otherwise). "
        "Engine: `simulate(surface, key, start, steps=1000, hparams, device)`, every step recorded, "
        "analytic gradient. Nesterov's baseline is `SGD(nesterov=True)`.\n"
    )
    start = torch.tensor([surface.start], dtype=torch.float64, device=device)
    rows, tot_e, tot_b = [], 0.0, 0.0
    for key in PART_A_KEYS:
        hp = get_optimizer(key).resolve({"lr": LR})

        def run_engine():
            return simulate(
                surface, key, start=start, steps=PART_A_STEPS, hparams=hp, device=device, dtype=torch.float64
            )

        def run_loop():
            return notebook_loop(surface, key, hp, start, PART_A_STEPS)

        traj = run_engine()
        path = run_loop()
        if int(traj.diverged_at.max()) >= 0 or not bool(torch.isfinite(path[-1]).all()):
            sys.exit(f"{key} diverged at lr={LR}: pick a smaller lr so both sides do the full work")
        t = bench({"engine": run_engine, "loop": run_loop}, repeats)
        t_e, t_b = t["engine"], t["loop"]
        tot_e += t_e
        tot_b += t_b
        rows.append((key, f"{t_b / PART_A_STEPS * 1e6:.1f}", f"{t_e / PART_A_STEPS * 1e6:.1f}", f"{t_b / t_e:.2f}×"))
    n = len(PART_A_KEYS) * PART_A_STEPS
    rows.append(
        (
            f"**all {len(PART_A_KEYS)}** ({n:,} steps)",
            f"{tot_b * 1e3:.0f} ms ({tot_b / n * 1e6:.1f} µs/step)",
            f"{tot_e * 1e3:.0f} ms ({tot_e / n * 1e6:.1f} µs/step)",
            f"**{tot_b / tot_e:.2f}×**",
        )
    )
    table(("optimizer", "torch.optim loop µs/step", "engine µs/step", "baseline / engine"), rows)
    return tot_b / tot_e


def part_b(surface, device, bench, repeats):
    B, S = PART_B_BATCH, PART_B_STEPS
    print(f"## (b) Adam, B = {B:,} runs × {S} steps, lr = {LR:g}: run-steps per second (higher is better)\n")
    starts = random_starts(surface, B)
    rows = []
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        p0 = starts.to(device=device, dtype=dtype)

        def run_engine():
            return simulate(
                surface, "adam", start=starts, steps=S, hparams={"lr": LR}, device=device, dtype=dtype, record_every=S
            )

        traj = run_engine()
        assert int(traj.diverged_at.max()) < 0, "engine runs diverged"

        label, run_analytic, run_autograd = torch_adam_runs(surface, p0, LR, S)

        t = bench({"engine": run_engine, "analytic": run_analytic, "autograd": run_autograd}, repeats)
        pf = {k: f"{v / S:.0f}" for k, v in bench.faults.items()}
        r_e = B * S / t["engine"]
        rows.append((name, f"engine, record_every={S} (start and end)", fmt_rate(r_e), "1.00", pf["engine"]))
        for what, k in (("analytic `surface.grad`", "analytic"), ("autograd", "autograd")):
            r = B * S / t[k]
            rows.append(
                (name, f"torch.optim.Adam({label}) on one ({B}, 2) param, {what}", fmt_rate(r), f"{r_e / r:.2f}", pf[k])
            )

    Bf = PART_B_FULL_RECORD_BATCH
    starts_f = random_starts(surface, Bf, seed=1)
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")

        def run(every):
            return lambda: simulate(
                surface,
                "adam",
                start=starts_f,
                steps=S,
                hparams={"lr": LR},
                device=device,
                dtype=dtype,
                record_every=every,
            )

        t = bench({S: run(S), 1: run(1)}, repeats)
        pf = {k: f"{v / S:.0f}" for k, v in bench.faults.items()}
        rates = {every: Bf * S / secs for every, secs in t.items()}
        rows.append((name, f"engine, B = {Bf:,}, record_every={S}", fmt_rate(rates[S]), "1.00", pf[S]))
        rows.append(
            (
                name,
                f"engine, B = {Bf:,}, record_every=1 (every frame)",
                fmt_rate(rates[1]),
                f"{rates[S] / rates[1]:.2f}",
                pf[1],
            )
        )
    table(
        ("dtype", "what", "run-steps/s", "engine speed-up over row (engine rate / row rate)", "page faults/step"), rows
    )


def part_c(surface, device, bench, repeats, quick):
    print("## (c) Engine scaling, Adam, float32, record_every = steps\n")
    batches = SCALE_BATCHES[:-1] if quick else SCALE_BATCHES
    rows = []
    for B in batches:
        starts = random_starts(surface, B, seed=2)

        def run():
            return simulate(
                surface,
                "adam",
                start=starts,
                steps=SCALE_STEPS,
                hparams={"lr": LR},
                device=device,
                dtype=torch.float32,
                record_every=SCALE_STEPS,
            )

        t = bench({B: run}, repeats if B < 1_000_000 else max(1, repeats - 2))[B]
        rows.append(
            (
                f"{B:,}",
                SCALE_STEPS,
                f"{t * 1e3:.1f}",
                f"{t / SCALE_STEPS * 1e6:.1f}",
                fmt_rate(B * SCALE_STEPS / t),
                f"{bench.faults[B] / SCALE_STEPS:.0f}",
            )
        )
    table(("B", "steps", "ms per call", "µs per step", "run-steps/s", "page faults/step"), rows)

    rows = []
    start = torch.tensor([surface.start], dtype=torch.float64)
    for steps in SCALE_STEP_COUNTS:

        def run(steps=steps):
            return simulate(
                surface,
                "adam",
                start=start,
                steps=steps,
                hparams={"lr": LR},
                device=device,
                dtype=torch.float32,
                record_every=steps,
            )

        t = bench({steps: run}, repeats)[steps]
        rows.append((1, f"{steps:,}", f"{t * 1e3:.1f}", f"{t / steps * 1e6:.1f}", fmt_rate(steps / t)))
    table(("B", "steps", "ms per call", "µs per step", "run-steps/s"), rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no B = 1,048,576 (under a minute)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = ap.parse_args(argv)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device available")
    repeats = 3 if args.quick else 7

    t_all = time.perf_counter()
    load0 = _load()
    surface = get_surface(SURFACE)
    print(f"# gradscape engine benchmark{' (--quick)' if args.quick else ''}\n")
    print(f"machine: {machine_line(device)}")
    print(
        f"timing: medians of {repeats} repeats ((b): {max(3, repeats - 2)}) after one warm-up per row, "
        f"compared rows interleaved; time.perf_counter"
        f"{' with torch.cuda.synchronize()' if device.startswith('cuda') else ''}\n"
    )
    check_equal_work(surface, device)
    print()
    bench = make_timer(device)
    part_a(surface, device, bench, repeats)
    part_b(surface, device, bench, max(3, repeats - 2))
    part_c(surface, device, bench, repeats, args.quick)
    print(
        f"load average (1 min) at start {load0:.2f}, at end {_load():.2f}; "
        f"total wall time: {time.perf_counter() - t_all:.0f} s"
    )


if __name__ == "__main__":
    main()
