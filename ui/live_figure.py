"""The Playground's figure as a live component: plotly.js draws it in the page, and a rerun sends only
the parts of the figure that the browser does not already hold.

Why not st.plotly_chart: a Streamlit chart is one element, so a new learning rate for one optimizer
resent the whole figure (108 KB on the default scene, 524 KB at 8 x 1,000: the surface, every other
path, 120 animation frames, a 120-step slider), and Streamlit's chart redrew it twice. Here:

- the figure is cut into parts (each trace, the layout, each column of the animation frames, the frame
  names), each named by a digest of its JSON text; a rerun sends the digests, and the text only of the
  parts this browser has not been sent yet (`encode`). The session remembers which digests the browser
  holds; if the browser lacks one all the same (a page it left and came back to, a rerun it skipped),
  it asks, and the next run sends everything (`missing`);
- the frames go as columns (one head's x over every frame is one float32 array), and the slider's 120
  identical "animate" steps are rebuilt from the frame names in the browser: 29 + 19 KB become ~5 KB;
- the invisible 625-point click grid is not sent or drawn: the browser turns a click on the plot
  area into data coordinates itself (ui/live_figure.js) and sends them back as the `click` trigger.

`assemble` is the browser's reading, in Python: tests read the figure a page sent through it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import streamlit as st

from figures.keys import compact_js
from ui.plotly_figure import plain_arrays, trace_typed, typed_array

JS_FILE = Path(__file__).with_name("live_figure.js")
STUB_NAME = "start here"  # the click grid's name (figures/playground.py); sent as an empty trace


# ---- the wire format (pure) -------------------------------------------------------------------
def _json(obj) -> str:
    """Compact JSON; NaN and ±inf (invalid JSON) as null, numpy numbers as Python ones."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_plain)
    except ValueError:
        return json.dumps(_finite(obj), separators=(",", ":"), allow_nan=False, default=_plain)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _finite(obj):
    if isinstance(obj, float) or isinstance(obj, np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    return obj


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _frame_columns(frames: list[dict]) -> dict | None:
    """Frames as columns when they all have one shape (the same traces, and per entry the same keys with
    numeric lists of one length): {"names": [...], "traces": [...], "columns": [[entry, key, values]]},
    values an F x L typed array (a plain list of rows below 16 frames). None when they do not."""
    if not frames:
        return None
    first = frames[0]
    entries = first.get("data") or []
    if set(first) != {"name", "data", "traces"} or not entries:
        return None
    shape = [{k: len(v) for k, v in e.items()} for e in entries]
    for f in frames:
        if set(f) != {"name", "data", "traces"} or f["traces"] != first["traces"] or len(f["data"]) != len(entries):
            return None
        for e, want in zip(f["data"], shape):
            if {k: len(v) if isinstance(v, (list, tuple)) else -1 for k, v in e.items()} != want:
                return None
    columns = []
    for j, want in enumerate(shape):
        for key in want:
            try:
                rows = np.array([f["data"][j][key] for f in frames], dtype=np.float64)
            except (TypeError, ValueError):  # text or None in a frame: not a numeric column
                return None
            if not np.isfinite(rows).all():
                return None
            values = typed_array(rows.tolist())
            columns.append([j, key, values if values is not None else rows.tolist()])
    return {"names": [str(f["name"]) for f in frames], "traces": list(first["traces"]), "columns": columns}


def _animate_slider(layout: dict, names: list[str]) -> tuple[int, dict] | None:
    """(index, still) for a slider whose steps are exactly "animate to frame n, with `still`" over the
    frame names in order (figures/animation.controls): the browser rebuilds those steps."""
    for i, slider in enumerate(layout.get("sliders") or []):
        steps = slider.get("steps") or []
        if len(steps) != len(names) or not steps:
            continue
        still = steps[0].get("args", [None, None])[1]
        if all(
            s.get("method") == "animate" and s.get("label") == n and s.get("args") == [[n], still] and len(s) == 3
            for s, n in zip(steps, names)
        ):
            return i, still
    return None


def encode(figure: dict, known=frozenset(), click_trace: int | None = None) -> tuple[dict, dict[str, str]]:
    """(payload, parts): what the component is sent for `figure` when the browser already holds the
    parts whose digests are in `known`, and every part (digest -> JSON text) it holds once it has drawn it.

    payload = {"data": [digest per trace], "layout": digest, "frames": None | {"names": digest,
    "traces": [...], "columns": [[entry, key, digest]]} | {"raw": digest}, "slider": None | [index,
    still], "click": trace index or None, "parts": {digest: JSON text, for the new parts only}}."""
    parts: dict[str, str] = {}

    def part(obj) -> str:
        text = _json(obj)
        h = _digest(text)
        parts[h] = text
        return h

    data = []
    for i, trace in enumerate(figure.get("data", [])):
        if i == click_trace:  # drawn by nobody: the browser turns clicks into coordinates itself
            trace = {k: trace[k] for k in ("type", "name", "xaxis", "yaxis") if k in trace}
            trace.update(x=[], y=[], hoverinfo="skip", showlegend=False)
        data.append(part(trace_typed(trace)))

    layout = figure.get("layout", {})
    frames_out, slider = None, None
    raw_frames = figure.get("frames") or []
    columns = _frame_columns(raw_frames)
    if columns is not None:
        frames_out = {
            "names": part(columns["names"]),
            "traces": columns["traces"],
            "columns": [[j, key, part(values)] for j, key, values in columns["columns"]],
        }
        found = _animate_slider(layout, columns["names"])
        if found is not None:
            index, still = found
            sliders = [dict(s) for s in layout["sliders"]]
            sliders[index] = {k: v for k, v in sliders[index].items() if k != "steps"}
            layout = dict(layout, sliders=sliders)
            slider = [index, still]
    elif raw_frames:
        frames_out = {"raw": part([dict(f, data=[trace_typed(t) for t in f.get("data", [])]) for f in raw_frames])}
    payload = {
        "data": data,
        "layout": part(layout),
        "frames": frames_out,
        "slider": slider,
        "click": click_trace,
        "parts": {h: text for h, text in parts.items() if h not in known},
    }
    return payload, parts


def assemble(payload: dict, store: dict[str, str]) -> dict:
    """The figure the browser draws from `payload`, given the parts it already holds (`store`, digest ->
    JSON text; updated with the payload's new parts). Typed arrays stay typed (plain_arrays reads them).
    Raises KeyError naming a digest the browser would have to ask for."""
    store.update(payload.get("parts", {}))

    def get(h):
        if h not in store:
            raise KeyError(f"part {h} is neither in the payload nor held")
        return json.loads(store[h])

    figure = {"data": [get(h) for h in payload["data"]], "layout": get(payload["layout"])}
    frames = payload.get("frames")
    if frames and "raw" in frames:
        figure["frames"] = get(frames["raw"])
    elif frames:
        names = get(frames["names"])
        built = [{"name": n, "data": [{} for _ in frames["traces"]], "traces": list(frames["traces"])} for n in names]
        for j, key, h in frames["columns"]:
            values = get(h)
            rows = _rows(values)
            for f, row in zip(built, rows):
                f["data"][j][key] = row
        figure["frames"] = built
        if payload.get("slider"):
            index, still = payload["slider"]
            slider = figure["layout"]["sliders"][index]
            slider["steps"] = [dict(method="animate", label=n, args=[[n], still]) for n in names]
    return figure


def _rows(values) -> list[list]:
    if isinstance(values, dict):  # a typed array with a shape
        return plain_arrays(values)
    return values


# ---- the component ----------------------------------------------------------------------------
_component = None


def _mount():
    global _component
    if _component is None:
        _component = st.components.v2.component(
            "gradscape_live_figure",
            html='<div class="gradscape-live"></div>',
            js=compact_js(JS_FILE.read_text(encoding="utf-8")),
            isolate_styles=False,  # plotly.js puts its styles in the document's head
        )
    return _component


def preload(key: str) -> None:
    """The component with nothing to draw: the browser fetches its code (and Streamlit's) now."""
    _mount()(data=[None], key=key)


def held_key(key: str) -> str:
    """Where the session keeps the parts (digest -> JSON text) the browser holds for the figure `key`:
    their digests say what need not be sent again, and their text lets a test read what was drawn."""
    return f"_live_held.{key}"


def sent_figure(at, key: str) -> dict:
    """The figure the last run of the AppTest `at` sent to the live figure `key`, as the browser
    assembles it (from the run's payload and the parts the browser already held), numbers as lists."""
    payloads = [json.loads(e.proto.json)[0] for e in at.get("bidi_component") if e.proto.json.startswith("[{")]
    found = [p for p in payloads if isinstance(p, dict) and p.get("id") == key]
    assert len(found) == 1, f"{len(found)} live figures keyed {key!r}"
    return plain_arrays(assemble(found[0], dict(at.session_state[held_key(key)])))


def live_figure(
    figure: dict,
    key: str,
    *,
    click_trace: int | None = None,
    on_click: Callable[[], None] | None = None,
    config: dict | None = None,
) -> None:
    """Draw `figure` (a plotly dict from figures/) as a live figure (plotly.js: ui.shell.plotly_loader).
    click_trace: the index of the invisible click grid, whose clicks become the `click` trigger
    ({"x", "y"}) handled by `on_click`."""
    known = st.session_state.get(held_key(key)) or {}
    payload, held = encode(figure, known, click_trace=click_trace)
    payload["config"] = dict(config or {})
    payload["id"] = key
    st.session_state[held_key(key)] = held

    def missing() -> None:  # the browser lacked a part: the next run sends them all
        st.session_state[held_key(key)] = {}

    # data as a list: Streamlit checks each value of a dict for a dataframe, importing pandas (0.4 s) to do so
    _mount()(data=[payload], key=key, on_click_change=on_click or (lambda: None), on_missing_change=missing)


def clicked_point(key: str) -> tuple[float, float] | None:
    """The data coordinates of the last click on the live figure `key` (a trigger: set for one run)."""
    result = st.session_state.get(key)
    click = getattr(result, "click", None) if result is not None else None
    if click is None and isinstance(result, dict):
        click = result.get("click")
    if not isinstance(click, dict):
        return None
    try:
        x, y = float(click["x"]), float(click["y"])
    except (KeyError, TypeError, ValueError):
        return None
    return (x, y) if math.isfinite(x) and math.isfinite(y) else None
