"""The graph store: compiled packages on disk, checked and loaded, and what failed in this process.

One folder per version of the code, torch, Python and CPU (`cache_dir`). Each package comes with a
side file naming its input signature and its checksum; both are written to temporary names and
renamed into place, the side file first, so a reader sees whole files or none. A package is loaded
(native code) only once its bytes match the checksum: a package cut short by a killed build, or
overwritten by another server sharing the store, or any other damage, is refused and the run goes
eagerly. Everything that failed is kept in the one GraphStore of the process (`STORE`) and shown by
`status()`; nothing here raises into a page.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import sys
import threading
import time

import torch
from torch import Tensor

from engine import torch_private

RETRY_AFTER, RETRY_MAX = 30.0, 600.0  # seconds before a graph that failed at run time is tried again
_now = time.monotonic  # (tests move this clock)


def cache_dir() -> str:
    """Where packages live: GRADSCAPE_GRAPH_DIR, else ~/.cache/gradscape/graphs; one folder per
    version of the code and of torch, so an edited rule never loads a stale graph."""
    default = os.path.join(os.path.expanduser("~"), ".cache", "gradscape", "graphs")
    return os.path.join(os.environ.get("GRADSCAPE_GRAPH_DIR") or default, _fingerprint())


@functools.cache
def _fingerprint() -> str:
    digest = hashlib.sha256(f"{torch.__version__} {sys.version} {platform.machine()} {_cpu_flags()}".encode())
    if torch.cuda.is_available():
        digest.update(str([torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]).encode())
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder in ("engine", "optimizers", "surfaces", "spec"):
        for name in sorted(os.listdir(os.path.join(project, folder))):
            if name.endswith(".py"):
                with open(os.path.join(project, folder, name), "rb") as f:
                    digest.update(name.encode() + f.read())
    return digest.hexdigest()[:16]


def _cpu_flags() -> str:
    """The CPU's instruction-set flags: a package built for AVX-512 must not load on an AVX2 CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def package_path(key: tuple) -> str:
    return os.path.join(cache_dir(), hashlib.sha256(repr(key).encode()).hexdigest()[:32] + ".pt2")


def partial_path(path: str) -> str:
    """Where this process writes a package before it is complete."""
    return f"{path[: -len('.pt2')]}.{os.getpid()}.partial.pt2"


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish(partial: str, path: str, signature: list, halves: bool) -> None:
    """Put a complete package in place: its side file (signature, checksum) first, then the package,
    each renamed from a temporary name (atomic)."""
    side = f"{partial}.json"
    with open(side, "w") as f:
        json.dump({"inputs": signature, "halves": halves, "sha256": sha256(partial)}, f)
    os.replace(side, path + ".json")
    os.replace(partial, path)


class DamagedPackage(RuntimeError):
    """A package whose bytes do not match the checksum its build wrote: never loaded."""


class SignatureMismatch(ValueError):
    """Inputs that do not fit a graph's saved signature (they would every time)."""


class Graph:
    """A loaded package, called like the traced chunk: graph(x, y, sx, sy, step0, lrs, pre, noise, hp).

    The compiled code trusts its inputs (a wrong shape or dtype would read out of bounds), so each
    new combination of shapes and dtypes is checked against the signature saved at build time."""

    def __init__(self, path: str):
        with open(path + ".json") as f:
            saved = json.load(f)
        if saved.get("sha256") != sha256(path):  # checked before the native code is loaded
            raise DamagedPackage(f"{path} does not match the checksum its build wrote")
        self.signature = [(dtype, tuple(shape)) for dtype, shape in saved["inputs"]]
        self.halves = bool(saved["halves"])
        self.model, self.run = torch_private.load_package(path)
        self.lock = threading.Lock()  # one call at a time per loaded model
        self.checked: set[tuple] = set()
        self.never: dict[torch.device, Tensor] = {}

    def _check(self, tensors: list[Tensor]) -> None:
        seen = tuple((str(v.dtype), tuple(v.shape)) for v in tensors)
        if seen in self.checked:
            return
        batch = tensors[0].shape[-1]
        fits = len(seen) == len(self.signature) and all(
            dtype == want_dtype
            and len(shape) == len(want)
            and all(n == (batch if w == -1 else w) for n, w in zip(shape, want))
            for (dtype, shape), (want_dtype, want) in zip(seen, self.signature)
        )
        if not fits:
            raise SignatureMismatch(f"inputs {seen} do not fit the graph's signature {self.signature}")
        self.checked.add(seen)

    def __call__(self, x, y, sx, sy, step0, lrs, pre, noise, hp):
        tensors = [v.contiguous() for v in tensor_leaves((x, y, sx, sy, lrs, pre, noise, hp), [])]
        self._check(tensors)
        batch = x.shape[-1]
        odd = self.halves and batch % 2 == 1
        if odd:  # two halves need an even batch: one more run, a copy of the last, computed and dropped
            tensors = [
                torch.cat((v, v[..., -1:]), -1) if w and w[-1] == -1 else v
                for v, (_, w) in zip(tensors, self.signature)
            ]
        if self.halves:
            never = self.never.get(x.device)
            if never is None:
                never = self.never[x.device] = torch.tensor(False, device=x.device)
            tensors.append(never)
        with self.lock:
            out = self.run(tensors)
        if odd:
            out = [v[..., :batch] if v.dim() > 0 else v for v in out]
        it = iter(out[2:-1])
        return out[0], out[1], _refill(sx, it), _refill(sy, it), out[-1]


