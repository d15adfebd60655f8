"""Suite-wide settings: no background builder (engine/fused.py) while tests run.

The app starts building fused graphs in a child process when a page asks for one; in a test run
that would spend minutes of CPU the other tests need. Tests of the fused engine compile
explicitly (simulate(engine="fused")) or turn the background builder on for themselves.
"""

import os

os.environ.setdefault("GRADSCAPE_BACKGROUND_COMPILE", "0")
