"""The numbers the lecture texts state, computed from the runs they describe (no Streamlit).

Every number a scene's text shows comes from here, so it is the scene's own and cannot go stale:

- scene_facts(cfg): a lazy mapping of named facts of a scene (its settings, and measurements of
  its runs computed exactly as export/scene.py computes them: engine.simulate on the CPU, float64,
  the eager reference engine, which the Playground also runs until its fused graph is built).
  measured_text(template, cfg) fills a preset's "measured" template (assets/presets.json) with
  them; a field the mapping does not know is a KeyError.
- bias-correction arithmetic for the Adam page (table rows, the first-step factor, its sentence).
- radam_first_rectified_step: where RAdam's rule switches on, for each of the texts' thresholds.

Facts of a scene (fields of a template; k is an optimizer key of the scene, e.g. sgd, diag_newton):
  settings   steps, seed, noise, tol, ridge_band, seeds_n, start_x, start_y, s_<surface param>,
             sched_<schedule param>, <k>_<hyperparameter> (e.g. adam_lr, adam_beta2)
  per run    <k>_below       first step with loss − f* < tol, or "more than N"
             <k>_final       loss at the last step;  <k>_end  the last point "(x, y)"
             <k>_ridge       first step with |y| > ridge_band (off the ridge y = 0), or "more than N"
             <k>_peakstep, <k>_peakloss, <k>_peakxy   the highest loss after the start: when, how high, where
             <k>_effdrop     how far the effective lr falls below its first value (the smaller of x and y)
             <k>_effrise     how far it climbs back from its lowest by the last step (the smaller of x and y)
             <k>_settle      first step from which loss − f* stays below tol for the rest of the run
             <k>_burst       first step at which loss − f* climbs back above tol after ≥ 50 steps below it
             <k>_burstmax    the longest step from the burst on;  <k>_effatbelow, <k>_effatburst: the
                             effective lr (larger coordinate) at the <k>_below and <k>_burst steps
  variants   long_<k>_<fact>     the same run continued to MAX_STEPS
             nowarm_<k>_<fact>   the same scene without its linear warm-up (its inner schedule only)
             quiet_<k>_<fact>    the same scene without gradient noise
             unrotated_<k>_<fact>  the same scene on its surface at angle 0, started at the same place
                                 relative to the ravine's floor (the ravine's rotation undone)
  many seeds <a>_over_<b>_seedsmean    mean final loss − f* of a ÷ that of b over seeds 0 … seeds_n − 1
             <a>_over_<b>_seedsmedian  median over seeds of the per-seed ratio
             <a>_over_<b>_seedsshare10 share of seeds whose ratio is ≥ 10;  ..._seedsshare1: share with a > b
             <a>_over_<b>_thisseed     the ratio for the scene's own seed;  ..._quiet: without noise
  all_<fact>  every run's value, "Name value, ...", sorted from smallest to largest
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import torch

from engine.diagnostics import first_step_below_np
from engine.rollout import MAX_STEPS, simulate

TOL = 1e-3
RIDGE_BAND = 0.5
SEEDS = 200
SETTLED = 50  # steps below tol before a climb back above it counts as a burst
DEVICE = "cpu"

_RUN_FACTS = (
    "below",
    "final",
    "end",
    "ridge",
    "peakstep",
    "peakloss",
    "peakxy",
    "effdrop",
    "effrise",
    "settle",
    "burst",
    "burstmax",
    "effatbelow",
    "effatburst",
    "stepmedian",
    "stepratio",
    "stepperlr",
)
_SEED_FACTS = ("seedsmean", "seedsmedian", "seedsshare10", "seedsshare1", "thisseed", "quiet")


# ---- formatting -------------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def number(v, digits: int = 3) -> str:
    """A number for a sentence: 240, 0.694, 3.6, 2.2 × 10⁻⁴, −0.515."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v)).replace("-", "−")
    v = float(v)
    if v == 0:
        return "0"
    if not math.isfinite(v):  # a ratio over a step that underflowed to a subnormal, say
        return "not a number" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if 1e-3 < abs(v) < 1e5:
        text = f"{v:.{digits}g}"
        if "e" in text:  # 3 significant digits of a number ≥ 1000
            text = f"{v:.0f}"
        return text.replace("-", "−")
    mantissa, exponent = f"{v:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = "10" + str(int(exponent)).translate(_SUPERSCRIPT)
    text = power if mantissa in ("1", "-1") else f"{mantissa} × {power}"
    return ("−" + text if mantissa == "-1" else text).replace("-", "−")


