"""The fused engine (engine/fused.py) against the eager reference.

Two layers: the fused roll-out run *without* compiling (the same traced function, executed
eagerly) must equal the eager engine to rounding for every supported optimizer: that checks the
per-coordinate split, the per-step values, the chunking, padding and records. Then a few
compiled graphs (chunks of 5 steps here, to keep compile time down) must agree with eager:
float64 to 1e-9 relative (every recorded quantity: the compiled kernels round a multiply-add or a
square root differently from ATen's eager kernels, and the rules know nothing of the compiler),
float32 to 1e-5 relative, and hyperparameter changes must not recompile.
"""

from __future__ import annotations

import pytest
import torch

from engine import builder, fused, graph_build, graph_store
from engine.rollout import simulate
from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import make_schedule

STARTS = [[-1.0, 1.5], [0.5, -0.3], [1.2, 1.1]]
NOT_FUSABLE = {
    k for k in available_optimizers() if get_optimizer(k).rule().coupled or get_optimizer(k).rule().needs_hessian
}


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(fused, "CHUNK", 5)


@pytest.fixture
def uncompiled(monkeypatch):
    """Full chunks run through the traced function itself, eagerly (no compile)."""
    monkeypatch.setattr(graph_store, "loaded_graph", lambda key: None)
    monkeypatch.setattr(graph_build, "build_graph", lambda job: job.advance())


def _close(a, b, rtol, floor=1e-3):
    """Relative to |value| + floor: near 0 a float32 path's few ulps are not a 1e-5 error."""
    scale = floor + a.xy.abs()
    assert a.xy.shape == b.xy.shape
    assert torch.equal(a.steps, b.steps)
    assert torch.equal(a.diverged_at, b.diverged_at)
    assert float(((a.xy - b.xy).abs() / scale).max()) <= rtol
    assert float(((a.grad - b.grad).abs() / (1e-3 + a.grad.abs())).max()) <= rtol * 1e3
    assert float(((a.effective_lr - b.effective_lr).abs() / (1e-12 + a.effective_lr.abs())).max()) <= rtol * 1e3
    assert torch.allclose(a.lr, b.lr, rtol=1e-12, atol=0)


def _agree(a, b, rtol=1e-9):
    """The compiled path's contract in float64: every recorded quantity within rtol, relative to
    |value| plus a floor of 1e-6 (an absolute 1e-15 near 0 is rounding, not an error)."""
    for name in ("xy", "grad", "loss", "lr", "effective_lr"):
        want, got = getattr(a, name), getattr(b, name)
        assert want.shape == got.shape, name
        if want.numel():
            assert float(((want - got).abs() / (1e-6 + want.abs())).max()) <= rtol, name
    assert torch.equal(a.steps, b.steps) and torch.equal(a.diverged_at, b.diverged_at)


