"""Live scrubbing: server time and bytes for 8 optimizers × 25 values × 1,000 steps (issue 16).

    python benchmarks/scrub.py [--repeats 3] [--fused]

Budget on the 2-core CPU: ≤ 300 ms of server time, ≤ 600 KB sent. Server time is what the page
spends: one engine.sweeps.scrub call per optimizer (25 values batched), the figure, and its JSON with
typed arrays (ui/plotly_figure.py). The baseline, measured side by side: the same 200 paths as 200
single runs (one simulate call per optimizer and value), which is what a page without batching does.
--fused also times the compiled path once its graphs are built (building takes minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine import simulate  # noqa: E402
from engine.sweeps import axis_values, find_param, scrub  # noqa: E402
from figures.playground import surface_layers  # noqa: E402
from figures.scrub import scrub_figure  # noqa: E402
from surfaces import get_surface  # noqa: E402
from ui.plotly_figure import with_typed_arrays  # noqa: E402

KEYS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam")
STEPS = 1000


def best(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fused", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    surface = get_surface("rosenbrock")
    values = axis_values(find_param("adam", "lr"), 25)
    layers = surface_layers(surface, surface.grid(160))

    def page(engine: str):
        scrubs = [scrub(surface, k, "lr", values, STEPS, engine=engine) for k in KEYS]
        fig = scrub_figure(surface, scrubs, list(KEYS), layers, 0.01)
        return json.dumps(with_typed_arrays(fig))

    def singles():
        for k in KEYS:
            for v in values:
                simulate(surface, k, steps=STEPS, hparams={"lr": float(v)}, device="cpu", record_every=7)

    engines = ["eager"] + (["fused"] if args.fused else [])
    if args.fused:
        page("fused")  # build the graphs first (minutes, once)
    rows = []
    for engine in engines:
        seconds, payload = best(lambda: page(engine), args.repeats)
        rows.append((f"scrub, engine={engine}", seconds, len(payload)))
    base, _ = best(singles, 1)
    print(f"{'work':34} {'server time':>12} {'bytes':>10} {'vs 200 single runs':>20}")
    for name, seconds, size in rows:
        print(f"{name:34} {seconds * 1000:10.0f} ms {size / 1000:8.0f} KB {base / seconds:18.1f}×")
    print(f"{'200 single runs (baseline)':34} {base * 1000:10.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
