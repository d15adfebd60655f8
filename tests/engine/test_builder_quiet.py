"""The CPU probe waits for quiet (engine/builder.py): it holds the GIL for about a second, so it must
not start while a page is running, only once none has run for a while."""

from __future__ import annotations

import threading
import time

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
