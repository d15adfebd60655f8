"""Contract tests over every registered optimizer.

Hyperparameter specs (ranges, grids, validation), spec metadata, defaults equal to torch.optim's,
pure update rules, sweeps (a (B,) tensor hyperparameter equals B separate runs) and Lookahead's
handling of its inner optimizer's hyperparameters.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
import torch

import optimizers
from engine import simulate
from optimizers import available_optimizers, get_optimizer
from spec import Param

KEYS = available_optimizers()
SPECS = {key: get_optimizer(key) for key in KEYS}
PARAMS = [(key, p) for key in KEYS for p in SPECS[key].params]
PARAM_IDS = [f"{key}.{p.name}" for key, p in PARAMS]
FLOAT_PARAMS = [(key, p) for key, p in PARAMS if p.kind == "float"]
LOG_PARAMS = [(key, p) for key, p in PARAMS if p.log]
WRAPPERS = {"lookahead", "ranger"}


def ids(pairs):
    return [f"{key}.{p.name}" for key, p in pairs]


# ---- registry ----------------------------------------------------------------------------------


def test_registry_is_a_tuple_of_unique_lower_case_keys():
    assert isinstance(KEYS, tuple) and KEYS
    assert len(set(KEYS)) == len(KEYS)
    assert all(k == k.lower() for k in KEYS)
    assert tuple(spec.key for spec in optimizers.OPTIMIZERS) == KEYS


@pytest.mark.parametrize("key", KEYS)
def test_get_optimizer_returns_the_spec_with_that_key(key):
    assert SPECS[key].key == key
    assert get_optimizer(SPECS[key]) is SPECS[key]


def test_unknown_optimizer_is_a_value_error_listing_valid_keys():
    with pytest.raises(ValueError) as info:
        get_optimizer("nope")
    message = str(info.value)
    assert "nope" in message
    for key in KEYS:
        assert key in message


# ---- Param specs -------------------------------------------------------------------------------


@pytest.mark.parametrize("key, p", PARAMS, ids=PARAM_IDS)
def test_param_default_lies_in_its_range(key, p):
    assert p.kind in ("float", "int", "bool", "choice")
    if p.kind in ("float", "int"):
        assert p.low is not None and p.high is not None
        assert p.low < p.high
        assert p.low <= p.default <= p.high, f"default {p.default} outside [{p.low}, {p.high}]"
    if p.kind == "int":
        assert isinstance(p.default, int)
    if p.kind == "bool":
        assert isinstance(p.default, bool)
    if p.kind == "choice":
        assert p.default in p.choices


@pytest.mark.parametrize("key, p", PARAMS, ids=PARAM_IDS)
def test_param_has_a_label(key, p):
    assert isinstance(p.label, str) and p.label.strip()


@pytest.mark.parametrize("key", KEYS)
def test_param_names_are_unique(key):
    names = [p.name for p in SPECS[key].params]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("key, p", LOG_PARAMS, ids=ids(LOG_PARAMS))
def test_log_param_grid_is_increasing_in_range_and_contains_default(key, p):
    assert p.kind == "float"
    assert p.low > 0
    grid = p.grid()
    assert len(grid) >= 2
    assert all(a < b for a, b in zip(grid, grid[1:])), grid
    assert all(p.low * (1 - 1e-12) <= v <= p.high * (1 + 1e-12) for v in grid), grid
    assert p.default in grid


@pytest.mark.parametrize(
    "key, p",
    [(k, p) for k, p in PARAMS if p.kind != "float" or p.log],
    ids=ids([(k, p) for k, p in PARAMS if p.kind != "float" or p.log]),
)
def test_param_grid_offers_the_default(key, p):
    assert p.default in p.grid()


@pytest.mark.parametrize("key", KEYS)
def test_resolve_without_arguments_gives_the_defaults(key):
    spec = SPECS[key]
    resolved = spec.resolve()
    assert spec.resolve({}) == resolved
    for name, default in spec.defaults().items():
        assert resolved[name] == default
        assert type(resolved[name]) is type(default)
    if key == "lookahead":  # plus the default inner optimizer's own defaults
        inner = get_optimizer(spec.defaults()["inner"])
        assert resolved == {**spec.defaults(), **inner.defaults()}
    else:
        assert resolved == spec.defaults()


def valid_names(key) -> list[str]:
    names = [p.name for p in SPECS[key].params]
    if key == "lookahead":
        names += [p.name for p in get_optimizer(SPECS[key].defaults()["inner"]).params]
    return names


@pytest.mark.parametrize("key", KEYS)
def test_unknown_hyperparameter_is_a_value_error_naming_the_valid_ones(key):
    with pytest.raises(ValueError) as info:
        SPECS[key].resolve({"bogus": 1.0})
    message = str(info.value)
    assert "bogus" in message
    for name in valid_names(key):
        assert name in message, f"{name!r} missing from: {message}"


BAD_BY_KIND = {
    "float": [
        float("nan"),
        float("inf"),
        -float("inf"),
        "0.1",
        None,
        True,
        [0.1],
        torch.tensor([[0.1, 0.2]]),
        torch.tensor([0.1, float("nan")]),
    ],
    "int": [2.5, -1, "5", None, float("nan"), torch.tensor([5, 6])],
    "bool": ["yes", 2, None, 0.5],
    "choice": ["nope", None, 1],
}
BAD_CASES = [(key, p, bad) for key, p in PARAMS for bad in BAD_BY_KIND.get(p.kind, [])]


@pytest.mark.parametrize("key, p, bad", BAD_CASES, ids=[f"{key}.{p.name}={bad!r}" for key, p, bad in BAD_CASES])
def test_non_finite_or_wrong_type_value_is_refused(key, p, bad):
    with pytest.raises(ValueError) as info:
        SPECS[key].resolve({p.name: bad})
    assert p.name in str(info.value)


@pytest.mark.parametrize("key, p", FLOAT_PARAMS, ids=ids(FLOAT_PARAMS))
def test_float_param_accepts_ints_and_sweep_tensors(key, p):
    spec = SPECS[key]
    value = spec.resolve({p.name: 1})[p.name]
    assert type(value) is float and value == 1.0
    sweep = torch.tensor([p.low, p.default, p.high], dtype=torch.float64)
    assert torch.equal(spec.resolve({p.name: sweep})[p.name], sweep)


def test_lookahead_inner_may_not_be_a_wrapper():
    for wrapper in WRAPPERS:
        with pytest.raises(ValueError):
            SPECS["lookahead"].resolve({"inner": wrapper})


# ---- spec metadata -----------------------------------------------------------------------------

SOURCE = re.compile(r"\([^()]*\b(1[89]|20)\d\d\b[^()]*\)|torch\.optim|pytorch-optimizer")
MISSING_DOC_SOURCE: dict = {}  # key -> reason, for a spec whose docstring is known to lack its source


def xfail_for(key, table):
    if key in table:
        return pytest.param(key, marks=pytest.mark.xfail(strict=True, reason=table[key]))
    return key


@pytest.mark.parametrize("key", KEYS)
def test_spec_metadata_is_filled_in(key):
    spec = SPECS[key]
    for attr in ("name", "latex", "reference", "summary"):
        value = getattr(spec, attr)
        assert isinstance(value, str) and value.strip(), f"{key}.{attr} is empty"
    assert spec.effective_lr_kind in {"diagonal", "scheduled", "step size", "inner"}


@pytest.mark.parametrize("key", [xfail_for(k, MISSING_DOC_SOURCE) for k in KEYS])
def test_docstring_states_the_rule_and_its_source(key):
    doc = SPECS[key].doc
    assert doc.strip(), "build function has no docstring"
    assert SOURCE.search(doc), f"no source (a year in parentheses, torch.optim, pytorch-optimizer) in: {doc!r}"


@pytest.mark.parametrize("key", KEYS)
def test_effective_lr_kind_matches_the_rule(key):
    spec = SPECS[key]
    rule = spec.rule()
    if spec.effective_lr_kind in ("diagonal", "step size"):
        assert rule.effective_lr is not None
    elif spec.effective_lr_kind == "scheduled":
        assert rule.effective_lr is None
    else:  # "inner": whatever the wrapped optimizer has
        inner = get_optimizer(spec.resolve()["inner"]).rule()
        assert (rule.effective_lr is None) == (inner.effective_lr is None)


def twin_class(twin) -> type:
    """The class a twin names, in torch.optim or in the reference package of its `module`."""
    return getattr(importlib.import_module(twin.module), twin.cls)


@pytest.mark.parametrize("key", [k for k in KEYS if SPECS[k].torch_name])
def test_torch_name_is_a_torch_optimizer(key):
    assert issubclass(twin_class(SPECS[key].torch_twin), torch.optim.Optimizer)


# ---- defaults equal torch.optim's --------------------------------------------------------------

# Chosen for 2-D surfaces on purpose (DESIGN.md), not torch's: lr everywhere, momentum for the
# momentum entry (torch's SGD has momentum 0).
NOT_FROM_TORCH = {"lr"}
NOT_FROM_TORCH_BY_KEY = {"momentum": {"momentum"}}
TWINNED = [k for k in KEYS if SPECS[k].torch_twin is not None]


@pytest.mark.parametrize("key", TWINNED)
def test_defaults_equal_torch_optim_defaults(key):
    """The twin's arguments at the spec's defaults equal torch.optim's own defaults (lr aside), and
    every hyperparameter reaches torch: changing it changes the twin's arguments."""
    spec = SPECS[key]
    twin = spec.torch_twin
    signature = inspect.signature(twin_class(twin).__init__).parameters
    skipped = NOT_FROM_TORCH | NOT_FROM_TORCH_BY_KEY.get(key, set())
    at_defaults = twin.arguments(spec.defaults())
    for arg, value in at_defaults.items():
        assert arg in signature, f"torch.optim.{twin.cls} has no argument {arg!r}"
    for p in spec.params:
        if p.name in skipped or p.kind not in ("float", "bool"):
            continue
        other = next(v for v in (p.low, p.high, (p.low + p.high) / 2) if v != p.default) if p.kind == "float" else None
        moved = dict(spec.defaults(), **{p.name: (not p.default) if p.kind == "bool" else other})
        changed = [a for a, v in twin.arguments(moved).items() if v != at_defaults[a]]
        assert changed, f"{key}.{p.name} does not reach torch.optim.{twin.cls}"
        for arg in changed:
            if arg not in skipped:
                default = signature[arg].default
                assert at_defaults[arg] == default, f"{key}: {arg} = {at_defaults[arg]}, torch's default {default}"


