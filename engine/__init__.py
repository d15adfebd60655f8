"""The shared simulation engine: batched roll-outs on a torch device."""

from engine.diagnostics import escape_step, first_step_below
from engine.rollout import MAX_STEPS, SimulationTooLarge, Trajectory, default_device, estimate_bytes, simulate

__all__ = [
    "MAX_STEPS",
    "SimulationTooLarge",
    "Trajectory",
    "default_device",
    "escape_step",
    "estimate_bytes",
    "first_step_below",
    "simulate",
]
