"""Hand a prebuilt plotly dict to st.plotly_chart without plotly re-validating it.

st.plotly_chart validates a dict by building a go.Figure from it (~0.3 s for the Playground's
8 × 1,000-step figure); a go.Figure it receives is only converted back with to_dict(). This
subclass is a go.Figure whose to_dict() is the dict we built, so the figure is serialised once.
The dict comes from figures/, whose tests check it against plotly's schema.
"""

from __future__ import annotations

import plotly.graph_objects as go


class PrebuiltFigure(go.Figure):
    def __init__(self, spec: dict):  # deliberately skips go.Figure.__init__ (the validation)
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec

    def to_plotly_json(self) -> dict:
        return self._spec
