"""Theory: each optimizer's update rule, hyperparameters and source, and the conventions followed."""

from __future__ import annotations

import streamlit as st

from engine.lessons import radam_first_rectified_step
from figures.words import effective_lr_line, symbol_text
from optimizers import OPTIMIZERS, get_optimizer
from ui.shell import page_setup
from ui.widgets import fmt_value

page_setup()
st.title("Theory")
st.caption(
    "Every rule below is the code gradscape runs: the same text as the docstring next to it. Optimizers that "
    "torch.optim has reproduce its trajectories bit for bit; the others follow their paper or, where it "
    "says so, the authors' reference code."
)

st.header("Where texts disagree, and what gradscape does")
_b2 = get_optimizer("radam").defaults()["beta2"]
_paper, _torch, _code = (
    radam_first_rectified_step(_b2, 4, False),
    radam_first_rectified_step(_b2, 5, False),
    radam_first_rectified_step(_b2, 5, True),
)
st.markdown(f"""
- **ε inside or outside the root.** The lecture notes write both √(v + ε) and √v + ε. gradscape follows
  torch.optim: ε is added *after* the root for AdaGrad, RMSprop, Adam and its relatives, and *inside* both roots
  for AdaDelta (as in Zeiler's paper and torch).
- **Momentum's sign and scale.** The notes write u ← γu − ηg, w ← w + u; torch keeps b ← μb + g and steps
  w ← w − ηb. With a constant η they are the same path (u = −ηb); under a schedule torch's form rescales the
  whole velocity when η changes. The *momentum* optimizer follows torch.
- **Nesterov.** gradscape's *nesterov* is the look-ahead form of the notes: the gradient is taken at
  w + μu (the notes write γ for μ). torch's SGD(nesterov=True) tracks that look-ahead point itself as its
  parameter; the two trajectories differ by μu at every step (tested).
- **RAdam's threshold.** The paper's algorithm switches the adaptive factor on when ρₜ > 4, torch.optim when
  ρₜ > 5 (gradscape follows torch), the authors' code when ρₜ ≥ 5 (`N_sma >= 5`). With β₂ = {_b2:g} the first
  rectified step is step {_paper} by the paper's rule, step {_torch} by torch's and step {_code} by the authors' code.
- **AdaBound.** The paper's algorithm has neither ε nor bias correction. √v + ε and the bias-corrected step size
  η√(1 − β₂ᵗ)/(1 − β₁ᵗ) come from the authors' reference code (Luolc/AdaBound), which gradscape follows;
  pytorch-optimizer adds 1e-15 inside the root, √(v + 1e-15) + ε (a difference only when v is tiny).
- **Ranger.** Lookahead around torch's RAdam. pytorch-optimizer's Ranger also centralises gradients (which would mix
  x and y on a 2D point) and steps *uphill* in RAdam's warm-up phase with its default flag; gradscape does neither.
- **Effective learning rate.** For diagonal methods (AdaGrad, RMSprop, Adam, ...) the plots show the per-coordinate
  factor that multiplies the gradient (or m̂); for Rprop the per-coordinate step length; for Lookahead that of its
  inner optimizer; for the others the scheduled η.
- **Notes' slips.** Note 002 writes Adam's second moment with m^(t−1) where v^(t−1) is meant; note 003 writes
  AdaDelta's update average with θₜ² where Δθₜ² is meant.
""")

st.header("The optimizers")
names = [spec.name for spec in OPTIMIZERS]
chosen = st.multiselect("Show", names, default=names, key="th.show")
for spec in OPTIMIZERS:
    if spec.name not in chosen:
        continue
    with st.expander(f"**{spec.name}** — {spec.summary}", expanded=False):
        st.latex(spec.latex)
        st.markdown(f"**Source:** {spec.reference}")
        if spec.torch_name:
            twin = spec.torch_twin
            st.markdown(f"**Matches** `{twin.module}.{twin.cls}` {twin.inexact or 'bit for bit'} (tested).")
        rows = [
            {
                "name": p.name,
                "symbol": symbol_text(p.latex),
                "default": fmt_value(p.default),
                "range": f"{fmt_value(p.low)} – {fmt_value(p.high)}"
                if p.low is not None
                else ", ".join(map(str, p.choices)),
                "scale": "log" if p.log else p.kind,
                "meaning": p.help,
            }
            for p in spec.params
        ]
        st.dataframe(rows, hide_index=True, width="stretch")
        line = effective_lr_line(spec.effective_lr_kind, spec.effective_lr_note)
        st.markdown(f"**Effective learning rate shown:** {line}")
        st.code(spec.doc.strip(), language=None)
