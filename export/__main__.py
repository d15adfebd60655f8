"""`python -m export` runs the gradscape command line (as does `python -m export.cli`)."""

import sys

from export.cli import main

sys.exit(main())
