"""L-BFGS: a quasi-Newton direction from the last few steps' curvature pairs, with an optional line search."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, finish, fmt, pair
from optimizers.hparams import Param, lr_param

# One gradscape step is one torch L-BFGS iteration: optimizer.step(closure) with these two.
MAX_ITER = 1
MAX_EVAL = 25
MAX_LS = MAX_EVAL - 1  # torch: max_ls = max_eval − current_evals, after the one evaluation at w
# torch's _strong_wolfe defaults; torch.optim.LBFGS.step passes neither these nor its group's
# tolerance_change, so its line search always runs with these.
C1, C2, LS_TOLERANCE_CHANGE = 1e-4, 0.9, 1e-9
CURVATURE_MIN = 1e-10  # a pair enters the memory only when yᵀs > 1e-10 (torch's constant)
LINE_SEARCHES = ("none", "strong_wolfe")
# What an update did (LBFGSState.status).
MOVED, CONVERGED, NO_DESCENT = 0.0, 1.0, 2.0


class LBFGSState(NamedTuple):
    # torch's state (state["d"], ...): what the next update reads.
    d: Tensor  # (2, B) the direction of the last iteration
    t: Tensor  # (B,) its step length
    prev_grad: Tensor  # (2, B) the gradient at the start of the last iteration
    old_dirs: Tensor  # (m, 2, B) the memory's y, oldest first (m ≥ 1: the longest memory among the runs)
    old_stps: Tensor  # (m, 2, B) the memory's s
    ro: Tensor  # (m, B) 1/(yᵀs)
    memory: Tensor  # (B,) pairs held per run (slots from there on are unused zeros)
    h_diag: Tensor  # (B,) γ = sᵀy/yᵀy of the newest pair: the initial inverse Hessian γI
    n_iter: Tensor  # (B,) iterations taken (torch's n_iter: a converged step does not count)
    # What the update just taken did (the step-by-step page reads them; the next update does not).
    status: Tensor  # (B,) MOVED, CONVERGED (max|g| ≤ tolerance_grad) or NO_DESCENT (gᵀd > −tolerance_change)
    s: Tensor  # (2, B) the curvature pair of this update: s = t·d of the last iteration (zero at the first)
    y: Tensor  # (2, B) y = g − g_prev
    ys: Tensor  # (B,) yᵀs
    accepted: Tensor  # (B,) 1.0 when (s, y) entered the memory
    t0: Tensor  # (B,) the initial step length: min(1, 1/‖g‖₁)·η at the first iteration, else η
    gtd: Tensor  # (B,) gᵀd, the directional derivative
    n_trials: Tensor  # (B,) the line search's evaluations (0 without a line search)
    trial_t: Tensor  # (k, B) their step lengths, in order (the first n_trials of each run)
    trial_f: Tensor  # (k, B) the loss at each
    trials: Tensor  # (k, 2, B) the trial points w + t·d


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """aᵀb per run of (2, B) tensors: a₀b₀ + a₁b₁, the sum torch.dot forms for a 2-vector on the CPU."""
    return (a * b).sum(0)


def _min(a: Tensor, b: Tensor) -> Tensor:
    """Python's min(a, b) per run: b where b < a, else a."""
    return torch.where(b < a, b, a)


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> tuple[Tensor, Tensor]:
    """torch.optim.lbfgs._cubic_interpolate per run: the minimiser of the cubic through (x1, f1, g1)
    and (x2, f2, g2), clamped to the bounds (default: between x1 and x2); their midpoint when the
    cubic has no minimum. x1, x2 and the bounds are _Step pairs; returns one."""
    if bounds is not None:
        lo, hi = bounds
    else:
        swap = ~(x1.t <= x2.t)
        lo, hi = x1.where(swap, x2), x2.where(swap, x1)
    num, den = 3 * (f1 - f2), x1.t - x2.t
    # torch divides a Python float by (x1 − x2): in Python when both are numbers, else as the tensor
    # (x1 − x2).reciprocal() times the float (Tensor.__rtruediv__), which rounds twice.
    ratio = torch.where(x1.tensor | x2.tensor, torch.reciprocal(den) * num, num / den)
    d1 = g1 + g2 - ratio
    d2_square = d1**2 - g1 * g2
    d2 = d2_square.sqrt()  # NaN where d2_square < 0: that branch is not taken there
    min_pos = _Step(
        torch.where(
            x1.t <= x2.t,
            x2.t - (x2.t - x1.t) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)),
            x1.t - (x1.t - x2.t) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)),
        ),
        torch.ones_like(x1.tensor),
    )
    clamped = _step_min(_step_max(min_pos, lo), hi)
    middle = _Step((lo.t + hi.t) / 2.0, lo.tensor | hi.tensor)
    return clamped.where(~(d2_square >= 0), middle)


