"""Lookahead (slow and fast weights around any optimizer) and Ranger (Lookahead over RAdam)."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from torch import Tensor

from optimizers._common import lerp, select
from optimizers.adam import adam_params, radam_rule
from optimizers.base import OptimizerSpec, Rule
from optimizers.explain import fmt, generic
from optimizers.hparams import Param, resolve_params


class LookaheadState(NamedTuple):
    inner: Any
    slow: Tensor


def lookahead(inner: Rule, k: int, alpha) -> Rule:
    r"""Lookahead: the inner optimizer moves the fast weights θ; every k steps the slow weights
    move part of the way, φ ← φ + α(θ − φ), and θ restarts from φ.

    Zhang, Lucas, Hinton & Ba (2019), Lookahead optimizer: k steps forward, 1 step back,
    Algorithm 1. Matches pytorch-optimizer's Lookahead (pullback_momentum="none"): the inner
    optimizer's state is kept across the synchronisation. The path drawn is θ, the iterate the
    gradient is taken at, so the jump back to φ shows every k steps. An inner optimizer that
    evaluates the surface within its step (L-BFGS's line search) gets the engine's closure, as
    pytorch-optimizer's Lookahead.step(closure) hands it on; its memory of past steps is kept
    across the jump, as there.
    """

    def init(params):
        return LookaheadState(inner.init(params), params)

    def per_step(lr, step):
        # The inner rule's values, then the sync flag: 1.0 on every k-th step.
        return (*inner.per_step(lr, step), 1.0 if step % k == 0 else 0.0)

    def update(grad, state, params, lr, values, **extra):
        *inner_values, sync = values
        fast, inner_state = inner.update(grad, state.inner, params, lr, tuple(inner_values), **extra)
        synced = lerp(fast, state.slow, 1 - alpha)  # φ + α(θ − φ), as pytorch-optimizer computes it
        slow = select(sync, synced, state.slow)
        return select(sync, synced, fast), LookaheadState(inner_state, slow)

    probe = None
    if inner.probe is not None:

        def probe(params, state):
            return inner.probe(params, state.inner)

    effective_lr = None
    if inner.effective_lr is not None:

        def effective_lr(state, lr):
            return inner.effective_lr(state.inner, lr)

    return Rule(
        init,
        update,
        probe=probe,
        effective_lr=effective_lr,
        needs_hessian=inner.needs_hessian,
        per_step=per_step,
        coupled=inner.coupled,
        needs_closure=inner.needs_closure,
    )


_K = Param(
    "k", 5, 1, 20, label="sync period k", kind="int", help="Fast steps between two slow-weight updates.", latex="k"
)
_ALPHA = Param(
    "alpha",
    0.5,
    0.05,
    1.0,
    label="slow step α",
    help="Fraction of the way the slow weights move towards the fast ones.",
    latex=r"\alpha",
)
# Lookahead's own α is called slow_alpha: its inner hyperparameters share one flat namespace, and
# RMSprop already has an `alpha`. Ranger (always over RAdam) keeps the paper's name.
_SLOW_ALPHA = Param("slow_alpha", 0.5, 0.05, 1.0, label="slow step α", help=_ALPHA.help, latex=r"\alpha")


def _resolve_lookahead(spec: OptimizerSpec, hparams: Mapping[str, Any]) -> dict:
    from optimizers import get_optimizer  # the registry imports this module

    hparams = dict(hparams)
    own_names = [p.name for p in spec.params]
    own = resolve_params(spec.params, {n: hparams.pop(n) for n in own_names if n in hparams}, "optimizer 'lookahead'")
    inner_spec = get_optimizer(own["inner"])
    unknown = sorted(set(hparams) - {p.name for p in inner_spec.params})
    if unknown:
        valid = ", ".join(own_names + [p.name for p in inner_spec.params])
        raise ValueError(
            f"optimizer 'lookahead' (inner {own['inner']!r}): unknown parameter(s) {', '.join(unknown)}; valid: {valid}"
        )
    return {**own, **inner_spec.resolve(hparams)}


def _build_lookahead(hp: dict) -> Rule:
    """Lookahead (Zhang, Lucas, Hinton & Ba, 2019) around the chosen inner optimizer.

    φ ← φ + α(θ − φ) every k inner steps, θ restarting from φ; matches pytorch-optimizer's
    Lookahead (see `lookahead`).
    """
    from optimizers import get_optimizer

    inner_spec = get_optimizer(hp["inner"])
    inner_hp = {p.name: hp[p.name] for p in inner_spec.params}
    return lookahead(inner_spec.build(inner_hp), hp["k"], hp["slow_alpha"])


def ranger_rule(hp: dict) -> Rule:
    r"""Ranger: Lookahead (k = 6, α = 0.5) around RAdam (β₁ = 0.95, ε = 1e-5).

    Wright (2019), the Ranger optimizer, which combines Liu et al.'s RAdam with Zhang et al.'s
    Lookahead. gradscape's Ranger is exactly `lookahead(radam)` with torch.optim.RAdam's rule.
    pytorch-optimizer's Ranger differs in three ways, none of them part of the two papers:
    it centralises gradients (subtracting the mean over a tensor's coordinates, which on a
    2-D point would mix x and y), its warm-up branch with degenerated_to_sgd=False moves by
    +η m̂ (against the gradient's descent direction) instead of −η m̂, and it switches at ρ_t ≥ 5
    instead of > 5. With use_gc=False and degenerated_to_sgd=True the two agree (tested).
    """
    radam_hp = {name: hp[name] for name in ("lr", "beta1", "beta2", "eps", "weight_decay")}
    return lookahead(radam_rule(radam_hp), hp["k"], hp["alpha"])


def _explain_around(v, inner_spec, inner_rule, alpha, k):
    """The inner optimizer's own explanation of its fast step, then Lookahead's sync as a sub-step of its own."""
    *inner_values, sync = v.values
    extra = {"hess": v.hess} if inner_rule.needs_hessian else {}
    if inner_rule.needs_closure:
        extra["closure"] = v.closure
    fast, _ = inner_rule.update(v.grad, v.state_before.inner, v.params, v.lr, tuple(inner_values), **extra)
    inner_view = v.inner(inner_rule, v.state_before.inner, v.state_after.inner, tuple(inner_values), fast)
    e = (inner_spec.explain or generic)(inner_view)
    e.moves = [("fast step", e.moves[0][1])] if e.moves else []
    slow = e.show("state.slow", v.state_after.slow)
    e.markers["slow weights φ"] = e.shown["state.slow"]
    e.facts["synced"] = bool(sync)
    e.facts["slow"] = e.shown["state.slow"]
    if sync:
        jump = v.new_params - fast
        e.say(
            f"Step {v.step} is a multiple of k = {k}: the slow weights move {fmt(float(alpha))} of the way to the "
            f"fast ones, φ = {slow}, and the fast weights jump back there: jump = {e.show('jump', jump)}."
        )
        e.move("sync: back to φ", jump)
    else:
        e.say(f"Fast step {v.step % k} of {k}; the slow weights stay at φ = {slow}.")
    return e


def explain_lookahead(v):
    from optimizers import get_optimizer

    inner_spec = get_optimizer(v.hp["inner"])
    inner_rule = inner_spec.build({p.name: v.hp[p.name] for p in inner_spec.params})
    return _explain_around(v, inner_spec, inner_rule, v.hp["slow_alpha"], v.hp["k"])


def explain_ranger(v):
    from optimizers.adam import RADAM

    return _explain_around(v, RADAM, radam_rule({p.name: v.hp[p.name] for p in RADAM.params}), v.hp["alpha"], v.hp["k"])


RANGER = OptimizerSpec(
    key="ranger",
    name="Ranger",
    family="wrapper",
    build=ranger_rule,
    params=adam_params(beta1=0.95, eps=1e-5)
    + (Param("k", 6, 1, 20, label="sync period k", kind="int", help=_K.help, latex="k"), _ALPHA),
    latex=r"\text{Lookahead}(k, \alpha)\ \text{around RAdam}",
    reference="Wright (2019), Ranger; Liu et al. (2020) RAdam + Zhang et al. (2019) Lookahead",
    summary="RAdam's warm-up inside Lookahead's slow-and-fast weights.",
    effective_lr_kind="diagonal",
    effective_lr_note="that of RAdam",
    explain=explain_ranger,
    color="#994455",
)


def lookahead_spec(inner_choices: tuple[str, ...]) -> OptimizerSpec:
    """Lookahead's spec over the optimizers it may wrap (the registry passes every plain one)."""
    inner = Param(
        "inner",
        "adam",
        label="inner optimizer",
        kind="choice",
        choices=inner_choices,
        help="The optimizer that moves the fast weights.",
    )
    return OptimizerSpec(
        key="lookahead",
        name="Lookahead",
        family="wrapper",
        build=_build_lookahead,
        resolver=_resolve_lookahead,
        params=(_K, _SLOW_ALPHA, inner),
        latex=(
            r"\theta_{t,i} = \theta_{t,i-1} + A(\theta_{t,i-1}),\ i = 1..k;\quad "
            r"\phi_t = \phi_{t-1} + \alpha(\theta_{t,k} - \phi_{t-1}),\ \theta_{t+1,0} = \phi_t"
        ),
        reference="Zhang, Lucas, Hinton & Ba (2019), Lookahead optimizer: k steps forward, 1 step back; "
        "pytorch-optimizer Lookahead",
        summary="Lets any optimizer explore k steps, then pulls back part of the way: a smoothed path.",
        effective_lr_kind="inner",
        explain=explain_lookahead,
        inner_param="inner",
        color="#999933",
    )
