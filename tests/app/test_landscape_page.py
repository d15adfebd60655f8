"""The Real network page (pages/landscape.py) through Streamlit's AppTest: it runs with its defaults, the
plane follows the two chosen optimizers, bad choices get a message instead of a trace, and the table and
the text show the engine's own numbers.

Apart from the defaults test, the page starts at its smallest sizes (100 steps, 21 × 21), put into
st.session_state before its first run. Charts: plain_arrays(json.loads(el.proto.spec)).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.landscape import TRAINS_WELL_LR, landscape

from ui.plotly_figure import plain_arrays
from ui.shell import LOADER_KEY

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
SMALL = {"ls.steps": 100, "ls.grid": 21}


def page_charts(at: AppTest) -> list:
    """The page's plotly charts, without the app shell's plotly.js loader (ui/shell.py)."""
    return [c for c in at.get("plotly_chart") if not c.proto.id.endswith(LOADER_KEY + "-chart")]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def open_page(state: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    for k, v in state.items():
        at.session_state[k] = v
    at.switch_page("pages/landscape.py")
    at.run()
    return clean(at)


def figure(at: AppTest) -> dict:
    found = [c for c in page_charts(at) if c.proto.id.endswith("ls.chart")]
    assert len(found) == 1, [c.proto.id for c in page_charts(at)]
    return plain_arrays(json.loads(found[0].proto.spec))


def legend(fig: dict) -> list[str]:
    return [t["name"] for t in fig["data"] if t.get("showlegend", True) and t["type"] == "scatter"]


def test_the_page_runs_with_its_defaults():
    at = open_page({})
    assert at.title[0].value == "Real network"
    fig = figure(at)
    assert [t["type"] for t in fig["data"]].count("contour") == 1
    contour = next(t for t in fig["data"] if t["type"] == "contour")
    assert len(contour["x"]) == len(contour["y"]) == 41
    names = legend(fig)
    assert names[:2] == ["SGD · θ_A: defines the plane", "Momentum · θ_B: defines the plane"]
    assert names[2].startswith("Adam · ") and names[2].endswith("% off the plane")
    assert "θ₀: start, shared" in names
    table = at.dataframe[0].value
    assert list(table["optimizer"]) == ["SGD", "Momentum", "Adam"]
    assert list(table["learning rate"]) == [TRAINS_WELL_LR[k] for k in ("sgd", "momentum", "adam")]
    assert (table["final training loss"] < 0.2).all()  # the default learning rates train


def test_the_table_and_text_are_the_engines_numbers():
    at = open_page(SMALL)
    keys = ["sgd", "momentum", "adam"]
    scape = landscape(keys, steps=100, grid=21, hparams={k: {"lr": TRAINS_WELL_LR[k]} for k in keys})
    table = at.dataframe[0].value
    for row, key in zip(table.to_dict("records"), keys):
        p = scape.paths[key]
        assert row["final training loss"] == pytest.approx(float(p.loss[-1]), rel=1e-12)
        assert row["final held-out loss"] == pytest.approx(float(p.held_out_loss[-1]), rel=1e-12)
        assert row["held-out accuracy"] == pytest.approx(100 * p.held_out_accuracy, rel=1e-12)
        assert row["off the plane"] == pytest.approx(100 * p.off_share, rel=1e-12, abs=1e-12)
    text = at.markdown[0].value
    meta = scape.meta
    for number in (f"{meta['n_weights']:,}", f"{meta['n_train']:,}", f"{meta['n_held_out']:,}", "100 full-batch"):
        assert number in text, (number, text)
    assert f"Adam {100 * scape.paths['adam'].off_share:.0f}%" in text
    contour = next(t for t in figure(at)["data"] if t["type"] == "contour")
    assert contour["customdata"][0][0] == pytest.approx(float(scape.loss[0, 0]), rel=1e-3)


def test_changing_the_plane_changes_the_figure():
    at = open_page(SMALL)
    before = figure(at)
    at.selectbox(key="ls.plane_a").set_value("adam")
    at.selectbox(key="ls.plane_b").set_value("sgd")
    at.run()
    after = figure(clean(at))
    assert legend(after)[:3] == [
        "SGD · θ_B: defines the plane",
        "Momentum · " + legend(after)[1].split(" · ")[1],
        "Adam · θ_A: defines the plane",
    ]
    assert legend(after)[1].endswith("% off the plane")
    assert "Adam" in after["layout"]["xaxis"]["title"]["text"] and "SGD" in before["layout"]["xaxis"]["title"]["text"]
    c0 = next(t for t in before["data"] if t["type"] == "contour")
    c1 = next(t for t in after["data"] if t["type"] == "contour")
    assert c0["z"] != c1["z"]
    table = at.dataframe[0].value.set_index("optimizer")
    assert table.loc["Adam", "off the plane"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["Momentum", "off the plane"] > 0


def test_one_optimizer_gets_a_message_not_a_trace():
    at = open_page(SMALL)
    at.multiselect(key="ls.opt").set_value(["adam"])
    at.run()
    clean(at)
    assert not page_charts(at)
    assert any("at least two" in i.value for i in at.info), [i.value for i in at.info]


def test_the_same_optimizer_twice_gets_a_warning():
    at = open_page(SMALL)
    at.selectbox(key="ls.plane_b").set_value("sgd")
    at.run()
    clean(at)
    assert not page_charts(at)
    assert any("two different optimizers" in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_removed_plane_optimizer_is_replaced_by_one_not_already_on_the_plane():
    at = open_page(SMALL)
    at.multiselect(key="ls.opt").set_value(["momentum", "adam"])  # θ_A's SGD goes; θ_B stays Momentum
    at.run()
    clean(at)
    assert legend(figure(at))[:2] == ["Momentum · θ_B: defines the plane", "Adam · θ_A: defines the plane"]


def test_a_large_off_plane_share_is_flagged_in_the_caption():
    at = open_page(SMALL)
    table = at.dataframe[0].value.set_index("optimizer")
    captions = " ".join(c.value for c in at.caption)
    assert table.loc["Adam", "off the plane"] > 50  # ~78% at these settings
    assert "Adam ends mostly off the plane" in captions
    assert "its contour values are not the losses it met" in captions
    assert "SGD" not in captions.split("⚠")[1] and "Momentum" not in captions.split("⚠")[1]


def test_a_kept_landscape_is_returned_without_computing_or_progress_again():
    from ui.compute import real_network_landscape

    args = (("sgd", "adam"), 20, 5, ("sgd", "adam"), (("sgd", (("lr", 0.5),)), ("adam", (("lr", 0.01),))), 3)
    first_said, again_said = [], []
    first, error = real_network_landscape(*args, progress=lambda f, t: first_said.append(f))
    again, _ = real_network_landscape(*args, progress=lambda f, t: again_said.append(f))
    assert error is None and first_said and first_said[-1] == 1.0
    assert again is first and again_said == []


def test_random_directions_add_li_et_als_picture_with_the_engines_numbers():
    at = open_page({**SMALL, "ls.random": True})
    found = [c for c in page_charts(at) if c.proto.id.endswith("ls.random_chart")]
    assert len(found) == 1
    fig = plain_arrays(json.loads(found[0].proto.spec))
    contour = next(t for t in fig["data"] if t["type"] == "contour")
    assert len(contour["x"]) == 21 and len(contour["z"]) == 21
    star = next(t for t in fig["data"] if t.get("mode") == "markers")
    assert (star["x"], star["y"]) == ([0.0], [0.0]) and star["name"] == "SGD's final weights"
    keys = ("sgd", "momentum", "adam")
    scape = landscape(keys, steps=100, grid=21, hparams={k: {"lr": TRAINS_WELL_LR[k]} for k in keys}, random_plane=True)
    text = " ".join(m.value for m in at.markdown)
    assert f"loss is {scape.random.center_loss:.4f}" in text
    assert f"hold {100 * scape.random.path_share:.1f}% of SGD's move" in text
    # without the toggle there is no second chart
    plain = open_page(SMALL)
    assert not [c for c in page_charts(plain) if c.proto.id.endswith("ls.random_chart")]
