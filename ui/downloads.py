"""Export panels for the pages: every file is produced only when its button is pressed (deferred
downloads), from the page's own configuration through export/ (the same code as the CLI)."""

from __future__ import annotations

import functools
import urllib.parse

import streamlit as st

from scene.config import Config, from_query, to_query


@functools.lru_cache(maxsize=8)
def _scene(query: tuple):
    """The computed scene for a configuration (its URL query is the cache key). Called from the
    download callbacks, which run outside a script run: a plain LRU cache, not st.cache_*."""
    from export.scene import compute

    cfg, _ = from_query(dict(query))
    return compute(cfg)


def _deferred(render, query: tuple, **kwargs):
    def make():
        return render(_scene(query), **kwargs)

    return make


def keep_state(*keys: str) -> None:
    """Keep the values of widgets that this run does not draw (inside a closed lazy expander): Streamlit
    forgets a widget's value after a run that does not draw it, and a setting must not be lost."""
    for k in keys:
        if k in st.session_state:
            st.session_state[k] = st.session_state[k]


def scene_exports(cfg: Config, key: str, name: str = "gradscape") -> None:
    """GIF, MP4, HTML, PNG, SVG, CSV, JSON of the scene, its link, the CLI line and PyTorch code."""
    from export import render
    from export.snippet import pytorch_snippet, supported

    box = st.expander("Export: animation, still, data, link, PyTorch code", key=f"{key}.open", on_change="rerun")
    if not box.open:  # built only when open: ~25 elements less for every rerun of a slider change
        keep_state(f"{key}.fps", f"{key}.width", f"{key}.snippet")
        return
    query = to_query(cfg)
    frozen = tuple(sorted(query.items()))
    with box:
        c1, c2 = st.columns(2)
        fps = c1.select_slider("GIF / MP4 frames per second", [5, 10, 15, 20, 30], value=20, key=f"{key}.fps")
        width = c2.select_slider("Width (pixels)", [480, 640, 800, 1024, 1280, 1920], value=800, key=f"{key}.width")
        files = [
            ("GIF", render.gif, dict(fps=fps, width=width), "gif", "image/gif"),
            ("MP4", render.mp4, dict(fps=fps, width=width), "mp4", "video/mp4"),
            ("HTML (offline, interactive)", render.html, {}, "html", "text/html"),
            ("PNG", render.png, dict(width=max(width, 800), height=int(max(width, 800) * 0.75)), "png", "image/png"),
            (
                "SVG",
                render.svg,
                dict(width=max(width, 800), height=int(max(width, 800) * 0.75)),
                "svg",
                "image/svg+xml",
            ),
            ("CSV", render.csv, {}, "csv", "text/csv"),
            ("JSON", render.json_export, {}, "json", "application/json"),
        ]
        cols = st.columns(len(files))
        for col, (label, fn, kwargs, ext, mime) in zip(cols, files):
            col.download_button(
                label,
                data=_deferred(fn, frozen, **kwargs),
                file_name=f"{name}.{ext}",
                mime=mime,
                key=f"{key}.dl.{ext}",
                on_click="ignore",
                width="stretch",
            )
        link = "?" + urllib.parse.urlencode(query)
        st.markdown("**Link to this view** (append to the app's address):")
        st.code(link, language=None)
        st.markdown("**The same files from the command line** (no browser or server needed):")
        st.code(f'gradscape render "{link}" --format gif,mp4,html,png,csv --out {name}/', language="bash")
        supported = [k for k in cfg.optimizers if k in supported()]
        if supported:
            opt = st.selectbox("Reproduce in PyTorch", supported, key=f"{key}.snippet")
            try:
                st.code(pytorch_snippet(cfg, opt), language="python")
            except ValueError as err:
                st.caption(str(err))
        else:
            st.caption("PyTorch code is offered for the optimizers torch.optim has.")


def figure_exports(figure: dict, key: str, name: str) -> None:
    """HTML and PNG of one figure shown on a page (the lecture pages' own figures)."""
    from export import render

    def html():
        return render.figure_html(figure, f"gradscape: {name}", responsive=False)

    def png():
        return render.kaleido_image(figure, "png", 1400, int(figure.get("layout", {}).get("height", 800)))

    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button(
        "HTML",
        data=html,
        file_name=f"{name}.html",
        mime="text/html",
        key=f"{key}.html",
        on_click="ignore",
        width="stretch",
    )
    c2.download_button(
        "PNG", data=png, file_name=f"{name}.png", mime="image/png", key=f"{key}.png", on_click="ignore", width="stretch"
    )
