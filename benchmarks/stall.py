"""Does building fused graphs in the background slow the server's page runs?

    python benchmarks/stall.py [--graphs N]

Repeats the Playground's work (8 optimizers × 1,000 steps on the ravine, the eager engine, as the
page runs them until their graphs exist) in this process while the background builder builds N
graphs (default 2) into an empty store, and compares each repetition's time with the same work
on a quiet process, side by side in one run. Then the first "auto" run of each built graph, which
loads its package, and the same run once loaded.

Session 3 measured 16-30 s per repetition (quiet: 0.27 s) while torch.compile ran in a server
thread: the compiler held the GIL. Builds now run in a child process.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["GRADSCAPE_BACKGROUND_COMPILE"] = "1"
os.environ["GRADSCAPE_GRAPH_DIR"] = tempfile.mkdtemp(prefix="gradscape-graphs-")  # empty: every graph is built

import torch  # noqa: E402

from engine import builder, graph_store  # noqa: E402
from engine.rollout import simulate  # noqa: E402

EIGHT = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam", "radam"]
torch.set_num_threads(1)  # as the pages run on a 2-core machine


def page() -> float:
    t = time.perf_counter()
    for key in EIGHT:
        simulate("ravine", key, steps=1000, dtype=torch.float64)
    return time.perf_counter() - t


def main() -> None:
    n = int(sys.argv[sys.argv.index("--graphs") + 1]) if "--graphs" in sys.argv else 2
    builder.prepare_in_background(delay_s=0.0)  # as the app does at start (ui.shell.run_app), at once
    page()  # warm the eager path
    quiet = [page() for _ in range(5)]
    requests = [("himmelblau", key) for key in EIGHT[-n:]]
    t0 = time.perf_counter()
    for surface, key in requests:
        assert simulate(surface, key, steps=30, engine="auto").meta["engine"].startswith("eager")
    during = []
    while graph_store.status()["pending"]:
        during.append(page())
    built = time.perf_counter() - t0
    print(f"{n} graphs built in the background in {built:.0f} s; status {graph_store.status()}")
    print("| page work (8 × 1,000 steps, eager) | median s | max s | repetitions |")
    print("| --- | --- | --- | --- |")
    print(f"| quiet process | {statistics.median(quiet):.3f} | {max(quiet):.3f} | {len(quiet)} |")
    if during:
        print(f"| while the builder runs | {statistics.median(during):.3f} | {max(during):.3f} | {len(during)} |")
        print(
            f"\nslow-down while building: median {statistics.median(during) / statistics.median(quiet):.2f}×, "
            f"worst {max(during) / statistics.median(quiet):.2f}×"
        )
    for surface, key in requests:
        t = time.perf_counter()
        first = simulate(surface, key, steps=30, engine="auto")
        loading = time.perf_counter() - t
        t = time.perf_counter()
        simulate(surface, key, steps=30, engine="auto")
        print(
            f"{key}: first auto run (loads the package) {loading * 1e3:.1f} ms, engine {first.meta['engine']}; "
            f"next {1e3 * (time.perf_counter() - t):.2f} ms"
        )


if __name__ == "__main__":
    main()
