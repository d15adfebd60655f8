"""One colour per optimizer, the same on every figure and page.

The first eight are Okabe & Ito's colour-blind-safe set; the rest come from Paul Tol's muted and
dark schemes. Each optimizer keeps its colour whatever else is selected, so a lecturer can say
"the orange one" on any page. Families that share a colour range also differ in dash style.
"""

from __future__ import annotations

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
TOL_EXTRA = ("#332288", "#117733", "#44AA99", "#88CCEE", "#DDCC77", "#CC6677", "#AA4499", "#882255",
             "#999933", "#6699CC", "#994455", "#997700")

# Chosen so the default scenes (sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam) are all
# Okabe-Ito colours; yellow goes to a less common optimizer (it is faint on a light background).
_BY_KEY = {
    "sgd": "#000000", "momentum": "#0072B2", "nesterov": "#56B4E9", "adagrad": "#009E73",
    "rmsprop": "#D55E00", "adadelta": "#CC79A7", "adam": "#E69F00", "amsgrad": "#882255",
    "adamw": "#997700", "nadam": "#AA4499", "adamax": "#6699CC", "radam": "#CC6677", "rprop": "#117733",
    "adabound": "#44AA99", "lion": "#332288", "lookahead": "#999933", "ranger": "#994455",
    "newton": "#88CCEE", "diag_newton": "#DDCC77",
}


def color_for(key: str, index: int = 0) -> str:
    """The optimizer's colour; an unknown key (a future optimizer) gets one by position."""
    palette = OKABE_ITO + TOL_EXTRA
    return _BY_KEY.get(key, palette[index % len(palette)])
