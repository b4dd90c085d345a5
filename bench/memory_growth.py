"""What grows with the data: RSS of one in-process `assay.evaluate` (workload (a), 1 worker),
sampled as the pass reads, with an optional tracemalloc comparison of two points of the run.

    python bench/memory_growth.py --size 1000000
    python bench/memory_growth.py --size 5000000 --every 500000
    python bench/memory_growth.py --size 1000000 --tracemalloc 200000 --top 15
    python bench/memory_growth.py --size 5000000 --sizes

Prints VmRSS (resident now) and VmHWM (the peak so far) after importing assay, every `--every`
examples read (counted through assay.progress, which the engine calls per batch), after the
pass and at the end; and the growth per example read between the first and the last sample of
the pass. `--tracemalloc N` traces Python allocations (slow: use 1 million at most) and prints
the allocation sites that grew most between N examples read and the end of the reading, which
names what is kept per batch or per file. Memory outside Python's allocator (numpy buffers are
traced; Arrow's and the reader's C buffers are not) shows only as RSS. `--sizes` prints the
bytes of numpy arrays held by each file's metric state (per attribute) and drift sketches when
the file ends, and by the driver's merged accumulators after the last file (it keeps those
alive to the end, which raises the end's RSS: sample RSS without it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = os.path.dirname(_HERE)
REPO = os.path.dirname(_HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)


def status_mb() -> tuple:
    """(VmRSS, VmHWM) of this process in MB, from /proc/self/status."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def numpy_bytes(obj, seen=None) -> int:
    """Bytes of the numpy arrays reachable from obj through containers and attributes (each
    array, and each base buffer, counted once)."""
    import numpy as np

    # {id: object}: holding each object keeps its id from being reused by a temporary.
    seen = {} if seen is None else seen
    if id(obj) in seen:
        return 0
    seen[id(obj)] = obj
    if isinstance(obj, np.ndarray):
        base = obj if obj.base is None else obj.base
        if base is not obj and id(base) in seen:
            return 0
        seen[id(base)] = base
        return base.nbytes if isinstance(base, np.ndarray) else obj.nbytes
    if isinstance(obj, dict):
        return sum(numpy_bytes(k, seen) + numpy_bytes(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set)):
        return sum(numpy_bytes(v, seen) for v in obj)
    if isinstance(obj, (str, bytes, int, float, bool, type(None))):
        return 0
    fields = getattr(obj, "__dict__", None) or {}
    slots = [getattr(obj, n) for n in getattr(type(obj), "__slots__", ()) if hasattr(obj, n)]
    return numpy_bytes(fields, seen) + numpy_bytes(slots, seen)


