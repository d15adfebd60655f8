"""The Playground's whole configuration as one value, and its URL encoding.

Pure Python (no Streamlit): the page reads widgets into a Config, writes it to the URL, and a
copied link is parsed back here. Every malformed or unknown parameter falls back to its default
with a warning; nothing here raises on user input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping

from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import available_schedules, schedule_class
from surfaces import available_surfaces, get_surface, surface_class
from scene.lectures import Lecture, LectureError, get_lecture, sequence

FORMULA = "formula"

MAX_OPTIMIZERS = max(20, len(available_optimizers()))  # every optimizer at once, always
STEP_CHOICES = (50, 100, 200, 250, 300, 500, 1000, 2000, 5000, 10000, 20000)
MAX_NOISE = 10.0
SPEEDS = {"0.5×": 120, "1×": 60, "2×": 30, "4×": 15}  # milliseconds per animation frame
QUIZ_MODES = ("", "1", "anon")
# URL parameters that place a view in a lecture or set how it is shown, not what it computes.
VIEW_PARAMS = ("lecture", "seq", "scene", "quiz", "presenter", "speed")


@dataclass(frozen=True)
class Config:
    surface: str = "ravine"
    surface_params: dict = field(default_factory=dict)  # only values that differ from the defaults
    optimizers: tuple = ()
    hparams: dict = field(default_factory=dict)  # optimizer key -> {name: value}, overrides only
    schedule: str = "constant"
    schedule_params: dict = field(default_factory=dict)
    steps: int = 300
    noise: float = 0.0
    seed: int = 0
    batch_size: int | None = None  # data surfaces: examples per step's gradient (None: the full batch)
    start: tuple | None = None  # None: the surface's own start
    presenter: bool = False
    speed: str = "1×"
    # Where the scene sits in a lecture (scene/lectures.py): a shipped lecture's key, or a sequence of
    # preset slugs; scene is 1-based (0: not in a lecture). quiz: "" (off), "1" (paths hidden until
    # revealed) or "anon" (also the optimizers' names, as letters).
    lecture: str = ""
    sequence: tuple = ()
    scene: int = 0
    quiz: str = ""


def lesson_config(surface_key: str) -> Config:
    """The scene a surface opens with: its lesson's optimizers, their hyperparameters, its steps."""
    cls = surface_class(surface_key)
    return Config(
        surface=surface_key,
        optimizers=tuple(cls.lesson_optimizers),
        hparams={k: dict(v) for k, v in cls.lesson_hparams.items()},
        steps=cls.lesson_steps,
    )


def effective_hparams(cfg: Config, key: str) -> dict:
    """The hyperparameters an optimizer runs with: spec defaults (for Lookahead, its inner
    optimizer's too), then the config's overrides."""
    spec = get_optimizer(key)
    overrides = cfg.hparams.get(key, {})
    try:
        defaults = spec.resolve({"inner": overrides["inner"]} if "inner" in overrides else {})
    except ValueError:
        defaults = spec.resolve({})
    return {**defaults, **overrides}


# --- URL ------------------------------------------------------------------------------------
# surface=ravine & s.condition=100 & opt=sgd,adam & adam.lr=0.01 & sched=cosine & sched.T_max=500
# & steps=500 & noise=0.1 & seed=3 & batch=16 & start=-3.5,1.5 & presenter=1 & speed=2×
# Only values that differ from the surface's lesson scene are written: links stay short.


