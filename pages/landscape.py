"""Real network: a small MLP on the bundled handwritten digits, trained from one shared start by each
chosen optimizer, and the training loss over the plane through that start and two optimizers' final
weights, with every path projected onto it (engine/landscape.py)."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from engine.landscape import TRAINS_WELL_LR, elementwise_optimizers
from figures.landscape import LARGE_OFF_SHARE, landscape_figure, random_slice_figure
from figures.palette import color_for
from optimizers import get_optimizer
from ui.compute import freeze, real_network_landscape
from ui.plotly_figure import PrebuiltFigure
from ui.shell import page_setup
from ui.widgets import param_widget

page_setup()
K = "ls"
CHOICES = elementwise_optimizers()
DEFAULT = [k for k in ("sgd", "momentum", "adam") if k in CHOICES]


def _name(key: str) -> str:
    return get_optimizer(key).name


def _lr_param(key: str):
    spec = get_optimizer(key)
    return replace(next(p for p in spec.params if p.name == "lr"), label=f"{spec.name}: learning rate")


sb = st.sidebar
keys = sb.multiselect(
    "Optimizers",
    CHOICES,
    default=DEFAULT,
    key=f"{K}.opt",
    format_func=_name,
    help="Only rules that update every weight on its own can train the network here.",
)
lrs = {}
for key in keys:
    p = _lr_param(key)
    lrs[key] = param_widget(p, f"{K}.{key}.lr", TRAINS_WELL_LR.get(key, p.default), container=sb)
steps = sb.slider("Steps", 100, 1000, 300, 50, key=f"{K}.steps", help="Full-batch updates of every optimizer.")
grid = sb.slider(
    "Grid points a side", 21, 81, 41, 10, key=f"{K}.grid", help="The loss is evaluated on grid × grid points."
)
for slot, other in ((f"{K}.plane_a", f"{K}.plane_b"), (f"{K}.plane_b", f"{K}.plane_a")):
    if st.session_state.get(slot) not in keys:  # first run, or its optimizer was removed from the selection
        st.session_state.pop(slot, None)
        free = [k for k in keys if k != st.session_state.get(other)]  # never the other end's optimizer
        if free:
            st.session_state[slot] = free[0]
plane_a = sb.selectbox("Plane through θ_A of", keys, key=f"{K}.plane_a", format_func=_name)
plane_b = sb.selectbox("and θ_B of", keys, key=f"{K}.plane_b", format_func=_name)
seed = int(
    sb.number_input(
        "Seed",
        0,
        2**31 - 1,
        0,
        key=f"{K}.seed",
        help="Sets the shared initialisation θ₀ and the split into training and held-out examples.",
    )
)
random_plane = sb.toggle(
    "Also: random directions (Li et al. 2018)",
    key=f"{K}.random",
    help="The loss around θ_A along two filter-normalised random directions, the picture of the loss-landscape "
    "papers; drawn below the plane.",
)
presenter = sb.toggle("Presenter mode (large text)", key=f"{K}.presenter")

# ---- main area -------------------------------------------------------------------------------------
st.title("Real network")
if len(keys) < 2:
    st.info(
        "Choose at least two optimizers in the sidebar: the picture is a plane through the final weights of "
        "two of them."
    )
    st.stop()
if plane_a == plane_b:
    st.warning(f"The plane needs two different optimizers; both are {_name(plane_a)}. Choose another θ_B.")
    st.stop()

hparams = tuple((k, freeze({"lr": lrs[k]})) for k in keys)
bar = st.progress(0.0, text=f"Training {len(keys)} networks for {steps} steps, then the {grid} × {grid} grid…")


def _progress(fraction: float, text: str) -> None:
    bar.progress(min(1.0, fraction), text=f"{text.capitalize()}… {100 * fraction:.0f}%")


scape, error = real_network_landscape(
    tuple(keys), int(steps), int(grid), (plane_a, plane_b), hparams, seed, progress=_progress, random_plane=random_plane
)
bar.empty()
if error:
    st.warning(error)
    st.stop()

meta = scape.meta
names = {k: _name(k) for k in keys}
off_plane = [k for k in keys if k not in scape.plane]
far = ", ".join(f"{names[k]} {100 * scape.paths[k].off_share:.0f}%" for k in off_plane)
st.markdown(
    f"A network with {meta['n_weights']:,} weights: 64 pixels → {meta['hidden']} tanh units → 10 classes "
    f"(softmax cross-entropy), trained on scikit-learn's bundled handwritten digits, {meta['n_train']:,} "
    f"8 × 8 images for training and {meta['n_held_out']:,} held out. Every optimizer starts from the same "
    f"weights θ₀ (seed {meta['seed']}) and takes {meta['steps']} full-batch steps with the registry's own update "
    f"rule. The picture is the training loss on the flat slice of weight space through three points: θ₀, "
    f"{names[plane_a]}'s final weights θ_A and {names[plane_b]}'s θ_B; a is the distance from θ₀ along "
    f"θ_A − θ₀, b the distance in the direction towards θ_B at right angles to it ({grid} × {grid} points). "
    f"Both plane-defining paths end exactly on it; every other path is its shadow on the slice"
    + (f" (how much of its final distance from θ₀ lies off the plane: {far})." if far else ".")
)
figure = landscape_figure(scape, names, {k: color_for(k, i) for i, k in enumerate(keys)}, presenter=presenter)
st.plotly_chart(PrebuiltFigure(figure), key=f"{K}.chart", config={"displaylogo": False, "scrollZoom": False})

rows = [
    {
        "optimizer": names[k],
        "learning rate": lrs[k],
        "final training loss": float(p.loss[-1]),
        "final held-out loss": float(p.held_out_loss[-1]),
        "held-out accuracy": 100 * p.held_out_accuracy,
        "off the plane": 100 * p.off_share,
    }
    for k, p in scape.paths.items()
]
st.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    column_config={
        "learning rate": st.column_config.NumberColumn(format="%g"),
        "final training loss": st.column_config.NumberColumn(format="%.4f"),
        "final held-out loss": st.column_config.NumberColumn(format="%.4f"),
        "held-out accuracy": st.column_config.NumberColumn(format="%.1f%%"),
        "off the plane": st.column_config.NumberColumn(
            format="%.0f%%",
            help="Distance of the final weights from the plane, as a share of their distance from θ₀.",
        ),
    },
)
large = [names[k] for k, p in scape.paths.items() if p.off_share > LARGE_OFF_SHARE]
notes = (
    "Off the plane: how far the final weights lie from the plane, as a share of how far they moved from θ₀ "
    "(0% for the two optimizers that define it)."
)
if large:
    notes += (
        f" ⚠ {', '.join(large)} {'ends' if len(large) == 1 else 'end'} mostly off the plane: the contour under "
        f"{'its path' if len(large) == 1 else 'their paths'} shows the loss of the shadow, so its contour values "
        "are not the losses it met (its real training loss is the curve on the right)."
    )
st.caption(notes + f" Computed in {meta['seconds']:.1f} s.")

if scape.random is not None:
    rs = scape.random
    st.subheader("The same network along random directions")
    picture, words = st.columns([3, 2], vertical_alignment="center")
    words.markdown(
        f"The loss-landscape papers' picture (Li et al., 2018): around {names[rs.center_of]}'s final weights, two "
        "random directions, each scaled filter by filter (every unit's incoming weights) to the size of the "
        "weights it moves, biases left alone; α and β run from −1 to 1 in those units. The centre's training "
        f"loss is {rs.center_loss:.4f}. No path is drawn: these two directions hold {100 * rs.path_share:.1f}% "
        f"of {names[rs.center_of]}'s move from θ₀ to its final weights (the rest is at right angles to them), "
        "which is why the plane above goes through the weights the optimizers actually visited."
    )
    picture.plotly_chart(
        PrebuiltFigure(random_slice_figure(rs, names[rs.center_of], presenter=presenter)),
        key=f"{K}.random_chart",
        config={"displaylogo": False, "scrollZoom": False},
    )
