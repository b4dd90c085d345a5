"""The local engine: the pass on this machine's cores, without Beam.

It runs the stages of `assay.engine.passes`, the code the Beam graph of `assay.engine.beam` runs, one file
(or part of a big file: Parquet row groups, byte ranges of an uncompressed TFRecord or CSV file,
`assay.engine.split`) at a time per worker: forked processes when predictions are read
from columns, threads when a model is loaded (see `use_processes`). Only the small partial
accumulators move between workers. Partials are merged in file order, so the result does not
depend on the number of workers or on which finishes first, and equals the Beam engine's up to
the order of float summation.

`assay.evaluate` picks it for local files when no Beam pipeline arguments are given (engine
"auto"): importing Beam and starting its runner cost seconds, which dominate evaluations of up
to about a million examples. Beam remains the engine for remote files, for clusters (Dataflow,
Flink, Spark), and wherever Beam pipeline arguments are given (a TFX pipeline's included).
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing as mp
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from assay import timings
from assay.engine import passes, split
from assay.engine.prepare import load_adapter
from assay.engine.plan import EvalPlan
from assay.errors import ConfigError, RunnerError
from assay.forking import fork_is_safe


class _InThisThread:
    """The part of an executor's interface run_local uses, running each call here and now."""

    @staticmethod
    def map(fn, *iterables):
        return map(fn, *iterables)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