def to_query(cfg: Config) -> dict[str, str]:
    base = lesson_config(cfg.surface)
    q = {"surface": cfg.surface}
    if cfg.surface == FORMULA:
        if "expr" in cfg.surface_params:
            q["s.expr"] = cfg.surface_params["expr"]
        if "bounds" in cfg.surface_params:
            (x0, x1), (y0, y1) = cfg.surface_params["bounds"]
            q["s.bounds"] = ",".join(_fmt(float(v)) for v in (x0, x1, y0, y1))
    else:
        q.update({f"s.{k}": _fmt(v) for k, v in sorted(cfg.surface_params.items())})
    if cfg.optimizers != base.optimizers:
        q["opt"] = ",".join(cfg.optimizers)
    for key in cfg.optimizers:
        inner = cfg.hparams.get(key, {}).get("inner")
        lesson = effective_hparams(base if inner is None else replace(base, hparams={key: {"inner": inner}}), key)
        if inner is not None:  # the inner choice itself is compared with the lesson's; its params with its defaults
            lesson["inner"] = effective_hparams(base, key).get("inner")
        for name, value in sorted(effective_hparams(cfg, key).items()):
            if value != lesson.get(name):
                q[f"{key}.{name}"] = _fmt(value)
    if cfg.schedule != "constant":
        q["sched"] = cfg.schedule
        defaults = {p.name: p.default for p in _schedule_specs(cfg.schedule, cfg.schedule_params.get("inner")).values()}
        q.update({f"sched.{k}": _fmt(v) for k, v in sorted(cfg.schedule_params.items()) if v != defaults.get(k)})
    for name in ("steps", "noise", "seed", "presenter", "speed"):
        value = getattr(cfg, name)
        if value != getattr(base, name):
            q[name] = _fmt(value)
    if cfg.batch_size is not None:
        q["batch"] = str(cfg.batch_size)
    if cfg.start is not None:
        q["start"] = f"{_fmt(cfg.start[0])},{_fmt(cfg.start[1])}"
    q.update(lecture_params(cfg))
    if cfg.quiz:
        q["quiz"] = cfg.quiz
    return q


def lecture_params(cfg: Config) -> dict[str, str]:
    """The URL parameters that place cfg in its lecture (none when it is not in one)."""
    if cfg.lecture:
        return {"lecture": cfg.lecture, "scene": str(cfg.scene)}
    if cfg.sequence:
        return {"seq": ",".join(cfg.sequence), "scene": str(cfg.scene)}
    return {}


def lecture_of(cfg: Config) -> Lecture | None:
    """The lecture cfg is a scene of (None when it is in none, or its lecture has gone)."""
    try:
        if cfg.lecture:
            return get_lecture(cfg.lecture)
        if cfg.sequence:
            return sequence(cfg.sequence)
    except LectureError:
        return None
    return None


def scene_query(cfg: Config, number: int) -> dict[str, str]:
    """The URL of scene `number` (1-based) of cfg's lecture, with cfg's display settings kept."""
    q = dict(lecture_params(replace(cfg, scene=number)))
    shown = {name: getattr(cfg, name) for name in ("presenter", "speed")}
    q.update({name: _fmt(v) for name, v in shown.items() if v != getattr(Config(), name)})
    if cfg.quiz:
        q["quiz"] = cfg.quiz
    return q


