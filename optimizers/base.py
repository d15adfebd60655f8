"""The optimizer contract: pure update rules (optax style) and the spec that describes them.

A rule is a pair of pure functions on tensors whose first axis is the coordinate (x, y) and whose
other axes are independent runs:

    state = rule.init(params)
    values = rule.per_step(lr, step)                 # the engine computes these, once per step
    new_params, state = rule.update(grad, state, params, lr, values)

Everything in an update that depends on the step number (bias corrections, a first-step value, a
decayed lr, Lookahead's sync flag) comes from `per_step`, computed by the engine on the host in
plain float arithmetic, exactly as torch.optim computes it, and handed to every update. That is the
one way: the eager loop, the compiled chunk and the step-by-step view all call engine.step.step,
which calls per_step and then update; no update reads the step number. A rule knows nothing of any
compiler.

A rule returns the new point rather than a step to add: it can then finish with the same fused
operation torch.optim applies in place (param.addcdiv_(...) becomes torch.addcdiv(params, ...)),
and trajectories equal torch.optim's bit for bit. `lr` and every hyperparameter are floats or
tensors broadcastable against params (one value per run). No rule changes its inputs in place:
stored frames may alias them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple

from torch import Tensor

from spec import Param, resolve_params


def no_step_values(lr, step: int) -> tuple:
    """per_step of a rule that does not depend on the step number."""
    return ()


class Rule(NamedTuple):
    init: Callable[[Tensor], Any]
    # update(grad, state, params, lr, values[, hess=...][, closure=...]) -> (new_params, new_state)
    update: Callable[..., tuple[Tensor, Any]]
    # Where the gradient is taken (Nesterov's look-ahead); None means at params.
    probe: Callable[[Tensor, Any], Tensor] | None = None
    # effective_lr(new_state, lr): the per-coordinate factor that multiplied the gradient in the step
    # just taken; None means the scheduled lr itself (see OptimizerSpec.effective_lr_kind).
    effective_lr: Callable[[Any, Any], Tensor] | None = None
    # Newton-type rules receive hess as a keyword of update: hess[i][j] is ∂²f/∂wᵢ∂wⱼ per run.
    needs_hessian: bool = False
    # per_step(lr, step) -> tuple of floats: every value of update `step` (1-based) that depends on
    # the step number. The engine computes it and passes it to update as `values`.
    per_step: Callable[[Any, int], tuple] = no_step_values
    # True when x and y interact inside the update (Newton's Hessian, Adafactor's RMS over the
    # point): the update then needs the whole (2, B) point, not one coordinate at a time.
    coupled: bool = False
    # True when one update evaluates the surface at other points (L-BFGS's line search): update then
    # receives closure as a keyword, closure(point) -> (loss (B,), grad (2, B)) at a (2, B) point,
    # noise-free (engine.step.evaluator). Such rules run eagerly only, like Newton-type ones.
    needs_closure: bool = False


@dataclass(frozen=True)
class TorchTwin:
    """The torch.optim optimizer (or the reference package's) a rule reproduces: its class name and
    keyword arguments, declared once (the snippet export and the reference tests both read them)."""

    cls: str
    kwargs: Callable[[dict], dict]  # resolved hyperparameters -> torch keyword arguments (lr included)
    note: str = ""  # a caveat the snippet prints (Rprop under a schedule, ...)
    # Where the class lives: torch.optim, or the reference package a rule matches (schedulefree,
    # prodigyopt, pytorch_optimizer), which the snippet then imports.
    module: str = "torch.optim"
    # The shape one run's point takes there: (2,), or (1, 2) for optimizers of matrices (Muon).
    shape: tuple[int, ...] = (2,)
    # True when its step takes a closure that re-evaluates the loss (L-BFGS: optimizer.step(closure)).
    closure: bool = False
    # Calls the optimizer needs before its first step (Schedule-Free: ("train",) puts it in train mode).
    calls: tuple[str, ...] = ()
    # "" when the rule equals it bit for bit; otherwise how close they are and why (the theory page
    # prints it, and the bit-for-bit reference loop leaves the rule to its own, bounded test).
    inexact: str = ""

    def arguments(self, hp: Mapping[str, Any]) -> dict:
        return self.kwargs(dict(hp))


@dataclass(frozen=True)
class OptimizerSpec:
    """Everything the app, the tests and the theory page know about one optimizer."""

    key: str
    name: str
    params: tuple[Param, ...]
    build: Callable[[dict], Rule]  # resolved hyperparameters -> rule
    latex: str  # the update rule, the same text as in the docstring
    reference: str  # paper, and the torch.optim function it matches where there is one
    family: str = ""
    summary: str = ""
    effective_lr_kind: str = "scheduled"  # "diagonal", "step size", "scheduled" or "inner"
    effective_lr_note: str = ""
    torch_twin: TorchTwin | None = None  # the torch.optim optimizer it reproduces bit for bit, if any
    # explain(view) -> Explanation: the step-by-step page's sentences for one update, read from the
    # same step values the engine used (optimizers/explain.py).
    explain: Callable[[Any], Any] | None = field(default=None, repr=False)
    # A wrapper's own parameters and the parameter naming its inner optimizer ("inner"), if any.
    inner_param: str | None = None
    # Resolves dynamic hyperparameters (Lookahead's inner optimizer); default: plain specs.
    resolver: Callable[["OptimizerSpec", Mapping[str, Any]], dict] | None = field(default=None, repr=False)
    color: str = ""  # its colour on every figure (figures/palette.py gives one by position if empty)
    # True for a method that replaces the learning-rate schedule (Schedule-Free): the engine runs it at
    # its base lr whatever the scene's schedule, and the pages say so.
    replaces_schedule: bool = False
    # What the step-by-step page calls this optimizer's per-coordinate state fields (its bars), beside
    # the common names figures/anatomy.py knows (m, v, buf, ...); a field named nowhere gets no bar.
    state_labels: Mapping[str, str] = field(default_factory=dict)
    # What the point where the gradient is taken is called (Nesterov's look-ahead, Schedule-Free's y).
    probe_label: str = "look-ahead point"

    @property
    def doc(self) -> str:
        return self.build.__doc__ or ""

    @property
    def torch_name(self) -> str | None:
        return self.torch_twin.cls if self.torch_twin is not None else None

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def resolve(self, hparams: Mapping[str, Any] | None = None) -> dict:
        """Fill defaults, coerce values, refuse unknown names (ValueError naming the valid ones)."""
        if self.resolver is not None:
            return self.resolver(self, hparams or {})
        return resolve_params(self.params, hparams, f"optimizer {self.key!r}")

    def rule(self, hparams: Mapping[str, Any] | None = None) -> Rule:
        return self.build(self.resolve(hparams))

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ValueError(f"optimizer {self.key!r} has no hyperparameter {name!r}")

    def params_with_inner(self, inner: str | None = None) -> tuple[Param, ...]:
        """Every hyperparameter this optimizer takes: its own, then (for a wrapper) those of its inner
        optimizer (`inner`, or the default one)."""
        if self.inner_param is None:
            return self.params
        from optimizers import get_optimizer  # the registry imports this module

        return self.params + get_optimizer(inner or self.defaults()[self.inner_param]).params

    def inner_key(self, hp: Mapping[str, Any]) -> str | None:
        """The inner optimizer a wrapper runs with these hyperparameters (None for a plain rule)."""
        return None if self.inner_param is None else hp.get(self.inner_param, self.defaults()[self.inner_param])
