"""The fair race's report card (engine/race.py): every evaluation run as CSV, and the figure with the
protocol as a PNG."""

from __future__ import annotations

import csv
import io

import numpy as np

from figures.race import protocol_text, race_figure

COLUMNS = ("optimizer", "tuned_lr", "start_x", "start_y", "noise_seed", "final_loss_gap", "steps_to_tol", "diverged")


def report_columns(race) -> tuple[str, ...]:
    """COLUMNS, with `tuned_<name>` after tuned_lr when the race tunes a second hyperparameter."""
    second = race.protocol.second
    return COLUMNS if second is None else (*COLUMNS[:2], f"tuned_{second}", *COLUMNS[2:])


def report_csv(race) -> str:
    """One row per evaluation run; a run that never reached the tolerance has steps_to_tol −1, a
    diverged one an empty final_loss_gap, an optimizer without the second tuned hyperparameter an
    empty tuned_<name>. The protocol is the first line, as a comment."""
    out = io.StringIO()
    out.write("# " + protocol_text(race) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report_columns(race))
    second = race.protocol.second
    for e in race.entries.values():
        tuned_second = ("" if e.tuned_second is None else repr(e.tuned_second),) if second else ()
        for i, (x, y) in enumerate(race.evaluation_starts):
            for j, seed in enumerate(race.evaluation_seeds):
                gap = e.evaluation.gap[i, j]
                writer.writerow(
                    (
                        e.key,
                        repr(e.tuned_lr),
                        *tuned_second,
                        repr(float(x)),
                        repr(float(y)),
                        int(seed),
                        repr(float(gap)) if np.isfinite(gap) else "",
                        int(e.evaluation.steps_to_tol[i, j]),
                        int(bool(e.evaluation.diverged[i, j])),
                    )
                )
    return out.getvalue()


def report_figure(race, title: str) -> dict:
    """The race figure with a title and the protocol under it (the PNG report card)."""
    fig = race_figure(race)
    layout = dict(fig["layout"])
    layout["height"] += 170
    layout["margin"] = dict(layout["margin"], t=190)
    text = protocol_text(race)
    words, lines, line = text.split(), [], ""
    for w in words:  # wrap the protocol at ~150 characters a line
        if len(line) + len(w) > 150:
            lines.append(line)
            line = ""
        line += (" " if line else "") + w
    lines.append(line)
    layout["title"] = dict(text=f"<b>{title}</b><br><span style='font-size:12px'>{'<br>'.join(lines)}</span>", x=0.01)
    return dict(fig, layout=layout)


def report_png(race, title: str, width: int = 1400) -> bytes:
    from export.render import kaleido_image

    fig = report_figure(race, title)
    return kaleido_image(fig, "png", width, int(fig["layout"]["height"]))
