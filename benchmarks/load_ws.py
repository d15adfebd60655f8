"""Load, server side only: N concurrent Streamlit sessions driven over the websocket protocol, no browser.

    python benchmarks/load_ws.py                    # 30 sessions × 4 rounds, then 500 reruns of one session
    python benchmarks/load_ws.py --sessions 3 --rounds 2 --reruns 50 --arrival-window 3    # a quick look

Why: benchmarks/load.py drives 30 real Chromium pages; on a 2-core machine the browsers take ~76% of the CPU,
so it measures Chromium, not the server. This client speaks Streamlit's own protocol (BackMsg / ForwardMsg
protobufs on ws://HOST:PORT/_stcore/stream) the way the frontend does, so the one thing that competes with the
server for the CPU is this small asyncio process (its CPU seconds are printed next to the server's).

Transport: Streamlit 1.67 serves over starlette/uvicorn (tornado is not installed here), so the client uses
the `websockets` package (a Streamlit dependency). No XSRF token is sent: with enableXsrfProtection the server
then only skips reading auth cookies; the session works the same. LOAD_WS_DEBUG=1 prints every change.

What it models of the frontend (Streamlit 1.67, checked against the installed package and its JS bundle):
 - connect: the websocket with subprotocol "streamlit"; the first BackMsg is rerun_script with the link's query
   string, page_script_hash "" and page_name "" (the "/" path), plus the browser context (timezone, locale, URL);
 - widget state: every widget element that arrives initialises its state the way the widget component does
   (set_value: the value the server sent; otherwise its default: a select_slider sends its option strings in
   string_array_value, a slider double_array_value, a number input int_value or double_value by data_type,
   a selectbox string_value, a multiselect string_array_value, a toggle bool_value); a widget re-rendered without
   set_value keeps the state the client already had; after script_finished the states of widgets that were not
   rendered in that run are dropped (removeInactiveWidgetState). Every rerun_script carries ALL those states;
 - page: page_script_hash is taken from new_session / navigation (currentPageScriptHash) and the query string
   from page_info_changed (the app rewrites the URL on every run, and a stale query string would re-seed the
   widgets from the link);
 - the ForwardMsg cache: messages with metadata.cacheable are kept by hash, their hashes are sent in
   cached_message_hashes, a ref_hash message is resolved from the cache (a miss is an error, as in the
   frontend), and entries not used for max_cached_message_age runs are evicted after each finished run;
 - --assets (default on): before the websocket, fetch the page and the JS/CSS it loads, plus the lazy chunks
   this page needs (plotly's is 4.7 MB), 6 at a time, as a browser with an empty cache does (Accept-Encoding:
   gzip; the script reports what the server actually sent).

Phase 1 (the hall): a server is started (`streamlit run app.py`, headless, free port,
GRADSCAPE_BACKGROUND_COMPILE=0 unless --compile) and warmed by one session on "/" (the first run imports
torch). Then N sessions open `/?noise=0.05&seed=i` (own seed: nothing shared through the caches) at random
moments within --arrival-window; link -> first chart is the time from the first request to the arrival of the
main chart's delta (element id ending in "-pg.ui.chart"), and to script_finished. Then every session plays
--rounds rounds: think (uniform in --think seconds; this also stands for pressing Play and watching: Play and
Pause are plotly animation buttons, client-side only, they send nothing to the server), then change a
control, alternating as load.py does: Adam's learning rate (select_slider "pg.hp.adam.lr", one option lower:
one run recomputed) and Steps (select_slider "pg.steps", one option higher: three runs recomputed). Measured:
send -> updated chart delta, and send -> script_finished.
Correctness per change: the new chart's plotted paths (plotly spec in the plotly_chart element) must differ
from the previous chart's where they should (lr: Adam's path and only it; Steps: every path); no Exception
element, no st.error alert, no compile error, script_finished FINISHED_SUCCESSFULLY, no cache miss, no
time-out, no dropped connection. The server's log is scanned for tracebacks at the end.

Phase 2 (memory): one session on /?noise=0.05 changes "Noise seed" (+1) --reruns times (three new runs per
rerun: the run cache, max_entries=512, fills after ~170 reruns, then evicts); server VmRSS every
--sample-every reruns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import platform
import random
import re
import resource
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

from _server import ROOT, TICK, app_server, free_port, load_average, rss_mb  # benchmarks/_server.py

ACTION_TIMEOUT_S = 120
TARGET_P95_MS = 2000
CHART_SUFFIX = "-pg.ui.chart"
LR_SUFFIX = "-pg.hp.adam.lr"
STEPS_SUFFIX = "-pg.steps"
SEED_SUFFIX = "-pg.seed"
# lazy JS chunks the Playground page makes a browser load (widgets, plotly, code blocks, download buttons)
LAZY_CHUNKS = (
    "PlotlyChart",
    "Slider",
    "Selectbox",
    "Multiselect",
    "NumberInput",
    "Checkbox",
    "StreamlitSyntaxHighlighter",
    "DownloadButton",
    "Expander",
)

EXTENSIONS = "?"  # websocket extensions negotiated (permessage-deflate, as browsers offer it)
FINISHED = {v.number: v.name for v in ForwardMsg.DESCRIPTOR.enum_types_by_name["ScriptFinishedStatus"].values}


# ---- the server and /proc -----------------------------------------------------------------------


def proc_cpu_s(pid: int) -> float:
    """utime + stime (+ waited-for children) of a process, all threads, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in rest[11:15]) / TICK


