"""Where an evaluation's time went, per stage: the `--timings PATH` file.

    assay evaluate ... --timings timings.json
    assay.evaluate(config, examples, output, timings="timings.json")

The file (JSON) holds, per stage, CPU seconds (`time.thread_time` of the thread doing the work,
summed over workers and files) and wall seconds:

    read        reading and decoding the examples (iterating passes.read_file)
    predict     the models' calls (a prediction column's read included)
    accumulate  the rest of SliceAccumulator.add: slicing, metrics, drift...
    merge       the driver merging the workers' partial accumulators
    compute     metrics and plots per slice, then the records, sections and verdict
    write       the results directory: metrics, plots, TFMA files, blessing, report

with "examples" (the examples read), "engine", "not_measured" (the stages this engine does not
time: the Beam engine times predict and accumulate in its workers and compute and write in the
driver, not read and merge, which Beam's own transforms do), "total" (the process's CPU, its
finished children included, and wall seconds since it started) and "evaluate" (the same from
the call of `assay.evaluate`). What no stage holds is startup: imports, loading models, planning.
The wall seconds of the worker stages (read, predict, accumulate) are summed over workers.
"driver" holds, for merge, compute and write, the CPU of every thread of this process and the
wall seconds while the driver was in the stage: with one worker or worker threads, the merge's
span is the whole pass (read, predict and accumulate included), and its CPU includes the threads
a model runs on (TensorFlow's), which `thread_time` does not see; forked workers' CPU is not in
it (it is in "total" once they end).

A time measured inside another on the same thread (the pass running in the driver's thread
with one worker) counts once, in the inner stage. Without a recording nothing is written and
the cost is a few clock reads per batch.

Example:
    >>> times = new_times()
    >>> mark = begin()
    >>> end(times, "accumulate", mark)
    >>> sorted(times)
    ['accumulate']
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

STAGES = ("read", "predict", "accumulate", "merge", "compute", "write")
WORKER_STAGES = ("read", "predict", "accumulate")
FORMAT_VERSION = 1

Times = Dict[str, List[float]]  # {stage: [cpu seconds, wall seconds]}
Mark = Tuple[float, float, float, float]
DriverMark = Tuple[Mark, float]  # and the process's CPU

# Per thread, the seconds already given to a stage: an enclosing stage leaves them out.
_counted = threading.local()


def new_times() -> Times:
    """An empty {stage: [cpu, wall]} for one worker's (or file's) stages."""
    return {}


def _done() -> List[float]:
    done = getattr(_counted, "seconds", None)
    if done is None:
        done = _counted.seconds = [0.0, 0.0]
    return done


def begin() -> Mark:
    """The clocks now, and the seconds this thread has given to stages so far."""
    done = _done()
    return time.thread_time(), time.perf_counter(), done[0], done[1]


def end(times: Times, stage: str, mark: Mark) -> None:
    """Adds to `stage` the seconds since `mark`, less those given to stages timed inside."""
    cpu, wall = time.thread_time() - mark[0], time.perf_counter() - mark[1]
    done = _done()
    own = times.setdefault(stage, [0.0, 0.0])
    own[0] += cpu - (done[0] - mark[2])
    own[1] += wall - (done[1] - mark[3])
    done[0], done[1] = mark[2] + cpu, mark[3] + wall


def timed(items: Iterable[Any], times: Times, stage: str) -> Iterator[Any]:
    """`items`, with the time each takes to produce added to `stage` (the reading of a file)."""
    it = iter(items)
    while True:
        mark = begin()
        try:
            item = next(it)
        except StopIteration:
            end(times, stage, mark)
            return
        end(times, stage, mark)
        yield item


def merge(items: Iterable[Optional[Times]]) -> Times:
    """The stage times of several workers or files, summed."""
    out: Times = {}
    for times in items:
        for stage, (cpu, wall) in (times or {}).items():
            total = out.setdefault(stage, [0.0, 0.0])
            total[0] += cpu
            total[1] += wall
    return out


class Recording:
    """One evaluation's driver-side stages and totals, written to a file at the end."""

    def __init__(self, path: str):
        self.path = path
        self.times: Times = {}
        self.driver: Times = {}  # {stage: [process CPU, wall]} of the driver's stages
        self.examples = 0
        self.engine: Optional[str] = None
        self.started = (_process_cpu(), time.perf_counter())

    def document(self) -> Dict[str, Any]:
        """The file's content (see the module doc)."""
        stages = {s: {"cpu_s": round(c, 6), "wall_s": round(w, 6)}
                  for s, (c, w) in ((s, self.times.get(s, [0.0, 0.0])) for s in STAGES)}
        cpu = _process_cpu()
        unmeasured = [] if self.engine == "local" else ["read", "merge"]
        driver = {s: {"process_cpu_s": round(c, 6), "wall_s": round(w, 6)}
                  for s, (c, w) in self.driver.items()}
        return {"version": FORMAT_VERSION, "examples": self.examples, "engine": self.engine,
                "stages": stages, "not_measured": unmeasured, "driver": driver,
                "total": {"cpu_s": round(cpu, 6), "wall_s": round(_process_wall(), 6)},
                "evaluate": {"cpu_s": round(cpu - self.started[0], 6),
                             "wall_s": round(time.perf_counter() - self.started[1], 6)}}

    def write(self) -> None:
        """Writes the file whole or not at all (a temporary file renamed into place)."""
        tmp = f"{self.path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.document(), f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def check_path(path: str) -> None:
    """Raises ConfigError, before anything runs, where the timings file could not be written:
    a directory, or a file in a directory that does not exist or is not writable."""
    from assay.errors import ConfigError

    where = os.path.dirname(os.path.abspath(path))
    expected = "expected a file path in an existing, writable local directory"
    if os.path.isdir(path):
        raise ConfigError(f"timings: {path!r} is a directory ({expected})")
    if not os.path.isdir(where):
        raise ConfigError(f"timings: cannot write {path!r}: its directory {where!r} does not "
                          f"exist ({expected})")
    if not os.access(where, os.W_OK):
        raise ConfigError(f"timings: cannot write {path!r}: its directory {where!r} is not "
                          f"writable ({expected})")


