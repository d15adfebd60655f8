"""`gradscape landscape`: writes landscape.json (the grid, the plane, every path), an offline HTML page
and a PNG, and answers bad arguments with one line and exit code 2. Small sizes (60 steps, 17 × 17)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from export import cli

STEPS, GRID = 60, 17
ARGS = ("landscape", "--optimizers", "sgd,momentum,adam", "--steps", str(STEPS), "--grid", str(GRID))


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("gradscape: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def written(tmp_path_factory, cli_process):
    out = tmp_path_factory.mktemp("landscape")
    proc = cli_process(*ARGS, "--plane", "sgd,adam", "--lr", "adam=0.02", "--format", "json,html", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_the_json_holds_the_grid_the_plane_and_every_path(written):
    out, proc = written
    assert proc.stdout.split() == [str(out / "landscape.json"), str(out / "landscape.html")]
    doc = json.loads((out / "landscape.json").read_text())
    assert doc["plane"] == ["sgd", "adam"]
    assert len(doc["axes"]["a"]) == len(doc["axes"]["b"]) == GRID
    assert len(doc["loss"]) == GRID and all(len(row) == GRID for row in doc["loss"])
    assert set(doc["paths"]) == {"sgd", "momentum", "adam"}
    for key, p in doc["paths"].items():
        for field in ("a", "b", "loss", "held_out_loss", "off_plane", "steps"):
            assert len(p[field]) == STEPS + 1, (key, field)
        assert p["steps"] == list(range(STEPS + 1))
        assert 0 <= p["off_share"] <= 1 and 0 <= p["held_out_accuracy"] <= 1
    assert doc["meta"]["hparams"]["adam"]["lr"] == 0.02  # --lr
    assert doc["meta"]["hparams"]["sgd"]["lr"] == 0.5  # the measured default
    assert doc["meta"]["steps"] == STEPS and doc["meta"]["n_weights"] == 2410


def test_the_plane_optimizers_end_on_the_plane_and_the_others_do_not(written):
    doc = json.loads((written[0] / "landscape.json").read_text())
    for key in ("sgd", "adam"):
        p = doc["paths"][key]
        moved = (p["a"][-1] ** 2 + p["b"][-1] ** 2) ** 0.5
        assert p["off_plane"][-1] <= 1e-9 * moved and p["off_share"] <= 1e-9
    assert doc["paths"]["adam"]["b"][-1] > 0 and abs(doc["paths"]["sgd"]["b"][-1]) <= 1e-9  # θ_A on the a axis
    assert doc["paths"]["momentum"]["off_plane"][-1] > 0


def test_the_json_is_the_engines_landscape(written):
    from engine.landscape import landscape

    doc = json.loads((written[0] / "landscape.json").read_text())
    scape = landscape(
        ["sgd", "momentum", "adam"],
        steps=STEPS,
        grid=GRID,
        plane_of=("sgd", "adam"),
        hparams={"sgd": {"lr": 0.5}, "momentum": {"lr": 0.1}, "adam": {"lr": 0.02}},
    )
    # another process: equal to float32 rounding whatever the thread count or device did to the sums
    close = dict(rel=1e-5, abs=1e-9)
    assert doc["axes"]["a"] == pytest.approx(scape.a.tolist(), **close)
    assert doc["axes"]["b"] == pytest.approx(scape.b.tolist(), **close)
    for row, expected in zip(doc["loss"], scape.loss.tolist()):
        assert row == pytest.approx(expected, **close)
    assert doc["paths"]["momentum"]["off_plane"] == pytest.approx(scape.paths["momentum"].off_plane.tolist(), **close)
    assert doc["paths"]["adam"]["loss"] == pytest.approx(scape.paths["adam"].loss.tolist(), **close)


def test_the_html_works_offline(written):
    page = (written[0] / "landscape.html").read_text()
    assert "<title>gradscape: a real network&#x27;s loss landscape</title>" in page  # html-escaped
    assert "cdn.plot.ly" not in page and '<script src="http' not in page
    assert "training loss on the plane" in page and "Adam · θ_B: defines the plane" in page


def test_png_or_a_clear_message(tmp_path, cli_process):
    proc = cli_process(*ARGS, "-f", "png", "--width", "900", "--height", "420", "--out", str(tmp_path), "-q")
    assert "Traceback" not in proc.stderr
    if proc.returncode == 1 and "gradscape: png skipped: kaleido/Chromium could not render it" in proc.stderr:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    im = Image.open(tmp_path / "landscape.png")
    assert im.size == (900, 420)


@pytest.mark.parametrize(
    "args, message",
    [
        (("--plane", "sgd,lion"), "--plane needs two different optimizers among --optimizers"),
        (("--plane", "adam,adam"), "--plane needs two different optimizers"),
        (("--plane", "sgd"), "--plane needs two different optimizers"),
        (("--optimizers", "sgd,newton"), "newton cannot train the network here"),
        (("--optimizers", "adam"), "choose at least two"),
        (("--lr", "lion=0.1"), "--lr names lion, which is not among --optimizers"),
        (("--lr", "adam"), "expected KEY=VALUE"),
        (("--lr", "adam=-1"), "must be positive"),
        (("--grid", "2"), "--grid must be from 3 to 201"),
        (("--steps", "0"), "--steps must be from 1"),
        (("--format", "gif"), "unknown format 'gif'; choose from json, html, png"),
    ],
    ids=[
        "plane-not-trained",
        "plane-twice",
        "plane-one",
        "not-elementwise",
        "one-optimizer",
        "lr-stray",
        "lr-no-value",
        "lr-negative",
        "grid",
        "steps",
        "format",
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message, capsys, tmp_path):
    code = cli.main(["landscape", *args, "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2
    assert message in one_line_error(captured.err), captured.err
    assert not list(tmp_path.iterdir())  # nothing computed, nothing written


def test_bad_plane_in_a_subprocess_exits_2(cli_process, tmp_path):
    proc = cli_process(*ARGS, "--plane", "sgd,rmsprop", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "--plane needs two different optimizers" in one_line_error(proc.stderr)


def test_out_naming_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken.json"
    target.write_text("{}")
    assert cli.main(["landscape", "--out", str(target)]) == 2
    assert "give a folder" in one_line_error(capsys.readouterr().err)


def test_help_lists_the_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "landscape" in capsys.readouterr().out
    assert cli.main(["landscape", "--help"]) == 0
    text = capsys.readouterr().out
    for word in ("--optimizers", "--plane", "--lr", "landscape.json", "off_plane"):
        assert word in text


def test_random_plane_adds_li_et_als_slice_to_the_json(tmp_path, cli_process):
    proc = cli_process(*ARGS, "--random-plane", "--format", "json", "--out", str(tmp_path), "-q")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "landscape.json").read_text())
    rp = doc["random_plane"]
    assert rp["center"] == "sgd"  # θ_A: the first optimizer unless --plane says otherwise
    assert len(rp["axes"]["alpha"]) == GRID and len(rp["loss"]) == GRID and len(rp["loss"][0]) == GRID
    assert rp["axes"]["alpha"][0] == -1.0 and rp["axes"]["alpha"][-1] == 1.0
    assert rp["loss"][GRID // 2][GRID // 2] == pytest.approx(rp["center_loss"], rel=1e-6)
    assert rp["center_loss"] == pytest.approx(doc["paths"]["sgd"]["loss"][-1], rel=1e-6)
    assert 0.0 <= rp["path_share"] < 1.0
