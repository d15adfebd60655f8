"""Numbers read off trajectories: when a run converged, when it escaped a point."""

from __future__ import annotations

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


def _first_true(mask: Tensor, steps: Tensor, diverged_at: Tensor) -> Tensor:
    """First step where mask (B, n) holds, ignoring the held points after a divergence."""
    n = mask.shape[1]
    idx = torch.arange(n).expand_as(mask)
    held = (diverged_at[:, None] >= 0) & (steps[None, :] >= diverged_at[:, None])
    mask = mask & ~held
    first = torch.where(mask, idx, n).min(dim=1).values
    return torch.where(first < n, steps[first.clamp(max=n - 1)], torch.full_like(first, -1))
