"""The `gradscape` command line: render scenes without a browser or a server.

    gradscape render "Saddle: who escapes first" --format gif,csv --out slides/
    gradscape render "surface=rosenbrock&opt=adam,newton&steps=500" --format mp4 --fps 30
    gradscape render "http://localhost:8501/playground?surface=ravine&opt=sgd,momentum" -f png -f svg
    gradscape scenes
    gradscape snippet "Plateau: AdaGrad stalls" --optimizer rmsprop > rmsprop_run.py
    gradscape landscape --optimizers sgd,momentum,adam --steps 300 --grid 41 --format json,html --out out/
    gradscape pack adaptive-learning-rates --out lecture/

Errors in the arguments print one line and exit with code 2 (as argparse does), never a traceback.
Also runs as `python -m export.cli`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

FORMATS = ("gif", "mp4", "html", "png", "svg", "csv", "json")
_BINARY = {"gif", "mp4", "png"}

MAIN_HELP = """\
gradscape: watch optimizers move on 2D loss surfaces.

The web app runs with `streamlit run app.py`. This command renders its scenes without a browser
or a server: animated GIF and MP4, a standalone interactive HTML page (works offline), PNG/SVG
stills, and the trajectories as CSV or JSON.
"""

MAIN_EPILOG = """\
examples:
  gradscape scenes
  gradscape render "Saddle: who escapes first"                 # saddle-who-escapes-first.gif here
  gradscape render "Ravine: SGD vs momentum" -f gif,mp4,html --out talk/
  gradscape render "surface=rosenbrock&opt=adam,newton&steps=500" -f png --step 100
  gradscape snippet "Ravine: SGD vs momentum" --optimizer momentum > run.py
  gradscape warm --surface ravine        # compile the Playground's fused graphs before a lecture
  gradscape landscape --optimizers sgd,momentum,adam -f json,html --out out/   # a real network's landscape
  gradscape pack adaptive-learning-rates --out lecture/   # a lecture as static HTML pages (offline)

`gradscape render --help` lists every option.
"""

RENDER_HELP = """\
Render a scene to files. SCENE is a preset name (see `gradscape scenes`; case does not matter),
a surface key (its lesson scene: ravine, saddle, rosenbrock, ...), or a link copied from the app:
a whole URL or its query string, with or without the leading '?'. Quote it in the shell.
"""

RENDER_EPILOG = """\
formats:
  gif   animated GIF of the surface with growing paths (--fps, default 20; --width, default 800)
  mp4   the same animation as H.264 video (--fps, default 30; --width, default 800)
  html  the app's interactive figure, plotly.js inside the file: opens offline
  png   a still at --step (default: the last step), --width x --height (default 1200 x 900)
  svg   the same still as SVG
  csv   one row per optimizer and step: x, y, loss, gradient, lr, effective lr, diverged_at
  json  the configuration with every hyperparameter, and the arrays per optimizer

  Animations have min(--frames or steps + 1, 200) frames, evenly spread over the steps.

output:
  --out DIR        files named after the scene inside DIR (created if missing)
  --out FILE.EXT   EXT one of the formats; with several formats FILE is the stem: FILE.gif, FILE.csv
  default          the current directory

examples:
  gradscape render "Saddle: who escapes first" --format gif,csv --out out/
  gradscape render saddle -f mp4 --fps 24 --width 1280 --out saddle.mp4
  gradscape render "?surface=ravine&s.condition=200&opt=sgd,momentum,adam" -f gif -f png
  gradscape render "http://localhost:8501/playground?surface=two_wells&steps=500" -f html

Problems in a copied link (an unknown optimizer, a value out of range) are reported on stderr and
the default is used, as in the app; --strict turns them into errors. Links are read as browsers
write them: '+' is a space, so type a plus sign in a formula as %2B (s.expr=x**2%2By**2).
"""


PACK_HELP = """\
Write a lecture as a folder of static HTML: index.html (the lecture's title, and per scene its title,
text, measured numbers and a thumbnail) and one interactive page per scene (Play/Pause, the scrubber,
the lecture keys: Space, arrows, PgUp/PgDn for the previous/next scene), all sharing one local copy
of plotly.js. Nothing is fetched from another host: the folder opens offline from the file system, and any
static web host or course platform (upload it as a zip) serves it without a server.

