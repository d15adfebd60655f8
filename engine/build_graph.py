"""The background builder's child process: python -m engine.build_graph JOB_FILE SERVER_PID.

JOB_FILE holds a pickled engine.graph_build.BuildJob, written by the server itself into a private
temporary file (mode 0600; never user input), removed once read. The package lands at
graph_store.package_path(job.key).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time

from engine import graph_build, graph_store


def _exit_with(parent: int) -> None:
    """End this build if the server that started it has gone (a stopped server must not leave a
    compiler running for a minute); its partial file is left for the next build of the key to replace."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(3)


def main(argv: list[str]) -> int:
    if hasattr(os, "nice"):
        os.nice(10)  # the server's page runs come first
    # The server's pid comes on the command line: read here, os.getppid() would already be 1 (init) when
    # the server stopped while this process was still importing torch, and the build would go on.
    parent = int(argv[1]) if len(argv) > 1 else os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    with open(argv[0], "rb") as f:
        job = pickle.load(f)
    os.unlink(argv[0])
    graph_build.build_package(job, graph_store.package_path(job.key))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