class _Step(NamedTuple):
    """A step length per run, and whether torch holds it as a 0-dim tensor (else a Python number):
    the type decides how torch divides by a difference of two of them (see _cubic_interpolate)."""

    t: Tensor
    tensor: Tensor  # bool

    def where(self, mask: Tensor, other: "_Step") -> "_Step":
        return _Step(torch.where(mask, other.t, self.t), torch.where(mask, other.tensor, self.tensor))


def _step_max(a: _Step, b: _Step) -> _Step:
    """Python's max(a, b): b where b > a, else a (NaN included, as Python compares)."""
    return a.where(b.t > a.t, b)


def _step_min(a: _Step, b: _Step) -> _Step:
    """Python's min(a, b): b where b < a, else a."""
    return a.where(b.t < a.t, b)


class _End(NamedTuple):
    """One end of a line-search bracket (or a trial), per run: step length, loss, gradient, gᵀd."""

    t: _Step
    f: Tensor
    g: Tensor
    gtd: Tensor

    def where(self, mask: Tensor, other: "_End") -> "_End":
        return _End(self.t.where(mask, other.t), *(torch.where(mask, a, b) for a, b in zip(other[1:], self[1:])))


def _strong_wolfe(closure, x, t: _Step, d, f, g, gtd, active):
    """torch.optim.lbfgs._strong_wolfe for B runs in lockstep (max_ls = 24, c₁ = 1e-4, c₂ = 0.9,
    tolerance_change = 1e-9): a bracketing phase that extrapolates by cubic interpolation until the
    Armijo condition fails, the loss rises or the slope turns, then a zoom phase that shrinks the
    bracket until the strong Wolfe conditions hold. Every evaluation of torch's is one evaluation
    here, for every run still searching, so all runs share the count of evaluations. Runs not
    `active` do not search. Returns (t, (ts, fs, points, evaluated)): the step length chosen per run
    and every trial evaluated, in order (evaluated[k] marks the runs that evaluated the k-th)."""
    d_norm = d.abs().amax(0)
    no = torch.zeros_like(active)
    zero = _Step(torch.zeros_like(t.t), no)  # torch's int 0
    trial_ts, trial_fs, trial_points, evaluated = [], [], [], []

    def evaluate(t_new: _Step, which) -> _End:
        point = torch.addcmul(x, t_new.t, d)  # torch: p.add_(d, alpha=t), a fused multiply-add
        f_new, g_new = closure(point)
        trial_ts.append(t_new.t)
        trial_fs.append(f_new)
        trial_points.append(point)
        evaluated.append(which)
        return _End(t_new, f_new, g_new, _dot(g_new, d))

    new = evaluate(t, active)
    # A trial with a non-finite loss ends its run's search there: the run has diverged (torch would
    # go on interpolating with NaN up to its last evaluation, and end on a NaN step length).
    blown = active & ~torch.isfinite(new.f)
    blown_t = t.t
    prev = _End(zero, f, g, gtd)  # t_prev, f_prev, g_prev, gtd_prev
    end0, end1 = prev, prev  # bracket[0] and bracket[1] (which is the low end: `low`)
    low = no  # low_pos == 1 (else 0)
    bracketing = active & ~blown  # in torch's first loop
    zooming = no  # in its zoom loop
    done = no
    insuf_progress = no
    for ls_iter in range(MAX_LS):  # every searching run has made ls_iter + 1 evaluations
        # (Each phase is computed only while some run is in it: one run is in one phase at a time.)
        t_next = t_zoom = None
        if bool(bracketing.any()):
            # -- the first loop's checks, with the last evaluation
            rise = (new.f > (f + C1 * new.t.t * gtd)) | ((new.f >= prev.f) if ls_iter > 1 else no)
            wolfe = new.gtd.abs() <= -C2 * gtd
            to_bracket = bracketing & (rise | (~wolfe & (new.gtd >= 0)))
            found = bracketing & ~rise & wolfe
            end0 = end0.where(to_bracket, prev).where(found, new)  # bracket = [t_prev, t] or [t]
            end1 = end1.where(to_bracket | found, new)
            low = torch.where(to_bracket | found, ~(end0.f <= end1.f), low)
            done = done | found
            zooming = zooming | to_bracket
            bracketing = bracketing & ~to_bracket & ~found
            # -- extrapolate (the runs still bracketing): min_step = t + 0.01(t − t_prev), max_step = 10t
            min_step = _Step(new.t.t + 0.01 * (new.t.t - prev.t.t), new.t.tensor | prev.t.tensor)
            t_next = _cubic_interpolate(
                prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd, bounds=(min_step, _Step(new.t.t * 10, new.t.tensor))
            )
            prev = prev.where(bracketing, new)
        searching = zooming & ~done
        if bool(searching.any()):
            # -- the zoom loop's body (the runs bracketed, not done)
            stop = searching & ((end1.t.t - end0.t.t).abs() * d_norm < LS_TOLERANCE_CHANGE)
            done = done | stop  # the bracket is too small: the search ends
            searching = searching & ~stop
            b_max, b_min = _step_max(end0.t, end1.t), _step_min(end0.t, end1.t)
            t_zoom = _cubic_interpolate(end0.t, end0.f, end0.gtd, end1.t, end1.f, end1.gtd)
            eps = _Step(0.1 * (b_max.t - b_min.t), b_max.tensor | b_min.tensor)
            near = _min(b_max.t - t_zoom.t, t_zoom.t - b_min.t) < eps.t
            at_edge = insuf_progress | (t_zoom.t >= b_max.t) | (t_zoom.t <= b_min.t)
            to_max = (t_zoom.t - b_max.t).abs() < (t_zoom.t - b_min.t).abs()
            moved = _Step(torch.where(to_max, b_max.t - eps.t, b_min.t + eps.t), eps.tensor)
            t_zoom = t_zoom.where(near & at_edge, moved)
            insuf_progress = torch.where(searching, near & ~at_edge, insuf_progress)
        # -- one evaluation for every run still searching
        stepping = bracketing | searching
        if not bool(stepping.any()):
            break
        if t_next is None or t_zoom is None:
            t_eval = t_zoom if t_next is None else t_next
        else:
            t_eval = t_zoom.where(bracketing, t_next)
        got = evaluate(t_eval, stepping)
        new = new.where(bracketing, got)
        now_blown = stepping & ~torch.isfinite(got.f)
        blown, blown_t = blown | now_blown, torch.where(now_blown, got.t.t, blown_t)
        bracketing, searching = bracketing & ~now_blown, searching & ~now_blown
        zooming = zooming & ~now_blown
        if bool(searching.any()):
            # -- the zoom loop's bracket update
            f_low = torch.where(low, end1.f, end0.f)
            high_moves = searching & ((got.f > (f + C1 * got.t.t * gtd)) | (got.f >= f_low))
            low_moves = searching & ~high_moves
            wolfe_got = got.gtd.abs() <= -C2 * gtd
            done = done | (low_moves & wolfe_got)
            t_high, t_low = torch.where(low, end0.t.t, end1.t.t), torch.where(low, end1.t.t, end0.t.t)
            flip = low_moves & ~wolfe_got & (got.gtd * (t_high - t_low) >= 0)  # the old low end becomes the high
            low0, low1 = ~low, low  # which end is the low one
            new0 = end0.where(flip & ~low0, end1).where((high_moves & ~low0) | (low_moves & low0), got)
            new1 = end1.where(flip & ~low1, end0).where((high_moves & ~low1) | (low_moves & low1), got)
            end0, end1 = new0, new1
            low = torch.where(high_moves, ~(end0.f <= end1.f), low)
    else:  # every evaluation spent: a run still bracketing takes [0, t] (torch: ls_iter == max_ls)
        end0 = end0.where(bracketing, _End(zero, f, g, gtd))
        end1 = end1.where(bracketing, new)
        low = torch.where(bracketing, ~(end0.f <= end1.f), low)
    chosen = torch.where(blown, blown_t, torch.where(low, end1.t.t, end0.t.t))
    return chosen, (trial_ts, trial_fs, trial_points, evaluated)


