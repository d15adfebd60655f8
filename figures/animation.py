"""Shared animation pieces: which steps get a frame, and the Play/Pause buttons with the scrubber.

Frames touch only marker/cursor traces; the surface is a layout image plus an untouched scatter of
contour lines, which survive the animation (a contour or heatmap trace would vanish: DESIGN.md).
Frames use redraw=True: with redraw=False, a click-select after the animation has played throws in
plotly.js ("reading 'selectAll'") and click-to-start stops working (tests/browser). The price is
a slower frame rate in software-rendered browsers (~10 instead of ~15 frames/s for 8 runs here).
"""

from __future__ import annotations

import numpy as np

MAX_FRAMES = 120


def frame_steps(n_steps: int, frames: int = MAX_FRAMES) -> list[int]:
    """At most `frames` steps from 0 to n_steps, evenly spread, both ends included."""
    if n_steps <= 0:
        return [0]
    return sorted(set(np.linspace(0, n_steps, min(frames, n_steps + 1)).round().astype(int).tolist()))


def position_at(steps: np.ndarray, xy: np.ndarray, step: int) -> tuple[float, float]:
    """The run's point at `step` (its last recorded point at or before it)."""
    j = min(max(int(np.searchsorted(steps, step, side="right")) - 1, 0), len(steps) - 1)
    return float(xy[j, 0]), float(xy[j, 1])


def positions_at(steps: np.ndarray, steps_wanted) -> np.ndarray:
    """Row indices of the run's point at each wanted step (as position_at, for many steps at once)."""
    j = np.searchsorted(steps, np.asarray(steps_wanted), side="right") - 1
    return np.clip(j, 0, len(steps) - 1)


def controls(steps: list[int], frame_ms: int, font: int, y: float, x_slider: float = 0.16) -> tuple[dict, dict]:
    """(slider, buttons): a step scrubber and Play/Pause, all client-side (no rerun)."""
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    slider = dict(
        active=0,
        x=x_slider,
        len=1 - x_slider,
        y=y,
        yanchor="top",
        pad=dict(t=8, b=4),
        currentvalue=dict(prefix="step ", font=dict(size=font, color="#222"), xanchor="right"),
        ticklen=0,
        minorticklen=0,
        tickwidth=0,
        font=dict(color="rgba(0,0,0,0)"),  # 120 step labels are clutter; the current value says it
        steps=[dict(method="animate", label=str(s), args=[[str(s)], still]) for s in steps],
    )
    buttons = dict(
        type="buttons",
        direction="left",
        showactive=False,
        x=0.0,
        y=y,
        xanchor="left",
        yanchor="top",
        pad=dict(t=8, r=8),
        font=dict(size=font),
        buttons=[
            dict(
                label="▶ Play",
                method="animate",
                args=[
                    None,
                    dict(
                        frame=dict(duration=frame_ms, redraw=True),
                        fromcurrent=True,
                        transition=dict(duration=0),
                        mode="immediate",
                    ),
                ],
            ),
            dict(label="❚❚ Pause", method="animate", args=[[None], still]),
        ],
    )
    return slider, buttons
