"""The CPU probe waits for quiet (engine/builder.py): it holds the GIL for about a second, so it must
not start while a page is running, only once none has run for a while."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

from engine import builder


def test_the_probe_waits_until_no_page_has_run_for_the_quiet_time():
    stop = threading.Event()

    def busy():  # a page runs every 50 ms for 0.6 s
        while not stop.is_set():
            builder.note_activity()
            time.sleep(0.05)

    t = threading.Thread(target=busy)
    t.start()
    started = time.monotonic()
    threading.Timer(0.6, stop.set).start()
    waited = builder.wait_for_quiet(0.1, quiet_s=0.3, give_up_s=10)
    t.join()
    assert time.monotonic() - started >= 0.6 + 0.3 - 0.06  # the last run, then the quiet time
    assert waited < 3


def test_the_probe_starts_after_the_delay_when_all_is_quiet():
    builder._BUILDER.last_activity = time.monotonic() - 100
    waited = builder.wait_for_quiet(0.2, quiet_s=0.3, give_up_s=10)
    assert 0.2 <= waited < 2.0


def test_a_server_never_quiet_runs_the_probe_all_the_same():
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            builder.note_activity()
            time.sleep(0.02)

    t = threading.Thread(target=busy)
    t.start()
    try:
        waited = builder.wait_for_quiet(0.05, quiet_s=0.5, give_up_s=0.4)
    finally:
        stop.set()
        t.join()
    assert 0.4 <= waited < 2.0


def test_no_probe_with_the_background_builder_off(monkeypatch):
    """Tests and benchmarks run with it off: no thread may import inductor behind their back."""
    monkeypatch.setenv("GRADSCAPE_BACKGROUND_COMPILE", "0")
    monkeypatch.setattr(builder._BUILDER, "probe_started", threading.Event())
    started, real_thread = [], threading.Thread
    monkeypatch.setattr(builder.threading, "Thread", lambda *a, **k: started.append(k) or real_thread())
    builder.prepare_in_background(delay_s=0)
    assert started == [] and not builder._BUILDER.probe_started.is_set()


def test_a_graph_on_disk_waits_for_the_probe_before_a_page_loads_it(monkeypatch, tmp_path):
    """The first graph a process loads pays the CPU probe (~2.6 s): with the background builder on, engine="auto"
    runs eagerly while a package is on disk and the probe has not run, and neither loads it nor queues a build;
    once the probe has run, the package is loaded (here a damaged one, which is refused: the eager path stays)."""
    from engine import graph_store, simulate

    monkeypatch.setenv("GRADSCAPE_GRAPH_DIR", str(tmp_path))
    monkeypatch.setenv("GRADSCAPE_BACKGROUND_COMPILE", "1")
    monkeypatch.setattr(builder, "_BUILDER", builder._Builder())  # this process: probe not run
    queued = []
    monkeypatch.setattr(builder, "request_build", lambda job: queued.append(job.key))
    monkeypatch.setattr(graph_store, "STORE", graph_store.GraphStore())
    kw = dict(steps=30, hparams={"lr": 0.02, "momentum": 0.8})

    empty = simulate("ravine", "momentum", engine="auto", **kw)  # no package: a build is queued
    assert empty.meta["engine"] == "eager (fused graph not compiled yet)" and len(queued) == 1
    path = graph_store.package_path(queued[0])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"not a package")  # were it loaded, the checksum check would refuse it and say so

    waiting = simulate("ravine", "momentum", engine="auto", **kw)
    assert "checked this CPU" in waiting.meta["engine"]
    assert graph_store.STORE.failed == {} and graph_store.STORE.loaded == {} and len(queued) == 1
    assert torch.equal(waiting.xy, empty.xy)

    builder._BUILDER.probe_done.set()  # prepare_in_background's probe has run
    loaded = simulate("ravine", "momentum", engine="auto", **kw)
    assert loaded.meta["engine"].startswith("eager (the fused graph could not be used")
    assert list(graph_store.STORE.failed) == queued and torch.equal(loaded.xy, empty.xy)


def test_a_failed_build_names_its_error_line_and_exit_status(monkeypatch, tmp_path):
    """torch's warnings can follow a traceback on the child's stderr: the failure names the error, not them."""
    import subprocess

    from engine import graph_build

    monkeypatch.setenv("GRADSCAPE_GRAPH_DIR", str(tmp_path))
    stderr = (
        "Traceback (most recent call last):\n  ...\nRuntimeError: C++ compile error: no space left\n"
        "/usr/lib/python3.11/copyreg.py:105: FutureWarning: `isinstance(treespec, LeafSpec)` is deprecated\n"
        "  return cls.__new__(cls, *args)\n"
    )
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", stderr))
    job = graph_build.BuildJob(("key",), "ravine", {}, "sgd", {}, {}, torch.zeros(2, 5), None, 0.1, 0.0, None, 1, 5)
    with pytest.raises(RuntimeError) as failed:
        builder._build_in_child(job)
    assert str(failed.value) == (
        "the builder process failed (exit status 1): RuntimeError: C++ compile error: no space left"
    )
