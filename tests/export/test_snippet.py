"""export.snippet: each generated PyTorch script, run in a subprocess that cannot import gradscape,
reproduces gradscape's trajectory (engine.simulate with the same config) to float64 rounding.

The scripts get one added line that dumps `path` and `losses` as JSON. They run in one child
process (`python -I`: the repository is not on sys.path, so importing gradscape would fail), each
through runpy as its own __main__; one script also runs alone as `python -I script.py`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine import simulate
from export.scene import scene_from_query
from optimizers import get_optimizer
from export.snippet import pytorch_snippet, supported
from optimizers.schedules import make_schedule
from surfaces import get_surface
from scene.config import effective_hparams

RTOL, ATOL = 1e-9, 1e-12
RAVINE = "surface=ravine&s.condition=20&s.angle=30&steps=100"

LR = {
    "sgd": 0.3,
    "momentum": 0.1,
    "adagrad": 0.5,
    "rmsprop": 0.02,
    "adadelta": 1.0,
    "adam": 0.1,
    "amsgrad": 0.1,
    "adamw": 0.1,
    "nadam": 0.1,
    "adamax": 0.1,
    "radam": 0.1,
    "rprop": 0.01,
}

CASES: list[tuple[str, str, str]] = []
# Every optimizer with a torch.optim class, with a non-default hyperparameter or two.
EXTRA = {
    "momentum": "&momentum.dampening=0.1&momentum.weight_decay=0.01",
    "rmsprop": "&rmsprop.centered=1&rmsprop.momentum=0.5",
    "adagrad": "&adagrad.lr_decay=0.01",
    "adam": "&adam.weight_decay=0.01",
    "adamw": "&adamw.weight_decay=0.1",
    "nadam": "&nadam.momentum_decay=0.01",
    "rprop": "&rprop.etaplus=1.5",
}
for key in supported():
    CASES.append(
        (
            f"{key}-ravine",
            f"{RAVINE}&opt={key}&{key}.lr={LR.get(key, get_optimizer(key).defaults()['lr'])}{EXTRA.get(key, '')}",
            key,
        )
    )
# Schedules (torch's named schedulers, LambdaLR and chains).
SCHEDULES = {
    "step": "sched=step&sched.step_size=30&sched.gamma=0.5",
    "multistep": "sched=multistep&sched.gamma=0.3",
    "exponential": "sched=exponential&sched.r=40",
    "reciprocal": "sched=reciprocal&sched.r=20&sched.c=0.7",
    "cosine": "sched=cosine&sched.T_max=100",
    "cosine-past-T": "sched=cosine&sched.T_max=40&sched.min_factor=0.1",
    "warmup": "sched=warmup&sched.warmup_steps=20",
    "warmup-exponential": "sched=warmup&sched.inner=exponential&sched.r=50&sched.warmup_steps=30",
    "warmup-cosine": "sched=warmup&sched.inner=cosine&sched.T_max=100&sched.warmup_steps=10",
    "warmup-cosine-min": "sched=warmup&sched.inner=cosine&sched.T_max=60&sched.min_factor=0.2&sched.warmup_steps=10",
    "warmup-reciprocal": "sched=warmup&sched.inner=reciprocal&sched.r=30",
    "plateau": "sched=plateau&sched.patience=3&sched.factor=0.5&sched.threshold=0.01",
    "warmup-plateau": "sched=warmup&sched.inner=plateau&sched.patience=3&sched.warmup_steps=10",
}
for name, q in SCHEDULES.items():
    CASES.append((f"adam-{name}", f"{RAVINE}&opt=adam&adam.lr=0.1&{q}", "adam"))
CASES.append(("momentum-step", f"{RAVINE}&opt=momentum&momentum.lr=0.1&{SCHEDULES['step']}", "momentum"))
CASES.append(("adagrad-exponential", f"{RAVINE}&opt=adagrad&{SCHEDULES['exponential']}", "adagrad"))
# Noise: the script carries gradscape's counter-based generator, so noisy runs match too (> 256 steps:
# more than one block of draws).
CASES.append(("momentum-noise", "surface=ravine&opt=momentum&momentum.lr=0.1&noise=0.3&seed=7&steps=300", "momentum"))
CASES.append(("adam-noise-plateau", f"{RAVINE}&opt=adam&noise=0.05&seed=3&{SCHEDULES['plateau']}", "adam"))
# Every hand-written surface, and the formula surface.
SURFACE_CASES = {
    "saddle": "surface=saddle&opt=adam&adam.lr=0.05",
    "saddle_unbounded": "surface=saddle_unbounded&opt=sgd&sgd.lr=0.05",
    "rosenbrock": "surface=rosenbrock&s.a=1.2&s.b=50&opt=adam&adam.lr=0.01",
    "plateau": "surface=plateau&s.width=2&opt=rmsprop&rmsprop.lr=0.05",
    "himmelblau": "surface=himmelblau&opt=sgd&sgd.lr=0.005",
    "rastrigin": "surface=rastrigin&opt=adam&adam.lr=0.05",
    "beale": "surface=beale&opt=adagrad&adagrad.lr=0.1",
    "two_wells": "surface=two_wells&s.tilt=0.3&opt=nadam&nadam.lr=0.05",
    "formula": (
        "surface=formula&s.expr=" + "sin(3*x)*cos(2*y)%2B0.1*(x**2%2By**2)%2Bmax(x,0.5)%2Bmin(y*x,1)"
        "%2Bexp(-(x-1)^2)/(2%2Btanh(y))-abs(x*y)*pi/10%2Bsqrt(x^2%2B1)%2Blog(2%2Bcos(x))"
        "&opt=adam&adam.lr=0.05"
    ),
}
for name, q in SURFACE_CASES.items():
    CASES.append((f"surface-{name}", f"{q}&steps=100", q.split("opt=")[1].split("&")[0]))

# The data surfaces: the script loads the same bundled data set; minibatches by the same hash (several epochs).
DATA_CASES = {
    "data-linear-full": "surface=linear_regression&opt=sgd&sgd.lr=0.03",
    "data-linear-minibatch": "surface=linear_regression&s.dataset=iris&s.standardize=1&opt=adam&batch=16&seed=2",
    "data-logistic-minibatch": "surface=logistic_regression&s.dataset=breast_cancer&opt=momentum&batch=32&seed=5",
    "data-logistic-lbfgs-minibatch": "surface=logistic_regression&s.dataset=breast_cancer&opt=lbfgs&batch=20",
}
for name, q in DATA_CASES.items():
    CASES.append((name, f"{q}&steps=100", q.split("opt=")[1].split("&")[0]))
IDS = [c[0] for c in CASES]


def reference(cfg, key):
    """gradscape's own trajectory of `key` under `cfg` (what the page shows)."""
    surface = get_surface(cfg.surface, **cfg.surface_params)
    schedule = make_schedule(cfg.schedule, **cfg.schedule_params)
    traj = simulate(
        surface,
        key,
        start=cfg.start,
        steps=cfg.steps,
        hparams=effective_hparams(cfg, key),
        schedule=schedule,
        noise=cfg.noise,
        seed=cfg.seed,
        device="cpu",
        dtype=torch.float64,
        batch_size=cfg.batch_size,
    )
    assert int(traj.diverged_at[0]) == -1  # well-behaved settings only
    return traj.xy[0].numpy(), traj.loss[0].numpy()