def lbfgs_rule(hp: dict) -> Rule:
    r"""L-BFGS: d = −H g by the two-loop recursion over the last m curvature pairs, w ← w + t·d.

    One update is one iteration of torch.optim.LBFGS, i.e. optimizer.step(closure) with
    max_iter = 1, max_eval = 25 (torch's LBFGS is Nocedal's L-BFGS as in minFunc and torch7's
    optim.lbfgs). Liu & Nocedal (1989), On the limited memory BFGS method for large scale
    optimization; Nocedal & Wright (2006), Numerical Optimization, Algorithm 7.4 (two-loop
    recursion) and Algorithms 3.5–3.6 (strong Wolfe line search). At each update, with g the
    gradient at w:

    * if max|gᵢ| ≤ tolerance_grad, torch returns at once: no step, and nothing in its state changes
      (a converged run stands still, and its iteration count does not grow);
    * the curvature pair of the last iteration, s = t·d (torch's d.mul(t), not the difference of
      the points) and y = g − g_prev, enters the memory if yᵀs > 10⁻¹⁰ (the oldest pair leaves
      once history_size are held); then γ = sᵀy/yᵀy;
    * the two-loop recursion gives d = −H g, H the BFGS inverse-Hessian approximation built from
      γI and the pairs in memory: H ← VᵀHV + ρssᵀ, V = I − ρysᵀ, ρ = 1/(yᵀs), oldest first. At the
      first iteration the memory is empty and d = −g;
    * the step length starts at t = min(1, 1/‖g‖₁)·η at the first iteration (the first step is at
      most η long in the 1-norm) and at t = η afterwards;
    * if gᵀd > −tolerance_change, d is no descent direction: torch ends the iteration without a
      step, having stored d, t, g and the new pair;
    * line_search_fn "none": w ← w + t·d. "strong_wolfe": torch's line search (c₁ = 10⁻⁴,
      c₂ = 0.9, at most 24 further evaluations, bracket tolerance 10⁻⁹ whatever tolerance_change
      says: torch does not pass it on) picks t, and w ← w + t·d.

    tolerance_change acts only through the gᵀd test here: torch's other uses of it (the change of
    the loss, max|t·d|) stop the loop between two iterations of one .step, and there is one.

    The B runs share nothing: each has its own memory, and they step in lockstep (the line search's
    evaluations are batched; a run whose search has ended waits). Every operation is torch's, on
    the same values (a dot product of 2-vectors is a₀b₀ + a₁b₁, as torch.dot computes it on the
    CPU; p.add_(d, alpha=t) is a fused multiply-add, torch.addcmul here; where torch's line search
    divides a Python float by a step length it holds as a tensor, it multiplies by the reciprocal,
    and so does this one), so a float64 run on the CPU equals torch.optim.LBFGS bit for bit
    (tests/optimizers/test_lbfgs.py). Differences:

    * gradient noise: the step's noise is in the gradient at w (the direction, gᵀd, the first step
      length, the convergence test and the next pair's y), while the loss and the line search's
      trial points are evaluated without noise (engine.step.evaluator). torch with a noisy closure
      would draw new noise at every evaluation;
    * the loss at w, which the line search needs, is one more evaluation of the closure (torch gets
      it from its first one), and is kept in the run's dtype (torch converts it to a Python float:
      the same in float64);
    * a trial point whose loss is not finite ends the line search of its run there, and the run
      steps to it (the engine flags it diverged); torch would go on interpolating with NaN to its
      last evaluation and end on a NaN step. Where torch would raise (two equal bracket ends
      that are Python numbers in its interpolation), the runs here go on.

    Defaults are torch's, but for history_size: 10 (scipy's L-BFGS-B keeps 10 pairs, Nocedal &
    Wright suggest 3 to 20) instead of torch's 100. On a 2-D surface older pairs add little, and each
    pair held costs two passes of the recursion in every update (a long noisy run, which never
    converges, fills the memory); the slider goes to 100, and the snippet passes the value used.

    The path draws every iterate; the line search's trial points stay in the state (trials, trial_t,
    trial_f) for the step-by-step page.
    """
    history_size = hp["history_size"]
    tol_grad, tol_change = hp["tolerance_grad"], hp["tolerance_change"]
    line_search = hp["line_search_fn"]
    if line_search not in LINE_SEARCHES:
        raise ValueError(f"line_search_fn must be one of {', '.join(LINE_SEARCHES)}; got {line_search!r}")

    def init(params):
        b = params.shape[1:]
        zeros, slot = params.new_zeros(b), params.new_zeros((1, *params.shape))
        vec = torch.zeros_like(params)
        row = params.new_zeros((1, *b))
        return LBFGSState(
            d=vec, t=zeros, prev_grad=vec, old_dirs=slot, old_stps=slot, ro=row, memory=zeros,
            h_diag=params.new_ones(b), n_iter=zeros, status=zeros, s=vec, y=vec, ys=zeros, accepted=zeros,
            t0=zeros, gtd=zeros, n_trials=zeros, trial_t=row, trial_f=row, trials=slot,
        )  # fmt: skip

    def update(grad, state, params, lr, values, closure=None):
        g = grad
        converged = g.abs().amax(0) <= tol_grad  # torch returns before it touches its state
        going = ~converged
        if not bool(going.any()):  # every run has converged: nothing moves, nothing is computed
            zeros = torch.zeros_like(state.t)
            return params, state._replace(
                status=torch.full_like(zeros, CONVERGED), s=torch.zeros_like(params), y=torch.zeros_like(params),
                ys=zeros, accepted=zeros, t0=zeros, gtd=zeros, n_trials=zeros, trial_t=zeros.unsqueeze(0),
                trial_f=zeros.unsqueeze(0), trials=torch.zeros_like(params).unsqueeze(0),
            )  # fmt: skip
        first = state.n_iter == 0
        # The curvature pair of the last iteration, and the memory.
        y = g - state.prev_grad  # flat_grad.sub(prev_flat_grad)
        s = state.d * state.t  # d.mul(t)
        ys = _dot(y, s)
        accept = going & ~first & (ys > CURVATURE_MIN)
        old_dirs, old_stps, ro, memory = state.old_dirs, state.old_stps, state.ro, state.memory
        full = memory >= history_size
        if bool((accept & ~full & (memory >= old_dirs.shape[0])).any()):  # a run needs one more slot
            old_dirs = torch.cat((old_dirs, torch.zeros_like(old_dirs[:1])))
            old_stps = torch.cat((old_stps, torch.zeros_like(old_stps[:1])))
            ro = torch.cat((ro, torch.zeros_like(ro[:1])))
        shift = accept & full  # the oldest pair leaves (torch: pop(0)), then the new one is appended
        if bool(shift.any()):
            old_dirs = torch.where(shift, torch.roll(old_dirs, -1, 0), old_dirs)
            old_stps = torch.where(shift, torch.roll(old_stps, -1, 0), old_stps)
            ro = torch.where(shift, torch.roll(ro, -1, 0), ro)
        slots = torch.arange(old_dirs.shape[0], device=g.device).view(-1, *([1] * (g.dim() - 1)))
        into = accept & (slots == torch.where(full, history_size - 1, memory))  # (m, B)
        old_dirs = torch.where(into.unsqueeze(1), y, old_dirs)
        old_stps = torch.where(into.unsqueeze(1), s, old_stps)
        ro = torch.where(into, 1.0 / ys, ro)
        memory = torch.where(accept, torch.clamp(memory + 1, max=history_size), memory)
        h_diag = torch.where(accept, ys / _dot(y, y), torch.where(first, 1.0, state.h_diag))
        # The two-loop recursion: q = −g, then r = γq, over the m slots. A slot a run does not use
        # holds zeros (s = y = ρ = 0), and leaves q and r as they are (q + (−0)·0 = q).
        stps, dirs, rho = old_stps.unbind(0), old_dirs.unbind(0), ro.unbind(0)
        q = g.neg()
        al = [None] * len(rho)
        for i in range(len(rho) - 1, -1, -1):
            al[i] = (stps[i] * q).sum(0) * rho[i]  # old_stps[i].dot(q) * ro[i]
            q = torch.addcmul(q, al[i].neg(), dirs[i])  # q.add_(old_dirs[i], alpha=−al[i])
        r = q * h_diag  # torch.mul(q, H_diag)
        for i in range(len(rho)):
            be_i = (dirs[i] * r).sum(0) * rho[i]  # old_dirs[i].dot(r) * ro[i]
            r = torch.addcmul(r, al[i] - be_i, stps[i])  # r.add_(old_stps[i], alpha=al[i] − be_i)
        d = torch.where(first, g.neg(), r)
        # The step length and the directional derivative.
        inv_l1 = 1.0 / g.abs().sum(0)
        t0 = torch.where(first, torch.where(inv_l1 < 1.0, inv_l1, 1.0) * lr, torch.zeros_like(inv_l1) + lr)
        gtd = _dot(g, d)
        descent = going & ~(gtd > -tol_change)
        trial_t, trial_f = torch.zeros_like(t0).unsqueeze(0), torch.zeros_like(t0).unsqueeze(0)
        trials, n_trials = torch.zeros_like(params).unsqueeze(0), torch.zeros_like(t0)
        t = t0
        if line_search == "strong_wolfe" and bool(descent.any()):
            if closure is None:
                raise ValueError("L-BFGS with line_search_fn='strong_wolfe' needs the closure (engine.step.evaluator)")
            f0, _ = closure(params)
            # torch's first t is a tensor where min(1, 1/‖g‖₁) took the tensor, else a Python float.
            t_first = _Step(t0, first & (inv_l1 < 1.0))
            t, (ts, fs, points, evaluated) = _strong_wolfe(closure, params, t_first, d, f0, g, gtd, descent)
            mask = torch.stack(evaluated)
            trial_t = torch.where(mask, torch.stack(ts), 0.0)
            trial_f = torch.where(mask, torch.stack(fs), 0.0)
            trials = torch.where(mask.unsqueeze(1), torch.stack(points), 0.0)
            n_trials = mask.sum(0).to(t0.dtype)
        t = torch.where(descent, t, t0)
        new = torch.where(descent, torch.addcmul(params, t, d), params)  # p.add_(d, alpha=t)
        status = torch.where(converged, CONVERGED, torch.where(descent, MOVED, NO_DESCENT))
        z = torch.zeros_like(t0)

        def kept(old, value):  # a converged run's state is untouched (its memory was not written above)
            return torch.where(converged, old, value)

        new_state = LBFGSState(
            kept(state.d, d),
            kept(state.t, t),
            kept(state.prev_grad, g),
            old_dirs,
            old_stps,
            ro,
            memory,
            kept(state.h_diag, h_diag),
            kept(state.n_iter, state.n_iter + 1),
            status.to(t0.dtype),
            torch.where(going & ~first, s, 0.0),
            torch.where(going & ~first, y, 0.0),
            torch.where(going & ~first, ys, z),
            accept.to(t0.dtype),
            kept(z, t0),
            kept(z, gtd),
            n_trials,
            trial_t,
            trial_f,
            trials,
        )
        return new, new_state

    return Rule(init, update, coupled=True, needs_closure=True)