def client_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / TICK


class Meter:
    """CPU seconds of server, client and everything else on the machine, and wall time, between two points."""

    def __init__(self, pid: int):
        self.pid = pid
        self.t, self.srv, self.cli, self.all = time.perf_counter(), proc_cpu_s(pid), client_cpu_s(), machine_busy_s()

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t
        srv, cli = proc_cpu_s(self.pid) - self.srv, client_cpu_s() - self.cli
        return dict(
            wall=wall,
            server=srv,
            client=cli,
            other=max(0.0, machine_busy_s() - self.all - srv - cli),
            available=wall * (os.cpu_count() or 1),
        )


# ---- static assets, as a browser with an empty cache loads them ------------------------------------

_asset_list: list[str] | None = None
ENCODINGS: dict[str, int] = {}  # Content-Encoding of the asset responses -> count


def _get(url: str) -> int:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=ACTION_TIMEOUT_S) as r:
        enc = r.headers.get("Content-Encoding") or "identity"
        ENCODINGS[enc] = ENCODINGS.get(enc, 0) + 1
        return len(r.read())


def asset_paths(base: str) -> list[str]:
    global _asset_list
    if _asset_list is None:
        req = urllib.request.Request(f"http://{base}/", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            html = (gzip.decompress(raw) if r.headers.get("Content-Encoding") == "gzip" else raw).decode()
        paths = re.findall(r'(?:src|href)="\./(static/[^"]+\.(?:js|css))"', html)
        js_dir = Path(__import__("streamlit").__file__).parent / "static" / "static" / "js"
        for name in LAZY_CHUNKS:
            paths += [f"static/js/{p.name}" for p in js_dir.glob(f"{name}.*.js")]
        _asset_list = list(dict.fromkeys(paths))
    return _asset_list


async def fetch_assets(base: str, sem: asyncio.Semaphore) -> int:
    """GET / and every asset, at most 6 at a time per session (a browser's connections per host)."""
    loop = asyncio.get_running_loop()
    total = await loop.run_in_executor(None, _get, f"http://{base}/")
    local = asyncio.Semaphore(6)

    async def one(path):
        async with local, sem:
            return await loop.run_in_executor(None, _get, f"http://{base}/{path}")

    sizes = await asyncio.gather(*[one(p) for p in asset_paths(base)])
    return total + sum(sizes)


# ---- one session: a protocol-level model of the frontend ----------------------------------------------


def initial_widget_state(kind: str, el) -> WidgetState | None:
    """The state the frontend's widget component sets when it mounts (or when set_value is true)."""
    ws = WidgetState(id=el.id)
    if kind == "slider":
        if el.type == 2:  # SELECT_SLIDER: option strings
            vals = (
                list(el.raw_value) if el.set_value and len(el.raw_value) else [el.options[int(i)] for i in el.default]
            )
            ws.string_array_value.data.extend(vals)
        else:
            ws.double_array_value.data.extend(list(el.value) if el.set_value else list(el.default))
    elif kind == "selectbox":
        if el.set_value and el.HasField("raw_value"):
            ws.string_value = el.raw_value
        elif el.HasField("default") and len(el.options):
            ws.string_value = el.options[el.default]
        else:
            return None
    elif kind == "multiselect":
        vals = list(el.raw_values) if el.set_value else [el.options[i] for i in el.default]
        ws.string_array_value.data.extend(vals)
    elif kind == "checkbox":
        ws.bool_value = el.value if el.set_value else el.default
    elif kind == "number_input":
        v = el.value if el.set_value and el.HasField("value") else (el.default if el.HasField("default") else None)
        if v is None:
            return None
        if el.data_type == 0:  # INT
            ws.int_value = int(v)
        else:
            ws.double_value = float(v)
    elif kind in ("text_area", "text_input"):
        v = el.value if el.set_value and el.HasField("value") else (el.default if el.HasField("default") else None)
        if v is None:
            return None
        ws.string_value = v
    else:  # buttons, download buttons, the chart's selection: nothing until the user acts
        return None
    return ws


def path_signatures(spec: str) -> dict[str, str]:
    """name -> digest of the plotted path (the main plot's line traces with a legend entry)."""
    fig = json.loads(spec)
    out = {}
    for t in fig.get("data", []):
        if (
            t.get("mode") == "lines"
            and t.get("xaxis", "x") == "x"
            and t.get("showlegend", True)
            and t.get("name") not in ("contours",)
        ):
            blob = json.dumps([t.get("x"), t.get("y")], sort_keys=True).encode()
            out[str(t.get("name"))] = hashlib.blake2b(blob, digest_size=8).hexdigest()
    return out


@dataclass
class Run:
    t0: float
    chart_at: float | None = None
    finished_at: float | None = None
    status: int | None = None
    chart_spec: str | None = None
    server_ms: float | None = None  # the page's own "Server time N ms" caption
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Session:
    def __init__(self, base: str, query: str, label: str):
        self.base, self.query_string, self.label = base, query, label
        self.page_script_hash = ""
        self.widgets: dict[str, WidgetState] = {}
        self.elements: dict[str, object] = {}  # id -> latest element proto (options etc.)
        self.seen: set[str] = set()
        self.cache: dict[str, list] = {}  # hash -> [bytes, run count when last used]
        self.run_count = 0
        self.max_age = 2
        self.run: Run | None = None
        self.errors: list = []  # (kind, text) outside a run
        self.ws = None
        self.reader = None
        self.bytes_in = 0
        self.ref_hits = 0

    async def open(self):
        self.ws = await connect(
            f"ws://{self.base}/_stcore/stream",
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=ACTION_TIMEOUT_S,
            ping_timeout=None,
        )
        self.reader = asyncio.create_task(self._read())
        global EXTENSIONS
        EXTENSIONS = ", ".join(type(e).__name__ for e in self.ws.protocol.extensions) or "none"

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader

    def _err(self, kind: str, text: str):
        (self.run.errors if self.run is not None else self.errors).append((kind, text[:300]))

    async def _read(self):
        try:
            async for data in self.ws:
                now = time.perf_counter()
                self.bytes_in += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                if msg.WhichOneof("type") == "ref_hash":
                    hit = self.cache.get(msg.ref_hash)
                    if hit is None:
                        self._err("cache", f"cached ForwardMsg MISS {msg.ref_hash}")
                        continue
                    hit[1] = self.run_count
                    self.ref_hits += 1
                    msg = ForwardMsg()
                    msg.ParseFromString(hit[0])
                elif msg.metadata.cacheable and msg.hash and msg.hash not in self.cache:
                    self.cache[msg.hash] = [data, self.run_count]
                self._handle(msg, now)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001
            self._err("connection", f"{type(err).__name__}: {err}")
        if self.run is not None and not self.run.done.is_set():
            self._err("connection", f"websocket closed during a run ({self.ws.close_code} {self.ws.close_reason})")
            self.run.done.set()

    def _handle(self, msg: ForwardMsg, now: float):
        t = msg.WhichOneof("type")
        if t == "new_session":
            self.page_script_hash = msg.new_session.page_script_hash or self.page_script_hash
            if msg.new_session.HasField("config"):
                self.max_age = msg.new_session.config.max_cached_message_age or self.max_age
            self.seen = set()
        elif t == "navigation":
            if msg.navigation.page_script_hash:
                self.page_script_hash = msg.navigation.page_script_hash
        elif t == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif t == "page_not_found":
            self._err("page_not_found", msg.page_not_found.page_name)
        elif t == "session_event":
            if msg.session_event.WhichOneof("type") == "script_compilation_exception":
                self._err("compile", msg.session_event.script_compilation_exception.message)
        elif t == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            kind = el.WhichOneof("type")
            if kind == "exception":
                self._err("exception", f"{el.exception.type}: {el.exception.message}")
            elif kind == "alert":
                if el.alert.format == 1:  # ERROR
                    self._err("st.error", el.alert.body)
                elif self.run is not None:
                    self.run.warnings.append(el.alert.body[:200])
            elif kind == "markdown":
                m = re.match(r"Server time (\d+) ms", el.markdown.body)
                if m and self.run is not None:
                    self.run.server_ms = float(m.group(1))
            elif kind == "plotly_chart":
                if el.plotly_chart.id.endswith(CHART_SUFFIX) and self.run is not None and self.run.chart_at is None:
                    self.run.chart_at = now
                    self.run.chart_spec = el.plotly_chart.spec
            else:
                sub = getattr(el, kind)
                wid = getattr(sub, "id", "") if kind != "markdown" else ""
                if wid:
                    self.seen.add(wid)
                    self.elements[wid] = sub
                    if wid not in self.widgets or getattr(sub, "set_value", False):
                        state = initial_widget_state(kind, sub)
                        if state is not None:
                            self.widgets[wid] = state
        elif t == "script_finished":
            status = msg.script_finished
            if status != 2:  # not FINISHED_EARLY_FOR_RERUN: the frontend's cache ages, inactive widgets go
                self.run_count += 1
                for h in [h for h, (_, used) in self.cache.items() if self.run_count - used > self.max_age]:
                    del self.cache[h]
                if status == 0:
                    self.widgets = {k: v for k, v in self.widgets.items() if k in self.seen}
            if self.run is not None and not self.run.done.is_set():
                self.run.finished_at, self.run.status = now, status
                if status != 0:
                    self._err("script_finished", FINISHED.get(status, str(status)))
                self.run.done.set()

    def widget_id(self, suffix: str) -> str | None:
        for wid in self.widgets:
            if wid.endswith(suffix):
                return wid
        return None

    async def rerun(self, change: WidgetState | None = None, *, first: bool = False) -> Run:
        """Send rerun_script with all widget states (one of them changed); wait for script_finished."""
        if change is not None:
            self.widgets[change.id] = change
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        cs.page_script_hash = self.page_script_hash
        cs.page_name = ""
        if not first:
            cs.widget_states.widgets.extend(self.widgets.values())
        cs.cached_message_hashes.extend(self.cache.keys())
        ci = cs.context_info
        ci.timezone, ci.timezone_offset, ci.locale = "Europe/Berlin", -60, "en-US"
        ci.url = f"http://{self.base}/?{self.query_string}"
        ci.is_embedded, ci.color_scheme = False, "light"
        self.run = run = Run(time.perf_counter())
        await self.ws.send(msg.SerializeToString())
        try:
            await asyncio.wait_for(run.done.wait(), ACTION_TIMEOUT_S)
        except asyncio.TimeoutError:
            run.errors.append(("timeout", f"no script_finished within {ACTION_TIMEOUT_S} s"))
        if run.chart_at is None and not run.errors:
            run.errors.append(("chart", "the run finished without the main chart"))
        self.run = None
        return run


def shifted(session: Session, suffix: str, step: int) -> WidgetState:
    """A select_slider's state moved `step` options (bounced at the ends), as a key press would."""
    wid = session.widget_id(suffix)
    if wid is None:
        raise KeyError(f"no widget {suffix} in {session.label}")
    options = list(session.elements[wid].options)
    cur = options.index(session.widgets[wid].string_array_value.data[0])
    new = cur + step if 0 <= cur + step < len(options) else cur - step
    ws = WidgetState(id=wid)
    ws.string_array_value.data.append(options[new])
    return ws


def check_paths(before: str | None, after: str | None, expect: str) -> str | None:
    """None if the chart changed as it should: expect 'adam' (Adam's path only) or 'all'."""
    if before is None or after is None:
        return "no chart to compare"
    a, b = path_signatures(before), path_signatures(after)
    if set(a) != set(b):
        return f"traces differ: {sorted(a)} vs {sorted(b)}"
    changed = {k for k in a if a[k] != b[k]}
    if expect == "adam":
        adam = {k for k in a if k.split(" ")[0] == "Adam"}
        return None if changed == adam and adam else f"changed paths {sorted(changed)}, expected {sorted(adam)}"
    return None if changed == set(a) and a else f"changed paths {sorted(changed)} of {sorted(a)}"


# ---- the phases -------------------------------------------------------------------------------------


@dataclass
class Result:
    index: int
    link_chart_ms: float | None = None
    link_done_ms: float | None = None
    assets_ms: float | None = None
    assets_bytes: int = 0
    changes: list = field(default_factory=list)  # (kind, to chart ms, to finished ms, server's own ms)
    errors: list = field(default_factory=list)  # (kind, text)
    warnings: list = field(default_factory=list)
    session: object = None


async def open_session(base: str, query: str, label: str, res: Result, assets: bool, sem) -> Session | None:
    t0 = time.perf_counter()
    try:
        if assets:
            res.assets_bytes = await fetch_assets(base, sem)
            res.assets_ms = (time.perf_counter() - t0) * 1000
        s = Session(base, query, label)
        await s.open()
        run = await s.rerun(first=True)
    except Exception as err:  # noqa: BLE001
        res.errors.append(("open", f"{type(err).__name__}: {err}"[:300]))
        return None
    res.errors += run.errors + s.errors
    s.errors.clear()
    res.warnings += run.warnings
    if run.chart_at is not None:
        res.link_chart_ms = (run.chart_at - t0) * 1000
    if run.finished_at is not None:
        res.link_done_ms = (run.finished_at - t0) * 1000
    s.last_spec = run.chart_spec
    res.session = s
    return s


async def play_rounds(s: Session, res: Result, rounds: int, think: tuple[float, float], rng: random.Random):
    for r in range(rounds):
        await asyncio.sleep(rng.uniform(*think))  # think, press Play, watch (client-side), Pause
        kind, suffix, step, expect = (
            ("adam_lr", LR_SUFFIX, -1, "adam") if r % 2 == 0 else ("steps", STEPS_SUFFIX, +1, "all")
        )
        try:
            change = shifted(s, suffix, step)
        except (KeyError, ValueError) as err:
            res.errors.append(("harness", str(err)))
            continue
        run = await s.rerun(change)
        res.errors += run.errors + s.errors
        s.errors.clear()
        res.warnings += run.warnings
        if run.chart_at is not None:
            res.changes.append(
                (
                    kind,
                    (run.chart_at - run.t0) * 1000,
                    (run.finished_at - run.t0) * 1000 if run.finished_at else float("nan"),
                    run.server_ms,
                )
            )
            if os.environ.get("LOAD_WS_DEBUG"):
                print(
                    f"  {s.label} {kind} -> {change.string_array_value.data[0]}: chart "
                    f"{(run.chart_at - run.t0) * 1000:.0f} ms, server {run.server_ms} ms; url {s.query_string}",
                    file=sys.stderr,
                )
            problem = check_paths(s.last_spec, run.chart_spec, expect)
            if problem:
                res.errors.append(("chart unchanged", f"{kind}: {problem}"))
            s.last_spec = run.chart_spec


def pct(values, q: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def row(name: str, values, unit_ms: bool = True) -> str:
    if not values:
        return f"| {name} | 0 | – | – | – |"
    f = (lambda x: f"{x / 1000:.2f} s") if unit_ms else (lambda x: f"{x:.0f}")
    return f"| {name} | {len(values)} | {f(pct(values, 0.5))} | {f(pct(values, 0.95))} | {f(max(values))} |"


def cpu_line(m: dict) -> str:
    return (
        f"| {m['wall']:.0f} s | {m['server']:.1f} s ({100 * m['server'] / m['available']:.0f}%) | "
        f"{m['client']:.1f} s ({100 * m['client'] / m['available']:.0f}%) | "
        f"{m['other']:.1f} s ({100 * m['other'] / m['available']:.0f}%) | {m['available']:.0f} s |"
    )


async def main_async(args) -> int:
    port = args.port or free_port()
    think = tuple(float(x) for x in args.think.split(","))
    print(f"# load_ws: {args.sessions} sessions × {args.rounds} rounds, then {args.reruns} reruns\n")
    print(
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}, load average at start {load_average()}; assets {'on' if args.assets else 'off'}, "  # noqa: E501
        f"background builder {'on' if args.compile else 'off'}, arrival window {args.arrival_window:g} s, "
        f"think {think[0]:g}-{think[1]:g} s; server options {args.server_opt or 'default'}\n",
        flush=True,
    )
    builder = {} if args.compile else {"GRADSCAPE_BACKGROUND_COMPILE": "0"}
    with app_server("server_ws", port, env=builder, options=args.server_opt) as (url, proc, log_path):
        base = url.removeprefix("http://")  # host:port, for http:// and ws:// alike
        pid = proc.pid
        sem = asyncio.Semaphore(64)
        warm = Result(-1)
        s = await open_session(base, "", "lecturer", warm, args.assets, sem)
        if s is not None:
            await s.close()
        print(
            f"Warm-up (the lecturer's session, first script run imports torch): link -> chart "
            f"{(warm.link_chart_ms or float('nan')) / 1000:.1f} s, errors {warm.errors}; server RSS "
            f"{rss_mb(pid):.0f} MB\n",
            flush=True,
        )
        rss_samples: list[tuple[float, float]] = []
        t_start = time.perf_counter()

        async def watch_rss():
            while True:
                rss_samples.append((time.perf_counter() - t_start, rss_mb(pid)))
                await asyncio.sleep(0.5)

        all_errors = list(("warm-up", k, t) for k, t in warm.errors)
        if args.sessions:
            watcher = asyncio.create_task(watch_rss())
            rss0 = rss_mb(pid)
            results = [Result(i) for i in range(args.sessions)]
            rng = random.Random(0)
            arrivals = [rng.uniform(0, args.arrival_window) for _ in range(args.sessions)]

            async def arrive(i):
                await asyncio.sleep(arrivals[i])
                return await open_session(base, f"noise=0.05&seed={i + 1}", f"s{i}", results[i], args.assets, sem)

            m1 = Meter(pid)
            sessions = await asyncio.gather(*[arrive(i) for i in range(args.sessions)])
            c1 = m1.stop()
            rss1 = rss_mb(pid)
            m2 = Meter(pid)
            await asyncio.gather(
                *[
                    play_rounds(s, results[i], args.rounds, think, random.Random(1000 + i))
                    for i, s in enumerate(sessions)
                    if s is not None
                ]
            )
            c2 = m2.stop()
            rss2 = rss_mb(pid)
            for s in sessions:
                if s is not None:
                    await s.close()
            watcher.cancel()
            peak = max(mb for _, mb in rss_samples)
            up = sum(1 for s in sessions if s is not None)
            all_errors += [(r.index, k, t) for r in results for k, t in r.errors]
            changes = [c for r in results for c in r.changes]
            by = {k: [c for c in changes if c[0] == k] for k in ("adam_lr", "steps")}
            warns = [w for r in results for w in r.warnings]

            print(f"## Phase 1: {args.sessions} sessions (each its own seed), {up} came up\n")
            print("| what | n | p50 | p95 | max |\n| --- | --- | --- | --- | --- |")
            if args.assets:
                print(row("link -> page assets loaded (HTML + JS/CSS)", [r.assets_ms for r in results if r.assets_ms]))
            print(row("link -> first chart (delta arrived)", [r.link_chart_ms for r in results if r.link_chart_ms]))
            print(row("link -> first run finished", [r.link_done_ms for r in results if r.link_done_ms]))
            print(row("**change -> updated chart (all)**", [c[1] for c in changes]))
            print(row("&nbsp;&nbsp;Adam's lr (1 run recomputed)", [c[1] for c in by["adam_lr"]]))
            print(row("&nbsp;&nbsp;Steps (3 runs recomputed)", [c[1] for c in by["steps"]]))
            print(row("change -> script_finished (all)", [c[2] for c in changes]))
            print(row("&nbsp;&nbsp;Adam's lr", [c[2] for c in by["adam_lr"]]))
            print(row("&nbsp;&nbsp;Steps", [c[2] for c in by["steps"]]))
            print(
                row(
                    "the server's own time (page caption), Adam's lr", [c[3] for c in by["adam_lr"] if c[3] is not None]
                )
            )
            print(row("the server's own time (page caption), Steps", [c[3] for c in by["steps"] if c[3] is not None]))
            print()
            print(
                "| stage | wall | server CPU (share of all cores) | client CPU (this script) | other processes | "
                "CPU available |\n| --- | --- | --- | --- | --- | --- |"
            )
            print("| arrival |" + cpu_line(c1)[1:])
            print("| rounds |" + cpu_line(c2)[1:])
            if args.assets:
                mb = sum(r.assets_bytes for r in results) / 1e6
                print(
                    f"\nAssets: {len(asset_paths(base)) + 1} requests and {mb:.0f} MB over the wire in "
                    f"all ({mb / max(up, 1):.1f} MB per session; asked with Accept-Encoding: gzip, responses by "
                    f"Content-Encoding: {ENCODINGS})."
                )
            p95 = pct([c[1] for c in changes], 0.95)
            verdict = p95 < TARGET_P95_MS and not all_errors
            mb_in = sum(r.session.bytes_in for r in results if r.session) / 1e6
            hits = sum(r.session.ref_hits for r in results if r.session)
            print(
                f"\nWebsocket: extensions {EXTENSIONS}; {mb_in:.0f} MB of ForwardMsgs received in all "
                f"(decompressed); {hits} cached-message references resolved."
            )
            print(
                f"\nServer RSS: {rss0:.0f} MB before the hall, {rss1:.0f} MB after the arrivals, {rss2:.0f} MB after "
                f"the rounds, peak {peak:.0f} MB."
            )
            print(
                f"Errors: {len(all_errors)}. Warnings shown by the app: {len(warns)}"
                f"{' (' + '; '.join(sorted(set(warns))[:3]) + ')' if warns else ''}."
            )
            for e in all_errors[:20]:
                print(f"  - session {e[0]}: {e[1]}: {e[2]}")
            print(
                f"\n**Target p95 < {TARGET_P95_MS / 1000:g} s and no error: {'MET' if verdict else 'NOT MET'}** "
                f"(p95 {p95 / 1000:.2f} s).\n",
                flush=True,
            )

        if args.reruns:
            print(f"## Phase 2: one session on /?noise=0.05, {args.reruns} reruns (Noise seed +1 each)\n", flush=True)
            res = Result(-2)
            s = await open_session(base, "noise=0.05", "memory", res, False, sem)
            samples = [(0, rss_mb(pid))]
            times, finished = [], []
            m3 = Meter(pid)
            if s is not None:
                for k in range(1, args.reruns + 1):
                    wid = s.widget_id(SEED_SUFFIX)
                    change = WidgetState(id=wid)
                    change.int_value = s.widgets[wid].int_value + 1
                    run = await s.rerun(change)
                    res.errors += run.errors + s.errors
                    s.errors.clear()
                    if run.chart_at is not None:
                        times.append((run.chart_at - run.t0) * 1000)
                        if run.finished_at is not None:
                            finished.append((run.finished_at - run.t0) * 1000)
                        problem = check_paths(s.last_spec, run.chart_spec, "all")
                        if problem:
                            res.errors.append(("chart unchanged", f"seed {k}: {problem}"))
                        s.last_spec = run.chart_spec
                    if k % args.sample_every == 0 or k == args.reruns:
                        samples.append((k, rss_mb(pid)))
                        print(
                            f"    rerun {k:4d}: RSS {samples[-1][1]:6.0f} MB  ({time.perf_counter() - m3.t:4.0f} s)",
                            file=sys.stderr,
                            flush=True,
                        )
                final_seed = s.widgets[s.widget_id(SEED_SUFFIX)].int_value
                if final_seed != args.reruns:
                    res.errors.append(("state", f"seed is {final_seed} after {args.reruns} reruns"))
                await s.close()
            c3 = m3.stop()
            all_errors += [("memory", k, t) for k, t in res.errors]
            print("| reruns | " + " | ".join(str(k) for k, _ in samples) + " |")
            print("| --- | " + " | ".join("---" for _ in samples) + " |")
            print("| server VmRSS (MB) | " + " | ".join(f"{mb:.0f}" for _, mb in samples) + " |")
            half = [mb for k, mb in samples if k >= args.reruns // 2]
            print(
                f"\nSecond half: {min(half):.0f}-{max(half):.0f} MB (last minus mid {half[-1] - half[0]:+.0f} MB); "
                f"whole run {samples[-1][1] - samples[0][1]:+.0f} MB.\n"
            )
            print("| what | n | p50 | p95 | max |\n| --- | --- | --- | --- | --- |")
            print(row("seed change -> updated chart (alone)", times))
            print(row("seed change -> script_finished", finished))
            print(
                "\n| stage | wall | server CPU | client CPU | other processes | CPU available |\n"
                "| --- | --- | --- | --- | --- | --- |"
            )
            print("| 500 reruns |".replace("500", str(args.reruns)) + cpu_line(c3)[1:])
            print(f"\nErrors: {len(res.errors)}")
            for e in res.errors[:10]:
                print(f"  - {e[0]}: {e[1]}")

    log = log_path.read_text(encoding="utf-8", errors="replace")
    tracebacks = log.count("Traceback")
    bad = [ln for ln in log.splitlines() if re.search(r"\b(ERROR|Error|Exception|WARNING)\b", ln)]
    print(
        f"\nServer log ({log_path.relative_to(ROOT)}): {tracebacks} tracebacks, {len(bad)} error/warning lines"
        + ("".join(f"\n  > {ln[:200]}" for ln in bad[:10]))
    )
    print(f"\nTotal errors: {len(all_errors) + tracebacks}. Load average at the end: {load_average()}")
    return 0 if not all_errors and not tracebacks else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=4, help="changes per session (lr, Steps, lr, Steps, ...)")
    ap.add_argument("--reruns", type=int, default=500, help="reruns of one session for the memory curve (0: skip)")
    ap.add_argument("--sample-every", type=int, default=50, help="RSS sample every N reruns in phase 2")
    ap.add_argument("--arrival-window", type=float, default=30.0, help="sessions arrive at random within N s")
    ap.add_argument("--think", default="2,6", help="think time before each change, uniform in MIN,MAX seconds")
    ap.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    ap.add_argument("--compile", action="store_true", help="leave the background builder on")
    ap.add_argument(
        "--server-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra `streamlit run` option, e.g. server.fileWatcherType=none (repeatable)",
    )
    ap.add_argument(
        "--no-assets", dest="assets", action="store_false", help="do not fetch the page's HTML/JS/CSS before connecting"
    )
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
