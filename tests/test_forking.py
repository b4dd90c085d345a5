"""assay.forking: a call run in a forked child, and publishing with TFMA's files written by one
(the evaluation's second core). The checks (tests/forking_checks.py) run in a fresh pytest
process: assay forks only where it is safe, in a process with one thread and without
TensorFlow or gRPC, and a pytest-xdist worker has a thread of its own, with TensorFlow loaded
by other test files."""

from __future__ import annotations

import os
import subprocess
import sys

CHECKS = os.path.join(os.path.dirname(__file__), "forking_checks.py")


def test_forking_checks_in_a_fresh_process():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-p", "no:randomly", CHECKS],
                          capture_output=True, text=True, timeout=600,
                          cwd=os.path.dirname(CHECKS))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "6 passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
