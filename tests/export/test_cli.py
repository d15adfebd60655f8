"""The `gradscape` command line: renders from presets and copied links in a subprocess, documents
itself, and answers bad arguments with one line and exit code 2 (never a traceback)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from PIL import Image

from export import cli
from export.scene import preset_names, slug

SADDLE = "Saddle: who escapes first"


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("gradscape: error: ")
    return lines[0]


def test_render_preset_gif_and_csv(cli_process, tmp_path, get_scene):
    proc = cli_process("render", SADDLE, "--format", "gif,csv", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    gif, table = tmp_path / f"{slug(SADDLE)}.gif", tmp_path / f"{slug(SADDLE)}.csv"
    assert proc.stdout.split() == [str(gif), str(table)]
    assert "frame 200/200" in proc.stderr  # progress
    data = get_scene(SADDLE)
    im = Image.open(gif)
    assert im.n_frames == 200 and im.size[0] == 800 and im.info["loop"] == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert len(rows) == sum(len(t.steps) for t in data.trajectories)
    assert [r["optimizer"] for r in rows[:: data.cfg.steps + 1]] == list(data.cfg.optimizers)


def test_render_copied_url_several_formats(cli_process, tmp_path):
    url = "http://localhost:8501/playground?surface=ravine&opt=sgd,adam,bogus&steps=80&seed=2"
    proc = cli_process(
        "render",
        url,
        "-f",
        "mp4",
        "-f",
        "json,html",
        "--fps",
        "12",
        "--width",
        "320",
        "--frames",
        "30",
        "--out",
        str(tmp_path / "talk" / "ravine.gif"),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    # The link's problem is a warning on stderr; the rest is rendered.
    assert "warning: unknown optimizer(s) bogus" in proc.stderr
    out = {p.suffix: p for p in (tmp_path / "talk").iterdir()}
    assert set(out) == {".mp4", ".json", ".html"} and all(p.stem == "ravine" for p in out.values())
    import imageio_ffmpeg

    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(out[".mp4"]))
    assert frames == 30 and seconds > 0
    doc = json.loads(out[".json"].read_text())
    assert [r["key"] for r in doc["runs"]] == ["sgd", "adam"] and doc["config"]["steps"] == 80
    assert "cdn.plot.ly" not in out[".html"].read_text()


def test_render_stills_in_process(tmp_path, capsys):
    pytest.importorskip("kaleido")
    code = cli.main(
        [
            "render",
            "saddle",
            "-f",
            "png,svg",
            "--step",
            "10",
            "--width",
            "500",
            "--height",
            "400",
            "--out",
            str(tmp_path),
            "-q",
        ]
    )
    assert code == 0
    png = Image.open(tmp_path / "saddle.png")
    assert png.size == (500, 400)
    assert "<svg" in (tmp_path / "saddle.svg").read_text()[:200]


@pytest.mark.parametrize(
    "args,words",
    [
        (["render", "no such scene"], "unknown scene"),
        (["render", SADDLE, "--format", "gif,bmp"], "unknown format 'bmp'"),
        (["render", SADDLE, "--format", ""], "no format"),
        (["render", "foo=1&bar=2"], "not a gradscape query"),
        (["render", "?"], "unknown scene"),
        (["render", SADDLE, "--fps", "0"], "--fps must be from 1 to 60"),
        (["render", SADDLE, "--width", "wide"], "--width must be a whole number"),
        (["render", SADDLE, "--frames", "500"], "--frames must be from 1 to 200"),
        (["render", SADDLE, "-f", "gif", "--out", "x.csv"], "names a .csv file"),
        (["render", "surface=saddle&opt=bogus", "--strict"], "--strict"),
        (["render"], "required"),
        (["render", SADDLE, "--bogus"], "unrecognized arguments"),
        (["paint"], "invalid choice"),
        (["snippet", SADDLE, "--optimizer", "nesterov"], "look-ahead"),
    ],
    ids=[
        "unknown-scene",
        "bad-format",
        "empty-format",
        "foreign-query",
        "empty-query",
        "fps",
        "width",
        "frames",
        "out-suffix",
        "strict",
        "missing-scene",
        "unknown-option",
        "unknown-command",
        "snippet-nesterov",
    ],
)
def test_errors_are_one_line_with_code_2(args, words, capsys):
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert words in _one_line_error(captured.err)
    assert captured.out == ""


def test_errors_from_the_real_process(cli_process):
    for args in (["render", "nope"], ["render", SADDLE, "-f", "gif,bmp"], ["render", "foo=bar"]):
        proc = cli_process(*args)
        assert proc.returncode == 2, proc.stderr
        _one_line_error(proc.stderr)


def test_help_documents_the_commands(cli_process, capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for word in ("render", "scenes", "snippet", "examples:"):
        assert word in text
    assert cli.main(["render", "--help"]) == 0
    text = capsys.readouterr().out
    for word in (
        "SCENE_OR_QUERY",
        "--format",
        "--out",
        "--fps",
        "--width",
        "--frames",
        "--step",
        "gif",
        "mp4",
        "html",
        "png",
        "svg",
        "csv",
        "json",
        "examples:",
        "gradscape render",
    ):
        assert word in text
    assert cli.main([]) == 0  # no command: the help
    proc = cli_process("--help")
    assert proc.returncode == 0 and "gradscape render" in proc.stdout


def test_scenes_lists_the_presets(capsys):
    assert cli.main(["scenes"]) == 0
    out = capsys.readouterr().out
    for name in preset_names():
        assert name in out and slug(name) in out


def test_snippet_command(capsys):
    assert cli.main(["snippet", "Ravine: SGD vs momentum", "--optimizer", "momentum"]) == 0
    out = capsys.readouterr().out
    assert "torch.optim.SGD([w], lr=0.5, momentum=0.9" in out
    assert cli.main(["snippet", "Rosenbrock: Newton vs first order"]) == 0  # first supported optimizer: sgd
    assert "torch.optim.SGD([w], lr=0.001" in capsys.readouterr().out
