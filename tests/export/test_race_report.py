"""The fair race's report card: the CSV holds every evaluation run as the engine has it; the PNG's
figure carries the protocol."""

from __future__ import annotations

import csv
import io

import numpy as np
import plotly.graph_objects as go

from engine.race import Protocol, race
from export.race import COLUMNS, report_columns, report_csv, report_figure
from figures.race import protocol_text


def test_the_csv_is_every_evaluation_run_and_states_the_protocol():
    r = race("rosenbrock", ["sgd", "adam"], Protocol(steps=60, starts=9, lr_points=3, noise=0.05, seeds=2))
    text = report_csv(r)
    first, rest = text.split("\n", 1)
    assert first == "# " + protocol_text(r)
    rows = list(csv.DictReader(io.StringIO(rest)))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 2 * 9 * 2
    for key in ("sgd", "adam"):
        e = r.entries[key]
        mine = [row for row in rows if row["optimizer"] == key]
        gaps = np.array([float(row["final_loss_gap"]) if row["final_loss_gap"] else np.inf for row in mine])
        assert np.array_equal(gaps.reshape(9, 2), e.evaluation.gap)
        assert [int(row["steps_to_tol"]) for row in mine] == e.evaluation.steps_to_tol.ravel().tolist()
        assert {float(row["tuned_lr"]) for row in mine} == {e.tuned_lr}
        starts = {(float(row["start_x"]), float(row["start_y"])) for row in mine}
        assert starts == {tuple(p) for p in r.evaluation_starts}


def test_the_report_figure_is_valid_and_carries_the_protocol():
    r = race("rosenbrock", ["adam"], Protocol(steps=40, starts=4, lr_points=2))
    fig = report_figure(r, "Fair race on Rosenbrock")
    go.Figure(fig)
    title = fig["layout"]["title"]["text"]
    assert "Fair race on Rosenbrock" in title and "never evaluation starts" in title.replace("<br>", " ")


def test_a_second_tuned_hyperparameter_gets_its_own_column():
    protocol = Protocol(steps=40, starts=4, lr_points=2, second="momentum", second_points=3)
    r = race("rosenbrock", ["sgd", "momentum"], protocol)
    rows = list(csv.DictReader(io.StringIO(report_csv(r).split("\n", 1)[1])))
    assert tuple(rows[0]) == report_columns(r) == (*COLUMNS[:2], "tuned_momentum", *COLUMNS[2:])
    assert {row["tuned_momentum"] for row in rows if row["optimizer"] == "sgd"} == {""}  # plain SGD has none
    mine = {float(row["tuned_momentum"]) for row in rows if row["optimizer"] == "momentum"}
    assert mine == {r.entries["momentum"].tuned_second} and mine <= set(r.entries["momentum"].second_values)
    assert "every pair of the two grids" in report_csv(r).split("\n", 1)[0]