def _same(a, b):
    """Bit for bit: points, gradients, losses, learning rates, effective rates, divergence."""
    for name in ("xy", "grad", "loss", "lr", "effective_lr", "steps", "diverged_at"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def _swept(key: str, runs: int) -> dict:
    """lr and one more hyperparameter of `key` as per-run tensors (a sweep)."""
    spec = get_optimizer(key)
    hp = {"lr": torch.linspace(0.5, 1.5, runs, dtype=torch.float64) * spec.resolve({})["lr"]}
    other = next((p for p in spec.params if p.name != "lr" and isinstance(p.default, float) and p.default > 0), None)
    if other is not None:
        hp[other.name] = torch.linspace(0.9, 1.0, runs, dtype=torch.float64) * other.default
    return hp


@pytest.mark.parametrize("key", [k for k in available_optimizers() if k not in NOT_FUSABLE])
def test_two_interleaved_halves_compute_the_same_numbers_for_every_optimizer(key, monkeypatch, small_chunks):
    """Sweep graphs step their runs as two halves (fused._interleave): run uncompiled, with swept
    hyperparameters, noise and a schedule, the halves equal the whole bit for bit."""
    never = torch.tensor(False)
    monkeypatch.setattr(graph_store, "loaded_graph", lambda key: None)
    kw = dict(
        steps=20,
        start=STARTS + [[0.3, 0.9]],
        record_every=10,
        noise=0.1,
        seed=[1, 2, 3, 4],
        schedule=make_schedule("cosine", T_max=20),
        hparams=_swept(key, 4),
    )
    monkeypatch.setattr(graph_build, "build_graph", lambda job: job.advance())
    whole = simulate("ravine", key, engine="fused", **kw)
    monkeypatch.setattr(graph_build, "build_graph", lambda job: lambda *a: job.advance()(*a, never=never))
    halves = simulate("ravine", key, engine="fused", **kw)
    assert (whole.diverged_at == -1).all() and not torch.equal(whole.xy[:, -1], whole.xy[:, 0])  # runs that move
    _same(whole, halves)


def test_compiled_halves_pad_an_odd_batch_with_swept_hyperparameters(small_chunks):
    # 5 runs: the graph steps 3 + 3 (the last run copied, computed and dropped), lr and momentum swept.
    starts = [[-1.0, 1.5], [0.5, -0.3], [1.2, 1.1], [0.1, 0.2], [-0.4, 0.8]]
    kw = dict(
        steps=20,
        start=starts,
        record_every=10,
        noise=0.2,
        seed=[1, 2, 3, 4, 5],
        hparams={
            "lr": torch.linspace(0.01, 0.05, 5, dtype=torch.float64),
            "momentum": torch.linspace(0.5, 0.9, 5, dtype=torch.float64),
        },
    )
    fast = simulate("rosenbrock", "momentum", engine="fused", **kw)
    assert fast.meta["engine"] == "fused"
    _agree(simulate("rosenbrock", "momentum", **kw), fast)
    even = dict(kw, start=starts[:4], seed=[1, 2, 3, 4], hparams={n: v[:4] for n, v in kw["hparams"].items()})
    _agree(simulate("rosenbrock", "momentum", **even), simulate("rosenbrock", "momentum", engine="fused", **even))


@pytest.mark.parametrize("key", [k for k in available_optimizers() if k not in NOT_FUSABLE])
@pytest.mark.parametrize("every", [1, 7])
def test_traced_function_equals_eager_for_every_optimizer(key, every, uncompiled, small_chunks):
    kw = dict(
        steps=23,
        start=STARTS,
        record_every=every,
        noise=0.1,
        seed=[1, 2, 3],
        schedule=make_schedule("cosine", T_max=20),
    )
    eager = simulate("rosenbrock", key, **kw)
    fast = simulate("rosenbrock", key, engine="fused", **kw)
    assert fast.meta["engine"] == "fused"
    _close(eager, fast, 1e-13)


@pytest.mark.parametrize("key", ["newton", "diag_newton"])
def test_newton_type_rules_run_eagerly(key):
    traj = simulate("ravine", key, steps=5, engine="fused")
    assert traj.meta["engine"].startswith("eager (Newton-type")
    assert torch.equal(traj.xy, simulate("ravine", key, steps=5).xy)


def test_formula_surfaces_and_plateau_schedules_run_eagerly():
    from surfaces import get_surface

    surface = get_surface("formula", expr="x**2 + 3*y**2", bounds=(-2, 2, -2, 2))
    assert simulate(surface, "adam", steps=5, engine="fused").meta["engine"].startswith("eager (the surface")
    plateau = make_schedule("plateau")
    assert (
        simulate("ravine", "adam", steps=5, schedule=plateau, engine="fused")
        .meta["engine"]
        .startswith("eager (the schedule")
    )


def test_eager_is_the_default_and_bad_engine_names_are_refused():
    assert simulate("ravine", "sgd", steps=3).meta["engine"] == "eager"
    with pytest.raises(ValueError, match="engine must be one of"):
        simulate("ravine", "sgd", steps=3, engine="turbo")


def test_compiled_adam_agrees_in_float64_and_float32_and_does_not_recompile(small_chunks):
    g = torch.Generator().manual_seed(0)
    starts = (torch.rand(64, 2, generator=g, dtype=torch.float64) * 2 - 1) * 2
    kw = dict(steps=60, start=starts, record_every=60)
    hp = {"lr": 0.05}
    fast = simulate("ravine", "adam", hparams=hp, engine="fused", **kw)
    _agree(simulate("ravine", "adam", hparams=hp, **kw), fast)
    _close(simulate("ravine", "adam", hparams=hp, **kw), fast, 1e-10)
    f32 = dict(kw, dtype=torch.float32)
    _close(
        simulate("ravine", "adam", hparams=hp, **f32),
        simulate("ravine", "adam", hparams=hp, engine="fused", **f32),
        1e-5,
        floor=1e-2,
    )

    # New hyperparameter values enter as tensors: the package built above serves them ("auto"
    # never compiles in the caller's process).
    hp2 = {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6}
    auto = simulate("ravine", "adam", hparams=hp2, engine="auto", **kw)
    assert auto.meta["engine"] == "fused"
    _agree(simulate("ravine", "adam", hparams=hp2, **kw), auto)


def test_compiled_single_run_recorded_every_step_with_noise_schedule_and_padding(small_chunks):
    # 23 steps, recorded every step (chunks of 2 × 5): two full chunks and a short last one, run padded.
    kw = dict(
        steps=23,
        hparams={"lr": 0.02, "dampening": 0.1},
        noise=0.3,
        seed=5,
        schedule=make_schedule("step", step_size=7, gamma=0.5),
    )
    eager = simulate("ravine", "momentum", **kw)
    fast = simulate("ravine", "momentum", engine="fused", **kw)
    assert fast.meta["engine"] == "fused"
    assert fast.xy.shape == (1, 24, 2)
    _agree(eager, fast)


def test_compiled_lookahead_keeps_its_period_across_chunks(small_chunks):
    hp = {"k": 3, "inner": "sgd", "lr": 0.05, "slow_alpha": 0.5}
    assert fused.chunk_length(get_optimizer("lookahead").resolve(hp)) == 6  # a multiple of k
    assert fused.chunk_length(get_optimizer("lookahead").resolve(hp), record_all=True) == 9  # of 2 × 5, too
    kw = dict(steps=36, start=STARTS, hparams=hp, record_every=36)
    _agree(simulate("ravine", "lookahead", **kw), simulate("ravine", "lookahead", engine="fused", **kw))


def test_compiled_lookahead_keeps_its_phase_when_records_cut_the_chunks(small_chunks):
    # K = 6 (k = 3), records every 7 steps: chunks restart off the phase the graph was traced at,
    # so they are cut to end at multiples of K before a compiled chunk runs again.
    hp = {"k": 3, "inner": "momentum", "lr": 0.05, "slow_alpha": 0.5, "dampening": 0.2}
    kw = dict(steps=40, start=STARTS, hparams=hp, record_every=7)
    fast = simulate("ravine", "lookahead", engine="fused", **kw)
    assert fast.meta["engine"] == "fused"
    # Not bit for bit: the cut chunks run the traced function eagerly, with tensor hyperparameters
    # (a multiply and an add where the eager engine's float alpha fuses them). A sync at the wrong
    # step would be off by ~1e-2.
    _close(simulate("ravine", "lookahead", **kw), fast, 1e-13)


def test_one_element_tensor_hyperparameters_run_as_floats(small_chunks):
    kw = dict(steps=12, start=STARTS, record_every=12)
    as_float = simulate("ravine", "adam", hparams={"lr": 0.05, "beta1": 0.8}, engine="fused", **kw)
    one = dict(dtype=torch.float64)
    as_tensor = simulate(
        "ravine",
        "adam",
        hparams={"lr": torch.tensor([0.05], **one), "beta1": torch.tensor([0.8], **one)},
        engine="fused",
        **kw,
    )
    assert as_tensor.meta["engine"] == "fused"
    assert torch.equal(as_float.xy, as_tensor.xy)


def test_a_loaded_graph_refuses_inputs_that_do_not_fit_its_signature(small_chunks, monkeypatch):
    graphs = []
    real = fused.roll_out_fused
    monkeypatch.setattr(fused, "roll_out_fused", lambda *a, **kw: graphs.append(kw["on_device"]) or real(*a, **kw))
    simulate("ravine", "sgd", steps=12, start=STARTS, record_every=12, engine="fused")
    graph = next(g for g in graphs if isinstance(g, graph_store.Graph))  # (a build first runs the chunk uncompiled)
    x = torch.zeros(3, dtype=torch.float64)
    lrs = torch.full((5,), 0.01, dtype=torch.float64)
    hp = {"lr": torch.tensor(0.01, dtype=torch.float64), "weight_decay": 0.0}
    graph(x, x.clone(), (), (), 1, lrs, None, None, hp)  # fits: any batch size
    with pytest.raises(ValueError, match="do not fit"):
        graph(x.float(), x.float(), (), (), 1, lrs, None, None, hp)  # float32 into a float64 graph
    with pytest.raises(ValueError, match="do not fit"):
        graph(x, x.clone(), (), (), 1, lrs[:4], None, None, hp)  # a chunk of the wrong length


def test_compiled_divergence_is_flagged_at_the_same_step(small_chunks):
    kw = dict(steps=20, start=STARTS, hparams={"lr": 5.0}, record_every=20)
    eager = simulate("rosenbrock", "sgd", **kw)
    fast = simulate("rosenbrock", "sgd", engine="fused", **kw)
    assert (eager.diverged_at >= 0).all()
    assert torch.equal(eager.diverged_at, fast.diverged_at)
    assert torch.isfinite(fast.xy).all() and torch.isfinite(fast.loss).all()


def test_auto_runs_eagerly_until_the_background_compiler_is_done(small_chunks, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADSCAPE_GRAPH_DIR", str(tmp_path))  # an empty store
    kw = dict(steps=10, start=STARTS, hparams={"lr": 0.01}, record_every=10)
    first = simulate("himmelblau", "rmsprop", engine="auto", **kw)
    assert first.meta["engine"] == "eager (fused graph not compiled yet)"  # background builder off in tests

    monkeypatch.setenv("GRADSCAPE_BACKGROUND_COMPILE", "1")
    monkeypatch.setattr(builder, "_BUILDER", builder._Builder())  # a server's: its CPU probe has not run
    simulate("himmelblau", "rmsprop", engine="auto", **kw)  # queues the compile, answers eagerly
    assert builder.wait_for_background(timeout=300)  # a child process built it: its package is in the store
    assert not graph_store.status()["failed"]
    assert sorted(f.name.split(".", 1)[1] for f in next(tmp_path.iterdir()).iterdir()) == ["pt2", "pt2.json"]
    # on disk, but loading it would pay the CPU probe in this run: eager until the probe has run in the background
    assert "checked this CPU" in simulate("himmelblau", "rmsprop", engine="auto", **kw).meta["engine"]
    builder.prepare_in_background(delay_s=0)
    assert builder._BUILDER.probe_done.wait(timeout=120)
    ready = simulate("himmelblau", "rmsprop", engine="auto", **kw)
    assert ready.meta["engine"] == "fused"
    _agree(simulate("himmelblau", "rmsprop", **kw), ready)
    _close(first, ready, 1e-10)


def test_cli_warm_compiles_what_the_playground_then_uses(small_chunks, capsys):
    from export.cli import main
    from scene.config import effective_hparams, lesson_config

    assert main(["warm", "--surface", "saddle", "--optimizer", "nesterov"]) == 0
    assert "saddle" in capsys.readouterr().out
    cfg = lesson_config("saddle")
    run = simulate("saddle", "nesterov", steps=12, hparams=effective_hparams(cfg, "nesterov"), engine="auto")
    assert run.meta["engine"] == "fused"
    assert main(["warm", "--surface", "saddle", "--optimizer", "no_such_optimizer"]) == 1


def test_compiled_nadam_with_a_swept_beta1_keeps_its_graph_across_chunks(small_chunks):
    # NAdam's running product of μ starts as a number and becomes a per-run row when β₁ is swept: the
    # graph's first chunk turned a 0-dim input into a (B,) output, and the second chunk no longer fit.
    kw = dict(
        steps=20,
        start=STARTS,
        record_every=10,
        hparams={"lr": 0.05, "beta1": torch.tensor([0.8, 0.9, 0.95], dtype=torch.float64)},
    )
    fast = simulate("ravine", "nadam", engine="fused", **kw)
    assert fast.meta["engine"] == "fused" and not graph_store.status()["run_errors"]
    _agree(simulate("ravine", "nadam", **kw), fast)


@pytest.mark.parametrize("server_lives_s", [3, 0])
def test_a_build_child_ends_when_the_server_that_started_it_is_gone(tmp_path, server_lives_s):
    """A stopped server must not leave a compiler running: its build child watches its parent, also when
    the server is gone before the child has imported torch (it then reads the server's pid from argv)."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    parent = f"""
import os, pickle, subprocess, sys, tempfile, time
sys.path.insert(0, {str(root)!r})
from engine import builder, fused
from engine.rollout import simulate
jobs = []
builder.request_build = jobs.append
simulate("ravine", "adam", steps=30, start=[[0.1, 0.2], [0.3, 0.4]], record_every=30, engine="auto")
fd, path = tempfile.mkstemp(suffix=".job", dir={str(tmp_path)!r})
with os.fdopen(fd, "wb") as f:
    pickle.dump(jobs[0], f)
child = subprocess.Popen([sys.executable, "-m", "engine.build_graph", path, str(os.getpid())], cwd={str(root)!r},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # (no pipe keeps run() waiting)
print(child.pid, flush=True)
time.sleep({server_lives_s})  # the build is under way (or not even started)
os._exit(0)    # and the server dies
"""
    env = dict(os.environ, GRADSCAPE_GRAPH_DIR=str(tmp_path / "store"))
    done = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, cwd=root, env=env, timeout=120
    )
    pid = int(done.stdout.split()[0])

    def running() -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    still = running()
    if still:
        os.kill(pid, 9)
    assert not still, "the build child outlived its server by more than 10 s"


def test_cli_prune_deletes_the_graphs_of_other_versions_only(monkeypatch, tmp_path, capsys):
    from export.cli import main

    monkeypatch.setenv("GRADSCAPE_GRAPH_DIR", str(tmp_path))
    current = graph_store.cache_dir()
    old, other = tmp_path / "0123456789abcdef", tmp_path / "notes"  # an older version's graphs; not ours
    for folder in (old, other, tmp_path / current.rsplit("/", 1)[-1]):
        folder.mkdir()
        (folder / "g.pt2").write_bytes(b"x" * 1000)
    assert main(["prune"]) == 0
    assert "0123456789abcdef" in capsys.readouterr().out
    assert not old.exists() and other.exists() and (tmp_path / current.rsplit("/", 1)[-1] / "g.pt2").exists()
    assert main(["prune"]) == 0 and "nothing to delete" in capsys.readouterr().out


def test_a_graph_that_failed_at_run_time_is_tried_again_later(small_chunks, monkeypatch):
    kw = dict(steps=10, start=STARTS, hparams={"lr": 0.01}, record_every=10)
    assert simulate("ravine", "rmsprop", engine="fused", **kw).meta["engine"] == "fused"  # built, loaded
    clock = [1000.0]
    monkeypatch.setattr(graph_store, "_now", lambda: clock[0])
    monkeypatch.setattr(graph_store.STORE, "retry", {})
    real_run = graph_store.Graph.__call__
    monkeypatch.setattr(
        graph_store.Graph, "__call__", lambda self, *a: (_ for _ in ()).throw(RuntimeError("out of memory"))
    )
    assert simulate("ravine", "rmsprop", engine="auto", **kw).meta["engine"] == "eager (the fused graph failed)"
    monkeypatch.setattr(graph_store.Graph, "__call__", real_run)  # the error was a one-off
    waiting = simulate("ravine", "rmsprop", engine="auto", **kw)
    assert waiting.meta["engine"].startswith("eager (the fused graph failed")
    clock[0] += graph_store.RETRY_AFTER + 1
    again = simulate("ravine", "rmsprop", engine="auto", **kw)
    assert again.meta["engine"] == "fused"
    assert not graph_store.STORE.retry  # a success clears the count: the next one-off failure waits 30 s again
    _same(simulate("ravine", "rmsprop", engine="fused", **kw), again)


def test_inputs_that_do_not_fit_a_graph_stop_it_for_good_and_other_errors_for_a_while(monkeypatch):
    for name in ("failed", "retry", "run_errors"):
        monkeypatch.setattr(graph_store.STORE, name, {})
    clock = [50.0]
    monkeypatch.setattr(graph_store, "_now", lambda: clock[0])
    graph_store.STORE.forget(("misfit",), graph_store.SignatureMismatch("inputs do not fit"))
    assert ("misfit",) in graph_store.STORE.failed and not graph_store.STORE.waiting(("misfit",))
    for _ in range(3):  # three sessions hit the same error at once: it counts once
        graph_store.STORE.forget(("oom",), RuntimeError("out of memory"))
    assert (
        graph_store.STORE.retry[("oom",)] == (1, 50.0 + graph_store.RETRY_AFTER)
        and ("oom",) not in graph_store.STORE.failed
    )
    for _ in range(10):  # failing again after each wait: the wait doubles, up to RETRY_MAX
        clock[0] = graph_store.STORE.retry[("oom",)][1]
        graph_store.STORE.forget(("oom",), RuntimeError("out of memory"))
    assert graph_store.STORE.retry[("oom",)][1] - clock[0] == graph_store.RETRY_MAX


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("every", [1, 30])
def test_compiled_on_cuda_agrees_with_eager_on_cuda(small_chunks, every):
    g = torch.Generator().manual_seed(1)
    starts = (torch.rand(256, 2, generator=g, dtype=torch.float64) * 2 - 1) * 2
    kw = dict(
        steps=30,
        start=starts,
        hparams={"lr": 0.05},
        record_every=every,
        device="cuda",
        noise=0.1,
        seed=list(range(256)),
    )
    eager = simulate("ravine", "nadam", **kw)
    fast = simulate("ravine", "nadam", engine="fused", **kw)
    assert fast.meta["engine"] == "fused"
    _close(eager, fast, 1e-10)


# One optimizer for each form a compiled rule takes: plain state (sgd), a step-one weight (momentum),
# bias corrections (adam), NAdam's μ product, a sign (lion), Rprop's first step added to a zero
# state, a wrapper with its sync flag (lookahead over adam), and the per-step weights of the
# averaged sequences (schedulefree_adamw). Each graph costs ~15 s to compile; every other fusable
# optimizer's traced function is checked against eager above (uncompiled), and
# benchmarks/compiled_agreement.py compiles all of them. A graph that fails to build only means the
# eager path stays (the store is fault-proof: tests/engine/test_graph_store.py).
BUILT_IN_TESTS = ("sgd", "momentum", "adam", "nadam", "lion", "rprop", "lookahead", "schedulefree_adamw")


def test_representative_optimizers_build_a_package_from_a_worker_thread(monkeypatch, tmp_path):
    """Streamlit runs pages in worker threads: each optimizer's package is built there, lands on
    disk, agrees with the eager roll-out, and then serves "auto" (which never builds)."""
    import os
    import threading

    from surfaces import get_surface

    monkeypatch.setattr(fused, "CHUNK", 2)
    monkeypatch.setenv("GRADSCAPE_GRAPH_DIR", str(tmp_path))  # an empty store: every package is built here
    surface = get_surface("ravine", condition=7.0)
    keys = [k for k in BUILT_IN_TESTS if k in available_optimizers()]
    assert not set(keys) & NOT_FUSABLE
    used, runs = {}, {}
    kw = dict(steps=10, start=STARTS, record_every=10, noise=0.1, seed=[1, 2, 3])  # whole chunks (Lookahead: k = 5)

    def work():
        for key in keys:
            runs[key] = simulate(surface, key, engine="fused", **kw)
            used[key] = runs[key].meta["engine"]

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=1500)
    assert used == {k: "fused" for k in keys}
    assert len([f for f in os.listdir(graph_store.cache_dir()) if f.endswith(".pt2") and ".partial" not in f]) == len(
        keys
    )
    for key in keys:  # bit for bit the eager roll-out, and each graph serves "auto" afterwards
        _agree(simulate(surface, key, **kw), runs[key])
        assert simulate(surface, key, engine="auto", **kw).meta["engine"] == "fused", key


def test_a_cpp_compiler_failure_is_retried_without_vectorisation(monkeypatch, tmp_path):
    """g++ 12 stops with an internal compiler error on some large vectorised kernels: the build tries
    the same graph once more as scalar C++ loops, which then loads and agrees with eager."""
    from engine import torch_private

    monkeypatch.setattr(fused, "CHUNK", 2)
    monkeypatch.setenv("GRADSCAPE_GRAPH_DIR", str(tmp_path))
    calls = []

    def failing_first(program, path, vectorised=True):
        calls.append(vectorised)
        if vectorised:
            raise RuntimeError("CppCompileError: C++ compile error\n internal compiler error: in gimple_duplicate_bb")
        torch_private.compile_package(program, path, vectorised=False)

    monkeypatch.setattr(graph_build, "compile_package", failing_first)
    kw = dict(steps=10, start=STARTS, record_every=10, hparams={"lr": 0.02, "momentum": 0.8})
    fast = simulate("ravine", "momentum", engine="fused", **kw)
    assert calls == [True, False]
    assert fast.meta["engine"] == "fused"
    _agree(simulate("ravine", "momentum", **kw), fast)


def test_other_build_errors_are_not_retried(monkeypatch, tmp_path):
    monkeypatch.setattr(fused, "CHUNK", 2)
    monkeypatch.setenv("GRADSCAPE_GRAPH_DIR", str(tmp_path))
    calls = []

    def broken(program, path, vectorised=True):
        calls.append(vectorised)
        raise RuntimeError("out of disk space")

    monkeypatch.setattr(graph_build, "compile_package", broken)
    with pytest.raises(RuntimeError, match="disk"):
        simulate("ravine", "momentum", engine="fused", steps=10, start=STARTS, record_every=10)
    assert calls == [True]