# Where Linux states a container's CPU limit (cgroup v2, then v1).
_CGROUP_CPU_FILES = ("/sys/fs/cgroup/cpu.max",
                     "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _cgroup_cpus() -> Optional[int]:
    """The CPU limit of this process's container (quota / period, rounded up); None if none."""
    for spec in _CGROUP_CPU_FILES:
        try:
            parts = []
            for path in spec.split():
                with open(path, encoding="ascii") as f:
                    parts += f.read().split()
            quota, period = parts[0], parts[1]
            if quota in ("max", "-1"):
                return None
            return max(1, -(-int(quota) // int(period)))
        except (OSError, ValueError, IndexError, ZeroDivisionError):
            continue
    return None


def default_workers() -> int:
    """The cores this process may use: its CPU affinity, capped by its container's CPU limit
    (a pod limited to 2 CPUs on a 32-core node gets 2 workers)."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        cores = max(1, os.cpu_count() or 1)
    limit = _cgroup_cpus()
    return min(cores, limit) if limit else cores


class _Worker:
    """Per-thread state: the model adapters (shared, loaded once) and the metric families."""

    def __init__(self, plan: EvalPlan, adapters: Dict[str, Any]):
        self.plan = plan
        self.adapters = adapters
        self.families = plan.pass_families()


# The parts' partials of a slice that the driver holds before merging them in one call.
MERGE_UNITS = 4
# Up to this many (slice, model) pairs (and no bootstrap replicates) the driver computes the
# metrics and plots itself: handing slices to forked workers and their results back cost about
# 0.1 s more wall time than computing 200 slices here (0.08 s), and broke even near 1,500.
INLINE_PAIRS = 500

# The evaluation a forked worker process runs; set before the pool forks, read in the child.
_FORKED: Dict[str, Any] = {}


def _forked_sketch(unit):
    return _sketch(_FORKED["plan"], unit)


def _forked_accumulate(unit, boundaries):
    return _accumulate(_FORKED["plan"], _FORKED["worker"], unit, boundaries)


def _forked_compute(items):
    return _compute(_FORKED["worker"].families, items)


def _compute(families, items):
    from assay import progress

    times, mark = timings.new_times(), timings.begin()
    out = [(key, passes.compute_slice(families, accs)) for key, accs in items]
    timings.end(times, "compute", mark)  # back with the results: forked workers' too
    progress.slices_done(len(out))  # the CLI's progress bar, when one runs
    return out, times


def _sketch(plan: EvalPlan, unit: passes.Unit):
    acc = passes.sketch_create(plan.quantile_features)
    for _, _, batch in passes.read_file(plan, unit):
        passes.sketch_add(acc, batch)
    return acc


def _accumulate(plan: EvalPlan, w: _Worker, unit: passes.Unit, boundaries, lazy: bool = False
                ) -> Tuple[Iterable[Tuple[Any, Any]], Dict[str, Any]]:
    """(the unit's partials, its diagnostics); lazy: the partials as an iterator, made as the
    caller, in this thread, merges them (one slice's at a time in memory, not the file's)."""
    from assay import progress

    acc = passes.SliceAccumulator(plan, w.adapters, w.families, boundaries)
    for element in timings.timed(passes.read_file(plan, unit), acc.times, "read"):
        acc.add(element)
        progress.examples_read(element[2].num_rows)
    diagnostics = acc.diagnostics()
    partials = acc.partials()
    return (partials if lazy else list(partials)), diagnostics


def _import_before_fork(plan: EvalPlan, worker: _Worker) -> None:
    """Imports here, before the pool forks, what the pass imports on first use: its extensions
    (drift, discovery, ...) and the progress counters. Forked workers then inherit them, where
    each would import them again (about 30 ms of CPU per worker, before its first file); the
    driver needs them anyway to merge and extract the sections."""
    from assay import progress  # noqa: F401

    passes.SliceAccumulator(plan, worker.adapters, worker.families, {})


def use_processes(plan: EvalPlan, workers: int) -> bool:
    """Whether the local engine forks worker processes rather than starting threads.

    Processes run the Python parts of the pass (TFRecord framing, slicing, merging) in parallel
    too, where threads take turns on the GIL. They are forked, so they start in milliseconds
    and share the parent's memory, and only when that is safe (`assay.forking`) and no model
    is loaded (predictions are read from columns).
    """
    return (workers > 1 and len(plan.work_units()) > 1
            and all(spec.path is None for _, spec in plan.config.models)
            and fork_is_safe(threads=False))


def run_local(plan: EvalPlan, workers: Optional[int] = None) -> Dict[str, Any]:
    """Runs the pass on `workers` threads or forked processes (default: the cores available).

    Returns the dict `assay.engine.beam.run_pipeline` returns: {"slices": [(key, per-model results)],
    "diagnostics": {...}, "boundaries": {...}}. An error reading or evaluating a file is raised
    here, the first one in file order, and stops the files not yet started.
    """
    if workers is None:
        workers = default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be a positive integer (got {workers!r})")
    raw = split.raw_units(plan, workers)  # one big TFRecord or CSV file: byte ranges
    if raw is not None:
        plan = dataclasses.replace(plan, units=tuple(raw))
    files = list(plan.work_units())  # files, or parts of big files
    workers = max(1, min(workers, len(files)))
    adapters = {name: load_adapter(spec, plan.raw_record_column)
                for name, spec in plan.config.models}
    families = plan.pass_families()
    if use_processes(plan, workers):
        _FORKED.update(plan=plan, worker=_Worker(plan, adapters))
        _import_before_fork(plan, _FORKED["worker"])
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"))
        sketch, accumulate, compute = _forked_sketch, _forked_accumulate, _forked_compute
    else:
        local = threading.local()

        def worker() -> _Worker:
            if not hasattr(local, "worker"):
                local.worker = _Worker(plan, adapters)
            return local.worker

        # One worker runs in this thread: nothing to hand over (and profilers see it all).
        pool = (_InThisThread() if workers == 1 else
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assay"))

        def sketch(unit):
            return _sketch(plan, unit)

        def accumulate(unit, boundaries):
            return _accumulate(plan, worker(), unit, boundaries, lazy=workers == 1)

        def compute(items):
            return _compute(worker().families, items)

    try:
        if raw is not None:  # where each part's first record starts, and its index
            files = split.located_units(plan.format, raw, pool.map, plan.config.batch_size)
        boundaries: Dict[str, Sequence[float]] = {}
        if plan.quantile_features:
            boundaries = passes.sketch_boundaries(
                passes.sketch_merge(list(pool.map(sketch, files))), plan.quantile_features)
        merged: Dict[Any, List[passes.ModelAccs]] = {}  # each slice's partials, waiting
        diagnostics = []
        mark = timings.driver_begin()  # --timings: the driver's merging (less the workers')
        for unit, (partials, diag) in zip(files, pool.map(accumulate, files,
                                                          [boundaries] * len(files))):
            # A part of a file (byte range, row groups) waits to be merged with the parts after
            # it, MERGE_UNITS at a time: one sort of their score counts, where merging pair by
            # pair sorted the growing sum once per part. A whole file is merged at once, so one
            # worker holds one file's partials at a time. The same units give the same merges
            # for any number of workers.
            whole = isinstance(unit, str) or unit[1] is None
            for key, accs in partials:
                waiting = merged.setdefault(key, [])
                waiting.append(accs)
                if whole or len(waiting) >= MERGE_UNITS:
                    waiting[:] = [passes.merge_partials(families, waiting)]
            diagnostics.append(diag)
        # A slice withheld by min_slice_size needs its example count only: its accumulators are
        # dropped here, and no metric or plot is computed for it.
        slices: List[Tuple[Any, Any]] = []
        items = []
        min_size = plan.config.min_slice_size
        for key in list(merged):
            accs = passes.merge_partials(families, merged.pop(key))
            count = passes.example_count(families, accs)
            if passes.withheld(key, count, min_size):
                slices.append((key, count))
            else:
                items.append((key, accs))
        del merged
        timings.driver_end("merge", mark)
        # Metrics and plots of each slice (areas, curves), spread over the workers too; a few
        # slices are computed here, in this thread (see INLINE_PAIRS).
        inline = (workers > 1 and plan.config.confidence is None
                  and len(items) * len(plan.config.models) <= INLINE_PAIRS)
        chunks = [items] if inline else [items[i::workers] for i in range(workers)]
        shared = passes.SharedResults()  # one copy of the names and plot data in common
        mark, compute_times = timings.driver_begin(), []
        for chunk, times in (map(functools.partial(_compute, families), chunks) if inline
                             else pool.map(compute, chunks)):  # one chunk's results at a time
            slices += [(key, shared(results)) for key, results in chunk]
            compute_times.append(times)
        timings.add_worker_times(compute_times)
        timings.driver_end("compute", mark)
    except BrokenProcessPool as e:
        raise RunnerError(
            f"a worker process of the local engine died while evaluating {len(files)} file(s) "
            f"or file parts (killed, e.g. out of memory: {e}); nothing was written. Rerun with "
            f"fewer workers (--workers 1) or on the Beam engine (--engine beam)") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _FORKED.clear()
    return {"slices": slices,
            "diagnostics": (passes.merge_diagnostics(diagnostics) if diagnostics
                            else dict(passes.EMPTY_DIAGNOSTICS)),
            "boundaries": boundaries}
