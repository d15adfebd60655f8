"""One colour per optimizer, the same on every figure and page.

The first eight are Okabe & Ito's colour-blind-safe set; the rest come from Paul Tol's muted and
dark schemes. Each optimizer keeps its colour whatever else is selected, so a lecturer can say
"the orange one" on any page. Families that share a colour range also differ in dash style.
"""

from __future__ import annotations

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
TOL_EXTRA = (
    "#332288",
    "#117733",
    "#44AA99",
    "#88CCEE",
    "#DDCC77",
    "#CC6677",
    "#AA4499",
    "#882255",
    "#999933",
    "#6699CC",
    "#994455",
    "#997700",
)

# Each optimizer declares its colour in its own file (OptimizerSpec.color), chosen so the default
# scenes (sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam) are all Okabe-Ito colours; yellow
# goes to a less common optimizer (it is faint on a light background).


def color_for(key: str, index: int = 0) -> str:
    """The optimizer's colour; an optimizer without one (or an unknown key) gets one by position."""
    from optimizers import available_optimizers, get_optimizer

    palette = OKABE_ITO + TOL_EXTRA
    if key in available_optimizers():
        spec = get_optimizer(key)
        return spec.color or palette[available_optimizers().index(key) % len(palette)]
    return palette[index % len(palette)]
