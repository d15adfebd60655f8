"""The figure as it is sent: long numeric arrays as plotly.js typed arrays that decode to the figure built."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.io as pio
import pytest

from figures.playground import playground_figure
from surfaces import get_surface
from ui.compute import run_optimizer
from ui.plotly_figure import MIN_TYPED_LENGTH, PrebuiltFigure, plain_arrays, typed_array


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (list(range(300)), "i2"),
        ([float(i) for i in range(40_000)], "i4"),
        ([0.3, None, 1e-30, 123456.0, -2.5] * 4, "f4"),
        ([1e-40] + [1.0] * 20, "f8"),  # below float32's normal range: a log axis needs it kept
        ([3e39] + [1.0] * 20, "f8"),  # above float32's range
        ([[1.0, 2.0, None]] * 20, "f4"),
    ],
)
def test_typed_arrays_decode_to_the_values_sent(values, dtype):
    typed = typed_array(values)
    assert typed["dtype"] == dtype
    assert plain_arrays(typed) == values
    if isinstance(values[0], list):
        assert typed["shape"] == f"{len(values)},{len(values[0])}"


def test_non_finite_values_become_gaps():
    typed = typed_array([math.inf, math.nan, None] + [1.0] * 20)
    assert plain_arrays(typed)[:4] == [None, None, None, 1.0]


@pytest.mark.parametrize(
    "values",
    [[1.0] * (MIN_TYPED_LENGTH - 1), ["a"] * 40, [True] * 40, [[1.0, 2.0], [3.0]] * 10, ["a", 1.0] * 20, "text"],
)
def test_short_text_or_ragged_arrays_stay_as_they_are(values):
    assert typed_array(values) is None


def test_the_sent_playground_figure_is_the_built_one_with_typed_arrays():
    surface = get_surface("ravine")
    runs = [
        run_optimizer("ravine", (), key, (), "constant", (), 250, None, 0.0, 0, engine="eager")[0]
        for key in ("sgd", "momentum", "adam")
    ]
    built = playground_figure(surface, runs, surface.grid(120), start=surface.start)
    sent = pio.to_json(PrebuiltFigure(built), validate=False)  # what st.plotly_chart does with it
    assert sent.count('"bdata"') > 20
    assert len(sent) < 0.9 * len(json.dumps(built))
    assert plain_arrays(json.loads(sent)) == json.loads(json.dumps(built))  # nothing lost on the way
    path = next(t for t in json.loads(sent)["data"] if t.get("name") == "SGD")
    assert path["x"]["dtype"] == "f4" and path["customdata"]["shape"] == "251,2"
    assert np.isfinite(plain_arrays(path["x"])).all()
