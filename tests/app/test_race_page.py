"""The fair race on the Fair comparison page (AppTest): the table is the engine's race, the protocol is
printed, each median run opens in the Playground at its own start and seed."""

from __future__ import annotations

import numpy as np
import pytest

from engine.race import Protocol, race
from optimizers import get_optimizer
from scene.config import from_query
from surfaces import get_surface
from tests.app.test_sweep_pages import chart, clean, link_queries, open_page

RACE = {"fc.steps": 100, "fc.opt": ["sgd", "adam"]}


def test_the_race_is_the_default_and_its_table_is_the_engines():
    at = open_page("fair_comparison", RACE)
    assert "a race over many starts" in at.title[0].value
    want = race(get_surface("rosenbrock"), ["sgd", "adam"], Protocol(steps=100))
    table = at.dataframe[0].value
    for key, name in (("sgd", "SGD"), ("adam", "Adam")):
        row = table.loc[table["optimizer"] == name].iloc[0]
        e = want.entries[key]
        assert float(row["tuned lr"]) == pytest.approx(e.tuned_lr, rel=1e-12)
        assert row["success rate"] == f"{100 * e.success_rate:.0f}%"
        assert float(row["median final loss − f*"]) == pytest.approx(e.median_final_gap, rel=1e-9)
    text = " ".join(m.value for m in at.markdown)
    assert "64 starts sampled uniformly" in text and "never evaluation starts" in text
    fig = chart(at, "fc.race.chart")
    assert [t["type"] for t in fig["data"]].count("box") == 4


def test_each_median_run_opens_in_the_playground_at_its_start_seed_and_lr():
    at = open_page("fair_comparison", {**RACE, "fc.race.noise": 0.05})
    want = race(get_surface("rosenbrock"), ["sgd", "adam"], Protocol(steps=100, noise=0.05))
    links = link_queries(at)
    for key, name in (("sgd", "SGD"), ("adam", "Adam")):
        cfg, warnings = from_query(links[name])
        assert not warnings, warnings
        e = want.entries[key]
        s, j = e.median_run()
        assert cfg.optimizers == (key,) and cfg.steps == 100 and cfg.noise == 0.05
        assert cfg.seed == int(want.evaluation_seeds[j])
        assert np.allclose(cfg.start, want.evaluation_starts[s], atol=1e-4)
        assert cfg.hparams[key]["lr"] == pytest.approx(e.tuned_lr, rel=1e-12)
    assert "same 8 noise seeds at every start" in " ".join(m.value for m in at.markdown)


def test_the_protocol_widgets_change_the_race():
    at = open_page("fair_comparison", RACE)
    at.selectbox(key="fc.race.kind").set_value("grid").run()
    clean(at)
    assert "64 starts on a grid" in " ".join(m.value for m in at.markdown)
    at.radio(key="fc.race.objective").set_value("success_rate").run()
    clean(at)
    assert "share of runs that reach" in " ".join(m.value for m in at.markdown)


def test_a_second_hyperparameter_is_tuned_with_the_lr_and_carried_to_the_playground():
    at = open_page("fair_comparison", RACE)
    at.selectbox(key="fc.race.second").set_value("beta1").run()
    clean(at)
    protocol = Protocol(steps=100, second="beta1", second_points=5)
    want = race(get_surface("rosenbrock"), ["sgd", "adam"], protocol)
    table = at.dataframe[0].value
    row = table.loc[table["optimizer"] == "Adam"].iloc[0]
    e = want.entries["adam"]
    assert e.tuned_second != get_optimizer("adam").defaults()["beta1"]  # no grid value is the default 0.9
    assert float(row["tuned β₁ (first moment)"]) == pytest.approx(e.tuned_second, rel=1e-12)
    assert float(row["tuned lr"]) == pytest.approx(e.tuned_lr, rel=1e-12)
    assert np.isnan(float(table.loc[table["optimizer"] == "SGD"].iloc[0]["tuned β₁ (first moment)"]))  # SGD: none
    text = " ".join(m.value for m in at.markdown)
    assert "every pair of the two grids is tried, for Adam" in text and "SGD has no β₁ (first moment)" in text
    cfg, warnings = from_query(link_queries(at)["Adam"])
    assert not warnings and cfg.hparams["adam"] == pytest.approx(e.tuned, rel=1e-12)
    # keeping only optimizers without it turns the choice off, with no error
    at.multiselect(key="fc.opt").set_value(["sgd", "momentum"]).run()
    clean(at)
    assert at.selectbox(key="fc.race.second").value is None
    assert "Jointly" not in " ".join(m.value for m in at.markdown)
