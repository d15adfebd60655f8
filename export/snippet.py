"""A self-contained PyTorch script that reproduces one optimizer's run of a scene with torch.optim
(or, for an optimizer torch.optim lacks, the reference package its file names: schedulefree, ...).

    from export.snippet import pytorch_snippet
    print(pytorch_snippet(cfg, "adam"))

The script needs only torch and that package (it never imports gradscape): the surface as a plain function of a
(2,) tensor, the torch.optim optimizer with the run's hyperparameters, the lr scheduler that
equals gradscape's schedule, and the loop (zero_grad, loss = f(w), backward, step, scheduler
step) collecting the path. Run in float64, it reproduces gradscape's trajectory to rounding:
torch's autograd gradient and gradscape's hand-written one differ in the last bits only (tested,
tests/export/test_snippet.py).

Choices, and why:
- Noise: gradscape adds Gaussian noise to the gradient from its own counter-based generator
  (a hash of seed, step and coordinate: engine/noise.py). The script carries a copy of that
  generator in plain torch, so a noisy run is reproduced exactly too; replace the call with
  torch.randn(2) * NOISE for ordinary noise (the path then differs draw by draw).
- Nesterov is not offered. gradscape's `nesterov` is the look-ahead form of the lecture notes
  (gradient at w + γu, the path is w); torch's SGD(nesterov=True) tracks the look-ahead point
  w̃ = w + γu itself, so its path is shifted by γu (equal only through that relation, and only with
  a constant lr). Use `momentum` for torch's heavy ball. Lion, AdaBound, Lookahead, Ranger and the
  Newton methods are not in torch.optim either.
- Schedules use torch's own schedulers where they equal gradscape's (StepLR, MultiStepLR,
  ExponentialLR with γ = exp(−1/r), CosineAnnealingLR up to T_max, LinearLR for the warm-up,
  ReduceLROnPlateau) and LambdaLR with gradscape's closed form otherwise (reciprocal decay; cosine
  past T_max, where torch's would climb back; warm-up over a schedule that does not chain).
"""

from __future__ import annotations

import math

from optimizers import get_optimizer


def supported() -> tuple[str, ...]:
    """The optimizers with a torch.optim twin (declared in their own files), in display order."""
    from optimizers import available_optimizers

    return tuple(k for k in available_optimizers() if get_optimizer(k).torch_twin is not None)


def _r(v) -> str:
    """A float literal that reads back to the same float64."""
    return repr(float(v))


# ---- surfaces -------------------------------------------------------------------------------------