_ACTIVE: List[Recording] = []  # the recording of the evaluation running, if any


@contextlib.contextmanager
def recording(path: Optional[str]) -> Iterator[Optional[Recording]]:
    """Records the stages of the evaluation run inside; writes `path` when it succeeds.
    With path None, records nothing and writes nothing."""
    if path is None:
        yield None
        return
    rec = Recording(os.fspath(path))
    check_path(rec.path)
    _ACTIVE.append(rec)
    try:
        yield rec
    finally:
        _ACTIVE.remove(rec)
    rec.write()


def driver_begin() -> Optional[DriverMark]:
    """The clocks now while a recording runs, else None (then driver_end does nothing)."""
    return (begin(), time.process_time()) if _ACTIVE else None


def driver_end(stage: str, mark: Optional[DriverMark]) -> None:
    """Adds a driver stage's seconds since `mark` (from driver_begin) to the recording."""
    if mark is not None and _ACTIVE:
        rec = _ACTIVE[-1]
        cpu = time.process_time() - mark[1]
        end(rec.times, stage, mark[0])
        rec.driver = merge([rec.driver, {stage: [cpu, time.perf_counter() - mark[0][1]]}])


def add_worker_times(times: Iterable[Optional[Times]]) -> None:
    """Adds stage times measured in the workers (returned with their results)."""
    if _ACTIVE:
        rec = _ACTIVE[-1]
        rec.times = merge([rec.times, *times])


def note_pass(diagnostics: Dict[str, Any], engine: str) -> None:
    """Takes the pass's example count and its workers' stage times from its diagnostics."""
    if _ACTIVE:
        rec = _ACTIVE[-1]
        rec.examples, rec.engine = int(diagnostics.get("rows", 0)), engine
        rec.times = merge([rec.times, diagnostics.get("timings")])


def _process_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (forked workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _process_wall() -> float:
    """Wall seconds since this process started (Linux); elsewhere since this module loaded."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # starttime, field 22
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _LOADED


_LOADED = time.perf_counter()
