"""The private torch APIs the compiled path uses, each behind one function of this module.

torch.export is public; compiling an exported program into a package and loading one back
(AOTInductor), the CPU probe, inductor's fma primitive and the pytree helpers are not. A torch
upgrade that moves one of them breaks here, and `missing()` (run by tests/engine/test_torch_private.py)
names it; the engine's eager path never needs any of them.
"""

from __future__ import annotations

import functools
import importlib
import json
from typing import Callable

from torch import Tensor

# The dotted names this module reaches for (checked by missing()).
PRIVATE_APIS = (
    "torch._inductor.aoti_compile_and_package",
    "torch._inductor.aoti_load_package",
    "torch._inductor.cpu_vec_isa.pick_vec_isa",
    "torch._inductor.inductor_prims.fma",
    "torch.utils._pytree.tree_flatten",
    "torch.utils._pytree.tree_leaves",
    "torch.utils._pytree.tree_map",
    "torch.utils._pytree.tree_unflatten",
)


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def missing() -> list[str]:
    """The private APIs this torch lacks (empty when the compiled path can work)."""
    out = []
    for dotted in PRIVATE_APIS:
        try:
            _resolve(dotted)
        except (ImportError, AttributeError):
            out.append(dotted)
    return out


def _bound(dotted: str):
    """The API itself, bound once at import (traced code must not import), or a stand-in that names
    it when called, so the eager engine still imports on a torch that lacks it."""
    try:
        return _resolve(dotted)
    except (ImportError, AttributeError):

        def gone(*args, **kwargs):
            raise RuntimeError(f"this torch lacks {dotted}: the compiled path cannot run")

        return gone


tree_flatten = _bound("torch.utils._pytree.tree_flatten")
tree_leaves = _bound("torch.utils._pytree.tree_leaves")
tree_map = _bound("torch.utils._pytree.tree_map")
tree_unflatten = _bound("torch.utils._pytree.tree_unflatten")


@functools.cache
def _inductor_fma():
    return _bound("torch._inductor.inductor_prims.fma")


def fma(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """a·b + c rounded once (inductor's prim: std::fma in its C++). Bound on first use, not at import:
    importing inductor (and dynamo with it) costs a second that the eager engine and a server's cold
    start should not pay. The graph builder calls bind_fma() before it traces."""
    return _inductor_fma()(a, b, c)


def bind_fma() -> None:
    """Import inductor's fma now, outside any trace."""
    _inductor_fma()


def compile_package(program, path: str, vectorised: bool = True) -> None:
    """An exported program compiled by AOTInductor into a .pt2 package at `path`; vectorised=False
    compiles scalar C++ loops (inductor's cpp.simdlen = 1), which a C++ compiler may accept when it
    fails on the vector code."""
    configs = None if vectorised else {"cpp.simdlen": 1}
    _resolve("torch._inductor.aoti_compile_and_package")(program, package_path=path, inductor_configs=configs)


def load_package(path: str) -> tuple[object, Callable[[list[Tensor]], list[Tensor]]]:
    """(model, run): a package loaded, and its flat call. The package's own loader is used when its
    outputs are a flat tuple (as ours are): it skips parsing the call's tree specs (~25 µs a call)."""
    model = _resolve("torch._inductor.aoti_load_package")(path)
    loader = getattr(model, "loader", None)
    try:
        out_spec = json.loads(loader.get_call_spec()[1])[1]
        flat = out_spec["type"] == "builtins.tuple" and all(not c["children_spec"] for c in out_spec["children_spec"])
    except Exception:  # noqa: BLE001 - another torch's package layout: the documented call
        flat = False
    return model, (loader.boxed_run if flat else (lambda tensors: list(model(*tensors))))


def probe_cpu() -> None:
    """Inductor's one-off probe of the CPU's vector instructions (cached for the process)."""
    _resolve("torch._inductor.cpu_vec_isa.pick_vec_isa")()