def _surface_code(surface) -> tuple[list[str], list[str]]:
    """(constants, body of f(w)): f(w) takes a (2,) tensor and returns the loss (0-dim tensor)."""
    key, v = surface.key, surface.values
    if key == "ravine":
        return (
            [
                f"CONDITION = {_r(v['condition'])}  # κ: ratio of the steep to the shallow curvature",
                f"ANGLE = {_r(v['angle'])}  # rotation of the ravine, in degrees",
                "_K = 1.0 / CONDITION",
                "_C, _S = math.cos(math.radians(ANGLE)), math.sin(math.radians(ANGLE))",
            ],
            [
                '"""Quadratic ravine: f = ½(u²/κ + v²), (u, v) = (x, y) rotated by ANGLE."""',
                "x, y = w[0], w[1]",
                "u = _C * x + _S * y",
                "v = -_S * x + _C * y",
                "return 0.5 * (_K * u * u + v * v)",
            ],
        )
    if key == "saddle":
        return [], [
            '"""Saddle point: f = x²/2 + y⁴/4 − y²/2 (saddle at the origin, minima at (0, ±1))."""',
            "x, y = w[0], w[1]",
            "y2 = y * y",
            "return 0.5 * x * x + 0.25 * y2 * y2 - 0.5 * y2",
        ]
    if key == "saddle_unbounded":
        return [], ['"""Unbounded saddle: f = ½(x² − y²)."""', "x, y = w[0], w[1]", "return 0.5 * (x * x - y * y)"]
    if key == "rosenbrock":
        return (
            [f"A = {_r(v['a'])}", f"B = {_r(v['b'])}"],
            [
                '"""Rosenbrock: f = (A − x)² + B(y − x²)², minimum at (A, A²)."""',
                "x, y = w[0], w[1]",
                "d = y - x * x",
                "return (A - x) ** 2 + B * d * d",
            ],
        )
    if key == "plateau":
        return (
            [f"WIDTH = {_r(v['width'])}  # radius of the well", "_INV_W2 = 1.0 / (WIDTH * WIDTH)"],
            [
                '"""Plateau: f = 1 − exp(−(x² + y²)/WIDTH²), a narrow well in a flat plain."""',
                "x, y = w[0], w[1]",
                "return 1.0 - torch.exp(-(x * x + y * y) * _INV_W2)",
            ],
        )
    if key == "himmelblau":
        return [], [
            '"""Himmelblau: f = (x² + y − 11)² + (x + y² − 7)², four minima."""',
            "x, y = w[0], w[1]",
            "p, q = x * x + y - 11.0, x + y * y - 7.0",
            "return p * p + q * q",
        ]
    if key == "rastrigin":
        return (
            ["_TAU = 2.0 * math.pi"],
            [
                '"""Rastrigin: f = 20 + Σ (xᵢ² − 10 cos 2πxᵢ)."""',
                "x, y = w[0], w[1]",
                "return 20.0 + x * x - 10.0 * torch.cos(_TAU * x) + y * y - 10.0 * torch.cos(_TAU * y)",
            ],
        )
    if key == "beale":
        return [], [
            '"""Beale: f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²."""',
            "x, y = w[0], w[1]",
            "y2 = y * y",
            "a, b, c = 1.5 - x + x * y, 2.25 - x + x * y2, 2.625 - x + x * y2 * y",
            "return a * a + b * b + c * c",
        ]
    if key == "two_wells":
        return (
            [f"TILT = {_r(v['tilt'])}  # how much deeper the left well is"],
            [
                '"""Two wells: f = (x² − 1)² + TILT·x + y²."""',
                "x, y = w[0], w[1]",
                "q = x * x - 1.0",
                "return q * q + TILT * x + y * y",
            ],
        )
    if key == "formula":
        return [], _formula_body(surface)
    if hasattr(surface, "snippet_code"):  # a data surface writes its own: the data set's loading code
        return surface.snippet_code()
    raise ValueError(f"no PyTorch form for surface {key!r} yet")


_TORCH_FUNCS = {
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "exp": "exp",
    "log": "log",
    "ln": "log",
    "log10": "log10",
    "log2": "log2",
    "sqrt": "sqrt",
    "abs": "abs",
    "tanh": "tanh",
    "sinh": "sinh",
    "cosh": "cosh",
    "atan": "atan",
    "arctan": "atan",
}


def _formula_body(surface) -> list[str]:
    """Torch code generated from the formula's parsed tree (never from its raw text): only numbers,
    x, y, + - * / and whitelisted torch functions can appear. Constant parts are folded exactly as
    gradscape folds them."""
    from surfaces.formula import BinOp, Call, Name, Neg, Num, Pow, _compile, _has_variable

    def const(node) -> str:
        value = _compile(node)
        if not isinstance(value, float):  # pragma: no cover - guarded by _has_variable
            raise ValueError("formula: a constant part did not fold to a number")
        if not math.isfinite(value):
            return f"float({str(value)!r})"
        text = _r(value)
        return f"({text})" if value < 0 else text

    def emit(node) -> str:
        if not _has_variable(node):
            return const(node)
        if isinstance(node, Name):
            return node.name  # x or y: constants were folded above
        if isinstance(node, Neg):
            return f"(-{emit(node.operand)})"
        if isinstance(node, BinOp):
            return f"({emit(node.left)} {node.op} {emit(node.right)})"
        if isinstance(node, Pow):
            return f"torch.pow({emit(node.base)}, {const(node.exponent)})"
        if isinstance(node, Call):
            if node.func in _TORCH_FUNCS:
                return f"torch.{_TORCH_FUNCS[node.func]}({emit(node.args[0])})"
            a, b = node.args
            if not _has_variable(a):
                a, b = b, a  # min and max are symmetric
            if not _has_variable(b):
                return f"torch.clamp({emit(a)}, {'max' if node.func == 'min' else 'min'}={const(b)})"
            return f"torch.{'minimum' if node.func == 'min' else 'maximum'}({emit(a)}, {emit(b)})"
        if isinstance(node, Num):  # pragma: no cover - constants are folded above
            return const(node)
        raise ValueError(f"formula: cannot write {type(node).__name__} as torch code")

    tree = surface.formula.tree
    text = surface.formula.text.replace("\\", "")
    doc = f'"""Custom formula: f(x, y) = {text}"""'
    if not _has_variable(tree):
        return [doc, "x, y = w[0], w[1]", f"return x * 0.0 + {const(tree)}  # a constant surface"]
    return [doc, "x, y = w[0], w[1]", f"return {emit(tree)}"]