def _scalar(t) -> float:
    return float(torch.as_tensor(t).reshape(-1)[0])


def explain_lbfgs(v):
    e = begin(v)
    a = v.state_after
    hp = v.hp
    status = _scalar(a.status)
    e.facts["status"] = status
    if status == CONVERGED:
        biggest = e.number("max_abs_g", v.grad.abs().max())
        e.say(
            f"max|gᵢ| = {biggest} ≤ tolerance_grad = {fmt(float(hp['tolerance_grad']))}: torch's L-BFGS returns "
            "at once, without a step, and its memory and direction stay as they were."
        )
        return finish(e, v, f"Step = {e.show('step', v.move)}.")
    first = _scalar(a.n_iter) == 1
    m = int(_scalar(a.memory))
    e.facts["memory"] = tuple(
        (pair(a.old_stps[i]), pair(a.old_dirs[i])) for i in range(m)
    )  # the (s, y) pairs the recursion used, oldest first
    if first:
        e.say("First iteration: the memory of curvature pairs is empty, so the direction is d = −g.")
    else:
        accepted = _scalar(a.accepted) == 1.0
        e.facts["accepted"] = accepted
        s, y, ys = e.show("state.s", a.s), e.show("state.y", a.y), e.number("ys", a.ys)
        verdict = (
            f"> 10⁻¹⁰, so the pair enters the memory ({m} of at most {hp['history_size']} pairs)"
            if accepted
            else f"≤ 10⁻¹⁰ (no positive curvature along s), so the pair is rejected: the memory keeps its {m} "
            f"pair{'' if m == 1 else 's'}"
        )
        e.say(f"Curvature pair from the last step: s = t·d = {s}, y = g − g_prev = {y}; sᵀy = {ys} {verdict}.")
        if m:
            gamma = e.number("gamma", a.h_diag)
            e.say(
                f"Two-loop recursion over the {m} pair{'s' if m > 1 else ''}, from H₀ = γI with γ = sᵀy/yᵀy = "
                f"{gamma} (the newest pair's): d = −Hg, H the BFGS inverse-Hessian estimate."
            )
        else:
            e.say("The memory is still empty: d = −g, steepest descent.")
    d = e.show("state.d", a.d)
    gtd = e.number("gtd", a.gtd)
    if first:
        e.say(f"Direction d = −g = {d}; gᵀd = {gtd}.")
    else:
        e.say(f"Direction d = {d}, against the steepest descent −g = {e.show('minus_g', -v.grad)}; gᵀd = {gtd}.")
    if not first:  # at the first iteration d is −g
        e.arrow("d = −Hg", a.d)
    if v.lr != 1:  # else the figure's −ηg is −g
        e.arrow("−g", -v.grad)
    t0 = e.number("t0", a.t0)
    if first:
        l1 = e.number("g_l1", v.grad.abs().sum())
        e.say(
            f"First step length t = min(1, 1/‖g‖₁)·η = min(1, 1/{l1})·{fmt(v.lr)} = {t0}: the first step is at "
            "most η long in the 1-norm, whatever the gradient's size."
        )
    else:
        e.say(f"Initial step length t = η = {t0}.")
    if status == NO_DESCENT:
        e.say(
            f"gᵀd = {gtd} > −tolerance_change = {fmt(-float(hp['tolerance_change']))}: d is no descent direction, "
            "so torch ends this iteration without a step (it keeps d, t, g and the pair)."
        )
        return finish(e, v, f"Step = {e.show('step', v.move)}.")
    t = e.number("t", a.t)
    if hp["line_search_fn"] == "strong_wolfe":
        n = int(_scalar(a.n_trials))
        listed = []
        for i in range(n):
            point = e.show(f"trial_{i + 1}", a.trials[i])
            ti = e.number(f"trial_t_{i + 1}", a.trial_t[i])
            fi = e.number(f"trial_f_{i + 1}", a.trial_f[i], 4)
            listed.append(f"t = {ti} at {point} (loss {fi})")
            e.markers[f"trial {i + 1}, t = {ti}"] = e.shown[f"trial_{i + 1}"]
        e.say(
            f"Strong Wolfe line search (c₁ = 10⁻⁴, c₂ = 0.9) evaluated {n} trial point{'s' if n > 1 else ''}: "
            + "; ".join(listed)
            + f". It chose t = {t}"
            + (": no trial point was low enough, and the point stays." if _scalar(a.t) == 0 else ".")
        )
    else:
        e.say(f"No line search: the step is t·d with t = {t}.")
    return finish(e, v, f"Step = t·d = {e.show('step', v.move)}.")


