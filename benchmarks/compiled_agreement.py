"""The compiled path against the eager reference on every lesson scene (issue 13's contract).

    python benchmarks/compiled_agreement.py [--surfaces ravine,saddle] [--dtype float64|float32]
                                            [--optimizers adan,ademamix]  (defaults, on each surface's scene)

For each surface's lesson scene (its optimizers, hyperparameters and steps, from its own start, one
run recorded at every step, as the Playground draws it), runs engine="fused" (building each graph in
this process first; ~30-40 s a graph on a 2-core CPU, so a cold store takes a while) and the eager
engine, and prints the largest difference of the points relative to |x| + 1e-6. Contract: 1e-9 in
float64, 1e-5 in float32. Rules that the fused engine runs eagerly (Newton's, coupled ones) are
listed as such. Not a unit test: building every lesson graph takes too long for CI.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine import simulate  # noqa: E402
from scene.config import effective_hparams, lesson_config  # noqa: E402
from surfaces import available_surfaces, get_surface, surface_class  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surfaces", default=",".join(k for k in available_surfaces() if k != "formula"))
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    ap.add_argument("--optimizers", default="", help="these optimizers (defaults) instead of each lesson's own")
    args = ap.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    bound = 1e-9 if dtype == torch.float64 else 1e-5
    # Relative to |x| + floor: near 0, a float32 path's few ulps are not a 1e-5 error (the floor the
    # test suite's float32 checks use, tests/engine/test_fused.py).
    floor = 1e-6 if dtype == torch.float64 else 1e-3

    def difference(a, b) -> float:
        return float(((a.xy - b.xy).abs() / (floor + b.xy.abs())).max())

    head = f"| surface | optimizer | steps | engine | max rel. difference | within {bound:g} |"
    print(head + " eager vs eager, start moved 1 ulp |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for key in args.surfaces.split(","):
        cfg = lesson_config(key)
        surface = get_surface(key)
        chosen = [k for k in args.optimizers.split(",") if k] or surface_class(key).lesson_optimizers
        for opt in chosen:
            hp = effective_hparams(cfg, opt)
            kw = dict(steps=cfg.steps, hparams=hp, dtype=dtype)
            t0 = time.perf_counter()
            try:
                fast = simulate(surface, opt, engine="fused", **kw)
            except Exception as err:  # noqa: BLE001 - a failed build: the page keeps the eager path
                lines = str(err).strip().splitlines() or [type(err).__name__]
                # the compiler's own words ("internal compiler error: ...") rather than its closing advice
                reason = next((ln for ln in lines if "error:" in ln), lines[-1]).split("error:", 1)[-1].strip()[:120]
                print(f"| {key} | {opt} | {cfg.steps} | build failed: {reason} | – | – | – |", flush=True)
                continue
            eager = simulate(surface, opt, **kw)
            used = fast.meta["engine"]
            rel = difference(fast, eager)
            # How much the run itself amplifies rounding: eager against eager from a start one ulp away.
            start = torch.tensor([surface.start], dtype=dtype)
            moved = simulate(surface, opt, start=torch.nextafter(start, start + 1), **kw)
            sensitivity = difference(moved, eager)
            if used == "fused":
                worst = max(worst, rel)
            ok = "yes" if rel <= bound else "**no**"
            print(
                f"| {key} | {opt} | {cfg.steps} | {used} | {rel:.2e} | {ok} | {sensitivity:.1e} |"
                f"  ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    print(f"\nLargest difference on the fused path: {worst:.2e} (contract {bound:g}).")
    return 0 if worst <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