Each argument is a shipped lecture's key, a lecture file (.json, the format of assets/lectures/ or
the Scenes page's "Download as a lecture file"), a preset scene (name or slug; see `gradscape
scenes`), a surface key, or a copied Playground link (one with lecture= or seq= stands for the whole
lecture). One lecture keeps its title; several arguments make a sequence in their order (--title).
"""

PACK_EPILOG = """\
examples:
  gradscape pack adaptive-learning-rates --out lecture/
  gradscape pack my-lecture.json --out week3.zip            # the same pack as a zip
  gradscape pack ravine-sgd-vs-momentum "Plateau: AdaGrad stalls" saddle-who-escapes-first \\
      --title "Week 3: momentum" --out week3/
  gradscape pack "http://localhost:8501/?seq=ravine-sgd-vs-momentum,plateau-adagrad-stalls&scene=1" --out seq/
"""


class UsageError(Exception):
    """A bad command line: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage block) and exit with code 2."""

    def error(self, message):  # noqa: D401 - argparse API
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _formats(text: str) -> list[str]:
    out = []
    for part in text.replace(" ", ",").split(","):
        part = part.strip().lower().lstrip(".")
        if not part:
            continue
        if part not in FORMATS:
            raise argparse.ArgumentTypeError(f"unknown format {part!r}; choose from {', '.join(FORMATS)}")
        out.append(part)
    if not out:
        raise argparse.ArgumentTypeError(f"no format given; choose from {', '.join(FORMATS)}")
    return out


def _positive(name: str, low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number; got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be from {low} to {high}; got {value}")
        return value

    parse.__name__ = name
    return parse


LANDSCAPE_FORMATS = ("json", "html", "png")

LANDSCAPE_HELP = """\
Train a small network (64 pixels -> 32 tanh units -> 10 classes) on scikit-learn's bundled handwritten
digits from ONE shared initialisation with each optimizer, and evaluate the training loss on a plane
through that start and the final weights of two of them (--plane), every path projected onto it.
"""

LANDSCAPE_EPILOG = """\
formats:
  json  landscape.json: axes {a, b}; loss (rows: loss[i][j] at (a[j], b[i])); plane [A, B];
        paths {key: steps, a, b, loss, held_out_loss, off_plane, off_share, held_out_accuracy, ...}; meta;
        with --random-plane also random_plane {center, center_loss, axes {alpha, beta}, loss, path_share}
  html  landscape.html: the app's interactive figure, plotly.js inside the file (opens offline)
  png   landscape.png: the same figure as an image (--width x --height, default 1400 x 640); needs
        kaleido and a Chromium; skipped with a message when they cannot render

learning rates: each optimizer starts from one measured to train this network well (sgd 0.5,
momentum 0.1, adam 0.01, ...; others: their default); --lr adam=0.02,sgd=1 overrides them.

examples:
  gradscape landscape --optimizers sgd,momentum,adam --steps 300 --grid 41 --format json --out out/
  gradscape landscape -O sgd,adam,rmsprop --plane adam,rmsprop --lr rmsprop=0.002 -f json,html,png --out out/
"""


def _keys(text: str) -> list[str]:
    keys = [k.strip().lower() for k in text.replace(" ", ",").split(",") if k.strip()]
    if not keys:
        raise argparse.ArgumentTypeError("no optimizer given")
    return keys


def _landscape_formats(text: str) -> list[str]:
    out = [part.strip().lower().lstrip(".") for part in text.replace(" ", ",").split(",") if part.strip()]
    bad = [f for f in out if f not in LANDSCAPE_FORMATS]
    if bad or not out:
        what = f"unknown format {bad[0]!r}" if bad else "no format given"
        raise argparse.ArgumentTypeError(f"{what}; choose from {', '.join(LANDSCAPE_FORMATS)}")
    return out


def _learning_rates(text: str) -> dict[str, float]:
    import math

    out = {}
    for part in text.replace(" ", ",").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE (for example adam=0.01); got {part!r}")
        try:
            lr = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"the learning rate of {key.strip()!r} is not a number: {value!r}"
            ) from None
        if not (math.isfinite(lr) and lr > 0):
            raise argparse.ArgumentTypeError(f"the learning rate of {key.strip()!r} must be positive; got {value!r}")
        out[key.strip().lower()] = lr
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gradscape",
        description=MAIN_HELP,
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    render = sub.add_parser(
        "render",
        help="render a scene to GIF/MP4/HTML/PNG/SVG/CSV/JSON",
        description=RENDER_HELP,
        epilog=RENDER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    render.add_argument("scene", metavar="SCENE_OR_QUERY", help="a preset name, a surface key, or a copied URL/query")
    render.add_argument(
        "-f",
        "--format",
        dest="formats",
        action="append",
        type=_formats,
        metavar="FORMATS",
        help=f"one or more of {', '.join(FORMATS)} (repeat it or use a comma list; default gif)",
    )
    render.add_argument("-o", "--out", metavar="PATH", help="a directory, or a file name (see below)")
    render.add_argument("--fps", type=_positive("--fps", 1, 60), help="frames per second (gif 20, mp4 30)")
    render.add_argument(
        "--width", type=_positive("--width", 160, 4096), help="image width in pixels (gif/mp4 800, png/svg 1200)"
    )
    render.add_argument("--height", type=_positive("--height", 80, 4096), help="png/svg height in pixels (900)")
    render.add_argument("--frames", type=_positive("--frames", 1, 200), help="animation frames (at most 200)")
    render.add_argument("--step", type=_positive("--step", 0, 10**9), help="the step a png/svg shows (default: last)")
    render.add_argument("--full-paths", action="store_true", help="png/svg: draw whole paths, not only up to --step")
    render.add_argument("--strict", action="store_true", help="treat problems in a copied link as errors")
    render.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    sub.add_parser("scenes", help="list the preset scenes", description="List the preset scenes.")

    snip = sub.add_parser(
        "snippet",
        help="print a PyTorch script that reproduces one optimizer's run",
        description="Print a self-contained PyTorch script (torch.optim) that reproduces one "
        "optimizer's run of a scene.",
    )
    snip.add_argument("scene", metavar="SCENE_OR_QUERY", help="a preset name, a surface key, or a copied URL/query")
    snip.add_argument(
        "--optimizer", "-O", help="which optimizer of the scene (default: the first with a torch.optim class)"
    )

    warm = sub.add_parser(
        "warm",
        help="build the fused engine's Playground graphs ahead of a lecture",
        description="Build the fused engine's graphs for the Playground's lesson scenes (or "
        "the surfaces and optimizers given) and keep them on disk "
        "(~/.cache/gradscape/graphs), so the app uses them seconds after its first page "
        "(once the compiler has checked the CPU, in the background). "
        "Takes 30 s to 2 minutes a graph on a 2-core machine, once per version of gradscape.",
    )
    warm.add_argument(
        "--surface",
        "-s",
        dest="surfaces",
        action="append",
        metavar="KEY",
        help="a surface key (repeat it; default: every built-in surface)",
    )
    warm.add_argument(
        "--optimizer",
        "-O",
        dest="optimizers",
        action="append",
        metavar="KEY",
        help="an optimizer key (repeat it; default: each surface's lesson optimizers)",
    )
    land = sub.add_parser(
        "landscape",
        help="a real network's loss landscape with every optimizer's path (JSON/HTML/PNG)",
        description=LANDSCAPE_HELP,
        epilog=LANDSCAPE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    land.add_argument(
        "-O",
        "--optimizers",
        type=_keys,
        default=["sgd", "momentum", "adam"],
        metavar="KEYS",
        help="comma list of element-wise optimizers (default sgd,momentum,adam)",
    )
    land.add_argument("--steps", type=_positive("--steps", 1, 100_000), default=300, help="training steps (300)")
    land.add_argument("--grid", type=_positive("--grid", 3, 201), default=41, help="grid points a side (41)")
    land.add_argument("--plane", type=_keys, metavar="A,B", help="the two optimizers whose final weights set the plane")
    land.add_argument("--seed", type=_positive("--seed", 0, 2**31 - 1), default=0, help="initialisation and split (0)")
    land.add_argument(
        "--lr",
        dest="lrs",
        action="append",
        type=_learning_rates,
        metavar="KEY=VALUE,...",
        help="learning rates, e.g. adam=0.02,sgd=1 (repeat it or use a comma list)",
    )
    land.add_argument(
        "-f",
        "--format",
        dest="formats",
        action="append",
        type=_landscape_formats,
        metavar="FORMATS",
        help="json, html and/or png (comma list or repeated; default json)",
    )
    land.add_argument("-o", "--out", metavar="DIR", default=".", help="the folder for landscape.* (default: here)")
    land.add_argument("--width", type=_positive("--width", 160, 4096), default=1400, help="png width (1400)")
    land.add_argument("--height", type=_positive("--height", 80, 4096), default=640, help="png height (640)")
    land.add_argument(
        "--random-plane",
        action="store_true",
        help="also the loss around θ_A along two filter-normalised random directions (Li et al. 2018)",
    )
    land.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    pack = sub.add_parser(
        "pack",
        help="a lecture as a folder of static HTML pages (index, one page per scene; works offline)",
        description=PACK_HELP,
        epilog=PACK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pack.add_argument(
        "items",
        nargs="+",
        metavar="LECTURE_OR_SCENE",
        help="a lecture key, a lecture .json file, preset scenes, or copied links",
    )
    pack.add_argument(
        "-o", "--out", metavar="DIR", required=True, help="the folder to write (created if missing), or FILE.zip"
    )
    pack.add_argument("--title", help="the title of a sequence (default: the lecture's own, or 'My sequence')")
    pack.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    sub.add_parser(
        "prune",
        help="delete the fused graphs of other gradscape or torch versions",
        description="Delete the fused engine's graphs built by other versions of gradscape, torch "
        "or Python, or on another CPU (each keeps its own folder in "
        "~/.cache/gradscape/graphs, 2-4 MB a graph). The current version's graphs stay; "
        "on a store shared between machines the others' graphs go too.",
    )
    return parser


# ---- commands -------------------------------------------------------------------------------------


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(label: str, quiet: bool):
    if quiet:
        return None
    tty = sys.stderr.isatty()
    state = {"last": -1, "t0": time.perf_counter()}

    def report(done: int, total: int) -> None:
        if tty:
            end = "\n" if done == total else ""
            print(f"\r  {label}: frame {done}/{total}", end=end, file=sys.stderr, flush=True)
            return
        quarter = 4 * done // total
        if quarter != state["last"] and (quarter > 0 or done == 1):
            state["last"] = quarter
            print(f"  {label}: frame {done}/{total}", file=sys.stderr, flush=True)

    return report


def _resolve(text: str, strict: bool):
    from export.scene import resolve_scene

    try:
        cfg, warnings, title = resolve_scene(text)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if strict and warnings:
        raise UsageError(f"{len(warnings)} problem(s) in the query (--strict): " + "; ".join(warnings))
    for w in warnings:
        _err(f"gradscape: warning: {w}")
    return cfg, title, warnings


def _targets(formats: list[str], out: str | None, stem: str) -> dict[str, Path]:
    if out is None:
        return {f: Path(f"{stem}.{f}") for f in formats}
    path = Path(out)
    suffix = path.suffix.lower().lstrip(".")
    if path.is_dir() or suffix not in FORMATS or out.endswith(("/", os.sep)):
        return {f: path / f"{stem}.{f}" for f in formats}
    if len(formats) == 1:
        if suffix != formats[0]:
            raise UsageError(f"--out {out!r} names a .{suffix} file but the format is {formats[0]}")
        return {formats[0]: path}
    base = path.with_suffix("")
    return {f: base.with_name(f"{base.name}.{f}") for f in formats}


def cmd_render(args) -> int:
    formats = list(dict.fromkeys(f for group in (args.formats or [["gif"]]) for f in group))
    from export.scene import slug

    cfg, title, warnings = _resolve(args.scene, args.strict)
    targets = _targets(formats, args.out, slug(title))
    if not args.quiet:
        _err(f"gradscape: computing {title!r}: {len(cfg.optimizers)} optimizer(s) x {cfg.steps} steps")
    from export import render
    from export.scene import compute

    data = compute(cfg, title=title, warnings=warnings)
    for e in data.errors:
        _err(f"gradscape: warning: {e}")
    if args.step is not None and args.step > data.n_steps and {"png", "svg"} & set(formats):
        raise UsageError(f"--step {args.step} is past the last step ({data.n_steps})")

    stills = [f for f in formats if f in ("png", "svg")]
    session = render.image_session() if len(stills) > 1 else _null()
    with session:
        for fmt, path in targets.items():
            t0 = time.perf_counter()
            if not args.quiet:
                _err(f"gradscape: rendering {fmt} ...")
            content = _render_one(render, data, fmt, args)
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            if not args.quiet:
                _err(f"gradscape: wrote {path} ({_size(path.stat().st_size)}, {time.perf_counter() - t0:.1f} s)")
            print(path)
    return 0


def _render_one(render, data, fmt: str, args):
    progress = _progress(fmt, args.quiet)
    if fmt == "gif":
        return render.gif(data, fps=args.fps or 20, width=args.width or 800, frames=args.frames, progress=progress)
    if fmt == "mp4":
        return render.mp4(data, fps=args.fps or 30, width=args.width or 800, frames=args.frames, progress=progress)
    if fmt == "html":
        return render.html(data)
    if fmt == "png":
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = render.png(
                data, width=args.width or 1200, height=args.height or 900, step=args.step, full_paths=args.full_paths
            )
        for w in caught:
            _err(f"gradscape: warning: {w.message}")
        return out
    if fmt == "svg":
        return render.svg(
            data, width=args.width or 1200, height=args.height or 900, step=args.step, full_paths=args.full_paths
        )
    if fmt == "csv":
        return render.csv(data)
    return render.json_export(data)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def cmd_scenes(args) -> int:
    from export.scene import presets, presets_path, slug

    if not presets():
        _err(f"gradscape: no presets found ({presets_path()} is missing; set GRADSCAPE_PRESETS to a presets.json)")
        return 1
    for p in presets():
        print(p["name"])
        print(f"    {p['description']}")
        query = "&".join(f"{k}={v}" for k, v in p["query"].items())
        print(f"    slug: {slug(p['name'])}    query: {query}")
    return 0


def cmd_snippet(args) -> int:
    from export.snippet import pytorch_snippet, supported

    cfg, title, _ = _resolve(args.scene, False)
    key = args.optimizer
    if key is None:
        candidates = [k for k in cfg.optimizers if k in supported()]
        if not candidates:
            raise UsageError(f"no optimizer of {title!r} has a torch.optim class; supported: {', '.join(supported())}")
        key = candidates[0]
    try:
        print(pytorch_snippet(cfg, key), end="")
    except ValueError as err:
        raise UsageError(str(err)) from None
    return 0


def cmd_warm(args) -> int:
    import time

    import torch

    from engine.rollout import simulate
    from optimizers import get_optimizer
    from surfaces import available_surfaces, get_surface
    from scene.config import effective_hparams, lesson_config

    surfaces = args.surfaces or [k for k in available_surfaces() if k != "formula"]
    failed = 0
    for surface_key in surfaces:
        cfg = lesson_config(surface_key)
        surface = get_surface(surface_key)
        for key in args.optimizers or cfg.optimizers:
            get_optimizer(key)  # an unknown key is a usage error (ValueError -> exit 1 with the list)
            t0 = time.perf_counter()
            traj = simulate(
                surface,
                key,
                steps=2,
                hparams=effective_hparams(cfg, key),
                device="cpu",
                dtype=torch.float64,
                engine="fused",
            )
            used = traj.meta["engine"]
            failed += used != "fused" and not used.startswith("eager (")
            print(f"{surface_key:16s} {key:12s} {time.perf_counter() - t0:6.1f} s  {used}")
    return 1 if failed else 0


def _landscape_settings(args):
    """(optimizers, plane, hparams) from the arguments, checked: UsageError for anything wrong."""
    from engine.landscape import TRAINS_WELL_LR, elementwise_optimizers
    from optimizers import get_optimizer

    keys = list(dict.fromkeys(args.optimizers))
    allowed = elementwise_optimizers()
    bad = [k for k in keys if k not in allowed]
    if bad:
        raise UsageError(
            f"--optimizers: {', '.join(bad)} cannot train the network here; choose from {', '.join(allowed)}"
        )
    if len(keys) < 2:
        raise UsageError("--optimizers: choose at least two (the plane goes through the final weights of two)")
    plane = tuple(args.plane) if args.plane else (keys[0], keys[1])
    if len(plane) != 2 or plane[0] == plane[1] or any(k not in keys for k in plane):
        raise UsageError(
            f"--plane needs two different optimizers among --optimizers ({', '.join(keys)}); got {','.join(plane)}"
        )
    lrs = {k: v for group in (args.lrs or []) for k, v in group.items()}
    stray = [k for k in lrs if k not in keys]
    if stray:
        raise UsageError(f"--lr names {', '.join(stray)}, which is not among --optimizers ({', '.join(keys)})")
    hparams = {}
    for k in keys:
        spec = get_optimizer(k)
        lr = lrs.get(k, TRAINS_WELL_LR.get(k, spec.defaults().get("lr")))
        try:
            hparams[k] = spec.resolve({"lr": lr})
        except ValueError as err:
            raise UsageError(f"--lr: {err}") from None
    return keys, plane, {k: {"lr": hp["lr"]} for k, hp in hparams.items()}


def _floats(values) -> list:
    import math

    return [float(v) if math.isfinite(v) else None for v in values.tolist()]


def landscape_document(scape, names: dict, colors: dict) -> dict:
    """landscape.json: the grid, the plane and every path, JSON-ready (non-finite values as null)."""
    from export.render import json_ready

    paths = {}
    for key, p in scape.paths.items():
        paths[key] = {
            "name": names[key],
            "color": colors[key],
            "defines_plane": key in scape.plane,
            "steps": [int(s) for s in p.steps.tolist()],
            "a": _floats(p.a),
            "b": _floats(p.b),
            "loss": _floats(p.loss),
            "held_out_loss": _floats(p.held_out_loss),
            "off_plane": _floats(p.off_plane),
            "off_share": float(p.off_share),
            "held_out_accuracy": float(p.held_out_accuracy),
        }
    return {
        "generator": "gradscape",
        "what": "training loss of the network on the plane through theta0 and the final weights of plane[0] "
        "(direction a) and plane[1] (direction b, orthogonal to a); loss[i][j] is at (a[j], b[i])",
        "plane": list(scape.plane),
        "axes": {"a": _floats(scape.a), "b": _floats(scape.b)},
        "loss": [_floats(row) for row in scape.loss],
        "paths": paths,
        "meta": json_ready(dict(scape.meta)),
        **({"random_plane": _random_plane_document(scape.random)} if scape.random is not None else {}),
    }


def _random_plane_document(rs) -> dict:
    return {
        "what": "training loss at center + alpha*d1 + beta*d2, d1 and d2 filter-normalised random directions "
        "(Li et al. 2018), biases not moved; loss[i][j] is at (alpha[j], beta[i])",
        "center": rs.center_of,
        "center_loss": rs.center_loss,
        "axes": {"alpha": _floats(rs.a), "beta": _floats(rs.b)},
        "loss": [_floats(row) for row in rs.loss],
        "path_share": rs.path_share,
        "seed": rs.seed,
    }


def cmd_landscape(args) -> int:
    import json

    from engine.landscape import landscape
    from figures.landscape import landscape_figure
    from figures.palette import color_for
    from optimizers import get_optimizer

    keys, plane, hparams = _landscape_settings(args)
    formats = list(dict.fromkeys(f for group in (args.formats or [["json"]]) for f in group))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out!r} is a file; give a folder (landscape.* are written inside it)")
    if not args.quiet:
        lrs = ", ".join(f"{k} {hparams[k]['lr']:g}" for k in keys)
        _err(
            f"gradscape: training {len(keys)} networks x {args.steps} steps (lr: {lrs}), "
            f"plane of {plane[0]} and {plane[1]}, {args.grid} x {args.grid} grid"
        )
    said = {"text": None, "quarter": -1}

    def progress(fraction: float, text: str) -> None:
        quarter = int(4 * fraction)
        if not args.quiet and (text != said["text"] or quarter != said["quarter"]):
            said.update(text=text, quarter=quarter)
            _err(f"  {text}: {100 * fraction:.0f}%")

    t0 = time.perf_counter()
    scape = landscape(
        keys, args.steps, args.grid, plane, hparams, seed=args.seed, progress=progress, random_plane=args.random_plane
    )
    if not args.quiet:
        _err(f"gradscape: computed in {time.perf_counter() - t0:.1f} s")
    names = {k: get_optimizer(k).name for k in keys}
    colors = {k: color_for(k, i) for i, k in enumerate(keys)}
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for fmt in formats:
        path = out / f"landscape.{fmt}"
        if fmt == "json":
            doc = landscape_document(scape, names, colors)
            path.write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")
        elif fmt == "html":
            path.write_text(_landscape_html(landscape_figure(scape, names, colors)), encoding="utf-8")
        else:
            try:
                from export.render import kaleido_image

                image = kaleido_image(landscape_figure(scape, names, colors), "png", args.width, args.height)
            except Exception as err:  # noqa: BLE001 - kaleido or its Chromium missing or failing
                _err(f"gradscape: png skipped: kaleido/Chromium could not render it ({type(err).__name__}: {err})")
                failed += 1
                continue
            path.write_bytes(image)
        if not args.quiet:
            _err(f"gradscape: wrote {path} ({_size(path.stat().st_size)})")
        print(path)
    return 1 if failed else 0


def _landscape_html(fig: dict) -> str:
    from export.render import figure_html

    return figure_html(fig, "gradscape: a real network's loss landscape")


def cmd_pack(args) -> int:
    from scene.lectures import LectureError

    from export import pack

    out = Path(args.out)
    to_zip = out.suffix.lower() == ".zip"
    if to_zip and out.is_dir():
        raise UsageError(f"--out {args.out!r} is a folder; a zip needs a file name")
    if not to_zip and out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out!r} is a file; give a folder (or a name ending in .zip)")
    try:
        lecture, warnings = pack.resolve_lecture(args.items, args.title)
    except LectureError as err:
        raise UsageError(str(err)) from None
    for w in warnings:
        _err(f"gradscape: warning: {w}")
    if not args.quiet:
        _err(f"gradscape: packing {lecture.title!r}: {len(lecture)} scene(s)")
    t0 = time.perf_counter()
    last = {"t": t0}

    def progress(done: int, total: int, name: str) -> None:
        if not args.quiet:
            now = time.perf_counter()
            _err(f"  scene {done}/{total}: {name} ({now - last['t']:.1f} s)")
            last["t"] = now

    try:
        files = pack.build_pack(lecture, progress=progress, warn=lambda w: _err(f"gradscape: warning: {w}"))
    except LectureError as err:
        raise UsageError(str(err)) from None
    if to_zip:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(pack.zip_files(files, pack.zip_folder(lecture)))
        written, shown = out.stat().st_size, out
    else:
        pack.write_files(files, out)
        written, shown = pack.pack_size(files), out / "index.html"
    if not args.quiet:
        what = "zip" if to_zip else f"{len(files)} files"
        _err(f"gradscape: wrote {shown} ({what}, {_size(written)} in all, {time.perf_counter() - t0:.1f} s)")
    print(shown)
    return 0


def cmd_prune(args) -> int:
    from engine import graph_store

    removed = graph_store.prune_store()
    for name, size in removed:
        print(f"deleted {name}  {size / 2**20:.1f} MB")
    if not removed:
        print(f"nothing to delete: only this version's graphs are in {os.path.dirname(graph_store.cache_dir())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `gradscape` command; returns the exit code (0 ok, 1 failure, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return {
            "render": cmd_render,
            "scenes": cmd_scenes,
            "snippet": cmd_snippet,
            "warm": cmd_warm,
            "prune": cmd_prune,
            "landscape": cmd_landscape,
            "pack": cmd_pack,
        }[args.command](args)
    except UsageError as err:
        _err(f"gradscape: error: {err}")
        return 2
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except KeyboardInterrupt:
        _err("gradscape: interrupted")
        return 130
    except (OSError, RuntimeError, ValueError) as err:
        _err(f"gradscape: error: {err}")
        return 1
    except Exception as err:  # noqa: BLE001 - never a traceback on the command line
        if os.environ.get("GRADSCAPE_DEBUG"):
            raise
        _err(f"gradscape: internal error: {type(err).__name__}: {err} (set GRADSCAPE_DEBUG=1 for the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