LBFGS = OptimizerSpec(
    key="lbfgs",
    name="L-BFGS",
    family="quasi-Newton",
    build=lbfgs_rule,
    torch_twin=TorchTwin(
        "LBFGS",
        lambda hp: dict(
            lr=hp["lr"],
            max_iter=MAX_ITER,
            max_eval=MAX_EVAL,
            tolerance_grad=hp["tolerance_grad"],
            tolerance_change=hp["tolerance_change"],
            history_size=hp["history_size"],
            line_search_fn=None if hp["line_search_fn"] == "none" else hp["line_search_fn"],
        ),
        note="One gradscape step is one L-BFGS iteration: optimizer.step(closure) with max_iter=1; "
        "the line search evaluates the closure up to 24 more times within it.",
        closure=True,
    ),
    params=(
        lr_param(
            1.0,
            low=0.01,
            high=2.0,
            help="Step length t of every iteration after the first (the line search's first trial, with strong Wolfe).",
        ),  # fmt: skip
        Param(
            "history_size",
            10,
            1,
            100,
            kind="int",
            label="history size m",
            help="Curvature pairs (s, y) kept: the inverse Hessian is built from the last m steps (torch's "
            "default is 100; each pair costs two steps of the recursion per update).",
            latex="m",
        ),
        Param(
            "tolerance_grad",
            1e-7,
            1e-12,
            1e-2,
            log=True,
            label="gradient tolerance",
            help="No step once every |gᵢ| is at most this (converged).",
            latex=r"\epsilon_g",
        ),
        Param(
            "tolerance_change",
            1e-9,
            1e-12,
            1e-3,
            log=True,
            label="change tolerance",
            help="No step when gᵀd > −this: the direction does not descend.",
            latex=r"\epsilon_c",
        ),
        Param(
            "line_search_fn",
            "none",
            label="line search",
            kind="choice",
            choices=LINE_SEARCHES,
            help="none: step t·d with t = η; strong_wolfe: a line search chooses t.",
        ),
    ),
    latex=(
        r"d_k = -H_k g_k,\ H_k = V_{k-1}^{\top} H_{k-1} V_{k-1} + \rho_{k-1} s_{k-1} s_{k-1}^{\top}"
        r"\ \text{over the last } m \text{ pairs from } H = \gamma I,\ V = I - \rho\, y s^{\top},\ "
        r"\rho = \frac{1}{y^{\top} s},\ \gamma = \frac{s^{\top} y}{y^{\top} y};\quad"
        r" w_{k+1} = w_k + t_k d_k,\ s_k = t_k d_k,\ y_k = g_{k+1} - g_k,\ "
        r"t_0 = \min(1, \tfrac{1}{\|g_0\|_1})\,\eta,\ t_k = \eta\ \text{(or a strong Wolfe line search)}"
    ),
    reference="Liu & Nocedal (1989), On the limited memory BFGS method for large scale optimization; "
    "Nocedal & Wright (2006), Algorithm 7.4; torch.optim.LBFGS (max_iter=1)",
    summary="Builds a Newton-like direction from the last few steps' gradient changes: few, well-aimed steps.",
    effective_lr_note="the step length t of each iteration is on the step-by-step page",
    explain=explain_lbfgs,
    color="#E41A1C",
    state_labels={"d": "direction d", "s": "step s = t·d", "y": "gradient change y"},
)
