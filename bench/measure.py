"""Running a command and measuring it: wall time and the peak memory of its whole process tree.

    run = run_measured([".venv/bin/assay", "evaluate", ...], log_path="out/a.log")
    run.wall_s, run.peak_rss_mb, run.peak_pss_mb, run.returncode

Peak memory is sampled every `interval_s` by summing over the process and all its descendants
(Beam's multi_processing workers included): RSS, which counts shared pages (the libraries every
worker maps) once per process and so overstates a tree, and PSS, which splits shared pages
between the processes that map them and so adds up to what the tree really holds. A peak shorter
than the interval can be missed; `max_single_rss_mb` (getrusage of the children, exact but per
process) is a lower bound on the tree's peak.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import subprocess
import threading
import time
from typing import Dict, List, Optional, Sequence

import psutil


@dataclasses.dataclass
class Measured:
    """What one run of a command cost."""

    command: List[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    peak_processes: int
    max_single_rss_mb: float
    log_path: Optional[str]
    user_s: float = 0.0  # CPU time of the process and every descendant it waited for
    sys_s: float = 0.0

    @property
    def cpu_s(self) -> float:
        """User + system CPU seconds of the tree: steadier than wall time on a busy machine."""
        return self.user_s + self.sys_s

    def tail(self, lines: int = 30) -> str:
        """The last lines of the command's output (stdout and stderr together)."""
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def to_dict(self) -> Dict:
        return dict(dataclasses.asdict(self), cpu_s=self.cpu_s)


def _tree(root: psutil.Process) -> List[psutil.Process]:
    try:
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _sample(root: psutil.Process, with_pss: bool):
    """(sum of RSS, sum of PSS, number of processes) over the tree, in bytes."""
    rss = pss = 0
    procs = _tree(root)
    for proc in procs:
        try:
            if with_pss:
                info = proc.memory_full_info()
                rss += info.rss
                pss += info.pss
            else:
                rss += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return rss, pss, len(procs)


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval_s: float):
        super().__init__(daemon=True)
        self._root = psutil.Process(pid)
        self._interval = interval_s
        self._done = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.peak_procs = 0
        self._with_pss = True

    def run(self):
        while not self._done.is_set():
            try:
                rss, pss, procs = _sample(self._root, self._with_pss)
            except (psutil.AccessDenied, AttributeError):  # no smaps: fall back to RSS only
                self._with_pss = False
                continue
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_procs = max(self.peak_procs, procs)
            self._done.wait(self._interval)

    def stop(self):
        self._done.set()
        self.join()


def run_measured(command: Sequence[str], log_path: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
                 interval_s: float = 0.1, timeout_s: Optional[float] = None) -> Measured:
    """Runs `command` to completion, sampling its process tree's memory; output goes to log_path.

    Args:
      command: the argv.
      log_path: where stdout and stderr go (discarded when None).
      env: the environment (os.environ when None).
      cwd: the working directory.
      interval_s: seconds between memory samples.
      timeout_s: kill the process group after this many seconds (returncode then -9).

    Returns:
      A Measured with the wall time from start to exit, the peak memory of the tree and its CPU
      time (user and system, of the process and the descendants it waited for).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd, start_new_session=True)
        sampler = _Sampler(proc.pid, interval_s)
        sampler.start()
        # os.wait4 gives this child's own rusage (its reaped workers included), which
        # RUSAGE_CHILDREN cannot when other runs finish in other threads meanwhile.
        killer = threading.Timer(timeout_s, os.killpg, (proc.pid, 9)) if timeout_s else None
        if killer:
            killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        if killer:
            killer.cancel()
        proc.returncode = returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        sampler.stop()
    finally:
        if log_path:
            log.close()
    # ru_maxrss of RUSAGE_CHILDREN is the largest single descendant so far (KiB on Linux); it
    # only tells us something when this run set a new maximum.
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    single = after / 1024 if after > before else 0.0
    mb = 1 / (1024 * 1024)
    return Measured(command=list(command), returncode=returncode, wall_s=wall,
                    peak_rss_mb=sampler.peak_rss * mb, peak_pss_mb=sampler.peak_pss * mb,
                    peak_processes=sampler.peak_procs, max_single_rss_mb=single,
                    log_path=log_path, user_s=usage.ru_utime, sys_s=usage.ru_stime)


def machine() -> Dict:
    """The machine the figures were measured on."""
    import platform

    load = os.getloadavg()
    return {"nproc": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu": _cpu_model(), "platform": platform.platform(),
            "python": platform.python_version(), "load_average": [round(x, 2) for x in load]}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
