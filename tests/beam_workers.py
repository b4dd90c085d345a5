"""An external pool of Beam SDK workers on 127.0.0.1, for tests on Beam's PortableRunner.

    with WorkerPool(tmp / "pool", hidden=[outputs_root]) as pool:
        assay.evaluate(cfg, data, out, beam_pipeline_args=pool.pipeline_args(
            f"--temp_location={shared}"))

The pool is `python -m apache_beam.runners.worker.worker_pool_main`, started with this venv's
bin first on PATH (without it the workers cannot import Beam and the job hangs), its own TMPDIR,
and `tests/` and `component/` on PYTHONPATH (custom metric classes of the tests import there).
Each job gets SDK worker processes of its own, started by the pool.

`hidden`: directories the workers must not see. The pool runs in a mount namespace of its own
(`unshare --mount`) with an empty tmpfs over each, so a worker that writes "into" one writes
where the driver never looks, as on a cluster whose workers have their own disks: a
driver-local shortcut fails the tests here instead of on Dataflow. Needs root or user
namespaces; a machine without them fails the test that asks for it, with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import assay

TESTS = Path(__file__).resolve().parent
COMPONENT = TESTS.parent / "component"
KILL_ENV = "ASSAY_TEST_KILL_WORKER"  # set in the pool: KillWorker kills the worker running it
START_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class WorkerPool:
    """Beam's external worker pool as a subprocess; a context manager that stops it."""

    def __init__(self, root: Path, hidden: Sequence[Path] = (), env: Optional[dict] = None):
        self.root = Path(root)
        self.hidden = [Path(h) for h in hidden]
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self.log = self.root / "pool.log"

    def start(self) -> "WorkerPool":
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        venv_bin = str(Path(sys.executable).parent)
        env = dict(os.environ, TMPDIR=str(tmp), PYTHONWARNINGS="ignore",
                   PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""),
                   PYTHONPATH=os.pathsep.join(
                       [str(TESTS)] + [p for p in os.environ.get("PYTHONPATH", "").split(
                           os.pathsep) if p] + [str(COMPONENT)]),
                   **self.extra_env)
        command: List[str] = [sys.executable, "-m",
                              "apache_beam.runners.worker.worker_pool_main",
                              f"--service_port={self.port}"]
        if self.hidden:
            if shutil.which("unshare") is None:
                raise RuntimeError("hiding directories from the Beam workers needs `unshare` "
                                   "(util-linux); it is not on PATH")
            mounts = " && ".join(f"mount -t tmpfs assay-hidden '{h}'" for h in self.hidden)
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f"{mounts} && exec \"$@\"", "sh"] + command
        for h in self.hidden:
            h.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Beam worker pool did not start on 127.0.0.1:"
                                   f"{self.port}: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def pipeline_args(self, *extra: str) -> List[str]:
        """PortableRunner arguments for a job run by this pool's workers."""
        return ["--runner=PortableRunner", "--job_endpoint=embed",
                "--environment_type=EXTERNAL", f"--environment_config=localhost:{self.port}",
                *extra]

    def stop(self) -> None:
        """Stops the pool and the workers it started (its own process group)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def __enter__(self) -> "WorkerPool":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class KillWorker(assay.Metric):
    """A custom metric that kills the worker process adding a batch (SIGKILL, as the kernel's
    OOM killer does), where KILL_ENV is set: in the pool's workers, never in the driver."""

    name = "killer_count"

    def create(self):
        return 0

    def add(self, acc, batch):
        if os.environ.get(KILL_ENV):
            os.kill(os.getpid(), signal.SIGKILL)
        return acc + len(batch)

    def merge(self, accs):
        return sum(accs)

    def result(self, acc):
        return {"killer_count": float(acc)}


__all__ = ["WorkerPool", "KillWorker", "free_port", "KILL_ENV"]