def from_query(query: Mapping[str, str]) -> tuple[Config, list[str]]:
    """Parse URL parameters; returns the config and one warning per value that was ignored."""
    warnings: list[str] = []
    q = {str(k): str(v) for k, v in query.items()}
    place, q = _lecture_place(q, warnings)

    surface = q.pop("surface", "ravine")
    if surface not in available_surfaces():
        warnings.append(f"unknown surface {surface!r}: showing the ravine")
        surface = "ravine"
    cfg = lesson_config(surface)
    cls = surface_class(surface)

    surface_params = {}
    if surface == FORMULA:
        surface_params = _formula_params(q, warnings)
    specs = {p.name: p for p in cls.params}
    for k in [k for k in q if k.startswith("s.")]:
        name, raw = k[2:], q.pop(k)
        spec = specs.get(name)
        if spec is None:
            warnings.append(f"surface {surface!r} has no parameter {name!r}: ignored")
            continue
        value, ok = _typed(spec, raw)
        if ok:
            surface_params[name] = value
        else:
            warnings.append(f"s.{name}={raw!r} is not valid ({_expected(spec)}): using {_fmt(spec.default)}")

    optimizers = cfg.optimizers
    if "opt" in q:
        raw = q.pop("opt")
        keys = [k for k in raw.split(",") if k]
        bad = [k for k in keys if k not in available_optimizers()]
        if bad:
            warnings.append(f"unknown optimizer(s) {', '.join(bad)}: ignored")
        keys = list(dict.fromkeys(k for k in keys if k in available_optimizers()))
        if bad and not keys:
            warnings.append("opt= named no known optimizer: showing the surface's default set")
            keys = list(cfg.optimizers)
        if len(keys) > MAX_OPTIMIZERS:
            warnings.append(f"at most {MAX_OPTIMIZERS} optimizers at once: kept the first {MAX_OPTIMIZERS}")
            keys = keys[:MAX_OPTIMIZERS]
        optimizers = tuple(keys)

    hparams = {k: dict(v) for k, v in cfg.hparams.items()}
    # ".inner" first: Lookahead's other names are checked against the inner optimizer it names.
    opt_keys = sorted(
        (k for k in q if "." in k and k.split(".", 1)[0] in available_optimizers()),
        key=lambda k: (not k.endswith(".inner"), k),
    )
    for k in opt_keys:
        key, name = k.split(".", 1)
        raw = q.pop(k)
        spec = get_optimizer(key)
        value, problem = _hparam_value(spec, name, raw, hparams.get(key, {}).get("inner"))
        if problem:
            warnings.append(problem)
        else:
            hparams.setdefault(key, {})[name] = value

    schedule, schedule_params = "constant", {}
    if "sched" in q:
        raw = q.pop("sched")
        if raw in available_schedules():
            schedule = raw
        else:
            warnings.append(f"unknown schedule {raw!r}: using a constant learning rate")
    inner_raw = q.pop("sched.inner", None)
    if schedule == "warmup":
        if inner_raw in available_schedules() and inner_raw != "warmup":
            schedule_params["inner"] = inner_raw
        elif inner_raw is not None:
            warnings.append(f"sched.inner={inner_raw!r} is not a schedule to warm up: using constant")
    sched_specs = _schedule_specs(schedule, schedule_params.get("inner"))
    for k in [k for k in q if k.startswith("sched.")]:
        name, raw = k[6:], q.pop(k)
        spec = sched_specs.get(name)
        if spec is None:
            warnings.append(f"schedule {schedule!r} has no parameter {name!r}: ignored")
            continue
        value, ok = _typed(spec, raw)
        if ok:
            schedule_params[name] = value
        else:
            warnings.append(f"sched.{name}={raw!r} is not valid: using {spec.default}")

    updates = {}
    if "steps" in q:
        raw = q.pop("steps")
        v = _number(raw)
        if v is None or v != int(v) or not 1 <= v <= STEP_CHOICES[-1]:
            warnings.append(f"steps={raw!r} must be a whole number from 1 to {STEP_CHOICES[-1]}: using {cfg.steps}")
        else:
            updates["steps"] = int(v)
    if "noise" in q:
        raw = q.pop("noise")
        v = _number(raw)
        if v is None or not 0 <= v <= MAX_NOISE:
            warnings.append(f"noise={raw!r} must be a number from 0 to {MAX_NOISE:g}: using 0")
        else:
            updates["noise"] = v
    if "seed" in q:
        raw = q.pop("seed")
        v = _number(raw)
        if v is None or v != int(v) or not 0 <= v < 2**31:
            warnings.append(f"seed={raw!r} must be a whole number from 0 to 2³¹−1: using 0")
        else:
            updates["seed"] = int(v)
    if "batch" in q:
        raw = q.pop("batch")
        v = _number(raw)
        n = getattr(get_surface(surface, **surface_params), "n_examples", None)
        if n is None:
            warnings.append(
                f"batch={raw!r}: {cls.name} is not made of data examples, so it has no minibatches: ignored"
            )
        elif v is None or v != int(v) or not 1 <= v < n:
            warnings.append(f"batch={raw!r} must be a whole number from 1 to {n - 1}: using the full batch")
        else:
            updates["batch_size"] = int(v)
    if "start" in q:
        raw = q.pop("start")
        parts = [_number(p) for p in raw.split(",")]
        (x0, x1), (y0, y1) = get_surface(surface, **surface_params).bounds if surface == FORMULA else cls.bounds
        if len(parts) != 2 or None in parts or not (x0 <= parts[0] <= x1 and y0 <= parts[1] <= y1):
            warnings.append(f"start={raw!r} must be x,y inside the view: using the surface's start")
        else:
            updates["start"] = (parts[0], parts[1])
    if "presenter" in q:
        raw = q.pop("presenter")
        if raw in ("0", "1", "true", "false"):
            updates["presenter"] = raw in ("1", "true")
        else:
            warnings.append(f"presenter={raw!r} must be 0 or 1: ignored")
    if "speed" in q:
        raw = q.pop("speed")
        if raw in SPEEDS:
            updates["speed"] = raw
        else:
            warnings.append(f"speed={raw!r} must be one of {', '.join(SPEEDS)}: using 1×")
    if "quiz" in q:
        raw = q.pop("quiz")
        if raw in ("1", "true", "on"):
            updates["quiz"] = "1"
        elif raw in ("anon", "0", "false", "off", ""):
            updates["quiz"] = "anon" if raw == "anon" else ""
        else:
            warnings.append(f"quiz={raw!r} must be 1, anon or 0: the paths are shown")
    updates.update(place)
    for k in sorted(q):
        warnings.append(f"unknown URL parameter {k!r}: ignored")

    cfg = replace(
        cfg,
        surface_params=surface_params,
        optimizers=optimizers,
        hparams=hparams,
        schedule=schedule,
        schedule_params=schedule_params,
        **updates,
    )
    return cfg, warnings


