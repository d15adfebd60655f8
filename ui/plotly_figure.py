"""Hand a prebuilt plotly dict to st.plotly_chart without plotly re-validating it, its numbers as typed arrays.

st.plotly_chart validates a dict by building a go.Figure from it (~0.3 s for the Playground's
8 × 1,000-step figure); a go.Figure it receives is only converted back with to_dict(). This
subclass is a go.Figure whose to_dict() is the dict we built, so the figure is serialised once.
The dict comes from figures/, whose tests check it against plotly's schema.

On the way out, every long numeric x, y, z and customdata array becomes a plotly.js typed array
({"dtype": ..., "bdata": base64}, decoded natively by plotly.js >= 2.28; Streamlit 1.67 ships v4):
no decimal formatting on the server and no number parsing in the browser. Step numbers go as int16
or int32 (a quarter of their decimal bytes); values as float32 where every finite one is a float32
normal number (the figures round to 6 significant digits, which float32's 7.2 keep; 60% of the
bytes), float64 otherwise (a loss of 1e-40 on a log axis). None and non-finite values become NaN,
which plotly.js draws as a gap, as it does null.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

ARRAY_KEYS = ("x", "y", "z", "customdata")
MIN_TYPED_LENGTH = 16  # shorter arrays stay lists: the encoding would save nothing
_F4 = np.finfo(np.float32)


def typed_array(values) -> dict | None:
    """values (a list of numbers and None, or a list of equal rows of them) as a plotly.js typed array;
    None when they are not all numbers (text, dates, ragged rows) or too few to gain anything."""
    if not isinstance(values, (list, tuple)) or len(values) < MIN_TYPED_LENGTH:
        return None
    if any(isinstance(v, (str, bool)) for v in values[:1]):
        return None
    try:
        a = np.array(values, dtype=np.float64)  # None -> NaN; text or ragged rows raise
    except (TypeError, ValueError):
        return None
    if a.ndim not in (1, 2):
        return None
    finite = np.abs(a[np.isfinite(a)])
    nonzero = finite[finite > 0]
    if finite.size == a.size and finite.size and np.all(a == np.round(a)) and finite.max() < 2**31:
        dtype = "i2" if finite.max() < 2**15 else "i4"  # step numbers: 2 bytes each
    elif not finite.size or (finite.max() <= _F4.max and (not nonzero.size or nonzero.min() >= _F4.tiny)):
        dtype = "f4"
    else:
        dtype = "f8"
    out = {"dtype": dtype, "bdata": base64.b64encode(a.astype("<" + dtype).tobytes()).decode("ascii")}
    if a.ndim == 2:
        out["shape"] = f"{a.shape[0]},{a.shape[1]}"
    return out


def trace_typed(trace: dict) -> dict:
    """A copy of one trace with its long numeric x, y, z and customdata as typed arrays."""
    out = dict(trace)
    for key in ARRAY_KEYS:
        typed = typed_array(trace.get(key))
        if typed is not None:
            out[key] = typed
    return out


def with_typed_arrays(spec: dict) -> dict:
    """A copy of the figure with its traces' (and frames' traces') long numeric arrays typed."""
    out = dict(spec)
    out["data"] = [trace_typed(t) for t in spec.get("data", [])]
    if spec.get("frames"):
        out["frames"] = [dict(f, data=[trace_typed(t) for t in f.get("data", [])]) for f in spec["frames"]]
    return out


def plain_arrays(value):
    """The inverse, for reading a sent figure: typed arrays, at any depth, back to lists (NaN as None)."""
    if isinstance(value, list):
        return [plain_arrays(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) <= {"dtype", "bdata", "shape"} and isinstance(value.get("bdata"), str):
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
        if "shape" in value:
            return [_numbers(row) for row in a.reshape([int(n) for n in str(value["shape"]).split(",")])]
        return _numbers(a)
    return {k: plain_arrays(v) for k, v in value.items()}


def _numbers(a) -> list:
    # str() of a float32 is its shortest round-trip decimal: the 6-digit value the figure had, not 0.30000001
    as_float = (lambda v: float(str(v))) if a.dtype == np.float32 else (int if a.dtype.kind == "i" else float)
    return [as_float(v) if np.isfinite(v) else None for v in a]


class PrebuiltFigure(go.Figure):
    def __init__(self, spec: dict):  # deliberately skips go.Figure.__init__ (the validation)
        self._spec = spec

    def to_dict(self) -> dict:  # what plotly.io.to_json (and so st.plotly_chart) serialises
        return with_typed_arrays(self._spec)

    def to_plotly_json(self) -> dict:
        return self.to_dict()
