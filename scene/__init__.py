"""Scene configuration: what a URL, a preset or a CLI argument describes (no Streamlit).

`ui/` reads widgets into a Config and writes it to the URL; `export/` renders one; both import it
from here, so neither reaches into the other.
"""