def _lecture_place(q: dict, warnings: list) -> tuple[dict, dict]:
    """(the Config fields that place the view in a lecture, the query left to parse). A link that
    names a lecture scene and no settings of its own opens that scene's settings."""
    raw_lecture, raw_seq, raw_scene = q.pop("lecture", None), q.pop("seq", None), q.pop("scene", None)
    lecture, place = None, {}
    try:
        if raw_lecture is not None:
            lecture = get_lecture(raw_lecture)
            place["lecture"] = lecture.key
        elif raw_seq is not None:
            slugs = tuple(s for s in raw_seq.split(",") if s)
            lecture = sequence(slugs)
            place["sequence"] = slugs
    except LectureError as err:
        warnings.append(f"{err}: not in a lecture")
    if lecture is None:
        if raw_scene is not None and raw_lecture is None and raw_seq is None:
            warnings.append("scene= needs lecture= or seq=: ignored")
        return {}, q
    number = _number(raw_scene) if raw_scene is not None else 1
    if number is None or number != int(number) or not 1 <= number <= len(lecture):
        warnings.append(f"scene={raw_scene!r} must be a whole number from 1 to {len(lecture)}: showing scene 1")
        number = 1
    place["scene"] = int(number)
    if not any(k not in VIEW_PARAMS for k in q):  # only the place: open the scene's own settings
        q = {**lecture.scenes[int(number) - 1].query, **q}
    return place, q


def _formula_params(q: dict, warnings: list) -> dict:
    """s.expr and s.bounds of a formula surface, kept only if the formula is accepted."""
    params = {}
    if "s.expr" in q:
        params["expr"] = q.pop("s.expr")
    if "s.bounds" in q:
        raw = q.pop("s.bounds")
        parts = [_number(p) for p in raw.split(",")]
        if len(parts) == 4 and None not in parts:
            params["bounds"] = ((parts[0], parts[1]), (parts[2], parts[3]))
        else:
            warnings.append(f"s.bounds={raw!r} must be four numbers xmin,xmax,ymin,ymax: using the default view")
    if not params:
        return {}
    try:
        surface = get_surface(FORMULA, **params)
    except ValueError as err:
        warnings.append(f"the formula in the link was refused ({err}): showing the default formula")
        return {}
    return {k: surface.values[k] for k in params}


def _schedule_specs(schedule: str, inner: str | None) -> dict:
    specs = {p.name: p for p in schedule_class(schedule).params}
    if schedule == "warmup" and inner in available_schedules() and inner != "warmup":
        specs.update({p.name: p for p in schedule_class(inner).params})
    return specs


def _hparam_value(spec, name: str, raw: str, inner: str | None):
    p = {p.name: p for p in spec.params_with_inner(inner)}.get(name)
    if p is None:
        return None, f"{spec.name} has no hyperparameter {name!r}: ignored"
    value, ok = _typed(p, raw)
    if not ok:
        return None, f"{spec.key}.{name}={raw!r} is not valid ({_expected(p)}): using the default"
    return value, None


def _typed(p, raw: str):
    """A URL value converted to the spec's type, kept inside its slider range."""
    if p.kind == "choice":
        return (raw, True) if raw in p.choices else (None, False)
    if p.kind == "bool":
        return ({"1": True, "true": True, "0": False, "false": False}.get(raw), raw in ("0", "1", "true", "false"))
    v = _number(raw)
    if v is None or (p.low is not None and not p.low <= v <= p.high):
        return None, False
    if p.kind == "int":
        return (int(v), True) if v == int(v) else (None, False)
    return v, True


def _expected(p) -> str:
    if p.kind == "choice":
        return "one of " + ", ".join(map(str, p.choices))
    if p.kind == "bool":
        return "0 or 1"
    return f"a number from {p.low:g} to {p.high:g}"


def _number(raw: str):
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        # The shortest text that reads back as the same float (links restore exactly), without ".0".
        text = repr(v)
        return text[:-2] if text.endswith(".0") else text
    return str(v)
