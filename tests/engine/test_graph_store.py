"""Faults of the graph store: the server loads native code from a cache folder, so no damaged,
partial or shared store may crash it. Each fault runs in a process of its own (a crash there would
take the test process with it); each must give the eager result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The same small run in every process: momentum on the ravine, chunks of 5 steps, 3 runs.
RUN = textwrap.dedent("""
    import json, os, sys
    import torch
    from engine import fused, graph_store
    fused.CHUNK = 5
    from engine import simulate
    kw = dict(steps=20, start=[[-1.0, 1.5], [0.5, -0.3], [1.2, 1.1]], record_every=10,
              hparams={"lr": 0.02, "momentum": 0.8})
    mode = sys.argv[1]
    traj = simulate("ravine", "momentum", engine=mode, **kw)
    eager = simulate("ravine", "momentum", **kw)
    close = bool(((traj.xy - eager.xy).abs() <= 1e-9 * (1e-6 + eager.xy.abs())).all())
    failed = list(graph_store.status()["failed"].values())
    print(json.dumps({"engine": traj.meta["engine"], "close": close, "failed": failed}))
""")


def _run(store: str, mode: str, timeout: int = 600) -> dict:
    env = dict(
        os.environ,
        GRADSCAPE_GRAPH_DIR=store,
        GRADSCAPE_BACKGROUND_COMPILE="0",
        PYTHONPATH=PROJECT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN, mode], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _packages(store: str) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(store) for f in files if f.endswith(".pt2")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A store holding one real package, built by a process of its own."""
    store = str(tmp_path_factory.mktemp("store"))
    out = _run(store, "fused")
    assert out["engine"] == "fused" and out["close"]
    (package,) = _packages(store)
    with open(package, "rb") as f:
        good = f.read()
    return store, package, good


def _fresh_copy(built, tmp_path):
    store, package, good = built
    copy = tmp_path / "store"
    subprocess.run(["cp", "-r", store, str(copy)], check=True)
    return str(copy), package.replace(store, str(copy)), good


def test_an_intact_package_is_loaded_and_agrees(built, tmp_path):
    store, _, _ = _fresh_copy(built, tmp_path)
    out = _run(store, "auto")
    assert out == {**out, "engine": "fused", "close": True, "failed": []}


@pytest.mark.parametrize(
    "damage", ["truncated", "random bytes", "one byte flipped", "side file missing", "side file garbage", "no checksum"]
)
def test_a_damaged_package_gives_the_eager_result(built, tmp_path, damage):
    store, package, good = _fresh_copy(built, tmp_path)
    if damage == "truncated":
        open(package, "wb").write(good[: len(good) // 2])
    elif damage == "random bytes":
        open(package, "wb").write(os.urandom(len(good)))
    elif damage == "one byte flipped":
        middle = len(good) // 2
        open(package, "wb").write(good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :])
    elif damage == "side file missing":
        os.unlink(package + ".json")
    elif damage == "side file garbage":
        open(package + ".json", "w").write("{not json")
    elif damage == "no checksum":
        side = json.load(open(package + ".json"))
        side.pop("sha256")
        json.dump(side, open(package + ".json", "w"))
    out = _run(store, "auto")
    assert out["engine"].startswith("eager (the fused graph could not be used") and out["close"]
    assert len(out["failed"]) == 1  # reported once


def test_a_build_killed_half_way_leaves_nothing_that_loads(built, tmp_path):
    store, package, good = _fresh_copy(built, tmp_path)
    os.unlink(package)
    os.unlink(package + ".json")
    stem = package[: -len(".pt2")]
    open(f"{stem}.4242.partial.pt2", "wb").write(good[:1000])  # what a killed build leaves behind
    out = _run(store, "auto")
    assert out["engine"].startswith("eager") and out["close"] and out["failed"] == []


def test_a_store_path_that_is_a_file_gives_the_eager_result(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    out = _run(str(blocker), "auto")
    assert out["engine"].startswith("eager") and out["close"]


def test_two_servers_building_into_one_store_leave_one_good_package(tmp_path):
    store = str(tmp_path / "shared")
    env = dict(
        os.environ,
        GRADSCAPE_GRAPH_DIR=store,
        GRADSCAPE_BACKGROUND_COMPILE="0",
        PYTHONPATH=PROJECT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    both = [
        subprocess.Popen(
            [sys.executable, "-c", RUN, "fused"],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in both:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        assert json.loads(out.strip().splitlines()[-1])["close"]
    assert len(_packages(store)) == 1
    assert not [f for d, _, files in os.walk(store) for f in files if ".partial" in f]
    out = _run(store, "auto")
    assert out["engine"] == "fused" and out["close"] and out["failed"] == []
