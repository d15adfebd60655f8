"""Learning-rate schedules: the registry, equality with torch.optim.lr_scheduler, behaviour."""

import dataclasses
import math

import pytest
import torch
from torch.optim import lr_scheduler as tls

from spec import Param
from optimizers.schedules import (
    CONSTANT,
    SCHEDULES,
    Constant,
    Cosine,
    Exponential,
    MultiStep,
    Plateau,
    Reciprocal,
    Schedule,
    Step,
    Warmup,
    available_schedules,
    make_schedule,
    schedule_class,
)

TIME_BASED = [k for k in SCHEDULES if k != "plateau"]


# ---- torch drivers ----------------------------------------------------------------------------


def _optimizer(lr):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def torch_lrs(build, base_lr, steps):
    """The lr torch uses for updates 0..steps-1: read it, step the optimizer, step the scheduler."""
    opt = _optimizer(base_lr)
    sched = build(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(out, dtype=torch.float64)


def torch_plateau_lrs(base_lr, losses, warmup=None, **kwargs):
    """ReduceLROnPlateau in a training loop: loss = closure(); opt.step(); sched.step(loss)."""
    opt = _optimizer(base_lr)
    linear = tls.LinearLR(opt, **warmup) if warmup else None
    sched = tls.ReduceLROnPlateau(opt, mode="min", threshold_mode="rel", eps=1e-8, **kwargs)
    out = []
    for loss in losses:
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if linear:
            linear.step()
        sched.step(loss)
    out.append(opt.param_groups[0]["lr"])
    return torch.tensor(out, dtype=torch.float64)


def our_lrs(schedule, base_lr, steps, losses=None):
    """Drive a schedule like the engine does; lrs of shape (B, steps) (B = 1 for a float base)."""
    state = schedule.start(base_lr)
    out = []
    for t in range(steps):
        lr = schedule.lr(state, t)
        out.append(torch.as_tensor(lr, dtype=torch.float64).reshape(-1))
        if losses is not None and t < steps - 1:
            state = schedule.observe(state, losses[:, t])
    return torch.stack(out, dim=1)


def assert_rel_close(ours, ref, rtol=1e-12):
    torch.testing.assert_close(ours, ref.expand_as(ours), rtol=rtol, atol=rtol * 1e-3)


# ---- registry ---------------------------------------------------------------------------------


def test_registry_order_and_keys():
    assert (
        SCHEDULES
        == available_schedules()
        == ("constant", "step", "multistep", "exponential", "reciprocal", "cosine", "warmup", "plateau")
    )
    for key in SCHEDULES:
        assert schedule_class(key).key == key


@pytest.mark.parametrize("key", SCHEDULES)
def test_contract(key):
    schedule = make_schedule(key)
    cls = type(schedule)
    assert isinstance(schedule, Schedule) and schedule.key == key
    assert schedule.name and schedule.latex and schedule.description.endswith(".")
    assert all(isinstance(p, Param) for p in cls.params)
    for p in cls.params:  # defaults sit inside the slider ranges
        assert p.low <= p.default <= p.high, p.name
        assert getattr(schedule, p.name) == p.default
    assert "η" in cls.__doc__ and ("torch" in cls.__doc__)
    assert schedule.needs_loss == (key == "plateau")
    hash(schedule)  # usable as a cache key
    assert make_schedule(key) == schedule
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.foo = 1


def test_constant_default():
    assert CONSTANT == Constant()
    assert CONSTANT.lr(CONSTANT.start(0.3), 1000) == 0.3


def test_unknown_key_lists_valid_ones():
    with pytest.raises(ValueError) as info:
        make_schedule("linear")
    assert all(key in str(info.value) for key in SCHEDULES)


@pytest.mark.parametrize(
    "key, bad, valid",
    [
        ("constant", {"gamma": 0.5}, []),
        ("step", {"step": 3}, ["step_size", "gamma"]),
        ("multistep", {"milestone": (3,)}, ["gamma", "milestones"]),
        ("exponential", {"gamma": 0.9}, ["r"]),
        ("reciprocal", {"k": 1.0}, ["r", "c"]),
        ("cosine", {"eta_min": 0.0}, ["T_max", "min_factor"]),
        ("plateau", {"mode": "max"}, ["factor", "patience", "threshold", "cooldown", "min_factor"]),
        ("warmup", {"T_max": 10}, ["inner", "warmup_steps", "start_factor"]),
        ("warmup", {"inner": "cosine", "gamma": 0.1}, ["warmup_steps", "start_factor", "T_max", "min_factor"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_unknown_param_lists_valid_ones(key, bad, valid):
    with pytest.raises(ValueError) as info:
        make_schedule(key, **bad)
    message = str(info.value)
    assert all(name in message for name in valid), message
    assert [name for name in bad if name != "inner"][0] in message


@pytest.mark.parametrize(
    "key, bad",
    [
        ("step", {"step_size": 0}),
        ("step", {"step_size": 2.5}),
        ("step", {"gamma": 0.0}),
        ("multistep", {"milestones": (10, -1)}),
        ("exponential", {"r": 0.0}),
        ("exponential", {"r": float("nan")}),
        ("cosine", {"T_max": 0}),
        ("cosine", {"min_factor": 1.5}),
        ("warmup", {"start_factor": 2.0}),
        ("warmup", {"inner": "warmup"}),
        ("warmup", {"inner": "nope"}),
        ("warmup", {"inner": Cosine(), "T_max": 5}),
        ("plateau", {"factor": 1.0}),
        ("plateau", {"patience": -1}),
        ("plateau", {"cooldown": 1.5}),
        ("plateau", {"threshold": 1.0}),
        ("exponential", {"r": torch.tensor([1.0, 2.0])}),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v)),
)
def test_bad_values_refused(key, bad):
    with pytest.raises(ValueError):
        make_schedule(key, **bad)


def test_make_schedule_fills_and_coerces():
    assert make_schedule("step", step_size=30.0) == Step(step_size=30, gamma=0.5)
    assert make_schedule("multistep", milestones=[200, 50]).milestones == (50, 200)
    assert make_schedule("plateau", patience=0, cooldown=0) == Plateau(patience=0, cooldown=0)
    assert make_schedule("warmup") == Warmup(Constant(), 50, 0.01)
    assert make_schedule("warmup", inner="cosine", T_max=100, warmup_steps=20) == Warmup(Cosine(T_max=100), 20)
    assert make_schedule("warmup", inner=Exponential(r=5.0)).inner == Exponential(r=5.0)
    assert make_schedule("warmup", inner="plateau").needs_loss


# ---- time-based schedules against torch ----------------------------------------------------------

STEPS = 700
REFERENCES = {
    "constant": (Constant(), lambda o: tls.ConstantLR(o, factor=1.0)),
    "step": (Step(step_size=70, gamma=0.3), lambda o: tls.StepLR(o, step_size=70, gamma=0.3)),
    "step-halve": (Step(step_size=1, gamma=0.5), lambda o: tls.StepLR(o, step_size=1, gamma=0.5)),
    "multistep": (
        MultiStep((300, 100, 100, 450), 0.2),
        lambda o: tls.MultiStepLR(o, milestones=[100, 100, 300, 450], gamma=0.2),
    ),
    "multistep-zero": (MultiStep((0, 5), 0.5), lambda o: tls.MultiStepLR(o, milestones=[0, 5], gamma=0.5)),
    "exponential": (Exponential(r=150.0), lambda o: tls.ExponentialLR(o, gamma=math.exp(-1 / 150.0))),
    "reciprocal": (Reciprocal(r=30.0, c=0.7), lambda o: tls.LambdaLR(o, lambda t: (1 + t / 30.0) ** (-0.7))),
    "cosine": (
        Cosine(T_max=STEPS - 1, min_factor=0.1),
        lambda o: tls.CosineAnnealingLR(o, T_max=STEPS - 1, eta_min=0.1 * o.param_groups[0]["lr"]),
    ),
    "cosine-to-zero": (Cosine(T_max=STEPS - 1), lambda o: tls.CosineAnnealingLR(o, T_max=STEPS - 1, eta_min=0.0)),
    "warmup-step": (
        Warmup(Step(step_size=40, gamma=0.5), warmup_steps=100, start_factor=0.05),
        lambda o: tls.ChainedScheduler(
            [
                tls.LinearLR(o, start_factor=0.05, end_factor=1.0, total_iters=100),
                tls.StepLR(o, step_size=40, gamma=0.5),
            ]
        ),
    ),
    "warmup-exponential": (
        Warmup(Exponential(r=300.0), warmup_steps=50, start_factor=0.01),
        lambda o: tls.ChainedScheduler(
            [
                tls.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=50),
                tls.ExponentialLR(o, gamma=math.exp(-1 / 300.0)),
            ]
        ),
    ),
    # with eta_min = 0 torch's recursive cosine is a pure ratio, so it chains multiplicatively too
    "warmup-cosine": (
        Warmup(Cosine(T_max=STEPS - 1), warmup_steps=60, start_factor=0.2),
        lambda o: tls.ChainedScheduler(
            [
                tls.LinearLR(o, start_factor=0.2, end_factor=1.0, total_iters=60),
                tls.CosineAnnealingLR(o, T_max=STEPS - 1),
            ]
        ),
    ),
}


@pytest.mark.parametrize("name", REFERENCES)
def test_equals_torch_float_base(name):
    schedule, build = REFERENCES[name]
    ours = our_lrs(schedule, 0.1, STEPS)
    assert_rel_close(ours, torch_lrs(build, 0.1, STEPS))


@pytest.mark.parametrize("name", REFERENCES)
def test_equals_torch_per_run(name):
    """A (B,) base lr gives B independent runs, each equal to torch with that lr."""
    schedule, build = REFERENCES[name]
    base = torch.tensor([0.5, 0.01, 3.0], dtype=torch.float64)
    ours = our_lrs(schedule, base, STEPS)
    ref = torch.stack([torch_lrs(build, float(b), STEPS) for b in base])
    assert_rel_close(ours, ref)


def test_reciprocal_is_bit_exact_with_lambda_lr():
    schedule, build = REFERENCES["reciprocal"]
    assert torch.equal(our_lrs(schedule, 0.1, STEPS)[0], torch_lrs(build, 0.1, STEPS))


def test_cosine_stays_at_minimum_where_torch_rises():
    T = 100
    schedule = Cosine(T_max=T, min_factor=0.25)
    ours = our_lrs(schedule, 2.0, 3 * T)[0]
    ref = torch_lrs(lambda o: tls.CosineAnnealingLR(o, T_max=T, eta_min=0.5), 2.0, 3 * T)
    assert_rel_close(ours[: T + 1], ref[: T + 1])
    assert ours[T] == pytest.approx(0.5) and torch.all(ours[T:] == ours[T])
    assert ref[2 * T] == pytest.approx(2.0)  # torch's CosineAnnealingLR climbs back to the start


@pytest.mark.parametrize("key", TIME_BASED)
def test_float_base_gives_python_float(key):
    schedule = make_schedule(key)
    state = schedule.start(0.1)
    for t in (0, 1, 57, 10_000):
        assert type(schedule.lr(state, t)) is float
    assert schedule.observe(state, torch.tensor([1.0])) is state


@pytest.mark.parametrize("key", SCHEDULES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_tensor_base_keeps_shape_dtype_device(key, dtype):
    schedule = make_schedule(key)
    base = torch.tensor([0.1, 0.2, 0.4, 0.8], dtype=dtype)
    state = schedule.start(base)
    for t in range(5):
        lr = schedule.lr(state, t)
        assert lr.shape == (4,) and lr.dtype == dtype and lr.device == base.device
        state = schedule.observe(state, torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))


@pytest.mark.parametrize("key", TIME_BASED)
def test_values_match_lr(key):
    schedule = make_schedule(key)
    values = schedule.values(600, base_lr=0.3)
    assert values.dtype == torch.float64 and values.shape == (600,)
    state = schedule.start(0.3)
    assert values.tolist() == [schedule.lr(state, t) for t in range(600)]


@pytest.mark.parametrize("key", ["step", "multistep", "exponential", "reciprocal", "cosine", "plateau"])
def test_decays_never_increase(key):
    losses = torch.linspace(1, 0.5, 50).tolist() + [0.5] * 1000  # plateau: improve, then stall
    values = make_schedule(key).values(1000, losses=losses)
    assert values[0] == 1.0 and torch.all(values[1:] <= values[:-1]) and values[-1] < 1.0


@pytest.mark.parametrize("inner", TIME_BASED[:-1])  # every time-based inner but warmup itself
def test_warmup_ramps_then_is_inner(inner):
    W = 40
    inner_schedule = make_schedule(inner)
    warm = Warmup(inner_schedule, warmup_steps=W, start_factor=0.1)
    ours, plain = warm.values(300), inner_schedule.values(300)
    ratio = ours[: W + 1] / plain[: W + 1]
    torch.testing.assert_close(ratio, torch.linspace(0.1, 1.0, W + 1, dtype=torch.float64))
    assert torch.equal(ours[W:], plain[W:])


# ---- reduce on plateau -------------------------------------------------------------------------

NAN = float("nan")
LOSSES = torch.tensor(
    [
        # improves, stalls (small relative changes are not improvements), jumps, NaN, recovers
        [
            5.0,
            4.0,
            4.0,
            3.9999,
            3.9999,
            4.0,
            3.0,
            NAN,
            NAN,
            NAN,
            3.0,
            2.5,
            2.5,
            2.5,
            2.5,
            2.5,
            9.0,
            2.0,
            2.0,
            2.0,
            2.0,
            2.0,
            2.0,
            2.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
        ],
        # NaN first, then a steady decrease (always better), then an increasing loss
        [
            NAN,
            10.0,
            9.0,
            8.0,
            7.0,
            6.0,
            5.0,
            4.0,
            3.0,
            2.0,
            1.0,
            0.5,
            0.6,
            0.7,
            0.8,
            0.9,
            1.0,
            1.1,
            1.2,
            1.3,
            1.4,
            1.5,
            1.6,
            1.7,
            1.8,
            1.9,
            2.0,
            2.1,
            2.2,
            2.3,
            2.4,
            2.5,
            2.6,
            2.7,
            2.8,
            2.9,
        ],
        # flat from the start, and negative losses
        [-1.0] * 12 + [-1.00005, -1.0002, -1.0002] + [-1.0002] * 21,
        # inf then flat
        [math.inf] * 4 + [7.0] * 32,
    ],
    dtype=torch.float64,
)

PLATEAU_CASES = {
    "defaults-patience2": dict(factor=0.5, patience=2, threshold=1e-4, cooldown=0, min_factor=0.0),
    "patience0": dict(factor=0.5, patience=0, threshold=1e-4, cooldown=0, min_factor=0.0),
    "cooldown": dict(factor=0.3, patience=1, threshold=1e-4, cooldown=3, min_factor=0.0),
    "min-lr-floor": dict(factor=0.5, patience=0, threshold=1e-4, cooldown=1, min_factor=0.2),
    "big-threshold": dict(factor=0.1, patience=1, threshold=0.3, cooldown=0, min_factor=0.0),
    "tiny-lr-eps": dict(factor=0.5, patience=0, threshold=1e-4, cooldown=0, min_factor=0.0),
}


def _torch_kwargs(case, base_lr):
    kwargs = dict(case)
    kwargs["min_lr"] = kwargs.pop("min_factor") * base_lr
    return kwargs


@pytest.mark.parametrize("name", PLATEAU_CASES)
def test_plateau_equals_torch_exactly(name):
    """B runs, each with its own loss sequence and base lr, equal torch run by run, bit for bit."""
    case = PLATEAU_CASES[name]
    base = torch.tensor([0.1, 1.0, 0.3, 2.0], dtype=torch.float64)
    if name == "tiny-lr-eps":  # lrs near eps = 1e-8: torch stops reducing once the change <= eps
        base = base * 1e-7
    steps = LOSSES.shape[1] + 1
    ours = our_lrs(Plateau(**case), base, steps, losses=LOSSES)
    ref = torch.stack(
        [torch_plateau_lrs(float(b), LOSSES[i].tolist(), **_torch_kwargs(case, float(b))) for i, b in enumerate(base)]
    )
    assert torch.equal(ours, ref), (ours, ref)
    assert (ours[:, -1] < base).any()  # the case does reduce something


def test_plateau_runs_are_independent():
    schedule = Plateau(patience=1, cooldown=2)
    base = torch.tensor([0.1, 1.0, 0.3, 2.0], dtype=torch.float64)
    steps = LOSSES.shape[1] + 1
    batched = our_lrs(schedule, base, steps, losses=LOSSES)
    for i in range(len(base)):
        alone = our_lrs(schedule, base[i : i + 1], steps, losses=LOSSES[i : i + 1])
        assert torch.equal(batched[i], alone[0])


def test_plateau_float_base_and_values_replay():
    schedule = Plateau(patience=1)
    losses = LOSSES[1]
    values = schedule.values(len(losses) + 1, base_lr=0.1, losses=losses.tolist())
    ref = torch_plateau_lrs(0.1, losses.tolist(), factor=0.5, patience=1, threshold=1e-4, cooldown=0, min_lr=0.0)
    assert torch.equal(values, ref)
    state = schedule.start(0.1)
    assert schedule.lr(state, 0).shape == (1,)


def test_plateau_values_needs_losses():
    with pytest.raises(ValueError, match="loss"):
        Plateau().values(10)
    with pytest.raises(ValueError, match="loss"):
        make_schedule("warmup", inner="plateau").values(10)
    with pytest.raises(ValueError, match="9 losses"):
        Plateau().values(10, losses=[1.0] * 3)


def test_plateau_state_is_not_modified_in_place():
    schedule = Plateau(patience=0)
    state = schedule.start(torch.tensor([1.0, 1.0], dtype=torch.float64))
    snapshot = [s.clone() for s in state]
    for loss in ([1.0, 1.0], [2.0, 0.5], [2.0, 0.5]):
        new = schedule.observe(state, torch.tensor(loss, dtype=torch.float64))
        assert all(torch.equal(a, b) for a, b in zip(state, snapshot))
        state, snapshot = new, [s.clone() for s in new]


def test_warmup_over_plateau_equals_torch_linear_plus_plateau():
    """w(t) times the plateau lr; torch: LinearLR and ReduceLROnPlateau stepped on one optimizer."""
    schedule = Warmup(Plateau(factor=0.5, patience=1), warmup_steps=10, start_factor=0.1)
    assert schedule.needs_loss
    base = torch.tensor([0.1, 1.0, 0.3, 2.0], dtype=torch.float64)
    steps = LOSSES.shape[1] + 1
    ours = our_lrs(schedule, base, steps, losses=LOSSES)
    ref = torch.stack(
        [
            torch_plateau_lrs(
                float(b),
                LOSSES[i].tolist(),
                warmup=dict(start_factor=0.1, end_factor=1.0, total_iters=10),
                factor=0.5,
                patience=1,
                threshold=1e-4,
                cooldown=0,
                min_lr=0.0,
            )
            for i, b in enumerate(base)
        ]
    )
    assert_rel_close(ours, ref)
    plain = our_lrs(schedule.inner, base, steps, losses=LOSSES)
    assert torch.equal(ours[:, 10:], plain[:, 10:])
    assert not torch.equal(ours[:, :10], plain[:, :10])
