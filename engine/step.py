"""One update of one optimizer on one surface: the step that every path of the engine takes.

The eager roll-out (engine/rollout.py), the compiled chunk (engine/fused.py) and the step-by-step
view (engine/anatomy.py) all call `step`; the network trainer (engine/landscape.py) calls
`weights_step`, the same step on weight vectors with one gradient call for several rules.
`step` owns where the gradient is taken (a rule's probe, Nesterov's look-ahead), the gradient and
its noise, the Hessian for Newton-type rules, the closure for rules that evaluate the surface
elsewhere within one step (L-BFGS's line search), and the rule's update with the per-step values the
caller computed once with `rule.per_step(lr, t)`.

Gradient noise, where there is any, is added to the one gradient the step takes at its probe point
(the gradient handed to update and recorded). A closure's evaluations are noise-free: a rule with a
line search sees the step's noise in the gradient at its current point only, and the surface's true
loss and gradient at every trial point.

On a data surface a step may take its gradient on a minibatch (`examples`: (B, k) indices, one row
per run, engine/noise.minibatches): then the gradient, the Hessian of a Newton-type rule and a line
search's closure are all the minibatch's, as torch.optim sees them when its closure computes the
loss of the current batch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor


class Step(NamedTuple):
    at: Any  # where the gradient was taken
    grad: Any  # the gradient there (noise included)
    params: Any  # the new point
    state: Any  # the rule's new state
    hess: Any = None  # the Hessian at `at`, for Newton-type rules


def hessian(surface, at, examples=None) -> tuple:
    """((hxx, hxy), (hxy, hyy)) at a (2, B) point, as Newton-type rules take it (on a minibatch's
    examples when given)."""
    if examples is None:
        hxx, hxy, hyy = surface.hess_xy(at[0], at[1])
    else:
        hxx, hxy, hyy = surface.hess_xy_on(at[0], at[1], examples)
    return ((hxx, hxy), (hxy, hyy))


def gradient(surface, x, y, examples=None) -> tuple:
    """(gx, gy) at (x, y): the whole surface's, or the mean over each run's minibatch `examples`."""
    return surface.grad_xy(x, y) if examples is None else surface.grad_xy_on(x, y, examples)


def evaluator(surface, examples=None):
    """closure(point) -> (loss (B,), grad (2, B)): the surface's noise-free value and gradient at a (2, B)
    point (the minibatch's when examples are given). The keyword `closure` of the update of a rule with
    `needs_closure` (L-BFGS's line search)."""

    def closure(point):
        x, y = point[0], point[1]
        loss = surface.value_xy(x, y) if examples is None else surface.value_xy_on(x, y, examples)
        grad = torch.stack(torch.broadcast_tensors(*gradient(surface, x, y, examples), x))[:2]
        return torch.broadcast_to(loss, x.shape), grad

    return closure


def step(surface, rule, params, state, lr, values: tuple, noise=None, examples=None) -> Step:
    """One update. params: a (2, B) tensor (its state alongside), or a pair (x, y) of (B,) rows with a
    pair of states: the fused engine's split form, where the rule updates each coordinate on its own
    (every rule whose `coupled` is False treats x and y independently; a rule that needs the Hessian
    or a closure is never split). noise: (2, B) or None. examples: (B, k) or None (the whole surface)."""
    split = isinstance(params, tuple)
    if split:
        (x, y), (sx, sy) = params, state
        at = (rule.probe(x, sx), rule.probe(y, sy)) if rule.probe is not None else params
    else:
        at = rule.probe(params, state) if rule.probe is not None else params
    gx, gy = gradient(surface, at[0], at[1], examples)
    if noise is not None:
        gx, gy = gx + noise[0], gy + noise[1]
    if split:
        nx, sx = rule.update(gx, sx, x, lr, values)
        ny, sy = rule.update(gy, sy, y, lr, values)
        return Step(at, (gx, gy), (nx, ny), (sx, sy))
    g = torch.stack((gx, gy))
    extra = {}
    if rule.needs_hessian:
        extra["hess"] = hessian(surface, at, examples)
    if rule.needs_closure:
        extra["closure"] = evaluator(surface, examples)
    new, state = rule.update(g, state, params, lr, values, **extra)
    return Step(at, g, new, state, extra.get("hess"))


def gradient_only(surface, rule, params, state, noise=None, examples=None) -> Tensor:
    """The (2, B) gradient the next update would take (at the rule's probe, noise added): the last
    recorded point's. params and state as in `step`."""
    if isinstance(params, tuple):
        (x, y), (sx, sy) = params, state
        at = (rule.probe(x, sx), rule.probe(y, sy)) if rule.probe is not None else params
    else:
        at = rule.probe(params, state) if rule.probe is not None else params
    g = torch.stack(torch.broadcast_tensors(*gradient(surface, at[0], at[1], examples)))
    return g if noise is None else g + noise


def weights_step(rules, params: list, states: list, lrs: list, t: int, gradient_of) -> tuple[list, list]:
    """Step t of several element-wise rules at once, each on its own weight vector (P,): every rule's
    probe point, ONE call of gradient_of on them stacked ((K, P) -> (K, P) gradients: a network's
    batched backward pass), then every rule's update with its per-step values. Returns (params, states)."""
    at = torch.stack([rule.probe(p, s) if rule.probe is not None else p for rule, p, s in zip(rules, params, states)])
    grads = gradient_of(at)
    new = [
        rule.update(g, s, p, lr, rule.per_step(lr, t)) for rule, g, s, p, lr in zip(rules, grads, states, params, lrs)
    ]
    return [p for p, _ in new], [s for _, s in new]
