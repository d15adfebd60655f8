"""ui.shell.freeze_after_imports: after a page run that imported modules, what is alive leaves the cyclic
garbage collector's view (gc.freeze); a full collection then no longer walks torch's and Streamlit's
~230,000 objects (~200 ms with the GIL held, in one page run of ten or so)."""

from __future__ import annotations

import gc
import sys
import types

from streamlit.testing.v1 import AppTest

from ui import shell


def test_a_run_that_imported_modules_freezes_and_one_that_did_not_does_not(monkeypatch):
    monkeypatch.setattr(shell, "_modules_when_frozen", len(sys.modules))
    frozen = gc.get_freeze_count()
    assert shell.freeze_after_imports() is False
    assert gc.get_freeze_count() <= frozen  # (frozen objects that die leave the count)
    monkeypatch.setitem(sys.modules, "gradscape_test_new_module", types.ModuleType("gradscape_test_new_module"))
    alive = [[] for _ in range(1000)]  # 1,000 tracked objects alive now
    assert shell.freeze_after_imports() is True
    assert gc.get_freeze_count() >= frozen + len(alive)
    assert shell.freeze_after_imports() is False  # nothing imported since


def test_the_app_freezes_after_its_first_page():
    gc.unfreeze()
    shell._modules_when_frozen = 0
    at = AppTest.from_file(str(shell.ROOT / "app.py"), default_timeout=120)
    at.query_params["steps"] = "20"
    at.run()
    assert not at.exception
    assert gc.get_freeze_count() > 10_000  # torch, Streamlit, plotly and the rest, frozen
