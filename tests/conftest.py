"""Suite-wide settings: no background compiler (engine/fused.py) while tests run.

The app starts compiling fused graphs in a background thread when a page asks for one; in a test
process that would spend minutes of CPU the other tests need. Tests of the fused engine compile
explicitly (simulate(engine="fused")) or turn the background compiler on for themselves.
"""

import os

os.environ.setdefault("GRADSCAPE_BACKGROUND_COMPILE", "0")