# ---- optimizers -----------------------------------------------------------------------------------


def _literal(v) -> str:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return repr(v)
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_literal(x) for x in v) + ")"
    if isinstance(v, int):
        return repr(v)
    return _r(v)


def _optimizer_code(spec, hp: dict) -> str:
    """<module>.<twin>([w], ...): the class and arguments the optimizer's file declares."""
    twin = spec.torch_twin
    args = ", ".join(f"{name}={_literal(value)}" for name, value in twin.arguments(hp).items())
    return f"{twin.module}.{twin.cls}([w], {args})"


def _unsupported(key: str) -> str:
    why = {
        "nesterov": (
            "gradscape's Nesterov is the look-ahead form (gradient at w + γu, path w), while torch's "
            "SGD(nesterov=True) tracks the look-ahead point w + γu itself, so their paths differ; "
        )
    }
    return f"no torch.optim equivalent for {key!r}: {why.get(key, '')}snippets exist for " + ", ".join(supported())


# ---- schedules ------------------------------------------------------------------------------------


def _scale_expr(schedule) -> str:
    """gradscape's lr_t / lr_0 of a time-based schedule as a Python expression in t."""
    from optimizers.schedules import Constant, Cosine, Exponential, MultiStep, Reciprocal, Step, Warmup

    if isinstance(schedule, Constant):
        return "1.0"
    if isinstance(schedule, Step):
        return f"{_r(schedule.gamma)} ** (t // {schedule.step_size})"
    if isinstance(schedule, MultiStep):
        return f"{_r(schedule.gamma)} ** sum(1 for m in {list(schedule.milestones)} if m <= t)"
    if isinstance(schedule, Exponential):
        return f"math.exp(-t / {_r(schedule.r)})"
    if isinstance(schedule, Reciprocal):
        return f"(1 + t / {_r(schedule.r)}) ** (-{_r(schedule.c)})"
    if isinstance(schedule, Cosine):
        m = _r(schedule.min_factor)
        return f"{m} + (1 - {m}) * (1 + math.cos(math.pi * min(t, {schedule.T_max}) / {schedule.T_max})) / 2"
    if isinstance(schedule, Warmup):
        s, w = _r(schedule.start_factor), schedule.warmup_steps
        return f"({_scale_expr(schedule.inner)}) * ({s} + (1 - {s}) * min(t, {w}) / {w})"
    raise ValueError(f"no closed form for schedule {schedule.key!r}")


def _named(schedule, steps: int, lr: float) -> str | None:
    """torch's own scheduler equal to a time-based gradscape schedule, or None (use LambdaLR)."""
    from optimizers.schedules import Cosine, Exponential, MultiStep, Step

    S = "torch.optim.lr_scheduler"
    if isinstance(schedule, Step):
        return f"{S}.StepLR(optimizer, step_size={schedule.step_size}, gamma={_r(schedule.gamma)})"
    if isinstance(schedule, MultiStep):
        return f"{S}.MultiStepLR(optimizer, milestones={list(schedule.milestones)}, gamma={_r(schedule.gamma)})"
    if isinstance(schedule, Exponential):
        return f"{S}.ExponentialLR(optimizer, gamma=math.exp(-1 / {_r(schedule.r)}))"
    if isinstance(schedule, Cosine) and steps <= schedule.T_max:
        return f"{S}.CosineAnnealingLR(optimizer, T_max={schedule.T_max}, eta_min={_r(schedule.min_factor * lr)})"
    return None


