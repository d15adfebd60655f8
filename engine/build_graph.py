"""The background builder's child process: python -m engine.build_graph JOB_FILE.

JOB_FILE holds a pickled engine.fused.BuildJob, written by the server itself into a private
temporary file (mode 0600; never user input), removed once read. The package lands at
fused.package_path(job.key).
"""

from __future__ import annotations

import os
import pickle
import sys

from engine import fused


def main(argv: list[str]) -> int:
    if hasattr(os, "nice"):
        os.nice(10)  # the server's page runs come first
    with open(argv[0], "rb") as f:
        job = pickle.load(f)
    os.unlink(argv[0])
    fused.build_package(job, fused.package_path(job.key))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