# A graph's inputs and outputs are flat lists of tensors, in tree_leaves' order. These two walk the
# only containers a chunk's arguments use (tuples, named tuples, lists, dicts) ~10x faster than the
# general pytree functions, which cost ~30 µs a call (a Playground run makes 20 calls).
def tensor_leaves(obj, out: list) -> list:
    """The tensors of obj, in tree_leaves' order, appended to out."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            tensor_leaves(v, out)
    elif isinstance(obj, dict):
        for v in obj.values():
            tensor_leaves(v, out)
    return out


def _refill(template, tensors):
    """template (a state: tensors in tuples or named tuples) with its tensors taken from the iterator."""
    if isinstance(template, Tensor):
        return next(tensors)
    if isinstance(template, tuple) and hasattr(template, "_fields"):
        return type(template)(*(_refill(v, tensors) for v in template))
    if isinstance(template, (tuple, list)):
        return type(template)(_refill(v, tensors) for v in template)
    return template


class GraphStore:
    """The process's loaded graphs and everything that failed, by graph key.

    failed: builds, loads (a damaged package) and misfit inputs: the eager path stays for these keys.
    retry: graphs that failed at run time for another reason (a CUDA out-of-memory, say): (failures,
    time of the next try). The package is tried again after RETRY_AFTER seconds, twice as long after
    each further failure (at most RETRY_MAX): a one-off error does not cost the fused path for the
    rest of a lecture. A success clears the count."""

    def __init__(self):
        self.loaded: dict[str, Graph] = {}  # by package path (the folder can change: GRADSCAPE_GRAPH_DIR)
        self.failed: dict[tuple, str] = {}
        self.retry: dict[tuple, tuple[int, float]] = {}
        self.run_errors: dict[tuple, str] = {}
        self.lock = threading.Lock()

    def graph(self, key: tuple) -> Graph | None:
        """The graph for `key` if its package is on disk (loaded on first use), else None."""
        path = package_path(key)
        graph = self.loaded.get(path)
        if graph is not None or key in self.failed or self.waiting(key) or not os.path.exists(path):
            return graph
        with self.lock:
            graph = self.loaded.get(path)
            if graph is None:
                try:
                    graph = self.loaded[path] = Graph(path)
                except Exception as exc:  # noqa: BLE001 - a damaged package: the eager path stays
                    self.failed[key] = f"loading {path}: {type(exc).__name__}: {exc}"
                    return None
        return graph

    def is_loaded(self, key: tuple) -> bool:
        return package_path(key) in self.loaded

    def forget(self, key: tuple, exc: Exception) -> None:
        """Stop using a graph that failed at run time: the eager path takes over, for good if the
        inputs did not fit (that repeats), else until it is retried."""
        self.loaded.pop(package_path(key), None)
        self.run_errors[key] = f"running: {type(exc).__name__}: {exc}"
        if isinstance(exc, SignatureMismatch):
            self.failed[key] = self.run_errors[key]
            return
        failures, due = self.retry.get(key, (0, 0.0))
        if _now() >= due:  # sessions that failed on the same graph at once count once
            self.retry[key] = (failures + 1, _now() + min(RETRY_MAX, RETRY_AFTER * 2**failures))

    def succeeded(self, key: tuple) -> None:
        """A fused run of `key` went through: earlier run-time failures no longer count."""
        if key in self.retry:
            self.retry.pop(key, None)
            self.run_errors.pop(key, None)

    def waiting(self, key: tuple) -> bool:
        """Whether `key`'s graph failed at run time and is not to be tried again yet."""
        retry = self.retry.get(key)
        return retry is not None and _now() < retry[1]


STORE = GraphStore()


def loaded_graph(key: tuple) -> Graph | None:
    return STORE.graph(key)


def status() -> dict:
    """What the graph store did in this process: loaded graphs, pending builds, and by key each graph
    that failed to build or load (a damaged package included) or failed at run time."""
    from engine import builder

    return {
        "ready": len(STORE.loaded),
        "pending": builder.pending(),
        "failed": dict(STORE.failed),
        "run_errors": dict(STORE.run_errors),
    }


def prune_store() -> list[tuple[str, int]]:
    """Delete the store's other fingerprint folders: graphs of other versions of the code, torch or
    Python, or of another CPU (a store shared between machines loses theirs). [(folder, bytes
    freed)]; folders whose names are not fingerprints are left alone."""
    root, current = os.path.split(cache_dir())
    removed = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        folder = os.path.join(root, name)
        fingerprint = len(name) == 16 and all(c in "0123456789abcdef" for c in name)
        if name == current or not os.path.isdir(folder) or not fingerprint:
            continue
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.exists(folder):
            removed.append((name, size))
    return removed