def _schedule_code(schedule, steps: int, lr: float) -> tuple[list[str], list[str]]:
    """(lines that build the scheduler(s), lines inside the loop after optimizer.step())."""
    from optimizers.schedules import Constant, Cosine, Plateau, Warmup

    S = "torch.optim.lr_scheduler"
    if isinstance(schedule, Constant):
        return ["# Constant learning rate: no scheduler."], []

    def plateau_code(p) -> str:
        return (
            f'{S}.ReduceLROnPlateau(optimizer, mode="min", factor={_r(p.factor)}, patience={p.patience}, '
            f'threshold={_r(p.threshold)}, threshold_mode="rel", cooldown={p.cooldown}, '
            f"min_lr={_r(p.min_factor * lr)}, eps={_r(p.eps)})"
        )

    if isinstance(schedule, Plateau):
        return ([f"scheduler = {plateau_code(schedule)}"], ["scheduler.step(loss.item())  # the loss before this step"])

    def lambda_lines() -> list[str]:
        return [f"scheduler = {S}.LambdaLR(optimizer, lambda t: {_scale_expr(schedule)})"]

    if isinstance(schedule, Warmup):
        inner, s, w = schedule.inner, schedule.start_factor, schedule.warmup_steps
        linear = f"{S}.LinearLR(optimizer, start_factor={_r(s)}, end_factor=1.0, total_iters={w})"
        if isinstance(inner, Plateau):
            if s <= 0:
                raise ValueError(
                    "a warm-up from 0 in front of reduce-on-plateau has no torch.optim equivalent "
                    "(LinearLR needs start_factor > 0)"
                )
            return (
                [
                    f"warmup = {linear}",
                    f"plateau = {plateau_code(inner)}",
                    "# gradscape multiplies the warm-up factor into the plateau's own lr; stepping both on one",
                    "# optimizer is the same as long as min_lr is 0.",
                ],
                ["warmup.step()", "plateau.step(loss.item())  # the loss before this step"],
            )
        if s <= 0:
            return ["# LinearLR needs start_factor > 0: the warm-up is written as one LambdaLR."] + lambda_lines(), [
                "scheduler.step()"
            ]
        if isinstance(inner, Constant):
            return [f"scheduler = {linear}"], ["scheduler.step()"]
        named = _named(inner, steps, lr)
        chainable = named is not None and not (isinstance(inner, Cosine) and inner.min_factor > 0)
        if chainable:
            return [f"scheduler = {S}.ChainedScheduler([", f"    {linear},", f"    {named},", "])"], [
                "scheduler.step()"
            ]
        return ["# The warm-up times gradscape's closed form, as one LambdaLR (exact)."] + lambda_lines(), [
            "scheduler.step()"
        ]
    named = _named(schedule, steps, lr)
    if named is not None:
        return [f"scheduler = {named}"], ["scheduler.step()"]
    note = {
        "reciprocal": "# torch has no reciprocal-decay class: LambdaLR with gradscape's formula (exact).",
        "cosine": "# Past T_max torch's CosineAnnealingLR climbs back up; gradscape stays at the minimum: LambdaLR.",
    }
    return [note.get(schedule.key, "# gradscape's closed form as a LambdaLR.")] + lambda_lines(), ["scheduler.step()"]


# ---- noise ----------------------------------------------------------------------------------------

