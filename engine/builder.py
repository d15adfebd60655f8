"""The background builder: graphs compiled in a child process, one at a time, newest first.

Compiling inside the server (torch.compile in a thread) held the GIL for 15-25 s per graph and
stalled every page; a child process has its own GIL and lowers its own priority
(engine/build_graph.py). A build that fails only means the eager path stays (graph_store.STORE.failed).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time

from engine import torch_private
from engine.graph_store import STORE, cache_dir, package_path

_ENV = "GRADSCAPE_BACKGROUND_COMPILE"  # "0" turns the background builder off (tests do)
MAX_BACKLOG = 16  # requests beyond this are dropped (and made again the next time a run needs them)
BUILD_TIMEOUT = 1800  # seconds for one graph (a cold record-every-step graph takes ~40 s here)
PROBE_DELAY_S = 15.0  # after the server's first page: its first chart is drawn by then
PROBE_QUIET_S = 3.0  # and only once no page has run for this long: it holds the GIL for ~1 s
PROBE_GIVE_UP_S = 600.0  # a server never quiet for 10 minutes runs it all the same


class _Builder:
    def __init__(self):
        self.queue: queue.LifoQueue = queue.LifoQueue()  # newest first: what the page shows now
        self.pending: set[tuple] = set()
        self.worker: threading.Thread | None = None
        self.probe_started = threading.Event()
        self.probe_done = threading.Event()
        self.last_activity = time.monotonic()


_BUILDER = _Builder()


def background_enabled() -> bool:
    return os.environ.get(_ENV, "1") != "0"


def pending() -> int:
    return len(_BUILDER.pending)


def request_build(job) -> None:
    """Queue job.key for the background builder (nothing waits for it)."""
    b, key = _BUILDER, job.key
    if key in b.pending or key in STORE.failed or not background_enabled() or len(b.pending) >= MAX_BACKLOG:
        return
    b.pending.add(key)
    b.queue.put(job)
    if b.worker is None or not b.worker.is_alive():
        b.worker = threading.Thread(target=_work, name="gradscape-builder", daemon=True)
        b.worker.start()


def _work() -> None:
    b = _BUILDER
    while True:
        job = b.queue.get()
        try:
            if not os.path.exists(package_path(job.key)):
                _build_in_child(job)
        except Exception as exc:  # noqa: BLE001 - a failed build only means the eager path stays
            STORE.failed[job.key] = f"{type(exc).__name__}: {exc}"
        finally:
            b.pending.discard(job.key)
            b.queue.task_done()


def _build_in_child(job) -> None:
    """Run engine/build_graph.py on the job in a child process (it lowers its own priority)."""
    os.makedirs(cache_dir(), exist_ok=True)
    fd, job_file = tempfile.mkstemp(prefix="gradscape-", suffix=".job")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(job, f)
        project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [project, os.environ.get("PYTHONPATH")])))
        done = subprocess.run(
            [sys.executable, "-m", "engine.build_graph", job_file, str(os.getpid())],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
        )
    finally:  # a killed child leaves its partial files: removed here (and never loaded: no checksum)
        stem = package_path(job.key)[: -len(".pt2")]
        for leftover in glob.glob(stem + ".*.partial.pt2") + glob.glob(stem + ".*.partial.pt2.json") + [job_file]:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
    if done.returncode != 0 or not os.path.exists(package_path(job.key)):
        lines = (done.stderr or done.stdout or "").strip().splitlines()
        # the last line that names an error (torch's warnings can come after the traceback's last line)
        errors = [line for line in lines if "Error" in line or "error:" in line]
        why = (errors or lines or [""])[-1]
        raise RuntimeError(f"the builder process failed (exit status {done.returncode}): {why.strip()}")


def wait_for_background(timeout: float | None = None) -> bool:
    """Block until the background builder is idle (benchmarks and tests); True when it is."""
    done = threading.Event()

    def join():
        _BUILDER.queue.join()
        done.set()

    threading.Thread(target=join, daemon=True).start()
    return done.wait(timeout)


def loader_ready() -> bool:
    """Whether a page run may load a graph from the store: a process's first load pays the CPU probe
    (importing inductor and compiling test programs, ~2.6 s here), so with the background builder on, a
    run takes the eager path until prepare_in_background's probe has run (a fresh server whose store was
    warmed by `gradscape warm` drew its first chart 2.5 s later than with an empty store). With the
    builder off (tests, benchmarks, the CLI) the first load pays it in the calling run."""
    return not background_enabled() or _BUILDER.probe_done.is_set()


def note_activity() -> None:
    """A page is running (the app shell calls this on every run): the probe waits for quiet."""
    _BUILDER.last_activity = time.monotonic()


def wait_for_quiet(delay_s: float, quiet_s: float = PROBE_QUIET_S, give_up_s: float = PROBE_GIVE_UP_S) -> float:
    """Sleep until `delay_s` has passed and no page has run for `quiet_s` (or `give_up_s` has passed);
    the seconds waited."""
    start = time.monotonic()
    time.sleep(delay_s)
    while (left := give_up_s - (time.monotonic() - start)) > 0:
        idle = time.monotonic() - _BUILDER.last_activity
        if idle >= quiet_s:
            break
        time.sleep(min(quiet_s - idle, left))
    return time.monotonic() - start


def prepare_in_background(delay_s: float = PROBE_DELAY_S) -> None:
    """Run the one probe the first load of a package needs (inductor compiles small test programs
    to learn the CPU's vector instructions: ~1 s, mostly waiting on the C++ compiler) in a daemon
    thread, so that a later page that loads a graph does not pay it. It starts `delay_s` after the
    call and once no page has run for PROBE_QUIET_S: importing inductor holds the GIL for about a
    second and the compiler takes a core, which would delay a fresh server's first chart (measured
    4.9 s with the probe at once, 3.8 s without) or a slider change that comes in meanwhile (in
    session 8's browser benchmark the two slowest changes fell on it). Idempotent; call at start. Not with
    the background builder off (tests, benchmarks): a graph loaded from the store then pays it once, and
    no thread imports inductor behind a test's back."""
    b = _BUILDER
    if b.probe_started.is_set() or not background_enabled():
        return
    b.probe_started.set()

    def probe():
        wait_for_quiet(delay_s)
        try:
            torch_private.probe_cpu()
        except Exception:  # noqa: BLE001 - no C++ compiler: the first load pays (or fails) as it would anyway
            pass
        finally:
            b.probe_done.set()  # pages may load graphs from now on (loader_ready)

    threading.Thread(target=probe, name="gradscape-cpu-probe", daemon=True).start()