def _probe_sizes(samples) -> None:
    """Wraps the pass so that each file's state, and the merged accumulators, are measured."""
    from assay.engine import passes

    original_partials = passes.SliceAccumulator.partials

    def partials(self):
        parts = []
        for model, states in self._states.items():
            for st in states:
                if st is None:
                    continue
                # Every array-holding attribute of the state by name (whatever its layout).
                sizes = {name: numpy_bytes(value) for name, value in vars(st).items()}
                parts.append(f"{model}: " + ", ".join(
                    f"{name} {b / 2**20:.1f}" for name, b in sizes.items() if b >= 2**19)
                    + f" MB ({getattr(st, 'n_slots', 0)} bucketed)")
        ext = numpy_bytes(self._ext_accs or getattr(self, "_last_ext", {}))
        samples.append(("state", 0, 0.0, 0.0, "; ".join(parts) + f"; extensions "
                        f"{ext / 2**20:.1f} MB"))
        return original_partials(self)

    original_diagnostics = passes.SliceAccumulator.diagnostics

    def diagnostics(self):
        self._last_ext = self._ext_accs  # diagnostics() hands them over before partials()
        return original_diagnostics(self)

    passes.SliceAccumulator.partials = partials
    passes.SliceAccumulator.diagnostics = diagnostics
    original_count = passes.example_count
    merged = []

    def example_count(families, accs):
        merged.append(accs)
        return original_count(families, accs)

    passes.example_count = example_count
    samples.append(("merged", 0, 0.0, 0.0, merged))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--every", type=int, default=250_000, help="examples between samples")
    parser.add_argument("--tracemalloc", type=int, default=0,
                        help="compare Python allocations at this many examples and the end")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--baseline", action="store_true", help="workload (c): a baseline too")
    parser.add_argument("--sizes", action="store_true",
                        help="print the numpy bytes the pass holds: each file's metric and "
                             "drift state when it ends, the merged accumulators after the last")
    args = parser.parse_args(argv)

    from bench import datasets

    examples = datasets.tfrecord_dataset(args.size, args.shards, 0)
    import assay
    import assay.api  # noqa: F401
    import assay.engine.local  # noqa: F401
    from assay import progress
    from assay.engine import local

    samples = [("imported", 0) + status_mb()]
    read = [0, args.every]
    snaps = {}
    if args.tracemalloc:
        import tracemalloc
        tracemalloc.start(8)

    def counted(n: int) -> None:
        read[0] += int(n)
        if read[0] >= read[1]:
            read[1] += args.every
            samples.append(("read", read[0]) + status_mb())
        if args.tracemalloc and "first" not in snaps and read[0] >= args.tracemalloc:
            snaps["first"] = tracemalloc.take_snapshot()

    progress.examples_read = counted  # the engine's per-batch hook
    original = local._accumulate

    def accumulate(*a, **k):
        out = original(*a, **k)
        samples.append(("file read", read[0]) + status_mb())
        if args.tracemalloc:
            snaps["last"] = tracemalloc.take_snapshot()
        return out

    local._accumulate = accumulate
    if args.sizes:
        _probe_sizes(samples)
    models = {"candidate": {"prediction": "prediction"}}
    if args.baseline:
        models["baseline"] = {"prediction": "old_prediction"}
    config = {"label": "label", "models": models,
              "slices": [[], ["hour"], ["day"], ["hour", "day"]],
              "metrics": ["example_count", "auc", "auc_pr", "accuracy", "precision", "recall",
                          "mean_label", "mean_prediction"]}
    out_dir = tempfile.mkdtemp(prefix="assay-memory-")
    try:
        assay.evaluate(config, examples=examples, output=os.path.join(out_dir, "out"),
                       engine="local", workers=1)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    samples.append(("end", read[0]) + status_mb())
    print(f"{args.size:,} examples, {args.shards} shards, workload "
          f"({'c' if args.baseline else 'a'}), 1 worker, in process")
    print(f"{'point':>10} {'examples':>12} {'VmRSS MB':>9} {'VmHWM MB':>9}")
    for point, n, rss, hwm, *more in samples:
        if point == "state":
            print(f"{'':>10} file's state when it ends: {more[0]}")
        elif point != "merged":
            print(f"{point:>10} {n:>12,} {rss:9.1f} {hwm:9.1f}")
    for point, _, _, _, *more in samples:
        if point == "merged":
            print(f"merged accumulators of {len(more[0])} slices (driver, after the last file):"
                  f" {numpy_bytes(more[0]) / 2**20:.1f} MB of numpy arrays")
    reads = [s for s in samples if s[0] == "read"]
    if len(reads) >= 2:
        (_, n0, r0, _), (_, n1, r1, _) = reads[0][:4], reads[-1][:4]
        print(f"RSS growth while reading: {(r1 - r0) * 2**20 / max(n1 - n0, 1):.2f} bytes per "
              f"example ({n0:,} -> {n1:,})")
    if args.tracemalloc and "first" in snaps and "last" in snaps:
        stats = snaps["last"].compare_to(snaps["first"], "traceback")
        print(f"\ntracemalloc: top {args.top} growths from {args.tracemalloc:,} examples to the "
              f"end of reading")
        for stat in stats[:args.top]:
            print(f"{stat.size_diff / 1024:10.1f} KiB {stat.count_diff:+8d} blocks")
            for line in stat.traceback.format()[-6:]:
                print("      " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