_NOISE_CODE = '''
# gradscape's gradient noise: a counter-based generator (SplitMix64 hash of seed, step and coordinate,
# then Box-Muller), copied from gradscape's engine/noise.py so the draws are the same as in the app.
# For ordinary noise, use `w.grad += NOISE * torch.randn(2)` instead (the path then differs).
_U64 = 1 << 64


def _signed(c):
    return c - _U64 if c >= 1 << 63 else c


_GOLDEN, _MIX1, _MIX2 = _signed(0x9E3779B97F4A7C15), _signed(0xBF58476D1CE4E5B9), _signed(0x94D049BB133111EB)


def _shift_right(z, k):
    return (z >> k) & ((1 << (64 - k)) - 1)


def _mix64(z):
    z = (z ^ _shift_right(z, 30)) * _MIX1
    z = (z ^ _shift_right(z, 27)) * _MIX2
    return z ^ _shift_right(z, 31)


def gradscape_noise(seed, t0, count):
    """Standard normal draws for steps t0 .. t0+count-1, shape (count, 2)."""
    steps = torch.arange(t0, t0 + count, dtype=torch.int64).view(count, 1, 1)
    coord = torch.arange(2, dtype=torch.int64).view(1, 2, 1)
    seeds = torch.tensor([seed], dtype=torch.int64).view(1, 1, -1)
    base = _mix64(seeds * _GOLDEN + 1) + (steps * 4 + coord * 2) * _GOLDEN
    u1 = (_shift_right(_mix64(base), 11) + 1).to(torch.float64) * 2.0 ** -53
    u2 = _shift_right(_mix64(base + 1), 11).to(torch.float64) * 2.0 ** -53
    return (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos((2.0 * math.pi) * u2))[:, :, 0]


NOISE_CHUNK = 256  # gradscape draws the noise 256 steps at a time (the same numbers either way)
'''

_MINIBATCH_CODE = '''
def gradscape_minibatch(seed, t):
    """The examples of step t: each epoch (N // BATCH steps) goes through the examples in a new order,
    a hash of (seed, epoch, example) sorted, BATCH at a time; the N % BATCH left over are skipped.
    The same draws as gradscape's engine/noise.py minibatches."""
    n = A.shape[0]
    epoch, position = divmod(t, n // BATCH)
    examples = torch.arange(n, dtype=torch.int64).view(1, -1)
    base = _mix64(torch.tensor([[seed]], dtype=torch.int64) * _GOLDEN + 3) + (epoch * n + examples) * _GOLDEN
    order = torch.argsort(_mix64(base), dim=1)[0]
    return order[position * BATCH : (position + 1) * BATCH]
'''


# ---- the script -----------------------------------------------------------------------------------


