"""gradscape: watch optimizers move on 2D loss surfaces. Start it with `streamlit run app.py`.

Page config and the navigation over pages/ live in ui/shell.py (the pages use them too).
"""

from ui.shell import run_app

run_app()
