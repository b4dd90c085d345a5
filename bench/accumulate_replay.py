"""CPU time of the pass's accumulation alone, replayed on batches decoded once into memory.

    python bench/accumulate_replay.py --size 1000000 --repeat 3

Reads the cached benchmark data (bench/data/trips-n{size}-s4-seed0-gz, made by bench/run.py)
once per workload with passes.read_file over the plan's units, then times, with
time.process_time() (CPU time of this process, so the figure holds on a busy machine), what a
worker does per unit after reading: `SliceAccumulator.add` over the unit's batches and
`list(partials())`. Workloads (a) (one model) and (c) (a candidate and a baseline) use
bench/run.py's slices and metrics. Prints the best of --repeat runs per workload and the ratio
(c)/(a).

    python bench/accumulate_replay.py --versions head=/tmp/head.py,new=/tmp/new.py

compares versions of assay/metrics/binary_dense.py (files) in one process: DenseBinary is taken
from each in turn, the runs alternate (so that the machine's load falls on all alike), and the
best of --repeat is printed per version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
# Run as `python bench/<script>.py`, bench/ comes first on sys.path: put the repository there.
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path[0] = REPO
sys.path.insert(1, os.path.join(REPO, "component"))

from bench.run import METRICS, SLICES  # noqa: E402

MODELS = {"a": {"candidate": {"prediction": "prediction"}},
          "c": {"candidate": {"prediction": "prediction"},
                "baseline": {"prediction": "old_prediction"}}}


def config_text(workload: str) -> str:
    """The workload's config as YAML text, the form bench/run.py writes."""
    return (f"label: label\nmodels: {json.dumps(MODELS[workload])}\n"
            f"slices: {json.dumps(list(SLICES))}\nmetrics: {json.dumps(METRICS)}\n")


def prepared(workload: str, examples: str):
    """(plan, adapters, families, [batches of each unit]) with every batch decoded."""
    from assay.api import load_config
    from assay.config.values import load_mapping
    from assay.engine import passes
    from assay.engine.plan import make_plan
    from assay.engine.prepare import load_adapter

    cfg = load_config(load_mapping(config_text(workload), f"workload {workload}"))
    plan = make_plan(cfg, examples)
    adapters = {n: load_adapter(s, plan.raw_record_column) for n, s in plan.config.models}
    units = [list(passes.read_file(plan, u)) for u in plan.work_units()]
    return plan, adapters, plan.pass_families(), units


def replay(plan, adapters, families, units) -> float:
    """CPU seconds of accumulating every unit (add each batch, then its partials)."""
    from assay.engine import passes

    start = time.process_time()
    for batches in units:
        acc = passes.SliceAccumulator(plan, adapters, families, {})
        for element in batches:
            acc.add(element)
        list(acc.partials())
    return time.process_time() - start


def dense_versions(spec: str) -> dict:
    """{name: DenseBinary class} of each `name=path` in a comma-separated spec."""
    import importlib.util

    out = {}
    for item in spec.split(","):
        name, path = item.split("=", 1)
        loaded = importlib.util.spec_from_file_location(f"binary_dense_{name}", path)
        module = importlib.util.module_from_spec(loaded)
        loaded.loader.exec_module(module)
        out[name] = module.DenseBinary
    return out


def compare(args, examples: str) -> int:
    """Alternating runs of each --versions entry; prints the best CPU time of each."""
    from assay.metrics import binary_dense

    versions = dense_versions(args.versions)
    for workload in args.workloads.split(","):
        prepared_args = prepared(workload, examples)
        times = {name: [] for name in versions}
        for _ in range(args.repeat):
            for name, cls in versions.items():
                binary_dense.DenseBinary = cls  # BinaryMetrics.dense_create imports it per call
                times[name].append(replay(*prepared_args))
        print(f"({workload}) {args.size} examples: accumulate CPU, best of {args.repeat}: "
              + ", ".join(f"{n} {min(t):.3f} s" for n, t in times.items()), flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1000000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workloads", default="a,c")
    parser.add_argument("--versions", help="name=path,... of binary_dense.py files to compare")
    args = parser.parse_args(argv)
    examples = os.path.join(_HERE, "data", f"trips-n{args.size}-s4-seed0-gz")
    if args.versions:
        return compare(args, examples)
    best = {}
    for workload in args.workloads.split(","):
        plan, adapters, families, units = prepared(workload, examples)
        times = [replay(plan, adapters, families, units) for _ in range(args.repeat)]
        best[workload] = min(times)
        print(f"({workload}) {args.size} examples: accumulate CPU {best[workload]:.3f} s "
              f"(best of {args.repeat}: {', '.join(f'{t:.3f}' for t in times)})", flush=True)
    if "a" in best and "c" in best:
        print(f"(c)/(a) = {best['c'] / best['a']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