def _dump_line(out) -> str:
    return f"\nimport json as _json\n_json.dump({{'path': path, 'losses': losses}}, open({str(out)!r}, 'w'))\n"


@pytest.fixture(scope="module")
def snippet_runs(tmp_path_factory):
    """Every case's script run once, in one child process: {case id: (cfg, key, script, result)}."""
    tmp = tmp_path_factory.mktemp("snippets")
    files, meta = [], {}
    for case_id, query, key in CASES:
        cfg, warnings = scene_from_query(query)
        assert warnings == [], (case_id, warnings)
        script = pytorch_snippet(cfg, key)
        path = tmp / f"{case_id.replace('-', '_')}.py"
        out = tmp / f"{case_id}.json"
        path.write_text(script + _dump_line(out), encoding="utf-8")
        files.append(str(path))
        meta[case_id] = (cfg, key, script, out)
    driver = "import runpy, sys\nfor p in sys.argv[1:]:\n    runpy.run_path(p, run_name='__main__')\n"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", driver, *files], cwd=str(tmp), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {cid: (cfg, key, script, json.loads(out.read_text())) for cid, (cfg, key, script, out) in meta.items()}


@pytest.mark.parametrize("case_id", IDS)
def test_snippet_reproduces_the_trajectory(snippet_runs, case_id):
    cfg, key, _script, result = snippet_runs[case_id]
    xy, loss = reference(cfg, key)
    path = np.array(result["path"])
    assert path.shape == xy.shape == (cfg.steps + 1, 2)
    np.testing.assert_allclose(path, xy, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(result["losses"], loss, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case_id", IDS)
def test_snippet_is_self_contained(snippet_runs, case_id):
    _cfg, key, script, _ = snippet_runs[case_id]
    tree = ast.parse(script)
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    module = get_optimizer(key).torch_twin.module  # torch.optim, or the reference package (schedulefree, ...)
    data = {"sklearn"} if case_id.startswith("data-") else set()  # the bundled data set
    assert imported <= {"math", "torch", module.split(".")[0]} | data
    assert f"{module}." in script and "for t in range(STEPS):" in script


def test_snippet_uses_torch_schedulers(snippet_runs):
    scripts = {cid: snippet_runs[cid][2] for cid in IDS}
    assert "StepLR(" in scripts["adam-step"]
    assert "MultiStepLR(" in scripts["adam-multistep"]
    assert "ExponentialLR(optimizer, gamma=math.exp(-1 / 40.0))" in scripts["adam-exponential"]
    assert "CosineAnnealingLR(" in scripts["adam-cosine"]
    assert "LambdaLR(" in scripts["adam-cosine-past-T"] and "LambdaLR(" in scripts["adam-reciprocal"]
    assert "LinearLR(" in scripts["adam-warmup"] and "ChainedScheduler(" in scripts["adam-warmup-exponential"]
    assert "ReduceLROnPlateau(" in scripts["adam-plateau"] and "scheduler.step(loss.item())" in scripts["adam-plateau"]
    assert "warmup.step()" in scripts["adam-warmup-plateau"]
    assert "scheduler" not in scripts["adam-ravine"].split("optimizer = ")[1].split("path = ")[0].replace(
        "# Constant learning rate: no scheduler.", ""
    )
    assert "amsgrad=True" in scripts["amsgrad-ravine"] and "betas=(0.9, 0.999)" in scripts["adam-ravine"]
    assert "momentum=0.9, dampening=0.1" in scripts["momentum-ravine"]
    assert "gradscape_noise" in scripts["momentum-noise"] and "gradscape_noise" not in scripts["adam-ravine"]
    assert "CONDITION = 20.0" in scripts["sgd-ravine"] and "ANGLE = 30.0" in scripts["sgd-ravine"]
    assert "A = 1.2" in scripts["surface-rosenbrock"] and "B = 50.0" in scripts["surface-rosenbrock"]
    assert "Custom formula" in scripts["surface-formula"]
    assert (
        "load_diabetes(scaled=False)" in scripts["data-linear-full"]
        and "gradscape_minibatch" not in scripts["data-linear-full"]
    )
    assert (
        "BATCH = 16" in scripts["data-linear-minibatch"] and "_a = _a - _a.mean()" in scripts["data-linear-minibatch"]
    )
    assert "value = f(w, rows)" in scripts["data-logistic-lbfgs-minibatch"]  # the line search sees the same batch


def test_a_snippet_runs_alone(tmp_path):
    cfg, _ = scene_from_query("Ravine: SGD vs momentum" and "surface=ravine&opt=momentum&steps=60")
    script = pytorch_snippet(cfg, "momentum")
    path = tmp_path / "run.py"
    path.write_text(script + _dump_line(tmp_path / "out.json"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-I", str(path)], cwd=str(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("after 60 steps: w = (")
    xy, _ = reference(cfg, "momentum")
    np.testing.assert_allclose(json.loads((tmp_path / "out.json").read_text())["path"], xy, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("key", ["nesterov", "lion", "adabound", "lookahead", "ranger", "newton", "diag_newton"])
def test_unsupported_optimizers_name_the_supported_ones(key):
    cfg, _ = scene_from_query(f"surface=ravine&opt={key}")
    with pytest.raises(ValueError) as info:
        pytorch_snippet(cfg, key)
    for k in supported():
        assert k in str(info.value)
    if key == "nesterov":
        assert "look-ahead" in str(info.value)


def test_unknown_optimizer_key():
    cfg, _ = scene_from_query("surface=ravine&opt=adam")
    with pytest.raises(ValueError):
        pytorch_snippet(cfg, "bogus")
