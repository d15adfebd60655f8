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
    print(f"| surface | optimizer | steps | engine | max rel. difference | within {bound:g} |")
    print("| --- | --- | --- | --- | --- | --- |")
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
                print(f"| {key} | {opt} | {cfg.steps} | build failed: {reason} | – | – |", flush=True)
                continue
            eager = simulate(surface, opt, **kw)
            used = fast.meta["engine"]
            rel = float(((fast.xy - eager.xy).abs() / (1e-6 + eager.xy.abs())).max())
            if used == "fused":
                worst = max(worst, rel)
            ok = "yes" if rel <= bound else "**no**"
            print(
                f"| {key} | {opt} | {cfg.steps} | {used} | {rel:.2e} | {ok} |  ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    print(f"\nLargest difference on the fused path: {worst:.2e} (contract {bound:g}).")
    return 0 if worst <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
