"""The optimizer contract: pure update rules (optax style) and the spec that describes them.

A rule is a pair of pure functions on tensors whose first axis is the coordinate (x, y) and whose
other axes are independent runs:

    state = rule.init(params)
    new_params, state = rule.update(grad, state, params, lr, step)

`step` is the 1-based number of this update (a Python int, the same for every run of a batch):
bias corrections then stay plain float arithmetic, exactly as torch.optim computes them.
A rule returns the new point rather than a step to add: it can then finish with the same fused
operation torch.optim applies in place (param.addcdiv_(...) becomes torch.addcdiv(params, ...)),
and trajectories equal torch.optim's bit for bit, even where the dynamics amplify rounding.
`lr` and every hyperparameter are floats or tensors broadcastable against params (one value per
run). No rule changes its inputs in place: stored frames may alias them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple

from torch import Tensor

from optimizers.hparams import Param, resolve_params


class Rule(NamedTuple):
    init: Callable[[Tensor], Any]
    update: Callable[..., tuple[Tensor, Any]]
    # Where the gradient is taken (Nesterov's look-ahead); None means at params.
    probe: Callable[[Tensor, Any], Tensor] | None = None
    # Per-coordinate factor that multiplies the gradient in the step just taken, from the new
    # state; None means the scheduled lr itself (see OptimizerSpec.effective_lr_kind). Written
    # lr * d.reciprocal(), not lr / d: torch computes float / tensor that way, so the eager engine
    # (lr a float) and the fused one (lr a tensor) then round alike.
    effective_lr: Callable[[Any, Any, int], Tensor] | None = None
    # Newton-type rules receive hess as a keyword of update: hess[i][j] is ∂²f/∂wᵢ∂wⱼ per run.
    needs_hessian: bool = False
    # scalars(lr, step) -> tuple: every value of a step that depends on the step number (β₁ᵗ, bias
    # corrections, a decayed lr, a first-step flag) in float arithmetic. update computes them itself
    # unless given them as update(..., pre=scalars): the fused engine computes them once per step on
    # the host, and its compiled chunk, traced once at step 1, must read the step number no other
    # way (a period dividing the chunk length, as Lookahead's k, aside; checked when it is built).
    scalars: Callable[[Any, int], tuple] | None = None


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
    effective_lr_kind: str = "scheduled"  # "diagonal" or "scheduled": what traj.effective_lr holds
    effective_lr_note: str = ""
    torch_name: str | None = None  # torch.optim class it reproduces, if any
    # Resolves dynamic hyperparameters (Lookahead's inner optimizer); default: plain specs.
    resolver: Callable[["OptimizerSpec", Mapping[str, Any]], dict] | None = field(default=None, repr=False)

    @property
    def doc(self) -> str:
        return self.build.__doc__ or ""

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