def pytorch_snippet(cfg, optimizer_key: str) -> str:
    """A copyable Python script that reproduces `optimizer_key`'s run of `cfg` with torch.optim.

    Supported: the optimizers that declare a torch.optim twin (`supported()`); any other key is a
    ValueError naming them.
    The script defines `path` (the points, start included) and `losses` (the loss at each point).
    """
    from optimizers.schedules import make_schedule
    from surfaces import get_surface
    from scene.config import effective_hparams

    key = str(optimizer_key)
    spec = get_optimizer(key)  # unknown key: ValueError listing the registry
    if spec.torch_twin is None:
        raise ValueError(_unsupported(key))
    twin = spec.torch_twin
    surface = get_surface(cfg.surface, **cfg.surface_params)
    # A schedule-free method runs at its base lr whatever the scene's schedule (engine.rollout).
    scheduled = cfg.schedule if not spec.replaces_schedule else "constant"
    schedule = make_schedule(scheduled, **(cfg.schedule_params if scheduled == cfg.schedule else {}))
    hp = effective_hparams(cfg, key)
    start = cfg.start if cfg.start is not None else surface.start
    constants, body = _surface_code(surface)
    build, step_lines = _schedule_code(schedule, cfg.steps, hp["lr"])
    noise = float(cfg.noise)
    batch = getattr(cfg, "batch_size", None)
    data = hasattr(surface, "snippet_code")  # f(w, rows=None): rows picks a minibatch

    params = ", ".join(f"{k}={v!r}" for k, v in hp.items())
    sched_desc = repr(schedule)
    surface_desc = getattr(surface, "name", cfg.surface)
    if cfg.surface != "formula" and surface.values:
        surface_desc += " (" + ", ".join(f"{k}={v!r}" for k, v in surface.values.items()) + ")"

    L: list[str] = []
    L += [
        '"""Reproduce a gradscape run with torch.optim.',
        "",
        f"Surface:   {surface_desc}",
        f"Optimizer: {spec.name} ({params})",
        f"Schedule:  {sched_desc}",
        f"Steps:     {cfg.steps} from ({_r(start[0])}, {_r(start[1])})"
        + (f", gradient noise std {noise!r} (seed {cfg.seed})" if noise else "")
        + (f", minibatches of {batch} examples (seed {cfg.seed})" if batch else ""),
        "",
        "Generated by gradscape; needs only PyTorch"
        + (" and scikit-learn (for its bundled data set)" if data else "")
        + ("." if twin.module.startswith("torch") else f" and the {twin.module.split('.')[0]} package.")
        + " In float64 the path",
        "equals gradscape's to rounding (autograd here, hand-written gradients there).",
        '"""',
        "import math",
        "",
        "import torch",
    ]
    if not twin.module.startswith("torch"):
        L += [f"import {twin.module}"]
    L += [
        "",
        "torch.set_default_dtype(torch.float64)  # gradscape computes in float64",
        "",
    ]
    if constants:
        L += constants + [""]
    L += ["", "def f(w, rows=None):" if data else "def f(w):"] + ["    " + line for line in body] + ["", ""]
    if noise or batch:
        L += _NOISE_CODE.strip("\n").splitlines() + [f"SEED = {int(cfg.seed)}"]
        if noise:
            L += [f"NOISE = {noise!r}  # std of the noise added to each gradient"]
        if batch:
            L += [f"BATCH = {int(batch)}  # examples per step", "", ""] + _MINIBATCH_CODE.strip("\n").splitlines()
        L += ["", ""]
    L += [
        f"STEPS = {int(cfg.steps)}",
        f"w = torch.tensor([{_r(start[0])}, {_r(start[1])}], requires_grad=True)",
    ]
    if twin.shape != (2,):
        L += [f"w = w.detach().reshape{twin.shape}.requires_grad_(True)  # {twin.cls} takes the point as a matrix"]
    point = "w" if twin.shape == (2,) else "w.reshape(2)"  # f and the path take the (2,) point
    L += [f"optimizer = {_optimizer_code(spec, hp)}"]
    L += [f"optimizer.{call}()" for call in twin.calls]
    averaged = "train" in twin.calls  # Schedule-Free: the path is the average x, read in eval mode
    if twin.note and cfg.schedule != "constant":
        L += [f"# {twin.note}"]
    L += build
    L += [
        "",
        f"path = [{point}.detach().tolist()]  # the points, start included",
        "losses = []  # the loss at each point",
        "for t in range(STEPS):",
        "    optimizer.zero_grad()",
    ]
    rows = ", rows" if batch else ""
    if batch:
        L += ["    rows = gradscape_minibatch(SEED, t)  # this step's examples"]
    L += [
        f"    loss = f({point}{rows})",
        "    loss.backward()",
    ]
    if twin.closure:
        # The line search re-evaluates the loss: optimizer.step(closure) runs this closure itself.
        L += [
            "",
            "    def closure():",
            "        optimizer.zero_grad()",
            f"        value = f({point}{rows})",
            "        value.backward()",
            "        return value",
            "",
        ]
    if noise:
        L += [
            "    if t % NOISE_CHUNK == 0:",
            "        noise_block = gradscape_noise(SEED, t, NOISE_CHUNK) * NOISE",
            "    w.grad += noise_block[t % NOISE_CHUNK]  # noise on the gradient, before the optimizer sees it",
        ]
    L += ["    optimizer.step(closure)" if twin.closure else "    optimizer.step()"]
    L += ["    " + line for line in step_lines]
    if averaged or batch:
        # Schedule-Free: the parameter in train mode is y, where the gradient is taken; gradscape draws
        # x, the average eval() gives (the round trip rounds y in its last bits only).
        L += (
            [
                "    optimizer.eval()  # w is now x, the average: the point gradscape draws",
                f"    path.append({point}.detach().tolist())",
                "    optimizer.train()  # back to y, where the next gradient is taken",
            ]
            if averaged
            else [f"    path.append({point}.detach().tolist())"]
        )
        L += [
            "losses = [f(torch.tensor(p)).item() for p in path]  # the loss at each point"
            + (" (over every example)" if batch else ""),
            "",
        ]
    else:
        L += [
            "    losses.append(loss.item())",
            f"    path.append({point}.detach().tolist())",
            f"losses.append(f({point}).item())",
            "",
        ]
    L += [
        'print(f"after {STEPS} steps: w = ({path[-1][0]:.6g}, {path[-1][1]:.6g}), loss = {losses[-1]:.6g}")',
        "",
    ]
    return "\n".join(L)
