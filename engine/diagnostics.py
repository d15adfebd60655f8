"""Numbers read off trajectories: when a run converged, when it escaped a point."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def first_step_below(traj, tol: float) -> Tensor:
    """(B,) first recorded step whose loss is below `tol` (after subtracting nothing); −1 if never.

    A diverged run holds its last valid point, so it can count as converged only before diverging.
    """
    return _first_true(traj.loss < tol, traj.steps, traj.diverged_at)


def escape_step(traj, point: tuple[float, float], radius: float) -> Tensor:
    """(B,) first recorded step at distance > radius from `point` (e.g. a saddle); −1 if never.

    A run that diverged counts as escaped at its divergence step.
    """
    centre = torch.tensor(point, dtype=traj.xy.dtype)
    far = (traj.xy - centre).norm(dim=-1) > radius
    found = _first_true(far, traj.steps, traj.diverged_at)
    return torch.where((found < 0) & (traj.diverged_at >= 0), traj.diverged_at, found)


def first_step_below_np(loss: np.ndarray, steps: np.ndarray, tol: float, diverged_at: int = -1) -> int:
    """One run's first recorded step with loss < tol (NumPy arrays); −1 if never or only after diverging."""
    limit = len(loss) if diverged_at < 0 else int(np.searchsorted(steps, diverged_at))
    hits = np.nonzero(loss[:limit] < tol)[0]
    return int(steps[hits[0]]) if len(hits) else -1


NEVER_NEAR = -2


def saddle_escape_step(xy: np.ndarray, steps: np.ndarray, point, radius: float, diverged_at: int = -1) -> int:
    """Steps a run needs to escape a saddle: the first step at which it is farther than `radius`
    from `point` after having been within it (a start inside the ball counts as within).
    −1 if it never leaves; NEVER_NEAR (−2) if it never came within `radius`; a run that diverges
    after coming near escapes when it diverges."""
    d = np.hypot(xy[:, 0] - point[0], xy[:, 1] - point[1])
    valid = len(d) if diverged_at < 0 else int(np.searchsorted(steps, diverged_at))
    inside = np.nonzero(d[:valid] <= radius)[0]
    if len(inside) == 0:
        return NEVER_NEAR
    after = np.nonzero(d[inside[0] : valid] > radius)[0]
    if len(after):
        return int(steps[inside[0] + after[0]])
    return int(diverged_at) if diverged_at >= 0 else -1


def _first_true(mask: Tensor, steps: Tensor, diverged_at: Tensor) -> Tensor:
    """First step where mask (B, n) holds, ignoring the held points after a divergence."""
    n = mask.shape[1]
    idx = torch.arange(n).expand_as(mask)
    held = (diverged_at[:, None] >= 0) & (steps[None, :] >= diverged_at[:, None])
    mask = mask & ~held
    first = torch.where(mask, idx, n).min(dim=1).values
    return torch.where(first < n, steps[first.clamp(max=n - 1)], torch.full_like(first, -1))
