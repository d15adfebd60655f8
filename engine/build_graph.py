"""The background builder's child process: python -m engine.build_graph JOB_FILE.

JOB_FILE holds a pickled engine.fused.BuildJob, written by the server itself into its private
cache folder (never user input). The package lands at fused.package_path(job.key).
"""

from __future__ import annotations

import pickle
import sys

from engine import fused


def main(argv: list[str]) -> int:
    with open(argv[0], "rb") as f:
        job = pickle.load(f)
    fused.build_package(job, fused.package_path(job.key))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