def _setting(v) -> str:
    if isinstance(v, bool) or isinstance(v, str):
        return str(v)
    if isinstance(v, float) and abs(v) < 1e-3 and v != 0:
        return number(v)
    return f"{v:g}".replace("-", "−") if isinstance(v, float) else str(v)


def _point(xy) -> str:
    x, y = (round(float(v), 3) + 0.0 for v in xy[:2])  # + 0.0: no "−0.000"
    return f"({x:.3f}, {y:.3f})".replace("-", "−")


def _ratio(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _percent(share: float) -> str:
    text = f"{100 * share:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _first(mask: np.ndarray, steps: np.ndarray):
    hits = np.nonzero(mask)[0]
    return int(steps[hits[0]]) if len(hits) else None


def _or_more(step, total: int) -> str:
    return str(step) if step is not None and step >= 0 else f"more than {total}"


# ---- the facts of one run ---------------------------------------------------------------------


def run_facts(traj, f_star: float | None, tol: float = TOL, row: int = 0) -> dict:
    """Every per-run fact (the list in the module docstring) of row `row` of a Trajectory, as text."""
    loss = traj.loss[row].numpy()
    xy = traj.xy[row].numpy()
    steps = traj.steps.numpy()
    eff = traj.effective_lr[row].numpy()
    diverged = int(traj.diverged_at[row])
    total = int(steps[-1])
    valid = len(loss) if diverged < 0 else int(np.searchsorted(steps, diverged))
    gap = loss - (f_star if f_star is not None else 0.0)
    out = {"final": number(float(loss[-1])), "end": _point(xy[-1])}
    if f_star is not None:
        below = first_step_below_np(gap, steps, tol, diverged)
        out["below"] = _or_more(below, total)
        under = gap[:valid] < tol
        settle = None
        if under.any() and under[-1]:
            above = np.nonzero(~under)[0]
            settle = int(steps[above[-1] + 1]) if len(above) else int(steps[0])
        out["settle"] = _or_more(settle, total)
        burst = _burst(under, steps)
        out["burst"] = str(burst) if burst is not None else f"none within {total} steps"
        lengths = np.hypot(*(xy[1:] - xy[:-1]).T)
        if burst is not None:
            out["burstmax"] = number(float(lengths[np.searchsorted(steps, burst) :].max()))
            out["effatburst"] = number(float(eff[min(np.searchsorted(steps, burst), len(eff) - 1)].max()))
        if below >= 0:
            out["effatbelow"] = number(float(eff[min(np.searchsorted(steps, below), len(eff) - 1)].max()))
    lengths = np.hypot(*(xy[1:valid] - xy[: max(valid - 1, 0)]).T)
    if len(lengths):
        out["stepmedian"] = number(float(np.median(lengths)))
        lr = traj.hparams.get("lr") if isinstance(getattr(traj, "hparams", None), dict) else None
        if isinstance(lr, (int, float)) and lr > 0:
            out["stepperlr"] = number(float(np.median(lengths)) / lr)
        moving = lengths[lengths > 0]  # a run that has stopped dead (Newton at the minimum) is left out
        if len(moving):
            out["stepratio"] = number(float(moving.max() / moving.min()))
    off = np.abs(xy[:valid, 1]) > RIDGE_BAND
    out["ridge"] = _or_more(_first(off, steps), total)
    peak = int(np.argmax(loss[1:valid])) + 1 if valid > 1 else 0
    out.update(peakstep=str(int(steps[peak])), peakloss=number(float(loss[peak])), peakxy=_point(xy[peak]))
    if len(eff):
        low = eff.min(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["effdrop"] = _ratio(float(np.min(eff[0] / low)))
            out["effrise"] = _ratio(float(np.min(eff[-1] / low)))
    return out


def _burst(under: np.ndarray, steps: np.ndarray):
    """First step at which the loss climbs back above tol after ≥ SETTLED consecutive steps below it."""
    run = 0
    for i, ok in enumerate(under):
        if ok:
            run += 1
        elif run >= SETTLED:
            return int(steps[i])
        else:
            run = 0
    return None


# ---- a scene's facts, computed on demand ------------------------------------------------------


def f_star_of(surface) -> float | None:
    minima = list(surface.minima)
    return float(min(surface.f_at(m) for m in minima)) if minima else None


class SceneFacts(Mapping):
    """The facts of one scene (a scene.config Config), each computed the first time it is asked for;
    str.format_map reads only the fields a template names, so a text costs only its own runs."""

    def __init__(self, cfg):
        from surfaces import get_surface

        self.cfg = cfg
        self.surface = get_surface(cfg.surface, **cfg.surface_params)
        self.f_star = f_star_of(self.surface)
        self._runs: dict = {}
        self._facts: dict = {}
        self._seeds: dict = {}
        self._settings_cache: dict | None = None

    # -- runs --
    def _cfg(self, variant: str):
        cfg = self.cfg
        if variant == "long":
            return replace(cfg, steps=MAX_STEPS)
        if variant == "nowarm":
            if cfg.schedule != "warmup":
                raise KeyError("nowarm: the scene has no warm-up")
            from optimizers.schedules import schedule_class

            inner = cfg.schedule_params.get("inner", "constant")
            names = {p.name for p in schedule_class(inner).params}
            keep = {k: v for k, v in cfg.schedule_params.items() if k in names}
            return replace(cfg, schedule=inner, schedule_params=keep)
        if variant == "quiet":
            return replace(cfg, noise=0.0)
        if variant == "unrotated":
            if not hasattr(self.surface, "to_ravine_coords"):
                raise KeyError("unrotated: the scene's surface has no rotation")
            # The same start relative to the ravine's floor, on the ravine at 0°.
            start = cfg.start if cfg.start is not None else self.surface.start
            u, v = self.surface.to_ravine_coords(float(start[0]), float(start[1]))
            return replace(cfg, surface_params={**cfg.surface_params, "angle": 0.0}, start=(float(u), float(v)))
        return cfg

    def run(self, key: str, variant: str = ""):
        """The Trajectory of optimizer `key` in the scene (or its variant)."""
        if (key, variant) not in self._runs:
            from optimizers.schedules import make_schedule
            from scene.config import effective_hparams

            from surfaces import get_surface

            cfg = self._cfg(variant)
            surface = self.surface if cfg is self.cfg else get_surface(cfg.surface, **cfg.surface_params)
            self._runs[key, variant] = simulate(
                surface,
                key,
                start=cfg.start,
                steps=cfg.steps,
                hparams=effective_hparams(cfg, key),
                schedule=make_schedule(cfg.schedule, **cfg.schedule_params),
                noise=cfg.noise,
                seed=cfg.seed,
                device=DEVICE,
                dtype=torch.float64,
            )
        return self._runs[key, variant]

    def _run_fact(self, key: str, fact: str, variant: str = "") -> str:
        if (key, variant) not in self._facts:
            self._facts[key, variant] = run_facts(self.run(key, variant), self.f_star)
        facts = self._facts[key, variant]
        if fact not in facts:
            raise KeyError(f"{variant + '_' if variant else ''}{key}_{fact}: not defined for this run")
        return facts[fact]

    def seed_losses(self, key: str):
        """Final loss − f* of `key` over seeds 0 … SEEDS − 1 (one batched call)."""
        if key not in self._seeds:
            from scene.config import effective_hparams
            from optimizers.schedules import make_schedule

            cfg = self.cfg
            start = cfg.start if cfg.start is not None else self.surface.start
            starts = torch.tensor(start, dtype=torch.float64).expand(SEEDS, 2)
            traj = simulate(
                self.surface,
                key,
                start=starts,
                steps=cfg.steps,
                hparams=effective_hparams(cfg, key),
                schedule=make_schedule(cfg.schedule, **cfg.schedule_params),
                noise=cfg.noise,
                seed=list(range(SEEDS)),
                device=DEVICE,
                dtype=torch.float64,
            )
            self._seeds[key] = traj.final_loss.numpy() - (self.f_star or 0.0)
        return self._seeds[key]

    def _seed_fact(self, a: str, b: str, fact: str) -> str:
        gap = lambda k, variant="": float(self.run(k, variant).final_loss[0]) - (self.f_star or 0.0)  # noqa: E731
        if fact == "thisseed":
            return _ratio(gap(a) / gap(b))
        if fact == "quiet":
            return _ratio(gap(a, "quiet") / gap(b, "quiet"))
        la, lb = self.seed_losses(a), self.seed_losses(b)
        ratio = la / lb
        if fact == "seedsmean":
            return _ratio(float(la.mean() / lb.mean()))
        if fact == "seedsmedian":
            return _ratio(float(np.median(ratio)))
        if fact == "seedsshare10":
            return _percent(float((ratio >= 10).mean()))
        if fact == "seedsshare1":
            return _percent(float((la > lb).mean()))
        raise KeyError(fact)

    # -- names --
    def _split_key(self, name: str):
        """(optimizer key, rest) for a name that starts with one of the scene's keys."""
        for key in sorted(self.cfg.optimizers, key=len, reverse=True):
            if name.startswith(key + "_"):
                return key, name[len(key) + 1 :]
        return None, name

    def _settings(self) -> dict:
        if self._settings_cache is None:
            self._settings_cache = self._compute_settings()
        return self._settings_cache

    def _compute_settings(self) -> dict:
        from scene.config import effective_hparams

        cfg = self.cfg
        start = cfg.start if cfg.start is not None else self.surface.start
        out = {
            "steps": str(cfg.steps),
            "seed": str(cfg.seed),
            "noise": _setting(cfg.noise),
            "tol": number(TOL),
            "ridge_band": _setting(RIDGE_BAND),
            "seeds_n": str(SEEDS),
            "start_x": _setting(float(start[0])),
            "start_y": _setting(float(start[1])),
        }
        out.update({f"s_{k}": _setting(v) for k, v in self.surface.values.items() if not isinstance(v, (tuple, list))})
        out.update({f"sched_{k}": _setting(v) for k, v in cfg.schedule_params.items()})
        for key in cfg.optimizers:
            out.update({f"{key}_{k}": _setting(v) for k, v in effective_hparams(cfg, key).items()})
        return out

    def __getitem__(self, name: str) -> str:
        settings = self._settings()
        if name in settings:
            return settings[name]
        if name.startswith("all_"):
            return self._all(name[4:])
        variant = ""
        for v in ("long", "nowarm", "quiet", "unrotated"):
            if name.startswith(v + "_"):
                variant, name = v, name[len(v) + 1 :]
        key, rest = self._split_key(name)
        if key is None:
            raise KeyError(name)
        if rest in _RUN_FACTS:
            return self._run_fact(key, rest, variant)
        b, fact = self._split_key(rest.removeprefix("over_")) if rest.startswith("over_") else (None, rest)
        if b is not None and fact in _SEED_FACTS and not variant:
            return self._seed_fact(key, b, fact)
        raise KeyError(name)

    def _all(self, fact: str) -> str:
        from optimizers import get_optimizer

        if fact not in _RUN_FACTS:
            raise KeyError("all_" + fact)
        rows = [(get_optimizer(k).name, self._run_fact(k, fact)) for k in self.cfg.optimizers]

        def order(row):
            try:
                return (0, float(row[1].replace("−", "-")))
            except ValueError:
                return (1, 0.0)

        return ", ".join(f"{name} {value}" for name, value in sorted(rows, key=order))

    def __iter__(self):
        return iter(self._settings())

    def __len__(self):
        return len(self._settings())


def scene_facts(cfg) -> SceneFacts:
    return SceneFacts(cfg)


def template_fields(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def measured_text(template: str, cfg) -> str:
    """A preset's "measured" template filled with the scene's own facts ("" for no template)."""
    return template.format_map(scene_facts(cfg)) if template else ""


# ---- Adam's bias correction (pages/bias_correction.py) ----------------------------------------


def uncorrected_factor(beta1: float, beta2: float, t: int = 1) -> float:
    """(uncorrected m/√v) ÷ (corrected m̂/√v̂) at step t: m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), so the
    ratio is (1 − β₁ᵗ)/√(1 − β₂ᵗ); at t = 1 it is (1 − β₁)/√(1 − β₂), 3.16 for (0.9, 0.999)."""
    return (1 - beta1**t) / math.sqrt(1 - beta2**t)


def bias_correction_rows(beta1: float, beta2: float, steps: int) -> list[dict]:
    """The page's table: per step t, both bias factors, both corrections, and uncorrected ÷ corrected."""
    rows = []
    for t in range(1, steps + 1):
        b1, b2 = 1 - beta1**t, 1 - beta2**t
        rows.append(
            {
                "t": t,
                "1 − ρ₁ᵗ": b1,
                "m correction ×": 1 / b1,
                "1 − ρ₂ᵗ": b2,
                "v correction ×": 1 / b2,
                "uncorrected m/√v ÷ corrected": uncorrected_factor(beta1, beta2, t),
            }
        )
    return rows


def bias_correction_sentence(beta1: float, beta2: float) -> str:
    """What skipping the correction does to the first step, for these betas."""
    factor = uncorrected_factor(beta1, beta2)
    head = (
        f"Without it, m/√v starts at (1 − ρ₁)/√(1 − ρ₂) times the corrected ratio: ×{factor:.3g} with "
        f"ρ₁ = {beta1:g}, ρ₂ = {beta2:g}"
    )
    if factor > 1.005:
        return head + ", so the first steps are too long."
    if factor < 0.995:
        return head + ", so the first steps are too short."
    return head + ", so for these values the first step happens to be about right."


# ---- RAdam's threshold (pages/theory.py) ------------------------------------------------------


def radam_rho(beta2: float, t: int) -> float:
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf - 2 * t * beta2**t / (1 - beta2**t)


def radam_first_rectified_step(beta2: float, threshold: float, inclusive: bool, limit: int = 100_000) -> int:
    """First step t at which ρ_t > threshold (or ≥ with `inclusive`); −1 if none up to `limit`."""
    for t in range(1, limit + 1):
        rho = radam_rho(beta2, t)
        if rho > threshold or (inclusive and rho == threshold):
            return t
    return -1


# ---- a caption for runs on the same page (pages/schedules.py) --------------------------------


def leaves_view_at(xy: np.ndarray, steps: np.ndarray, bounds) -> int | None:
    """First recorded step outside the view, or None if the run stays inside."""
    (x0, x1), (y0, y1) = bounds
    out = (xy[:, 0] < x0) | (xy[:, 0] > x1) | (xy[:, 1] < y0) | (xy[:, 1] > y1)
    return _first(out, steps)


def compare_runs(runs, bounds) -> str:
    """One sentence per run (RunView-like: label, xy, loss, steps, diverged_at) saying what it did:
    whether and when it leaves the view or diverges, and where and at what loss it ends."""
    parts = []
    for r in runs:
        left = leaves_view_at(r.xy, r.steps, bounds)
        where = "stays in the view" if left is None else f"leaves the view at step {left}"
        if r.diverged_at >= 0:
            parts.append(f"{r.label}: {where} and diverges at step {r.diverged_at}.")
        else:
            parts.append(f"{r.label}: {where} and ends at {_point(r.xy[-1])}, loss {number(float(r.loss[-1]))}.")
    return " ".join(parts)
