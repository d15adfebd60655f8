r"""Learning-rate schedules: time-based decays, linear warm-up and reduce-on-plateau.

Pure torch, no Streamlit. Every schedule is a frozen dataclass (hashable, so it can be a cache
key) that the engine drives through three pure functions, optax style:

    state = schedule.start(base_lr)        # base_lr: a float, or a (B,) tensor (one lr per run)
    for t in range(steps):
        lr = schedule.lr(state, t)         # lr of update t (t = 0 is the first update)
        ...                                # loss = f(x_t); x_{t+1} = x_t + update(grad(x_t), lr)
        state = schedule.observe(state, loss)   # loss at x_t, BEFORE update t: only read when
                                                # `schedule.needs_loss` (ReduceLROnPlateau's order:
                                                # loss = closure(); opt.step(); sched.step(loss))

Time-based schedules return a Python float when `base_lr` is a float (cheap for the engine's
B = 1 loop) and a tensor shaped like `base_lr` otherwise. Reduce-on-plateau always works on
(B,) tensors; a float base lr becomes a (1,) float64 tensor.

Schedule parameters are plain scalars (sweep the base lr, not the schedule); `make_schedule`
fills defaults and refuses unknown keys and parameters with the valid ones named.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Sequence

import torch

from spec import Param, resolve_params

__all__ = [
    "Schedule",
    "Constant",
    "Step",
    "MultiStep",
    "Exponential",
    "Reciprocal",
    "Cosine",
    "Warmup",
    "Plateau",
    "PlateauState",
    "SCHEDULES",
    "available_schedules",
    "schedule_class",
    "make_schedule",
    "CONSTANT",
]


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _is_count(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


class Schedule:
    """Shared behaviour. Subclasses are frozen dataclasses and define start/lr (and observe)."""

    key: ClassVar[str] = ""
    name: ClassVar[str] = ""
    latex: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    needs_loss: ClassVar[bool] = False

    def start(self, base_lr: float | torch.Tensor):
        # Time-based schedules only need the base lr itself.
        return base_lr

    def lr(self, state, t: int) -> float | torch.Tensor:
        return state * self._scale(t)

    def _scale(self, t: int) -> float:
        """lr_t / lr_0 of a time-based schedule, as a Python float."""
        raise NotImplementedError

    def observe(self, state, loss: torch.Tensor):
        return state

    def values(
        self, steps: int, base_lr: float = 1.0, losses: Sequence[float] | torch.Tensor | None = None
    ) -> torch.Tensor:
        """The lr of updates 0..steps-1 for one run, float64 of shape (steps,), for previews.

        A loss-based schedule needs `losses`: the loss seen at each update (at least steps - 1 of
        them; losses[t] is observed after update t). Time-based schedules ignore `losses`.
        """
        if self.needs_loss:
            if losses is None:
                raise ValueError(
                    f"{self.name} reads the loss: values() needs a loss history "
                    "(losses=[...], one loss per update) to replay"
                )
            losses = torch.as_tensor(losses, dtype=torch.float64).reshape(-1)
            _check(
                len(losses) >= steps - 1,
                f"{self.name}: {steps} steps need at least {steps - 1} losses; got {len(losses)}",
            )
        state = self.start(float(base_lr))
        out = torch.empty(steps, dtype=torch.float64)
        for t in range(steps):
            out[t] = float(self.lr(state, t))
            if self.needs_loss and t < steps - 1:
                state = self.observe(state, losses[t : t + 1])
        return out


@dataclass(frozen=True)
class Constant(Schedule):
    r"""Constant: η_t = η₀. Equals using no scheduler (or torch ConstantLR with factor 1)."""

    key: ClassVar[str] = "constant"
    name: ClassVar[str] = "constant"
    latex: ClassVar[str] = r"\eta_t = \eta_0"
    description: ClassVar[str] = "The learning rate stays at its initial value."

    def lr(self, state, t: int):
        return state

    def _scale(self, t: int) -> float:
        return 1.0


_GAMMA_HELP = "Factor the learning rate is multiplied by at each drop."


@dataclass(frozen=True)
class Step(Schedule):
    r"""Piecewise constant: η_t = η₀ · γ^⌊t / s⌋.

    Equals torch.optim.lr_scheduler.StepLR(step_size=s, gamma=γ). torch multiplies recursively,
    we use the power, so the two agree to rounding (exactly for γ a power of two).
    """

    step_size: int = 100
    gamma: float = 0.5

    key: ClassVar[str] = "step"
    name: ClassVar[str] = "step decay"
    latex: ClassVar[str] = r"\eta_t = \eta_0\,\gamma^{\lfloor t/s \rfloor}"
    description: ClassVar[str] = "The learning rate is multiplied by γ every s updates."
    params: ClassVar[tuple[Param, ...]] = (
        Param("step_size", 100, 1, 1000, kind="int", label="step size", help="Updates between two drops.", latex="s"),
        Param("gamma", 0.5, 0.01, 0.99, label="drop factor γ", help=_GAMMA_HELP, latex=r"\gamma"),
    )

    def __post_init__(self):
        _check(_is_count(self.step_size, 1), f"step: step_size must be an int >= 1; got {self.step_size!r}")
        _check(self.gamma > 0, f"step: gamma must be > 0; got {self.gamma!r}")

    def _scale(self, t: int) -> float:
        return self.gamma ** (t // self.step_size)


@dataclass(frozen=True)
class MultiStep(Schedule):
    r"""Piecewise constant at chosen updates: η_t = η₀ · γ^(number of milestones ≤ t).

    Equals torch.optim.lr_scheduler.MultiStepLR(milestones, gamma), repeated milestones (drop
    twice) and a milestone 0 (drop from the start) included. `milestones` is a tuple field, not a
    slider: pass it to make_schedule("multistep", milestones=(100, 200)).
    """

    milestones: tuple[int, ...] = (100, 200)
    gamma: float = 0.5

    key: ClassVar[str] = "multistep"
    name: ClassVar[str] = "multi-step decay"
    latex: ClassVar[str] = r"\eta_t = \eta_0\,\gamma^{\#\{m_i \le t\}}"
    description: ClassVar[str] = "The learning rate is multiplied by γ at each chosen milestone update."
    params: ClassVar[tuple[Param, ...]] = (
        Param("gamma", 0.5, 0.01, 0.99, label="drop factor γ", help=_GAMMA_HELP, latex=r"\gamma"),
    )
    extra_fields: ClassVar[tuple[str, ...]] = ("milestones",)

    def __post_init__(self):
        milestones = self.milestones
        _check(
            isinstance(milestones, (tuple, list)) and all(_is_count(m, 0) for m in milestones),
            f"multistep: milestones must be a tuple of ints >= 0; got {milestones!r}",
        )
        object.__setattr__(self, "milestones", tuple(sorted(milestones)))  # bisect needs order
        _check(self.gamma > 0, f"multistep: gamma must be > 0; got {self.gamma!r}")

    def _scale(self, t: int) -> float:
        return self.gamma ** bisect.bisect_right(self.milestones, t)


@dataclass(frozen=True)
class Exponential(Schedule):
    r"""Exponential decay (lecture-note form): η_t = η₀ · exp(−t / r).

    Equals torch.optim.lr_scheduler.ExponentialLR(gamma=exp(−1/r)); torch multiplies by γ each
    step, so it agrees to rounding (relative error grows like t · 1e-16).
    """

    r: float = 200.0

    key: ClassVar[str] = "exponential"
    name: ClassVar[str] = "exponential decay"
    latex: ClassVar[str] = r"\eta_t = \eta_0\, e^{-t/r}"
    description: ClassVar[str] = "The learning rate shrinks by the factor e every r updates."
    params: ClassVar[tuple[Param, ...]] = (
        Param(
            "r",
            200.0,
            10.0,
            5000.0,
            log=True,
            label="time scale r",
            help="Updates over which the learning rate shrinks by a factor e.",
            latex="r",
        ),
    )

    def __post_init__(self):
        _check(self.r > 0, f"exponential: r must be > 0; got {self.r!r}")

    def _scale(self, t: int) -> float:
        return math.exp(-t / self.r)


@dataclass(frozen=True)
class Reciprocal(Schedule):
    r"""Reciprocal (power) decay: η_t = η₀ · (1 + t / r)^(−c).

    torch has no dedicated class; it equals LambdaLR(lambda t: (1 + t / r) ** (-c)) exactly.
    """

    r: float = 100.0
    c: float = 1.0

    key: ClassVar[str] = "reciprocal"
    name: ClassVar[str] = "reciprocal decay"
    latex: ClassVar[str] = r"\eta_t = \eta_0\,\left(1 + \frac{t}{r}\right)^{-c}"
    description: ClassVar[str] = "The learning rate decays like a power of time, slower than exponentially."
    params: ClassVar[tuple[Param, ...]] = (
        Param(
            "r", 100.0, 1.0, 5000.0, log=True, label="time scale r", help="Updates before the decay sets in.", latex="r"
        ),
        Param(
            "c",
            1.0,
            0.1,
            2.0,
            label="power c",
            help="How fast the learning rate falls once t ≫ r (η ∝ t^−c).",
            latex="c",
        ),
    )

    def __post_init__(self):
        _check(self.r > 0, f"reciprocal: r must be > 0; got {self.r!r}")
        _check(self.c >= 0, f"reciprocal: c must be >= 0; got {self.c!r}")

    def _scale(self, t: int) -> float:
        return (1 + t / self.r) ** (-self.c)


_MIN_FACTOR_HELP = "Lowest learning rate as a fraction of the initial one."


@dataclass(frozen=True)
class Cosine(Schedule):
    r"""Cosine annealing: η_t = η_min + (η₀ − η_min)(1 + cos(π t / T)) / 2 for t ≤ T, η_min after.

    η_min = min_factor · η₀, so the schedule scales with a swept base lr. For t ≤ T_max it equals
    torch.optim.lr_scheduler.CosineAnnealingLR(T_max, eta_min=min_factor·lr) to rounding (torch
    updates recursively). After T_max torch's lr climbs back up along the cosine (period 2·T_max);
    ours stays at η_min.
    """

    T_max: int = 500
    min_factor: float = 0.0

    key: ClassVar[str] = "cosine"
    name: ClassVar[str] = "cosine annealing"
    latex: ClassVar[str] = (
        r"\eta_t = \eta_{\min} + \tfrac{1}{2}(\eta_0 - \eta_{\min})"
        r"\left(1 + \cos\frac{\pi \min(t, T)}{T}\right)"
    )
    description: ClassVar[str] = "The learning rate follows half a cosine wave down to its minimum over T updates."
    params: ClassVar[tuple[Param, ...]] = (
        Param(
            "T_max",
            500,
            10,
            2000,
            kind="int",
            label="length T",
            help="Updates to reach the minimum; the learning rate stays there afterwards.",
            latex="T",
        ),
        Param(
            "min_factor",
            0.0,
            0.0,
            0.5,
            label="minimum (fraction of η₀)",
            help=_MIN_FACTOR_HELP,
            latex=r"\eta_{\min}/\eta_0",
        ),
    )

    def __post_init__(self):
        _check(_is_count(self.T_max, 1), f"cosine: T_max must be an int >= 1; got {self.T_max!r}")
        _check(0 <= self.min_factor <= 1, f"cosine: min_factor must be in [0, 1]; got {self.min_factor!r}")

    def _scale(self, t: int) -> float:
        m = self.min_factor
        return m + (1 - m) * (1 + math.cos(math.pi * min(t, self.T_max) / self.T_max)) / 2


@dataclass(frozen=True)
class Warmup(Schedule):
    r"""Linear warm-up in front of any schedule: η_t = w(t) · inner_t, with
    w(t) = s + (1 − s) · min(t, W) / W  (s = start_factor, W = warmup_steps).

    Multiplicative, so from update W on it is exactly the inner schedule. With a time-based inner
    it equals torch ChainedScheduler([LinearLR(start_factor=s, end_factor=1, total_iters=W),
    inner's torch scheduler]) to rounding (torch's chain multiplies factors into the lr). Over
    `plateau`, the plateau logic (its min lr and eps check) sees its own, un-warmed lr; this equals
    stepping LinearLR and ReduceLROnPlateau on one torch optimizer as long as min_lr stays 0.
    start_factor 0 is allowed (torch's LinearLR wants > 0).
    """

    inner: Schedule
    warmup_steps: int = 50
    start_factor: float = 0.01

    key: ClassVar[str] = "warmup"
    name: ClassVar[str] = "linear warm-up"
    latex: ClassVar[str] = (
        r"\eta_t = \left(s + (1 - s)\,\frac{\min(t, W)}{W}\right)"
        r"\eta^{\text{inner}}_t"
    )
    description: ClassVar[str] = (
        "The learning rate ramps up linearly over the first W updates, then follows the chosen schedule."
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param(
            "warmup_steps",
            50,
            1,
            500,
            kind="int",
            label="warm-up steps",
            help="Updates to ramp up to the full learning rate.",
            latex="W",
        ),
        Param(
            "start_factor",
            0.01,
            0.001,
            1.0,
            log=True,
            label="start factor",
            help="First learning rate as a fraction of the schedule's.",
            latex="s",
        ),
    )

    def __post_init__(self):
        _check(isinstance(self.inner, Schedule), f"warmup: inner must be a schedule; got {self.inner!r}")
        _check(_is_count(self.warmup_steps, 1), f"warmup: warmup_steps must be an int >= 1; got {self.warmup_steps!r}")
        _check(0 <= self.start_factor <= 1, f"warmup: start_factor must be in [0, 1]; got {self.start_factor!r}")

    @property
    def needs_loss(self) -> bool:  # type: ignore[override]
        return self.inner.needs_loss

    def start(self, base_lr):
        return self.inner.start(base_lr)

    def warm(self, t: int) -> float:
        """w(t), the warm-up multiplier."""
        s = self.start_factor
        return s + (1 - s) * min(t, self.warmup_steps) / self.warmup_steps

    def lr(self, state, t: int):
        return self.inner.lr(state, t) * self.warm(t)

    def observe(self, state, loss):
        return self.inner.observe(state, loss)


class PlateauState(NamedTuple):
    """Per-run counters of reduce-on-plateau, all of shape (B,) (or (1,) for a float base lr)."""

    lr: torch.Tensor  # current lr
    min_lr: torch.Tensor  # floor, min_factor · η₀
    best: torch.Tensor  # best loss so far (inf before the first observation)
    num_bad: torch.Tensor  # int64: observations since the last improvement
    cooldown_left: torch.Tensor  # int64: observations left in which bad ones are not counted


@dataclass(frozen=True)
class Plateau(Schedule):
    r"""Reduce on plateau: keep η until the loss stops improving, then η ← max(f·η, η_min).

    Equals torch.optim.lr_scheduler.ReduceLROnPlateau(mode="min", factor=f, patience,
    threshold, threshold_mode="rel", cooldown, min_lr=min_factor·η₀, eps=1e-8), bit for bit in
    float64, run by run:
    - a loss is better when loss < best · (1 − threshold); the first finite loss always is
      (best starts at inf); a NaN loss never is (it counts as bad);
    - during cooldown bad observations are not counted;
    - after more than `patience` bad observations in a row the lr drops and cooldown starts;
      the drop is skipped when it would change the lr by no more than eps (1e-8).
    The lecture notes' "halve η when the validation error stops improving" is factor = 0.5.
    """

    factor: float = 0.5
    patience: int = 10
    threshold: float = 1e-4
    cooldown: int = 0
    min_factor: float = 0.0

    eps: ClassVar[float] = 1e-8  # torch's default; not a slider
    key: ClassVar[str] = "plateau"
    name: ClassVar[str] = "reduce on plateau"
    latex: ClassVar[str] = (
        r"\eta_{t+1} = \begin{cases}\max(f\,\eta_t,\ \eta_{\min}) & "
        r"\text{after more than } p \text{ updates without improvement}\\"
        r"\eta_t & \text{otherwise}\end{cases}"
    )
    description: ClassVar[str] = "The learning rate is cut by a factor whenever the loss has not improved for a while."
    params: ClassVar[tuple[Param, ...]] = (
        Param(
            "factor",
            0.5,
            0.05,
            0.95,
            label="factor f",
            help="The learning rate is multiplied by f at each reduction.",
            latex="f",
        ),
        Param(
            "patience",
            10,
            0,
            100,
            kind="int",
            label="patience",
            help="Updates without improvement tolerated before a reduction.",
            latex="p",
        ),
        Param(
            "threshold",
            1e-4,
            1e-6,
            1e-1,
            log=True,
            label="threshold",
            help="Relative decrease of the loss that counts as an improvement.",
        ),
        Param(
            "cooldown",
            0,
            0,
            100,
            kind="int",
            label="cooldown",
            help="Updates after a reduction during which no new reduction can happen.",
        ),
        Param(
            "min_factor",
            0.0,
            0.0,
            0.5,
            label="minimum (fraction of η₀)",
            help=_MIN_FACTOR_HELP,
            latex=r"\eta_{\min}/\eta_0",
        ),
    )
    needs_loss: ClassVar[bool] = True

    def __post_init__(self):
        _check(0 <= self.factor < 1, f"plateau: factor must be in [0, 1); got {self.factor!r}")
        _check(_is_count(self.patience, 0), f"plateau: patience must be an int >= 0; got {self.patience!r}")
        _check(0 <= self.threshold < 1, f"plateau: threshold must be in [0, 1); got {self.threshold!r}")
        _check(_is_count(self.cooldown, 0), f"plateau: cooldown must be an int >= 0; got {self.cooldown!r}")
        _check(0 <= self.min_factor <= 1, f"plateau: min_factor must be in [0, 1]; got {self.min_factor!r}")

    def start(self, base_lr) -> PlateauState:
        if not isinstance(base_lr, torch.Tensor):
            base_lr = torch.tensor([float(base_lr)], dtype=torch.float64)
        counter = torch.zeros(base_lr.shape, dtype=torch.int64, device=base_lr.device)
        return PlateauState(
            lr=base_lr.clone(),
            min_lr=base_lr * self.min_factor,
            best=torch.full_like(base_lr, math.inf),
            num_bad=counter,
            cooldown_left=counter,
        )

    def lr(self, state: PlateauState, t: int) -> torch.Tensor:
        return state.lr

    def observe(self, state: PlateauState, loss: torch.Tensor) -> PlateauState:
        # The state follows the loss onto its device (a float base lr starts on the CPU).
        if loss.device != state.lr.device:
            state = PlateauState(*(s.to(loss.device) for s in state))
        lr, min_lr, best, num_bad, cooldown_left = state
        loss = loss.to(best.dtype)
        # torch's _is_better for mode="min", threshold_mode="rel"; NaN compares False.
        better = loss < best * (1.0 - self.threshold)
        best = torch.where(better, loss, best)
        num_bad = torch.where(better, 0, num_bad + 1)
        in_cooldown = cooldown_left > 0
        cooldown_left = torch.where(in_cooldown, cooldown_left - 1, cooldown_left)
        num_bad = torch.where(in_cooldown, 0, num_bad)  # bad observations in cooldown don't count
        reduce = num_bad > self.patience
        new_lr = torch.maximum(lr * self.factor, min_lr)
        lr = torch.where(reduce & (lr - new_lr > self.eps), new_lr, lr)
        cooldown_left = torch.where(reduce, self.cooldown, cooldown_left)
        num_bad = torch.where(reduce, 0, num_bad)
        return PlateauState(lr, min_lr, best, num_bad, cooldown_left)


# ---- registry -------------------------------------------------------------------------------

_CLASSES: dict[str, type[Schedule]] = {
    cls.key: cls for cls in (Constant, Step, MultiStep, Exponential, Reciprocal, Cosine, Warmup, Plateau)
}
SCHEDULES: tuple[str, ...] = (
    "constant",
    "step",
    "multistep",
    "exponential",
    "reciprocal",
    "cosine",
    "warmup",
    "plateau",
)


def available_schedules() -> tuple[str, ...]:
    """Registry keys in display order."""
    return SCHEDULES


def schedule_class(key: str) -> type[Schedule]:
    """The class behind a key (its params, name, latex, description); unknown key -> ValueError."""
    if key not in _CLASSES:
        raise ValueError(f"unknown schedule {key!r}; valid: {', '.join(SCHEDULES)}")
    return _CLASSES[key]


def _resolve(cls: type[Schedule], given: dict[str, Any], extra_names: tuple[str, ...] = ()) -> dict:
    """Refuse unknown names (listing all valid ones), coerce slider params, fill defaults."""
    valid = [p.name for p in cls.params] + list(extra_names)
    unknown = sorted(set(given) - set(valid))
    _check(not unknown, f"{cls.key}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(valid) or 'none'}")
    for name, value in given.items():
        _check(
            not isinstance(value, torch.Tensor),
            f"{cls.key}: {name} must be a number; schedule parameters are not swept (sweep the lr)",
        )
    slider = {k: v for k, v in given.items() if k not in extra_names}
    values = resolve_params(cls.params, slider, cls.key)
    values.update({k: v for k, v in given.items() if k in extra_names})
    return values


def make_schedule(key: str, **params: Any) -> Schedule:
    """A schedule from its key; missing params take their defaults.

    multistep also takes `milestones` (a tuple of ints). warmup takes `inner`, a schedule key
    (default "constant": a pure warm-up) or a schedule object, plus warmup_steps, start_factor and,
    when `inner` is a key, the inner schedule's own params:
        make_schedule("warmup", inner="cosine", warmup_steps=50, T_max=500)
    """
    cls = schedule_class(key)
    if cls is not Warmup:
        return cls(**_resolve(cls, params, getattr(cls, "extra_fields", ())))
    inner = params.pop("inner", "constant")
    own = {k: params.pop(k) for k in [p.name for p in Warmup.params] if k in params}
    if isinstance(inner, Schedule):
        _check(
            not params,
            f"warmup: unknown parameter(s) {', '.join(sorted(params))} next to an inner "
            f"schedule object; valid: inner, {', '.join(p.name for p in Warmup.params)}",
        )
    else:
        _check(inner != "warmup", "warmup: inner cannot be 'warmup'; pass a Warmup object to nest them")
        inner_cls = schedule_class(inner)
        inner_names = [p.name for p in inner_cls.params] + list(getattr(inner_cls, "extra_fields", ()))
        unknown = sorted(set(params) - set(inner_names))
        valid = ["inner"] + [p.name for p in Warmup.params] + inner_names
        _check(
            not unknown, f"warmup over {inner}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
        inner = make_schedule(inner, **params)
    return Warmup(inner, **_resolve(Warmup, own))


CONSTANT = make_schedule("constant")
