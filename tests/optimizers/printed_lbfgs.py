"""L-BFGS's printed rule (optimizers/lbfgs.py, LBFGS.latex), written out per coordinate for
tests/optimizers/test_theory.py: the inverse-Hessian estimate built as the LaTeX prints it, by the
BFGS update H ← VᵀHV + ρssᵀ (V = I − ρysᵀ) from γI over the pairs in memory, oldest first (the
code runs the two-loop recursion instead), then w + t·d.

What the printed function reads of the update: the pairs the memory holds after it (the
explanation's fact "memory"), whether the step was taken (its fact "status"), and with a line
search the step length it chose (fact "t": a line search is not a formula). It checks the newest
pair against s = t_prev·d_prev and y = g − g_prev from the state before.
"""

from __future__ import annotations

import pytest

CONVERGED, NO_DESCENT = 1.0, 2.0


def _matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(2)) for j in range(2)] for i in range(2)]


def _inverse_hessian(memory):
    """H from γI (γ = sᵀy/yᵀy of the newest pair) by the BFGS update over the pairs, oldest first."""
    if not memory:
        return [[1.0, 0.0], [0.0, 1.0]]
    s, y = memory[-1]
    gamma = (s[0] * y[0] + s[1] * y[1]) / (y[0] * y[0] + y[1] * y[1])
    h = [[gamma, 0.0], [0.0, gamma]]
    for s, y in memory:
        rho = 1.0 / (y[0] * s[0] + y[1] * s[1])
        v = [[(1.0 if i == j else 0.0) - rho * y[i] * s[j] for j in range(2)] for i in range(2)]
        vt = [[v[j][i] for j in range(2)] for i in range(2)]
        h = _matmul(_matmul(vt, h), v)
        h = [[h[i][j] + rho * s[i] * s[j] for j in range(2)] for i in range(2)]
    return h


def lbfgs(d, hp, t):
    g, w, ex = d.grad, d.position, d.extras
    if ex["status"] == CONVERGED:
        assert max(abs(g[0]), abs(g[1])) <= hp["tolerance_grad"]
        return list(w)
    before = d.state_before
    first = before["n_iter"] == 0
    memory = list(ex["memory"])
    if first:
        direction = [-g[0], -g[1]]
        step = min(1.0, 1.0 / (abs(g[0]) + abs(g[1]))) * hp["lr"]
    else:
        s = [before["t"] * before["d"][i] for i in (0, 1)]
        y = [g[i] - before["prev_grad"][i] for i in (0, 1)]
        if s[0] * y[0] + s[1] * y[1] > 1e-10:  # the pair entered the memory: it is the newest one
            assert memory[-1][0] == pytest.approx(s, rel=1e-12, abs=1e-300)
            assert memory[-1][1] == pytest.approx(y, rel=1e-12, abs=1e-300)
        h = _inverse_hessian(memory)
        direction = [-(h[i][0] * g[0] + h[i][1] * g[1]) for i in (0, 1)]
        step = hp["lr"]
    if ex["status"] == NO_DESCENT:
        assert g[0] * direction[0] + g[1] * direction[1] > -hp["tolerance_change"] * (1 + 1e-9)
        return list(w)
    if hp["line_search_fn"] == "strong_wolfe":
        step = ex["t"]
    return [w[i] + step * direction[i] for i in (0, 1)]


PRINTED = {"lbfgs": lbfgs}
SETTINGS = {"lbfgs": {"line_search_fn": "strong_wolfe", "history_size": 2, "lr": 0.8}}
