"""Export and share without a browser: scenes to GIF, MP4, standalone HTML, PNG/SVG, CSV, JSON and a
PyTorch snippet, plus the `gradscape` command line. Pure Python (no Streamlit).

    from export.scene import scene_from_preset, compute
    from export import render
    data = compute(scene_from_preset("Saddle: who escapes first"))
    open("saddle.gif", "wb").write(render.gif(data))

The submodules are imported on demand: `gradscape --help` must not wait for torch.
"""

__all__ = ["scene", "render", "snippet", "cli"]
