"""ui.shell.frontend_preload: a session's first run draws one hidden widget of each kind the Playground
uses, and the live figure's component, before torch is imported (the browser fetches their code while the
server works); later runs do not."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ui.shell import PRELOAD_KEY, ROOT


def preload_keys(at: AppTest) -> set[str]:
    kinds = ("selectbox", "multiselect", "select_slider", "slider", "toggle", "number_input", "bidi_component")
    found = {getattr(w, "key", None) or getattr(w.proto, "id", "") for kind in kinds for w in at.get(kind)}
    return {k.rsplit(PRELOAD_KEY + ".", 1)[-1] for k in found if k and PRELOAD_KEY + "." in k}


def test_the_first_run_preloads_the_frontend_and_later_runs_do_not():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["steps"] = "20"
    at.run()
    assert not at.exception
    assert preload_keys(at) == {"selectbox", "multiselect", "select_slider", "slider", "toggle", "number_input", "live"}
    assert not [w for w in at.sidebar.get("toggle") if PRELOAD_KEY in (w.key or "")]  # not in the sidebar
    at.run()
    assert not at.exception and preload_keys(at) == set()