def test_momentum_entries_default_to_momentum_0_9():
    assert SPECS["momentum"].defaults()["momentum"] == 0.9
    assert SPECS["nesterov"].defaults()["momentum"] == 0.9


# ---- pure rules ----------------------------------------------------------------------------------

B = 3


def tensors_in(obj) -> list[torch.Tensor]:
    """Every tensor inside a (nested) state."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for item in obj for t in tensors_in(item)]
    return []


def random_hessian(gen):
    hxx, hxy, hyy = (torch.randn(B, generator=gen, dtype=torch.float64) for _ in range(3))
    # Diagonally dominant with positive diagonal: Newton's 2×2 solve stays finite.
    hxx, hyy = hxx.abs() + hxy.abs() + 1.0, hyy.abs() + hxy.abs() + 1.0
    return ((hxx, hxy), (hxy, hyy))


PURITY_CASES = [(key, {}) for key in KEYS] + [
    ("lookahead", {"inner": "nesterov"}),
    ("lookahead", {"inner": "newton"}),
    ("lookahead", {"inner": "rprop", "k": 2}),
    ("rmsprop", {"momentum": 0.5, "centered": True}),
    ("adam", {"weight_decay": 0.1}),
    ("adamw", {"weight_decay": 0.1}),
    ("momentum", {"dampening": 0.3, "weight_decay": 0.1}),
]


@pytest.mark.parametrize(
    "key, hp",
    PURITY_CASES,
    ids=[key + ("[" + ",".join(f"{k}={v}" for k, v in hp.items()) + "]" if hp else "") for key, hp in PURITY_CASES],
)
@pytest.mark.parametrize("lr_kind", ["float", "tensor"])
def test_update_does_not_modify_its_inputs(key, hp, lr_kind):
    rule = SPECS[key].rule(hp)
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(2, B, generator=gen, dtype=torch.float64)
    lr = 0.05 if lr_kind == "float" else torch.tensor([0.01, 0.05, 0.1], dtype=torch.float64)
    state = rule.init(params)
    for step in range(1, 13):  # past Lookahead's sync (k = 5) and RAdam's rectification switch
        grad = torch.randn(2, B, generator=gen, dtype=torch.float64)
        extra = {"hess": random_hessian(gen)} if rule.needs_hessian else {}
        inputs = [
            grad,
            params,
            *tensors_in(state),
            *tensors_in(extra.get("hess")),
            *([lr] if isinstance(lr, torch.Tensor) else []),
        ]
        before = [t.clone() for t in inputs]
        if rule.probe is not None:
            rule.probe(params, state)
        delta, new_state = rule.update(grad, state, params, lr, rule.per_step(lr, step), **extra)
        if rule.effective_lr is not None:
            rule.effective_lr(new_state, lr)
        for t, b in zip(inputs, before):
            assert torch.equal(t, b), f"step {step}: an input was changed in place"
        assert delta.shape == params.shape and delta.dtype == params.dtype
        assert bool(torch.isfinite(delta).all())
        params, state = params + delta, new_state


# ---- sweeps: a (B,) tensor hyperparameter equals B separate runs ---------------------------------

SWEEP_STEPS = 50
SWEEP_RTOL, SWEEP_ATOL = 1e-12, 1e-14


def run(key, hparams, steps=SWEEP_STEPS, surface="ravine"):
    return simulate(surface, key, steps=steps, hparams=hparams, device="cpu", dtype=torch.float64)


def assert_sweep_equals_separate_runs(key, name, values, base=None, steps=SWEEP_STEPS, surface="ravine"):
    base = dict(base or {})
    swept = run(key, {**base, name: torch.tensor(values, dtype=torch.float64)}, steps, surface)
    assert swept.batch == len(values)
    for b, value in enumerate(values):
        single = run(key, {**base, name: float(value)}, steps, surface)
        for field in ("xy", "loss", "grad", "lr", "effective_lr"):
            torch.testing.assert_close(
                getattr(swept, field)[b],
                getattr(single, field)[0],
                rtol=SWEEP_RTOL,
                atol=SWEEP_ATOL,
                msg=lambda m: f"{key} {name}={value}: {field} differs\n{m}",
            )
        assert int(swept.diverged_at[b]) == int(single.diverged_at[0])


@pytest.mark.parametrize("key", KEYS)
def test_lr_sweep_equals_separate_runs(key):
    default = SPECS[key].resolve()["lr"]  # Lookahead forwards lr to its inner optimizer
    assert_sweep_equals_separate_runs(key, "lr", [default * 0.5, default, default * 0.8])


NAMED_SWEEPS = [
    ("momentum", "momentum", [0.0, 0.5, 0.9, 0.99]),
    ("adam", "beta1", [0.0, 0.5, 0.9, 0.999]),
    ("adam", "beta2", [0.5, 0.9, 0.999, 0.9999]),
    ("radam", "beta2", [0.5, 0.8, 0.9, 0.999]),  # ρ_t crosses 5 at different steps, or never
    ("radam", "beta1", [0.0, 0.9]),
    ("rmsprop", "alpha", [0.5, 0.9, 0.99]),
    ("adabound", "final_lr", [0.001, 0.01, 0.1, 1.0]),
    ("nadam", "momentum_decay", [1e-4, 4e-3, 1e-1]),
    ("rprop", "etaminus", [0.1, 0.5, 0.9]),
    ("lion", "beta2", [0.5, 0.99]),
]


@pytest.mark.parametrize("key, name, values", NAMED_SWEEPS, ids=[f"{k}.{n}" for k, n, _ in NAMED_SWEEPS])
def test_hyperparameter_sweep_equals_separate_runs(key, name, values):
    assert_sweep_equals_separate_runs(key, name, values)


def test_radam_beta2_sweep_takes_both_branches_per_run():
    # β₂ = 0.5 never rectifies (ρ∞ = 3 < 5): plain bias-corrected momentum, effective lr = η throughout.
    swept = run("radam", {"beta2": torch.tensor([0.5, 0.999], dtype=torch.float64)}, steps=10)
    lr = SPECS["radam"].defaults()["lr"]
    torch.testing.assert_close(swept.effective_lr[0], torch.full((10, 2), lr, dtype=torch.float64))
    assert not torch.equal(swept.effective_lr[1], swept.effective_lr[0])


def other_value(p: Param) -> float:
    """A valid value of p different from its default."""
    if p.log:
        grid = p.grid()
        i = grid.index(p.default)
        return grid[i - 1] if i > 0 else grid[i + 1]
    step = 0.25 * (p.high - p.low)
    return p.default + step if p.default + step <= p.high else p.default - step


NO_TENSOR_SWEEP: dict = {}  # (key, name) -> reason, for a hyperparameter known not to sweep


def sweep_case(key, p):
    reason = NO_TENSOR_SWEEP.get((key, p.name))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(key, p, marks=marks, id=f"{key}.{p.name}")


def lookahead_float_params():
    spec = SPECS["lookahead"]
    inner = get_optimizer(spec.defaults()["inner"])
    return [("lookahead", p) for p in (*spec.params, *inner.params) if p.kind == "float"]


EVERY_FLOAT = [(k, p) for k, p in FLOAT_PARAMS if k != "lookahead"] + lookahead_float_params()


@pytest.mark.parametrize("key, p", [sweep_case(k, p) for k, p in EVERY_FLOAT])
def test_every_float_hyperparameter_can_be_swept(key, p):
    assert_sweep_equals_separate_runs(key, p.name, [p.default, other_value(p)], steps=20)


@pytest.mark.parametrize("key, p", [sweep_case(k, p) for k, p in EVERY_FLOAT if k in ("newton", "diag_newton")])
def test_second_order_sweeps_on_a_non_quadratic_surface(key, p):
    assert_sweep_equals_separate_runs(key, p.name, [p.default, other_value(p)], steps=20, surface="rosenbrock")


# ---- Lookahead's inner optimizer ------------------------------------------------------------------


def test_lookahead_inner_choices_are_every_non_wrapper_optimizer():
    from optimizers import INNER_CHOICES

    assert INNER_CHOICES == tuple(k for k in KEYS if k not in WRAPPERS)
    assert SPECS["lookahead"].param("inner").choices == INNER_CHOICES


def test_lookahead_resolves_inner_hyperparameters():
    resolved = SPECS["lookahead"].resolve({"inner": "sgd", "lr": 0.1})
    assert resolved == {"k": 5, "slow_alpha": 0.5, "inner": "sgd", "lr": 0.1, "weight_decay": 0.0}


def test_lookahead_refuses_a_hyperparameter_the_inner_optimizer_lacks():
    with pytest.raises(ValueError) as info:
        SPECS["lookahead"].resolve({"inner": "sgd", "beta1": 0.9})
    message = str(info.value)
    assert "beta1" in message
    for name in ("k", "slow_alpha", "inner", "lr", "weight_decay"):
        assert name in message


def test_lookahead_validates_inner_values():
    with pytest.raises(ValueError):
        SPECS["lookahead"].resolve({"inner": "adam", "beta1": float("nan")})


INNER_KEYS = [k for k in KEYS if k not in WRAPPERS]


@pytest.mark.parametrize("inner", INNER_KEYS)
def test_lookahead_own_names_do_not_clash_with_the_inner_optimizers(inner):
    # One flat namespace holds both: a shared name would silently set the wrong one.
    own = {p.name for p in SPECS["lookahead"].params}
    assert not own & {p.name for p in SPECS[inner].params}


@pytest.mark.parametrize("inner", INNER_KEYS)
def test_lookahead_keeps_its_own_and_the_inner_hyperparameters_apart(inner):
    spec = SPECS["lookahead"]
    given = {"inner": inner, "slow_alpha": 0.3, "k": 7, "lr": SPECS[inner].defaults()["lr"] * 0.5}
    resolved = spec.resolve(given)
    assert resolved == {**spec.defaults(), **SPECS[inner].defaults(), **given}


@pytest.mark.parametrize("inner", INNER_KEYS)
def test_lookahead_with_slow_alpha_one_equals_its_inner_optimizer(inner):
    # α = 1 moves the slow weights all the way to the fast ones: the synchronisation is a no-op.
    wrapped = run("lookahead", {"inner": inner, "slow_alpha": 1.0, "k": 3}, steps=30)
    plain = run(inner, {}, steps=30)
    assert int(plain.diverged_at[0]) == -1
    torch.testing.assert_close(wrapped.xy, plain.xy, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("inner", INNER_KEYS)
def test_lookahead_with_slow_alpha_below_one_pulls_back_every_k_steps(inner):
    k = 3
    wrapped = run("lookahead", {"inner": inner, "slow_alpha": 0.5, "k": k}, steps=k)
    plain = run(inner, {}, steps=k)
    assert int(plain.diverged_at[0]) == -1
    torch.testing.assert_close(wrapped.xy[:, :k], plain.xy[:, :k], rtol=1e-12, atol=1e-14)
    # after k fast steps the iterate restarts halfway between the start and the fast weights
    halfway = 0.5 * (plain.xy[:, 0] + plain.xy[:, k])
    torch.testing.assert_close(wrapped.xy[:, k], halfway, rtol=1e-12, atol=1e-14)


# ---- the core's contract: one way for step-dependent values; rules know nothing of a compiler ------


@pytest.mark.parametrize("key", KEYS)
def test_update_never_sees_the_step_number(key):
    """update(grad, state, params, lr, values[, hess]): whatever depends on the step comes from
    per_step, which the engine computes; the same values give the same update at any step."""
    import inspect

    rule = SPECS[key].rule({})
    names = list(inspect.signature(rule.update).parameters)
    assert names[:5] == ["grad", "state", "params", "lr", "values"], names
    assert "step" not in names and "pre" not in names


def test_no_rule_mentions_a_compiler():
    import pathlib

    words = ("is_compiling", "inductor", "torch.compile", "prims.fma", "torch._dynamo", "pick_first")
    for path in pathlib.Path("optimizers").glob("*.py"):
        text = path.read_text()
        assert not [w for w in words if w in text], f"{path} mentions {[w for w in words if w in text]}"
